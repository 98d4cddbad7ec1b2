// `bun run up`: one run of the stack (NATS, the services, on a lab the nodes' monitors) from start to stop. What it runs
// is decided in stack-plan.ts; this file starts, watches and stops it.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  createLab,
  defaultMgmtSubnet,
  EXECUTOR_ROLE,
  existingNamespaces,
  type LabPlan,
  type LabState,
  type LabTopology,
  MONITOR_ROLE,
  planLab,
  readLabState,
  stateFileOf,
  teardownLab,
  waitForDataplanes,
  writeLabState,
} from "@x0/lab";
import { Buckets, ConfigError, connectNats, forgetBucket, isProcessAlive } from "@x0/shared";
import type { Subprocess } from "bun";
import { EXIT_FAILURE, EXIT_USAGE, isUsageError, StackFileError, StackStartError, UsageError } from "../errors.ts";
import { REPO_ROOT, stackFileOf, stateDirOf } from "../paths.ts";
import { describeError } from "../report-error.ts";
import { readStackFile, removeStackFile, type StackFile, writeStackFile } from "../stack-file.ts";
import { probeService } from "../status/probe.ts";
import { parseUpArgs, resolveLab, UP_USAGE, type UpOptions } from "./args.ts";
import { externalNatsServers, loadUpConfig, type UpConfig } from "./config.ts";
import { discoverServices } from "./discover.ts";
import { Prefixer, shouldUseColour } from "./log-prefix.ts";
import { CLUSTER_SIZE, type NatsServerPlan, natsServerArgv, planNatsServers, probePort } from "./nats.ts";
import { prepareStackPki, type StackPki } from "./pki.ts";
import { isPortFree } from "./ports.ts";
import { waitUntilOk } from "./readiness.ts";
import { encodeReaperCommand, type ReaperCommand, type ReaperPhase } from "./reaper-protocol.ts";
import {
  executorNameOf,
  labExecutorProcesses,
  labLeftover,
  labMonitorProcesses,
  monitorNameOf,
  type ProcessSpec,
  selectServices,
  serviceProcess,
} from "./stack-plan.ts";
import { renderStartupTable, startupVerdict } from "./summary.ts";
import { Supervisor } from "./supervisor.ts";

/** Signals within this time of the first are the same Ctrl-C delivered twice. */
const SECOND_SIGNAL_GRACE_MS = 1000;

/** How long a process gets between SIGTERM and SIGKILL. */
const STOP_GRACE_MS = 10_000;
/** How long each service gets to answer /readyz with 200. */
const READY_TIMEOUT_MS = 30_000;
/** How long nats-server gets to answer its /healthz. */
const NATS_READY_TIMEOUT_MS = 15_000;
/** How long the lab's monitors get to attach XDP on every link. */
const DATAPLANE_TIMEOUT_MS = 60_000;

/** What a run of the stack touches outside itself: where the services are, who runs it, where its output goes. */
export interface UpHost {
  /** The folder with `services/<name>/src/main.ts`; every process starts in it. */
  root: string;
  /** Whether up runs as root (a lab needs it). */
  isRoot: boolean;
  /** Whether up's stdout is a terminal (coloured prefixes). */
  isTTY: boolean;
  /** Writes text (whole lines, newline included) to up's stdout or stderr. */
  write(stream: "stdout" | "stderr", text: string): void;
}

/** This process as the host: the repository's services, its user, its stdout and stderr. */
export function processHost(): UpHost {
  return {
    root: REPO_ROOT,
    isRoot: process.getuid?.() === 0,
    isTTY: process.stdout.isTTY === true,
    write: (stream, text) => void (stream === "stdout" ? process.stdout : process.stderr).write(text),
  };
}

/** Runs `x0 up` (`bun run up`) until Ctrl-C, SIGTERM or `x0 down` and returns the exit code (0 after a clean stop). */
export async function runUp(argv: readonly string[], env: Record<string, string | undefined>, host: UpHost = processHost()): Promise<number> {
  let options: UpOptions;
  let config: UpConfig;
  let lab: LabTopology | undefined;
  try {
    options = parseUpArgs(argv);
    if (options.help) {
      host.write("stdout", `${UP_USAGE}\n`);
      return 0;
    }
    config = loadUpConfig(env);
    lab = resolveLab(options, env, host.isRoot);
    if (lab !== undefined && !host.isRoot)
      throw new UsageError(`the lab (${lab.spec}) needs root: it creates network namespaces; run as root or without --lab`);
  } catch (error) {
    // A bad variable fails like any other run-time problem (1); 78 is the services' code, which up reads.
    if (error instanceof ConfigError) {
      host.write("stderr", `up: ${describeError(error)}\n`);
      return EXIT_FAILURE;
    }
    if (isUsageError(error)) {
      host.write("stderr", `up: ${describeError(error)}\nRun "x0 up --help" for usage.\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
  return new UpStack(options, config, env, lab, host).run({ stopOnSignals: true });
}

/** A process `up` runs (a service, or a lab node's monitor) and its supervisor. */
interface RunningService {
  /** Where its HTTP server answers: 127.0.0.1, or a lab node's management address. */
  host: string;
  port: number;
  supervisor: Supervisor;
}

/** One run of `up`: plans, starts, watches and stops the stack. */
export class UpStack {
  readonly #stateDir: string;
  readonly #stackFile: string;
  readonly #colour: boolean;
  #prefixer: Prefixer;
  readonly #services = new Map<string, RunningService>();
  /** The console (x0 console), when it runs: supervised like a service, but not one (x0 status does not list it). */
  #console: { port: number; supervisor: Supervisor } | undefined;
  /** The nats-servers to run: one, or the cluster's three. */
  readonly #natsPlan: NatsServerPlan[];
  /** The nats-servers up started (none when it reuses one or runs with --no-nats). */
  #natsServers: Supervisor[] = [];
  /** The client URLs of the stack's NATS, comma-separated. */
  #natsUrl = "";
  /** What the stack's NATS asks of every process (X0_JS_REPLICAS on a cluster). */
  #natsEnv: Record<string, string> = {};
  /** The stack's PKI when NATS runs with mTLS (the default). */
  #pki: StackPki | undefined;
  #natsMonitorPort: number | null = null;
  #reaper: Subprocess<"pipe", "ignore", "inherit"> | undefined;
  readonly #stop = new AbortController();
  readonly #startedAt = new Date().toISOString();
  #stackWritten = false;
  /** The lab the stack runs on, planned before anything starts. */
  readonly #labPlan: LabPlan | undefined;
  /** The lab's state once built (its monitors' pids are kept current in it). */
  #labState: LabState | undefined;
  /** Whether the lab's nodes get monitors (the monitor service was selected). */
  #labMonitors = false;
  /** Whether the lab's nodes get an executor each (`--executors node`, the default) instead of the site executor here. */
  #labExecutors = false;

  constructor(
    private readonly options: UpOptions,
    private readonly config: UpConfig,
    private readonly env: Record<string, string | undefined>,
    lab: LabTopology | undefined,
    private readonly host: UpHost = processHost(),
  ) {
    this.#stateDir = stateDirOf(env);
    this.#stackFile = stackFileOf(this.#stateDir);
    this.#colour = shouldUseColour(env, host.isTTY);
    this.#labPlan = lab === undefined ? undefined : planLab(lab, options.labPrefix, defaultMgmtSubnet(options.labPrefix));
    this.#natsPlan = planNatsServers({
      stateDir: this.#stateDir,
      port: config.X0_NATS_PORT,
      monitorPort: config.X0_NATS_MONITOR_PORT,
      clusterPort: config.X0_NATS_CLUSTER_PORT,
      cluster: options.cluster || config.X0_NATS_CLUSTER,
    });
    this.#prefixer = new Prefixer(["up", ...this.#natsPlan.map((server) => server.name)], this.#colour);
  }

  /**
   * Runs the stack until {@link stop} and returns the exit code (0 after a clean stop). With `stopOnSignals`, once the plan
   * holds, SIGINT, SIGTERM and SIGHUP stop it too (a second one, a second later, kills everything), and what is left is
   * killed when this process exits.
   */
  async run({ stopOnSignals = false }: { stopOnSignals?: boolean } = {}): Promise<number> {
    let ports: Map<string, number>;
    try {
      ports = this.#plan();
    } catch (error) {
      this.host.write("stderr", `up: ${describeError(error)}\n`);
      return isUsageError(error) ? EXIT_USAGE : 1;
    }
    const monitorNames = this.#labMonitors ? (this.#labPlan?.nodes ?? []).map((node) => monitorNameOf(node.name)) : [];
    const executorNames = this.#labExecutors ? (this.#labPlan?.nodes ?? []).map((node) => executorNameOf(node.name)) : [];
    this.#prefixer = new Prefixer(
      ["up", ...this.#natsPlan.map((server) => server.name), "lab", ...ports.keys(), ...monitorNames, ...executorNames, "console"],
      this.#colour,
    );
    if (stopOnSignals) this.#installSignalHandlers();
    let exitCode = 0;
    try {
      mkdirSync(this.#stateDir, { recursive: true });
      this.#startReaper();
      await this.#startLab();
      await this.#startNats();
      if (this.#labPlan !== undefined && !this.#stop.signal.aborted) await this.#forgetOldTopology();
      if (!this.#stop.signal.aborted) {
        this.#writeStack();
        // The node executors first: each one's durable consumer takes the plans published after it is made.
        if (this.#labExecutors) this.#startLabExecutors();
        for (const [name, port] of ports) this.#startService(name, port);
        if (this.#labMonitors) this.#startLabMonitors();
        if (!this.options.noConsole) this.#startConsole();
        await this.#reportReadiness();
      }
      await this.#stopRequested();
    } catch (error) {
      this.#sayError(`cannot run the stack: ${describeError(error)}`);
      exitCode = 1;
    }
    await this.#shutdown();
    return exitCode;
  }

  /** Asks the stack to stop: every process is stopped and {@link run} returns. */
  stop(): void {
    this.#stop.abort();
  }

  /**
   * A new lab has just installed its own routes: what the knowledge base holds about a previous run's topology (links,
   * the routes the planner believes installed) is about another network now, and would make the planner diff against it.
   */
  async #forgetOldTopology(): Promise<void> {
    const nc = await connectNats({
      servers: this.#natsUrl.split(","),
      service: "up",
      instance: String(process.pid),
      tls: this.#pki?.adminTls,
      signal: AbortSignal.timeout(10_000),
    });
    try {
      if (await forgetBucket(nc, Buckets.topology)) this.#say("lab: forgot the previous run's topology knowledge (x0_topology)");
    } finally {
      await nc.close();
    }
  }

  /** Picks the services and their ports; throws before anything starts when that is impossible. */
  #plan(): Map<string, number> {
    const previous = this.#readPreviousStack();
    if (previous !== undefined && previous.pid !== process.pid && isProcessAlive(previous.pid)) {
      throw new StackStartError(`another up (pid ${previous.pid}) runs this stack (${this.#stackFile}); stop it first or set X0_STATE_DIR`);
    }
    const { ports, labMonitors, labExecutors } = selectServices({
      discovered: discoverServices(join(this.host.root, "services")),
      only: this.options.only,
      portBase: this.config.X0_HTTP_PORT_BASE,
      onLab: this.#labPlan !== undefined,
      nodeExecutors: (this.options.executors ?? "node") === "node",
      isPortFree,
    });
    this.#labMonitors = labMonitors;
    this.#labExecutors = labExecutors;
    return ports;
  }

  /** The stack file a previous up left, if readable; an unreadable one is reported and will be overwritten. */
  #readPreviousStack(): StackFile | undefined {
    try {
      return readStackFile(this.#stackFile);
    } catch (error) {
      if (!(error instanceof StackFileError)) throw error;
      this.#sayError(`ignoring the previous stack file: ${describeError(error)}`);
      return undefined;
    }
  }

  #installSignalHandlers(): void {
    let firstSignalAt = 0;
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      process.on(signal, () => {
        if (!this.#stop.signal.aborted) {
          firstSignalAt = Date.now();
          this.#say(`${signal} received: stopping the stack (again to kill at once)`);
          this.stop();
          return;
        }
        // One Ctrl-C can arrive twice (from the terminal and forwarded by make or `bun run`): only a later one counts.
        if (Date.now() - firstSignalAt < SECOND_SIGNAL_GRACE_MS) return;
        this.#sayError(`${signal} received again: killing everything now`);
        this.#killAll();
        process.exit(1);
      });
    }
    // Last resort when up ends some other way: nothing it started outlives it.
    process.on("exit", () => this.#killAll());
  }

  #stopRequested(): Promise<void> {
    const { signal } = this.#stop;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  }

  /** Starts the reaper, which stops what up started if up dies without doing so. */
  #startReaper(): void {
    this.#reaper = Bun.spawn([process.execPath, join(import.meta.dir, "reaper.ts"), String(process.pid), this.#stackFile], {
      cwd: this.host.root,
      stdin: "pipe",
      stdout: "ignore",
      stderr: "inherit",
      detached: true,
    });
  }

  #tellReaper(command: ReaperCommand): void {
    const reaper = this.#reaper;
    if (reaper === undefined) return;
    try {
      reaper.stdin.write(encodeReaperCommand(command));
      void Promise.resolve(reaper.stdin.flush()).catch((error: unknown) => this.#reaperLost(error));
    } catch (error) {
      this.#reaperLost(error);
    }
  }

  #reaperLost(error: unknown): void {
    this.#reaper = undefined;
    this.#sayError(`the reaper is gone (${describeError(error)}); if up is killed abruptly now, its processes may outlive it`);
  }

  async #closeReaper(): Promise<void> {
    const reaper = this.#reaper;
    if (reaper === undefined) return;
    this.#reaper = undefined;
    await reaper.stdin.end();
    const exited = await Promise.race([reaper.exited.then(() => true), Bun.sleep(STOP_GRACE_MS).then(() => false)]);
    if (!exited) {
      this.#sayError(`the reaper (pid ${reaper.pid}) did not exit; killing it`);
      reaper.kill("SIGKILL");
      await reaper.exited;
    }
  }

  async #startNats(): Promise<void> {
    const { config } = this;
    if (!this.options.startNats) {
      this.#natsUrl = externalNatsServers(config);
      this.#say(`--no-nats: not starting nats-server; services use ${this.#natsUrl}`);
      return;
    }
    const servers = this.#natsPlan;
    const cluster = servers.length > 1;
    // On a lab NATS listens on the management bridge only: the nodes reach it there, and so do the services here.
    const host = this.#labPlan?.bridgeAddress ?? "127.0.0.1";
    const urls = (scheme: "nats" | "tls") => servers.map((server) => `${scheme}://${host}:${server.port}`).join(",");
    this.#natsUrl = urls("nats");
    if (this.env.X0_NATS_INSECURE_DEV === "true") {
      if (cluster) throw new StackStartError("the cluster's routes use mTLS from the stack's PKI: run --cluster without X0_NATS_INSECURE_DEV=true");
      this.#say("X0_NATS_INSECURE_DEV=true: NATS without TLS or identities, for development only");
    } else {
      // mTLS by default: every service and lab monitor connects with its own SVID, each mapped to its permissions.
      const nodes = [config.X0_NODE, ...(this.#labPlan?.nodes.map((node) => node.name) ?? [])];
      const pki = await prepareStackPki({ stateDir: this.#stateDir, servers, nodes, addresses: [host], trustDomain: this.env.X0_TRUST_DOMAIN || undefined });
      this.#pki = pki;
      this.#natsUrl = urls("tls");
      this.#say(`${pki.created ? "created the development CA" : "development CA"} in ${pki.dir}; NATS requires mTLS (permissions: ops/nats/permissions.yaml)`);
    }
    if (cluster) this.#natsEnv = { X0_JS_REPLICAS: String(CLUSTER_SIZE) };
    for (const server of servers) {
      const probe = await probePort(host, server.port);
      if (probe.kind === "nats" && !cluster) {
        if (!probe.info.jetstream) {
          throw new StackStartError(
            `the NATS server on ${host}:${server.port} runs without JetStream, which the services need; restart it with -js or set X0_NATS_PORT`,
          );
        }
        const version = probe.info.version === undefined ? "" : ` ${probe.info.version}`;
        this.#say(`reusing the NATS server${version} already on ${host}:${server.port} (not started by up, so left running at exit)`);
        return;
      }
      if (probe.kind === "nats") {
        throw new StackStartError(
          `a NATS server already answers on ${host}:${server.port}; the cluster needs its ${servers.length} ports free: stop it or set X0_NATS_PORT`,
        );
      }
      if (probe.kind === "other") throw new StackStartError(`port ${server.port} is taken by something that is not NATS; free it or set X0_NATS_PORT`);
      if (!isPortFree(server.monitorPort)) {
        throw new StackStartError(`NATS monitoring port ${server.monitorPort} is already in use; free it or set X0_NATS_MONITOR_PORT`);
      }
      if (server.clusterPort !== undefined && !isPortFree(server.clusterPort)) {
        throw new StackStartError(`NATS route port ${server.clusterPort} is already in use; free it or set X0_NATS_CLUSTER_PORT`);
      }
    }
    for (const server of servers) {
      mkdirSync(server.storeDir, { recursive: true });
      // nats-server shuts down cleanly on INT and TERM alike, but exits 0 only on INT.
      const argv = natsServerArgv(config.NATS_SERVER_BIN, server.port, server.monitorPort, server.storeDir, host, this.#pki ? server.configFile : undefined);
      const nats = this.#supervise(server.name, argv, this.env, "nats", "SIGINT");
      try {
        nats.start();
      } catch (error) {
        throw new StackStartError(`cannot start ${config.NATS_SERVER_BIN} (set NATS_SERVER_BIN to its path)`, { cause: error });
      }
      this.#natsServers.push(nats);
      const routes = server.clusterPort === undefined ? "" : `, routes on 127.0.0.1:${server.clusterPort}`;
      const label = server.serverName === undefined ? "nats-server" : `nats-server ${server.serverName}`;
      this.#say(`${label} started (pid ${nats.pid}): ${host}:${server.port}, monitoring on ${server.monitorPort}${routes}, JetStream store ${server.storeDir}`);
    }
    this.#natsMonitorPort = servers[0]?.monitorPort ?? null;
    if (cluster)
      this.#say(`NATS cluster of ${servers.length}: X0_EVENTS, X0_DLQ and the KV buckets get ${CLUSTER_SIZE} replicas; services use ${this.#natsUrl}`);
    // A cluster's servers are healthy once JetStream has a leader among them: they are waited for together.
    const healthy = await Promise.all(
      servers.map((server) => waitUntilOk(`http://${host}:${server.monitorPort}/healthz`, { timeoutMs: NATS_READY_TIMEOUT_MS, signal: this.#stop.signal })),
    );
    if (healthy.some((ok) => !ok) && !this.#stop.signal.aborted) {
      const late = servers.filter((_, index) => !healthy[index]).map((server) => server.name);
      throw new StackStartError(`${late.join(", ")} did not become healthy within ${NATS_READY_TIMEOUT_MS / 1000} s; see the output above`);
    }
  }

  #startService(name: string, port: number): void {
    const spec = serviceProcess(name, port, {
      userEnv: this.env,
      natsUrl: this.#natsUrl,
      node: this.config.X0_NODE,
      labPrefix: this.#labPlan?.prefix,
      pkiEnv: this.#pki?.serviceEnv,
      natsEnv: this.#natsEnv,
    });
    const supervisor = this.#startProcess(spec, `cannot start ${name}`);
    this.#say(`${name} started (pid ${supervisor.pid}) on http://127.0.0.1:${port}`);
  }

  /** Serves the console as the stack's read-only observer; on a lab, with the lab's controls (up runs as root there). */
  #startConsole(): void {
    const port = this.config.X0_CONSOLE_PORT;
    if (!isPortFree(port)) {
      this.#sayError(`console not started: port ${port} is in use (set X0_CONSOLE_PORT, or --no-console)`);
      return;
    }
    const lab = this.#labPlan ? ["--lab", "--prefix", this.#labPlan.prefix] : [];
    const argv = [process.execPath, join("cli", "src", "x0.ts"), "console", "--port", String(port), "--nats", this.#natsUrl, ...lab];
    const env = { ...this.env, X0_STATE_DIR: this.#stateDir };
    const supervisor = this.#supervise("console", argv, env, "service");
    try {
      supervisor.start();
    } catch (error) {
      // The loop runs without its view: said, not fatal.
      this.#sayError(`console not started: ${describeError(error)}`);
      return;
    }
    this.#console = { port, supervisor };
  }

  /** Starts a process under a supervisor and records it; throws {@link StackStartError} with `failure` when it cannot be spawned. */
  #startProcess({ name, argv, env, host, port }: ProcessSpec, failure: string): Supervisor {
    const supervisor = this.#supervise(name, argv, env, "service");
    this.#services.set(name, { host, port, supervisor });
    try {
      supervisor.start();
    } catch (error) {
      throw new StackStartError(failure, { cause: error });
    }
    return supervisor;
  }

  /**
   * Builds the lab before NATS starts (NATS listens on its bridge). The reaper hears of the lab first, so a crash even
   * half-way through building still gets it removed. Leftovers of an `up` that crashed are removed; a lab made by
   * `x0 lab up`, or run by another live `up`, is left alone and refused.
   */
  async #startLab(): Promise<void> {
    const plan = this.#labPlan;
    if (plan === undefined) return;
    const stateFile = stateFileOf(this.#stateDir, plan.prefix);
    let previous: LabState | undefined;
    try {
      previous = readLabState(stateFile);
    } catch (error) {
      throw new StackStartError(`lab ${plan.prefix} has an unreadable state file; run "x0 lab down --prefix ${plan.prefix}"`, { cause: error });
    }
    const leftover = labLeftover(previous, existingNamespaces(plan.prefix).length > 0);
    if (leftover.kind === "refuse") {
      throw new StackStartError(`lab ${plan.prefix} already exists, made by ${leftover.by}; run "x0 lab down --prefix ${plan.prefix}" or use --lab-prefix`);
    }
    if (leftover.kind === "remove") {
      this.#say(`removing what a crashed run left of lab ${plan.prefix}`);
      await teardownLab(plan.prefix, { stateDir: this.#stateDir });
    }
    this.#tellReaper({ kind: "lab", prefix: plan.prefix });
    const natsUrl = this.options.startNats
      ? this.#natsPlan.map((server) => `nats://${plan.bridgeAddress}:${server.port}`).join(",")
      : externalNatsServers(this.config);
    this.#labState = await createLab(plan, { stateDir: this.#stateDir, natsUrl, owner: "up" });
    this.#sayAs(
      "lab",
      `${plan.topology.spec}: ${plan.nodes.length} nodes (namespaces ${plan.nodes[0]?.netns}…${plan.nodes.at(-1)?.netns}), ${plan.links.length} links, ` +
        `bridge ${plan.bridge} ${plan.bridgeAddress}/16; "x0 lab status --prefix ${plan.prefix}" shows it, "x0 lab fault …" breaks it`,
    );
  }

  /** Starts one monitor per lab node inside its namespace, supervised like the services. */
  #startLabMonitors(): void {
    const plan = this.#labPlan;
    if (plan === undefined) return;
    const monitors = labMonitorProcesses(plan, { userEnv: this.env, natsUrl: this.#natsUrl, pkiEnv: this.#pki?.serviceEnv, natsEnv: this.#natsEnv });
    for (const [index, spec] of monitors.entries()) this.#startProcess(spec, `cannot start the monitor of ${plan.nodes[index]?.name}`);
    this.#sayAs("lab", `${plan.nodes.length} monitors started, one in each node's namespace`);
    void waitForDataplanes(plan, DATAPLANE_TIMEOUT_MS, this.#stop.signal).then((missing) => {
      if (this.#stop.signal.aborted) return;
      if (missing.length === 0) this.#sayAs("lab", "every monitor attached XDP on its links: faults can be injected");
      else this.#sayError(`no XDP fault map after ${DATAPLANE_TIMEOUT_MS / 1000} s on ${missing.join(", ")}; faults on those links will fail`);
    });
  }

  /** Starts one executor per lab node inside its namespace, supervised like the services. */
  #startLabExecutors(): void {
    const plan = this.#labPlan;
    if (plan === undefined) return;
    const executors = labExecutorProcesses(plan, { userEnv: this.env, natsUrl: this.#natsUrl, pkiEnv: this.#pki?.serviceEnv, natsEnv: this.#natsEnv });
    for (const [index, spec] of executors.entries()) this.#startProcess(spec, `cannot start the executor of ${plan.nodes[index]?.name}`);
    this.#sayAs("lab", `${plan.nodes.length} executors started, one in each node's namespace, each acting on its own node`);
  }

  /** Records the lab monitors' current pids in the lab state file (x0 lab status and down read them). */
  #writeLabState(): void {
    const plan = this.#labPlan;
    const state = this.#labState;
    if (plan === undefined || state === undefined || this.#stop.signal.aborted) return;
    state.processes = plan.nodes.flatMap((node) =>
      [
        [monitorNameOf(node.name), MONITOR_ROLE],
        [executorNameOf(node.name), EXECUTOR_ROLE],
      ].flatMap(([name, role]) => {
        const pid = this.#services.get(name as string)?.supervisor.pid ?? null;
        return pid === null ? [] : [{ node: node.name, role: role as string, pid }];
      }),
    );
    try {
      writeLabState(stateFileOf(this.#stateDir, plan.prefix), state);
    } catch (error) {
      this.#sayError(`${describeError(error)}; x0 lab status may show stale monitor pids`);
    }
  }

  /** Removes the lab after every process has stopped, then tells the reaper it is gone. */
  async #stopLab(): Promise<void> {
    const plan = this.#labPlan;
    if (plan === undefined || this.#labState === undefined) return;
    try {
      await teardownLab(plan.prefix, { stateDir: this.#stateDir });
      this.#tellReaper({ kind: "unlab", prefix: plan.prefix });
      this.#sayAs("lab", `lab ${plan.prefix} removed`);
    } catch (error) {
      this.#sayError(`cannot remove lab ${plan.prefix}: ${describeError(error)}; run "x0 lab down --prefix ${plan.prefix}"`);
    }
  }

  #supervise(name: string, argv: string[], env: Record<string, string | undefined>, phase: ReaperPhase, stopSignal?: NodeJS.Signals): Supervisor {
    return new Supervisor({
      name,
      stopSignal,
      argv,
      cwd: this.host.root,
      env,
      onLine: (stream, line) => this.host.write(stream, `${this.#prefixer.line(name, line)}\n`),
      log: (message) => this.#say(message),
      onStart: (pid) => {
        this.#tellReaper({ kind: "watch", pid, phase });
        this.#writeStack();
        this.#writeLabState();
      },
      onExit: (pid) => {
        this.#tellReaper({ kind: "release", pid });
        this.#writeStack();
        this.#writeLabState();
      },
    });
  }

  /** Writes .x0/stack.json (once the stack has a NATS URL; kept current on every restart). */
  #writeStack(): void {
    if (this.#natsUrl === "" || this.#stop.signal.aborted) return;
    const stack: StackFile = {
      pid: process.pid,
      // On a cluster: every client URL, and the first server's monitoring port and pid (the reaper knows every pid).
      nats: { url: this.#natsUrl, monitorPort: this.#natsMonitorPort, pid: this.#natsServers[0]?.pid ?? null },
      services: [...this.#services].map(([name, { host, port, supervisor }]) => ({
        name,
        ...(host === "127.0.0.1" ? {} : { host }),
        port,
        pid: supervisor.pid,
      })),
      started_at: this.#startedAt,
    };
    try {
      writeStackFile(this.#stackFile, stack);
      this.#stackWritten = true;
    } catch (error) {
      this.#sayError(`${describeError(error)}; x0 status may not find the stack`);
    }
  }

  /** Waits for every service's /readyz, then prints the startup table. */
  async #reportReadiness(): Promise<void> {
    const services = [...this.#services];
    await Promise.all(
      services.map(([, { host, port, supervisor }]) =>
        waitUntilOk(`http://${host}:${port}/readyz`, { timeoutMs: READY_TIMEOUT_MS, signal: this.#stop.signal, hopeless: () => supervisor.gaveUp }),
      ),
    );
    if (this.#stop.signal.aborted) return;
    const started = await Promise.all(
      services.map(async ([name, { host, port, supervisor }]) => ({ name, port, pid: supervisor.pid, probe: await probeService(`http://${host}:${port}`) })),
    );
    if (this.#stop.signal.aborted) return;
    this.host.write("stdout", `\n${renderStartupTable(started)}\n\n${startupVerdict(started, this.#natsUrl)}\n\n`);
    const console = this.#console;
    if (console === undefined) return;
    const url = `http://127.0.0.1:${console.port}`;
    const ready = await waitUntilOk(`${url}/readyz`, { timeoutMs: READY_TIMEOUT_MS, signal: this.#stop.signal, hopeless: () => console.supervisor.gaveUp });
    if (!this.#stop.signal.aborted) this.host.write("stdout", ready ? `console: ${url}\n` : `console: not ready at ${url}; see its output above\n`);
  }

  /** Stops the services (TERM, KILL after the grace time), then NATS, then clears the stack file. */
  async #shutdown(): Promise<void> {
    this.#stop.abort();
    await this.#console?.supervisor.stop(STOP_GRACE_MS);
    await Promise.all([...this.#services.values()].map(({ supervisor }) => supervisor.stop(STOP_GRACE_MS)));
    await Promise.all(this.#natsServers.map((nats) => nats.stop(STOP_GRACE_MS)));
    await this.#stopLab();
    if (this.#stackWritten) removeStackFile(this.#stackFile, process.pid);
    await this.#closeReaper();
    this.#say("stopped");
  }

  #killAll(): void {
    this.#console?.supervisor.kill();
    for (const { supervisor } of this.#services.values()) supervisor.kill();
    for (const nats of this.#natsServers) nats.kill();
    if (this.#stackWritten) removeStackFile(this.#stackFile, process.pid);
  }

  #say(message: string): void {
    this.#sayAs("up", message);
  }

  #sayAs(name: string, message: string): void {
    this.host.write("stdout", `${this.#prefixer.line(name, message)}\n`);
  }

  #sayError(message: string): void {
    this.host.write("stderr", `${this.#prefixer.line("up", message)}\n`);
  }
}
