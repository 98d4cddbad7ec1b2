import { describe, expect, test } from "bun:test";
import { Plan, type PlannedAction, routeTables } from "@x0/shared";
import { gridAnnouncements } from "../testing.ts";
import { topologyOf } from "../topology/synthetic.ts";
import { buildPlan, describeChanges, pairsCrossing, planHome, probeChecks, routeActions, selectVerifyPairs } from "./plan.ts";
import { diffRoutes, routeKey, toRouteMap } from "./routes.ts";

const INCIDENT = "7f1c3a52-5a8e-4c3e-9a57-0d3c2b1e4f60";

const gridState = (rows: number, cols: number) => topologyOf(gridAnnouncements(rows, cols));

describe("route plans", () => {
  test("route plans - verify pairs: the longest crossing path both ways, then the link's ends, at most four", () => {
    const topology = gridState(3, 3);
    const installed = toRouteMap(routeTables(topology.hopCountGraph()));
    const affected = pairsCrossing(installed, topology.nodes, { link: ["n2", "n3"] });
    expect(affected.every((pair) => pair.hops >= 1)).toBe(true);
    const pairs = selectVerifyPairs(affected, () => true, 4, ["n2", "n3"]);
    expect(pairs).toHaveLength(4);
    expect(pairs[1]).toEqual({ from: pairs[0]?.to as string, to: pairs[0]?.from as string });
    expect(pairs.slice(2)).toEqual([
      { from: "n2", to: "n3" },
      { from: "n3", to: "n2" },
    ]);
    expect(selectVerifyPairs(affected, (from) => from !== "n3", 4, ["n2", "n3"]).some((pair) => pair.from === "n3")).toBe(false);
    expect(probeChecks([{ from: "n1", to: "n9" }], { n9: "10.255.0.9" }, () => undefined)).toEqual([{ type: "probe", from: "n1", to: "10.255.0.9" }]);
  });

  test("route plans - a plan built from a diff is a valid Plan message", () => {
    const topology = gridState(3, 3);
    const installed = toRouteMap(routeTables(topology.hopCountGraph()));
    topology.markDown(INCIDENT, ["link:n5|n6"], 0);
    const diff = diffRoutes(installed, toRouteMap(routeTables(topology.graph())));
    const plan = buildPlan({
      planId: "11111111-1111-4111-8111-111111111111",
      incidentId: INCIDENT,
      node: "n5",
      kind: "link_down",
      rule: "link_down/reroute-around",
      approval: "auto",
      actions: routeActions(diff.changes, "link_down on link n5|n6"),
      summary: describeChanges("link_down on link n5|n6", diff.changes, diff.unreachable),
      verify: [],
      deadlineMs: 2000,
      now: 1,
    });
    expect(Plan.parse(plan)).toEqual(plan);
    expect(plan.expected_effect?.summary).toMatch(/^link_down on link n5\|n6: \d+ routes on \d+ nodes change$/);
  });

  test("route plans - each route step lists the path of its new route, so node executors install from the destination side", () => {
    const topology = gridState(3, 3);
    const installed = toRouteMap(routeTables(topology.hopCountGraph()));
    topology.markDown(INCIDENT, ["link:n5|n6"], 0);
    const wanted = toRouteMap(routeTables(topology.graph()));
    const actions = routeActions(diffRoutes(installed, wanted).changes, "link_down on link n5|n6", wanted);
    expect(actions.length).toBeGreaterThan(0);
    for (const action of actions) {
      const path = String(action.params.path).split(",");
      expect(path.at(-1)).toBe(action.params.destination as string);
      expect(path[0]).toBe(wanted.get(routeKey(String(action.params.node), String(action.params.destination)))?.nextHop as string);
    }
    expect("path" in (routeActions(diffRoutes(installed, wanted).changes, "w")[0]?.params ?? {})).toBe(false);
  });

  test("route plans - a plan is addressed to a live node that takes part in it: never the dead node of a node_unreachable incident", () => {
    const step = (node: string): PlannedAction => ({ type: "route_replace", params: { node }, reason: "r" });
    const notify: PlannedAction = { type: "notify", params: { message: "m" }, reason: "r" };
    const dead = { target: { type: "node" as const, id: "node:n5", nodes: ["n5"] } };
    const observed = {
      ...dead,
      evidence: [
        { node: "n5", metric: "m", observed: 1, ts: 1 },
        { node: "n4", metric: "m", observed: 1, ts: 1 },
      ],
    };
    // A link incident's node that has steps stays the home node; one without steps gives way to the first node with one.
    expect(planHome("n5", [step("n4"), step("n5")])).toBe("n5");
    expect(planHome("n5", [step("n4"), step("n6")])).toBe("n4");
    // A dead node is never the home: the first live node with a step, else a live observer.
    expect(planHome("n5", [step("n5"), step("n6"), step("n4")], dead)).toBe("n6");
    expect(planHome("n5", [notify], observed)).toBe("n4");
    // Steps without a node belong to the home node, whichever it is: a live anomaly node keeps them.
    expect(planHome("n2", [notify, step("n3")])).toBe("n2");
    const plan = buildPlan({
      planId: "11111111-1111-4111-8111-111111111111",
      incidentId: INCIDENT,
      node: "n5",
      kind: "node_unreachable",
      rule: "node_unreachable/reroute-around",
      approval: "auto",
      actions: [step("n2"), step("n4")],
      summary: "s",
      verify: [],
      deadlineMs: 2000,
      now: 1,
      target: dead.target,
    });
    expect(plan.node).toBe("n2");
  });

  test("route plans - planning a link failure on a 16-node grid (graph, route tables, diff, verify pairs) is fast", () => {
    const topology = gridState(4, 4);
    const installed = toRouteMap(routeTables(topology.hopCountGraph()));
    topology.markDown(INCIDENT, ["link:n6|n7"], 0);
    const runs = 200;
    const durations: number[] = [];
    let changes = 0;
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      const graph = topology.graph();
      const wanted = toRouteMap(routeTables(graph));
      const diff = diffRoutes(installed, wanted);
      const affected = pairsCrossing(installed, graph.nodes, { link: ["n6", "n7"] });
      selectVerifyPairs(affected, (from, to) => wanted.has(routeKey(from, to)), 4, ["n6", "n7"]);
      durations.push(performance.now() - started);
      changes = diff.changes.length;
    }
    durations.sort((x, y) => x - y);
    const at = (q: number) => (durations[Math.min(runs - 1, Math.floor(q * runs))] as number).toFixed(3);
    // Reported, not asserted: the machine is shared.
    console.log(`planning, 16-node grid, link n6|n7 down (${changes} route changes, ${runs} runs): p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`);
    expect(changes).toBeGreaterThan(0);
  });
});
