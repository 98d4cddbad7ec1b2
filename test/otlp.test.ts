// Traces leave a service over OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Telemetry } from "@x0/shared";
import { freePort, type NatsServer, startNatsServer, startServiceProcess } from "@x0/shared/testing";
import { testClient } from "./helpers.ts";

const zero = { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 };
const telemetry = (seq: number): Telemetry => ({
  v: 1,
  node: "otlp1",
  ts: Date.now() + seq,
  seq,
  interval_ms: 1000,
  source: "sysfs",
  ebpf: false,
  interfaces: [{ name: "eth0", operstate: "up", counters: zero }],
});

let nats: NatsServer;
let nc: NatsConnection;
const exports: { path: string; body: string }[] = [];
let collector: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await testClient(nats.url);
  collector = Bun.serve({
    hostname: "127.0.0.1",
    port: freePort(),
    fetch: async (request) => {
      exports.push({ path: new URL(request.url).pathname, body: await request.text() });
      return Response.json({});
    },
  });
}, 30_000);

afterAll(async () => {
  collector?.stop(true);
  await nc?.close();
  await nats?.dispose();
});

describe("otlp", () => {
  test("otlp - with an endpoint, the analyzer exports its CONSUMER spans over OTLP/HTTP (flushed at shutdown)", async () => {
    const analyzer = startServiceProcess("analyzer", {
      X0_NATS_SERVERS: nats.url,
      X0_NODE: "otlp",
      X0_LOG_LEVEL: "warn",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}`,
    });
    try {
      await analyzer.waitReady();
      for (let seq = 0; seq < 3; seq++) nc.publish("x0.telemetry.otlp1", JSON.stringify(telemetry(seq)));
      await nc.flush();
      await Bun.sleep(200);
    } finally {
      expect(await analyzer.stop()).toBe(0);
    }
    const traces = exports.filter((request) => request.path === "/v1/traces");
    expect(traces.length).toBeGreaterThan(0);
    const body = traces.map((request) => request.body).join("\n");
    expect(body).toContain("process x0.telemetry.{node}");
    expect(body).toContain("x0-analyzer");
    expect(body).toContain("messaging.destination.template");
  }, 30_000);

  test("otlp - without an endpoint nothing is exported", async () => {
    const before = exports.length;
    const analyzer = startServiceProcess("analyzer", { X0_NATS_SERVERS: nats.url, X0_NODE: "quiet", X0_LOG_LEVEL: "warn" });
    await analyzer.waitReady();
    nc.publish("x0.telemetry.otlp1", JSON.stringify(telemetry(9)));
    await nc.flush();
    expect(await analyzer.stop()).toBe(0);
    expect(exports.length).toBe(before);
  }, 30_000);
});
