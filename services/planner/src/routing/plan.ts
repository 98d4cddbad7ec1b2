// Route plans: the pairs whose paths cross an element, the probe checks for them, route_replace steps, plan messages.
import type { Anomaly, AnomalyKind, IncidentTarget, Plan, PlanAlternative, PlanFragility, PlannedAction, VerifyCheck } from "@x0/shared";
import { forwardingPath, type RouteChange, type RouteMap } from "./routes.ts";

/** A source → destination pair whose path crossed the failed (or restored) element, with its length in hops. */
export interface AffectedPair {
  from: string;
  to: string;
  hops: number;
}

/** An element a path can cross: a link (its ends consecutive, either way) or a node. */
export type PathElement = { link: [string, string] } | { node: string };

/** Pairs of `nodes` whose path (`pathOf`, undefined: none) passes through the element, with their length in hops. */
export function pairsOnPaths(nodes: readonly string[], pathOf: (from: string, to: string) => string[] | undefined, element: PathElement): AffectedPair[] {
  const pairs: AffectedPair[] = [];
  for (const from of nodes) {
    for (const to of nodes) {
      if (from === to) continue;
      const path = pathOf(from, to);
      if (!path) continue;
      let crosses: boolean;
      if ("node" in element) crosses = path.includes(element.node);
      else {
        const [a, b] = element.link;
        crosses = path.some((hop, i) => i > 0 && ((path[i - 1] === a && hop === b) || (path[i - 1] === b && hop === a)));
      }
      if (crosses) pairs.push({ from, to, hops: path.length - 1 });
    }
  }
  return pairs;
}

/** Pairs whose path in `routes` passes through the element: a link (consecutive `a`,`b` either way) or a node. */
export function pairsCrossing(routes: RouteMap, nodes: string[], element: PathElement): AffectedPair[] {
  return pairsOnPaths(nodes, (from, to) => forwardingPath(routes, from, to), element);
}

/**
 * At most `max` pairs to probe: both directions of the longest affected path first, then both directions across the
 * element itself (`ends`, for a link), then the longest remaining. Only pairs `reachable` now are kept.
 */
export function selectVerifyPairs(
  affected: AffectedPair[],
  reachable: (from: string, to: string) => boolean,
  max: number,
  ends?: [string, string],
): { from: string; to: string }[] {
  const candidates = affected
    .filter((pair) => reachable(pair.from, pair.to))
    .sort((x, y) => y.hops - x.hops || (x.from < y.from ? -1 : x.from > y.from ? 1 : x.to < y.to ? -1 : 1));
  const chosen: { from: string; to: string }[] = [];
  const add = (from: string, to: string) => {
    if (chosen.length >= max || !reachable(from, to) || chosen.some((pair) => pair.from === from && pair.to === to)) return;
    chosen.push({ from, to });
  };
  const longest = candidates[0];
  if (longest) {
    add(longest.from, longest.to);
    add(longest.to, longest.from);
  }
  if (ends) {
    add(ends[0], ends[1]);
    add(ends[1], ends[0]);
  }
  for (const pair of candidates) add(pair.from, pair.to);
  return chosen;
}

/** Probe checks for pairs: hellos from the source node to the destination's service address (and its probe port when announced). */
export function probeChecks(
  pairs: { from: string; to: string }[],
  serviceAddress: Record<string, string>,
  probePort: (node: string) => number | undefined,
): VerifyCheck[] {
  const checks: VerifyCheck[] = [];
  for (const { from, to } of pairs) {
    const address = serviceAddress[to];
    if (!address) continue;
    const port = probePort(to);
    checks.push({ type: "probe", from, to: address, ...(port ? { port } : {}) });
  }
  return checks;
}

/**
 * One `route_replace` step per changed route (previous_via and previous_dev are empty when the pair had no route). With
 * the `wanted` routes, each step's `path` lists the nodes its new route leads through (next hop first): the node
 * executors install a route only after the plan's routes on its path (services/executor/README.md, "Apply order").
 */
export function routeActions(changes: RouteChange[], why: string, wanted?: RouteMap): PlannedAction[] {
  return changes.map(({ next, previous }) => {
    const path = wanted && forwardingPath(wanted, next.node, next.destination);
    return {
      type: "route_replace",
      params: {
        node: next.node,
        destination: next.destination,
        prefix: next.prefix,
        via: next.via,
        dev: next.dev,
        src: next.src,
        previous_via: previous?.via ?? "",
        previous_dev: previous?.dev ?? "",
        ...(path ? { path: path.slice(1).join(",") } : {}),
      },
      reason: `${why}: ${next.node} reaches ${next.destination} via ${next.nextHop}${previous ? ` (was ${previous.nextHop})` : ""}`,
    };
  });
}

/**
 * The node a plan is addressed to, whose executor coordinates it: `node` (the anomaly's) when it takes part and is not the
 * failed node of a node incident; else the first live node with a step; else a live observer in the evidence.
 */
export function planHome(node: string, actions: readonly PlannedAction[], { target, evidence }: Pick<Anomaly, "target" | "evidence"> = {}): string {
  const failed = target?.type === "node" ? target.nodes : [];
  const alive = (candidate: string) => !failed.includes(candidate);
  const stepNodes = actions.map((action) => action.params.node).filter((candidate): candidate is string => typeof candidate === "string");
  // Steps without a node belong to the home node, whichever it is.
  const takesPart = stepNodes.length === 0 || stepNodes.length < actions.length || stepNodes.includes(node);
  if (alive(node) && takesPart) return node;
  return stepNodes.find(alive) ?? evidence?.find((entry) => alive(entry.node))?.node ?? node;
}

/** The parts of a plan that differ between plan types. */
export interface PlanParts {
  planId: string;
  incidentId: string;
  node: string;
  kind: AnomalyKind;
  rule: string;
  approval: Plan["approval"];
  actions: PlannedAction[];
  summary: string;
  verify: VerifyCheck[];
  deadlineMs: number;
  now: number;
  target?: IncidentTarget;
  anomaly?: Pick<Anomaly, "update" | "evidence">;
  alternatives?: PlanAlternative[];
  /** Running plans whose routes this one states again. */
  supersedes?: string[] | undefined;
  /** Route repairs: whether the new paths leave the mesh more fragile. */
  fragility?: PlanFragility | undefined;
}

/** A plan message (unsigned). */
export function buildPlan(parts: PlanParts): Plan {
  return {
    v: 1,
    plan_id: parts.planId,
    incident_id: parts.incidentId,
    node: planHome(parts.node, parts.actions, { target: parts.target, evidence: parts.anomaly?.evidence }),
    kind: parts.kind,
    rule: parts.rule,
    approval: parts.approval,
    actions: parts.actions,
    created_at: parts.now,
    ...(parts.target ? { target: parts.target } : {}),
    ...(parts.anomaly ? { anomaly_update: parts.anomaly.update } : {}),
    ...(parts.anomaly?.evidence ? { evidence: parts.anomaly.evidence } : {}),
    expected_effect: {
      summary: parts.summary.slice(0, 1024),
      verify: parts.verify,
      deadline_ms: parts.deadlineMs,
      ...(parts.fragility ? { fragility: parts.fragility } : {}),
    },
    ...(parts.alternatives ? { alternatives: parts.alternatives } : {}),
    ...(parts.supersedes && parts.supersedes.length > 0 ? { supersedes: parts.supersedes } : {}),
  };
}

/** A summary of route changes: how many routes on how many nodes, and the destinations left alone because they are unreachable. */
export function describeChanges(what: string, changes: RouteChange[], unreachable: { node: string; destination: string }[]): string {
  const nodes = new Set(changes.map((change) => change.next.node));
  let summary = `${what}: ${changes.length} route${changes.length === 1 ? "" : "s"} on ${nodes.size} node${nodes.size === 1 ? "" : "s"} change`;
  if (unreachable.length > 0) {
    const shown = unreachable
      .slice(0, 8)
      .map((pair) => `${pair.node}→${pair.destination}`)
      .join(", ");
    summary += `; ${unreachable.length} destination${unreachable.length === 1 ? " is" : "s are"} unreachable (partition), no route change for ${unreachable.length === 1 ? "it" : "them"}: ${shown}${unreachable.length > 8 ? ", …" : ""}`;
  }
  return summary;
}
