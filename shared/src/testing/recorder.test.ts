import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import type { ActionResult, Plan, Telemetry } from "../contracts/schemas.ts";
import { anomalyFixture, type NatsServer, startNatsServer } from "./mod.ts";
import { recordEvents } from "./recorder.ts";

let nats: NatsServer;
let nc: NatsConnection;
beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
});
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

const INCIDENT = "00000000-0000-4000-8000-000000000001";
const PLAN = "00000000-0000-4000-8000-000000000002";

function plan(planId: string): Plan {
  return {
    v: 1,
    plan_id: planId,
    incident_id: INCIDENT,
    node: "n1",
    kind: "link_down",
    rule: "link_down.reroute",
    approval: "auto",
    actions: [{ type: "notify", params: { message: "cut" }, reason: "test" }],
    created_at: 1000,
    target: { type: "link", id: "link:n1|n2", nodes: ["n1", "n2"] },
  };
}

function result(planId: string, status: ActionResult["status"]): ActionResult {
  return {
    v: 1,
    result_id: crypto.randomUUID(),
    plan_id: planId,
    incident_id: INCIDENT,
    node: "n1",
    status,
    dry_run: false,
    steps: [],
    started_at: 1000,
    finished_at: 1100,
  };
}

function telemetry(node: string, seq: number): Telemetry {
  return { v: 1, node, ts: 1000 + seq, seq, interval_ms: 100, source: "sysfs", ebpf: false, interfaces: [] };
}

const send = (subject: string, message: unknown) => nc.publish(subject, typeof message === "string" ? message : JSON.stringify(message));

describe("recorder", () => {
  test("recorder - the loop's messages arrive parsed and stamped; results go by plan id, the first one kept", async () => {
    let clock = 100;
    const events = await recordEvents(nc, { now: () => clock++ });
    const opened = anomalyFixture({ incident_id: INCIDENT, node: "n1" });
    send("x0.anomaly.n1", opened);
    send("x0.plan.n1", plan(PLAN));
    send("x0.action.n1", result(PLAN, "verified"));
    send("x0.action.n1", result(PLAN, "failed"));
    await nc.flush();
    await events.stop();
    expect(events.anomalies).toEqual([{ at: 100, subject: "x0.anomaly.n1", message: opened }]);
    expect(events.plans.map((p) => [p.at, p.message.plan_id])).toEqual([[101, PLAN]]);
    expect(events.results.map((r) => r.message.status)).toEqual(["verified", "failed"]);
    expect(events.resultOf(PLAN)?.message.status).toBe("verified");
    expect(events.pendingPlans()).toEqual([]);
    expect(events.rejected).toEqual([]);
    // Telemetry is not recorded unless asked for.
    expect(events.telemetry.size).toBe(0);
  });

  test("recorder - an arrival carries the trace id of its message's traceparent header, none without one", async () => {
    const events = await recordEvents(nc);
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const carrier = headers();
    carrier.set("traceparent", `00-${traceId}-00f067aa0ba902b7-01`);
    nc.publish("x0.plan.n1", JSON.stringify(plan(PLAN)), { headers: carrier });
    send("x0.action.n1", result(PLAN, "verified"));
    await nc.flush();
    await events.stop();
    expect(events.plans.map((p) => p.traceId)).toEqual([traceId]);
    expect(events.results.map((r) => r.traceId)).toEqual([undefined]);
  });

  test("recorder - a message its contract refuses is recorded as refused, with the reason, and is in no list", async () => {
    const events = await recordEvents(nc);
    send("x0.plan.n1", { ...plan(PLAN), plan_id: "not-a-uuid" });
    send("x0.anomaly.n2", "{ not json");
    await nc.flush();
    await events.stop();
    expect(events.plans).toEqual([]);
    expect(events.anomalies).toEqual([]);
    expect(events.rejected.map((r) => [r.subject, r.contract])).toEqual([
      ["x0.plan.n1", "plan"],
      ["x0.anomaly.n2", "anomaly"],
    ]);
    expect(events.rejected[0]?.error).toContain("plan_id");
    expect(events.rejected[0]?.text).toContain("not-a-uuid");
    expect(events.rejected[1]?.error).toStartWith("not JSON");
  });

  test("recorder - open incidents are those not resolved yet; pending plans those without a result", async () => {
    const events = await recordEvents(nc);
    const first = anomalyFixture();
    const second = anomalyFixture();
    send("x0.anomaly.n1", first);
    send("x0.anomaly.n1", second);
    send("x0.anomaly.n1", { ...first, state: "resolved", update: 1, resolution: "cleared" });
    const other = crypto.randomUUID();
    send("x0.plan.n1", plan(PLAN));
    send("x0.plan.n1", plan(other));
    send("x0.action.n1", result(PLAN, "verified"));
    await nc.flush();
    await events.stop();
    expect(events.openIncidents()).toEqual(new Set([second.incident_id]));
    expect(events.pendingPlans().map((p) => p.message.plan_id)).toEqual([other]);
  });

  test("recorder - with telemetry, each node's latest sample is kept", async () => {
    const events = await recordEvents(nc, { telemetry: true });
    for (const seq of [0, 1, 2]) send("x0.telemetry.n1", telemetry("n1", seq));
    send("x0.telemetry.n2", telemetry("n2", 0));
    await nc.flush();
    await events.stop();
    expect([...events.telemetry].map(([node, arrival]) => [node, arrival.message.seq, arrival.subject])).toEqual([
      ["n1", 2, "x0.telemetry.n1"],
      ["n2", 0, "x0.telemetry.n2"],
    ]);
  });

  test("recorder - firstOpened finds an opened state already in, or waits for one, or gives up after the timeout", async () => {
    const events = await recordEvents(nc);
    const since = Date.now();
    const aboutN3 = (anomaly: { node: string }) => anomaly.node === "n3";
    expect(await events.firstOpened(since, aboutN3, 50)).toBeUndefined();
    const waiting = events.firstOpened(since, aboutN3, 5000);
    send("x0.anomaly.n2", anomalyFixture({ node: "n2" }));
    const wanted = anomalyFixture({ node: "n3" });
    setTimeout(() => send("x0.anomaly.n3", wanted), 100);
    const found = await waiting;
    expect(found?.message).toEqual(wanted);
    expect(found?.at).toBeGreaterThanOrEqual(since + 100);
    // An opened state from before `since` does not count.
    expect(await events.firstOpened((found?.at ?? 0) + 1, aboutN3, 20)).toBeUndefined();
    await events.stop();
  });

  test("recorder - describe tells what the loop said since a time, one line per message, refusals included", async () => {
    let clock = 1000;
    const events = await recordEvents(nc, { now: () => (clock += 10) });
    const opened = anomalyFixture({ node: "n1", target: { type: "link", id: "link:n1|n2", nodes: ["n1", "n2"] } });
    send("x0.anomaly.n1", opened);
    send("x0.plan.n1", plan(PLAN));
    send("x0.plan.n1", "[]");
    await nc.flush();
    await events.stop();
    const lines = events.describe(1000);
    expect(lines[0]).toBe("+10 ms x0.anomaly.n1 opened link_down link:n1|n2");
    expect(lines[1]).toBe('+20 ms x0.plan.n1 link_down.reroute [["notify",{"message":"cut"}]]');
    expect(lines[2]).toStartWith("+30 ms x0.plan.n1 refused by its contract: ");
    expect(events.describe(1025)).toHaveLength(1);
  });
});
