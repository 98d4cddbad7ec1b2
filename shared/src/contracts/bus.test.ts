import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AckPolicy, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { trace } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { z } from "zod";
import { ContractViolation, NatsSetupError } from "../errors.ts";
import { ensureStreams } from "../knowledge/knowledge.ts";
import { createLogger } from "../observability/logger.ts";
import { createServiceMetrics } from "../observability/metrics.ts";
import { createTracing } from "../observability/tracing.ts";
import { anomalyFixture, type NatsServer, startNatsServer, waitFor } from "../testing/mod.ts";
import { Bus, compiled, type Endpoint, RequestError } from "./bus.ts";
import { type Anomaly, Telemetry } from "./schemas.ts";
import { contracts, EVENTS_STREAM, subjectOf } from "./subjects.ts";

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

/** A telemetry message with one interface, its XDP state and two neighbours. */
function telemetry(): Telemetry {
  const neighbour = (i: number) => ({
    mac: `02:00:00:00:00:0${i}`,
    ipv4: `10.0.0.${i}`,
    packets: 10 * i,
    bytes: 1000 * i,
    dropped: 0,
    packets_delta: i,
    bytes_delta: 100 * i,
    dropped_delta: 0,
    packets_per_s: 9.900990099009901 * i,
    bytes_per_s: 990.0990099009902 * i,
    dropped_per_s: 0,
    last_seen_ts: 1_800_000_000_000,
    alive: true,
    denied: false,
    fault_probability: 0,
  });
  const counters = { rx_bytes: 1, tx_bytes: 2, rx_packets: 3, tx_packets: 4, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 };
  return {
    v: 1,
    node: "n1",
    ts: 1_800_000_000_000,
    seq: 7,
    interval_ms: 100,
    source: "sysfs",
    ebpf: true,
    interfaces: [
      {
        name: "mesh0",
        operstate: "up",
        counters,
        deltas: counters,
        rates: { ...counters, rx_bytes: 10.5 },
        xdp: {
          mode: "native",
          packets: 5,
          bytes: 300,
          passed: 5,
          dropped_deny: 0,
          dropped_fault: 0,
          packets_delta: 2,
          bytes_delta: 120,
          dropped_delta: 0,
          packets_per_s: 19.801980198019802,
          bytes_per_s: 1188.1188118811881,
          dropped_per_s: 0,
        },
        neighbours: [neighbour(1), neighbour(2)],
      },
    ],
    ebpf_state: { available: true, missing: [], tracepoints: true },
    drops: [{ reason: "NO_SOCKET", count: 3, delta: 1, per_s: 10 }],
    events: [],
  };
}

describe("bus", () => {
  test("bus - every contract schema gets zod's compiled fast path, which parses and rejects exactly as the runtime parser", () => {
    // strict: a schema the compiler cannot model would silently keep the (slower) runtime parser.
    for (const contract of Object.values(contracts)) expect(() => z.compile(contract.schema, { strict: true })).not.toThrow();
    const fast = compiled(Telemetry);
    expect(compiled(Telemetry)).toBe(fast);
    const valid = { ...telemetry(), unknown_field: "stripped" };
    expect(fast.safeParse(valid).success).toBe(true);
    expect(fast.safeParse(valid)).toEqual(Telemetry.safeParse(valid));
    expect(JSON.stringify(fast.parse(valid))).toBe(JSON.stringify(Telemetry.parse(valid)));
    const invalid: [string, (t: Telemetry) => void][] = [
      ["negative counter", (t) => ((t.interfaces[0]?.neighbours?.[1] as { packets: number }).packets = -1)],
      ["unsafe integer", (t) => ((t.interfaces[0]?.neighbours?.[0] as { bytes: number }).bytes = 2 ** 53)],
      ["bad MAC", (t) => ((t.interfaces[0]?.neighbours?.[0] as { mac: string }).mac = "02:00:00:00:00:0G")],
      ["ipv4 any", (t) => ((t.interfaces[0]?.neighbours?.[0] as { ipv4: string }).ipv4 = "any")],
      ["fault above 1", (t) => ((t.interfaces[0]?.neighbours?.[0] as { fault_probability: number }).fault_probability = 1.5)],
      ["NaN rate", (t) => ((t.interfaces[0]?.rates as { rx_bytes: number }).rx_bytes = Number.NaN)],
      ["long interface name", (t) => ((t.interfaces[0] as { name: string }).name = "a-very-long-ifname")],
      ["bad node", (t) => ((t as { node: string }).node = "n 1")],
    ];
    for (const [what, spoil] of invalid) {
      const message = telemetry();
      spoil(message);
      const [slow, quick] = [Telemetry.safeParse(message), fast.safeParse(message)];
      expect(quick.success, what).toBe(false);
      expect(z.prettifyError(quick.error as z.ZodError), what).toBe(z.prettifyError(slow.error as z.ZodError));
    }
  });

  test("bus - publishing an invalid message throws ContractViolation and sends nothing", () => {
    expect(() => bus.publish(contracts.anomaly, "n1", { ...anomaly(), kind: "meteor" } as unknown as Anomaly)).toThrow(ContractViolation);
    expect(() => bus.publish(contracts.anomaly, "n1", { ...anomaly(), kind: "meteor" } as unknown as Anomaly)).toThrow(/kind/);
  });

  test("bus - check validates both ways and publishes nothing: the bytes a subscriber gets, or ContractViolation", async () => {
    const seen: Uint8Array[] = [];
    const sub = bus.nc.subscribe(subjectOf(contracts.anomaly, "*"), {
      callback: (_, msg) => {
        seen.push(msg.data);
      },
    });
    const message = anomaly();
    const { data, message: received } = bus.check(contracts.anomaly, "n1", message);
    expect(JSON.parse(new TextDecoder().decode(data))).toEqual(message);
    expect(received).toEqual(message);
    expect(() => bus.check(contracts.anomaly, "n1", { ...message, kind: "meteor" } as unknown as Anomaly)).toThrow(/kind/);
    await bus.nc.flush();
    await Bun.sleep(50);
    sub.unsubscribe();
    expect(seen).toHaveLength(0);
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

  test("bus - a durable of another filter is refused with how to remove it, not consumed", async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.add(EVENTS_STREAM, { durable_name: "bus-test-filter", ack_policy: AckPolicy.Explicit, filter_subject: "x0.anomaly.n1" });
    const consumed = bus.consume(contracts.anomaly, () => {}, { durable: "bus-test-filter", jsm });
    await expect(consumed).rejects.toThrow(NatsSetupError);
    await expect(consumed).rejects.toThrow("durable bus-test-filter on X0_EVENTS filters x0.anomaly.n1, not x0.anomaly.*: remove it");
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
