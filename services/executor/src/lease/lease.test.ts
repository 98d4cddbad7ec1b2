// Exactly once across executor instances, against a real nats-server: leases, takeovers and the journal in x0_outcomes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Buckets, connectNats, createLogger, openBucket, type PlannedAction } from "@x0/shared";
import { type NatsServer, startNatsServer } from "@x0/shared/testing";
import { z } from "zod";
import { ActuatorRegistry } from "../actuators/registry.ts";
import { type Actuator, observed } from "../actuators/types.ts";
import { LeaseLost, PlanInProgress } from "../errors.ts";
import { PlanHandler } from "../run/handle-plan.ts";
import { PlanRunner } from "../run/runner.ts";
import { planOf } from "../run/testing.ts";
import { type KvStore, PlanLeases } from "./lease.ts";

const logger = createLogger({ service: "executor-test", node: "n1", level: "error" });
let nats: NatsServer;
let nc: Awaited<ReturnType<typeof connectNats>>;
let kv: KvStore;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connectNats({ servers: [nats.url], service: "executor-test", instance: "t" });
  kv = await openBucket(nc, Buckets.outcomes);
});
afterAll(async () => {
  await nc.close();
  await nats.dispose();
});

/** A shared fake kernel: every apply is counted; `gate` holds applies of a key until released. */
function kernel() {
  const state = new Map<string, string>();
  const applies: string[] = [];
  const gates = new Map<string, Promise<void>>();
  const actuator: Actuator<{ key: string; value: string }, { previous: string | null }> = {
    type: "route_replace",
    params: z.object({ key: z.string(), value: z.string() }),
    reversible: true,
    handles: () => ({ ok: true }),
    apply: async (step, ctx) => {
      const previous = state.get(step.params.key) ?? null;
      await ctx.beforeChange([{ step, undo: { previous } }]);
      applies.push(step.params.key);
      await gates.get(step.params.key);
      await Bun.sleep(30);
      state.set(step.params.key, step.params.value);
      return { undo: { previous }, at: Date.now(), detail: `${step.params.key}=${step.params.value}` };
    },
    verify: async (step) => observed(state.get(step.params.key) === step.params.value, `${step.params.key} is ${state.get(step.params.key) ?? "unset"}`),
    rollback: async (step, applied) => {
      if (applied.undo.previous === null) state.delete(step.params.key);
      else state.set(step.params.key, applied.undo.previous);
    },
  };
  return { state, applies, gates, actuator };
}

/** An executor instance: its own leases (holder) and runner over the shared bucket; `kill()` makes its bucket calls fail like a dead process's. */
function instance(name: string, k: ReturnType<typeof kernel>, ttlMs = 5000) {
  let dead = false;
  const guard =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      dead ? new Promise<R>(() => {}) : call(...args);
  const store: KvStore = {
    get: guard((key: string) => kv.get(key)),
    create: guard((key: string, data: string) => kv.create(key, data)),
    update: guard((key: string, data: string, version: number) => kv.update(key, data, version)),
    delete: guard((key: string, opts?: { previousSeq?: number }) => kv.delete(key, opts)),
  };
  const leases = new PlanLeases({ kv: store, holder: `${name}.${crypto.randomUUID().slice(0, 8)}`, ttlMs });
  const runner = new PlanRunner({ registry: new ActuatorRegistry().register(k.actuator), node: "n1", logger, defaultDeadlineMs: 300 });
  const handler = new PlanHandler({ mode: "enforce", outcomes: store, leases, runner, logger, sign: (result) => result });
  return {
    handler,
    leases,
    kill: () => {
      dead = true;
    },
  };
}

const action = (key: string, value: string): PlannedAction => ({ type: "route_replace", params: { key, value }, reason: "test" });

describe("lease", () => {
  test("lease - two instances racing on one plan: it is applied once, and the other republishes the recorded result", async () => {
    const k = kernel();
    const [a, b] = [instance("a", k), instance("b", k)];
    const plan = planOf([action("k1", "x"), action("k2", "y")]);
    const delivery = { sequence: 7, redelivered: false };
    const outcomes = await Promise.allSettled([a.handler.handle(plan, delivery), b.handler.handle(plan, delivery)]);
    const won = outcomes.filter((o) => o.status === "fulfilled");
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]?.reason).toBeInstanceOf(PlanInProgress);
    expect(k.applies).toEqual(["k1", "k2"]);
    // The loser's message is redelivered: it finds the recorded result and republishes it, without running anything.
    const again = await b.handler.handle(plan, { sequence: 7, redelivered: true });
    expect(again).toMatchObject({ kind: "result", republished: true, result: { status: "verified" } });
    expect(k.applies).toEqual(["k1", "k2"]);
    // The lease and the journal are gone once the outcome is recorded.
    expect((await kv.get(`lease.${plan.plan_id}`))?.operation ?? "absent").not.toBe("PUT");
    expect((await kv.get(`journal.${plan.plan_id}`))?.operation ?? "absent").not.toBe("PUT");
    // The same plan in a new stream message is a replay.
    expect(await b.handler.handle(plan, { sequence: 8, redelivered: false })).toMatchObject({ kind: "replayed" });
  });

  test("lease - a holder that dies mid-plan is taken over after its lease expires: verified or rolled back, never applied again", async () => {
    const k = kernel();
    let release = () => {};
    k.gates.set("k2", new Promise<void>((resolve) => (release = resolve)));
    const a = instance("a", k, 400);
    const plan = planOf([action("k1", "x"), action("k2", "y")]);
    const delivery = { sequence: 9, redelivered: false };
    void a.handler.handle(plan, delivery).catch(() => {});
    // a applied k1 and is inside k2's change when it dies.
    while (k.applies.length < 2) await Bun.sleep(10);
    a.kill();
    release();
    const b = instance("b", k, 400);
    await expect(b.handler.handle(plan, { sequence: 9, redelivered: true })).rejects.toBeInstanceOf(PlanInProgress);
    await Bun.sleep(450);
    const handled = await b.handler.handle(plan, { sequence: 9, redelivered: true });
    expect(handled).toMatchObject({ kind: "result", takeover: true });
    if (handled.kind !== "result") throw new Error("no result");
    // b never applied: the only applies are a's.
    expect(k.applies).toEqual(["k1", "k2"]);
    expect(handled.result.detail).toMatch(/taken over from a\..* \(lease expired\).*2 of 2 steps had started; nothing re-applied/);
    // k2's change landed after a died (the gate opened), so both steps are observed: the plan is verified as it stands.
    expect(handled.result.status).toBe("verified");
    expect(handled.result.steps.map((s) => s.status)).toEqual(["verified", "verified"]);
  });

  test("lease - a taken-over plan whose effect is not there is rolled back from the journal", async () => {
    const k = kernel();
    k.gates.set("k2", new Promise<void>(() => {}));
    const a = instance("a", k, 300);
    const plan = planOf([action("k1", "x"), action("k2", "y"), action("k3", "z")]);
    void a.handler.handle(plan, { sequence: 11, redelivered: false }).catch(() => {});
    while (k.applies.length < 2) await Bun.sleep(10);
    a.kill();
    await Bun.sleep(350);
    const b = instance("b", k, 300);
    const handled = await b.handler.handle(plan, { sequence: 11, redelivered: true });
    if (handled.kind !== "result") throw new Error("no result");
    expect(k.applies).toEqual(["k1", "k2"]);
    expect(handled.result.status).toBe("rolled_back");
    expect(handled.result.steps.map((s) => s.status)).toEqual(["rolled_back", "rolled_back", "skipped"]);
    expect(k.state.size).toBe(0);
  });

  test("lease - renewal keeps a lease; after a takeover the old holder's renewal and journal writes fail with LeaseLost", async () => {
    const planId = crypto.randomUUID();
    const a = new PlanLeases({ kv, holder: "a", ttlMs: 200 });
    const b = new PlanLeases({ kv, holder: "b", ttlMs: 200 });
    const first = await a.acquire(planId);
    if (first.status === "held") throw new Error("not acquired");
    await first.lease.write({ plan_id: planId, holder: "a", started_at: Date.now(), entries: [] });
    await Bun.sleep(120);
    await first.lease.renew();
    await Bun.sleep(120);
    expect((await b.acquire(planId)).status).toBe("held");
    await Bun.sleep(250);
    const second = await b.acquire(planId);
    expect(second).toMatchObject({ status: "took_over", previous: { holder: "a" } });
    if (second.status !== "took_over") throw new Error("not taken over");
    expect((await second.lease.readJournal())?.holder).toBe("a");
    await second.lease.write({ plan_id: planId, holder: "a", started_at: Date.now(), entries: [], recovered_by: "b" });
    await expect(first.lease.renew()).rejects.toBeInstanceOf(LeaseLost);
    await expect(first.lease.write({ plan_id: planId, holder: "a", started_at: Date.now(), entries: [] })).rejects.toBeInstanceOf(LeaseLost);
    expect(first.lease.signal.aborted).toBe(true);
    await second.lease.release();
  });

  test("lease - concurrent journal writes of one holder (namespaces changed in parallel) are serialised, never mistaken for another holder", async () => {
    const planId = crypto.randomUUID();
    const leases = new PlanLeases({ kv, holder: "parallel", ttlMs: 5000 });
    const acquired = await leases.acquire(planId);
    if (acquired.status !== "acquired") throw new Error("not acquired");
    const record = { plan_id: planId, holder: "parallel", started_at: Date.now(), entries: [] as never[] };
    await Promise.all(Array.from({ length: 8 }, () => acquired.lease.write(record)));
    expect(acquired.lease.signal.aborted).toBe(false);
    expect((await acquired.lease.readJournal())?.holder).toBe("parallel");
    await acquired.lease.release();
  });
});
