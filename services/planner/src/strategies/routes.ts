// Healing with static routes: route_replace steps from the graph's route tables against the routes believed installed.
import { type ActionResult, type Logger, type Plan, type PlanFragility, ROUTES_KEY, RoutesCurrent, routeTables } from "@x0/shared";

import { MAX_ACTIONS, type Proposal } from "../emit/emit.ts";

import type { JsonStore } from "../kv.ts";

import type { PlannerMetrics } from "../metrics.ts";

import type { Settled } from "../outcomes/store.ts";

import type { Policy } from "../policy/policy.ts";

import { describeChanges, pairsCrossing, probeChecks, routeActions, selectVerifyPairs } from "../routing/plan.ts";

import {
  applyChanges,
  diffRoutes,
  forwardingPath,
  installedView,
  type RouteChange,
  type RouteMap,
  revertChanges,
  routeKey,
  toRouteMap,
} from "../routing/routes.ts";
import { planFragility } from "../topology/fragility.ts";
import type { TopologyState } from "../topology/topology.ts";

import type { HealingRequest, HealingStrategy } from "./strategy.ts";

/** A route proposal, with the installed routes it was computed against. */
export interface RouteProposal extends Proposal {
  installed: RouteMap;
}

/** What the route strategy needs from the planner. */
export interface RouteStrategyDeps {
  topology: TopologyState;
  /** x0_topology: routes.current. */
  store: JsonStore;
  logger: Logger;
  verify: Policy["verify"];
  metrics: Pick<PlannerMetrics, "routeChanges">;
}

/** Static routes: owns routes.current, the route changes of plans still running, and which plan last stated each route. */
export class RouteStrategy implements HealingStrategy<RouteProposal> {
  readonly #deps: RouteStrategyDeps;
  #recorded: RouteMap = new Map();
  /** Route changes of published plans without a result yet, by plan id. */
  readonly #inFlight = new Map<string, RouteChange[]>();
  /** The plan that last stated each route (in memory): a rolled-back plan reverts only the routes it still owns. */
  readonly #owner = new Map<string, string>();

  constructor(deps: RouteStrategyDeps) {
    this.#deps = deps;
  }

  /** What the planner believes each node has installed: routes.current, and the hop-count tables for pairs it never named. */
  installed(): RouteMap {
    return installedView(this.#recorded, routeTables(this.#deps.topology.hopCountGraph()));
  }

  async restore(): Promise<void> {
    const value = (await this.#deps.store.get(ROUTES_KEY))?.value;
    if (value === undefined) return;
    const parsed = RoutesCurrent.safeParse(value);
    if (parsed.success) this.#recorded = toRouteMap(parsed.data.routes);
    else this.#deps.logger.warn("ignoring invalid routes.current", { error: parsed.error.message });
  }

  plan(request: HealingRequest): RouteProposal {
    const { topology, verify } = this.#deps;
    const graph = topology.graph();
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
    let fragility: PlanFragility | undefined;
    if (request.element) {
      // A repair checks the paths that crossed the failed element; a restore, those that cross the restored one.
      const affected = pairsCrossing(request.purpose === "repair" ? installed : wanted, graph.nodes, request.element.cross);
      pairs = selectVerifyPairs(affected, (from, to) => wanted.has(routeKey(from, to)), verify.max_checks, request.element.ends);
      // A repair notes whether the detours leave the mesh more fragile (README: topology analysis).
      if (request.purpose === "repair" && diff.changes.length > 0) {
        const detours = affected.map(({ from, to }) => forwardingPath(wanted, from, to)).filter((path): path is string[] => path !== undefined);
        fragility = planFragility(graph, request.element.links, detours);
      }
    }
    const summary = describeChanges(request.what, diff.changes, diff.unreachable);
    return {
      actions: routeActions(diff.changes, request.what, wanted),
      summary,
      unchanged: request.purpose === "repair" ? `${summary}: no route change needed` : undefined,
      tooLarge: `${summary}: more than ${MAX_ACTIONS} route changes, too many for one plan; routes left alone`,
      verify: probeChecks(pairs, graph.serviceAddress, (node) => topology.announcement(node)?.probe_port),
      deadlineMs: verify.deadline_ms,
      supersedes,
      ...(fragility ? { fragility } : {}),
      record: { changes: diff.changes },
      installed,
    };
  }

  async persist(proposal: RouteProposal, plan: Plan, now: number): Promise<void> {
    const { changes } = proposal.record;
    this.#inFlight.set(plan.plan_id, changes);
    this.#deps.metrics.routeChanges.inc(changes.length);
    if (plan.approval !== "auto") return;
    const next = new Map(proposal.installed);
    applyChanges(next, changes);
    for (const change of changes) this.#owner.set(routeKey(change.next.node, change.next.destination), plan.plan_id);
    await this.#save(next, plan.plan_id, now);
  }

  async settle(result: ActionResult, settled: Settled | undefined, now: number): Promise<void> {
    this.#inFlight.delete(result.plan_id);
    if (!settled || settled.record.changes.length === 0) return;
    const { record, outcome } = settled;
    const changes = record.changes.map((change) => ({ next: change.next, previous: change.previous ?? undefined }));
    // Auto plans were counted as installed when published; manual and vote plans only once they ran.
    if (outcome === "success" && record.approval !== "auto") {
      const next = this.installed();
      applyChanges(next, changes);
      await this.#save(next, record.plan_id, now);
    } else if (outcome !== "success" && record.approval === "auto") {
      // Rolled back, failed, dry run or skipped: the old routes are what the nodes have.
      const next = this.installed();
      // Only routes this plan still owns: a later plan that stated a route again (superseding this one) keeps it.
      revertChanges(
        next,
        changes.filter((change) => (this.#owner.get(routeKey(change.next.node, change.next.destination)) ?? record.plan_id) === record.plan_id),
      );
      await this.#save(next, record.plan_id, now);
      this.#deps.logger.info("routes reverted", { plan_id: record.plan_id, status: result.status, routes: changes.length });
    }
  }

  async #save(routes: RouteMap, planId: string, now: number): Promise<void> {
    this.#recorded = routes;
    const record: RoutesCurrent = { v: 1, routes: [...routes.values()], updated_at: now, plan_id: planId };
    await this.#deps.store.put(ROUTES_KEY, record).catch((error) => this.#deps.logger.warn("cannot write routes.current", { error }));
  }
}
