// The whole loop on a network-namespace lab, for the self-healing tests and benches: nats-server (or a 3-server cluster) on
// the lab's bridge, a monitor and an executor per node in its namespace (or a site executor), analyzer and planner(s) in
// the root namespace, as `bun run up --lab` runs them.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  createLab,
  defaultMgmtSubnet,
  executorArgv,
  executorEnvironment,
  executorUrl,
  type LabExecutors,
  type LabLinkCosts,
  type LabNode,
  type LabPlan,
  LabProber,
  type LabRouting,
  parseTopology,
  planLab,
  siteExecutorEnvironment,
  startDetachedMonitor,
  teardownLab,
  waitForDataplanes,
} from "@x0/lab";
import {
  type SecureCluster,
  type SecureNats,
  type ServiceProcess,
  serviceProcessOf,
  startSecureCluster,
  startSecureNats,
  startServiceProcess,
  waitFor,
} from "@x0/shared/testing";

/**
 * Settings for a lab inside the TCG VM (`x0 lab vm`), where every process runs ~40× slower than on the host: hellos every
 * 100 ms and telemetry every second keep the guest below saturation (measured in the guest on grid:2x3, when monitors
 * still read batman-adv through batctl: each monitor 9–11 % of a vCPU plus 5 % for its batctl reads, the guest 44 % busy;
 * at the lab's own 20 ms hellos and 100 ms telemetry each monitor took 18–22 % and the guest was saturated once the stack
 * joined), and the analyzer tolerates the guest's scheduling jitter with a 50 ms phi floor (a monitor stalled for a
 * moment must not look like a dead node; about 0.4 s of silence). That floor needs the quiet guest netlink gives: while
 * monitors and repairs spawned batctl, a 100 ms floor opened false link_downs under repair load (15 and 50 plans for 6
 * cuts), so it was 200 ms; with netlink, bench:batman's repairs made exactly one repair and one restore plan per cut at
 * 100 ms and, in three of four runs, at 50 ms (in the other, one repair was rolled back: see the README). JetStream
 * requests get a minute, and the small tmpfs holds streams of 64 MiB (JetStream reserves max_bytes).
 */
export const VM_PROFILE = {
  // Leader leases of 10 s: a 1 s lease renewed every 333 ms would demote a leader at every pause of a guest this slow.
  common: {
    X0_NATS_JS_TIMEOUT_MS: "60000",
    X0_EVENTS_MAX_BYTES: String(64 * 1024 * 1024),
    X0_PLANNER_LEASE_MS: "10000",
    X0_ANALYZER_LEASE_MS: "10000",
  },
  // batman-adv's tables every 2 s: telemetry needs no fresher TQ, and a guest at 40× slower has no cycles to spare.
  monitor: { X0_MONITOR_PROBE_INTERVAL_MS: "100", X0_MONITOR_INTERVAL_MS: "1000", X0_MONITOR_BATMAN_INTERVAL_MS: "2000" },
  analyzer: { X0_ANALYZER_PHI_MIN_STDDEV_MS: "50", X0_ANALYZER_SILENCE_INTERVALS: "8", X0_ANALYZER_BATMAN_LAST_SEEN_MS: "6000" },
  /** Probe traffic every 100 ms: replies take tens of ms in the guest, so a faster prober sees outages in every jitter. */
  proberIntervalMs: 100,
  startTimeoutMs: 240_000,
} as const;

/** Whether this process runs inside the lab VM (set by `x0 lab vm`). */
export const inVm = process.env.X0_IN_VM === "1";

/** Whether this process can build labs: root (namespaces, XDP, bpffs) and nats-server on PATH. */
export const labRunnable = process.getuid?.() === 0 && Bun.which(process.env.NATS_SERVER_BIN ?? "nats-server") !== null;

/** A running lab with the loop on it. */
export interface HealLab {
  plan: LabPlan;
  /** mTLS-only, with the permission matrix: every process connects with its own SVID. */
  secure: SecureNats;
  /** The (first) nats-server. */
  nats: SecureNats["nats"];
  /** The three servers, when the lab runs on a cluster. */
  cluster?: SecureCluster;
  /** A client of the test (root namespace). */
  nc: NatsConnection;
  stateDir: string;
  /** Root-namespace services by name (a second planner is `planner#2`), and the node executors as `executor@<node>`. */
  services: Map<string, ServiceProcess>;
  /** Who runs the plans: one executor per node, or the site executor. */
  executors: LabExecutors;
  /**
   * Starts (or restarts) a root-namespace service, or one node's executor (`executor@<node>`), with the lab's environment
   * plus `env`; `executor` is every node's executor (their first returned) or the site executor.
   */
  startService(name: string, env?: Record<string, string>): Promise<ServiceProcess>;
  /** The route `node` has to `destination` in its namespace now (`ip route get`): device and gateway. */
  routeOf(node: string, destination: string): { dev: string; via: string | null };
  /** The node path from `from` to `to` that the kernel routes follow now. */
  pathOf(from: string, to: string): string[];
  /** Routes in the kernel that differ from the lab's initial (hop-count) tables, as `node→destination`. */
  routesOffInitial(): string[];
  stop(): Promise<void>;
}

/** A message a test recorded from the lab's NATS: its subject and JSON body. */
export interface Recorded {
  subject: string;
  body: unknown;
}

/** Records every message of the lab's loop but telemetry, with the time it arrived, as it comes. */
export function recordLoop(lab: HealLab): (Recorded & { at: number })[] {
  const messages: (Recorded & { at: number })[] = [];
  lab.nc.subscribe("x0.>", {
    callback: (_error, msg) => {
      if (!msg.subject.startsWith("x0.telemetry.")) messages.push({ subject: msg.subject, body: msg.json(), at: Date.now() });
    },
  });
  return messages;
}

/** Probe traffic from `from` to `to` every 10 ms (a summary every 200 ms), once replies come back. */
export async function startProbing(lab: HealLab, from: string, to: string): Promise<LabProber> {
  const prober = new LabProber({ plan: lab.plan, intervalMs: 10, summaryMs: 200 });
  await prober.start(from, to);
  await waitFor(`probe replies ${from} → ${to}`, () => (prober.lastSummary?.received ?? 0) > 10, 10_000);
  return prober;
}

/**
 * Waits until every incident the recorded messages opened has resolved, every node has the lab's initial routes again
 * (restore plans follow resolution) and every plan has its result; `explain` adds to the error of a wait that timed out.
 */
export async function waitSettled(
  lab: HealLab,
  messages: readonly Recorded[],
  timeoutMs = 20_000,
  explain: () => Promise<string> = async () => "",
): Promise<void> {
  const of = (prefix: string) => messages.filter((m) => m.subject.startsWith(prefix)).map((m) => m.body as Record<string, string>);
  const wait = (what: string, check: () => boolean, everyMs: number) =>
    waitFor(what, check, timeoutMs, everyMs).catch(async (error) => {
      const off = lab.routesOffInitial();
      throw new Error(`${error}${off.length > 0 ? `: still off: ${off.join(", ")}` : ""}${await explain()}`);
    });
  await wait(
    "every incident resolved",
    () => {
      const open = new Set<string>();
      for (const anomaly of of("x0.anomaly.")) {
        if (anomaly.state === "resolved") open.delete(anomaly.incident_id as string);
        else open.add(anomaly.incident_id as string);
      }
      return open.size === 0;
    },
    100,
  );
  await wait("the initial routes back in every node", () => lab.routesOffInitial().length === 0, 200);
  await wait("every plan has its result", () => of("x0.plan.").every((plan) => of("x0.action.").some((result) => result.plan_id === plan.plan_id)), 100);
}

/** Options of {@link startHealLab}. */
export interface HealLabOptions {
  topology: string;
  prefix: string;
  /** Extra environment of every root-namespace service. */
  env?: Record<string, string>;
  /** Extra environment per service (e.g. a planner policy for the test). */
  serviceEnv?: Record<string, Record<string, string>>;
  /** Monitor settings for the lab's nodes. */
  monitorEnv?: Record<string, string>;
  /** static (default) or batman. */
  routing?: LabRouting;
  /** equal (default) or distinct hop penalties per link (batman only). */
  linkCosts?: LabLinkCosts;
  /** How long services and monitors get to come up (a TCG VM is ~40× slower than the host). */
  startTimeoutMs?: number;
  /** Services to start (default analyzer, planner and executor; none: the monitors and NATS only). */
  services?: readonly string[];
  /** node (default; site on a batman-adv lab, where node executors are not verified yet): one executor per node; site: one for all. */
  executors?: LabExecutors;
  /** A 3-server NATS cluster with every stream and bucket at 3 replicas, instead of one server. */
  cluster?: boolean;
  /** How many planner instances run (one leads, the others stand by): `planner`, `planner#2`, … */
  planners?: number;
}

/** A node's executor inside its namespace, as a service process answering at the node's management address. */
function startNodeExecutor(plan: LabPlan, node: LabNode, natsUrl: string, env: Record<string, string>): ServiceProcess {
  const keyDir = mkdtempSync(join(tmpdir(), `x0-keys-executor-${node.name}-`));
  const child = Bun.spawn(executorArgv(node), {
    env: executorEnvironment(plan, node, natsUrl, { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", X0_KEY_DIR: keyDir, ...env }),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  void child.exited.then(() => rmSync(keyDir, { recursive: true, force: true }));
  const ready = () =>
    fetch(`${executorUrl(node)}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
      (response) => response.ok,
      () => false,
    );
  return serviceProcessOf(`executor@${node.name}`, 9104, child, ready);
}

/** Builds the lab and starts the loop on it; removes a crashed earlier run's leftovers of the same prefix first. */
export async function startHealLab({
  topology,
  prefix,
  env = {},
  serviceEnv = {},
  monitorEnv = {},
  routing = "static",
  linkCosts = "equal",
  startTimeoutMs = 30_000,
  services: serviceNames = ["analyzer", "planner", "executor"],
  executors = routing === "batman" ? "site" : "node",
  cluster: clustered = false,
  planners = 1,
}: HealLabOptions): Promise<HealLab> {
  await teardownLab(prefix, { stateDir: tmpdir(), graceMs: 0 });
  const stateDir = mkdtempSync(join(tmpdir(), `x0-heal-${prefix}-`));
  const plan = planLab(parseTopology(topology), prefix, defaultMgmtSubnet(prefix), routing, linkCosts);
  const services = new Map<string, ServiceProcess>();
  let secure: SecureNats | undefined;
  let cluster: SecureCluster | undefined;
  let nc: NatsConnection | undefined;
  const stop = async () => {
    await Promise.all([...services.values()].map((service) => service.stop()));
    await nc?.close().catch(() => {});
    await teardownLab(prefix, { stateDir, graceMs: 2000 });
    await (cluster ?? secure)?.dispose();
    rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    const state = await createLab(plan, { stateDir, natsUrl: null, owner: "lab" });
    // Per-node identities: every lab node's monitor and executor (the site executor has its own role, executor-site).
    const natsOptions = {
      nodes: plan.nodes.map((node) => node.name),
      host: plan.bridgeAddress,
      // In a TCG VM a loaded guest can take seconds over a TLS handshake.
      tlsTimeoutSeconds: process.env.X0_IN_VM === "1" ? 30 : undefined,
    };
    if (clustered) {
      cluster = await startSecureCluster({ ...natsOptions, size: 3 });
      const { caDir, serviceEnv: clusterEnv, adminTls, observerTls, voterTls } = cluster;
      secure = {
        nats: cluster.servers[0] as SecureNats["nats"],
        caDir,
        serviceEnv: clusterEnv,
        adminTls,
        observerTls,
        voterTls,
        dispose: () => Promise.resolve(),
      };
    } else secure = await startSecureNats(natsOptions);
    const natsUrl = cluster ? cluster.urls.join(",") : secure.nats.url;
    const replicas = secure.serviceEnv.X0_JS_REPLICAS;
    for (const node of plan.nodes)
      state.processes.push(
        startDetachedMonitor(plan, node, natsUrl, stateDir, {
          ...process.env,
          X0_LOG_LEVEL: "warn",
          X0_DEV_CA_DIR: secure.caDir,
          ...(replicas ? { X0_JS_REPLICAS: replicas } : {}),
          ...monitorEnv,
        }),
      );
    const common = { ...secure.serviceEnv, X0_NODE: "site", X0_LOG_LEVEL: "warn", ...env };
    const site: Record<string, Record<string, string>> = { executor: siteExecutorEnvironment(prefix) };
    const startService = async (name: string, extra: Record<string, string> = {}): Promise<ServiceProcess> => {
      if (name === "executor" && executors === "node") {
        // One after another: nodes starting together can starve the monitors' hellos on a small machine.
        const started: ServiceProcess[] = [];
        for (const node of plan.nodes) started.push(await startService(`executor@${node.name}`, extra));
        return started[0] as ServiceProcess;
      }
      await services.get(name)?.stop();
      const node = name.startsWith("executor@") ? plan.nodes.find((candidate) => `executor@${candidate.name}` === name) : undefined;
      // A second instance of a service (`planner#2`): the same service, its own instance name.
      const [folder = name, instance] = name.split("#");
      const service = node
        ? startNodeExecutor(plan, node, natsUrl, { ...common, ...serviceEnv.executor, ...extra })
        : startServiceProcess(folder, {
            ...common,
            ...site[folder],
            ...serviceEnv[folder],
            ...(instance ? { X0_INSTANCE: `${folder}-${instance}` } : {}),
            ...extra,
          });
      services.set(name, service);
      await service.waitReady(startTimeoutMs);
      return service;
    };
    // The executors first: a node executor's durable consumer takes the plans published after it is made, and a plan with
    // a step for a node whose executor missed it waits for its deadline.
    if (serviceNames.includes("executor")) await startService("executor");
    const extraPlanners = serviceNames.includes("planner") ? Array.from({ length: Math.max(0, planners - 1) }, (_, i) => `planner#${i + 2}`) : [];
    await Promise.all(serviceNames.filter((name) => name !== "executor").map((name) => startService(name)));
    // The standbys after the first planner has taken the lead.
    for (const name of extraPlanners) await startService(name);
    const missing = await waitForDataplanes(plan, 2 * startTimeoutMs);
    if (missing.length > 0) {
      // The state folder goes with the lab: say what the monitor of each node still missing wrote.
      const nodes = [...new Set(missing.map((entry) => entry.split(":")[0] as string))];
      const tails = nodes.map((node) => {
        const log = join(stateDir, `lab-${prefix}-logs`, `${node}.log`);
        return `${node}'s monitor wrote:\n${existsSync(log) ? readFileSync(log, "utf8").split("\n").slice(-15).join("\n") : "(no log)"}`;
      });
      throw new Error(`monitors did not attach XDP on ${missing.join(", ")}; ${tails.join("\n")}`);
    }
    nc = await connect({ servers: natsUrl.split(","), name: "heal-test", maxReconnectAttempts: -1, tls: secure.adminTls });
    // The planner knows every link once every node has announced its addresses.
    const planner = services.get("planner");
    if (planner)
      await waitFor(
        "the planner to know every link",
        async () => {
          const status = (await (await fetch(`http://127.0.0.1:${planner.port}/status`)).json()) as { details?: { links?: number } };
          return status.details?.links === plan.links.length;
        },
        startTimeoutMs,
        100,
      );
    // Probe pairs are judged after a second of steady replies (X0_ANALYZER_ARM_SAMPLES): let them arm.
    await Bun.sleep(1500);
    const routeOf = (node: string, destination: string) => {
      const from = plan.nodes.find((n) => n.name === node);
      const to = plan.nodes.find((n) => n.name === destination);
      if (!from || !to) throw new Error(`no node ${node} or ${destination}`);
      const result = Bun.spawnSync(["ip", "-n", from.netns, "-j", "route", "get", to.serviceAddress], { stdout: "pipe", stderr: "pipe" });
      const [route] = JSON.parse(result.stdout.toString() || "[]") as { dev: string; gateway?: string }[];
      if (!route) throw new Error(`no route from ${node} to ${destination}: ${result.stderr.toString()}`);
      return { dev: route.dev, via: route.gateway ?? null };
    };
    const pathOf = (from: string, to: string) => {
      const path = [from];
      while (path.at(-1) !== to && path.length <= plan.nodes.length) {
        const { dev } = routeOf(path.at(-1) as string, to);
        // Lab link interfaces are named <near>-<far>.
        path.push(dev.split("-")[1] as string);
      }
      return path;
    };
    const routesOffInitial = () => {
      const off: string[] = [];
      for (const node of plan.nodes) {
        const result = Bun.spawnSync(["ip", "-n", node.netns, "-j", "route", "show"], { stdout: "pipe" });
        const kernel = JSON.parse(result.stdout.toString() || "[]") as { dst: string; gateway?: string; dev: string }[];
        for (const route of plan.routes.filter((r) => r.node === node.name)) {
          const found = kernel.find((k) => k.dst === route.prefix);
          if (found?.gateway !== route.via || found.dev !== route.dev) off.push(`${route.node}→${route.destination}`);
        }
      }
      return off;
    };
    return { plan, secure, nats: secure.nats, cluster, nc, stateDir, services, executors, startService, routeOf, pathOf, routesOffInitial, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
