import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createLogger, type Live, type Plan } from "@x0/shared";
import { Registry } from "prom-client";
import { MemoryStore } from "../kv.ts";
import { createMetrics } from "../metrics.ts";
import { OutcomeStore } from "../outcomes/store.ts";
import { Planner } from "../planner.ts";
import { loadPolicy } from "../policy/policy.ts";
import { gridAnnouncements, incident, linkTarget } from "../testing.ts";
import { FencedStore, NotLeader } from "./fenced-store.ts";
import { PlannerRole } from "./role.ts";

const policy = loadPolicy(join(import.meta.dir, "..", "..", "policy.yaml"));
const logger = createLogger({ service: "planner-test", node: "test", level: "error" });

/** A role over in-memory stores; `leader` is what the lease says, `consumers` what each term started. */
function setup(topologyStore = new MemoryStore()) {
  const state = { leader: false };
  const plans: Plan[] = [];
  const consumers: { live: boolean }[] = [];
  const metrics = createMetrics(new Registry());
  const outcomes = new OutcomeStore(new FencedStore(new MemoryStore(), () => state.leader));
  const role = new PlannerRole({
    newPlanner: () =>
      new Planner({
        policy,
        topologyStore: new FencedStore(topologyStore, () => state.leader),
        outcomes,
        logger,
        metrics,
        publish: async (plan) => {
          if (!state.leader) throw new NotLeader("not the leader");
          plans.push(plan);
        },
      }),
    outcomes,
    tickMs: 60_000,
    logger,
    consume: async () => {
      const consumer = { live: true };
      consumers.push(consumer);
      const live: Live = {
        name: "consumer",
        isLive: () => consumer.live,
        stop: async () => {
          consumer.live = false;
        },
      };
      return [live];
    },
  });
  for (const announcement of gridAnnouncements(3, 3)) role.announce(announcement);
  return { role, state, plans, consumers, topologyStore };
}

describe("planner role", () => {
  test("planner role - a standby keeps its graph warm but refuses incident states and writes nothing", async () => {
    const { role, plans, consumers, topologyStore } = setup();
    expect(role.planner.topology.linkCount()).toBe(12);
    expect(role.isLive()).toBe(true);
    await expect(role.handleAnomaly(incident("link_down", linkTarget("n1", "n2")))).rejects.toBeInstanceOf(NotLeader);
    expect(plans).toEqual([]);
    expect(consumers).toEqual([]);
    expect(topologyStore.entries.size).toBe(0);
  });

  test("planner role - the leader resumes from the link records and consumes; demoted, it stops and starts over warm", async () => {
    const { role, state, plans, consumers, topologyStore } = setup();
    state.leader = true;
    await role.lead();
    expect(consumers).toHaveLength(1);
    const down = incident("link_down", linkTarget("n1", "n2"));
    await role.handleAnomaly(down);
    expect(plans.map((plan) => plan.rule)).toEqual(["link_down/reroute-around"]);
    expect(topologyStore.entries.get("link.n1.n2")?.value).toMatchObject({ state: "down" });

    state.leader = false;
    await role.standBy();
    expect(consumers[0]?.live).toBe(false);
    expect(role.leading).toBe(false);
    // A fresh planner with the announcements, and without the last term's memory until it restores.
    expect(role.planner.topology.linkCount()).toBe(12);
    expect(role.planner.topology.stateOf("link:n1|n2")).toBe("up");

    state.leader = true;
    await role.lead();
    expect(role.planner.topology.stateOf("link:n1|n2")).toBe("down");
    expect(consumers).toHaveLength(2);
  });

  test("planner role - a demoted planner's late writes are refused", async () => {
    const store = new MemoryStore();
    let leader = true;
    const fenced = new FencedStore(store, () => leader);
    await fenced.put("routes.current", { a: 1 });
    leader = false;
    await expect(fenced.put("routes.current", { a: 2 })).rejects.toBeInstanceOf(NotLeader);
    await expect(fenced.delete("routes.current")).rejects.toBeInstanceOf(NotLeader);
    expect((await fenced.get("routes.current"))?.value).toEqual({ a: 1 });
  });
});
