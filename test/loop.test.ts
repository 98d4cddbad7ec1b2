// The walking MAPE-K loop across real processes: monitor → analyzer → planner → executor over a real nats-server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { ActionResult, Anomaly, DeadLetter, DLQ_STREAM, Plan } from "@x0/shared";
import { anomalyFixture, type SecureNats, type ServiceProcess, startSecureNats, waitFor } from "@x0/shared/testing";
import { fakeSysfs, Recorder, startLoopServices, testClient } from "./helpers.ts";

const NODE = "lab1";
let secure: SecureNats;
let nats: SecureNats["nats"];
let nc: NatsConnection;
let recorder: Recorder;
let sysfs: ReturnType<typeof fakeSysfs>;
const services: ServiceProcess[] = [];

beforeAll(async () => {
  secure = await startSecureNats({ nodes: [NODE] });
  nats = secure.nats;
  sysfs = fakeSysfs();
  const common = { ...secure.serviceEnv, X0_NODE: NODE, X0_LOG_LEVEL: "warn" };
  services.push(...(await startLoopServices(common, sysfs.root)));
  nc = await testClient(nats.url, secure.adminTls);
  recorder = new Recorder(nc);
  for (const subject of ["x0.anomaly.>", "x0.plan.>", "x0.action.>", "x0.dlq.>"]) await recorder.watch(subject);
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await Promise.all(services.map((service) => service.stop()));
  await secure?.dispose();
  sysfs?.remove();
});

const service = (name: string) => services.find((s) => s.name === name) as ServiceProcess;

describe("loop", () => {
  test("loop - a link going down leads to anomaly, plan and dry-run result in one trace with one incident id", async () => {
    // The monitor samples every 50 ms; then the watched interface goes down.
    await Bun.sleep(600);
    sysfs.setOperstate("down");
    await waitFor("action result", () => recorder.on("x0.action.").length > 0, 10_000);

    const anomalies = recorder.on(`x0.anomaly.${NODE}`).map((m) => ({ ...m, body: Anomaly.parse(m.body) }));
    const opened = anomalies.find((m) => m.body.state === "opened");
    expect(opened?.body.kind).toBe("link_down");
    expect(opened?.body.interface).toBe("mesh0");
    expect(opened?.body.metric).toBe("operstate");
    // No announced peer behind mesh0: the incident is about the interface.
    expect(opened?.body.target?.id).toBe(`interface:${NODE}/mesh0`);
    const plans = recorder.on(`x0.plan.${NODE}`).map((m) => ({ ...m, body: Plan.parse(m.body) }));
    expect(plans).toHaveLength(1);
    const [plan] = plans;
    const results = recorder.on(`x0.action.${NODE}`).map((m) => ({ ...m, body: ActionResult.parse(m.body) }));
    expect(results).toHaveLength(1);
    const [result] = results;

    const incidentId = opened?.body.incident_id;
    expect(plan?.body.incident_id).toBe(incidentId as string);
    expect(result?.body.incident_id).toBe(incidentId as string);
    expect(result?.body.plan_id).toBe(plan?.body.plan_id as string);
    // Without a known topology there is nothing to reroute: the planner notifies.
    expect(plan?.body.rule).toBe("no-topology-notify");
    // Dry-run is honest: nothing was applied, so nothing is called success.
    expect(result?.body.status).toBe("dry_run");
    expect(result?.body.steps.map((step) => step.status)).toEqual(["would_apply"]);

    // One incident is one trace, from the monitor's telemetry to the executor's result.
    expect(opened?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(plan?.traceId).toBe(opened?.traceId as string);
    expect(result?.traceId).toBe(opened?.traceId as string);
  }, 30_000);

  test("loop - the incident resolves when the link comes back, in the same trace", async () => {
    sysfs.setOperstate("up");
    await waitFor("resolved", () => recorder.on(`x0.anomaly.${NODE}`).some((m) => m.body.state === "resolved"), 10_000);
    const states = recorder.on(`x0.anomaly.${NODE}`);
    const resolved = states.find((m) => m.body.state === "resolved");
    const opened = states.find((m) => m.body.state === "opened");
    expect(resolved?.body.incident_id).toBe(opened?.body.incident_id as string);
    expect(resolved?.traceId).toBe(opened?.traceId as string);
    // Time to detect and time to repair were recorded once each for this incident.
    const metrics = await (await fetch(`http://127.0.0.1:${service("analyzer").port}/metrics`)).text();
    expect(metrics).toMatch(/^x0_mttd_seconds_count\{[^}]*kind="link_down"[^}]*\} 1$/m);
    expect(metrics).toMatch(/^x0_mttr_seconds_count\{[^}]*kind="link_down"[^}]*\} 1$/m);
  }, 30_000);

  test("loop - invalid telemetry goes to x0.dlq.analyzer with its reason and the analyzer stays ready", async () => {
    const invalid = { v: 1, node: NODE, ts: -5, seq: 0, interval_ms: 50, source: "sysfs", ebpf: false, interfaces: [] };
    nc.publish(`x0.telemetry.${NODE}`, JSON.stringify(invalid));
    nc.publish(`x0.telemetry.${NODE}`, "{not json");
    await waitFor("two dead letters", () => recorder.on("x0.dlq.analyzer").length >= 2, 5000);
    const letters = recorder.on("x0.dlq.analyzer").map((m) => DeadLetter.parse(m.body));
    const schemaLetter = letters.find((letter) => letter.payload === JSON.stringify(invalid));
    expect(schemaLetter?.subject).toBe(`x0.telemetry.${NODE}`);
    expect(schemaLetter?.service).toBe("analyzer");
    expect(schemaLetter?.error).toContain("ts");
    const jsonLetter = letters.find((letter) => letter.payload === "{not json");
    expect(jsonLetter?.error).toContain("invalid JSON");
    expect(await service("analyzer").ready()).toBe(true);
    // Dead letters are kept in the X0_DLQ stream too.
    const jsm = await jetstreamManager(nc);
    await waitFor("X0_DLQ holds them", async () => (await jsm.streams.info(DLQ_STREAM)).state.messages >= 2, 5000);
    const metrics = await (await fetch(`http://127.0.0.1:${service("analyzer").port}/metrics`)).text();
    expect(metrics).toContain('x0_dlq_messages_total{subject="x0.telemetry.{node}",service="analyzer"} 2');
  });

  test("loop - an invalid anomaly in the stream is dead-lettered by the planner, which keeps planning", async () => {
    const js = (await import("@nats-io/jetstream")).jetstream(nc);
    await js.publish(`x0.anomaly.${NODE}`, JSON.stringify({ v: 1, state: "exploded" }));
    await waitFor("planner dead letter", () => recorder.on("x0.dlq.planner").length === 1, 5000);
    expect(DeadLetter.parse(recorder.on("x0.dlq.planner")[0]?.body).error).toContain("incident_id");
    expect(await service("planner").ready()).toBe(true);
    // The consumer is not stuck on the bad message: a valid anomaly still becomes a plan.
    const plansBefore = recorder.on("x0.plan.").length;
    const anomaly = anomalyFixture({ node: NODE });
    await js.publish(`x0.anomaly.${NODE}`, JSON.stringify(anomaly));
    await waitFor("plan after the bad message", () => recorder.on("x0.plan.").length > plansBefore, 5000);
  });

  test("loop - each service reports its loop counters on /status", async () => {
    type Status = { ready: boolean; node: string; counters: Record<string, number> };
    const status = async (name: string) => (await (await fetch(`http://127.0.0.1:${service(name).port}/status`)).json()) as Status;
    const analyzer = await status("analyzer");
    expect(analyzer.ready).toBe(true);
    expect(analyzer.node).toBe(NODE);
    expect(analyzer.counters.anomalies).toBeGreaterThanOrEqual(2);
    expect(analyzer.counters.dlq).toBe(2);
    expect((await status("planner")).counters.plans).toBeGreaterThanOrEqual(2);
    expect((await status("executor")).counters.actions).toBeGreaterThanOrEqual(2);
    expect((await status("monitor")).counters.telemetry_published).toBeGreaterThan(10);
  });

  test("loop - the planner and the executor rehearsed their plan path at start (/status): planned, signed, checked, run and verified", async () => {
    const rehearsal = async (name: string) =>
      ((await (await fetch(`http://127.0.0.1:${service(name).port}/status`)).json()) as { details: { rehearsal?: Record<string, unknown> } }).details.rehearsal;
    expect(await rehearsal("planner")).toMatchObject({ plans: 2, rules: ["link_down/batman-deactivate", "link_down/reroute-around"] });
    const executorRehearsal = await rehearsal("executor");
    expect(executorRehearsal).toMatchObject({
      status: "verified",
      steps: 11,
      reads: { outcomes: "read (absent)", links: expect.stringMatching(/links in this namespace$/) },
    });
  });

  test("loop - every service worked within its permissions (mTLS, SPIFFE ids mapped to the matrix): the server refused nothing", () => {
    expect(nats.log.filter((line) => line.includes("Violation"))).toEqual([]);
  });
});
