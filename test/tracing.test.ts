// One incident is one trace across the four MAPE-K processes, exported by the OpenTelemetry SDK over OTLP/HTTP (JSON) to a
// collector held in memory.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { freePort, recordEvents, type SecureNats, type ServiceProcess, startSecureNats, waitFor } from "@x0/shared/testing";
import { fakeSysfs, startLoopServices, testClient } from "./helpers.ts";

const NODE = "trace1";

/** A span as received in OTLP/JSON, with the service that sent it. */
interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
}

// OTLP span kinds.
const PRODUCER = 4;
const CONSUMER = 5;

let secure: SecureNats;
let nats: SecureNats["nats"];
let nc: NatsConnection;
let sysfs: ReturnType<typeof fakeSysfs>;
let collector: ReturnType<typeof Bun.serve>;
const spans: ReceivedSpan[] = [];
const services: ServiceProcess[] = [];

/** Keeps the spans of one OTLP/JSON export request. */
function receive(body: string): void {
  const request = JSON.parse(body) as {
    resourceSpans: {
      resource: { attributes: { key: string; value: { stringValue?: string } }[] };
      scopeSpans: { spans: Omit<ReceivedSpan, "service">[] }[];
    }[];
  };
  for (const { resource, scopeSpans } of request.resourceSpans) {
    const service = resource.attributes.find((attribute) => attribute.key === "service.name")?.value.stringValue ?? "?";
    for (const scope of scopeSpans) for (const span of scope.spans) spans.push({ ...span, service });
  }
}

beforeAll(async () => {
  secure = await startSecureNats({ nodes: [NODE] });
  nats = secure.nats;
  collector = Bun.serve({
    hostname: "127.0.0.1",
    port: freePort(),
    fetch: async (request) => {
      receive(await request.text());
      return Response.json({});
    },
  });
  sysfs = fakeSysfs();
  // OTLP/JSON, so the collector reads the spans without a protobuf decoder.
  const common = {
    ...secure.serviceEnv,
    X0_NODE: NODE,
    X0_LOG_LEVEL: "warn",
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
  };
  services.push(...(await startLoopServices(common, sysfs.root)));
  nc = await testClient(nats.url, secure.adminTls);
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await Promise.all(services.map((service) => service.stop()));
  collector?.stop(true);
  await secure?.dispose();
  sysfs?.remove();
});

describe("tracing", () => {
  test("tracing - the incident's trace holds linked PRODUCER and CONSUMER spans of monitor, analyzer, planner and executor", async () => {
    const recorder = await recordEvents(nc);
    await Bun.sleep(600);
    sysfs.setOperstate("down");
    await waitFor("action result", () => recorder.results.length > 0, 10_000);
    const traceId = recorder.results[0]?.traceId;
    // Stopping the services flushes their batched spans to the collector.
    for (const service of services) expect(await service.stop()).toBe(0);

    const trace = spans.filter((span) => span.traceId === traceId);
    const find = (service: string, name: string, kind: number) => trace.find((span) => span.service === service && span.name === name && span.kind === kind);
    const chain = [
      find("x0-monitor", "send x0.telemetry.{node}", PRODUCER),
      find("x0-analyzer", "process x0.telemetry.{node}", CONSUMER),
      find("x0-analyzer", "send x0.anomaly.{node}", PRODUCER),
      find("x0-planner", "process x0.anomaly.{node}", CONSUMER),
      find("x0-planner", "send x0.plan.{node}", PRODUCER),
      find("x0-executor", "process x0.plan.{node}", CONSUMER),
      find("x0-executor", "send x0.action.{node}", PRODUCER),
    ];
    expect(chain.map((span) => (span ? `${span.service} ${span.name}` : "missing"))).toEqual([
      "x0-monitor send x0.telemetry.{node}",
      "x0-analyzer process x0.telemetry.{node}",
      "x0-analyzer send x0.anomaly.{node}",
      "x0-planner process x0.anomaly.{node}",
      "x0-planner send x0.plan.{node}",
      "x0-executor process x0.plan.{node}",
      "x0-executor send x0.action.{node}",
    ]);
    // Each span is the child of the one before it: the trace is one unbroken chain across NATS.
    for (let i = 1; i < chain.length; i++) expect(chain[i]?.parentSpanId).toBe(chain[i - 1]?.spanId as string);
    expect(chain[0]?.parentSpanId ?? "").toBe("");
  }, 60_000);
});
