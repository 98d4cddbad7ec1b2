import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { trace } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { z } from "zod";
import { ContractViolation } from "../errors.ts";
import { ensureStreams } from "../knowledge/knowledge.ts";
import { createLogger } from "../observability/logger.ts";
import { createServiceMetrics } from "../observability/metrics.ts";
import { createTracing } from "../observability/tracing.ts";
import { anomalyFixture, type NatsServer, startNatsServer, waitFor } from "../testing/mod.ts";
import { Bus, type Endpoint, RequestError } from "./bus.ts";
import type { Anomaly } from "./schemas.ts";
import { contracts, EVENTS_STREAM } from "./subjects.ts";

let nats: NatsServer;
let nc: NatsConnection;
let bus: Bus;
const exporter = new InMemorySpanExporter();

const anomaly = (update = 0): Anomaly =>
  anomalyFixture({
    incident_id: "7f1c3a52-5a8e-4c3e-9a57-0d3c2b1e4f60",
    state: update === 0 ? "opened" : "updated",
    update,
    interface: "eth0",
    score: 1,
    opened_at: 1,
    ts: 1,
  });

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  const tracing = createTracing({ service: "bus-test", version: "0", instance: "i", node: "n", exporter });
  bus = new Bus({
    nc,
    service: "bus-test",
    logger: createLogger({ service: "bus-test", node: "n", level: "error" }),
    metrics: createServiceMetrics("bus-test"),
    tracing,
  });
  await ensureStreams(nc);
}, 30_000);

afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

describe("bus", () => {
  test("bus - publishing an invalid message throws ContractViolation and sends nothing", () => {
    expect(() => bus.publish(contracts.anomaly, "n1", { ...anomaly(), kind: "meteor" } as unknown as Anomaly)).toThrow(ContractViolation);
    expect(() => bus.publish(contracts.anomaly, "n1", { ...anomaly(), kind: "meteor" } as unknown as Anomaly)).toThrow(/kind/);
  });

  test("bus - a consumed message arrives validated with a CONSUMER span in the producer's trace", async () => {
    const received: { body: Anomaly; traceId?: string }[] = [];
    const live = await bus.consume(
      contracts.anomaly,
      (body, delivery) => {
        received.push({ body, traceId: trace.getSpanContext(delivery.trace)?.traceId });
      },
      { durable: "bus-test", jsm: await jetstreamManager(nc) },
    );
    const { trace: sent } = await bus.publishDurable(contracts.anomaly, "n1", anomaly(), { msgID: "a:0" });
    await waitFor("delivery", () => received.length === 1);
    expect(received[0]?.body).toEqual(anomaly());
    expect(received[0]?.traceId).toBe(trace.getSpanContext(sent)?.traceId as string);
    const spans = exporter.getFinishedSpans().map((span) => span.name);
    expect(spans).toContain("send x0.anomaly.{node}");
    expect(spans).toContain("process x0.anomaly.{node}");
    await live.stop();
    expect(live.isLive()).toBe(false);
  });

  test("bus - a durable publish with a repeated message id is stored once", async () => {
    const jsm = await jetstreamManager(nc);
    const before = (await jsm.streams.info(EVENTS_STREAM)).state.messages;
    await bus.publishDurable(contracts.anomaly, "n1", anomaly(1), { msgID: "dup:1" });
    const again = await bus.publishDurable(contracts.anomaly, "n1", anomaly(1), { msgID: "dup:1" });
    expect(again.ack.duplicate).toBe(true);
    expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBe(before + 1);
  });

  test("bus - ensureStreams is idempotent", async () => {
    await ensureStreams(nc);
    await ensureStreams(nc, { maxAgeMs: 3600_000, maxBytes: 1024 ** 2 });
    const info = await (await jetstreamManager(nc)).streams.info(EVENTS_STREAM);
    expect(info.config.max_bytes).toBe(1024 ** 2);
    expect(info.config.subjects).toEqual(["x0.anomaly.>", "x0.plan.>", "x0.action.>"]);
  });

  const echo = {
    subject: "x0.test.echo",
    request: z.object({ n: z.number().int() }),
    response: z.object({ doubled: z.number().int() }),
  } satisfies Endpoint;

  test("bus - request and serve validate both sides", async () => {
    const live = bus.serve(echo, ({ n }) => ({ doubled: n * 2 }));
    await nc.flush();
    expect(await bus.request(echo, { n: 21 })).toEqual({ doubled: 42 });
    await expect(bus.request(echo, { n: 1.5 })).rejects.toThrow(ContractViolation);
    await live.stop();
  });

  test("bus - an invalid request gets a Nats-Service-Error reply and a dead letter", async () => {
    const live = bus.serve(echo, ({ n }) => ({ doubled: n * 2 }));
    const letters: string[] = [];
    nc.subscribe("x0.dlq.bus-test", {
      callback: (_error, msg) => {
        letters.push(msg.json<{ error: string }>().error);
      },
    });
    await nc.flush();
    const reply = await nc.request(echo.subject, JSON.stringify({ n: "x" }));
    expect(reply.headers?.get("Nats-Service-Error-Code")).toBe("400");
    await waitFor("dead letter", () => letters.length === 1);
    expect(letters[0]).toContain("n");
    await live.stop();
  });

  test("bus - a reply that violates the response schema is a RequestError", async () => {
    const liar = bus.serve({ ...echo, response: z.any() }, () => ({ doubled: "lots" }));
    await nc.flush();
    await expect(bus.request(echo, { n: 1 })).rejects.toThrow(RequestError);
    await liar.stop();
  });
});
