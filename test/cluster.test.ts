// The loop on a 3-server NATS cluster with R3 JetStream: one nats-server killed (SIGKILL) in the middle of a stream of
// incidents loses and duplicates no anomaly, plan or result, runs no plan twice, keeps healing, and rejoins when restarted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeliverPolicy, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type ActionResult, type Anomaly, Buckets, DLQ_STREAM, EVENTS_STREAM, issueSvid, loadDevCa, OutcomeRecord, openBucket, type Plan } from "@x0/shared";
import { connectionNames, freePort, type SecureCluster, type ServiceProcess, startSecureCluster, startServiceProcess, waitFor } from "@x0/shared/testing";
import { incidentSample } from "./helpers.ts";

const WARMUP = 5;
/** How often each fed node publishes a sample, as a monitor would. */
const FEED_MS = 100;
/** Incidents that start before the kill (the server dies while they are worked on), while the server is down, and after it rejoined. */
const BEFORE = Array.from({ length: 12 }, (_, i) => `a${i}`);
const DURING = Array.from({ length: 8 }, (_, i) => `b${i}`);
const AFTER = Array.from({ length: 5 }, (_, i) => `c${i}`);
const ALL = [...BEFORE, ...DURING, ...AFTER];

let cluster: SecureCluster;
let services: ServiceProcess[] = [];
let nc: NatsConnection;
let jsm: JetStreamManager;

/**
 * Telemetry of the fed nodes, published every FEED_MS as a monitor does: up for WARMUP + 1 samples, then down until the
 * node's anomaly is stored. Telemetry is core NATS (at most once): a sample lost with the killed server is followed by the next.
 */
class TelemetryFeeder {
  readonly #seq = new Map<string, number>();
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #start = Date.now();
  /** When each node's first down sample was sent (its fault's onset). */
  readonly wentDown = new Map<string, number>();

  constructor(private readonly client: NatsConnection) {
    this.#timer = setInterval(() => this.#tick(), FEED_MS);
  }

  /** Starts feeding `nodes`, one every `staggerMs`. */
  async feed(nodes: string[], staggerMs = 0): Promise<void> {
    for (const node of nodes) {
      this.#seq.set(node, 0);
      if (staggerMs > 0) await Bun.sleep(staggerMs);
    }
  }

  /** Stops feeding the nodes whose anomaly is stored. */
  settle(stored: Set<string>): void {
    for (const node of stored) this.#seq.delete(node);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #tick(): void {
    for (const [node, seq] of this.#seq) {
      this.client.publish(`x0.telemetry.${node}`, JSON.stringify(incidentSample(node, this.#start, WARMUP, seq)));
      if (seq === WARMUP + 1) this.wentDown.set(node, Date.now());
      this.#seq.set(node, seq + 1);
    }
  }
}

/** Which nodes have an anomaly, a plan and a result stored in X0_EVENTS (from the stream's per-subject counts). */
async function progress(): Promise<{ anomalies: Set<string>; plans: Set<string>; results: Set<string> }> {
  const info = await jsm.streams.info(EVENTS_STREAM, { subjects_filter: "x0.>" });
  const nodesOf = (family: string) =>
    new Set(
      Object.keys(info.state.subjects ?? {})
        .filter((subject) => subject.startsWith(`x0.${family}.`))
        .map((subject) => subject.split(".")[2] as string),
    );
  return { anomalies: nodesOf("anomaly"), plans: nodesOf("plan"), results: nodesOf("action") };
}

/** Waits until every one of `nodes` has a result stored, settling the feeder as anomalies land; resolves with when it happened. */
async function healed(nodes: string[], feeder: TelemetryFeeder, timeoutMs = 60_000): Promise<number> {
  try {
    await waitFor(
      `a result for ${nodes.length} incidents`,
      async () => {
        // A JetStream request may fail while the cluster moves a leader: ask again on the next poll.
        const now = await progress().catch(() => undefined);
        if (now === undefined) return false;
        feeder.settle(now.anomalies);
        return nodes.every((node) => now.results.has(node));
      },
      timeoutMs,
      100,
    );
  } catch (error) {
    const now = await progress().catch(() => undefined);
    const missing = (set: Set<string> | undefined) => nodes.filter((node) => !set?.has(node)).join(",");
    const logs = services.map((service) => `--- ${service.name}\n${service.output.slice(-25).join("\n")}`).join("\n");
    throw new Error(
      `${(error as Error).message}; no anomaly: ${missing(now?.anomalies)}; no plan: ${missing(now?.plans)}; no result: ${missing(now?.results)}\n${logs}`,
      { cause: error },
    );
  }
  return Date.now();
}

/** Every X0_EVENTS message, in order, parsed. */
async function storedEvents(): Promise<{ anomalies: Anomaly[]; plans: Plan[]; results: ActionResult[] }> {
  const { state } = await jsm.streams.info(EVENTS_STREAM);
  const consumer = await jetstream(nc).consumers.get(EVENTS_STREAM, { deliver_policy: DeliverPolicy.All });
  const events: { anomalies: Anomaly[]; plans: Plan[]; results: ActionResult[] } = { anomalies: [], plans: [], results: [] };
  for (let read = 0; read < state.messages; read += 1) {
    const message = await consumer.next({ expires: 5000 });
    if (!message) throw new Error(`X0_EVENTS holds ${state.messages} messages but only ${read} were read`);
    const family = message.subject.split(".")[1];
    if (family === "anomaly") events.anomalies.push(message.json<Anomaly>());
    else if (family === "plan") events.plans.push(message.json<Plan>());
    else if (family === "action") events.results.push(message.json<ActionResult>());
  }
  return events;
}

/** How a stream is placed: its configured replicas and the servers that hold it, each with whether it is current. */
async function placementOf(stream: string): Promise<{ replicas: number; peers: Map<string, boolean> }> {
  const { config, cluster: placement } = await jsm.streams.info(stream);
  const peers = new Map<string, boolean>();
  if (placement?.leader) peers.set(placement.leader, true);
  for (const replica of placement?.replicas ?? []) peers.set(replica.name, replica.current);
  return { replicas: config.num_replicas, peers };
}

beforeAll(async () => {
  cluster = await startSecureCluster({ nodes: ["core"] });
  const common = { ...cluster.serviceEnv, X0_LOG_LEVEL: "warn", X0_NODE: "core" };
  services = [
    // No keep-alive `updated` states (5 s by default) and no silence detection: one anomaly per incident.
    startServiceProcess("analyzer", {
      ...common,
      X0_ANALYZER_WARMUP_SAMPLES: String(WARMUP),
      X0_ANALYZER_SILENCE_INTERVALS: "100000",
      X0_ANALYZER_UPDATE_EVERY_MS: "600000",
    }),
    startServiceProcess("planner", common),
    startServiceProcess("executor", { ...common, X0_EXECUTOR_SCOPE: "all" }),
  ];
  await Promise.all(services.map((service) => service.waitReady(30_000)));
  nc = await connect({ servers: cluster.urls, name: "test", maxReconnectAttempts: -1, reconnectTimeWait: 100, tls: cluster.adminTls });
  jsm = await jetstreamManager(nc);
}, 90_000);

afterAll(async () => {
  await nc?.close();
  await Promise.all(services.map((service) => service.stop()));
  await cluster?.dispose();
});

describe("cluster", () => {
  test("cluster - a route is refused to a service's SVID and to the client-facing certificate, which cannot join as a server", async () => {
    const dir = mkdtempSync(join(tmpdir(), "x0-rogue-route-"));
    try {
      const ca = await loadDevCa({
        trustDomain: "x0tta6bl4.mesh",
        certPem: readFileSync(join(cluster.caDir, "ca.crt"), "utf8"),
        keyPem: readFileSync(join(cluster.caDir, "ca.key"), "utf8"),
      });
      const svid = await issueSvid({ ca, role: "monitor", name: "core" });
      writeFileSync(join(dir, "svid.crt"), svid.certPem);
      writeFileSync(join(dir, "svid.key"), svid.keyPem);
      const target = cluster.servers[0];
      if (!target) throw new Error("no server");
      for (const [what, cert, key] of [
        ["a service's SVID", join(dir, "svid.crt"), join(dir, "svid.key")],
        ["the client-facing certificate", join(cluster.caDir, "nats.crt"), join(cluster.caDir, "nats.key")],
      ] as const) {
        // The server's own refusal of a route (rid) whose certificate maps to no route user.
        const refusals = () => target.log.filter((line) => /rid:\d+ - authentication error/.test(line)).length;
        const seen = refusals();
        const config = {
          server_name: "rogue",
          cluster: {
            name: "x0",
            listen: `127.0.0.1:${freePort()}`,
            routes: [cluster.routes[0]],
            tls: { cert_file: cert, key_file: key, ca_file: join(cluster.caDir, "ca.crt") },
          },
        };
        writeFileSync(join(dir, "rogue.conf"), JSON.stringify(config));
        const rogue = Bun.spawn(["nats-server", "-a", "127.0.0.1", "-p", String(freePort()), "-c", join(dir, "rogue.conf")], {
          stdout: "ignore",
          stderr: "ignore",
        });
        try {
          await waitFor(`the cluster to refuse a route with ${what}`, () => refusals() > seen, 15_000, 50);
        } finally {
          rogue.kill("SIGKILL");
          await rogue.exited;
        }
        const routez = (await (await fetch(`${target.monitorUrl}/routez`)).json()) as { num_routes: number };
        expect(routez.num_routes, what).toBe(2);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test("cluster - X0_EVENTS, X0_DLQ and the knowledge buckets are replicated on all three servers", async () => {
    const streams = [EVENTS_STREAM, DLQ_STREAM, ...Object.values(Buckets).map((bucket) => `KV_${bucket}`)];
    const existing: string[] = [];
    for (const stream of streams) {
      const found = await jsm.streams.info(stream).then(
        () => true,
        () => false,
      );
      if (!found) continue;
      existing.push(stream);
      const { replicas, peers } = await placementOf(stream);
      expect(replicas, stream).toBe(3);
      expect(peers.size, stream).toBe(3);
    }
    // The loop's services create at least these; any bucket added to Buckets is checked when it exists.
    expect(existing).toEqual(expect.arrayContaining([EVENTS_STREAM, DLQ_STREAM, "KV_x0_topology", "KV_x0_baselines", "KV_x0_outcomes", "KV_x0_keyring"]));
    expect((await (await openBucket(nc, Buckets.outcomes)).status()).replicas).toBe(3);
  }, 30_000);

  test("cluster - a nats-server killed mid-stream loses and duplicates nothing, runs no plan twice, and rejoins", async () => {
    const feeder = new TelemetryFeeder(nc);
    // The server to kill: the planner's (from the servers' /connz), mid-way through the first incidents.
    const hosts = await Promise.all(cluster.servers.map(async (server) => ({ server, names: await connectionNames(server) })));
    const holding = (service: string) => hosts.filter(({ names }) => names.some((name) => name.startsWith(`${service}/`))).map(({ server }) => server);
    const victim = holding("planner")[0] ?? holding("executor")[0];
    if (!victim) throw new Error(`no server holds the planner or the executor: ${JSON.stringify(hosts.map(({ names }) => names))}`);
    const victimName = `x0-${cluster.servers.indexOf(victim) + 1}`;
    const sharing = ["analyzer", "planner", "executor"].filter((service) => holding(service).includes(victim));
    const eventsLeader = [...(await placementOf(EVENTS_STREAM)).peers.keys()][0];
    let killedAt = 0;
    let rejoinedAt = 0;
    try {
      void feeder.feed(BEFORE, 60);
      await waitFor("a third of the first incidents to be healed", async () => (await progress()).results.size >= BEFORE.length / 3, 30_000, 20);
      await victim.stop("SIGKILL");
      killedAt = Date.now();
      await feeder.feed(DURING);
      await healed([...BEFORE, ...DURING], feeder);

      await victim.start();
      await cluster.waitFormed();
      await waitFor(
        `${victimName} to be current again in X0_EVENTS`,
        async () => (await placementOf(EVENTS_STREAM).catch(() => undefined))?.peers.get(victimName) === true,
        30_000,
        100,
      );
      rejoinedAt = Date.now();
      await feeder.feed(AFTER);
      await healed(ALL, feeder);
    } finally {
      feeder.stop();
    }

    await Bun.sleep(1000); // any duplicate would show up by now
    const { anomalies, plans, results } = await storedEvents();
    // What the kill cost: fault onset (first down sample) to result, per phase; the numbers docs/operating.md quotes.
    const repairMs = (nodes: string[]) =>
      nodes
        .map((node) => (results.find((result) => result.node === node)?.finished_at ?? Number.NaN) - (feeder.wentDown.get(node) ?? Number.NaN))
        .sort((a, b) => a - b);
    const summary = (nodes: string[]) => {
      const times = repairMs(nodes);
      return `median ${times[Math.floor(times.length / 2)]} ms, max ${times.at(-1)} ms`;
    };
    process.stdout.write(
      `cluster: killed ${victimName} (clients: ${sharing.join(", ")}; X0_EVENTS leader ${eventsLeader}); it rejoined and was current ` +
        `${rejoinedAt - killedAt} ms after the kill. Onset to result: started before the kill ${summary(BEFORE)}; ` +
        `while it was down ${summary(DURING)}; after it rejoined ${summary(AFTER)}\n`,
    );
    const countBy = <T>(items: T[], key: (item: T) => string) => Object.values(Object.groupBy(items, key)).map((group) => group?.length ?? 0);
    // One incident per node, one plan per incident, one result per plan: nothing lost, nothing stored twice.
    expect(anomalies.map((anomaly) => anomaly.node).sort()).toEqual([...ALL].sort());
    expect(countBy(anomalies, (anomaly) => anomaly.incident_id).every((count) => count === 1)).toBe(true);
    expect(plans.map((plan) => plan.incident_id).sort()).toEqual(anomalies.map((anomaly) => anomaly.incident_id).sort());
    expect(countBy(plans, (plan) => plan.plan_id).every((count) => count === 1)).toBe(true);
    expect(results.map((result) => result.plan_id).sort()).toEqual(plans.map((plan) => plan.plan_id).sort());
    expect(new Set(results.map((result) => result.result_id)).size).toBe(results.length);
    expect(results.every((result) => result.status === "dry_run")).toBe(true);

    // No plan ran twice: each plan's outcome record is the one result published for it.
    const outcomes = await openBucket(nc, Buckets.outcomes);
    for (const result of results) {
      const entry = await outcomes.get(result.plan_id);
      expect(entry?.value, result.plan_id).toBeDefined();
      expect(OutcomeRecord.parse(entry?.json()).result.result_id).toBe(result.result_id);
    }
    // The planner processed each anomaly once, whatever was redelivered after the kill.
    const planner = services.find((service) => service.name === "planner") as ServiceProcess;
    const metrics = await (await fetch(`http://127.0.0.1:${planner.port}/metrics`)).text();
    const processed = [...metrics.matchAll(/^x0_planner_anomalies_processed_total\{[^}]*\} (\d+)$/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
    expect(processed).toBe(ALL.length);
    // Every server is back in the cluster with its copy of the event history.
    const { peers } = await placementOf(EVENTS_STREAM);
    expect([...peers.values()]).toEqual([true, true, true]);
  }, 180_000);
});
