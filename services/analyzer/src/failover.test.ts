// A new leader publishes again the incident states of the last minute over a real nats-server: the stream keeps a state
// it already held once and stores one it never got (its leader died with it), in order, before the takeover's own.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Bus, connectNats, contracts, createLogger, createServiceMetrics, createTracing, ensureStreams, readEventHistory } from "@x0/shared";
import { anomalyFixture, type NatsServer, startNatsServer } from "@x0/shared/testing";
import { Registry } from "prom-client";
import { Analyzer } from "./analyzer.ts";
import { takeOverIncidents } from "./failover.ts";
import { PublishedIncidents, RECENT_STATES_MS } from "./incidents/published.ts";
import { createAnalyzerMetrics } from "./metrics.ts";
import { IncidentPublisher } from "./publish.ts";

const logger = createLogger({ service: "analyzer-test", node: "a", level: "error" });
let nats: NatsServer;
let nc: Awaited<ReturnType<typeof connectNats>>;
let bus: Bus;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connectNats({ servers: [nats.url], service: "analyzer-test", instance: "t" });
  await ensureStreams(nc);
  const tracing = createTracing({ service: "analyzer-test", version: "0", instance: "t", node: "a" });
  bus = new Bus({ nc, service: "analyzer", logger, metrics: createServiceMetrics("analyzer-test"), tracing });
}, 30_000);
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

describe("analyzer takeover", () => {
  test("takeover - the last minute's states are published again: one the stream lost is stored, one it holds is not stored twice, older ones are left", async () => {
    const since = Date.now();
    const now = Date.now();
    const stored = anomalyFixture({ node: "n1", target: { type: "link", id: "link:n1|n2", nodes: ["n1", "n2"] } });
    const lost = anomalyFixture({ node: "n3", target: { type: "link", id: "link:n3|n4", nodes: ["n3", "n4"] } });
    const lostResolved = { ...lost, state: "resolved" as const, update: 1, resolution: "cleared" as const };
    const old = anomalyFixture({ node: "n5", target: { type: "link", id: "link:n5|n6", nodes: ["n5", "n6"] } });
    // The previous leader stored `stored`; `lost` and its resolution reached subscribers but not the stream; `old` is
    // from before the window (stored long ago, as far as this test is concerned: it must not be sent again).
    await bus.publishDurable(contracts.anomaly, stored.node, stored, { msgID: `anomaly:${stored.incident_id}:0` });
    const published = new PublishedIncidents();
    published.observe(old, now - RECENT_STATES_MS - 1000);
    published.observe(stored, now - 500);
    published.observe(lost, now - 400);
    published.observe(lostResolved, now - 300);
    const publisher = new IncidentPublisher({
      bus,
      metrics: createAnalyzerMetrics(new Registry(), () => 0),
      logger,
      counters: {},
    });
    takeOverIncidents({ analyzer: new Analyzer({}), published, publisher, graceMs: 2000, logger });
    await publisher.flushed();

    const history = await readEventHistory(nc, { sinceMs: since });
    const states = history.anomalies.map((anomaly) => `${anomaly.incident_id}:${anomaly.update}`);
    expect(states.filter((state) => state === `${stored.incident_id}:0`)).toHaveLength(1);
    expect(states.filter((state) => state.startsWith(lost.incident_id))).toEqual([`${lost.incident_id}:0`, `${lost.incident_id}:1`]);
    expect(states.some((state) => state.startsWith(old.incident_id))).toBe(false);
  });

  test("takeover - recent() keeps the states of the last minute in arrival order, each once", () => {
    const published = new PublishedIncidents();
    const a = anomalyFixture();
    const b = anomalyFixture();
    published.observe(a, 1000);
    published.observe(b, 2000);
    published.observe(a, 2500); // the same state again (a redelivery seen twice)
    published.observe({ ...a, update: 1, state: "updated" }, 3000);
    expect(published.recent(3000).map(({ anomaly }) => `${anomaly.incident_id === a.incident_id ? "a" : "b"}:${anomaly.update}`)).toEqual([
      "a:0",
      "b:0",
      "a:1",
    ]);
    expect(published.recent(1000 + RECENT_STATES_MS + 1).map(({ anomaly }) => anomaly.update)).toEqual([0, 1]);
    expect(published.recent(3000 + RECENT_STATES_MS + 1)).toEqual([]);
  });
});
