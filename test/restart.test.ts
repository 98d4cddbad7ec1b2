// Restarting nats-server in the middle of a stream of incidents loses nothing and duplicates nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { EVENTS_STREAM } from "@x0/shared";
import { type SecureNats, type ServiceProcess, waitFor } from "@x0/shared/testing";
import { incidentSamples, type SecureLoop, startSecureLoop } from "./helpers.ts";

const NODES = Array.from({ length: 30 }, (_, i) => `r${i}`);
const WARMUP = 5;

let loop: SecureLoop;
let nats: SecureNats["nats"];
let nc: NatsConnection;
let services: ServiceProcess[] = [];

async function events(): Promise<{ subject: string; body: Record<string, unknown> }[]> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(EVENTS_STREAM, { deliver_policy: DeliverPolicy.All });
  const { state } = await (await jetstreamManager(nc)).streams.info(EVENTS_STREAM);
  const out: { subject: string; body: Record<string, unknown> }[] = [];
  while (out.length < state.messages) {
    const msg = await consumer.next({ expires: 2000 });
    if (!msg) break;
    out.push({ subject: msg.subject, body: msg.json() });
  }
  return out;
}

beforeAll(async () => {
  loop = await startSecureLoop("core", {
    // No keep-alive `updated` states during the test (5 s by default): a slow recovery would add one per incident.
    analyzer: { X0_ANALYZER_WARMUP_SAMPLES: String(WARMUP), X0_ANALYZER_SILENCE_INTERVALS: "100000", X0_ANALYZER_UPDATE_EVERY_MS: "600000" },
  });
  ({ nc, services } = loop);
  nats = loop.secure.nats;
}, 60_000);

afterAll(() => loop?.stop());

describe("restart", () => {
  test("restart - a nats-server crash mid-stream loses no anomaly, plan or result and processes each anomaly once", async () => {
    const start = Date.now();
    const half = NODES.length / 2;
    for (const node of NODES.slice(0, half)) {
      for (const sample of incidentSamples(node, start, WARMUP)) nc.publish(`x0.telemetry.${node}`, JSON.stringify(sample));
    }
    await nc.flush();
    // Crash the server while the loop is still working on the first half.
    await Bun.sleep(20);
    await nats.stop("SIGKILL");
    await Bun.sleep(500);
    await nats.start();
    await Promise.all(services.map((service) => service.waitReady(30_000)));
    // The test's own client reconnects on its own schedule: a flush made before that is rejected, so retry it.
    await waitFor(
      "the test client to reconnect",
      () =>
        nc.flush().then(
          () => true,
          () => false,
        ),
      15_000,
      100,
    );
    // Telemetry is core NATS (at most once), so the second half is sent once the server is back.
    for (const node of NODES.slice(half)) {
      for (const sample of incidentSamples(node, start, WARMUP)) nc.publish(`x0.telemetry.${node}`, JSON.stringify(sample));
    }

    try {
      await waitFor(
        "a result for every node",
        async () => (await events().catch(() => [])).filter((event) => event.subject.startsWith("x0.action.")).length >= NODES.length,
        60_000,
        250,
      );
    } catch (error) {
      // Say where the loop stopped: what the stream holds and what each service logged.
      const stored = await events().catch(() => []);
      const counts = Object.groupBy(stored, (event) => event.subject.split(".")[1] as string);
      const logs = services.map((service) => `--- ${service.name}\n${service.output.slice(-30).join("\n")}`).join("\n");
      throw new Error(
        `${(error as Error).message}; stored: ${JSON.stringify(Object.fromEntries(Object.entries(counts).map(([family, messages]) => [family, messages?.length])))}\n${logs}`,
        {
          cause: error,
        },
      );
    }
    await Bun.sleep(1000); // any duplicate would show up by now
    const stored = await events();
    const anomalies = stored.filter((event) => event.subject.startsWith("x0.anomaly."));
    const plans = stored.filter((event) => event.subject.startsWith("x0.plan."));
    const results = stored.filter((event) => event.subject.startsWith("x0.action."));

    // Exactly one incident, one plan and one result per node.
    expect(anomalies.map((event) => event.body.node).sort()).toEqual([...NODES].sort());
    expect(new Set(anomalies.map((event) => event.body.incident_id)).size).toBe(NODES.length);
    expect(plans.map((event) => event.body.incident_id).sort()).toEqual(anomalies.map((event) => event.body.incident_id).sort());
    expect(results.map((event) => event.body.plan_id).sort()).toEqual(plans.map((event) => event.body.plan_id).sort());
    expect(results.every((event) => event.body.status === "dry_run")).toBe(true);

    // The planner processed each anomaly once, whatever was redelivered after the crash.
    const planner = services.find((service) => service.name === "planner") as ServiceProcess;
    const metrics = await (await fetch(`http://127.0.0.1:${planner.port}/metrics`)).text();
    const processed = [...metrics.matchAll(/^x0_planner_anomalies_processed_total\{[^}]*\} (\d+)$/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
    expect(processed).toBe(NODES.length);
  }, 120_000);
});
