// The analyzer's core: telemetry in, incident states out. Pure: the caller passes the clock and publishes the states.
import type { Anomaly, Evidence, IncidentTarget, NodeAnnouncement, ProbeOverdue, Telemetry } from "@x0/shared";
import { adaptedModel, type LoadedAdapter, type LoadedModel, ModelArtefactError, observationsOf, type PairObservation, peerHost } from "@x0/swarm";
import { z } from "zod";
import { BatmanLink, type BatmanLinkOptions, oneHopNeighbours, readsFingerprint } from "./detect/batman-link.ts";
import { ModelLink, type ModelMode } from "./detect/model-link.ts";
import { ProbePair, type ProbePairOptions } from "./detect/probe-pair.ts";
import { SeriesDetector, type SeriesOptions } from "./detect/series.ts";
import { Correlator, type LinkStatus } from "./incidents/correlator.ts";
import { type Detection, Incident, IncidentBook, type PublishedView } from "./incidents/incident.ts";
import { PeerDirectory, type Resolved } from "./topology/peers.ts";

/** Tuning of the {@link Analyzer}; defaults and reasons are in the analyzer README. */
export interface AnalyzerOptions extends ProbePairOptions, BatmanLinkOptions {
  correlationWindowMs: number;
  updateEveryMs: number;
  silenceIntervals: number;
  /** Robust z-score threshold of traffic and retransmit series. */
  zThreshold: number;
  spikeMinPps: number;
  spikeSamples: number;
  retransmitMinPerS: number;
  /**
   * A node whose telemetry brings no usable batman sample (errored, or missing) for this long has its batman verdicts
   * withdrawn: nothing confirms them any more, and the other end, hellos, operstate and silence still speak.
   */
  batmanBlindMs: number;
  /** Series and pairs not seen for this long are forgotten (their neighbour left, or the node did). */
  forgetAfterMs: number;
  /** The swarm's link-health model: off, shadow (scores and evidence only) or on (it may open incidents too). */
  modelMode: ModelMode;
  /** Consecutive faulty (healthy) model verdicts before the model's verdict on a pair turns (clears). */
  modelOpenAfter: number;
  modelResolveAfter: number;
  /** Swarm sites by node: a site node's pairs are scored by the model plus its site's adapter. */
  sites: Readonly<Record<string, string>>;
  /** Called with each model verdict and the hand-set detectors' verdict on the same pair at that sample. */
  onModelVerdict?: (modelClass: string, detectors: LinkStatus) => void;
  newId: () => string;
}

/** Analyzer defaults, explained in the analyzer README. */
export const DEFAULT_ANALYZER_OPTIONS: AnalyzerOptions = {
  phiThreshold: 8,
  phiStddevRatio: 0.25,
  phiMinStddevMs: 20,
  resolveAfter: 3,
  lossThreshold: 0.15,
  lossWindowSamples: 10,
  degradedSamples: 3,
  rttZThreshold: 6,
  rttMinDeltaMs: 20,
  warmupSamples: 50,
  baselineWindow: 100,
  armSamples: 10,
  correlationWindowMs: 300,
  updateEveryMs: 5000,
  silenceIntervals: 5,
  zThreshold: 6,
  spikeMinPps: 2000,
  spikeSamples: 2,
  retransmitMinPerS: 100,
  batmanLastSeenMs: 3500,
  batmanTqDrop: 0.3,
  batmanTqFloor: 64,
  batmanTqSamples: 3,
  batmanBlindMs: 10_000,
  forgetAfterMs: 300_000,
  modelMode: "shadow",
  modelOpenAfter: 2,
  modelResolveAfter: 3,
  sites: {},
  newId: () => crypto.randomUUID(),
};

/** Persisted baselines (x0_baselines): rolling windows by series key. */
export const BaselineSnapshot = z.object({
  v: z.literal(2),
  rtt: z.record(z.string(), z.array(z.number())),
  series: z.record(z.string(), z.array(z.number())),
});
/** A baseline snapshot. */
export type BaselineSnapshot = z.infer<typeof BaselineSnapshot>;

const DOWN_STATES = new Set(["down", "lowerlayerdown", "notpresent"]);
const LINK_RANK: Record<LinkStatus, number> = { ok: 0, degraded: 1, down: 2 };

/** Something that has a say on a link target: a probe pair, or an interface's operstate. */
interface Contributor {
  key: string;
  node: string;
  resolved: Resolved;
  status(): LinkStatus;
  detection(): Detection | undefined;
}

interface InterfaceState extends Contributor {
  operstate: string;
  seenUp: boolean;
  down: boolean;
  onsetAt: number;
  ts: number;
}

interface PairState extends Contributor {
  pair: ProbePair;
  /** The model's view of the pair, while a model is loaded; a contributor of its own only in mode on. */
  model?: ModelState;
}

interface ModelState extends Contributor {
  link: ModelLink;
}

interface BatmanState extends Contributor {
  link: BatmanLink;
}

/** A node's batman-adv view: its latest read, and the neighbours it has listed. */
interface BatmanView {
  fingerprint: string;
  /** When the latest usable sample (a new read, or the latest one repeated) arrived (analyzer clock). */
  usableAt: number;
  /** Verdicts withdrawn for want of usable samples. */
  blind: boolean;
  links: Map<string, BatmanState>;
}

interface NodeState {
  lastSeenAt: number;
  lastTs: number;
  intervalMs: number;
  silent: boolean;
}

interface SeriesState {
  detector: SeriesDetector;
  target: IncidentTarget;
  node: string;
  interface: string;
  metric: string;
  incident?: Incident;
}

/**
 * Turns telemetry into incident states: phi-accrual, loss and RTT per probe pair; operstate; batman-adv last-seen and TQ
 * per neighbour; per-neighbour traffic and retransmit rates against robust baselines; node silence; correlated into one
 * incident per fault (see the README).
 */
export class Analyzer {
  readonly options: AnalyzerOptions;
  readonly directory = new PeerDirectory();
  readonly #book: IncidentBook;
  readonly #correlator: Correlator;
  readonly #nodes = new Map<string, NodeState>();
  readonly #pairs = new Map<string, PairState>();
  readonly #interfaces = new Map<string, InterfaceState>();
  readonly #byTarget = new Map<string, Set<Contributor>>();
  readonly #series = new Map<string, SeriesState>();
  readonly #batman = new Map<string, BatmanView>();
  /** Until when the analyzer counts as hearing the mesh: the latest sample's arrival plus 1.5 of its interval. */
  #hearingUntil = 0;
  #model: LoadedModel | undefined;
  /** Each site's adopted adapter, and the model it gives on the loaded base (absent while it adapts another version). */
  readonly #adapters = new Map<string, LoadedAdapter>();
  readonly #siteModels = new Map<string, LoadedModel>();
  #restoredRtt: Record<string, number[]> = {};
  #restoredSeries: Record<string, number[]> = {};

  constructor(options: Partial<AnalyzerOptions> = {}) {
    this.options = { ...DEFAULT_ANALYZER_OPTIONS, ...options };
    this.#book = new IncidentBook(this.options.updateEveryMs);
    this.#correlator = new Correlator(this.#book, this.directory, { windowMs: this.options.correlationWindowMs, newId: this.options.newId });
  }

  /** Incidents open now. */
  get openIncidents(): number {
    return this.#book.size;
  }

  /** Link detections held in a correlation window now. */
  get heldDetections(): number {
    return this.#correlator.held;
  }

  /** The model version scoring pairs (undefined: none loaded). */
  get modelVersion(): number | undefined {
    return this.#model?.record.version;
  }

  /** Loads a verified model version (modes shadow and on); pairs keep their windows when its window settings are the same. */
  setModel(model: LoadedModel): ModelArtefactError[] {
    this.#model = model;
    return this.#refreshSiteModels();
  }

  /**
   * Loads a site's verified adapter: applied to the site's nodes while it adapts the loaded model version. Throws
   * {@link ModelArtefactError} (and keeps the site's previous one) when it does not fit the loaded model.
   */
  setAdapter(adapter: LoadedAdapter): void {
    if (this.#model && adapter.record.base_version === this.#model.record.version) adaptedModel(this.#model, adapter);
    this.#adapters.set(adapter.record.site, adapter);
    this.#refreshSiteModels();
  }

  /** Per site, the adapter version applied now (undefined: the site's nodes run the base alone). */
  appliedAdapters(): Record<string, number | undefined> {
    const sites = new Set([...Object.values(this.options.sites), ...this.#adapters.keys()]);
    return Object.fromEntries([...sites].map((site) => [site, this.#siteModels.get(site)?.adapter?.version]));
  }

  /** Recomputes each site's model; an adapter that does not fit the loaded base is dropped and returned. */
  #refreshSiteModels(): ModelArtefactError[] {
    this.#siteModels.clear();
    const problems: ModelArtefactError[] = [];
    const base = this.#model;
    for (const [site, adapter] of base ? this.#adapters : []) {
      // An adapter trained on another base version does not fit this one: the site runs the base until a new one comes.
      if (adapter.record.base_version !== base?.record.version) continue;
      try {
        this.#siteModels.set(site, adaptedModel(base, adapter));
      } catch (error) {
        if (!(error instanceof ModelArtefactError)) throw error;
        this.#adapters.delete(site);
        problems.push(error);
      }
    }
    for (const state of this.#pairs.values()) {
      const model = this.#modelFor(state.node);
      if (model) state.model?.link.useModel(model);
    }
    return problems;
  }

  /** The model scoring pairs observed by `node`: its site's adapted model, or the base. */
  #modelFor(node: string): LoadedModel | undefined {
    const site = this.options.sites[node];
    return (site !== undefined ? this.#siteModels.get(site) : undefined) ?? this.#model;
  }

  /** A node announcement was put in x0_topology. */
  announce(announcement: NodeAnnouncement): void {
    this.directory.upsert(announcement);
  }

  /** A node's announcement was deleted. */
  forget(node: string): void {
    this.directory.remove(node);
  }

  /** Feeds one telemetry sample received at `receivedAt` (analyzer clock); returns the incident states it causes, in order. */
  ingest(sample: Telemetry, receivedAt: number): Anomaly[] {
    this.#hearingUntil = Math.max(this.#hearingUntil, receivedAt + 1.5 * sample.interval_ms);
    const node = this.#nodeSeen(sample, receivedAt);
    if (node.silent) {
      node.silent = false;
      this.#correlator.silence(sample.node, false, this.#silenceDetection(sample.node, node, receivedAt, receivedAt), receivedAt);
    }
    const clock = { node: sample.node, ts: sample.ts, intervalMs: sample.interval_ms, receivedAt };
    const onset = sample.ts - sample.interval_ms;
    const observations = this.#model && this.options.modelMode !== "off" ? observationsOf(sample) : undefined;

    for (const sampled of sample.interfaces) this.#observeInterface(sample, sampled.name, sampled.operstate, onset, receivedAt);
    for (const probe of sample.probes ?? []) {
      const key = `${sample.node}|${probe.peer}`;
      let state = this.#pairs.get(key);
      if (!state) {
        const pair = new ProbePair(sample.node, probe.peer, undefined, this.options, this.#restoredRtt[key] ?? []);
        const created: PairState = this.#contributor<PairState>(key, sample.node, this.directory.resolvePeer(sample.node, probe.peer), {
          pair,
          status: () => pair.status(),
          // The model's scores ride along with the hand-set detectors' evidence in every mode it is loaded in.
          detection: () => withModelEvidence(pair.detection(), created.model?.link),
        });
        state = created;
        this.#pairs.set(key, state);
      }
      const resolved = this.directory.resolvePeer(sample.node, probe.peer);
      this.#retarget(state, resolved);
      state.pair.interfaceName = state.resolved.localInterface;
      const change = state.pair.observe(clock, probe);
      this.#report(state, change.changed, receivedAt);
      const observation = observations?.get(peerHost(probe.peer));
      if (observation) this.#observeModel(state, observation, resolved, receivedAt);
    }
    this.#observeBatman(sample, receivedAt);

    for (const sampled of sample.interfaces) {
      for (const neighbour of sampled.neighbours ?? []) {
        const key = `neighbour|${sample.node}|${sampled.name}|${neighbour.mac}|${neighbour.ipv4 ?? "-"}`;
        const target: IncidentTarget = {
          type: "neighbour",
          id: `neighbour:${sample.node}/${sampled.name}/${neighbour.mac}${neighbour.ipv4 ? `/${neighbour.ipv4}` : ""}`,
          nodes: [sample.node],
          interfaces: [sampled.name],
          neighbour: { mac: neighbour.mac, ipv4: neighbour.ipv4 },
        };
        const series = this.#seriesFor(key, target, sample.node, sampled.name, "packets_per_s", this.options.spikeMinPps, this.options.spikeSamples);
        this.#observeSeries(series, "traffic_spike", neighbour.packets_per_s, sample, receivedAt);
      }
    }
    if (sample.retransmits) {
      const perSecond = sample.retransmits.reduce((sum, entry) => sum + entry.per_s, 0);
      const target: IncidentTarget = { type: "host", id: `host:${sample.node}`, nodes: [sample.node] };
      const series = this.#seriesFor(
        `retransmits|${sample.node}`,
        target,
        sample.node,
        "*",
        "retransmits_per_s",
        this.options.retransmitMinPerS,
        this.options.spikeSamples,
      );
      this.#observeSeries(series, "retransmit_storm", perSecond, sample, receivedAt);
    }
    return this.#book.drain();
  }

  /**
   * Feeds one overdue report (x0.overdue) received at `receivedAt`: a pair whose silence already exceeds phi goes down now,
   * not at the next telemetry sample. Peers the analyzer has no armed pair for are ignored (their samples arm them).
   */
  overdue(report: ProbeOverdue, receivedAt: number): Anomaly[] {
    for (const probe of report.probes) {
      const state = this.#pairs.get(`${report.node}|${probe.peer}`);
      if (!state) continue;
      const change = state.pair.overdue(report.ts, probe);
      if (change.changed) this.#report(state, true, receivedAt);
    }
    return this.#book.drain();
  }

  /**
   * Runs the clock-driven checks at `now` (analyzer clock): phi between samples, node silence, the end of correlation
   * windows and periodic updates. `trustClock` false (the caller's timer fired late, so samples may be queued) skips phi.
   */
  tick(now: number, trustClock = true): Anomaly[] {
    // Stale pairs accrue phi only while other telemetry still arrives: when nothing does, the deaf one is probably us
    // (a NATS outage), and declaring every link down would be one false incident per link.
    if (trustClock && now <= this.#hearingUntil) {
      for (const state of this.#pairs.values()) {
        const change = state.pair.tick(now);
        if (change.changed) this.#report(state, true, now);
      }
    }
    for (const [nodeId, node] of this.#nodes) {
      const silentFor = now - node.lastSeenAt;
      if (node.silent || silentFor < node.intervalMs * this.options.silenceIntervals) continue;
      node.silent = true;
      this.#correlator.silence(nodeId, true, this.#silenceDetection(nodeId, node, now, now), now);
    }
    this.#correlator.tick(now);
    this.#book.refresh(now);
    this.#forgetStale(now);
    return this.#book.drain();
  }

  /**
   * Becomes the publishing instance (the analyzer README's "Leader and standbys"): continues the incidents the previous
   * leader published (`published`, as followed) instead of opening them again, giving those it does not see `graceMs`
   * for its detectors to find them before resolving them; returns the states to publish now.
   */
  takeOver(published: PublishedView, now: number, graceMs: number): Anomaly[] {
    this.#book.takeOver(published, now, graceMs);
    return this.#book.drain();
  }

  /** Baselines to persist. */
  snapshot(): BaselineSnapshot {
    const rtt: Record<string, number[]> = {};
    for (const [key, state] of this.#pairs) if (state.pair.rtt.count > 0) rtt[key] = state.pair.rtt.toJSON();
    const series: Record<string, number[]> = {};
    for (const [key, state] of this.#series) if (state.detector.baseline.count > 0) series[key] = state.detector.baseline.toJSON();
    for (const view of this.#batman.values()) {
      for (const state of view.links.values())
        if (state.link.tq.count > 0) series[tqKey(state.link.node, state.link.interfaceName, state.link.mac)] = state.link.tq.toJSON();
    }
    return { v: 2, rtt, series };
  }

  /** Restores baselines saved by {@link snapshot}; they are picked up when their series is next seen. */
  restore(snapshot: BaselineSnapshot): void {
    this.#restoredRtt = snapshot.rtt;
    this.#restoredSeries = snapshot.series;
  }

  /** Scores a pair's sample with the model; in mode on its verdict counts like any detector's on the pair's target. */
  #observeModel(state: PairState, observation: PairObservation, resolved: Resolved, now: number): void {
    const model = this.#modelFor(state.node) as LoadedModel;
    if (!state.model) {
      const link = new ModelLink(state.node, state.pair.peer, state.resolved.localInterface, model, {
        openAfter: this.options.modelOpenAfter,
        resolveAfter: this.options.modelResolveAfter,
      });
      const fields = { link, status: () => link.status(), detection: () => link.detection() };
      // Only in mode on is it indexed under the target, where the incident's status is the worst of its contributors.
      state.model =
        this.options.modelMode === "on"
          ? this.#contributor<ModelState>(`model|${state.key}`, state.node, resolved, fields)
          : { key: `model|${state.key}`, node: state.node, resolved, ...fields };
    }
    const modelState = state.model;
    if (this.options.modelMode === "on") this.#retarget(modelState, resolved);
    else modelState.resolved = resolved;
    modelState.link.interfaceName = state.resolved.localInterface;
    const changed = modelState.link.observe(observation, state.pair.status() === "down");
    this.options.onModelVerdict?.(modelState.link.latestClass, state.pair.status());
    if (this.options.modelMode === "on") this.#report(modelState, changed, now);
  }

  #nodeSeen(sample: Telemetry, receivedAt: number): NodeState {
    let node = this.#nodes.get(sample.node);
    if (!node) {
      node = { lastSeenAt: receivedAt, lastTs: sample.ts, intervalMs: sample.interval_ms, silent: false };
      this.#nodes.set(sample.node, node);
    }
    node.lastSeenAt = receivedAt;
    node.lastTs = sample.ts;
    node.intervalMs = sample.interval_ms;
    return node;
  }

  /**
   * Judges the node's batman-adv neighbours. Errored or missing samples judge nothing, so they never open or resolve
   * anything by themselves; only a view without usable samples for `batmanBlindMs` withdraws its verdicts. The monitor
   * repeats its latest read in every sample until batctl runs again: a repeat counts for nothing that is counted in reads
   * (TQ streaks, recovery), but an entry missing from it keeps ageing with the node's clock.
   */
  #observeBatman(sample: Telemetry, receivedAt: number): void {
    const batman = sample.batman;
    let view = this.#batman.get(sample.node);
    if (!batman || batman.error !== undefined) {
      if (view && !view.blind && receivedAt - view.usableAt > this.options.batmanBlindMs) {
        view.blind = true;
        for (const state of view.links.values()) this.#report(state, state.link.withdraw(), receivedAt);
      }
      return;
    }
    const reads = oneHopNeighbours(batman);
    const fingerprint = readsFingerprint(reads);
    if (!view) {
      view = { fingerprint: "", usableAt: receivedAt, blind: false, links: new Map() };
      this.#batman.set(sample.node, view);
    }
    const fresh = fingerprint !== view.fingerprint;
    view.fingerprint = fingerprint;
    view.usableAt = receivedAt;
    view.blind = false;
    if (fresh) {
      for (const read of reads.values()) {
        const key = `batman|${sample.node}|${read.interface}|${read.mac}`;
        if (view.links.has(key)) continue;
        const restored = this.#restoredSeries[tqKey(sample.node, read.interface, read.mac)] ?? [];
        const link = new BatmanLink(sample.node, read.interface, read.mac, this.options, restored);
        const resolved = this.directory.resolveBatmanNeighbour(sample.node, read.interface, read.mac);
        const state = this.#contributor<BatmanState>(key, sample.node, resolved, { link, status: () => link.status(), detection: () => link.detection() });
        view.links.set(key, state);
      }
    }
    const clock = { ts: sample.ts, intervalMs: sample.interval_ms };
    for (const state of view.links.values()) {
      const { node, interfaceName, mac } = state.link;
      const read = reads.get(`${interfaceName}|${mac}`);
      if (!fresh && read) continue;
      if (read) state.link.lastSeenAt = receivedAt;
      this.#retarget(state, this.directory.resolveBatmanNeighbour(node, interfaceName, mac));
      // A neighbour across a hard interface taken out of the mesh is silent by configuration, not by fault.
      const changed = this.directory.batmanAttached(node, interfaceName, mac) ? state.link.observe(clock, read) : state.link.withdraw();
      this.#report(state, changed, receivedAt);
    }
  }

  #silenceDetection(nodeId: string, node: NodeState, now: number, ts: number): Detection {
    const silentFor = now - node.lastSeenAt;
    const threshold = node.intervalMs * this.options.silenceIntervals;
    return {
      observer: nodeId,
      onsetAt: node.lastSeenAt,
      reading: { metric: "silence_ms", observed: silentFor, mean: node.intervalMs, stddev: 0, score: silentFor / node.intervalMs, ts },
      evidence: [{ node: nodeId, metric: "silence_ms", observed: silentFor, threshold, ts: Math.round(ts) }],
    };
  }

  #observeInterface(sample: Telemetry, name: string, operstate: string, onset: number, receivedAt: number): void {
    const key = `${sample.node}|${name}`;
    let state = this.#interfaces.get(key);
    if (!state) {
      const created: Omit<InterfaceState, "status" | "detection" | "key" | "node" | "resolved"> = {
        operstate,
        seenUp: false,
        down: false,
        onsetAt: 0,
        ts: sample.ts,
      };
      state = this.#contributor<InterfaceState>(key, sample.node, this.directory.resolveInterface(sample.node, name), {
        ...created,
        status: () => ((state as InterfaceState).down ? "down" : "ok"),
        detection: () => interfaceDetection(state as InterfaceState, name),
      });
      this.#interfaces.set(key, state);
    }
    this.#retarget(state, this.directory.resolveInterface(sample.node, name));
    state.ts = sample.ts;
    state.operstate = operstate;
    // Down only after having been up: an interface that never came up is not a fault of this mesh.
    const down = state.seenUp && DOWN_STATES.has(operstate);
    if (operstate === "up") state.seenUp = true;
    if (down && !state.down) state.onsetAt = onset;
    const changed = down !== state.down;
    state.down = down;
    this.#report(state, changed, receivedAt);
  }

  #contributor<T extends Contributor>(key: string, node: string, resolved: Resolved, rest: Omit<T, "key" | "node" | "resolved">): T {
    const contributor = { key, node, resolved, ...rest } as T;
    this.#index(contributor);
    return contributor;
  }

  #index(contributor: Contributor): void {
    const set = this.#byTarget.get(contributor.resolved.target.id) ?? new Set();
    set.add(contributor);
    this.#byTarget.set(contributor.resolved.target.id, set);
  }

  /** Follows announcements: a contributor whose target changed (e.g. its peer became known) moves to the new target. */
  #retarget(contributor: Contributor, resolved: Resolved): void {
    if (resolved.target.id === contributor.resolved.target.id) {
      contributor.resolved = resolved;
      return;
    }
    const old = contributor.resolved.target;
    this.#byTarget.get(old.id)?.delete(contributor);
    contributor.resolved = resolved;
    this.#index(contributor);
    if (contributor.status() !== "ok") this.#aggregate(old, this.#nowOf(contributor));
  }

  #nowOf(contributor: Contributor): number {
    return this.#nodes.get(contributor.node)?.lastSeenAt ?? 0;
  }

  /** Tells the correlator about a contributor's target: on a change, and on every sample while it is not ok (fresh evidence). */
  #report(contributor: Contributor, changed: boolean, now: number): void {
    const status = contributor.status();
    if (!changed && status === "ok") return;
    const target = contributor.resolved.target;
    const aggregate = this.#worst(target.id);
    const own = contributor.detection();
    const detection = status === aggregate.status && own ? own : aggregate.detection;
    this.#correlator.link(target, aggregate.status, detection, now);
  }

  #aggregate(target: IncidentTarget, now: number): void {
    const aggregate = this.#worst(target.id);
    this.#correlator.link(target, aggregate.status, aggregate.detection, now);
  }

  /** The worst status among a target's contributors, with that contributor's detection. */
  #worst(targetId: string): { status: LinkStatus; detection: Detection | undefined } {
    let status: LinkStatus = "ok";
    let detection: Detection | undefined;
    for (const contributor of this.#byTarget.get(targetId) ?? []) {
      const own = contributor.status();
      if (LINK_RANK[own] > LINK_RANK[status]) {
        status = own;
        detection = contributor.detection();
      }
    }
    return { status, detection };
  }

  #seriesFor(key: string, target: IncidentTarget, node: string, iface: string, metric: string, minValue: number, openAfter: number): SeriesState {
    let state = this.#series.get(key);
    if (!state) {
      const options: SeriesOptions = {
        zThreshold: this.options.zThreshold,
        minValue,
        openAfter,
        clearAfter: this.options.resolveAfter,
        warmupSamples: this.options.warmupSamples,
        window: this.options.baselineWindow,
        floor: { ratio: 0.1, min: 1 },
      };
      state = { detector: new SeriesDetector(options, this.#restoredSeries[key] ?? []), target, node, interface: iface, metric };
      this.#series.set(key, state);
    }
    return state;
  }

  #observeSeries(state: SeriesState, kind: "traffic_spike" | "retransmit_storm", value: number, sample: Telemetry, now: number): void {
    const detector = state.detector;
    const transition = detector.observe(value, sample.ts, sample.ts - sample.interval_ms, now);
    const reading = { ...(detector.reading as NonNullable<typeof detector.reading>), metric: state.metric };
    const threshold = Math.max(this.options.zThreshold * reading.stddev + reading.mean, detector.options.minValue);
    const detection: Detection = {
      observer: state.node,
      ...(state.interface !== "*" ? { interface: state.interface } : {}),
      onsetAt: detector.onsetAt,
      reading,
      evidence: [
        {
          node: state.node,
          ...(state.interface !== "*" ? { interface: state.interface } : {}),
          metric: state.metric,
          observed: value,
          threshold,
          ts: sample.ts,
        } satisfies Evidence,
      ],
    };
    if (transition === "opened") {
      const critical = reading.score > 2 * this.options.zThreshold;
      state.incident = this.#book.open(
        new Incident({
          id: this.options.newId(),
          kind,
          severity: critical ? "critical" : "warning",
          target: state.target,
          node: state.node,
          interface: state.interface,
          detection,
        }),
        now,
      );
    } else if (state.incident) {
      state.incident.absorb(detection);
      if (transition === "cleared") {
        this.#book.resolve(state.incident, now, "cleared");
        state.incident = undefined;
      }
    }
  }

  /** Drops pairs, interfaces and series not seen for `forgetAfterMs` and without an open fault, so memory stays bounded. */
  #forgetStale(now: number): void {
    const cutoff = now - this.options.forgetAfterMs;
    for (const [key, state] of this.#series) {
      if (state.detector.lastSeenAt < cutoff && !state.incident) this.#series.delete(key);
    }
    for (const [key, state] of this.#pairs) {
      if (state.pair.lastSeenAt < cutoff && state.status() === "ok" && (state.model?.status() ?? "ok") === "ok") {
        this.#pairs.delete(key);
        this.#byTarget.get(state.resolved.target.id)?.delete(state);
        if (state.model) this.#byTarget.get(state.model.resolved.target.id)?.delete(state.model);
      }
    }
    for (const [node, view] of this.#batman) {
      for (const [key, state] of view.links) {
        if (state.link.lastSeenAt >= cutoff || state.status() !== "ok") continue;
        view.links.delete(key);
        this.#byTarget.get(state.resolved.target.id)?.delete(state);
      }
      if (view.links.size === 0 && view.usableAt < cutoff) this.#batman.delete(node);
    }
    for (const [key, node] of this.#nodes) {
      if (node.lastSeenAt >= cutoff || node.silent) continue;
      this.#nodes.delete(key);
      for (const [ifKey, iface] of this.#interfaces) {
        if (iface.node !== key || iface.down) continue;
        this.#interfaces.delete(ifKey);
        this.#byTarget.get(iface.resolved.target.id)?.delete(iface);
      }
    }
  }
}

/** A detection with the model's latest scores of the pair added to its evidence. */
function withModelEvidence(detection: Detection | undefined, model: ModelLink | undefined): Detection | undefined {
  if (!detection || !model) return detection;
  const extra = model.evidence();
  return extra.length === 0 ? detection : { ...detection, evidence: [...detection.evidence, ...extra] };
}

/** The x0_baselines series key of a batman link's TQ baseline. */
function tqKey(node: string, iface: string, mac: string): string {
  return `batman_tq|${node}|${iface}|${mac}`;
}

function interfaceDetection(state: InterfaceState, name: string): Detection | undefined {
  if (!state.down) return undefined;
  const ts = Math.max(0, Math.round(state.ts));
  return {
    observer: state.node,
    interface: name,
    onsetAt: state.onsetAt,
    reading: { metric: "operstate", observed: 0, mean: 1, stddev: 0, score: Number.POSITIVE_INFINITY, ts },
    evidence: [{ node: state.node, interface: name, metric: "operstate", observed: 0, threshold: 1, ts }],
  };
}
