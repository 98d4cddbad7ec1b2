import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  actionResult,
  createLogger,
  type IncidentTarget,
  LinkRecord,
  Plan,
  ROUTES_KEY,
  RoutesCurrent,
  type Telemetry,
  TOPOLOGY_ANALYSIS_KEY,
  TopologyAnalysis,
} from "@x0/shared";
import { Registry } from "prom-client";
import { planIdFor } from "./emit/emit.ts";
import { MemoryStore } from "./kv.ts";
import { createMetrics } from "./metrics.ts";
import { OutcomeStore } from "./outcomes/store.ts";
import { Planner } from "./planner.ts";
import { loadPolicy, type Policy } from "./policy/policy.ts";
import { routeKey } from "./routing/routes.ts";
import { announcementsOf, degradedStats, gridAnnouncements, incident, later, linkTarget, result } from "./testing.ts";

const shipped = loadPolicy(join(import.meta.dir, "..", "policy.yaml"));

interface Setup {
  planner: Planner;
  plans: Plan[];
  msgIDs: string[];
  topologyStore: MemoryStore;
  outcomeStore: MemoryStore;
  registry: Registry;
  advance(ms: number): void;
  now(): number;
}

function setup({
  policy = shipped,
  announcements = gridAnnouncements(3, 3),
  topologyStore = new MemoryStore(),
  outcomeStore = new MemoryStore(),
  start = 1_000_000,
}: {
  policy?: Policy;
  announcements?: ReturnType<typeof gridAnnouncements>;
  topologyStore?: MemoryStore;
  outcomeStore?: MemoryStore;
  start?: number;
} = {}): Setup {
  let now = start;
  const plans: Plan[] = [];
  const msgIDs: string[] = [];
  const registry = new Registry();
  const planner = new Planner({
    policy,
    topologyStore,
    outcomes: new OutcomeStore(outcomeStore),
    publish: async (plan, msgID) => {
      plans.push(Plan.parse(plan));
      msgIDs.push(msgID);
    },
    logger: createLogger({ service: "planner-test", node: "test", level: "error" }),
    metrics: createMetrics(registry),
    now: () => now,
  });
  for (const announcement of announcements) planner.announce(announcement);
  return { planner, plans, msgIDs, topologyStore, outcomeStore, registry, advance: (ms) => (now += ms), now: () => now };
}

const routeOf = (plan: Plan | undefined, node: string, destination: string) =>
  plan?.actions.find((action) => action.type === "route_replace" && action.params.node === node && action.params.destination === destination)?.params;

describe("planner", () => {
  test("planner - link_down on a 3x3 grid: one plan of route_replace steps around the link, with probe checks across it", async () => {
    const { planner, plans, msgIDs, topologyStore } = setup();
    const down = incident("link_down", linkTarget("n1", "n2"), { evidence: [{ node: "n1", metric: "phi", observed: 12, ts: 1 }] });
    const plan = await planner.handleAnomaly(down);
    expect(plans).toHaveLength(1);
    expect(plan?.rule).toBe("link_down/reroute-around");
    expect(plan?.approval).toBe("auto");
    expect(plan?.target?.id).toBe("link:n1|n2");
    expect(plan?.anomaly_update).toBe(0);
    expect(plan?.evidence).toEqual(down.evidence);
    expect(msgIDs[0]).toBe(`plan:${down.incident_id}:0`);
    expect(plan?.plan_id).toBe(planIdFor(`plan:${down.incident_id}:0`));
    expect(plan?.actions.every((action) => action.type === "route_replace")).toBe(true);
    // n1 reached n2 directly; now through n4 and n5 (link 1 is n1-n4: n4's end is 10.200.0.6).
    expect(routeOf(plan, "n1", "n2")).toEqual({
      node: "n1",
      destination: "n2",
      prefix: "10.255.0.2",
      via: "10.200.0.6",
      dev: "n1-n4",
      src: "10.255.0.1",
      previous_via: "10.200.0.2",
      previous_dev: "n1-n2",
      path: "n4,n5,n2",
    });
    expect(routeOf(plan, "n2", "n1")?.dev).toBe("n2-n5");
    // No step touches a route that did not cross the link.
    expect(routeOf(plan, "n5", "n9")).toBeUndefined();
    const verify = plan?.expected_effect?.verify ?? [];
    expect(verify.length).toBeLessThanOrEqual(4);
    expect(plan?.expected_effect?.deadline_ms).toBe(2000);
    const probes = verify.map((check) => (check.type === "probe" ? `${check.from}>${check.to}` : ""));
    // Both directions across the failed link are checked (n2 is 10.255.0.2, n1 is 10.255.0.1).
    expect(probes).toContain("n1>10.255.0.2");
    expect(probes).toContain("n2>10.255.0.1");
    expect(verify.every((check) => check.type === "probe" && check.port === 7471)).toBe(true);
    // The longest affected path is checked both ways: its first check's reverse is the second.
    const [first, second] = verify;
    if (first?.type !== "probe" || second?.type !== "probe") throw new Error("expected probe checks");
    const serviceOf = (node: string) => `10.255.0.${node.slice(1)}`;
    expect(second.to).toBe(serviceOf(first.from));
    expect(first.to).toBe(serviceOf(second.from));

    const link = LinkRecord.parse((await topologyStore.get("link.n1.n2"))?.value);
    expect(link).toMatchObject({ state: "down", cost: null, marks: [{ incident_id: down.incident_id, effect: "down" }] });
    const routes = RoutesCurrent.parse((await topologyStore.get(ROUTES_KEY))?.value);
    expect(routes.routes).toHaveLength(72);
    expect(routes.routes.find((route) => route.node === "n1" && route.destination === "n2")?.dev).toBe("n1-n4");
  });

  test("planner - an update without a kind change makes no plan; resolution plans the routes back", async () => {
    const { planner, plans } = setup();
    const down = incident("link_down", linkTarget("n1", "n2"));
    await planner.handleAnomaly(down);
    expect(await planner.handleAnomaly(later(down, "updated"))).toBeUndefined();
    const back = await planner.handleAnomaly(later(down, "resolved", { update: 2 }));
    expect(plans).toHaveLength(2);
    expect(back?.rule).toBe("link_down/restore");
    expect(routeOf(back, "n1", "n2")).toMatchObject({ dev: "n1-n2", previous_dev: "n1-n4" });
    expect(back?.actions).toHaveLength(plans[0]?.actions.length as number);
    // Routes are back to the start state: nothing more to plan.
    expect(planner.installed().get(routeKey("n1", "n2"))?.dev).toBe("n1-n2");
  });

  test("planner - a node down reroutes through the rest and says the node itself is unreachable", async () => {
    const { planner } = setup();
    const plan = await planner.handleAnomaly(incident("node_unreachable", { type: "node", id: "node:n5", nodes: ["n5"] }, { node: "n2" }));
    expect(plan?.rule).toBe("node_unreachable/reroute-around");
    expect(plan?.actions.some((action) => action.params.via === "" || action.params.node === "n5")).toBe(false);
    expect(routeOf(plan, "n2", "n8")?.dev).toBe("n2-n1");
    expect(plan?.expected_effect?.summary).toContain("unreachable (partition)");
    for (const check of plan?.expected_effect?.verify ?? []) {
      expect(check.type === "probe" && (check.from === "n5" || check.to === "10.255.0.5")).toBe(false);
    }
  });

  test("planner - a partition changes no route for the cut-off destinations and says so", async () => {
    const { planner } = setup({
      announcements: announcementsOf(3, [
        ["n1", "n2"],
        ["n2", "n3"],
      ]),
    });
    const plan = await planner.handleAnomaly(incident("link_down", linkTarget("n2", "n3")));
    expect(plan?.actions.map((action) => action.type)).toEqual(["notify"]);
    expect(plan?.expected_effect?.summary).toMatch(/4 destinations are unreachable \(partition\), no route change for them: n1→n3, n2→n3, n3→n1, n3→n2/);
  });

  test("planner - link_degraded raises the cost at least four times, which moves the direct route", async () => {
    const { planner, topologyStore } = setup();
    const plan = await planner.handleAnomaly(incident("link_degraded", linkTarget("n1", "n2")));
    expect(plan?.rule).toBe("link_degraded/raise-cost");
    expect(plan?.alternatives?.map((alternative) => [alternative.name, alternative.chosen, alternative.score])).toEqual([
      ["raise-cost", true, 0.5],
      ["reroute-around", false, 0.5],
    ]);
    expect(routeOf(plan, "n1", "n2")?.dev).toBe("n1-n4");
    expect(LinkRecord.parse((await topologyStore.get("link.n1.n2"))?.value)).toMatchObject({ state: "degraded", cost: 4 });
  });

  test("planner - a new incident on a cooling target waits for the cooldown, then is planned", async () => {
    const { planner, plans, advance } = setup();
    const first = incident("link_down", linkTarget("n1", "n2"));
    await planner.handleAnomaly(first);
    await planner.handleAnomaly(later(first, "resolved"));
    advance(1000);
    const again = incident("link_down", linkTarget("n1", "n2"));
    expect(await planner.handleAnomaly(again)).toBeUndefined();
    expect(plans).toHaveLength(2);
    advance(3000);
    expect(await planner.tick()).toHaveLength(0);
    advance(1000);
    const [deferred] = await planner.tick();
    expect(deferred?.incident_id).toBe(again.incident_id);
    expect(routeOf(deferred, "n1", "n2")?.dev).toBe("n1-n4");
  });

  test("planner - an escalation is planned at once despite the cooldown", async () => {
    const { planner, plans, advance } = setup();
    const degraded = incident("link_degraded", linkTarget("n1", "n2"));
    await planner.handleAnomaly(degraded);
    advance(500);
    const escalated = await planner.handleAnomaly(later(degraded, "updated", { kind: "link_down" }));
    expect(plans).toHaveLength(2);
    expect(escalated?.rule).toBe("link_down/reroute-around");
    // The cost raise had already moved n1→n2; going down moves what still used the link.
    expect(routeOf(escalated, "n1", "n2")).toBeUndefined();
  });

  test("planner - a flapping link is held down: its resolution does not bring it back, a stable timer does", async () => {
    const { planner, plans, advance, registry } = setup();
    const flap = async () => {
      const down = incident("link_down", linkTarget("n1", "n2"));
      await planner.handleAnomaly(down);
      advance(6000);
      await planner.tick();
      await planner.handleAnomaly(later(down, "resolved"));
      advance(6000);
    };
    await flap();
    await flap();
    expect(plans).toHaveLength(4);
    const third = incident("link_down", linkTarget("n1", "n2"));
    await planner.handleAnomaly(third);
    expect(planner.topology.stateOf("link:n1|n2")).toBe("held");
    expect(await registry.getSingleMetricAsString("x0_planner_hold_downs")).toContain("x0_planner_hold_downs 1");
    expect(await planner.handleAnomaly(later(third, "resolved"))).toBeUndefined();
    expect(planner.installed().get(routeKey("n1", "n2"))?.dev).toBe("n1-n4");
    advance(29_000);
    expect(await planner.tick()).toHaveLength(0);
    advance(1000);
    const [release] = await planner.tick();
    expect(release?.rule).toBe("hold-down-release");
    expect(release?.incident_id).toBe(third.incident_id);
    expect(routeOf(release, "n1", "n2")?.dev).toBe("n1-n2");
    expect(planner.topology.stateOf("link:n1|n2")).toBe("up");
  });

  test("planner - beyond the action budget no plan is made and the exhaustion is counted", async () => {
    const { planner, plans, registry } = setup({ policy: { ...shipped, budget: { plans_per_minute: 1 } } });
    await planner.handleAnomaly(incident("link_down", linkTarget("n1", "n2")));
    expect(await planner.handleAnomaly(incident("link_down", linkTarget("n8", "n9")))).toBeUndefined();
    expect(plans).toHaveLength(1);
    expect(await registry.getSingleMetricAsString("x0_planner_budget_exhausted_total")).toContain("x0_planner_budget_exhausted_total 1");
  });

  test("planner - a manual alternative makes a manual plan, whose routes count as installed only once verified", async () => {
    const policy: Policy = { ...shipped, kinds: { ...shipped.kinds, link_down: { alternatives: [{ name: "reroute-around", approval: "manual" }] } } };
    const { planner, now } = setup({ policy });
    const plan = await planner.handleAnomaly(incident("link_down", linkTarget("n1", "n2")));
    expect(plan?.approval).toBe("manual");
    expect(planner.installed().get(routeKey("n1", "n2"))?.dev).toBe("n1-n2");
    await planner.handleResult(result(plan as Plan, "awaiting_approval", now()));
    expect(planner.installed().get(routeKey("n1", "n2"))?.dev).toBe("n1-n2");
    await planner.handleResult(result(plan as Plan, "verified", now()));
    expect(planner.installed().get(routeKey("n1", "n2"))?.dev).toBe("n1-n4");
  });

  test("planner - results count in the outcome stats once, and a rollback reverts the believed routes", async () => {
    const { planner, outcomeStore, advance, now } = setup();
    const first = await planner.handleAnomaly(incident("link_down", linkTarget("n1", "n2")));
    advance(700);
    await planner.handleResult(result(first as Plan, "verified", now()));
    await planner.handleResult(result(first as Plan, "verified", now()));
    const second = await planner.handleAnomaly(incident("link_down", linkTarget("n8", "n9")));
    expect(planner.installed().get(routeKey("n8", "n9"))?.dev).toBe("n8-n5");
    await planner.handleResult(result(second as Plan, "rolled_back", now()));
    expect(planner.installed().get(routeKey("n8", "n9"))?.dev).toBe("n8-n9");
    expect(planner.installed().get(routeKey("n1", "n2"))?.dev).toBe("n1-n4");
    expect((await outcomeStore.get("stats.link_down.reroute-around"))?.value).toMatchObject({ attempts: 2, verified: 1, rolled_back: 1, ttr_ms: [700] });
    expect(await outcomeStore.keys("planned.>")).toEqual([]);
    const third = await planner.handleAnomaly(incident("link_down", linkTarget("n4", "n7")));
    expect(third?.alternatives).toEqual([{ name: "reroute-around", chosen: true, score: 0.5, attempts: 2, success_rate: 0.5, median_ttr_ms: 700 }]);
  });

  test("planner - past outcomes choose the alternative: the better record wins over policy order", async () => {
    const outcomeStore = new MemoryStore();
    await outcomeStore.put("stats.link_degraded.raise-cost", degradedStats("raise-cost", 1, 4));
    await outcomeStore.put("stats.link_degraded.reroute-around", degradedStats("reroute-around", 5, 0));
    const { planner, topologyStore } = setup({ outcomeStore });
    // The outcome store is loaded at start, as main does.
    const loaded = new OutcomeStore(outcomeStore);
    await loaded.load();
    const ranked = new Planner({
      policy: shipped,
      topologyStore,
      outcomes: loaded,
      publish: async () => {},
      logger: createLogger({ service: "planner-test", node: "test", level: "error" }),
      metrics: createMetrics(new Registry()),
    });
    for (const announcement of gridAnnouncements(3, 3)) ranked.announce(announcement);
    const plan = await ranked.handleAnomaly(incident("link_degraded", linkTarget("n1", "n2")));
    expect(plan?.rule).toBe("link_degraded/reroute-around");
    expect(plan?.alternatives?.[0]).toEqual({ name: "reroute-around", chosen: true, score: 6 / 7, attempts: 5, success_rate: 1, median_ttr_ms: 400 });
    expect(plan?.alternatives?.[1]?.name).toBe("raise-cost");
    expect(planner).toBeDefined();
  });

  test("planner - a restarted planner resumes marks and installed routes from x0_topology", async () => {
    const first = setup();
    const down = incident("link_down", linkTarget("n1", "n2"));
    await first.planner.handleAnomaly(down);
    const second = setup({ topologyStore: first.topologyStore, outcomeStore: first.outcomeStore, start: first.now() });
    await second.planner.restore();
    expect(second.planner.installed().get(routeKey("n1", "n2"))?.dev).toBe("n1-n4");
    expect(second.planner.topology.stateOf("link:n1|n2")).toBe("down");
    expect(await second.planner.handleAnomaly(later(down, "updated"))).toBeUndefined();
    const back = await second.planner.handleAnomaly(later(down, "resolved", { update: 2 }));
    expect(routeOf(back, "n1", "n2")?.dev).toBe("n1-n2");
  });

  /** A neighbour of n3 flooding it, the target of a traffic spike. */
  const floodingNeighbour: IncidentTarget = {
    type: "neighbour",
    id: "neighbour:n3/n3-n2/02:00:00:00:00:07",
    nodes: ["n3"],
    interfaces: ["n3-n2"],
    neighbour: { mac: "02:00:00:00:00:07", ipv4: "10.200.0.9" },
  };

  test("planner - a traffic spike quarantines the neighbour; its resolution keeps the quarantine", async () => {
    const { planner } = setup();
    const spike = incident("traffic_spike", floodingNeighbour, { interface: "n3-n2", metric: "neighbour_packets_per_s" });
    const plan = await planner.handleAnomaly(spike);
    expect(plan?.rule).toBe("traffic_spike/quarantine");
    expect(plan?.actions).toEqual([
      {
        type: "quarantine_neighbour",
        params: { node: "n3", interface: "n3-n2", mac: "02:00:00:00:00:07", ipv4: "10.200.0.9" },
        reason: "neighbour_packets_per_s spike from 02:00:00:00:00:07 (10.200.0.9) on n3/n3-n2: drop its frames in XDP",
      },
    ]);
    const resolved = await planner.handleAnomaly(later(spike, "resolved"));
    expect(resolved?.rule).toBe("traffic_spike/quarantine-kept");
    expect(resolved?.actions.map((action) => action.type)).toEqual(["notify"]);
  });

  test("planner - a quarantine its members voted down is not kept when the spike resolves", async () => {
    const voted: Policy = { ...shipped, kinds: { ...shipped.kinds, traffic_spike: { alternatives: [{ name: "quarantine", approval: "vote" }] } } };
    const { planner } = setup({ policy: voted });
    const spike = incident("traffic_spike", floodingNeighbour, { interface: "n3-n2", metric: "neighbour_packets_per_s" });
    const plan = await planner.handleAnomaly(spike);
    expect(plan?.approval).toBe("vote");
    await planner.handleResult(actionResult(plan as Plan, { status: "rejected", started_at: 0, detail: "proposal did not pass" }));
    const resolved = await planner.handleAnomaly(later(spike, "resolved"));
    expect(resolved?.rule).not.toBe("traffic_spike/quarantine-kept");
  });

  test("planner - retransmit storms notify", async () => {
    const { planner } = setup();
    const plan = await planner.handleAnomaly(incident("retransmit_storm", { type: "host", id: "host:n4", nodes: ["n4"] }));
    expect(plan?.rule).toBe("retransmit_storm/notify");
    expect(plan?.actions.map((action) => action.type)).toEqual(["notify"]);
  });

  test("planner - without topology or target, the fallback rules still give every incident a plan", async () => {
    const { planner, plans } = setup({ announcements: [] });
    // As the cross-service tests make it: interface counters, no target.
    const degraded = incident("link_degraded", undefined, { node: "lab1", interface: "mesh0", metric: "rx_errors_per_s" });
    const plan = await planner.handleAnomaly(degraded);
    expect(plan?.rule).toBe("no-topology-notify");
    expect(plan?.actions).toEqual([
      {
        type: "notify",
        params: { incident_id: degraded.incident_id, message: "link_degraded on lab1/mesh0 (rx_errors_per_s): no topology to plan on" },
        reason: "link_degraded on lab1/mesh0: tell operators; routes are left alone",
      },
    ]);
    await planner.handleAnomaly(incident("link_down", linkTarget("n1", "n2")));
    expect((await planner.handleAnomaly(later(degraded, "resolved")))?.rule).toBe("notify-resolved");
    // Thirty nodes at once (as the restart test does) are all planned: notifications spend no budget.
    for (let i = 0; i < 30; i++) await planner.handleAnomaly(incident("link_degraded", undefined, { node: `r${i}`, interface: "mesh0" }));
    expect(plans).toHaveLength(33);
  });

  test("planner - probe loss from telemetry raises a link's measured cost and is written to its record", async () => {
    const { planner, topologyStore, advance } = setup();
    const telemetry = (node: string, peer: string, loss: number): Uint8Array => {
      const sample: Telemetry = {
        v: 1,
        node,
        ts: 1,
        seq: 1,
        interval_ms: 100,
        source: "sysfs",
        ebpf: false,
        interfaces: [],
        probes: [{ peer: `${peer}:7471`, sent: 100, received: 100, loss, rtt_ms: 0.1, rtt_avg_ms: 0.1 }],
      };
      return new TextEncoder().encode(JSON.stringify(sample));
    };
    for (let i = 0; i < 20; i++) {
      planner.observeTelemetry("n1", telemetry("n1", "10.200.0.2", 0.3));
      planner.observeTelemetry("n2", telemetry("n2", "10.200.0.1", 0.3));
      advance(250);
    }
    await planner.tick();
    const record = LinkRecord.parse((await topologyStore.get("link.n1.n2"))?.value);
    // ETX with 30 % round-trip loss at each end: 1 / 0.7² ≈ 2.04, quantized to 2.
    expect(record).toMatchObject({ state: "up", cost: 2, routing_cost: 2, loss: { a_to_b: 0.3, b_to_a: 0.3 } });
    // A measured cost of 2 ties the two-hop detour, and ties go to the smallest first hop: n1 still goes direct.
    const plan = await planner.handleAnomaly(incident("link_down", linkTarget("n5", "n6")));
    expect(routeOf(plan, "n1", "n2")).toBeUndefined();
  });

  test("planner - a link_down merged into a node_unreachable keeps the link out: no restore in between, one restore at the end", async () => {
    const { planner, plans } = setup();
    const link = incident("link_down", linkTarget("n4", "n5"));
    await planner.handleAnomaly(link);
    const node = incident("node_unreachable", { type: "node", id: "node:n5", nodes: ["n5"] }, { incident_id: crypto.randomUUID(), node: "n5" });
    await planner.handleAnomaly(node);
    expect(await planner.handleAnomaly(later(link, "resolved", { resolution: "merged", merged_into: node.incident_id }))).toBeUndefined();
    expect(planner.topology.stateOf("link:n4|n5")).toBe("down");
    const restore = await planner.handleAnomaly(later(node, "resolved", { resolution: "cleared" }));
    expect(restore?.rule).toBe("node_unreachable/restore");
    expect(planner.topology.stateOf("link:n4|n5")).toBe("up");
    expect(plans.map((p) => p.rule)).toEqual(["link_down/reroute-around", "node_unreachable/reroute-around", "node_unreachable/restore"]);
  });

  test("planner - a new plan states again the routes of a plan still running, so its rollback cannot leave the new one incomplete", async () => {
    const { planner, advance } = setup();
    const first = await planner.handleAnomaly(incident("link_down", linkTarget("n1", "n2")));
    advance(100);
    const second = await planner.handleAnomaly(incident("link_down", linkTarget("n5", "n6"), { incident_id: crypto.randomUUID(), node: "n5" }));
    // Every route the first plan changes and still wants is in the second one too.
    for (const action of first?.actions ?? []) {
      const again = routeOf(second, String(action.params.node), String(action.params.destination));
      if (again) expect(again.prefix).toBe(action.params.prefix);
    }
    const restated = (first?.actions ?? []).filter((action) => routeOf(second, String(action.params.node), String(action.params.destination)));
    expect(restated.length).toBeGreaterThan(0);
    expect(second?.supersedes).toEqual([first?.plan_id as string]);
    // The first plan is rolled back later: the routes the second one stated again stay as the second one wants them.
    await planner.handleResult(result(first as Plan, "rolled_back", 2_000_000));
    for (const action of restated) {
      const key = routeKey(String(action.params.node), String(action.params.destination));
      expect(planner.installed().get(key)?.via).toBe(String(routeOf(second, String(action.params.node), String(action.params.destination))?.via));
    }
  });

  test("planner - a repair whose plan failed without changing anything is planned again after the backoff, with a new plan id", async () => {
    const { planner, plans, msgIDs, advance, now } = setup();
    const down = incident("link_down", linkTarget("n1", "n2"));
    const first = (await planner.handleAnomaly(down)) as Plan;
    // Its executors could not prepare it (NATS out of reach): nothing applied, the result says so.
    await planner.handleResult(result(first, "failed", now()));
    expect(await planner.tick()).toEqual([]);
    advance(shipped.retry.backoff_ms);
    const [again] = await planner.tick();
    expect(again?.incident_id).toBe(down.incident_id);
    expect(again?.plan_id).not.toBe(first.plan_id);
    expect(msgIDs.at(-1)).toBe(`plan:${down.incident_id}:0:retry:1`);
    // The same routes are stated again: the failed plan's changes were never installed.
    expect(again?.actions.map((action) => action.params)).toEqual(first.actions.map((action) => action.params));
    // The second failure waits twice as long; the policy allows three attempts, then the incident is left to its next state.
    await planner.handleResult(result(again as Plan, "failed", now()));
    advance(shipped.retry.backoff_ms);
    expect(await planner.tick()).toEqual([]);
    advance(shipped.retry.backoff_ms);
    const [third] = await planner.tick();
    await planner.handleResult(result(third as Plan, "failed", now()));
    advance(4 * shipped.retry.backoff_ms);
    const [fourth] = await planner.tick();
    await planner.handleResult(result(fourth as Plan, "failed", now()));
    advance(60_000);
    expect(await planner.tick()).toEqual([]);
    expect(plans.filter((plan) => plan.incident_id === down.incident_id)).toHaveLength(1 + shipped.retry.attempts);
  });

  test("planner - a rolled-back plan, a failure that applied something, or a resolved incident is not planned again", async () => {
    const { planner, plans, advance, now } = setup();
    const rolledBack = incident("link_down", linkTarget("n1", "n2"));
    const a = (await planner.handleAnomaly(rolledBack)) as Plan;
    await planner.handleResult(result(a, "rolled_back", now()));
    const partial = incident("link_down", linkTarget("n5", "n6"));
    const b = (await planner.handleAnomaly(partial)) as Plan;
    await planner.handleResult({ ...result(b, "failed", now()), applied_at: now() });
    const resolved = incident("link_down", linkTarget("n8", "n9"));
    const c = (await planner.handleAnomaly(resolved)) as Plan;
    await planner.handleResult(result(c, "failed", now()));
    await planner.handleAnomaly(later(resolved, "resolved"));
    const before = plans.length;
    advance(60_000);
    expect(await planner.tick()).toEqual([]);
    expect(plans).toHaveLength(before);
  });

  test("planner - topology analysis: written to x0_topology on a change of usable links, exported, and a repair notes its fragility", async () => {
    // A ring of four: no single point of failure until a link is cut.
    const { planner, topologyStore, registry } = setup({
      announcements: announcementsOf(4, [
        ["n1", "n2"],
        ["n2", "n3"],
        ["n3", "n4"],
        ["n4", "n1"],
      ]),
    });
    await planner.tick();
    const ring = TopologyAnalysis.parse((await topologyStore.get(TOPOLOGY_ANALYSIS_KEY))?.value);
    expect(ring).toMatchObject({ nodes: 4, links: 4, components: 1, bridges: [], articulation_points: [], edge_connectivity: 2 });
    expect(ring.pairs_by_disjoint_paths).toEqual({ 2: 6 });
    const written = (await topologyStore.get(TOPOLOGY_ANALYSIS_KEY))?.revision;
    await planner.tick();
    expect((await topologyStore.get(TOPOLOGY_ANALYSIS_KEY))?.revision).toBe(written);

    // Cut n1-n2: the detour n1 → n4 → n3 → n2 crosses two articulation points and three bridges of what is left.
    const plan = await planner.handleAnomaly(incident("link_down", linkTarget("n1", "n2")));
    expect(plan?.expected_effect?.fragility).toEqual({
      more_fragile: true,
      before: { components: 1, bridges: 0, articulation_points: 0, single_point_of_failure_nodes: 0 },
      // n4 is never on the smaller side: the middle bridge splits 2 / 2 and leaves n1's side as the larger (first) part.
      after: { components: 1, bridges: 3, articulation_points: 2, single_point_of_failure_nodes: 3 },
      paths_cross: ["link:n1|n4", "link:n2|n3", "link:n3|n4", "n3", "n4"],
    });
    const line = TopologyAnalysis.parse((await topologyStore.get(TOPOLOGY_ANALYSIS_KEY))?.value);
    expect(line).toMatchObject({ links: 3, articulation_points: ["n3", "n4"], edge_connectivity: 1 });
    expect(line.bridges.sort()).toEqual(["link:n1|n4", "link:n2|n3", "link:n3|n4"]);
    // n2 hangs on its own link and on n3, and the middle bridge cuts n2 and n3 off from n1 and n4.
    expect(line.per_node.find((node) => node.node === "n2")?.cut_off_by).toEqual(["link:n2|n3", "link:n3|n4", "n3"]);
    const metrics = await registry.metrics();
    expect(metrics).toContain('x0_topology_single_points_of_failure{kind="bridge"} 3');
    expect(metrics).toContain('x0_topology_single_points_of_failure{kind="articulation_point"} 2');
    expect(metrics).toContain("x0_topology_edge_connectivity 1");
  });

  test("planner - a repair around a grid link leaves no single point of failure: not more fragile", async () => {
    const { planner } = setup();
    const plan = await planner.handleAnomaly(incident("link_down", linkTarget("n5", "n6")));
    expect(plan?.expected_effect?.fragility).toMatchObject({ more_fragile: false, paths_cross: [], after: { bridges: 0, articulation_points: 0 } });
  });
});
