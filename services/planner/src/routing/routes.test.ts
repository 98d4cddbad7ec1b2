import { describe, expect, test } from "bun:test";
import { type Route, routeTables } from "@x0/shared";
import { gridAnnouncements } from "../testing.ts";
import { topologyOf } from "../topology/synthetic.ts";
import { applyChanges, diffRoutes, forwardingPath, installedView, revertChanges, routeKey, toRouteMap } from "./routes.ts";

const grid = () => topologyOf(gridAnnouncements(3, 3));

describe("routes", () => {
  test("routes - recorded routes override the hop-count start state, pair by pair", () => {
    const baseline = routeTables(grid().hopCountGraph());
    const moved: Route = { ...(baseline[0] as Route), via: "10.200.0.6", dev: "n1-n4", nextHop: "n4" };
    const view = installedView(toRouteMap([moved]), baseline);
    expect(view.size).toBe(72);
    expect(view.get(routeKey(moved.node, moved.destination))).toEqual(moved);
  });

  test("routes - the diff lists changed routes in order and unreachable pairs apart", () => {
    const topology = grid();
    const installed = toRouteMap(routeTables(topology.hopCountGraph()));
    topology.markDown("7f1c3a52-5a8e-4c3e-9a57-0d3c2b1e4f60", topology.linksOf("n1"), 0);
    const diff = diffRoutes(installed, toRouteMap(routeTables(topology.graph())));
    // n2→n4 and n2→n7 went through n1 (ties break to the smallest first hop); they move, and nothing routes to or from n1.
    expect(diff.changes.map(({ next }) => `${next.node}>${next.destination}`)).toEqual(["n2>n4", "n2>n7", "n4>n2", "n4>n3"]);
    expect(diff.changes[0]?.previous?.nextHop).toBe("n1");
    expect(diff.unreachable).toHaveLength(16);
    expect(diff.unreachable[0]).toEqual({ node: "n1", destination: "n2" });
  });

  test("routes - forwarding paths follow next hops and stop at loops", () => {
    const routes = toRouteMap(routeTables(grid().hopCountGraph()));
    expect(forwardingPath(routes, "n1", "n9")).toEqual(["n1", "n2", "n3", "n6", "n9"]);
    const loop = new Map(routes);
    loop.set(routeKey("n2", "n9"), { ...(routes.get(routeKey("n2", "n9")) as Route), nextHop: "n1" });
    expect(forwardingPath(loop, "n1", "n9")).toBeUndefined();
  });

  test("routes - reverting undoes only changes still in place", () => {
    const topology = grid();
    const installed = toRouteMap(routeTables(topology.hopCountGraph()));
    topology.markDown("7f1c3a52-5a8e-4c3e-9a57-0d3c2b1e4f60", ["link:n1|n2"], 0);
    const { changes } = diffRoutes(installed, toRouteMap(routeTables(topology.graph())));
    const routes = new Map(installed);
    applyChanges(routes, changes);
    const later = { ...(routes.get(routeKey("n1", "n2")) as Route), via: "10.9.9.9" };
    routes.set(routeKey("n1", "n2"), later);
    revertChanges(routes, changes);
    expect(routes.get(routeKey("n1", "n2"))).toEqual(later);
    expect(routes.get(routeKey("n2", "n1"))).toEqual(installed.get(routeKey("n2", "n1")) as Route);
  });
});
