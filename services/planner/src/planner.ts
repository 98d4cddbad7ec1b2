// The planner's dispatch: incident states to the strategy of the element's mesh (static routes, batman-adv), quarantine
// or notify, behind the guards (cooldowns, deferral, hold-down release, fallback rules), one piece of work at a time.

import type { Context } from "@opentelemetry/api";
import {
  type ActionResult,
  type Anomaly,
  type AnomalyKind,
  LinkRecord,
  type Logger,
  linkKey,
  type NodeAnnouncement,
  type Plan,
  type PlanAlternative,
  TOPOLOGY_ANALYSIS_KEY,
  type TopologyAnalysis,
} from "@x0/shared";
import type { SettingMap } from "./batman/settings.ts";
import { originOf, PlanEmitter, type PlanOrigin, type Proposal, planIdFor, planMsgID } from "./emit/emit.ts";
import type { JsonStore } from "./kv.ts";
import type { PlannerMetrics } from "./metrics.ts";
import { type SimilarCase, similarSignal } from "./outcomes/similar.ts";
import { rank } from "./outcomes/stats.ts";
import type { OutcomeStore } from "./outcomes/store.ts";
import { Cooldown, Severity } from "./policy/guards.ts";
import { type Alternative, alternativesFor, alternativesForMesh, decideFallback, type Policy } from "./policy/policy.ts";
import { quarantineKept, quarantineProposal } from "./quarantine/quarantine.ts";
import type { RouteMap } from "./routing/routes.ts";
import { BatmanStrategy } from "./strategies/batman.ts";
import { RouteStrategy } from "./strategies/routes.ts";
import type { HealingRequest, HealingStrategy } from "./strategies/strategy.ts";
import { type Element, elementOf, linkElement } from "./topology/element.ts";
import { analysisRecord, topologySignature } from "./topology/fragility.ts";
import { ProbeIntake } from "./topology/telemetry.ts";
import { TopologyState } from "./topology/topology.ts";

/** Kinds the planner answers by changing routes (or batman-adv hard interfaces). */
const ROUTE_KINDS: ReadonlySet<AnomalyKind> = new Set(["link_down", "link_degraded", "node_unreachable"]);
/** How many open incidents the planner remembers (their kind, alternative and whether it quarantined). */
const INCIDENT_MEMORY = 10_000;

/** What the planner needs from its service. */
export interface PlannerDeps {
  policy: Policy;
  /** x0_topology: link records, routes.current and batman.current. */
  topologyStore: JsonStore;
  outcomes: OutcomeStore;
  /** Signs and publishes a plan durably with this message id. */
  publish(plan: Plan, msgID: string, parent: Context | undefined): Promise<void>;
  logger: Logger;
  metrics: PlannerMetrics;
  /** /status loop counters (`plans`). */
  counters?: Record<string, number>;
  /** Similar past cases from the rag, asked when several alternatives qualify; undefined when it did not answer in time. */
  similar?: (anomaly: Anomaly) => Promise<SimilarCase[] | undefined>;
  now?: () => number;
}

interface Incident {
  kind: AnomalyKind;
  alternative: string;
  approval: Plan["approval"];
  quarantined: boolean;
  /** The incident's last repair plan, and how often it was planned again after failing without a change. */
  repair?: { request: PlanRequest; planId: string; retries: number };
}

/** How an element's faults are repaired: static routes around it, or batman-adv hard-interface changes. */
type Mesh = "batman" | "static";

/** The alternative chosen for an opened incident state, with the plan's origin and the target's cooldown key. */
interface Choice {
  anomaly: Anomaly;
  chosen: Alternative;
  approval: Plan["approval"];
  origin: PlanOrigin;
  cooldownKey: string;
}

/** A repair or restore, with the plan it answers and the cooldown it waits for. */
interface PlanRequest extends HealingRequest {
  mesh: Mesh;
  origin: PlanOrigin;
  cooldownKey: string;
  severity: Severity;
}

/** The route planner: keeps the graph and link costs, and turns incident states into plans through its strategies. */
export class Planner {
  readonly topology: TopologyState;
  readonly intake: ProbeIntake;
  readonly #deps: PlannerDeps;
  readonly #policy: Policy;
  readonly #now: () => number;
  readonly #metrics: PlannerMetrics;
  readonly #cooldown: Cooldown;
  readonly #emitter: PlanEmitter;
  readonly #routes: RouteStrategy;
  readonly #batman: BatmanStrategy;
  readonly #incidents = new Map<string, Incident>();
  readonly #deferred = new Map<string, { request: PlanRequest; due: number }>();
  /** Repairs to plan again, by incident id: their plan failed without changing anything. */
  readonly #retries = new Map<string, { request: PlanRequest; due: number }>();
  #pendingRelease: { ids: string[]; incidentId: string } | undefined;
  /** The last topology analysis, the nodes and usable links it was made from, and whether it is in x0_topology. */
  #analysed: { signature: string; record: TopologyAnalysis; written: boolean } | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(deps: PlannerDeps) {
    const { policy, topologyStore: store, logger, metrics } = deps;
    this.#deps = deps;
    this.#policy = policy;
    this.#now = deps.now ?? Date.now;
    this.#metrics = metrics;
    const { link_cost: cost, flapping } = policy;
    this.topology = new TopologyState(
      {
        alpha: cost.alpha,
        rttScaleMs: cost.rtt_scale_ms,
        rttFactorMax: cost.rtt_factor_max,
        quantum: cost.quantum,
        hysteresis: cost.hysteresis,
        maxLoss: cost.max_loss,
      },
      { downs: flapping.downs, windowMs: flapping.window_ms, stableMs: flapping.stable_ms },
    );
    this.intake = new ProbeIntake(cost.sample_every_ms);
    this.#cooldown = new Cooldown(policy.cooldown_ms);
    this.#emitter = new PlanEmitter({
      publish: deps.publish,
      outcomes: deps.outcomes,
      logger,
      metrics,
      counters: deps.counters,
      plansPerMinute: policy.budget.plans_per_minute,
      deadlineMs: policy.verify.deadline_ms,
    });
    this.#routes = new RouteStrategy({ topology: this.topology, store, logger, verify: policy.verify, metrics });
    this.#batman = new BatmanStrategy({ topology: this.topology, store, logger, policy });
  }

  /** Resumes from x0_topology: link marks, flap history and holds, the installed routes and the batman changes. */
  async restore(): Promise<void> {
    const store = this.#deps.topologyStore;
    for (const key of await store.keys("link.>")) {
      const parsed = LinkRecord.safeParse((await store.get(key))?.value);
      if (parsed.success) this.topology.restore(parsed.data);
      else this.#deps.logger.warn("ignoring invalid link record", { key, error: parsed.error.message });
    }
    await this.#routes.restore();
    await this.#batman.restore();
    this.#metrics.holdDowns.set(this.topology.heldCount());
  }

  /** A node's announcement arrived or changed. */
  announce(announcement: NodeAnnouncement): void {
    this.topology.announce(announcement);
    this.#batman.announce(announcement);
  }

  /** A node's announcement was deleted. */
  forget(node: string): void {
    this.topology.forget(node);
    this.#batman.forget(node);
  }

  /** Raw telemetry from `node` (its subject token): probe loss and RTT update link costs. */
  observeTelemetry(node: string, data: Uint8Array): void {
    const sample = this.intake.read(node, data, this.#now());
    if (sample) this.topology.observeProbes(sample.node, sample.probes);
  }

  /** What the planner believes each node has installed. */
  installed(): RouteMap {
    return this.#routes.installed();
  }

  /** The batman-adv hard interfaces the planner believes it changed (detached, or with a raised hop penalty). */
  batmanSettings(): SettingMap {
    return this.#batman.settings();
  }

  /** Plans for one incident state (serialised with results and ticks); undefined when it makes no plan. */
  handleAnomaly(anomaly: Anomaly, parent?: Context): Promise<Plan | undefined> {
    return this.#serial(async () => {
      const now = this.#now();
      try {
        return await this.#onAnomaly(anomaly, parent, now);
      } finally {
        await this.#flush(now);
      }
    });
  }

  /** Counts a plan's result in its alternative's stats and confirms or reverts the changes it made. */
  handleResult(result: ActionResult): Promise<void> {
    return this.#serial(() => this.#onResult(result));
  }

  /** Periodic work: held links that became stable return (with a plan), cooled-down plans are made, link records written. */
  tick(): Promise<Plan[]> {
    return this.#serial(() => this.#onTick());
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #onAnomaly(anomaly: Anomaly, parent: Context | undefined, now: number): Promise<Plan | undefined> {
    const known = this.#incidents.get(anomaly.incident_id);
    // An update that keeps the kind says the incident goes on: nothing new to plan.
    if (anomaly.state === "updated" && known?.kind === anomaly.kind) return undefined;
    // After a restart the incident is known only by its marks on links: an update of it is not a new fault.
    if (anomaly.state === "updated" && !known && this.topology.marked(anomaly.incident_id).length > 0) return undefined;
    if (anomaly.state === "resolved") return this.#onResolved(anomaly, known, parent, now);
    return this.#onOpened(anomaly, known !== undefined, parent, now);
  }

  async #onOpened(anomaly: Anomaly, replan: boolean, parent: Context | undefined, now: number): Promise<Plan | undefined> {
    const allowed = alternativesFor(this.#policy, anomaly.kind);
    if (allowed.length === 0) return this.#fallback(anomaly, parent, now);
    const routed = ROUTE_KINDS.has(anomaly.kind);
    const element = routed ? elementOf(this.topology, anomaly.target) : undefined;
    const mesh = element ? this.#meshOf(element.links) : "static";
    // Only the alternatives that act on the element's mesh compete: batman-adv routes by itself, static routes do nothing there.
    const specs = routed ? alternativesForMesh(allowed, mesh) : allowed;
    if (specs.length === 0) {
      if (!element) return this.#fallback(anomaly, parent, now);
      const meshName = mesh === "batman" ? "batman-adv" : "static-route";
      const message = `${anomaly.kind} on ${element.what}: the policy allows no alternative for a ${meshName} mesh; nothing changes`;
      return this.#emitter.notify(originOf(anomaly, { rule: `${anomaly.kind}/no-alternative`, approval: "auto" }), message, parent, now);
    }
    // Several choices: what worked on similar incidents is one more signal, if the rag answers within its deadline.
    const similar = specs.length > 1 && this.#deps.similar ? await this.#deps.similar(anomaly) : undefined;
    const alternatives = rank(
      specs,
      (name) => this.#deps.outcomes.statsOf(anomaly.kind, name),
      (name) => (similar ? similarSignal(similar, anomaly.kind, name) : undefined),
    );
    const chosen = (alternatives[0] as PlanAlternative).name as Alternative;
    const approval = specs.find((spec) => spec.name === chosen)?.approval ?? "auto";
    const choice: Choice = {
      anomaly,
      chosen,
      approval,
      origin: originOf(anomaly, { rule: `${anomaly.kind}/${chosen}`, approval, alternatives, ranked: chosen }),
      cooldownKey: targetKey(anomaly),
    };
    if (routed && chosen !== "notify") return element ? this.#repair(choice, element, mesh, replan, parent, now) : this.#fallback(anomaly, parent, now);
    if (anomaly.kind === "traffic_spike" && chosen === "quarantine") return this.#quarantine(choice, parent, now);
    this.#remember(anomaly.incident_id, { kind: anomaly.kind, alternative: chosen, approval, quarantined: false });
    return this.#emitter.notify(choice.origin, `${anomaly.kind} on ${anomaly.node}/${anomaly.interface} (${anomaly.metric})`, parent, now);
  }

  /** Marks the fault in the graph and plans its repair on the element's mesh, unless the target's cooldown defers it. */
  async #repair(choice: Choice, element: Element, mesh: Mesh, replan: boolean, parent: Context | undefined, now: number): Promise<Plan | undefined> {
    const { anomaly, chosen, approval, origin, cooldownKey } = choice;
    this.#markFault(choice, element.links, replan, now);
    this.#remember(anomaly.incident_id, { kind: anomaly.kind, alternative: chosen, approval, quarantined: false });
    const request: PlanRequest = {
      purpose: "repair",
      mesh,
      effect: chosen === "batman-hop-penalty" ? "penalty" : "detach",
      element,
      what: `${anomaly.kind} on ${element.what}: ${chosen}`,
      origin,
      cooldownKey,
      severity: anomaly.kind === "link_degraded" ? Severity.degraded : Severity.down,
    };
    const wait = this.#cooldown.remaining(cooldownKey, request.severity, now);
    this.#retries.delete(anomaly.incident_id);
    if (wait > 0) {
      // Held back, not dropped: the graph already has the fault, and the plan is made when the cooldown ends.
      this.#deferred.set(cooldownKey, { request, due: now + wait });
      this.#metrics.deferred.inc();
      this.#deps.logger.info("plan deferred by cooldown", { incident_id: anomaly.incident_id, target: cooldownKey, wait_ms: wait });
      return undefined;
    }
    const planned = await this.#plan(request, parent, now);
    return typeof planned === "object" ? planned : undefined;
  }

  /** The fault's effect on the graph: down (counts towards flapping), out of routing, or a raised cost. */
  #markFault({ anomaly, chosen }: Choice, links: string[], replan: boolean, now: number): void {
    // A kind change replaces the incident's earlier effect on the graph.
    if (replan) this.topology.clear(anomaly.incident_id, now);
    if (anomaly.kind !== "link_degraded") {
      const { held } = this.topology.markDown(anomaly.incident_id, links, now);
      if (held.length > 0) {
        this.#deps.logger.warn("links held down: flapping", { links: held, downs: this.#policy.flapping.downs, window_ms: this.#policy.flapping.window_ms });
      }
    } else if (chosen === "reroute-around" || chosen === "batman-deactivate") this.topology.markAvoid(anomaly.incident_id, links);
    else this.topology.markDegraded(anomaly.incident_id, links, this.#policy.link_cost.degraded_factor);
    this.#metrics.holdDowns.set(this.topology.heldCount());
  }

  /** Quarantines the spiking neighbour, unless its target is cooling down; the fallback rules when the target names none. */
  async #quarantine({ anomaly, chosen, approval, origin, cooldownKey }: Choice, parent: Context | undefined, now: number): Promise<Plan | undefined> {
    const proposal = quarantineProposal(anomaly, this.#policy.verify.deadline_ms);
    if (!proposal) return this.#fallback(anomaly, parent, now);
    if (this.#cooldown.remaining(cooldownKey, Severity.down, now) > 0) {
      this.#deps.logger.info("quarantine skipped: target cooling down", { incident_id: anomaly.incident_id, target: cooldownKey });
      return undefined;
    }
    const emitted = await this.#emitter.emit(origin, proposal, parent, now);
    if (emitted.outcome !== "published") return undefined;
    this.#cooldown.record(cooldownKey, Severity.down, now);
    this.#remember(anomaly.incident_id, { kind: anomaly.kind, alternative: chosen, approval, quarantined: true });
    return emitted.plan;
  }

  async #onResolved(anomaly: Anomaly, known: Incident | undefined, parent: Context | undefined, now: number): Promise<Plan | undefined> {
    this.#incidents.delete(anomaly.incident_id);
    this.#retries.delete(anomaly.incident_id);
    if (anomaly.resolution === "merged" && anomaly.merged_into && ROUTE_KINDS.has(anomaly.kind)) {
      // The fault goes on as another incident (a node down, or a lossy link first taken for a cut): its marks keep the
      // element out of routing until that incident ends, so nothing is restored in between.
      const moved = this.topology.transferMarks(anomaly.incident_id, anomaly.merged_into);
      this.#deps.logger.info("incident merged: marks kept", { incident_id: anomaly.incident_id, merged_into: anomaly.merged_into, links: moved });
      return undefined;
    }
    const cooldownKey = targetKey(anomaly);
    if (this.#deferred.get(cooldownKey)?.request.origin.incidentId === anomaly.incident_id) this.#deferred.delete(cooldownKey);
    if (ROUTE_KINDS.has(anomaly.kind)) {
      const element = elementOf(this.topology, anomaly.target);
      const cleared = this.topology.clear(anomaly.incident_id, now);
      if (!element && cleared.length === 0) return this.#fallback(anomaly, parent, now);
      const held = cleared.filter((id) => this.topology.stateOf(id) === "held");
      this.#metrics.holdDowns.set(this.topology.heldCount());
      const heldNote = held.length > 0 ? `; ${held.join(", ")} held down (flapping) until up for ${this.#policy.flapping.stable_ms} ms` : "";
      const approval = known?.approval ?? alternativesFor(this.#policy, anomaly.kind)[0]?.approval ?? "auto";
      const planned = await this.#plan(
        {
          purpose: "restore",
          mesh: this.#meshOf(element?.links ?? cleared),
          element,
          what: `${anomaly.kind} on ${element?.what ?? cleared.join(", ")} resolved${heldNote}`,
          origin: originOf(anomaly, { rule: `${anomaly.kind}/restore`, approval, ranked: "restore" }),
          cooldownKey,
          severity: Severity.notify,
        },
        parent,
        now,
      );
      if (planned === undefined) this.#deps.logger.info("resolved without route or batman change", { incident_id: anomaly.incident_id, held });
      return typeof planned === "object" ? planned : undefined;
    }
    if (anomaly.kind === "traffic_spike" && known?.quarantined) {
      return this.#emitter.notify(originOf(anomaly, { rule: "traffic_spike/quarantine-kept", approval: "auto" }), quarantineKept(anomaly), parent, now);
    }
    return this.#fallback(anomaly, parent, now);
  }

  async #onResult(result: ActionResult): Promise<void> {
    const now = this.#now();
    const settled = await this.#deps.outcomes.settle(result, now);
    if (settled) this.#metrics.outcomes.inc({ kind: settled.record.kind, alternative: settled.record.alternative, outcome: settled.outcome ?? "none" });
    await this.#routes.settle(result, settled, now);
    await this.#batman.settle(result, settled, now);
    // A quarantine its members voted down never happened: the incident's end releases nothing and keeps nothing.
    if (result.status === "rejected") {
      const known = this.#incidents.get(result.incident_id);
      if (known) known.quarantined = false;
    }
    this.#retryIfUnapplied(result, now);
  }

  /**
   * A repair plan that failed without changing anything (its executors could not prepare it, e.g. while NATS elected a new
   * leader) is planned again while its incident is open, after a growing backoff, up to the policy's attempts.
   */
  #retryIfUnapplied(result: ActionResult, now: number): void {
    if (result.status !== "failed" || result.applied_at !== undefined) return;
    if (result.steps.some((step) => step.status === "applied" || step.status === "verified" || step.status === "rolled_back")) return;
    const incident = this.#incidents.get(result.incident_id);
    const repair = incident?.repair;
    if (!repair || repair.planId !== result.plan_id) return;
    const { attempts, backoff_ms: backoffMs } = this.#policy.retry;
    if (repair.retries >= attempts) {
      this.#deps.logger.warn("repair failed without a change; no attempts left", { incident_id: result.incident_id, plan_id: result.plan_id, attempts });
      return;
    }
    repair.retries += 1;
    const { request } = repair;
    const origin = { ...request.origin, msgID: `${request.origin.msgID}:retry:${repair.retries}` };
    const wait = backoffMs * 2 ** (repair.retries - 1);
    this.#retries.set(result.incident_id, { request: { ...request, origin }, due: now + wait });
    this.#metrics.retries.inc();
    this.#deps.logger.info("repair failed without a change: planning it again", {
      incident_id: result.incident_id,
      plan_id: result.plan_id,
      attempt: repair.retries,
      wait_ms: wait,
    });
  }

  async #onTick(): Promise<Plan[]> {
    const now = this.#now();
    const plans: Plan[] = [];
    const released = this.topology.releaseStable(now);
    if (released.length > 0) {
      const ids = [...(this.#pendingRelease?.ids ?? []), ...released.map((link) => link.id)];
      this.#pendingRelease = { ids, incidentId: released[0]?.incidentId ?? this.#pendingRelease?.incidentId ?? crypto.randomUUID() };
      this.#metrics.holdDowns.set(this.topology.heldCount());
      this.#deps.logger.info("held links stable again", { links: released.map((link) => link.id) });
    }
    if (this.#pendingRelease) {
      const planned = await this.#plan(this.#releaseRequest(this.#pendingRelease, now), undefined, now);
      // Out of budget: try again next tick, so the link does come back.
      if (planned !== "budget") this.#pendingRelease = undefined;
      if (typeof planned === "object") plans.push(planned);
    }
    for (const [key, { request, due }] of this.#deferred) {
      if (due > now) continue;
      this.#deferred.delete(key);
      const planned = await this.#plan(request, undefined, now);
      if (typeof planned === "object") plans.push(planned);
    }
    for (const [incidentId, { request, due }] of this.#retries) {
      if (due > now) continue;
      this.#retries.delete(incidentId);
      const planned = await this.#plan(request, undefined, now);
      if (planned === "budget") this.#retries.set(incidentId, { request, due: now + this.#policy.retry.backoff_ms });
      else if (typeof planned === "object") plans.push(planned);
    }
    await this.#flush(now);
    return plans;
  }

  /** The restore of held links that stayed up for flapping.stable_ms. */
  #releaseRequest({ ids, incidentId }: { ids: string[]; incidentId: string }, now: number): PlanRequest {
    const first = this.topology.link(ids[0] as string);
    return {
      purpose: "restore",
      mesh: this.#meshOf(ids),
      element: ids.length === 1 && first ? linkElement(first, first.id) : undefined,
      what: `${ids.join(", ")} stable for ${this.#policy.flapping.stable_ms} ms: back in routing`,
      origin: {
        msgID: `plan:${incidentId}:release:${now}`,
        incidentId,
        node: first?.a.node ?? this.topology.nodes[0] ?? "planner",
        kind: "link_down",
        rule: "hold-down-release",
        approval: alternativesFor(this.#policy, "link_down")[0]?.approval ?? "auto",
        ranked: "restore",
        ...(first ? { target: { type: "link", id: first.id, nodes: [first.a.node, first.b.node], interfaces: [first.a.interface, first.b.interface] } } : {}),
      },
      cooldownKey: ids[0] as string,
      severity: Severity.notify,
    };
  }

  /** Plans a repair or restore on the element's mesh; "budget" when the action budget refused it. */
  #plan(request: PlanRequest, parent: Context | undefined, now: number): Promise<Plan | "budget" | undefined> {
    return request.mesh === "batman" ? this.#planWith(this.#batman, request, parent, now) : this.#planWith(this.#routes, request, parent, now);
  }

  async #planWith<P extends Proposal>(
    strategy: HealingStrategy<P>,
    request: PlanRequest,
    parent: Context | undefined,
    now: number,
  ): Promise<Plan | "budget" | undefined> {
    const timer = this.#metrics.planning.startTimer();
    const proposal = strategy.plan(request, now);
    timer();
    const emitted = await this.#emitter.emit(request.origin, proposal, parent, now);
    if (emitted.outcome === "budget") return "budget";
    // A resolution or release neither waits for nor starts a cooldown: the next fault of the target is not an escalation of it.
    if (request.purpose === "repair" && emitted.outcome !== "too-large") this.#cooldown.record(request.cooldownKey, request.severity, now);
    if (emitted.outcome === "published") {
      await strategy.persist(proposal, emitted.plan, now);
      const incident = request.purpose === "repair" ? this.#incidents.get(request.origin.incidentId) : undefined;
      if (incident) incident.repair = { request, planId: emitted.plan.plan_id, retries: incident.repair?.retries ?? 0 };
    }
    return emitted.plan;
  }

  /** The fallback rules' plan: when there is no topology or no target to route on. */
  async #fallback(anomaly: Anomaly, parent: Context | undefined, now: number): Promise<Plan | undefined> {
    const msgID = planMsgID(anomaly);
    const plan = decideFallback(this.#policy.fallback, anomaly, { now, planId: planIdFor(msgID) });
    if (!plan) return undefined;
    if (plan.actions.some((action) => action.type !== "notify") && !this.#emitter.spend(anomaly.incident_id, now)) return undefined;
    await this.#emitter.publish(plan, msgID, parent, undefined);
    return plan;
  }

  async #flush(now: number): Promise<void> {
    for (const record of this.topology.takeDue(now, this.#policy.link_cost.write_every_ms)) {
      await this.#deps.topologyStore
        .put(linkKey(record), record)
        .catch((error) => this.#deps.logger.warn("cannot write link state", { link: record.id, error }));
    }
    await this.#analyse(now);
  }

  /** On a change of nodes or usable links: the mesh's fragility, exported, and written to x0_topology until it is. */
  async #analyse(now: number): Promise<void> {
    const graph = this.topology.graph();
    if (graph.nodes.length === 0) return;
    const signature = topologySignature(graph);
    let analysed = this.#analysed;
    if (analysed?.signature !== signature) {
      const record = analysisRecord(graph, now);
      const { singlePoints, edgeConnectivity, components } = this.#metrics;
      singlePoints.set({ kind: "bridge" }, record.bridges.length);
      singlePoints.set({ kind: "articulation_point" }, record.articulation_points.length);
      singlePoints.set({ kind: "cut_off_node" }, record.single_point_of_failure_nodes.length);
      edgeConnectivity.set(record.edge_connectivity);
      components.set(record.components);
      analysed = { signature, record, written: false };
      this.#analysed = analysed;
    }
    if (analysed.written) return;
    try {
      await this.#deps.topologyStore.put(TOPOLOGY_ANALYSIS_KEY, analysed.record);
      analysed.written = true;
    } catch (error) {
      // Tried again at the next flush, without analysing again (a standby cannot write: its metrics are what it has).
      this.#deps.logger.debug("topology analysis not written", { error });
    }
  }

  #remember(incidentId: string, incident: Incident): void {
    this.#incidents.set(incidentId, incident);
    if (this.#incidents.size > INCIDENT_MEMORY) this.#incidents.delete(this.#incidents.keys().next().value as string);
  }

  /** "batman" when every one of the links is a batman link (a mixed node is repaired with static routes), else "static". */
  #meshOf(ids: string[]): Mesh {
    return this.#batman.covers(ids) ? "batman" : "static";
  }
}

/** The cooldown key of an incident: its target's id, or its node and interface for an incident without a target. */
function targetKey(anomaly: Anomaly): string {
  return anomaly.target?.id ?? `interface:${anomaly.node}/${anomaly.interface}`;
}
