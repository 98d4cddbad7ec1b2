// `bun run up`: one run of the stack (NATS, the services, on a lab the nodes' monitors) from start to stop. What it runs
// is decided in stack-plan.ts; this file starts, watches and stops it.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  createLab,
  defaultMgmtSubnet,
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
import { Buckets, ConfigError, connectNats, EXIT_CONFIG, forgetBucket, isProcessAlive } from "@x0/shared";
import type { Subprocess } from "bun";
import { EXIT_USAGE, isUsageError, StackFileError, StackStartError, UsageError } from "../errors.ts";
import { REPO_ROOT, stackFileOf, stateDirOf } from "../paths.ts";
import { describeError } from "../report-error.ts";
import { readStackFile, removeStackFile, type StackFile, writeStackFile } from "../stack-file.ts";
import { probeService } from "../status/probe.ts";
import { parseUpArgs, resolveLab, UP_USAGE, type UpOptions } from "./args.ts";
import { externalNatsServers, loadUpConfig, type UpConfig } from "./config.ts";
import { discoverServices } from "./discover.ts";
import { Prefixer, shouldUseColour } from "./log-prefix.ts";
import { natsServerArgv, probePort } from "./nats.ts";
import { prepareStackPki, type StackPki } from "./pki.ts";
import { isPortFree } from "./ports.ts";
import { waitUntilOk } from "./readiness.ts";
import { encodeReaperCommand, type ReaperCommand, type ReaperPhase } from "./reaper-protocol.ts";
import { labLeftover, labMonitorProcesses, monitorNameOf, type ProcessSpec, selectServices, serviceProcess } from "./stack-plan.ts";
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

/** Runs `bun run up` until Ctrl-C or SIGTERM and returns the exit code (0 after a clean stop). */
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
    if (error instanceof ConfigError) {
      host.write("stderr", `up: ${describeError(error)}\n`);
      return EXIT_CONFIG;
    }
    if (isUsageError(error)) {
      host.write("stderr", `up: ${describeError(error)}\nRun "bun run up --help" for usage.\n`);
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
  #nats: Supervisor | undefined;
  #natsUrl = "";
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
    this.#prefixer = new Prefixer(["up", "nats"], this.#colour);
    this.#labPlan = lab === undefined ? undefined : planLab(lab, options.labPrefix, defaultMgmtSubnet(options.labPrefix));
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
    this.#prefixer = new Prefixer(["up", "nats", "lab", ...ports.keys(), ...monitorNames], this.#colour);
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
        for (const [name, port] of ports) this.#startService(name, port);
        if (this.#labMonitors) this.#startLabMonitors();
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
      servers: [this.#natsUrl],
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
    const { ports, labMonitors } = selectServices({
      discovered: discoverServices(join(this.host.root, "services")),
      only: this.options.only,
      portBase: this.config.X0_HTTP_PORT_BASE,
      onLab: this.#labPlan !== undefined,
      isPortFree,
    });
    this.#labMonitors = labMonitors;
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
    const port = config.X0_NATS_PORT;
    // On a lab NATS listens on the management bridge only: the nodes reach it there, and so do the services here.
    const host = this.#labPlan?.bridgeAddress ?? "127.0.0.1";
    this.#natsUrl = `nats://${host}:${port}`;
    if (this.env.X0_NATS_INSECURE_DEV === "true") {
      this.#say("X0_NATS_INSECURE_DEV=true: NATS without TLS or identities, for development only");
    } else {
      // mTLS by default: every service and lab monitor connects with its own SVID, each mapped to its permissions.
      const nodes = [config.X0_NODE, ...(this.#labPlan?.nodes.map((node) => node.name) ?? [])];
      const pki = await prepareStackPki({ stateDir: this.#stateDir, nodes, addresses: [host], trustDomain: this.env.X0_TRUST_DOMAIN || undefined });
      this.#pki = pki;
      this.#natsUrl = `tls://${host}:${port}`;
      this.#say(`${pki.created ? "created the development CA" : "development CA"} in ${pki.dir}; NATS requires mTLS (permissions: ops/nats/permissions.yaml)`);
    }
    const probe = await probePort(host, port);
    if (probe.kind === "nats") {
      if (!probe.info.jetstream) {
        throw new StackStartError(
          `the NATS server on ${host}:${port} runs without JetStream, which the services need; restart it with -js or set X0_NATS_PORT`,
        );
      }
      const version = probe.info.version === undefined ? "" : ` ${probe.info.version}`;
      this.#say(`reusing the NATS server${version} already on ${host}:${port} (not started by up, so left running at exit)`);
      return;
    }
    if (probe.kind === "other") throw new StackStartError(`port ${port} is taken by something that is not NATS; free it or set X0_NATS_PORT`);
    const monitorPort = config.X0_NATS_MONITOR_PORT;
    if (!isPortFree(monitorPort)) throw new StackStartError(`NATS monitoring port ${monitorPort} is already in use; free it or set X0_NATS_MONITOR_PORT`);
    const storeDir = join(this.#stateDir, "nats");
    mkdirSync(storeDir, { recursive: true });
    // nats-server shuts down cleanly on INT and TERM alike, but exits 0 only on INT.
    const nats = this.#supervise(
      "nats",
      natsServerArgv(config.NATS_SERVER_BIN, port, monitorPort, storeDir, host, this.#pki?.natsConfig),
      this.env,
      "nats",
      "SIGINT",
    );
    try {
      nats.start();
    } catch (error) {
      throw new StackStartError(`cannot start ${config.NATS_SERVER_BIN} (set NATS_SERVER_BIN to its path)`, { cause: error });
    }
    this.#nats = nats;
    this.#natsMonitorPort = monitorPort;
    this.#say(`nats-server started (pid ${nats.pid}): ${this.#natsUrl}, monitoring on ${monitorPort}, JetStream store ${storeDir}`);
    const healthy = await waitUntilOk(`http://${host}:${monitorPort}/healthz`, { timeoutMs: NATS_READY_TIMEOUT_MS, signal: this.#stop.signal });
    if (!healthy && !this.#stop.signal.aborted) {
      throw new StackStartError(`nats-server did not become healthy within ${NATS_READY_TIMEOUT_MS / 1000} s; see its output above`);
    }
  }

  #startService(name: string, port: number): void {
    const spec = serviceProcess(name, port, {
      userEnv: this.env,
      natsUrl: this.#natsUrl,
      node: this.config.X0_NODE,
      labPrefix: this.#labPlan?.prefix,
      pkiEnv: this.#pki?.serviceEnv,
    });
    const supervisor = this.#startProcess(spec, `cannot start ${name}`);
    this.#say(`${name} started (pid ${supervisor.pid}) on http://127.0.0.1:${port}`);
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
    const natsUrl = this.options.startNats ? `nats://${plan.bridgeAddress}:${this.config.X0_NATS_PORT}` : externalNatsServers(this.config);
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
    const monitors = labMonitorProcesses(plan, { userEnv: this.env, natsUrl: this.#natsUrl, pkiEnv: this.#pki?.serviceEnv });
    for (const [index, spec] of monitors.entries()) this.#startProcess(spec, `cannot start the monitor of ${plan.nodes[index]?.name}`);
    this.#sayAs("lab", `${plan.nodes.length} monitors started, one in each node's namespace`);
    void waitForDataplanes(plan, DATAPLANE_TIMEOUT_MS, this.#stop.signal).then((missing) => {
      if (this.#stop.signal.aborted) return;
      if (missing.length === 0) this.#sayAs("lab", "every monitor attached XDP on its links: faults can be injected");
      else this.#sayError(`no XDP fault map after ${DATAPLANE_TIMEOUT_MS / 1000} s on ${missing.join(", ")}; faults on those links will fail`);
    });
  }

  /** Records the lab monitors' current pids in the lab state file (x0 lab status and down read them). */
  #writeLabState(): void {
    const plan = this.#labPlan;
    const state = this.#labState;
    if (plan === undefined || state === undefined || this.#stop.signal.aborted) return;
    state.processes = plan.nodes.flatMap((node) => {
      const pid = this.#services.get(monitorNameOf(node.name))?.supervisor.pid ?? null;
      return pid === null ? [] : [{ node: node.name, role: MONITOR_ROLE, pid }];
    });
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
      nats: { url: this.#natsUrl, monitorPort: this.#natsMonitorPort, pid: this.#nats?.pid ?? null },
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
  }

  /** Stops the services (TERM, KILL after the grace time), then NATS, then clears the stack file. */
  async #shutdown(): Promise<void> {
    this.#stop.abort();
    await Promise.all([...this.#services.values()].map(({ supervisor }) => supervisor.stop(STOP_GRACE_MS)));
    await this.#nats?.stop(STOP_GRACE_MS);
    await this.#stopLab();
    if (this.#stackWritten) removeStackFile(this.#stackFile, process.pid);
    await this.#closeReaper();
    this.#say("stopped");
  }

  #killAll(): void {
    for (const { supervisor } of this.#services.values()) supervisor.kill();
    this.#nats?.kill();
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
