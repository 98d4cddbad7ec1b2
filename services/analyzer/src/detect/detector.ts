import type { Anomaly, AnomalyKind, CounterName, Telemetry } from "@x0/shared";
import { EwmaBaseline, type EwmaState } from "../baseline/ewma.ts";

/** Tuning of the {@link Detector}; the defaults and their reasons are in the analyzer README. */
export interface DetectorOptions {
  /** EWMA smoothing factor per sample. */
  alpha: number;
  /** A rate this many (floored) standard deviations above its baseline is a breach. */
  zThreshold: number;
  /** Samples a series needs before it can breach. */
  warmupSamples: number;
  /** Consecutive normal samples that resolve an incident. */
  resolveAfter: number;
  /** Floor of the standard deviation, as a fraction of the baseline mean. */
  stddevFloorRatio: number;
  /** Absolute floor of the standard deviation, in units per second. */
  stddevFloorAbs: number;
  /** Minimum time between two `updated` states of one incident. */
  updateEveryMs: number;
  /** A node silent for this many of its own intervals is unreachable. */
  silenceIntervals: number;
  /** Makes incident ids (injectable for tests). */
  newId?: () => string;
}

/** Detector defaults, explained in the analyzer README. */
export const DEFAULT_DETECTOR_OPTIONS: DetectorOptions = {
  alpha: 0.1,
  zThreshold: 6,
  warmupSamples: 50,
  resolveAfter: 3,
  stddevFloorRatio: 0.1,
  stddevFloorAbs: 1,
  updateEveryMs: 5000,
  silenceIntervals: 5,
};

const KIND_OF_COUNTER: Record<CounterName, AnomalyKind> = {
  rx_bytes: "traffic_spike",
  tx_bytes: "traffic_spike",
  rx_packets: "traffic_spike",
  tx_packets: "traffic_spike",
  rx_errors: "link_degraded",
  tx_errors: "link_degraded",
  rx_dropped: "link_degraded",
  tx_dropped: "link_degraded",
};

const ZERO_COUNTERS = Object.fromEntries(Object.keys(KIND_OF_COUNTER).map((counter) => [counter, 0])) as Record<CounterName, number>;

const DOWN_STATES = new Set(["down", "lowerlayerdown", "notpresent"]);
/** Interface field of node-wide incidents. */
export const ALL_INTERFACES = "*";

interface OpenIncident {
  id: string;
  kind: AnomalyKind;
  openedAt: number;
  update: number;
  lastEmittedAt: number;
  normalStreak: number;
}

const COUNTERS = Object.keys(KIND_OF_COUNTER) as CounterName[];

/** One interface of one node: its last sample and a baseline (and maybe an incident) per counter. */
interface InterfaceState {
  ts: number;
  counters: Record<CounterName, number>;
  operstate: string;
  baselines: Partial<Record<CounterName, EwmaBaseline>>;
  incidents: Partial<Record<CounterName, OpenIncident>>;
  linkDown?: OpenIncident;
}

interface NodeState {
  lastSeenAt: number;
  intervalMs: number;
  interfaces: Map<string, InterfaceState>;
  silence?: OpenIncident;
}

/** Persisted baselines: node → interface → counter → state. */
export type BaselineSnapshot = Record<string, Record<string, Partial<Record<CounterName, EwmaState>>>>;

/**
 * Turns telemetry into incident states: per-series EWMA baselines of counter rates,
 * one incident per breach (opened, updated at most every `updateEveryMs`, resolved after
 * `resolveAfter` normal samples), link_down on operstate, node_unreachable on silence.
 */
export class Detector {
  readonly #options: DetectorOptions;
  readonly #nodes = new Map<string, NodeState>();
  readonly #newId: () => string;

  constructor(options: Partial<DetectorOptions> = {}) {
    this.#options = { ...DEFAULT_DETECTOR_OPTIONS, ...options };
    this.#newId = options.newId ?? (() => crypto.randomUUID());
  }

  /** Number of incidents open now. */
  get openIncidents(): number {
    let open = 0;
    for (const node of this.#nodes.values()) {
      if (node.silence) open += 1;
      for (const iface of node.interfaces.values()) {
        if (iface.linkDown) open += 1;
        for (const incident of Object.values(iface.incidents)) if (incident) open += 1;
      }
    }
    return open;
  }

  /**
   * Feeds one telemetry sample; returns the incident states it causes, in order.
   * `receivedAt` (local clock) drives silence detection, so node clock skew does not.
   */
  ingest(sample: Telemetry, receivedAt = sample.ts): Anomaly[] {
    const anomalies: Anomaly[] = [];
    const node = this.#node(sample, receivedAt);
    if (node.silence) {
      node.silence.update += 1;
      anomalies.push(this.#state(node.silence, "resolved", sample.node, ALL_INTERFACES, "silence_ms", receivedAt - node.lastSeenAt, 0, 0, 0, sample.ts));
      node.silence = undefined;
    }
    node.lastSeenAt = receivedAt;
    node.intervalMs = sample.interval_ms;
    for (const sampled of sample.interfaces) {
      let iface = node.interfaces.get(sampled.name);
      if (!iface) {
        iface = { ts: sample.ts, counters: sampled.counters, operstate: sampled.operstate, baselines: {}, incidents: {} };
        node.interfaces.set(sampled.name, iface);
        continue;
      }
      const before = iface.operstate;
      iface.operstate = sampled.operstate;
      anomalies.push(...this.#checkOperstate(iface, sample, sampled.name, before, sampled.operstate));
      if (sample.ts > iface.ts) {
        const seconds = (sample.ts - iface.ts) / 1000;
        for (const counter of COUNTERS) {
          const delta = sampled.counters[counter] - iface.counters[counter];
          if (delta < 0) continue; // counter reset (interface re-created): no rate this time
          const state = this.#observe(iface, sample, sampled.name, counter, delta / seconds);
          if (state) anomalies.push(state);
        }
      }
      iface.ts = sample.ts;
      iface.counters = sampled.counters;
    }
    return anomalies;
  }

  /** Opens node_unreachable for every node silent too long at `now`. */
  checkSilence(now: number): Anomaly[] {
    const anomalies: Anomaly[] = [];
    for (const [nodeId, node] of this.#nodes) {
      const silentFor = now - node.lastSeenAt;
      if (node.silence || node.intervalMs === 0 || silentFor < node.intervalMs * this.#options.silenceIntervals) continue;
      node.silence = { id: this.#newId(), kind: "node_unreachable", openedAt: now, update: 0, lastEmittedAt: now, normalStreak: 0 };
      anomalies.push(
        this.#state(node.silence, "opened", nodeId, ALL_INTERFACES, "silence_ms", silentFor, node.intervalMs, 0, silentFor / node.intervalMs, now),
      );
    }
    return anomalies;
  }

  /** Baselines to persist. */
  snapshot(): BaselineSnapshot {
    const out: BaselineSnapshot = {};
    for (const [nodeId, node] of this.#nodes) {
      const interfaces: BaselineSnapshot[string] = {};
      for (const [name, iface] of node.interfaces) {
        interfaces[name] = Object.fromEntries(Object.entries(iface.baselines).map(([counter, baseline]) => [counter, baseline.toJSON()]));
      }
      out[nodeId] = interfaces;
    }
    return out;
  }

  /** Restores baselines saved by {@link snapshot}; rates start again with the next two samples. */
  restore(snapshot: BaselineSnapshot): void {
    for (const [nodeId, interfaces] of Object.entries(snapshot)) {
      // intervalMs 0: not heard from since the restore, so silence is not judged until it speaks.
      const node = this.#nodes.get(nodeId) ?? { lastSeenAt: 0, intervalMs: 0, interfaces: new Map() };
      this.#nodes.set(nodeId, node);
      for (const [name, counters] of Object.entries(interfaces)) {
        const baselines: InterfaceState["baselines"] = {};
        for (const [counter, state] of Object.entries(counters)) {
          if (state && counter in KIND_OF_COUNTER) baselines[counter as CounterName] = new EwmaBaseline(this.#options.alpha, state);
        }
        node.interfaces.set(name, { ts: Number.POSITIVE_INFINITY, counters: { ...ZERO_COUNTERS }, operstate: "unknown", baselines, incidents: {} });
      }
    }
  }

  #node(sample: Telemetry, receivedAt: number): NodeState {
    let node = this.#nodes.get(sample.node);
    if (!node) {
      node = { lastSeenAt: receivedAt, intervalMs: sample.interval_ms, interfaces: new Map() };
      this.#nodes.set(sample.node, node);
    }
    return node;
  }

  #checkOperstate(iface: InterfaceState, sample: Telemetry, name: string, before: string, now: string): Anomaly[] {
    const open = iface.linkDown;
    if (!open && before === "up" && DOWN_STATES.has(now)) {
      const incident: OpenIncident = { id: this.#newId(), kind: "link_down", openedAt: sample.ts, update: 0, lastEmittedAt: sample.ts, normalStreak: 0 };
      iface.linkDown = incident;
      return [this.#state(incident, "opened", sample.node, name, "operstate", 0, 1, 0, Number.POSITIVE_INFINITY, sample.ts)];
    }
    if (open && now === "up") {
      iface.linkDown = undefined;
      open.update += 1;
      return [this.#state(open, "resolved", sample.node, name, "operstate", 1, 1, 0, 0, sample.ts)];
    }
    return [];
  }

  #observe(iface: InterfaceState, sample: Telemetry, name: string, counter: CounterName, rate: number): Anomaly | undefined {
    const options = this.#options;
    let baseline = iface.baselines[counter];
    if (!baseline) {
      baseline = new EwmaBaseline(options.alpha);
      iface.baselines[counter] = baseline;
    }
    const floor = Math.max(options.stddevFloorAbs, options.stddevFloorRatio * Math.abs(baseline.mean));
    const score = baseline.count >= options.warmupSamples ? baseline.score(rate, floor) : 0;
    const breaching = score > options.zThreshold;
    const incident = iface.incidents[counter];
    if (!incident && !breaching) {
      baseline.update(rate);
      return undefined;
    }
    const emit = (open: OpenIncident, state: Anomaly["state"]) =>
      this.#state(open, state, sample.node, name, `${counter}_per_s`, rate, baseline.mean, baseline.stddev(floor), score, sample.ts);
    if (!incident) {
      const opened: OpenIncident = {
        id: this.#newId(),
        kind: KIND_OF_COUNTER[counter],
        openedAt: sample.ts,
        update: 0,
        lastEmittedAt: sample.ts,
        normalStreak: 0,
      };
      iface.incidents[counter] = opened;
      return emit(opened, "opened");
    }
    // While an incident is open the baseline is frozen, so the fault does not become the norm.
    if (breaching) {
      incident.normalStreak = 0;
      if (sample.ts - incident.lastEmittedAt < options.updateEveryMs) return undefined;
      incident.update += 1;
      incident.lastEmittedAt = sample.ts;
      return emit(incident, "updated");
    }
    incident.normalStreak += 1;
    if (incident.normalStreak < options.resolveAfter) return undefined;
    incident.update += 1;
    iface.incidents[counter] = undefined;
    return emit(incident, "resolved");
  }

  #state(
    incident: OpenIncident,
    state: Anomaly["state"],
    node: string,
    iface: string,
    metric: string,
    observed: number,
    mean: number,
    stddev: number,
    score: number,
    ts: number,
  ): Anomaly {
    const critical = incident.kind === "link_down" || incident.kind === "node_unreachable" || score > 2 * this.#options.zThreshold;
    return {
      v: 1,
      incident_id: incident.id,
      state,
      update: state === "opened" ? 0 : incident.update,
      kind: incident.kind,
      severity: critical ? "critical" : "warning",
      node,
      interface: iface,
      metric,
      observed,
      baseline_mean: mean,
      baseline_stddev: stddev,
      // JSON has no infinity: a state change with no spread scores as a large finite number.
      score: Number.isFinite(score) ? score : 1e9,
      opened_at: incident.openedAt,
      ts,
    };
  }
}
