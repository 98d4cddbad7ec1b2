// Traces leave a service through the OpenTelemetry Node SDK, configured by the standard OTEL_* variables, to a collector
// held in memory: real nats-server, real analyzer processes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import { type NatsConnection, headers as natsHeaders } from "@nats-io/transport-node";
import type { Telemetry } from "@x0/shared";
import { freePort, type NatsServer, type ServiceProcess, startNatsServer, startServiceProcess } from "@x0/shared/testing";
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

/** One request the collector received. */
interface Export {
  path: string;
  headers: Headers;
  body: Uint8Array;
}

/** An OTLP/JSON attribute value. */
type AnyValue = { stringValue?: string; intValue?: number | string; boolValue?: boolean };

/** The parts of an OTLP/JSON trace export the tests read. */
interface OtlpJson {
  resourceSpans: {
    resource: { attributes: { key: string; value: AnyValue }[] };
    scopeSpans: { spans: { traceId: string; name: string }[] }[];
  }[];
}

let nats: NatsServer;
let nc: NatsConnection;
const exports: Export[] = [];
let collector: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await testClient(nats.url);
  collector = Bun.serve({
    hostname: "127.0.0.1",
    port: freePort(),
    fetch: async (request) => {
      exports.push({ path: new URL(request.url).pathname, headers: request.headers, body: new Uint8Array(await request.arrayBuffer()) });
      return Response.json({});
    },
  });
}, 30_000);

afterAll(async () => {
  collector?.stop(true);
  await nc?.close();
  await nats?.dispose();
});

/** Runs an analyzer with `env`, feeds it telemetry (with `headers` when given), stops it and returns what was exported meanwhile. */
async function exportsOf(env: Record<string, string>, publish: (seq: number) => ReturnType<typeof natsHeaders> | undefined = () => undefined) {
  const before = exports.length;
  const analyzer: ServiceProcess = startServiceProcess("analyzer", { X0_NATS_SERVERS: nats.url, X0_NODE: "otlp", X0_LOG_LEVEL: "warn", ...env });
  try {
    await analyzer.waitReady();
    for (let seq = 0; seq < 3; seq++) {
      const headers = publish(seq);
      nc.publish("x0.telemetry.otlp1", JSON.stringify(telemetry(seq)), headers ? { headers } : undefined);
    }
    await nc.flush();
    await Bun.sleep(200);
  } finally {
    // Stopping flushes the SDK's batched spans.
    expect(await analyzer.stop()).toBe(0);
  }
  return { pid: analyzer.process.pid, received: exports.slice(before).filter((request) => request.path === "/v1/traces") };
}

/** The resource attributes and span trace ids of OTLP/JSON exports. */
function decode(received: Export[]): { resource: Record<string, string>; traceIds: Set<string>; names: Set<string> } {
  const resource: Record<string, string> = {};
  const traceIds = new Set<string>();
  const names = new Set<string>();
  for (const request of received) {
    const body = JSON.parse(new TextDecoder().decode(request.body)) as OtlpJson;
    for (const { resource: r, scopeSpans } of body.resourceSpans) {
      for (const { key, value } of r.attributes) resource[key] = String(value.stringValue ?? value.intValue ?? value.boolValue);
      for (const span of scopeSpans.flatMap((scope) => scope.spans)) {
        traceIds.add(span.traceId);
        names.add(span.name);
      }
    }
  }
  return { resource, traceIds, names };
}

const endpoint = () => `http://127.0.0.1:${collector.port}`;

describe("otlp", () => {
  test("otlp - with an endpoint, the analyzer exports its CONSUMER spans over OTLP/HTTP, protobuf by default, flushed at shutdown", async () => {
    const { received } = await exportsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint() });
    expect(received.length).toBeGreaterThan(0);
    expect(received[0]?.headers.get("content-type")).toBe("application/x-protobuf");
    // Protobuf keeps strings as UTF-8 bytes: enough to see the span name, the service and the destination template.
    const text = received.map((request) => new TextDecoder().decode(request.body)).join("\n");
    expect(text).toContain("process x0.telemetry.{node}");
    expect(text).toContain("x0-analyzer");
    expect(text).toContain("messaging.destination.template");
  }, 30_000);

  test("otlp - OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, the protocol and headers reach the collector with the detected host and process", async () => {
    const { pid, received } = await exportsOf({
      X0_INSTANCE: "otlp-a1",
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint(),
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_HEADERS: "x-tenant=mesh,authorization=Bearer%20t0k3n",
      OTEL_SERVICE_NAME: "mesh-analyzer",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=test,team=mesh",
    });
    expect(received.length).toBeGreaterThan(0);
    for (const request of received) {
      expect(request.headers.get("content-type")).toBe("application/json");
      expect(request.headers.get("x-tenant")).toBe("mesh");
      expect(request.headers.get("authorization")).toBe("Bearer t0k3n");
    }
    const { resource, names } = decode(received);
    expect(names).toContain("process x0.telemetry.{node}");
    expect(resource).toMatchObject({
      "service.name": "mesh-analyzer",
      "deployment.environment.name": "test",
      team: "mesh",
      "service.instance.id": "otlp-a1",
      "x0.node": "otlp",
      "host.name": hostname(),
      "process.pid": String(pid),
      "telemetry.sdk.language": "nodejs",
    });
    expect(resource["service.version"]).toMatch(/^\d+\.\d+\.\d+/);
  }, 30_000);

  test("otlp - OTEL_TRACES_SAMPLER=parentbased_traceidratio with ratio 0 drops root spans and keeps those whose parent was sampled", async () => {
    const sampledParent = "0af7651916cd43dd8448eb211c80319c";
    const { received } = await exportsOf(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint(),
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG: "0",
      },
      // Message 1 carries a sampled parent; messages 0 and 2 start their own (root) traces.
      (seq) => {
        if (seq !== 1) return undefined;
        const headers = natsHeaders();
        headers.set("traceparent", `00-${sampledParent}-b7ad6b7169203331-01`);
        return headers;
      },
    );
    expect([...decode(received).traceIds]).toEqual([sampledParent]);
  }, 30_000);

  test("otlp - OTEL_SDK_DISABLED=true exports nothing, even with an endpoint", async () => {
    const { received } = await exportsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint(), OTEL_SDK_DISABLED: "true" });
    expect(received).toEqual([]);
  }, 30_000);

  test("otlp - without an endpoint nothing is exported", async () => {
    const { received } = await exportsOf({});
    expect(received).toEqual([]);
  }, 30_000);

  test("otlp - a bad OTEL_* value stops the service with exit 78 naming the variable", async () => {
    const analyzer = startServiceProcess("analyzer", { X0_NATS_SERVERS: nats.url, OTEL_TRACES_SAMPLER: "sometimes" });
    expect(await analyzer.exited).toBe(78);
    expect(analyzer.output.join("\n")).toContain("OTEL_TRACES_SAMPLER");
  }, 30_000);
});
