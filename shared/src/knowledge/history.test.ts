import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { anomalyFixture, type NatsServer, startNatsServer } from "../testing/mod.ts";
import { readEventHistory } from "./history.ts";
import { ensureStreams } from "./knowledge.ts";

let nats: NatsServer;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  await ensureStreams(nc);
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

describe("event history", () => {
  test("history - reads the stored incident states since a time, and counts invalid messages", async () => {
    const js = jetstream(nc);
    const before = Date.now() - 1;
    await js.publish("x0.anomaly.n1", JSON.stringify(anomalyFixture({ node: "n1" })));
    await js.publish("x0.anomaly.n2", JSON.stringify(anomalyFixture({ node: "n2", state: "resolved", update: 1 })));
    await js.publish("x0.plan.n1", "not json");
    const history = await readEventHistory(nc, { sinceMs: before });
    expect(history.anomalies.map((a) => [a.node, a.state])).toEqual([
      ["n1", "opened"],
      ["n2", "resolved"],
    ]);
    expect(history.invalid).toBe(1);
    const empty = await readEventHistory(nc, { sinceMs: Date.now() + 60_000 });
    expect(empty).toEqual({ anomalies: [], plans: [], results: [], invalid: 0 });
  });
});
