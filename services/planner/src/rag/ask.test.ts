// The planner ranking with the rag: a real rag process over a real nats-server answers with similar cases; stopped, it
// costs nothing but a counted fallback; late, the plan is made before its answer comes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNats, createLogger, Plan, RAG_GROUP } from "@x0/shared";
import { incidentEvents, type LabIncident, type NatsServer, type ServiceProcess, startNatsServer, startServiceProcess, waitFor } from "@x0/shared/testing";
import { Registry } from "prom-client";
import { MemoryStore } from "../kv.ts";
import { createMetrics } from "../metrics.ts";
import { OutcomeStore } from "../outcomes/store.ts";
import { Planner } from "../planner.ts";
import { loadPolicy } from "../policy/policy.ts";
import { degradedStats, gridAnnouncements, incident, linkTarget } from "../testing.ts";
import { ragAsker } from "./ask.ts";

const policy = loadPolicy(join(import.meta.dir, "..", "..", "policy.yaml"));
const logger = createLogger({ service: "planner-test", node: "test", level: "error" });
let nats: NatsServer;
let nc: Awaited<ReturnType<typeof connectNats>>;
let rag: ServiceProcess;
let dir: string;

/** raise-cost has always worked on lossy links in general: the per-kind stats alone choose it. */
const raiseCostStats = degradedStats("raise-cost", 5, 0, [200, 210, 190, 205, 220]);

/** A planner on a 3x3 grid whose similar cases come from `similar`. */
async function plannerWith(similar: ConstructorParameters<typeof Planner>[0]["similar"]) {
  const outcomes = new MemoryStore();
  await outcomes.put("stats.link_degraded.raise-cost", raiseCostStats);
  const store = new OutcomeStore(outcomes);
  await store.load();
  const metrics = createMetrics(new Registry());
  const plans: Plan[] = [];
  const planner = new Planner({
    policy,
    topologyStore: new MemoryStore(),
    outcomes: store,
    publish: async (plan) => void plans.push(Plan.parse(plan)),
    logger,
    metrics,
    ...(similar ? { similar } : {}),
  });
  for (const announcement of gridAnnouncements(3, 3)) planner.announce(announcement);
  return { planner, plans };
}

const fallbacksOf = async (registry: Registry, reason: string) =>
  (await registry.getSingleMetric("x0_planner_rag_fallbacks_total")?.get())?.values.find((value) => value.labels.reason === reason)?.value ?? 0;

beforeAll(async () => {
  nats = await startNatsServer();
  dir = mkdtempSync(join(tmpdir(), "x0-planner-rag-"));
  nc = await connectNats({ servers: [nats.url], service: "planner-test", instance: "t" });
  rag = startServiceProcess("rag", {
    X0_NATS_SERVERS: nats.url,
    X0_RAG_DIR: dir,
    X0_RAG_TEXT_EMBEDDER: "lexical",
    X0_RAG_SAVE_MS: "200",
    X0_LOG_LEVEL: "warn",
  });
  await rag.waitReady(30_000);
  // Twice before, raising the cost of n1|n2 did not repair it: the detour it left was lossy too.
  for (const at of [Date.now() - 120_000, Date.now() - 60_000]) {
    const rolledBack: LabIncident = { kind: "link_degraded", link: ["n1", "n2"], alternative: "raise-cost", outcome: "rolled_back", loss: 0.3, at };
    // Plain publishes: X0_EVENTS stores what is published on its subjects.
    for (const { subject, message } of incidentEvents(rolledBack)) nc.publish(subject, JSON.stringify(message));
  }
  await nc.flush();
  await waitFor(
    "two cases indexed",
    async () => {
      const reply = await nc.request(`${RAG_GROUP}.stats`, "{}", { timeout: 2000 }).catch(() => undefined);
      return (reply?.json<{ cases: number }>().cases ?? 0) === 2;
    },
    20_000,
  );
}, 60_000);

afterAll(async () => {
  await rag?.stop();
  await nc?.close();
  await nats?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("planner with the rag", () => {
  test("rag ranking - two similar rolled-back cases outweigh raise-cost's record elsewhere: reroute-around is chosen, and the plan names the cases", async () => {
    const registry = new Registry();
    const { planner } = await plannerWith(ragAsker({ nc, deadlineMs: 2000, fallbacks: createMetrics(registry).ragFallbacks, logger }));
    const plan = await planner.handleAnomaly(incident("link_degraded", linkTarget("n1", "n2")));
    expect(plan?.rule).toBe("link_degraded/reroute-around");
    const raiseCost = plan?.alternatives?.find((alternative) => alternative.name === "raise-cost");
    expect(raiseCost?.similar?.incident_ids).toHaveLength(2);
    expect(raiseCost?.similar?.success_rate).toBe(0);
    expect(raiseCost?.success_rate).toBe(1);
    expect(plan?.alternatives?.find((alternative) => alternative.name === "reroute-around")?.chosen).toBe(true);
    expect(await fallbacksOf(registry, "timeout")).toBe(0);
  });

  test("rag ranking - without the rag's signal the per-kind stats choose raise-cost again", async () => {
    const { planner } = await plannerWith(undefined);
    const plan = await planner.handleAnomaly(incident("link_degraded", linkTarget("n1", "n2")));
    expect(plan?.rule).toBe("link_degraded/raise-cost");
    expect(plan?.alternatives?.every((alternative) => alternative.similar === undefined)).toBe(true);
  });

  test("rag ranking - a rag that answers after the deadline: the plan is made without it, before its answer, and the fallback is counted", async () => {
    const registry = new Registry();
    const fallbacks = createMetrics(registry).ragFallbacks;
    const answeredAt: number[] = [];
    // A slow stand-in answering on a subject of its own (the real rag serves x0.rag.search; this one is 300 ms late).
    const slow = nc.subscribe(`${RAG_GROUP}.slow.search`, {
      callback: (_error, msg) =>
        void Bun.sleep(300).then(() => {
          answeredAt.push(Date.now());
          msg.respond(JSON.stringify({ hits: [], query: "case", took_ms: 300 }));
        }),
    });
    const slowNc = { request: (_subject: string, payload: string, options: { timeout: number }) => nc.request(`${RAG_GROUP}.slow.search`, payload, options) };
    const { planner, plans } = await plannerWith(ragAsker({ nc: slowNc, deadlineMs: 20, fallbacks, logger }));
    await planner.handleAnomaly(incident("link_degraded", linkTarget("n1", "n2")));
    const plannedAt = Date.now();
    expect(plans[0]?.rule).toBe("link_degraded/raise-cost");
    await waitFor("the late answer", () => answeredAt.length === 1, 5000);
    expect(plannedAt).toBeLessThan(answeredAt[0] as number);
    expect((await fallbacks.get()).values.find((value) => value.labels.reason === "timeout")?.value).toBe(1);
    slow.unsubscribe();
  });

  test("rag ranking - with the rag stopped the plan is made at once without it, counted as no responders", async () => {
    await rag.stop();
    const registry = new Registry();
    const fallbacks = createMetrics(registry).ragFallbacks;
    const { planner } = await plannerWith(ragAsker({ nc, deadlineMs: 5000, fallbacks, logger }));
    const plan = await planner.handleAnomaly(incident("link_degraded", linkTarget("n1", "n2")));
    expect(plan?.rule).toBe("link_degraded/raise-cost");
    // No responders is NATS's immediate answer: the 5 s deadline was not waited out (its count shows which path it took).
    expect((await fallbacks.get()).values.find((value) => value.labels.reason === "no_responders")?.value).toBe(1);
    expect((await fallbacks.get()).values.find((value) => value.labels.reason === "timeout")).toBeUndefined();
  });
});
