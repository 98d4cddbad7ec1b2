// Node executors carrying out one plan together over a real nats-server (the coordination record, leases and journals in
// x0_outcomes), each applying its steps to its own in-memory kernel: waves, rollback, and each kind of crash.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  Buckets,
  Coordination,
  connectNats,
  createLogger,
  openBucket,
  type Plan,
  type PlannedAction,
  TxnParticipant,
  txnKey,
  txnParticipantKey,
} from "@x0/shared";
import { type NatsServer, startNatsServer, waitFor } from "@x0/shared/testing";
import { z } from "zod";
import { ActuatorRegistry } from "../actuators/registry.ts";
import { type Actuator, observed } from "../actuators/types.ts";
import { PlanInProgress } from "../errors.ts";
import { nodeKeys, PlanLeases } from "../lease/lease.ts";
import type { Handled } from "../run/outcomes.ts";
import { PlanRunner } from "../run/runner.ts";
import { planOf } from "../run/testing.ts";
import { CoordinatedPlans } from "./coordinated.ts";
import { stateOf } from "./protocol.ts";
import { CoordinationRecords, type WatchableKv } from "./store.ts";

const logger = createLogger({ service: "executor-test", node: "n1", level: "error" });
let nats: NatsServer;
let nc: Awaited<ReturnType<typeof connectNats>>;
let kv: Awaited<ReturnType<typeof openBucket>>;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connectNats({ servers: [nats.url], service: "executor-test", instance: "t" });
  kv = await openBucket(nc, Buckets.outcomes);
});
afterAll(async () => {
  await nc.close();
  await nats.dispose();
});

/** Every node's kernel: routes by node and destination; every apply is logged in order; `refuse` fails a node's applies. */
function mesh() {
  const routes = new Map<string, string>([
    ["n1>n9", "old"],
    ["n2>n9", "old"],
    ["n3>n9", "old"],
  ]);
  const applies: string[] = [];
  const refuse = new Set<string>();
  const gates = new Map<string, Promise<void>>();
  const actuator: Actuator<{ node: string; destination: string; value: string }, { previous: string | null }> = {
    type: "route_replace",
    params: z.object({ node: z.string(), destination: z.string(), value: z.string() }),
    reversible: true,
    handles: (params, ctx) => (params.node === ctx.node ? { ok: true } : { ok: false, reason: `not ${ctx.node}'s` }),
    apply: async (step, ctx) => {
      const key = `${step.params.node}>${step.params.destination}`;
      const previous = routes.get(key) ?? null;
      await ctx.beforeChange([{ step, undo: { previous } }]);
      applies.push(key);
      await gates.get(key);
      if (refuse.has(step.params.node)) throw new Error(`RTNETLINK answers: Network is unreachable (${step.params.node})`);
      routes.set(key, step.params.value);
      return { undo: { previous }, at: Date.now(), detail: `${key}=${step.params.value}` };
    },
    verify: async (step) => observed(routes.get(`${step.params.node}>${step.params.destination}`) === step.params.value, "read back"),
    rollback: async (step, applied) => {
      const key = `${step.params.node}>${step.params.destination}`;
      if (applied.undo.previous === null) routes.delete(key);
      else routes.set(key, applied.undo.previous);
    },
  };
  return { routes, applies, refuse, gates, actuator };
}

/** One node's executor over the shared bucket; `kill()` stops its watch and makes its bucket calls hang like a dead process's. */
function executor(node: string, m: ReturnType<typeof mesh>, { probeOk = (): boolean => true, deadlineMs = 3000, graceMs = 400, ttlMs = 3000 } = {}) {
  let dead = false;
  const guard =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      dead ? new Promise<R>(() => {}) : call(...args);
  const store: WatchableKv = {
    get: guard((key: string) => kv.get(key)),
    create: guard((key: string, data: string) => kv.create(key, data)),
    update: guard((key: string, data: string, version: number) => kv.update(key, data, version)),
    delete: guard((key: string, opts?: { previousSeq?: number }) => kv.delete(key, opts)),
    watch: guard((options: Parameters<WatchableKv["watch"]>[0]) => kv.watch(options)),
  };
  const leases = new PlanLeases({ kv: store, holder: `${node}.${crypto.randomUUID().slice(0, 8)}`, ttlMs, keys: nodeKeys(node) });
  const runner = new PlanRunner({
    registry: new ActuatorRegistry().register(m.actuator),
    node,
    logger,
    probe: async () => observed(probeOk(), probeOk() ? "3/3 hellos" : "0/3 hellos"),
    defaultDeadlineMs: 300,
  });
  const records = CoordinationRecords.start(store, logger);
  const plans = records.then(
    (watched) =>
      new CoordinatedPlans({
        node,
        mode: "enforce",
        outcomes: store,
        records: watched,
        leases,
        runner,
        sign: (r) => r,
        logger,
        deadlineMs,
        graceMs,
        defaultVerifyMs: 300,
      }),
  );
  return {
    handle: async (plan: Plan, redelivered = false) => (await plans).handle(plan, { sequence: 1, redelivered }),
    kill: () => {
      dead = true;
      void records.then((watched) => watched.stop());
    },
  };
}

const route = (node: string, path: string, value = "new"): PlannedAction => ({
  type: "route_replace",
  params: { node, destination: "n9", path, value },
  reason: `${node} reroutes`,
});
/** n1 → n2 → n3 → n9: installed n3 first, then n2, then n1; n1 coordinates. */
const chain = (): Plan =>
  planOf([route("n1", "n2,n3,n9"), route("n2", "n3,n9"), route("n3", "n9")], {
    node: "n1",
    expected_effect: { summary: "s", verify: [{ type: "probe", from: "n1", to: "10.255.0.9" }], deadline_ms: 300 },
  });
const NODES = ["n1", "n2", "n3"];
/** The plan's coordination record with each participant's own record. */
const txn = async (plan: Plan) => {
  const record = Coordination.parse((await kv.get(txnKey(plan.plan_id)))?.json());
  const parts = new Map<string, TxnParticipant>();
  for (const { node } of record.participants) {
    const entry = await kv.get(txnParticipantKey(plan.plan_id, node));
    if (entry?.operation === "PUT") parts.set(node, TxnParticipant.parse(entry.json()));
  }
  return stateOf(record, parts);
};
const resultOf = (handled: Handled | undefined) => (handled?.kind === "result" ? handled.result : undefined);
const keysLeft = async (plan: Plan) => {
  const left: string[] = [];
  for (const node of NODES)
    for (const key of [`lease.${plan.plan_id}.${node}`, `journal.${plan.plan_id}.${node}`]) if ((await kv.get(key))?.operation === "PUT") left.push(key);
  return left;
};

/** The chain plan on three executors, the coordinator n1 killed while n2 is inside its change (wave 1); n2 then finishes it. */
async function coordinatorKilledInWave1(options: Parameters<typeof executor>[2]) {
  const m = mesh();
  let release = () => {};
  m.gates.set("n2>n9", new Promise<void>((resolve) => (release = resolve)));
  const plan = chain();
  const [n1, n2, n3] = NODES.map((node) => executor(node, m, options));
  void n1?.handle(plan).catch(() => {});
  const participants = Promise.all([n2?.handle(plan), n3?.handle(plan)]);
  await waitFor("wave 1 under way", () => m.applies.includes("n2>n9"), 3000);
  n1?.kill();
  release();
  return { m, plan, participants };
}

describe("coordinated plans", () => {
  test("coordinated - three node executors apply their own steps from the destination side back, and the coordinator reports verified", async () => {
    const m = mesh();
    const plan = chain();
    const executors = NODES.map((node) => executor(node, m));
    const handled = await Promise.all(executors.map((e) => e.handle(plan)));
    expect(handled.map((h) => h.kind)).toEqual(["result", "none", "none"]);
    const result = resultOf(handled[0]);
    expect(result).toMatchObject({ status: "verified", node: "n1" });
    expect(m.applies).toEqual(["n3>n9", "n2>n9", "n1>n9"]);
    expect(result?.participants?.map((p) => p.node)).toEqual(["n1", "n2", "n3"]);
    expect(result?.steps.map((s) => s.detail.split(":")[0])).toEqual(["n1", "n2", "n3"]);
    expect((await txn(plan)).phase).toBe("verified");
    expect(await keysLeft(plan)).toEqual([]);
    // A redelivery republishes; the participants find the plan settled and do nothing.
    expect(await executors[0]?.handle(plan, true)).toMatchObject({ kind: "result", republished: true });
    expect(await executors[2]?.handle(plan, true)).toMatchObject({ kind: "none" });
    expect(m.applies).toHaveLength(3);
  });

  test("coordinated - a node executor never applies a step addressed to another node: without a step of its own it only coordinates", async () => {
    const m = mesh();
    const elsewhere = planOf([route("n2", "n9")], { node: "n2" });
    expect(await executor("n1", m).handle(elsewhere)).toMatchObject({ kind: "none" });
    expect((await kv.get(txnKey(elsewhere.plan_id)))?.operation ?? "absent").toBe("absent");
    // Addressed to n1, whose part has no step: n2's executor never answers, and n1 applies nothing of it.
    const coordinated = planOf([route("n2", "n9")], { node: "n1" });
    const result = resultOf(await executor("n1", m, { deadlineMs: 300, graceMs: 200 }).handle(coordinated));
    expect(result?.status).toBe("failed");
    expect(result?.detail).toContain("n2 not prepared by the deadline");
    expect(m.applies).toEqual([]);
  });

  test("coordinated - a participant failing its apply aborts the plan: the others roll back and the result names it", async () => {
    const m = mesh();
    m.refuse.add("n2");
    const plan = chain();
    const handled = await Promise.all(NODES.map((node) => executor(node, m).handle(plan)));
    const result = resultOf(handled[0]);
    expect(result?.status).toBe("failed");
    expect(result?.detail).toContain("n2 failed in wave 1");
    expect(result?.detail).toContain("Network is unreachable (n2)");
    expect(result?.participants?.find((p) => p.node === "n3")?.status).toBe("rolled_back");
    // n1's step (wave 2) never ran; n3's ran and was undone; n2's failed.
    expect(m.applies).toEqual(["n3>n9", "n2>n9"]);
    expect(result?.steps.map((s) => s.status)).toEqual(["skipped", "failed", "rolled_back"]);
    expect([...m.routes.values()]).toEqual(["old", "old", "old"]);
    expect((await txn(plan)).phase).toBe("aborted");
  });

  test("coordinated - a failed verification rolls every participant back: rolled_back", async () => {
    const m = mesh();
    const plan = chain();
    const handled = await Promise.all(NODES.map((node) => executor(node, m, { probeOk: () => false }).handle(plan)));
    const result = resultOf(handled[0]);
    expect(result?.status).toBe("rolled_back");
    expect(result?.steps.every((s) => s.status === "rolled_back")).toBe(true);
    expect(result?.verification?.[0]).toMatchObject({ ok: false });
    expect([...m.routes.values()]).toEqual(["old", "old", "old"]);
  });

  test("coordinated - a participant killed after applying: the deadline aborts the plan, the others roll back; restarted, it undoes its own from its journal", async () => {
    const m = mesh();
    let release = () => {};
    // n2 applies its step, then hangs inside it until it is killed.
    m.gates.set("n2>n9", new Promise<void>((resolve) => (release = resolve)));
    const plan = chain();
    const options = { deadlineMs: 600, graceMs: 300, ttlMs: 300 };
    const [n1, n2, n3] = NODES.map((node) => executor(node, m, options));
    const coordinator = n1?.handle(plan);
    void n2?.handle(plan).catch(() => {});
    const third = n3?.handle(plan);
    await waitFor("n2 inside its change", () => m.applies.includes("n2>n9"), 3000);
    n2?.kill();
    release();
    const result = resultOf(await coordinator);
    await third;
    expect(result?.status).toBe("failed");
    expect(result?.detail).toContain("n2 did not apply step(s) 1 by the deadline");
    expect(result?.participants?.find((p) => p.node === "n2")?.status).toBe("prepared");
    expect(m.routes.get("n3>n9")).toBe("old");
    // The change n2 was making landed after it died: only its own journal knows.
    expect(m.routes.get("n2>n9")).toBe("new");
    await Bun.sleep(350);
    expect(await executor("n2", m, options).handle(plan, true)).toMatchObject({ kind: "none" });
    expect(m.routes.get("n2>n9")).toBe("old");
    expect(m.applies).toEqual(["n3>n9", "n2>n9"]);
    expect((await txn(plan)).participants.find((p) => p.node === "n2")?.status).toBe("rolled_back");
  });

  test("coordinated - the coordinator killed mid-plan: restarted, it continues from the recorded phase and never applies a step twice", async () => {
    const options = { deadlineMs: 5000, graceMs: 2000, ttlMs: 300 };
    const { m, plan, participants } = await coordinatorKilledInWave1(options);
    await waitFor("n2's step reported", async () => (await txn(plan)).participants[1]?.status === "applied", 3000);
    const restarted = executor("n1", m, options);
    await expect(restarted.handle(plan, true)).rejects.toBeInstanceOf(PlanInProgress);
    await Bun.sleep(350);
    const result = resultOf(await restarted.handle(plan, true));
    await participants;
    expect(result?.status).toBe("verified");
    expect(result?.detail).toMatch(/^taken over from n1\..* \(lease expired\)/);
    expect(m.applies).toEqual(["n3>n9", "n2>n9", "n1>n9"]);
  });

  test("coordinated - the coordinator dead for good: past the deadline and the grace, the participants abort the plan themselves and roll back", async () => {
    const { m, plan, participants } = await coordinatorKilledInWave1({ deadlineMs: 500, graceMs: 300, ttlMs: 300 });
    expect((await participants).map((h) => h?.kind)).toEqual(["none", "none"]);
    const record = await txn(plan);
    expect(record.phase).toBe("aborting");
    expect(record.abort?.cause).toBe("coordinator_silent");
    expect([m.routes.get("n2>n9"), m.routes.get("n3>n9")]).toEqual(["old", "old"]);
    expect(record.participants.filter((p) => p.node !== "n1").map((p) => p.status)).toEqual(["rolled_back", "rolled_back"]);
  });
});
