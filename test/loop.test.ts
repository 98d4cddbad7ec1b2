// The walking MAPE-K loop across real processes: monitor → analyzer → planner → executor over a real nats-server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { DLQ_STREAM } from "@x0/shared";
import { anomalyFixture, type EventRecorder, recordEvents, type SecureNats, type ServiceProcess, startSecureNats, waitFor } from "@x0/shared/testing";
import { fakeSysfs, startLoopServices, testClient } from "./helpers.ts";

const NODE = "lab1";
let secure: SecureNats;
let nats: SecureNats["nats"];
let nc: NatsConnection;
let recorder: EventRecorder;
let sysfs: ReturnType<typeof fakeSysfs>;
const services: ServiceProcess[] = [];

beforeAll(async () => {
  secure = await startSecureNats({ nodes: [NODE] });
  nats = secure.nats;
  sysfs = fakeSysfs();
  const common = { ...secure.serviceEnv, X0_NODE: NODE, X0_LOG_LEVEL: "warn" };
  services.push(...(await startLoopServices(common, sysfs.root)));
  nc = await testClient(nats.url, secure.adminTls);
  recorder = await recordEvents(nc);
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await Promise.all(services.map((service) => service.stop()));
  await secure?.dispose();
  sysfs?.remove();
});

const service = (name: string) => services.find((s) => s.name === name) as ServiceProcess;
/** The node's incident states, as recorded. */
const anomaliesOfNode = () => recorder.anomalies.filter((a) => a.subject === `x0.anomaly.${NODE}`);
/** The dead letters `name` published, as recorded. */
const deadLettersOf = (name: string) => recorder.deadLetters.filter((d) => d.subject === `x0.dlq.${name}`);

describe("loop", () => {
  test("loop - a link going down leads to anomaly, plan and dry-run result in one trace with one incident id", async () => {
    // The monitor samples every 50 ms; then the watched interface goes down.
    await Bun.sleep(600);
    sysfs.setOperstate("down");
    await waitFor("action result", () => recorder.results.length > 0, 10_000);

    const opened = anomaliesOfNode().find((a) => a.message.state === "opened");
    expect(opened?.message.kind).toBe("link_down");
    expect(opened?.message.interface).toBe("mesh0");
    expect(opened?.message.metric).toBe("operstate");
    // No announced peer behind mesh0: the incident is about the interface.
    expect(opened?.message.target?.id).toBe(`interface:${NODE}/mesh0`);
    const plans = recorder.plans.filter((p) => p.subject === `x0.plan.${NODE}`);
    expect(plans).toHaveLength(1);
    const [plan] = plans;
    const results = recorder.results.filter((r) => r.subject === `x0.action.${NODE}`);
    expect(results).toHaveLength(1);
    const [result] = results;

    const incidentId = opened?.message.incident_id;
    expect(plan?.message.incident_id).toBe(incidentId);
    expect(result?.message.incident_id).toBe(incidentId);
    expect(result?.message.plan_id).toBe(plan?.message.plan_id);
    // Without a known topology there is nothing to reroute: the planner notifies.
    expect(plan?.message.rule).toBe("no-topology-notify");
    // Dry-run is honest: nothing was applied, so nothing is called success.
    expect(result?.message.status).toBe("dry_run");
    expect(result?.message.steps.map((step) => step.status)).toEqual(["would_apply"]);

    // One incident is one trace, from the monitor's telemetry to the executor's result.
    expect(opened?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(plan?.traceId).toBe(opened?.traceId);
    expect(result?.traceId).toBe(opened?.traceId);
  }, 30_000);

  test("loop - the incident resolves when the link comes back, in the same trace", async () => {
    sysfs.setOperstate("up");
    await waitFor("resolved", () => anomaliesOfNode().some((a) => a.message.state === "resolved"), 10_000);
    const states = anomaliesOfNode();
    const resolved = states.find((a) => a.message.state === "resolved");
    const opened = states.find((a) => a.message.state === "opened");
    expect(resolved?.message.incident_id).toBe(opened?.message.incident_id);
    expect(resolved?.traceId).toBe(opened?.traceId);
    // Time to detect and time to repair were recorded once each for this incident.
    const metrics = await (await fetch(`http://127.0.0.1:${service("analyzer").port}/metrics`)).text();
    expect(metrics).toMatch(/^x0_mttd_seconds_count\{[^}]*kind="link_down"[^}]*\} 1$/m);
    expect(metrics).toMatch(/^x0_mttr_seconds_count\{[^}]*kind="link_down"[^}]*\} 1$/m);
  }, 30_000);

  test("loop - invalid telemetry goes to x0.dlq.analyzer with its reason and the analyzer stays ready", async () => {
    const invalid = { v: 1, node: NODE, ts: -5, seq: 0, interval_ms: 50, source: "sysfs", ebpf: false, interfaces: [] };
    nc.publish(`x0.telemetry.${NODE}`, JSON.stringify(invalid));
    nc.publish(`x0.telemetry.${NODE}`, "{not json");
    await waitFor("two dead letters", () => deadLettersOf("analyzer").length >= 2, 5000);
    const letters = deadLettersOf("analyzer").map((d) => d.message);
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
    await waitFor("planner dead letter", () => deadLettersOf("planner").length === 1, 5000);
    expect(deadLettersOf("planner")[0]?.message.error).toContain("incident_id");
    expect(await service("planner").ready()).toBe(true);
    // The consumer is not stuck on the bad message: a valid anomaly still becomes a plan.
    const plansBefore = recorder.plans.length;
    const anomaly = anomalyFixture({ node: NODE });
    await js.publish(`x0.anomaly.${NODE}`, JSON.stringify(anomaly));
    await waitFor("plan after the bad message", () => recorder.plans.length > plansBefore, 5000);
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
