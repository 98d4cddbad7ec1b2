import { describe, expect, test } from "bun:test";

import { join } from "node:path";

import { createLogger, type Plan, ROUTES_KEY, RoutesCurrent } from "@x0/shared";

import { Registry } from "prom-client";

import { MemoryStore } from "../kv.ts";

import { createMetrics } from "../metrics.ts";

import { loadPolicy } from "../policy/policy.ts";

import { routeKey } from "../routing/routes.ts";
import { gridAnnouncements } from "../testing.ts";

import { linkElement } from "../topology/element.ts";

import { topologyOf } from "../topology/synthetic.ts";

import { RouteStrategy } from "./routes.ts";

import type { HealingRequest } from "./strategy.ts";

import { strategyRun } from "./testing.ts";

const { verify } = loadPolicy(join(import.meta.dir, "..", "..", "policy.yaml"));
const NOW = 1_000_000;
const INCIDENT = "7f1c3a52-5a8e-4c3e-9a57-0d3c2b1e4f60";

/** Static routes on a 3x3 grid, with the routes of n1→n2 and n2→n1 as the two ends see them. */
function setup(store = new MemoryStore()) {
  const topology = topologyOf(gridAnnouncements(3, 3));
  const logger = createLogger({ service: "planner-test", node: "test", level: "error" });
  const routes = new RouteStrategy({ topology, store, logger, verify, metrics: createMetrics(new Registry()) });
  const link = topology.link("link:n1|n2");
  if (!link) throw new Error("expected link n1|n2");
  const repair: HealingRequest = { purpose: "repair", element: linkElement(link), what: "link_down on link n1|n2" };
  const devOf = (from: string, to: string) => routes.installed().get(routeKey(from, to))?.dev;
  return { topology, routes, store, repair, devOf, run: strategyRun(routes, () => NOW) };
}

describe("static route strategy", () => {
  test("static route strategy - a repair proposes the routes around the marked link; they count as installed once persisted", async () => {
    const { topology, routes, store, repair, devOf, run } = setup();
    topology.markDown(INCIDENT, ["link:n1|n2"], NOW);
    const proposal = routes.plan(repair);
    expect(proposal.actions.every((action) => action.type === "route_replace")).toBe(true);
    expect(proposal.record.changes).toHaveLength(proposal.actions.length);
    expect(proposal.unchanged).toBe(`${proposal.summary}: no route change needed`);
    expect(proposal.verify.map((check) => (check.type === "probe" ? `${check.from}>${check.to}` : ""))).toContain("n1>10.255.0.2");
    expect(devOf("n1", "n2")).toBe("n1-n2");
    const { plan } = await run.publish(repair);
    expect(plan?.rule).toBe("test");
    expect(devOf("n1", "n2")).toBe("n1-n4");
    expect(RoutesCurrent.parse((await store.get(ROUTES_KEY))?.value).plan_id).toBe(plan?.plan_id as string);
  });

  test("static route strategy - a manual plan counts once it ran; a rolled-back auto plan is reverted", async () => {
    const { topology, repair, devOf, run } = setup();
    topology.markDown(INCIDENT, ["link:n1|n2"], NOW);
    const manual = await run.publish(repair, "manual");
    expect(devOf("n1", "n2")).toBe("n1-n2");
    await run.settle(manual.plan as Plan, "verified");
    expect(devOf("n1", "n2")).toBe("n1-n4");

    const other = setup();
    other.topology.markDown(INCIDENT, ["link:n1|n2"], NOW);
    const auto = await other.run.publish(other.repair);
    expect(other.devOf("n1", "n2")).toBe("n1-n4");
    await other.run.settle(auto.plan as Plan, "rolled_back");
    expect(other.devOf("n1", "n2")).toBe("n1-n2");
  });

  test("static route strategy - a plan still running is restated and superseded by the next one", async () => {
    const { topology, routes, repair, run } = setup();
    topology.markDown(INCIDENT, ["link:n1|n2"], NOW);
    const first = await run.publish(repair);
    topology.markDown(INCIDENT, ["link:n5|n6"], NOW);
    const second = routes.plan({ ...repair, what: "link_down on link n5|n6" });
    expect(second.supersedes).toEqual([first.plan?.plan_id as string]);
    // Once the first plan's result is in, it is no longer restated.
    await run.settle(first.plan as Plan, "verified");
    topology.markDown(INCIDENT, ["link:n8|n9"], NOW);
    expect(routes.plan(repair).supersedes).toEqual([]);
  });

  test("static route strategy - a restore with nothing to bring back proposes no step and says nothing", () => {
    const { routes, repair } = setup();
    const proposal = routes.plan({ ...repair, purpose: "restore" });
    expect(proposal.actions).toEqual([]);
    expect(proposal.unchanged).toBeUndefined();
  });

  test("static route strategy - routes.current is read back at start; an invalid record is ignored", async () => {
    const first = setup();
    first.topology.markDown(INCIDENT, ["link:n1|n2"], NOW);
    await first.run.publish(first.repair);
    const second = setup(first.store);
    await second.routes.restore();
    expect(second.devOf("n1", "n2")).toBe("n1-n4");

    const broken = new MemoryStore();
    await broken.put(ROUTES_KEY, { v: 2 });
    const third = setup(broken);
    await third.routes.restore();
    expect(third.devOf("n1", "n2")).toBe("n1-n2");
  });
});
