// Installed routes (what the planner believes each node has), the diff to the routes it wants, and paths along installed next hops.
import type { Route } from "@x0/shared";

/** The key of a route in route maps: `<node>><destination>`. */
export function routeKey(node: string, destination: string): string {
  return `${node}>${destination}`;
}

/** Routes by {@link routeKey}. */
export type RouteMap = Map<string, Route>;

/** A map of routes by key. */
export function toRouteMap(routes: Iterable<Route>): RouteMap {
  const map: RouteMap = new Map();
  for (const route of routes) map.set(routeKey(route.node, route.destination), route);
  return map;
}

/** What is installed: the recorded routes, and for pairs never recorded the start state (`baseline`, the hop-count tables). */
export function installedView(recorded: RouteMap, baseline: Iterable<Route>): RouteMap {
  const view = toRouteMap(baseline);
  for (const [key, route] of recorded) view.set(key, route);
  return view;
}

/** One route to replace. */
export interface RouteChange {
  next: Route;
  previous: Route | undefined;
}

/** The difference between installed and wanted routes. */
export interface RouteDiff {
  changes: RouteChange[];
  /** Installed pairs with no wanted route: the destination is unreachable (partition), and their routes are left alone. */
  unreachable: { node: string; destination: string }[];
}

function sameRoute(x: Route, y: Route): boolean {
  return x.via === y.via && x.dev === y.dev && x.src === y.src && x.prefix === y.prefix;
}

/** The route replacements that turn `installed` into `wanted`, sorted by node then destination. */
export function diffRoutes(installed: RouteMap, wanted: RouteMap): RouteDiff {
  const changes: RouteChange[] = [];
  for (const [key, next] of wanted) {
    const previous = installed.get(key);
    if (!previous || !sameRoute(previous, next)) changes.push({ next, previous });
  }
  const unreachable: RouteDiff["unreachable"] = [];
  for (const [key, route] of installed) if (!wanted.has(key)) unreachable.push({ node: route.node, destination: route.destination });
  const order = (x: { node: string; destination: string }, y: { node: string; destination: string }) =>
    x.node === y.node ? (x.destination < y.destination ? -1 : 1) : x.node < y.node ? -1 : 1;
  changes.sort((x, y) => order(x.next, y.next));
  unreachable.sort(order);
  return { changes, unreachable };
}

/** Applies changes to a route map (in place). */
export function applyChanges(routes: RouteMap, changes: RouteChange[]): void {
  for (const { next } of changes) routes.set(routeKey(next.node, next.destination), next);
}

/** Undoes changes whose route is still the one they installed (a later plan's change to the same pair wins). */
export function revertChanges(routes: RouteMap, changes: RouteChange[]): void {
  for (const { next, previous } of changes) {
    const key = routeKey(next.node, next.destination);
    const current = routes.get(key);
    if (!current || !sameRoute(current, next)) continue;
    if (previous) routes.set(key, previous);
    else routes.delete(key);
  }
}

/** The node path packets take from `from` to `to` by following next hops, or undefined when a hop is missing or loops. */
export function forwardingPath(routes: RouteMap, from: string, to: string): string[] | undefined {
  const path = [from];
  let at = from;
  while (at !== to) {
    const route = routes.get(routeKey(at, to));
    if (!route || path.includes(route.nextHop)) return undefined;
    at = route.nextHop;
    path.push(at);
  }
  return path;
}
