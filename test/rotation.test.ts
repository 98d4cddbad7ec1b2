// Rotating every SVID in the middle of a stream of incidents loses no message: services renew their certificates at half
// their (here 4 s) lifetime and reconnect to present them, while incidents and core telemetry keep flowing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { readEventHistory } from "@x0/shared";
import { type SecureNats, type ServiceProcess, waitFor } from "@x0/shared/testing";
import { incidentSample, type SecureLoop, startSecureLoop } from "./helpers.ts";

const NODES = Array.from({ length: 40 }, (_, i) => `rot${i}`);
const WARMUP = 5;
const TTL_S = 4;

let loop: SecureLoop;
let secure: SecureNats;
let nc: NatsConnection;
let services: ServiceProcess[] = [];

async function renewals(service: ServiceProcess): Promise<number> {
  const metrics = await (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text();
  return Number(/^x0_svid_renewals_total\{[^}]*\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
}

/** Telemetry messages a service took in (valid ones, through its bus). */
async function telemetryReceived(service: ServiceProcess): Promise<number> {
  const metrics = await (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text();
  return Number(/^x0_messages_received_total\{subject="x0\.telemetry\.\{node\}"[^}]*\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
}

beforeAll(async () => {
  loop = await startSecureLoop("rot", {
    env: { X0_SVID_TTL_S: String(TTL_S) },
    analyzer: { X0_ANALYZER_WARMUP_SAMPLES: String(WARMUP), X0_ANALYZER_SILENCE_INTERVALS: "100000" },
  });
  ({ secure, nc, services } = loop);
}, 60_000);

afterAll(() => loop?.stop());

describe("rotation", () => {
  test("rotation - every service renews its SVID several times mid-stream and no anomaly, plan or result is lost", async () => {
    const since = Date.now();
    const before = await Promise.all(services.map(renewals));
    // A node starts every 250 ms and its link goes down after the warm-up, so the incidents span several renewals of
    // every service. Each node reports every 250 ms, as a monitor does. What must not be lost are the durable anomalies,
    // plans and results (the core telemetry is the next test's).
    const start = Date.now();
    let reporting = true;
    const monitors = (async () => {
      for (let tick = 0; reporting; tick += 1) {
        for (const [index, node] of NODES.entries()) {
          if (tick < index) break;
          nc.publish(`x0.telemetry.${node}`, JSON.stringify(incidentSample(node, start, WARMUP, tick - index)));
        }
        await nc.flush();
        await Bun.sleep(250);
      }
    })();
    try {
      await waitFor("a result for every node", async () => (await readEventHistory(nc, { sinceMs: since })).results.length >= NODES.length, 70_000, 250).catch(
        async (error) => {
          const history = await readEventHistory(nc, { sinceMs: since });
          const states = Object.entries(Object.groupBy(history.anomalies, (a) => `${a.kind}/${a.state}`)).map(([key, list]) => `${key}: ${list?.length}`);
          const planned = new Set(history.plans.map((p) => p.incident_id));
          const unplanned = history.anomalies.filter((a) => a.state === "opened" && !planned.has(a.incident_id)).map((a) => a.node);
          const opened = new Set(history.anomalies.filter((a) => a.state === "opened").map((a) => a.node));
          throw new Error(
            `${error}: ${history.anomalies.length} anomalies (${states.join(", ")}), ${history.plans.length} plans, ${history.results.length} results; ` +
              `never opened: ${NODES.filter((n) => !opened.has(n)).join(" ") || "none"}; opened, not planned: ${unplanned.join(" ") || "none"}\n` +
              services.map((s) => `--- ${s.name}\n${s.output.slice(-20).join("\n")}`).join("\n"),
          );
        },
      );
    } finally {
      reporting = false;
      await monitors;
    }
    await Bun.sleep(1000);
    const history = await readEventHistory(nc, { sinceMs: since });
    const opened = history.anomalies.filter((a) => a.state === "opened");
    expect(opened.map((a) => a.node).sort()).toEqual([...NODES].sort());
    expect(history.plans.map((p) => p.incident_id).sort()).toEqual(opened.map((a) => a.incident_id).sort());
    expect(history.results.map((r) => r.plan_id).sort()).toEqual(history.plans.map((p) => p.plan_id).sort());
    // Each service renewed (and reconnected) at least twice while the incidents flowed.
    const after = await Promise.all(services.map(renewals));
    for (const [i, service] of services.entries()) expect(after[i] as number, service.name).toBeGreaterThanOrEqual((before[i] as number) + 2);
    expect(secure.nats.log.filter((line) => line.includes("Violation"))).toEqual([]);
  }, 100_000);

  test("rotation - core telemetry sent while the analyzer renews its SVID is all received: none lost across renewals", async () => {
    const analyzer = services.find((service) => service.name === "analyzer") as ServiceProcess;
    const before = { renewals: await renewals(analyzer), received: await telemetryReceived(analyzer) };
    // 20 nodes every 5 ms (4,000 messages a second) for three renewal periods: each renewal reconnects the analyzer
    // while samples keep coming.
    const nodes = Array.from({ length: 20 }, (_, i) => `core${i}`);
    const start = Date.now();
    let sent = 0;
    for (let tick = 0; Date.now() - start < 3 * TTL_S * 500 + 1000; tick++) {
      for (const node of nodes) {
        nc.publish(`x0.telemetry.${node}`, JSON.stringify(incidentSample(node, start, 1_000_000, tick)));
        sent++;
      }
      if (tick % 10 === 0) await nc.flush();
      await Bun.sleep(5);
    }
    await nc.flush();
    await waitFor("the analyzer to count what was sent", async () => (await telemetryReceived(analyzer)) - before.received >= sent, 10_000, 100).catch(
      () => {},
    );
    const received = (await telemetryReceived(analyzer)) - before.received;
    expect(await renewals(analyzer)).toBeGreaterThanOrEqual(before.renewals + 2);
    expect(received).toBe(sent);
  }, 60_000);
});
