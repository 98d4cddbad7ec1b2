import { describe, expect, test } from "bun:test";
import { stepOf, testContext } from "../testing.ts";
import { batmanControl } from "./control.ts";
import { OrigIntervalParams, origIntervalActuator } from "./orig-interval.ts";
import { applyBatchJournaled, detailsOf, issuesOf, useFakeBatman } from "./testing.ts";

const fake = useFakeBatman();

describe("batman_orig_interval", () => {
  const ctx = testContext("n1");

  test("batman_orig_interval - applied, read back, rolled back to the previous value", async () => {
    const interval = origIntervalActuator(batmanControl({ batctl: fake.batctl }));
    const step = stepOf("batman_orig_interval", OrigIntervalParams.parse({ node: "n1", mesh_interface: "bat0", value: "250" }));
    const applied = await interval.apply(step, ctx);
    expect(applied.undo).toEqual({ previous: 1000 });
    expect(ctx.journaled.at(-1)?.undo).toEqual({ previous: 1000 });
    expect(fake.state().meshif.bat0.orig_interval).toBe(250);
    const observation = await interval.verify(step, applied, ctx);
    expect(observation).toMatchObject({ ok: true, detail: "batctl reads orig_interval 250 ms on bat0 (want 250 ms)" });
    await interval.rollback(step, applied, ctx);
    expect(fake.state().meshif.bat0.orig_interval).toBe(1000);
    expect((await interval.verify(step, applied, ctx)).ok).toBe(false);
  });

  test("batman_orig_interval - several nodes in one batch: one journal write before any change, then each read back", async () => {
    const interval = origIntervalActuator(batmanControl({ batctl: fake.nsBatctl, ip: fake.ip, netnsTemplate: "x0-{node}" }));
    const batchCtx = testContext("site");
    const intervals = () => ["x0-n1", "x0-n2"].map((ns) => fake.nsState(ns).meshif.bat0.orig_interval as number);
    // Different intervals per node: each rollback must restore its own node's.
    const before = [1000, 1500];
    for (const [k, ns] of ["x0-n1", "x0-n2"].entries()) {
      const state = fake.nsState(ns);
      state.meshif.bat0.orig_interval = before[k];
      fake.setNsState(ns, state);
    }
    const steps = ["n1", "n2"].map((node, index) =>
      stepOf("batman_orig_interval", OrigIntervalParams.parse({ node, mesh_interface: "bat0", value: 100 }), index),
    );
    const { results, changedBeforeJournal } = await applyBatchJournaled(interval, steps, batchCtx, () => intervals().some((value, k) => value !== before[k]));
    expect(changedBeforeJournal).toBe(false);
    expect(batchCtx.journaled.map((item) => [item.step.index, item.undo])).toEqual([
      [0, { previous: before[0] }],
      [1, { previous: before[1] }],
    ]);
    expect(detailsOf(results)).toEqual([`n1: orig_interval of bat0 ${before[0]} ms → 100 ms`, `n2: orig_interval of bat0 ${before[1]} ms → 100 ms`]);
    expect(intervals()).toEqual([100, 100]);
    for (const [k, step] of steps.entries()) {
      const applied = results[k];
      if (applied === undefined || applied instanceof Error) throw new Error("not applied");
      expect((await interval.verify(step, applied, batchCtx)).ok).toBe(true);
      await interval.rollback(step, applied, batchCtx);
    }
    expect(intervals()).toEqual(before);
  });

  test("batman_orig_interval - invalid params are rejected with a message naming the problem", () => {
    const bad = (value: unknown) => OrigIntervalParams.safeParse({ node: "n1", mesh_interface: "bat0", value });
    expect(issuesOf(bad(39))).toMatch(/at least 40 ms/);
    expect(issuesOf(bad(60_001))).toMatch(/at most 60000 ms/);
    expect(bad("fast").success).toBe(false);
    expect(bad(1000.5).success).toBe(false);
  });
});
