// Who takes part in a plan and in what order its steps are applied: routes from the destination side back towards the
// source, so a packet on new routes never meets an old one that sends it back (README.md, "Apply order").
import { NodeId, type Plan, type PlannedAction } from "@x0/shared";
import { RouteLoop } from "../errors.ts";

/** The node a step belongs to: its `params.node`, else the plan's home node. */
export function nodeOfStep(action: PlannedAction, home: string): string {
  const node = action.params.node;
  return typeof node === "string" && NodeId.safeParse(node).success ? node : home;
}

/**
 * Each participant of `plan` with the indices of its steps: the home node (the coordinator) first, even without steps,
 * then the others in the order their first step appears.
 * @example partsOf(plan).get("n3") // [2, 5]
 */
export function partsOf(plan: Pick<Plan, "node" | "actions">): Map<string, number[]> {
  const parts = new Map<string, number[]>([[plan.node, []]]);
  plan.actions.forEach((action, index) => {
    const node = nodeOfStep(action, plan.node);
    parts.set(node, [...(parts.get(node) ?? []), index]);
  });
  return parts;
}

/** The route a route_replace step installs, when it names its destination and the path its new route leads along. */
function routeOf(action: PlannedAction): { node: string; destination: string; path: string[] } | undefined {
  const { node, destination, path } = action.params;
  if (action.type !== "route_replace" || typeof node !== "string" || typeof destination !== "string" || typeof path !== "string") return undefined;
  return { node, destination, path: path.split(",").filter(Boolean) };
}

/**
 * The apply order of `actions` as waves of step indices. A route towards d at node u goes one wave after the latest of
 * the plan's routes towards d at the nodes on u's new path (`params.path`: next hop first); every other step (a route
 * with no such node on its path, a route without `path`, any non-route step) is in wave 0. Throws {@link RouteLoop}
 * when the routes towards one destination loop.
 * @example applyWaves([route n1→n9 path "n2,n9", route n2→n9 path "n9"]) // [[1], [0]]
 */
export function applyWaves(actions: readonly PlannedAction[]): number[][] {
  const stepOf = new Map<string, number>();
  actions.forEach((action, index) => {
    const route = routeOf(action);
    const key = route && `${route.node}>${route.destination}`;
    if (key && !stepOf.has(key)) stepOf.set(key, index);
  });
  const waveOf = new Map<number, number>();
  const wave = (index: number, trail: number[]): number => {
    const known = waveOf.get(index);
    if (known !== undefined) return known;
    const route = routeOf(actions[index] as PlannedAction);
    let result = 0;
    for (const hop of route?.path ?? []) {
      const next = route && stepOf.get(`${hop}>${route.destination}`);
      if (next === undefined || next === index) continue;
      if (trail.includes(next)) {
        const loop = [...trail.slice(trail.indexOf(next)), next].map((k) => routeOf(actions[k] as PlannedAction)?.node).join(" → ");
        throw new RouteLoop(`the plan's routes towards ${route?.destination} form a loop: ${loop}`);
      }
      result = Math.max(result, wave(next, [...trail, next]) + 1);
    }
    waveOf.set(index, result);
    return result;
  };
  const waves: number[][] = [];
  actions.forEach((_, index) => {
    const k = wave(index, [index]);
    while (waves.length <= k) waves.push([]);
    waves[k]?.push(index);
  });
  return waves;
}
