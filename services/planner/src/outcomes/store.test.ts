import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ActionResult, Buckets, connectNats, openBucket, type PlanRecord } from "@x0/shared";
import { type NatsServer, startNatsServer } from "@x0/shared/testing";
import { KvStore, MemoryStore, StoreConflict } from "../kv.ts";
import { OutcomeStore } from "./store.ts";

function record(): PlanRecord {
  return {
    v: 1,
    plan_id: crypto.randomUUID(),
    incident_id: crypto.randomUUID(),
    kind: "link_down",
    alternative: "reroute-around",
    approval: "auto",
    created_at: 1000,
    changes: [],
  };
}

function resultOf(plan: PlanRecord, status: ActionResult["status"]): ActionResult {
  return {
    v: 1,
    result_id: crypto.randomUUID(),
    plan_id: plan.plan_id,
    incident_id: plan.incident_id,
    node: "n1",
    status,
    dry_run: false,
    steps: [],
    started_at: 1000,
    finished_at: 1500,
    ...(status === "verified" ? { verified_at: 1400 } : {}),
  };
}

let nats: NatsServer;
let nc: Awaited<ReturnType<typeof connectNats>>;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connectNats({ servers: [nats.url], service: "planner-test", instance: "store" });
}, 30_000);

afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

describe("outcome store", () => {
  test("outcome store - the real KV refuses a stale compare-and-set as a conflict", async () => {
    const store = new KvStore(await openBucket(nc, Buckets.outcomes));
    await store.create("stats.test.cas", { n: 1 });
    const entry = await store.get("stats.test.cas");
    await store.update("stats.test.cas", { n: 2 }, entry?.revision as number);
    expect(store.update("stats.test.cas", { n: 3 }, entry?.revision as number)).rejects.toBeInstanceOf(StoreConflict);
    expect(store.create("stats.test.cas", { n: 4 })).rejects.toBeInstanceOf(StoreConflict);
    expect((await store.get("stats.test.cas"))?.value).toEqual({ n: 2 });
    expect(await store.keys("stats.test.>")).toEqual(["stats.test.cas"]);
  });

  test("outcome store - concurrent planners' results all count: updates retry on conflict (real KV)", async () => {
    const kv = new KvStore(await openBucket(nc, Buckets.outcomes));
    const stores = [new OutcomeStore(kv), new OutcomeStore(kv), new OutcomeStore(kv)];
    const plans = Array.from({ length: 12 }, () => record());
    for (const [i, plan] of plans.entries()) await (stores[i % 3] as OutcomeStore).remember(plan);
    await Promise.all(plans.map((plan, i) => (stores[(i + 1) % 3] as OutcomeStore).settle(resultOf(plan, i % 4 === 0 ? "rolled_back" : "verified"), 2000)));
    const fresh = new OutcomeStore(kv);
    await fresh.load();
    expect(fresh.statsOf("link_down", "reroute-around")).toMatchObject({ attempts: 12, verified: 9, rolled_back: 3 });
    expect(await kv.keys("planned.>")).toEqual([]);
  });

  test("outcome store - a repeated or unknown result counts nothing; awaiting approval and dry runs do not count", async () => {
    const outcomes = new OutcomeStore(new MemoryStore());
    const plan = record();
    await outcomes.remember(plan);
    expect(await outcomes.settle(resultOf(plan, "awaiting_approval"), 2000)).toBeUndefined();
    expect((await outcomes.settle(resultOf(plan, "dry_run"), 2000))?.outcome).toBeUndefined();
    expect(await outcomes.settle(resultOf(plan, "verified"), 2000)).toBeUndefined();
    expect(outcomes.statsOf("link_down", "reroute-around")).toBeUndefined();
    const second = record();
    await outcomes.remember(second);
    expect((await outcomes.settle(resultOf(second, "verified"), 2000))?.stats).toMatchObject({ attempts: 1, verified: 1, ttr_ms: [400] });
  });
});
