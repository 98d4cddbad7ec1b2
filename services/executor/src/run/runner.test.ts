import { describe, expect, test } from "bun:test";
import { ActionResult, createLogger, type PlannedAction } from "@x0/shared";
import { z } from "zod";
import { notifyActuator } from "../actuators/notify.ts";
import { ActuatorRegistry } from "../actuators/registry.ts";
import { type Actuator, observed } from "../actuators/types.ts";
import { memoryJournal } from "./journal.ts";
import { PlanRunner, type ProbeFn } from "./runner.ts";
import { planOf } from "./testing.ts";

const logger = createLogger({ service: "executor-test", node: "n1", level: "error" });

/** A key-value "kernel" that a fake route actuator changes; `refuse` makes apply fail for a key. */
function fakeKernel({ refuse = new Set<string>(), failRollback = false } = {}) {
  const state = new Map<string, string>([["k0", "old"]]);
  const calls: string[] = [];
  const actuator: Actuator<{ node: string; key: string; value: string }, { previous: string | null }> = {
    type: "route_replace",
    params: z.object({ node: z.string(), key: z.string(), value: z.string() }),
    reversible: true,
    handles: (params, ctx) => (params.node === "elsewhere" ? { ok: false, reason: `not for ${ctx.node}` } : { ok: true }),
    apply: async (step, ctx) => {
      const previous = state.get(step.params.key) ?? null;
      await ctx.beforeChange([{ step, undo: { previous } }]);
      calls.push(`apply ${step.params.key}`);
      if (refuse.has(step.params.key)) throw new Error(`kernel refused ${step.params.key}`);
      state.set(step.params.key, step.params.value);
      return { undo: { previous }, at: Date.now(), detail: `${step.params.key}=${step.params.value}` };
    },
    verify: async (step) => observed(state.get(step.params.key) === step.params.value, `${step.params.key} is ${state.get(step.params.key)}`),
    rollback: async (step, applied) => {
      calls.push(`rollback ${step.params.key}`);
      if (failRollback) throw new Error("rollback refused");
      if (applied.undo.previous === null) state.delete(step.params.key);
      else state.set(step.params.key, applied.undo.previous);
    },
  };
  return { state, calls, actuator };
}

const restart: Actuator<{ node: string }, null> = {
  type: "process_restart",
  params: z.object({ node: z.string() }),
  reversible: false,
  handles: () => ({ ok: true }),
  apply: async (step, ctx) => {
    await ctx.beforeChange([{ step, undo: null }]);
    return { undo: null, at: Date.now(), detail: "restarted" };
  },
  verify: async () => observed(true, "new pid alive"),
  rollback: async () => {
    throw new Error("cannot be undone");
  },
};

const action = (key: string, value: string, node = "n1"): PlannedAction => ({ type: "route_replace", params: { node, key, value }, reason: "test" });

function runnerWith(
  kernel: ReturnType<typeof fakeKernel>,
  { probe, extra = [], supersededBy }: { probe?: ProbeFn; extra?: Actuator<never, never>[]; supersededBy?: (planId: string) => string | undefined } = {},
) {
  const registry = new ActuatorRegistry().register(kernel.actuator).register(notifyActuator());
  for (const actuator of extra) registry.register(actuator);
  const metrics = { steps: [] as string[], verifications: 0, rollbacks: [] as string[] };
  const runner = new PlanRunner({
    registry,
    node: "n1",
    logger,
    probe,
    supersededBy,
    defaultDeadlineMs: 300,
    metrics: {
      step: (actuator, phase) => metrics.steps.push(`${actuator}/${phase}`),
      verification: () => {
        metrics.verifications += 1;
      },
      rollback: (outcome) => metrics.rollbacks.push(outcome),
    },
  });
  return { runner, metrics };
}

/** A batching actuator of `type` that logs when its batches start and end (20 ms apart); `refuse` fails a key. */
function loggingBatcher(type: PlannedAction["type"], log: string[], concurrencyGroup?: string, refuse?: string): Actuator<{ node: string; key: string }, null> {
  return {
    type,
    params: z.object({ node: z.string(), key: z.string() }),
    reversible: true,
    concurrencyGroup,
    handles: () => ({ ok: true }),
    apply: async () => {
      throw new Error("batched only");
    },
    applyBatch: async (steps, ctx) => {
      log.push(`start ${type}`);
      await ctx.beforeChange(steps.map((step) => ({ step, undo: null })));
      await Bun.sleep(20);
      log.push(`end ${type}`);
      return steps.map((step) =>
        step.params.key === refuse ? new Error(`refused ${step.params.key}`) : { undo: null, at: Date.now(), detail: `${type} ${step.params.key}` },
      );
    },
    verify: async () => observed(true, "fine"),
    rollback: async (step) => {
      log.push(`rollback ${step.params.key}`);
    },
  };
}

describe("runner", () => {
  test("runner - applied and observed: verified, with applied_at (the plan's and each step's), verified_at and what was observed; journaled before each change", async () => {
    const kernel = fakeKernel();
    const { runner, metrics } = runnerWith(kernel);
    const journal = memoryJournal();
    const result = await runner.run(planOf([action("k0", "new"), action("k1", "x")]), journal, { holder: "h1" });
    expect(ActionResult.safeParse(result).success).toBe(true);
    expect(result.status).toBe("verified");
    expect(result.steps.map((s) => s.status)).toEqual(["verified", "verified"]);
    expect(result.applied_at).toBeNumber();
    expect(result.verified_at).toBeGreaterThanOrEqual(result.applied_at as number);
    // Each step says when its change was made: in order, within the run, the last no later than the plan's applied_at.
    const [first, second] = result.steps.map((step) => step.applied_at as number);
    expect(first).toBeGreaterThanOrEqual(result.started_at);
    expect(second).toBeGreaterThanOrEqual(first as number);
    expect(second).toBeLessThanOrEqual(result.applied_at as number);
    expect(result.verification?.[0]).toMatchObject({ check: "steps", ok: true });
    // The journal held each step's undo data before its change, then its outcome.
    const states = journal.records.map((r) => r.entries.map((e) => `${e.index}:${e.state}`).join(","));
    expect(states).toEqual(["", "0:applying", "0:applied", "0:applied,1:applying", "0:applied,1:applied"]);
    expect(journal.records.at(-1)?.entries[0]?.undo).toEqual({ previous: "old" });
    expect(metrics.steps).toContain("route_replace/apply");
    expect(metrics.verifications).toBe(1);
  });

  test("runner - an effect not observed by the deadline rolls every applied step back in reverse order: rolled_back", async () => {
    const kernel = fakeKernel();
    const probe: ProbeFn = async () => observed(false, "0/3 hellos answered");
    const { runner, metrics } = runnerWith(kernel, { probe });
    const plan = planOf([action("k0", "new"), action("k1", "x")], {
      expected_effect: { summary: "n1 reaches n9", verify: [{ type: "probe", from: "n1", to: "10.255.0.9" }], deadline_ms: 200 },
    });
    const started = Date.now();
    const result = await runner.run(plan, memoryJournal(), { holder: "h1" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(result.status).toBe("rolled_back");
    expect(result.verification?.[0]).toMatchObject({ check: "probe n1→10.255.0.9", ok: false });
    expect(result.steps.map((s) => s.status)).toEqual(["rolled_back", "rolled_back"]);
    expect(kernel.calls).toEqual(["apply k0", "apply k1", "rollback k1", "rollback k0"]);
    expect(kernel.state).toEqual(new Map([["k0", "old"]]));
    expect(result.detail).toMatch(/effect not observed by the deadline/);
    expect(metrics.rollbacks).toEqual(["ok"]);
  });

  test("runner - a plan superseded while it is verified stops waiting and keeps its steps: applied, not rolled back", async () => {
    const kernel = fakeKernel();
    const probe: ProbeFn = async () => observed(false, "0/3 hellos answered");
    const newer = "22222222-2222-4222-8222-222222222222";
    let seenAt = Number.POSITIVE_INFINITY;
    const { runner, metrics } = runnerWith(kernel, { probe, supersededBy: () => (Date.now() >= seenAt ? newer : undefined) });
    const plan = planOf([action("k0", "new")], {
      expected_effect: { summary: "s", verify: [{ type: "probe", from: "n1", to: "10.255.0.9" }], deadline_ms: 5000 },
    });
    const started = Date.now();
    seenAt = started + 100;
    const result = await runner.run(plan, memoryJournal(), { holder: "h1" });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result.status).toBe("applied");
    expect(result.detail).toContain(`superseded by plan ${newer}`);
    expect(kernel.calls).toEqual(["apply k0"]);
    expect(metrics.rollbacks).toEqual([]);
  });

  test("runner - a plan already superseded when its turn comes is skipped: nothing applied", async () => {
    const kernel = fakeKernel();
    const { runner } = runnerWith(kernel, { supersededBy: () => "22222222-2222-4222-8222-222222222222" });
    const result = await runner.run(planOf([action("k0", "new")]), memoryJournal(), { holder: "h1" });
    expect(result.status).toBe("skipped");
    expect(result.detail).toContain("superseded by plan 22222222-2222-4222-8222-222222222222");
    expect(kernel.calls).toEqual([]);
  });

  test("runner - a probe that passes on a retry before the deadline verifies the plan", async () => {
    let attempts = 0;
    const probe: ProbeFn = async () => {
      attempts += 1;
      return observed(attempts >= 3, `${attempts >= 3 ? 1 : 0}/3 answered`);
    };
    const { runner } = runnerWith(fakeKernel(), { probe });
    const plan = planOf([action("k1", "x")], {
      expected_effect: { summary: "s", verify: [{ type: "probe", from: "n1", to: "10.255.0.9" }], deadline_ms: 2000 },
    });
    const result = await runner.run(plan, memoryJournal(), { holder: "h1" });
    expect(result.status).toBe("verified");
    expect(result.verification?.[0]?.detail).toMatch(/attempt 3/);
    // Probes alone say nothing per step: steps stay "applied".
    expect(result.steps[0]?.status).toBe("applied");
  });

  test("runner - a failing step stops the plan and undoes what was applied: failed", async () => {
    const kernel = fakeKernel({ refuse: new Set(["k2"]) });
    const { runner } = runnerWith(kernel);
    const result = await runner.run(planOf([action("k0", "new"), action("k2", "x"), action("k3", "y")]), memoryJournal(), { holder: "h1" });
    expect(result.status).toBe("failed");
    expect(result.steps.map((s) => s.status)).toEqual(["rolled_back", "failed", "skipped"]);
    // Only the step that made a change (since rolled back) has a time for it.
    expect(result.steps.map((s) => s.applied_at !== undefined)).toEqual([true, false, false]);
    expect(result.detail).toMatch(/step 1 \(route_replace\) failed: kernel refused k2/);
    expect(kernel.state.get("k0")).toBe("old");
  });

  test("runner - a rollback that fails makes the plan failed, not rolled_back", async () => {
    const kernel = fakeKernel({ failRollback: true });
    const probe: ProbeFn = async () => observed(false, "no");
    const { runner, metrics } = runnerWith(kernel, { probe });
    const plan = planOf([action("k1", "x")], { expected_effect: { summary: "s", verify: [{ type: "probe", from: "n1", to: "10.0.0.1" }], deadline_ms: 50 } });
    const result = await runner.run(plan, memoryJournal(), { holder: "h1" });
    expect(result.status).toBe("failed");
    expect(result.steps[0]).toMatchObject({ status: "failed", detail: expect.stringMatching(/rollback failed: rollback refused/) });
    expect(metrics.rollbacks).toEqual(["failed"]);
  });

  test("runner - an irreversible step is reported as such when the plan is rolled back", async () => {
    const kernel = fakeKernel();
    const probe: ProbeFn = async () => observed(false, "no");
    const { runner } = runnerWith(kernel, { probe, extra: [restart as unknown as Actuator<never, never>] });
    const plan = planOf([action("k1", "x"), { type: "process_restart", params: { node: "n1", process: "svc" }, reason: "r" }], {
      expected_effect: { summary: "s", verify: [{ type: "probe", from: "n1", to: "10.0.0.1" }], deadline_ms: 50 },
    });
    const result = await runner.run(plan, memoryJournal(), { holder: "h1" });
    expect(result.status).toBe("failed");
    expect(result.steps[1]).toMatchObject({ status: "applied", detail: expect.stringMatching(/cannot be rolled back/) });
    expect(result.steps[0]?.status).toBe("rolled_back");
  });

  test("runner - notify only: applied, nothing to verify; never success", async () => {
    const { runner } = runnerWith(fakeKernel());
    const result = await runner.run(planOf([{ type: "notify", params: { message: "resolved" }, reason: "tell" }]), memoryJournal(), { holder: "h1" });
    expect(result.status).toBe("applied");
    expect(result.steps[0]?.status).toBe("applied");
    expect(result.verification).toBeUndefined();
  });

  test("runner - unknown action types or invalid params fail the plan before anything is applied", async () => {
    const kernel = fakeKernel();
    const { runner } = runnerWith(kernel);
    const result = await runner.run(
      planOf([action("k1", "x"), { type: "reroute", params: { node: "n1" }, reason: "r" }, { type: "route_replace", params: { node: "n1" }, reason: "r" }]),
      memoryJournal(),
      { holder: "h1" },
    );
    expect(result.status).toBe("failed");
    expect(result.steps.map((s) => s.status)).toEqual(["skipped", "failed", "failed"]);
    expect(result.steps[1]?.detail).toBe("no actuator for reroute");
    expect(kernel.calls).toEqual([]);
  });

  test("runner - steps for nodes this executor cannot reach are skipped; a plan of only those is skipped", async () => {
    const { runner } = runnerWith(fakeKernel());
    const result = await runner.run(planOf([action("k1", "x", "elsewhere")]), memoryJournal(), { holder: "h1" });
    expect(result.status).toBe("skipped");
    expect(result.steps[0]).toMatchObject({ status: "skipped", detail: "not for n1" });
  });

  test("runner - recovery from a journal never applies again: verifies and keeps an observed effect", async () => {
    const kernel = fakeKernel();
    kernel.state.set("k1", "x"); // what the dead holder applied
    const { runner } = runnerWith(kernel);
    const plan = planOf([action("k1", "x"), action("k2", "y")]);
    const journal = memoryJournal();
    const existing = {
      plan_id: plan.plan_id,
      holder: "dead",
      started_at: Date.now() - 1000,
      entries: [
        {
          index: 0,
          type: "route_replace" as const,
          params: { node: "n1", key: "k1", value: "x" },
          state: "applied" as const,
          undo: { previous: null },
          ts: Date.now() - 900,
        },
      ],
    };
    const result = await runner.recover({ ...plan, expected_effect: { summary: "s", verify: [{ type: "steps" }], deadline_ms: 200 } }, existing, journal, {
      holder: "h2",
    });
    expect(kernel.calls).toEqual([]);
    expect(result.status).toBe("verified");
    expect(result.steps.map((s) => s.status)).toEqual(["verified", "skipped"]);
    expect(result.detail).toMatch(/taken over from dead .*1 of 2 steps had started; nothing re-applied/);
    expect(journal.records[0]?.recovered_by).toBe("h2");
  });

  test("runner - recovery rolls the journaled steps back when the effect is not observed (an in-flight step included)", async () => {
    const kernel = fakeKernel();
    kernel.state.set("k0", "new"); // applied by the dead holder; k1 was in flight and never landed
    const { runner } = runnerWith(kernel);
    const plan = planOf([action("k0", "new"), action("k1", "x")]);
    const now = Date.now();
    const existing = {
      plan_id: plan.plan_id,
      holder: "dead",
      started_at: now - 1000,
      entries: [
        { index: 0, type: "route_replace" as const, params: {}, state: "applied" as const, undo: { previous: "old" }, ts: now - 900 },
        { index: 1, type: "route_replace" as const, params: {}, state: "applying" as const, undo: { previous: null }, ts: now - 800 },
      ],
    };
    const result = await runner.recover(plan, existing, memoryJournal(), { holder: "h2" });
    expect(result.status).toBe("rolled_back");
    expect(kernel.calls).toEqual(["rollback k1", "rollback k0"]);
    expect(kernel.state).toEqual(new Map([["k0", "old"]]));
    expect(result.detail).toMatch(/nothing re-applied/);
  });

  test("runner - consecutive batches of one concurrency group apply at once; the next batch waits for both", async () => {
    const log: string[] = [];
    const kernel = fakeKernel();
    const { runner } = runnerWith(kernel, {
      extra: [
        loggingBatcher("batman_interface", log, "mesh"),
        loggingBatcher("batman_orig_interval", log, "mesh"),
        loggingBatcher("batman_hop_penalty", log),
      ] as Actuator<never, never>[],
    });
    const step = (type: PlannedAction["type"], key: string): PlannedAction => ({ type, params: { node: "n1", key }, reason: "test" });
    const journal = memoryJournal();
    const result = await runner.run(
      planOf([step("batman_interface", "a"), step("batman_interface", "b"), step("batman_orig_interval", "c"), step("batman_hop_penalty", "d")]),
      journal,
      { holder: "h1" },
    );
    expect(result.status).toBe("verified");
    // Both batches of the group started before either ended; the ungrouped batch started after both.
    expect(log).toEqual([
      "start batman_interface",
      "start batman_orig_interval",
      "end batman_interface",
      "end batman_orig_interval",
      "start batman_hop_penalty",
      "end batman_hop_penalty",
    ]);
    // Every step was journaled before its change and applied after it, whichever batch it was in.
    expect(
      journal.records
        .at(-1)
        ?.entries.map((entry) => `${entry.index}:${entry.state}`)
        .sort(),
    ).toEqual(["0:applied", "1:applied", "2:applied", "3:applied"]);
  });

  test("runner - a step failing in one batch of a concurrency group fails the plan and rolls back the other batch's steps too", async () => {
    const log: string[] = [];
    const { runner } = runnerWith(fakeKernel(), {
      extra: [loggingBatcher("batman_interface", log, "mesh"), loggingBatcher("batman_orig_interval", log, "mesh", "c")] as Actuator<never, never>[],
    });
    const step = (type: PlannedAction["type"], key: string): PlannedAction => ({ type, params: { node: "n1", key }, reason: "test" });
    const result = await runner.run(
      planOf([step("batman_interface", "a"), step("batman_orig_interval", "c"), step("batman_orig_interval", "e")]),
      memoryJournal(),
      {
        holder: "h1",
      },
    );
    expect(result.status).toBe("failed");
    expect(result.steps.map((s) => s.status)).toEqual(["rolled_back", "failed", "rolled_back"]);
    expect(result.detail).toMatch(/step 1 \(batman_orig_interval\) failed: refused c/);
    // The failed step was journaled before its change too, so it is undone as well (rollbacks are idempotent).
    expect(log.filter((line) => line.startsWith("rollback")).sort()).toEqual(["rollback a", "rollback c", "rollback e"]);
  });
});
