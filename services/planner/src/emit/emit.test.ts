import { describe, expect, test } from "bun:test";

import { createLogger, Plan, type PlannedAction, PlanRecord } from "@x0/shared";

import { Registry } from "prom-client";

import { MemoryStore } from "../kv.ts";

import { createMetrics } from "../metrics.ts";

import { OutcomeStore } from "../outcomes/store.ts";

import { incident, linkTarget } from "../testing.ts";

import { MAX_ACTIONS, originOf, PlanEmitter, type Proposal, planIdFor } from "./emit.ts";

const NOW = 1_000_000;

function setup(plansPerMinute = 30) {
  const published: { plan: Plan; msgID: string }[] = [];
  const registry = new Registry();
  const outcomeStore = new MemoryStore();
  const counters: Record<string, number> = {};
  const logs: { level: string; msg: string }[] = [];
  const emitter = new PlanEmitter({
    publish: async (plan, msgID) => {
      published.push({ plan: Plan.parse(plan), msgID });
    },
    outcomes: new OutcomeStore(outcomeStore),
    logger: createLogger({ service: "planner-test", node: "test", level: "warn", write: (line) => logs.push(JSON.parse(line)) }),
    metrics: createMetrics(registry),
    counters,
    plansPerMinute,
    deadlineMs: 2000,
  });
  const records = async () => Promise.all((await outcomeStore.keys("planned.>")).map(async (key) => PlanRecord.parse((await outcomeStore.get(key))?.value)));
  return { emitter, published, registry, counters, records, logs };
}

const down = incident("link_down", linkTarget("n1", "n2"));
const origin = originOf(down, {
  rule: "link_down/reroute-around",
  approval: "auto",
  alternatives: [{ name: "reroute-around", chosen: true, score: 0.5, attempts: 0, success_rate: null, median_ttr_ms: null }],
  ranked: "reroute-around",
});
const step = (i: number): PlannedAction => ({ type: "notify", params: { incident_id: down.incident_id, message: `step ${i}` }, reason: "test" });
const proposal = (steps: number, overrides: Partial<Proposal> = {}): Proposal => ({
  actions: Array.from({ length: steps }, (_, i) => step(i)),
  summary: "link_down on link n1|n2: reroute-around",
  unchanged: "nothing to change",
  verify: [],
  deadlineMs: 3000,
  record: { changes: [] },
  ...overrides,
});

describe("plan emitter", () => {
  test("plan emitter - plan ids are UUIDv8 derived from the message id, the same for the same id", () => {
    expect(planIdFor("plan:a:0")).toBe(planIdFor("plan:a:0"));
    expect(planIdFor("plan:a:0")).not.toBe(planIdFor("plan:a:1"));
    expect(planIdFor("plan:a:0")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(origin.msgID).toBe(`plan:${down.incident_id}:0`);
  });

  test("plan emitter - a proposal is published as a plan of its steps, counted, and recorded for its outcome", async () => {
    const { emitter, published, registry, counters, records } = setup();
    const emitted = await emitter.emit(origin, proposal(2, { supersedes: ["11111111-1111-4111-8111-111111111111"] }), undefined, NOW);
    expect(emitted.outcome).toBe("published");
    expect(published).toHaveLength(1);
    const { plan, msgID } = published[0] as { plan: Plan; msgID: string };
    expect(msgID).toBe(origin.msgID);
    expect(plan).toMatchObject({
      plan_id: planIdFor(origin.msgID),
      incident_id: down.incident_id,
      rule: "link_down/reroute-around",
      approval: "auto",
      created_at: NOW,
      anomaly_update: 0,
      supersedes: ["11111111-1111-4111-8111-111111111111"],
      expected_effect: { summary: "link_down on link n1|n2: reroute-around", verify: [], deadline_ms: 3000 },
    });
    expect(plan.actions).toHaveLength(2);
    expect(plan.alternatives?.[0]?.name).toBe("reroute-around");
    expect(counters.plans).toBe(1);
    expect(await registry.getSingleMetricAsString("x0_plans_total")).toContain('rule="link_down/reroute-around"');
    expect((await records()).map((record) => [record.plan_id, record.alternative])).toEqual([[plan.plan_id, "reroute-around"]]);
  });

  test("plan emitter - no steps: a notify in the plan's place, not ranked; nothing at all when the proposal says nothing", async () => {
    const { emitter, published, records } = setup();
    const emitted = await emitter.emit(origin, proposal(0), undefined, NOW);
    expect(emitted.outcome).toBe("unchanged");
    expect(emitted.plan?.actions).toEqual([
      { type: "notify", params: { incident_id: down.incident_id, message: "nothing to change" }, reason: "tell operators; nothing in the network changes" },
    ]);
    expect(emitted.plan?.alternatives).toHaveLength(1);
    expect(emitted.plan?.expected_effect?.deadline_ms).toBe(2000);
    expect(await records()).toEqual([]);
    expect(await emitter.emit(origin, proposal(0, { unchanged: undefined }), undefined, NOW)).toEqual({ outcome: "unchanged", plan: undefined });
    expect(published).toHaveLength(1);
  });

  test("plan emitter - more steps than one plan holds: a manual notify instead, with neither alternatives nor a record", async () => {
    const { emitter, records, logs } = setup();
    const tooMany = await emitter.emit(origin, proposal(MAX_ACTIONS + 1, { tooLarge: "too many" }), undefined, NOW);
    expect(tooMany.outcome).toBe("too-large");
    expect(tooMany.plan?.approval).toBe("manual");
    expect(tooMany.plan?.alternatives).toBeUndefined();
    expect(tooMany.plan?.actions.map((action) => action.params.message)).toEqual(["too many"]);
    expect(await records()).toEqual([]);
    expect(logs).toMatchObject([{ level: "error", msg: "plan too large for one plan message", steps: MAX_ACTIONS + 1, max: MAX_ACTIONS }]);
    // Exactly as many as one plan holds is still a plan.
    expect((await emitter.emit(origin, proposal(MAX_ACTIONS), undefined, NOW)).outcome).toBe("published");
  });

  test("plan emitter - beyond the action budget no plan is published and the exhaustion is counted; notifies spend none", async () => {
    const { emitter, published, registry, logs } = setup(1);
    expect((await emitter.emit(origin, proposal(1), undefined, NOW)).outcome).toBe("published");
    expect(await emitter.emit({ ...origin, msgID: "plan:x:1" }, proposal(1), undefined, NOW)).toEqual({ outcome: "budget" });
    expect(await registry.getSingleMetricAsString("x0_planner_budget_exhausted_total")).toContain("x0_planner_budget_exhausted_total 1");
    expect(logs.map((line) => line.msg)).toEqual(["action budget exhausted: no plan"]);
    await emitter.notify(origin, "still told", undefined, NOW);
    expect(published.map(({ plan }) => plan.actions.length)).toEqual([1, 1]);
    // A minute later the budget is back.
    expect((await emitter.emit({ ...origin, msgID: "plan:x:2" }, proposal(1), undefined, NOW + 60_000)).outcome).toBe("published");
  });
});
