// Planner and analyzer failover with real processes on a real nats-server (mTLS, the generated permissions): the leader
// lease keeps one active instance; a killed leader's standby takes over within the bound without planning or opening
// anything twice; a clean stop hands over at once.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { type Anomaly, EVENTS_STREAM, EXIT_CONFIG, readEventHistory, type Telemetry } from "@x0/shared";
import { anomalyFixture, type SecureNats, type ServiceProcess, startSecureNats, startServiceProcess, waitFor } from "@x0/shared/testing";
import { testClient } from "./helpers.ts";

/** The planners' and analyzers' lease in this test: a takeover within about a second. */
const LEASE_MS = 1000;
const SKEW_MS = 100;
/** A standby leads within the lease, the skew margin, and the time to restore and start consuming. */
const TAKEOVER_BOUND_MS = LEASE_MS + SKEW_MS + 500;
/** The node the planner's incidents are about (its executor runs the plans), and the node whose telemetry the analyzers judge. */
const PLANNED = "f1";
const WATCHED = "f2";

let secure: SecureNats;
let nc: NatsConnection;
const started: ServiceProcess[] = [];

beforeAll(async () => {
  secure = await startSecureNats({ nodes: [PLANNED, WATCHED] });
  nc = await testClient(secure.nats.url, secure.adminTls);
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await Promise.all(started.map((service) => service.stop()));
  await secure?.dispose();
});

function start(name: string, env: Record<string, string>): ServiceProcess {
  const service = startServiceProcess(name, { ...secure.serviceEnv, X0_LOG_LEVEL: "warn", ...env });
  started.push(service);
  return service;
}

interface Leadership {
  role: "leader" | "standby";
  holder: string;
  leader?: string;
  term?: number;
}

async function leadershipOf(service: ServiceProcess): Promise<Leadership | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${service.port}/status`, { signal: AbortSignal.timeout(1000) });
    return ((await response.json()) as { details: { leadership?: Leadership } }).details.leadership;
  } catch {
    return undefined;
  }
}

async function metric(service: ServiceProcess, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text();
  const line = text.split("\n").find((row) => row.startsWith(`${name}{`) || row.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

/** Waits until `service` leads; returns when it was seen leading (the test's clock). */
async function waitLeading(service: ServiceProcess, timeoutMs: number): Promise<number> {
  await waitFor(`${service.name} leading`, async () => (await leadershipOf(service))?.role === "leader", timeoutMs, 10);
  return Date.now();
}

/** X0_EVENTS holds exactly one plan for the incident state since `sinceMs`, and one executor result for it. */
async function expectPlannedOnce(anomaly: Anomaly, sinceMs: number): Promise<void> {
  const history = await readEventHistory(nc, { sinceMs });
  const plans = history.plans.filter((plan) => plan.incident_id === anomaly.incident_id && plan.anomaly_update === anomaly.update);
  expect(plans).toHaveLength(1);
  expect(history.results.filter((result) => result.plan_id === plans[0]?.plan_id)).toHaveLength(1);
}

/** Stores an incident state in X0_EVENTS as the analyzer would. */
async function storeAnomaly(anomaly: Anomaly): Promise<void> {
  await jetstream(nc).publish(`x0.anomaly.${anomaly.node}`, JSON.stringify(anomaly), { msgID: `anomaly:${anomaly.incident_id}:${anomaly.update}` });
}

describe("planner failover", () => {
  const env = { X0_NODE: PLANNED, X0_PLANNER_LEASE_MS: String(LEASE_MS), X0_PLANNER_LEASE_SKEW_MS: String(SKEW_MS) };
  let first: ServiceProcess;
  let second: ServiceProcess;
  let third: ServiceProcess;
  const since = Date.now();

  beforeAll(async () => {
    first = start("planner", { ...env, X0_INSTANCE: "planner-a" });
    await first.waitReady(30_000);
    second = start("planner", { ...env, X0_INSTANCE: "planner-b" });
    const executor = start("executor", { X0_NODE: PLANNED });
    await Promise.all([second.waitReady(30_000), executor.waitReady(30_000)]);
  }, 60_000);

  test("planner failover - a standby started while the lease is valid stays standby", async () => {
    const deadline = Date.now() + 3 * LEASE_MS;
    while (Date.now() < deadline) {
      const [a, b] = await Promise.all([leadershipOf(first), leadershipOf(second)]);
      expect(a?.role).toBe("leader");
      expect(b).toMatchObject({ role: "standby", leader: a?.holder, term: 1 });
      await Bun.sleep(100);
    }
    expect(await metric(first, "x0_leader")).toBe(1);
    expect(await metric(second, "x0_leader")).toBe(0);
    // The standby consumes nothing: an incident is planned by the leader alone.
    const anomaly = anomalyFixture({ node: PLANNED, interface: "mesh0" });
    await storeAnomaly(anomaly);
    await waitFor("the plan", async () => (await readEventHistory(nc, { sinceMs: since })).plans.some((plan) => plan.incident_id === anomaly.incident_id));
    expect(await metric(first, "x0_planner_anomalies_processed_total")).toBe(1);
    expect(await metric(second, "x0_planner_anomalies_processed_total")).toBeUndefined();
  }, 30_000);

  test("planner failover - the leader killed (SIGKILL) with an incident state fetched and unacknowledged: the standby plans it once", async () => {
    // Stopped first, so it holds the state without planning or acknowledging it, then killed.
    first.process.kill("SIGSTOP");
    const stoppedAt = Date.now();
    const anomaly = anomalyFixture({ node: PLANNED, interface: "mesh1" });
    await storeAnomaly(anomaly);
    await Bun.sleep(200);
    first.process.kill("SIGKILL");
    const tookOverAt = await waitLeading(second, 3 * TAKEOVER_BOUND_MS);
    expect(tookOverAt - stoppedAt).toBeLessThan(TAKEOVER_BOUND_MS);
    expect(await leadershipOf(second)).toMatchObject({ role: "leader", term: 2 });
    // The state comes back once its ack wait (the lease's length) has passed since the dead leader fetched it.
    await waitFor(
      "the plan of the incident",
      async () => (await readEventHistory(nc, { sinceMs: since })).plans.some((plan) => plan.incident_id === anomaly.incident_id),
      3 * TAKEOVER_BOUND_MS,
      50,
    );
    const plannedAt = Date.now();
    // It was the dead leader's: the durable consumer delivered more often than it holds incident states (a redelivery).
    const consumer = await (await jetstreamManager(nc)).consumers.info(EVENTS_STREAM, "planner");
    const states = (await readEventHistory(nc, { sinceMs: since })).anomalies.length;
    expect(consumer.delivered.consumer_seq).toBeGreaterThan(states);
    console.log(`planner failover: standby leading ${tookOverAt - stoppedAt} ms and the incident planned ${plannedAt - stoppedAt} ms after the leader stopped`);
    await Bun.sleep(LEASE_MS + 1000); // a second plan or result would show by now
    await expectPlannedOnce(anomaly, since);
  }, 60_000);

  test("planner failover - a leader killed just after publishing a plan: a re-planned redelivery is stored once", async () => {
    third = start("planner", { ...env, X0_INSTANCE: "planner-c" });
    await third.waitReady(30_000);
    const anomaly = anomalyFixture({ node: PLANNED, interface: "mesh2" });
    const subscription = nc.subscribe(`x0.plan.${PLANNED}`);
    await storeAnomaly(anomaly);
    for await (const msg of subscription) {
      if ((msg.json() as { incident_id: string }).incident_id !== anomaly.incident_id) continue;
      second.process.kill("SIGKILL"); // at once: its acknowledgement may or may not have left
      break;
    }
    await waitLeading(third, 3 * TAKEOVER_BOUND_MS);
    await Bun.sleep(LEASE_MS + 1500);
    await expectPlannedOnce(anomaly, since);
  }, 60_000);

  test("planner failover - a clean stop releases the lease and the standby leads at once", async () => {
    const fourth = start("planner", { ...env, X0_INSTANCE: "planner-d" });
    await fourth.waitReady(30_000);
    expect((await leadershipOf(third))?.role).toBe("leader");
    expect((await leadershipOf(fourth))?.role).toBe("standby");
    const stoppingAt = Date.now();
    expect(await third.stop()).toBe(0);
    const leadingAt = await waitLeading(fourth, TAKEOVER_BOUND_MS);
    console.log(`planner failover: clean stop handed over ${leadingAt - stoppingAt} ms after SIGTERM`);
    expect(leadingAt - stoppingAt).toBeLessThan(LEASE_MS);
    const anomaly = anomalyFixture({ node: PLANNED, interface: "mesh3" });
    await storeAnomaly(anomaly);
    await waitFor("the new leader's plan", async () =>
      (await readEventHistory(nc, { sinceMs: since })).plans.some((plan) => plan.incident_id === anomaly.incident_id),
    );
  }, 60_000);
});

describe("analyzer failover", () => {
  const env = {
    X0_NODE: WATCHED,
    X0_ANALYZER_LEASE_MS: String(LEASE_MS),
    X0_ANALYZER_LEASE_SKEW_MS: String(SKEW_MS),
    X0_ANALYZER_WARMUP_SAMPLES: "5",
    X0_ANALYZER_SILENCE_INTERVALS: "100000",
  };
  let first: ServiceProcess;
  let second: ServiceProcess;
  const operstates: Record<string, "up" | "down"> = { mesh0: "up", mesh1: "up" };
  let seq = 0;
  let telemetry: ReturnType<typeof setInterval>;
  const since = Date.now();

  const sample = (): Telemetry => ({
    v: 1,
    node: WATCHED,
    ts: Date.now(),
    seq: seq++,
    interval_ms: 100,
    source: "sysfs",
    ebpf: false,
    interfaces: Object.entries(operstates).map(([name, operstate]) => ({
      name,
      operstate,
      counters: { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 },
    })),
  });
  const stored = async (target: string) =>
    (await readEventHistory(nc, { sinceMs: since })).anomalies.filter((anomaly) => anomaly.target?.id === `interface:${WATCHED}/${target}`);

  beforeAll(async () => {
    first = start("analyzer", { ...env, X0_INSTANCE: "analyzer-a" });
    await first.waitReady(30_000);
    second = start("analyzer", { ...env, X0_INSTANCE: "analyzer-b" });
    await second.waitReady(30_000);
    telemetry = setInterval(() => nc.publish(`x0.telemetry.${WATCHED}`, JSON.stringify(sample())), 100);
    await Bun.sleep(1000);
  }, 60_000);

  afterAll(() => clearInterval(telemetry));

  test("analyzer failover - the leader killed with an incident open: the standby continues it, resolves it when the fault ends, and detects a new one", async () => {
    expect((await leadershipOf(first))?.role).toBe("leader");
    expect((await leadershipOf(second))?.role).toBe("standby");
    operstates.mesh0 = "down";
    await waitFor("the incident opened", async () => (await stored("mesh0")).some((anomaly) => anomaly.state === "opened"), 10_000, 50);
    const [opened] = await stored("mesh0");
    expect(opened?.kind).toBe("link_down");

    const killedAt = Date.now();
    first.process.kill("SIGKILL");
    const leadingAt = await waitLeading(second, 3 * TAKEOVER_BOUND_MS);
    console.log(`analyzer failover: standby leading ${leadingAt - killedAt} ms after the leader was killed`);
    expect(leadingAt - killedAt).toBeLessThan(TAKEOVER_BOUND_MS);
    await Bun.sleep(500);

    operstates.mesh0 = "up";
    await waitFor("the incident resolved", async () => (await stored("mesh0")).some((anomaly) => anomaly.state === "resolved"), 10_000, 50);
    const states = await stored("mesh0");
    expect(states.filter((anomaly) => anomaly.state === "opened")).toHaveLength(1);
    expect(new Set(states.map((anomaly) => anomaly.incident_id))).toEqual(new Set([opened?.incident_id as string]));
    expect(states.at(-1)).toMatchObject({ state: "resolved", resolution: "cleared", incident_id: opened?.incident_id });
    const ids = states.map((anomaly) => `${anomaly.incident_id}:${anomaly.update}`);
    expect(new Set(ids).size).toBe(ids.length);

    operstates.mesh1 = "down";
    await waitFor("a new fault detected", async () => (await stored("mesh1")).some((anomaly) => anomaly.state === "opened"), 10_000, 50);
    expect((await stored("mesh1")).filter((anomaly) => anomaly.state === "opened")).toHaveLength(1);
    expect(await metric(second, "x0_leader")).toBe(1);
  }, 60_000);
});

describe("failover configuration", () => {
  for (const [service, variable, value] of [
    ["planner", "X0_PLANNER_LEASE_MS", "100"],
    ["planner", "X0_PLANNER_LEASE_SKEW_MS", "-1"],
    ["analyzer", "X0_ANALYZER_LEASE_MS", "soon"],
    ["analyzer", "X0_ANALYZER_ADOPT_GRACE_MS", "-5"],
  ] as const) {
    test(`failover configuration - ${service} exits ${EXIT_CONFIG} naming ${variable}=${value}`, async () => {
      const child = startServiceProcess(service, { X0_NATS_SERVERS: "nats://127.0.0.1:1", [variable]: value });
      expect(await child.exited).toBe(EXIT_CONFIG);
      await Bun.sleep(20); // let the output readers drain
      expect(child.output.join("\n")).toContain(`${variable}: `);
    }, 20_000);
  }
});
