// The route planner: incident states and link measurements in, signed plans out (route_replace or batman-adv steps, quarantine, notify).
import { createHash } from "node:crypto";
import type { Context } from "@opentelemetry/api";
import {
  type ActionResult,
  type Anomaly,
  type AnomalyKind,
  type IncidentTarget,
  type Logger,
  linkId,
  type NodeAnnouncement,
  type Plan,
  type PlanAlternative,
  routeTables,
} from "@x0/shared";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { type BatmanLink, batmanLinkOf, meshAddress, meshGraph, meshNodesOf } from "./batman/mesh.ts";
import { BATMAN_RESET_PROTECTION_MS, type BatmanEffect, batmanPlanParts } from "./batman/plan.ts";
import { applySettings, BATMAN_KEY, type BatmanChange, BatmanCurrent, revertSettings, type SettingMap, settingKey, toSettingMap } from "./batman/settings.ts";
import type { JsonStore } from "./kv.ts";
import { type PlanRecord, rank } from "./outcomes/stats.ts";
import type { OutcomeStore, Settled } from "./outcomes/store.ts";
import { ActionBudget, Cooldown, Severity } from "./policy/guards.ts";
import { type Alternative, alternativesFor, alternativesForMesh, batmanHopPenalty, decideFallback, type Policy } from "./policy/policy.ts";
import { buildPlan, describeChanges, pairsCrossing, probeChecks, routeActions, selectVerifyPairs } from "./routing/plan.ts";
import {
  applyChanges,
  diffRoutes,
  installedView,
  ROUTES_KEY,
  type RouteChange,
  type RouteMap,
  RoutesCurrent,
  revertChanges,
  routeKey,
  toRouteMap,
} from "./routing/routes.ts";
import { ProbeIntake } from "./topology/telemetry.ts";
import { LinkRecord, linkKey, TopologyState } from "./topology/topology.ts";

/** Kinds the planner answers by changing routes. */
const ROUTE_KINDS: ReadonlySet<AnomalyKind> = new Set(["link_down", "link_degraded", "node_unreachable"]);
/** How many open incidents the planner remembers (their kind, alternative and whether it quarantined). */
const INCIDENT_MEMORY = 10_000;
/** A plan message holds at most this many steps (the Plan contract's limit). */
const MAX_ACTIONS = 256;

/** What the planner needs from its service. */
export interface PlannerDeps {
  policy: Policy;
  /** x0_topology: link records, routes.current and batman.current. */
  topologyStore: JsonStore;
  outcomes: OutcomeStore;
  /** Signs and publishes a plan durably with this message id. */
  publish(plan: Plan, msgID: string, parent: Context | undefined): Promise<void>;
  logger: Logger;
  registry: Registry;
  /** /status loop counters (`plans`). */
  counters?: Record<string, number>;
  now?: () => number;
}

interface Incident {
  kind: AnomalyKind;
  alternative: string;
  approval: "auto" | "manual";
  quarantined: boolean;
}

/** The element an incident is about, as the graph knows it. */
interface Element {
  links: string[];
  cross: { link: [string, string] } | { node: string };
  ends?: [string, string];
  what: string;
}

/** How an element's faults are repaired: static routes around it, or batman-adv hard-interface changes. */
type Mesh = "batman" | "static";

interface RouteRequest {
  purpose: "repair" | "restore";
  mesh: Mesh;
  /** Batman repairs: detach the element's hard interfaces or raise their hop penalty. */
  effect?: BatmanEffect;
  incidentId: string;
  node: string;
  kind: AnomalyKind;
  rule: string;
  alternative: string;
  approval: "auto" | "manual";
  cooldownKey: string;
  severity: Severity;
  element: Element | undefined;
  what: string;
  msgID: string;
  target?: IncidentTarget;
  anomaly?: Anomaly;
  alternatives?: PlanAlternative[];
}

/** A plan id derived from the plan's message id (UUIDv8), so a re-planned redelivery carries the id JetStream already stored. */
export function planIdFor(msgID: string): string {
  const hex = createHash("sha256").update(msgID).digest("hex");
  const variant = ((Number.parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The route planner: keeps the graph, link costs and installed routes, and turns incident states into plans. */
export class Planner {
  readonly topology: TopologyState;
  readonly intake: ProbeIntake;
  readonly #deps: PlannerDeps;
  readonly #policy: Policy;
  readonly #now: () => number;
  readonly #cooldown: Cooldown;
  readonly #budget: ActionBudget;
  readonly #incidents = new Map<string, Incident>();
  readonly #deferred = new Map<string, { request: RouteRequest; due: number }>();
  #recorded: RouteMap = new Map();
  /** Route changes of published plans without a result yet, by plan id. */
  readonly #inFlight = new Map<string, RouteChange[]>();
  /** The plan that last stated each route (in memory): a rolled-back plan reverts only the routes it still owns. */
  readonly #owner = new Map<string, string>();
  /** The batman-adv hard interfaces the planner believes it changed (batman.current). */
  #batman: SettingMap = new Map();
  /**
   * Every hard interface an announcement ever listed (settingKey). A monitor announces the attached ones as of its last
   * batctl read, so an interface a rollback or an operator just re-attached, or someone detached, can be missing from
   * it for a while: its link is still a batman link, never one to repair with static routes.
   */
  readonly #hardInterfaces = new Set<string>();
  /** The plan that last stated each hard interface's setting (in memory), as #owner for routes. */
  readonly #batmanOwner = new Map<string, string>();
  /**
   * When each hard interface last returned to its mesh (by setting key; saved with batman.current): one that returned
   * within BATMAN_RESET_PROTECTION_MS is not detached again.
   */
  readonly #returnedAt = new Map<string, number>();
  #pendingRelease: { ids: string[]; incidentId: string } | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #metrics: ReturnType<typeof createMetrics>;

  constructor(deps: PlannerDeps) {
    this.#deps = deps;
    this.#policy = deps.policy;
    this.#now = deps.now ?? Date.now;
    const { link_cost: cost, flapping } = deps.policy;
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
    this.#cooldown = new Cooldown(deps.policy.cooldown_ms);
    this.#budget = new ActionBudget(deps.policy.budget.plans_per_minute);
    this.#metrics = createMetrics(deps.registry);
  }

  /** Resumes from x0_topology: link marks, flap history and holds, the installed routes and the batman changes. */
  async restore(): Promise<void> {
    const store = this.#deps.topologyStore;
    for (const key of await store.keys("link.>")) {
      const parsed = LinkRecord.safeParse((await store.get(key))?.value);
      if (parsed.success) this.topology.restore(parsed.data);
      else this.#deps.logger.warn("ignoring invalid link record", { key, error: parsed.error.message });
    }
    const routes = RoutesCurrent.safeParse((await store.get(ROUTES_KEY))?.value);
    if (routes.success) this.#recorded = toRouteMap(routes.data.routes);
    const batman = (await store.get(BATMAN_KEY))?.value;
    if (batman !== undefined) {
      const parsed = BatmanCurrent.safeParse(batman);
      if (parsed.success) {
        this.#batman = toSettingMap(parsed.data.settings);
        for (const { key, at } of parsed.data.returned) this.#returnedAt.set(key, at);
      } else this.#deps.logger.warn("ignoring invalid batman.current", { error: parsed.error.message });
    }
    this.#metrics.holdDowns.set(this.topology.heldCount());
  }

  /** A node's announcement arrived or changed. */
  announce(announcement: NodeAnnouncement): void {
    this.topology.announce(announcement);
    for (const iface of announcement.batman?.hard_interfaces ?? []) this.#hardInterfaces.add(settingKey(announcement.node, iface));
  }

  /** A node's announcement was deleted. */
  forget(node: string): void {
    this.topology.forget(node);
    for (const key of this.#hardInterfaces) if (key.startsWith(settingKey(node, ""))) this.#hardInterfaces.delete(key);
  }

  /** Raw telemetry from `node` (its subject token): probe loss and RTT update link costs. */
  observeTelemetry(node: string, data: Uint8Array): void {
    const sample = this.intake.read(node, data, this.#now());
    if (sample) this.topology.observeProbes(sample.node, sample.probes);
  }

  /** What the planner believes each node has installed. */
  installed(): RouteMap {
    return installedView(this.#recorded, routeTables(this.topology.hopCountGraph()));
  }

  /** The batman-adv hard interfaces the planner believes it changed (detached, or with a raised hop penalty). */
  batmanSettings(): SettingMap {
    return new Map(this.#batman);
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

  /** Counts a plan's result in its alternative's stats and confirms or reverts the routes it changed. */
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
    const element = ROUTE_KINDS.has(anomaly.kind) ? this.#element(anomaly.target) : undefined;
    const mesh = element ? this.#meshOf(element.links) : "static";
    // Only the alternatives that act on the element's mesh compete: batman-adv routes by itself, static routes do nothing there.
    const specs = ROUTE_KINDS.has(anomaly.kind) ? alternativesForMesh(allowed, mesh) : allowed;
    if (specs.length === 0) {
      if (!element) return this.#fallback(anomaly, parent, now);
      return this.#notify(
        anomaly,
        {
          rule: `${anomaly.kind}/no-alternative`,
          approval: "auto",
          message: `${anomaly.kind} on ${element.what}: the policy allows no alternative for a ${mesh === "batman" ? "batman-adv" : "static-route"} mesh; nothing changes`,
        },
        parent,
        now,
      );
    }
    const alternatives = rank(specs, (name) => this.#deps.outcomes.statsOf(anomaly.kind, name));
    const chosen = (alternatives[0] as PlanAlternative).name as Alternative;
    const approval = specs.find((spec) => spec.name === chosen)?.approval ?? "auto";
    const rule = `${anomaly.kind}/${chosen}`;
    const cooldownKey = targetKey(anomaly);
    if (ROUTE_KINDS.has(anomaly.kind) && chosen !== "notify") {
      if (!element) return this.#fallback(anomaly, parent, now);
      // A kind change replaces the incident's earlier effect on the graph.
      if (replan) this.topology.clear(anomaly.incident_id, now);
      if (anomaly.kind !== "link_degraded") {
        const { held } = this.topology.markDown(anomaly.incident_id, element.links, now);
        if (held.length > 0) {
          this.#deps.logger.warn("links held down: flapping", { links: held, downs: this.#policy.flapping.downs, window_ms: this.#policy.flapping.window_ms });
        }
      } else if (chosen === "reroute-around" || chosen === "batman-deactivate") this.topology.markAvoid(anomaly.incident_id, element.links);
      else this.topology.markDegraded(anomaly.incident_id, element.links, this.#policy.link_cost.degraded_factor);
      this.#metrics.holdDowns.set(this.topology.heldCount());
      this.#remember(anomaly.incident_id, { kind: anomaly.kind, alternative: chosen, approval, quarantined: false });
      const request: RouteRequest = {
        purpose: "repair",
        mesh,
        effect: chosen === "batman-hop-penalty" ? "penalty" : "detach",
        incidentId: anomaly.incident_id,
        node: anomaly.node,
        kind: anomaly.kind,
        rule,
        alternative: chosen,
        approval,
        cooldownKey,
        severity: anomaly.kind === "link_degraded" ? Severity.degraded : Severity.down,
        element,
        what: `${anomaly.kind} on ${element.what}: ${chosen}`,
        msgID: `plan:${anomaly.incident_id}:${anomaly.update}`,
        target: anomaly.target,
        anomaly,
        alternatives,
      };
      const wait = this.#cooldown.remaining(cooldownKey, request.severity, now);
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
    if (anomaly.kind === "traffic_spike" && chosen === "quarantine") {
      const target = anomaly.target;
      const iface = target?.interfaces?.[0];
      if (target?.type !== "neighbour" || !target.neighbour || !iface) return this.#fallback(anomaly, parent, now);
      if (this.#cooldown.remaining(cooldownKey, Severity.down, now) > 0) {
        this.#deps.logger.info("quarantine skipped: target cooling down", { incident_id: anomaly.incident_id, target: cooldownKey });
        return undefined;
      }
      if (!this.#spend(anomaly.incident_id, now)) return undefined;
      const node = target.nodes[0] ?? anomaly.node;
      const { mac, ipv4 } = target.neighbour;
      const plan = buildPlan({
        planId: planIdFor(`plan:${anomaly.incident_id}:${anomaly.update}`),
        incidentId: anomaly.incident_id,
        node: anomaly.node,
        kind: anomaly.kind,
        rule,
        approval,
        actions: [
          {
            type: "quarantine_neighbour",
            params: { node, interface: iface, mac, ...(ipv4 ? { ipv4 } : {}) },
            reason: `${anomaly.metric} spike from ${mac}${ipv4 ? ` (${ipv4})` : ""} on ${node}/${iface}: drop its frames in XDP`,
          },
        ],
        summary: `quarantine neighbour ${mac}${ipv4 ? `/${ipv4}` : ""} on ${node}/${iface}; release is manual (release_neighbour)`,
        verify: [{ type: "steps", description: "the neighbour's deny entry is in the interface's XDP deny map" }],
        deadlineMs: this.#policy.verify.deadline_ms,
        now,
        target,
        anomaly,
        alternatives,
      });
      await this.#publish(plan, `plan:${anomaly.incident_id}:${anomaly.update}`, parent, { alternative: chosen, changes: [] });
      this.#cooldown.record(cooldownKey, Severity.down, now);
      this.#remember(anomaly.incident_id, { kind: anomaly.kind, alternative: chosen, approval, quarantined: true });
      return plan;
    }
    this.#remember(anomaly.incident_id, { kind: anomaly.kind, alternative: chosen, approval, quarantined: false });
    return this.#notify(
      anomaly,
      { rule, approval, message: `${anomaly.kind} on ${anomaly.node}/${anomaly.interface} (${anomaly.metric})`, alternatives, ranked: chosen },
      parent,
      now,
    );
  }

  async #onResolved(anomaly: Anomaly, known: Incident | undefined, parent: Context | undefined, now: number): Promise<Plan | undefined> {
    this.#incidents.delete(anomaly.incident_id);
    if (anomaly.resolution === "merged" && anomaly.merged_into && ROUTE_KINDS.has(anomaly.kind)) {
      // The fault goes on as another incident (a node down, or a lossy link first taken for a cut): its marks keep the
      // element out of routing until that incident ends, so nothing is restored in between.
      const moved = this.topology.transferMarks(anomaly.incident_id, anomaly.merged_into);
      this.#deps.logger.info("incident merged: marks kept", { incident_id: anomaly.incident_id, merged_into: anomaly.merged_into, links: moved });
      return undefined;
    }
    const cooldownKey = targetKey(anomaly);
    if (this.#deferred.get(cooldownKey)?.request.incidentId === anomaly.incident_id) this.#deferred.delete(cooldownKey);
    if (ROUTE_KINDS.has(anomaly.kind)) {
      const element = this.#element(anomaly.target);
      const cleared = this.topology.clear(anomaly.incident_id, now);
      if (!element && cleared.length === 0) return this.#fallback(anomaly, parent, now);
      const held = cleared.filter((id) => this.topology.stateOf(id) === "held");
      this.#metrics.holdDowns.set(this.topology.heldCount());
      const what = `${anomaly.kind} on ${element?.what ?? cleared.join(", ")} resolved${
        held.length > 0 ? `; ${held.join(", ")} held down (flapping) until up for ${this.#policy.flapping.stable_ms} ms` : ""
      }`;
      const planned = await this.#plan(
        {
          purpose: "restore",
          mesh: this.#meshOf(element?.links ?? cleared),
          incidentId: anomaly.incident_id,
          node: anomaly.node,
          kind: anomaly.kind,
          rule: `${anomaly.kind}/restore`,
          alternative: "restore",
          approval: known?.approval ?? alternativesFor(this.#policy, anomaly.kind)[0]?.approval ?? "auto",
          cooldownKey,
          severity: Severity.notify,
          element,
          what,
          msgID: `plan:${anomaly.incident_id}:${anomaly.update}`,
          target: anomaly.target,
          anomaly,
        },
        parent,
        now,
      );
      if (planned === undefined) this.#deps.logger.info("resolved without route or batman change", { incident_id: anomaly.incident_id, held });
      return typeof planned === "object" ? planned : undefined;
    }
    if (anomaly.kind === "traffic_spike" && known?.quarantined) {
      const neighbour = anomaly.target?.neighbour;
      return this.#notify(
        anomaly,
        {
          rule: "traffic_spike/quarantine-kept",
          approval: "auto",
          message: `traffic spike of ${neighbour?.mac ?? anomaly.interface} on ${anomaly.node} ended; the neighbour stays quarantined until an operator releases it (release_neighbour)`,
        },
        parent,
        now,
      );
    }
    return this.#fallback(anomaly, parent, now);
  }

  async #onResult(result: ActionResult): Promise<void> {
    const now = this.#now();
    this.#inFlight.delete(result.plan_id);
    const settled = await this.#deps.outcomes.settle(result, now);
    if (!settled) return;
    const { record, outcome } = settled;
    this.#metrics.outcomes.inc({ kind: record.kind, alternative: record.alternative, outcome: outcome ?? "none" });
    if (record.batman && record.batman.length > 0) await this.#settleBatman(record, outcome, result.status, now);
    if (record.changes.length === 0) return;
    const changes = record.changes.map((change) => ({ next: change.next, previous: change.previous ?? undefined }));
    // Auto plans were counted as installed when published; manual ones only once they ran.
    if (outcome === "success" && record.approval === "manual") {
      const next = this.installed();
      applyChanges(next, changes);
      await this.#saveRoutes(next, record.plan_id, now);
    } else if (outcome !== "success" && record.approval === "auto") {
      // Rolled back, failed, dry run or skipped: the old routes are what the nodes have.
      const next = this.installed();
      // Only routes this plan still owns: a later plan that stated a route again (superseding this one) keeps it.
      revertChanges(
        next,
        changes.filter((change) => (this.#owner.get(routeKey(change.next.node, change.next.destination)) ?? record.plan_id) === record.plan_id),
      );
      await this.#saveRoutes(next, record.plan_id, now);
      this.#deps.logger.info("routes reverted", { plan_id: record.plan_id, status: result.status, routes: changes.length });
    }
  }

  /** Confirms (manual plans that ran) or reverts (auto plans that did not hold) a batman plan's interface changes. */
  async #settleBatman(record: PlanRecord, outcome: Settled["outcome"], status: ActionResult["status"], now: number): Promise<void> {
    const changes: BatmanChange[] = (record.batman ?? []).map((change) => ({ next: change.next, previous: change.previous ?? undefined }));
    const next = new Map(this.#batman);
    if (outcome === "success" && record.approval === "manual") {
      applySettings(next, changes);
      for (const change of changes)
        if (change.next.active && change.previous?.active === false) this.#returnedAt.set(settingKey(change.next.node, change.next.interface), now);
    } else if (outcome !== "success" && record.approval === "auto") {
      // Only interfaces this plan still owns: a later plan that changed one again keeps its setting.
      const reverted = changes.filter(
        (change) => (this.#batmanOwner.get(settingKey(change.next.node, change.next.interface)) ?? record.plan_id) === record.plan_id,
      );
      revertSettings(next, reverted);
      // A rolled-back detach returned its interface to the mesh as well.
      for (const change of reverted)
        if (!change.next.active && (change.previous?.active ?? true)) this.#returnedAt.set(settingKey(change.next.node, change.next.interface), now);
      this.#deps.logger.info("batman changes reverted", { plan_id: record.plan_id, status, interfaces: changes.length });
    } else return;
    await this.#saveBatman(next, record.plan_id, now);
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
      const { ids, incidentId } = this.#pendingRelease;
      const first = this.topology.link(ids[0] as string);
      const planned = await this.#plan(
        {
          purpose: "restore",
          mesh: this.#meshOf(ids),
          incidentId,
          node: first?.a.node ?? this.topology.nodes[0] ?? "planner",
          kind: "link_down",
          rule: "hold-down-release",
          alternative: "restore",
          approval: alternativesFor(this.#policy, "link_down")[0]?.approval ?? "auto",
          cooldownKey: ids[0] as string,
          severity: Severity.notify,
          element:
            ids.length === 1 && first
              ? { links: ids, cross: { link: [first.a.node, first.b.node] }, ends: [first.a.node, first.b.node], what: ids[0] as string }
              : undefined,
          what: `${ids.join(", ")} stable for ${this.#policy.flapping.stable_ms} ms: back in routing`,
          msgID: `plan:${incidentId}:release:${now}`,
          ...(first ? { target: { type: "link", id: first.id, nodes: [first.a.node, first.b.node], interfaces: [first.a.interface, first.b.interface] } } : {}),
        },
        undefined,
        now,
      );
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
    await this.#flush(now);
    return plans;
  }

  /** Plans a repair or restore on the element's mesh: batman-adv interface changes or static routes. */
  #plan(request: RouteRequest, parent: Context | undefined, now: number): Promise<Plan | "budget" | undefined> {
    return request.mesh === "batman" ? this.#batmanPlan(request, parent, now) : this.#routePlan(request, parent, now);
  }

  /**
   * Plans batman-adv changes: a repair detaches the element's hard interfaces (or raises their hop penalty), a restore
   * returns every changed interface whose link is up again; "budget" when the action budget refused it.
   */
  async #batmanPlan(request: RouteRequest, parent: Context | undefined, now: number): Promise<Plan | "budget" | undefined> {
    const timer = this.#metrics.planning.startTimer();
    const links = this.#batmanLinks();
    const addressOf = (node: string) => meshAddress(this.topology.announcement(node));
    const after = meshGraph(this.topology.graph(), links, addressOf);
    const { changes, actions, kept, resting, pairs, summary } = batmanPlanParts({
      purpose: request.purpose,
      effect: request.effect ?? "detach",
      element: request.element,
      links,
      // What batman-adv used before the fault: every batman link up, at equal cost (the lab's links are alike).
      before: meshGraph(this.topology.hopCountGraph(), links, addressOf),
      after,
      current: this.#batman,
      isUp: (id) => this.topology.link(id) !== undefined && this.topology.stateOf(id) === "up",
      originatorOf: (node) => this.topology.announcement(node)?.batman?.originator,
      // A held (flapping) link returns only at its release, stable_ms later: detaching it makes no quick second return.
      resting: (key, link) =>
        this.topology.stateOf(link) !== "held" && now - (this.#returnedAt.get(key) ?? Number.NEGATIVE_INFINITY) < BATMAN_RESET_PROTECTION_MS,
      meshNodes: meshNodesOf(links.values()),
      params: {
        hopPenalty: batmanHopPenalty(this.#policy),
        normalHopPenalty: this.#policy.batman.normal_hop_penalty,
        verifyWithinMs: this.#policy.batman.verify_within_ms,
        repairOrigIntervalMs: this.#policy.batman.repair_orig_interval_ms,
        origIntervalMs: this.#policy.batman.orig_interval_ms,
        repairMeshHopPenalty: this.#policy.batman.repair_mesh_hop_penalty,
        meshHopPenalty: this.#policy.batman.mesh_hop_penalty,
        repairOgmAggregation: this.#policy.batman.repair_ogm_aggregation,
        ogmAggregation: this.#policy.batman.ogm_aggregation,
      },
      maxChecks: this.#policy.verify.max_checks,
      maxActions: MAX_ACTIONS,
      what: request.what,
    });
    timer();
    if (changes.length === 0) {
      if (request.purpose === "restore") return undefined;
      this.#cooldown.record(request.cooldownKey, request.severity, now);
      return this.#notify(
        request.anomaly,
        {
          rule: request.rule,
          approval: request.approval,
          message: kept.length > 0 || resting.length > 0 ? summary : `${summary}: no batman change needed`,
          alternatives: request.alternatives,
          request,
        },
        parent,
        now,
      );
    }
    if (actions.length > MAX_ACTIONS) {
      this.#deps.logger.error("batman plan too large for one plan message", { incident_id: request.incidentId, steps: actions.length, max: MAX_ACTIONS });
      return this.#notify(
        request.anomaly,
        {
          rule: request.rule,
          approval: "manual",
          message: `${summary}: more than ${MAX_ACTIONS} steps, too many for one plan; the mesh is left alone`,
          request,
        },
        parent,
        now,
      );
    }
    if (!this.#spend(request.incidentId, now)) return "budget";
    const plan = buildPlan({
      planId: planIdFor(request.msgID),
      incidentId: request.incidentId,
      node: request.node,
      kind: request.kind,
      rule: request.rule,
      approval: request.approval,
      actions,
      summary,
      // Probes cross the mesh: to each destination's address on its mesh interface (bat0).
      verify: probeChecks(pairs, after.serviceAddress, (node) => this.topology.announcement(node)?.probe_port),
      // The link's ends re-route at once, but the other nodes learn the detour from OGMs (a few OGM intervals): the probes
      // across the mesh get converge_within_ms. Rolling back a detach only because they were early would put the dead
      // link back into the mesh (bench:batman in the VM: probes still failed 2.6–3.3 s after the detach, and rolling back
      // made those cuts slower than batman-adv alone).
      deadlineMs: Math.max(this.#policy.verify.deadline_ms, this.#policy.batman.verify_within_ms, this.#policy.batman.converge_within_ms),
      now,
      target: request.target,
      anomaly: request.anomaly,
      alternatives: request.alternatives,
    });
    await this.#publish(plan, request.msgID, parent, { alternative: request.alternative, changes: [], batman: changes });
    if (request.purpose === "repair") this.#cooldown.record(request.cooldownKey, request.severity, now);
    if (request.approval === "auto") {
      const next = new Map(this.#batman);
      applySettings(next, changes);
      for (const change of changes) {
        this.#batmanOwner.set(settingKey(change.next.node, change.next.interface), plan.plan_id);
        if (change.next.active && change.previous?.active === false) this.#returnedAt.set(settingKey(change.next.node, change.next.interface), now);
      }
      await this.#saveBatman(next, plan.plan_id, now);
    }
    return plan;
  }

  /** Plans the routes the graph wants now against the installed ones; "budget" when the action budget refused it. */
  async #routePlan(request: RouteRequest, parent: Context | undefined, now: number): Promise<Plan | "budget" | undefined> {
    const timer = this.#metrics.planning.startTimer();
    const graph = this.topology.graph();
    const wanted = toRouteMap(routeTables(graph));
    const installed = this.installed();
    const diff = diffRoutes(installed, wanted);
    // Routes of plans still running may yet be rolled back: what the nodes will have is not known, so a new plan states
    // them again as wanted (route replace is idempotent); a rolled-back earlier plan then cannot leave this one incomplete.
    const stated = new Set(diff.changes.map((change) => routeKey(change.next.node, change.next.destination)));
    const supersedes = diff.changes.length > 0 ? [...this.#inFlight.keys()] : [];
    for (const changes of diff.changes.length > 0 ? this.#inFlight.values() : []) {
      for (const change of changes) {
        const key = routeKey(change.next.node, change.next.destination);
        const next = wanted.get(key);
        if (!next || stated.has(key)) continue;
        stated.add(key);
        diff.changes.push({ next, previous: installed.get(key) });
      }
    }
    let pairs: { from: string; to: string }[] = [];
    if (request.element) {
      // A repair checks the paths that crossed the failed element; a restore, those that cross the restored one.
      const affected = pairsCrossing(request.purpose === "repair" ? installed : wanted, graph.nodes, request.element.cross);
      pairs = selectVerifyPairs(affected, (from, to) => wanted.has(routeKey(from, to)), this.#policy.verify.max_checks, request.element.ends);
    }
    timer();
    const summary = describeChanges(request.what, diff.changes, diff.unreachable);
    if (diff.changes.length === 0) {
      if (request.purpose === "restore") return undefined;
      this.#cooldown.record(request.cooldownKey, request.severity, now);
      return this.#notify(
        request.anomaly,
        { rule: request.rule, approval: request.approval, message: `${summary}: no route change needed`, alternatives: request.alternatives, request },
        parent,
        now,
      );
    }
    if (diff.changes.length > MAX_ACTIONS) {
      this.#deps.logger.error("route plan too large for one plan message", { incident_id: request.incidentId, routes: diff.changes.length, max: MAX_ACTIONS });
      return this.#notify(
        request.anomaly,
        {
          rule: request.rule,
          approval: "manual",
          message: `${summary}: more than ${MAX_ACTIONS} route changes, too many for one plan; routes left alone`,
          request,
        },
        parent,
        now,
      );
    }
    if (!this.#spend(request.incidentId, now)) return "budget";
    const plan = buildPlan({
      planId: planIdFor(request.msgID),
      incidentId: request.incidentId,
      node: request.node,
      kind: request.kind,
      rule: request.rule,
      approval: request.approval,
      actions: routeActions(diff.changes, request.what),
      summary,
      verify: probeChecks(pairs, graph.serviceAddress, (node) => this.topology.announcement(node)?.probe_port),
      deadlineMs: this.#policy.verify.deadline_ms,
      now,
      target: request.target,
      anomaly: request.anomaly,
      alternatives: request.alternatives,
      supersedes,
    });
    await this.#publish(plan, request.msgID, parent, { alternative: request.alternative, changes: diff.changes });
    this.#inFlight.set(plan.plan_id, diff.changes);
    this.#metrics.routeChanges.inc(diff.changes.length);
    // A resolution or release neither waits for nor starts a cooldown: the next fault of the target is not an escalation of it.
    if (request.purpose === "repair") this.#cooldown.record(request.cooldownKey, request.severity, now);
    if (request.approval === "auto") {
      const next = new Map(installed);
      applyChanges(next, diff.changes);
      for (const change of diff.changes) this.#owner.set(routeKey(change.next.node, change.next.destination), plan.plan_id);
      await this.#saveRoutes(next, plan.plan_id, now);
    }
    return plan;
  }

  async #notify(
    anomaly: Anomaly | undefined,
    {
      rule,
      approval,
      message,
      alternatives,
      request,
      ranked,
    }: { rule: string; approval: "auto" | "manual"; message: string; alternatives?: PlanAlternative[]; request?: RouteRequest; ranked?: string },
    parent: Context | undefined,
    now: number,
  ): Promise<Plan> {
    const incidentId = anomaly?.incident_id ?? (request?.incidentId as string);
    const msgID = request?.msgID ?? `plan:${incidentId}:${anomaly?.update ?? 0}`;
    const plan = buildPlan({
      planId: planIdFor(msgID),
      incidentId,
      node: anomaly?.node ?? (request?.node as string),
      kind: anomaly?.kind ?? (request?.kind as AnomalyKind),
      rule,
      approval,
      actions: [
        { type: "notify", params: { incident_id: incidentId, message: message.slice(0, 512) }, reason: "tell operators; nothing in the network changes" },
      ],
      summary: message,
      verify: [],
      deadlineMs: this.#policy.verify.deadline_ms,
      now,
      target: anomaly?.target ?? request?.target,
      anomaly,
      alternatives,
    });
    // Only a chosen notify alternative is ranked by its outcome; a notify standing in for another alternative is not.
    await this.#publish(plan, msgID, parent, ranked ? { alternative: ranked, changes: [] } : undefined);
    return plan;
  }

  /** The fallback rules' plan: when there is no topology or no target to route on. */
  async #fallback(anomaly: Anomaly, parent: Context | undefined, now: number): Promise<Plan | undefined> {
    const msgID = `plan:${anomaly.incident_id}:${anomaly.update}`;
    const plan = decideFallback(this.#policy.fallback, anomaly, { now, planId: planIdFor(msgID) });
    if (!plan) return undefined;
    if (plan.actions.some((action) => action.type !== "notify") && !this.#spend(anomaly.incident_id, now)) return undefined;
    await this.#publish(plan, msgID, parent, undefined);
    return plan;
  }

  #spend(incidentId: string, now: number): boolean {
    if (this.#budget.tryTake(now)) return true;
    this.#metrics.budgetExhausted.inc();
    this.#deps.logger.warn("action budget exhausted: no plan", { incident_id: incidentId, plans_per_minute: this.#policy.budget.plans_per_minute });
    return false;
  }

  async #publish(
    plan: Plan,
    msgID: string,
    parent: Context | undefined,
    ranked: { alternative: string; changes: RouteChange[]; batman?: BatmanChange[] } | undefined,
  ): Promise<void> {
    await this.#deps.publish(plan, msgID, parent);
    this.#metrics.plans.inc({ rule: plan.rule, kind: plan.kind, approval: plan.approval });
    if (this.#deps.counters) this.#deps.counters.plans = (this.#deps.counters.plans ?? 0) + 1;
    this.#deps.logger.info("plan", {
      plan_id: plan.plan_id,
      incident_id: plan.incident_id,
      rule: plan.rule,
      approval: plan.approval,
      actions: plan.actions.length,
    });
    if (!ranked) return;
    await this.#deps.outcomes
      .remember({
        v: 1,
        plan_id: plan.plan_id,
        incident_id: plan.incident_id,
        kind: plan.kind,
        alternative: ranked.alternative,
        approval: plan.approval,
        created_at: plan.created_at,
        changes: ranked.changes.map(({ next, previous }) => ({ next, previous: previous ?? null })),
        ...(ranked.batman && ranked.batman.length > 0 ? { batman: ranked.batman.map(({ next, previous }) => ({ next, previous: previous ?? null })) } : {}),
      })
      .catch((error) => this.#deps.logger.warn("cannot record plan for its outcome", { plan_id: plan.plan_id, error }));
  }

  async #saveRoutes(routes: RouteMap, planId: string, now: number): Promise<void> {
    this.#recorded = routes;
    const record: RoutesCurrent = { v: 1, routes: [...routes.values()], updated_at: now, plan_id: planId };
    await this.#deps.topologyStore.put(ROUTES_KEY, record).catch((error) => this.#deps.logger.warn("cannot write routes.current", { error }));
  }

  async #saveBatman(settings: SettingMap, planId: string, now: number): Promise<void> {
    this.#batman = settings;
    // Returns older than the protection no longer matter: the record keeps only the recent ones.
    for (const [key, at] of this.#returnedAt) if (now - at >= BATMAN_RESET_PROTECTION_MS) this.#returnedAt.delete(key);
    const returned = [...this.#returnedAt].map(([key, at]) => ({ key, at }));
    const record: BatmanCurrent = { v: 1, settings: [...settings.values()], updated_at: now, plan_id: planId, returned };
    await this.#deps.topologyStore.put(BATMAN_KEY, record).catch((error) => this.#deps.logger.warn("cannot write batman.current", { error }));
  }

  async #flush(now: number): Promise<void> {
    for (const record of this.topology.takeDue(now, this.#policy.link_cost.write_every_ms)) {
      await this.#deps.topologyStore
        .put(linkKey(record), record)
        .catch((error) => this.#deps.logger.warn("cannot write link state", { link: record.id, error }));
    }
  }

  #remember(incidentId: string, incident: Incident): void {
    this.#incidents.set(incidentId, incident);
    if (this.#incidents.size > INCIDENT_MEMORY) this.#incidents.delete(this.#incidents.keys().next().value as string);
  }

  /** Every announced batman link by id; an interface the planner detached still counts as its node's hard interface. */
  #batmanLinks(): Map<string, BatmanLink> {
    const detached = (node: string, iface: string) =>
      this.#batman.get(settingKey(node, iface))?.active === false || this.#hardInterfaces.has(settingKey(node, iface));
    const links = new Map<string, BatmanLink>();
    for (const link of this.topology.hopCountGraph().links) {
      const batman = batmanLinkOf(link, (node) => this.topology.announcement(node), detached);
      if (batman) links.set(link.id, batman);
    }
    return links;
  }

  /** "batman" when every one of the links is a batman link (a mixed node is repaired with static routes), else "static". */
  #meshOf(ids: string[]): Mesh {
    if (ids.length === 0) return "static";
    const links = this.#batmanLinks();
    return ids.every((id) => links.has(id)) ? "batman" : "static";
  }

  /** The links an incident target names in the graph, or undefined when the graph cannot route around it. */
  #element(target: IncidentTarget | undefined): Element | undefined {
    if (!target || !this.topology.hasLinks()) return undefined;
    const [first, second] = target.nodes;
    if (target.type === "link" && first && second) {
      const link = this.topology.link(linkId(first, second));
      if (!link) return undefined;
      return { links: [link.id], cross: { link: [link.a.node, link.b.node] }, ends: [link.a.node, link.b.node], what: `link ${link.a.node}|${link.b.node}` };
    }
    if (target.type === "node" && first) {
      const links = this.topology.linksOf(first);
      return links.length > 0 ? { links, cross: { node: first }, what: `node ${first}` } : undefined;
    }
    if (target.type === "interface" && first && target.interfaces?.[0]) {
      // An interface fault is a fault of the link that interface ends.
      const iface = target.interfaces[0];
      for (const id of this.topology.linksOf(first)) {
        const link = this.topology.link(id);
        if (!link) continue;
        const near = link.a.node === first ? link.a : link.b;
        if (near.interface === iface)
          return { links: [id], cross: { link: [link.a.node, link.b.node] }, ends: [link.a.node, link.b.node], what: `link ${link.a.node}|${link.b.node}` };
      }
    }
    return undefined;
  }
}

/** The cooldown key of an incident: its target's id, or its node and interface for older analyzers. */
function targetKey(anomaly: Anomaly): string {
  return anomaly.target?.id ?? `interface:${anomaly.node}/${anomaly.interface}`;
}

function createMetrics(registry: Registry) {
  return {
    plans: new Counter({
      name: "x0_plans_total",
      help: "Plans published, by rule, kind and approval.",
      labelNames: ["rule", "kind", "approval"],
      registers: [registry],
    }),
    routeChanges: new Counter({ name: "x0_planner_route_changes_total", help: "Route replacements planned (route_replace steps).", registers: [registry] }),
    holdDowns: new Gauge({ name: "x0_planner_hold_downs", help: "Links held out of routing for flapping.", registers: [registry] }),
    budgetExhausted: new Counter({
      name: "x0_planner_budget_exhausted_total",
      help: "Plans not made because the action budget per minute was spent.",
      registers: [registry],
    }),
    deferred: new Counter({ name: "x0_planner_cooldown_deferred_total", help: "Plans held back until their target's cooldown ended.", registers: [registry] }),
    planning: new Histogram({
      name: "x0_planner_planning_duration_seconds",
      help: "Time to plan routes: graph, route tables, diff and verify checks.",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers: [registry],
    }),
    outcomes: new Counter({
      name: "x0_planner_outcomes_total",
      help: "Plan results counted in the outcome stats, by kind, alternative and outcome (none: nothing was tried).",
      labelNames: ["kind", "alternative", "outcome"],
      registers: [registry],
    }),
  };
}
