import { EXIT_CONFIG, isProcessAlive, signalGroup } from "@x0/shared";
import type { Subprocess } from "bun";
import { type BackoffPolicy, DEFAULT_BACKOFF_POLICY, nextCrashStreak, restartDelayMs } from "./backoff.ts";
import { LineSplitter } from "./log-prefix.ts";

/** How a {@link Supervisor} runs its process and reports on it. */
export interface SupervisorOptions {
  name: string;
  argv: readonly string[];
  cwd: string;
  env: Record<string, string | undefined>;
  /** Receives every line the process writes. */
  onLine(stream: "stdout" | "stderr", line: string): void;
  /** Receives what the supervisor has to say: exits, restarts, kills. */
  log(message: string): void;
  /** Called with the pid of each new process. */
  onStart?(pid: number): void;
  /** Called when a process has exited. */
  onExit?(pid: number): void;
  backoff?: BackoffPolicy;
  /** The signal that asks the process to stop cleanly (default SIGTERM). */
  stopSignal?: NodeJS.Signals;
}

type Child = Subprocess<"ignore", "pipe", "pipe">;

/**
 * Runs one process in its own process group (so signals reach everything it starts), restarts it
 * with exponential backoff whenever it exits without being asked to, and stops it with TERM then KILL.
 * A process that exits with EXIT_CONFIG (bad configuration) is not restarted: it would fail the same way.
 */
export class Supervisor {
  readonly name: string;
  #child: Child | undefined;
  #done: Promise<void> = Promise.resolve();
  #startedAt = 0;
  #streak = 0;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #stopping = false;
  #gaveUp = false;

  constructor(private readonly options: SupervisorOptions) {
    this.name = options.name;
  }

  /** The pid of the running process, or null while none runs. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** True once the supervisor stopped restarting because the process cannot run as configured. */
  get gaveUp(): boolean {
    return this.#gaveUp;
  }

  /** Starts the process; throws when it cannot be spawned at all. */
  start(): void {
    const { argv, cwd, env } = this.options;
    const child = Bun.spawn([...argv], { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true });
    this.#child = child;
    this.#startedAt = Date.now();
    this.options.onStart?.(child.pid);
    const pumped = Promise.all([this.#pump(child.stdout, "stdout"), this.#pump(child.stderr, "stderr")]);
    this.#done = Promise.all([child.exited, pumped]).then(([code]) => this.#exited(child, code));
  }

  /** Stops the process: the stop signal (TERM) to its group, then KILL after `graceMs`; no restart follows. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (child === undefined) return;
    signalGroup(child.pid, this.options.stopSignal ?? "SIGTERM");
    const stopped = await Promise.race([child.exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
    if (!stopped) {
      this.options.log(`${this.name} did not stop within ${graceMs / 1000} s; killing it`);
      signalGroup(child.pid, "SIGKILL");
    }
    await this.#done;
  }

  /** Kills the process group at once, synchronously (for a forced or last-moment stop). */
  kill(): void {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (child !== undefined && isProcessAlive(child.pid)) signalGroup(child.pid, "SIGKILL");
  }

  async #pump(stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr"): Promise<void> {
    const splitter = new LineSplitter();
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      for (const line of splitter.push(decoder.decode(chunk, { stream: true }))) this.options.onLine(name, line);
    }
    for (const line of splitter.flush()) this.options.onLine(name, line);
  }

  #exited(child: Child, code: number): void {
    this.#child = undefined;
    this.options.onExit?.(child.pid);
    const how = child.signalCode ? `by ${child.signalCode}` : `with code ${code}`;
    if (this.#stopping) {
      this.options.log(`${this.name} stopped (pid ${child.pid}, exited ${how})`);
      return;
    }
    const ranForMs = Date.now() - this.#startedAt;
    if (code === EXIT_CONFIG) {
      this.#gaveUp = true;
      this.options.log(`${this.name} exited ${how}: its configuration is invalid (see above); not restarting it. Fix it and run up again.`);
      return;
    }
    const policy = this.options.backoff ?? DEFAULT_BACKOFF_POLICY;
    this.#streak = nextCrashStreak(this.#streak, ranForMs, policy);
    const delayMs = restartDelayMs(this.#streak, policy);
    this.options.log(
      `${this.name} exited ${how} after ${(ranForMs / 1000).toFixed(1)} s; restarting in ${(delayMs / 1000).toFixed(1)} s (crash ${this.#streak} in a row)`,
    );
    this.#restartTimer = setTimeout(() => this.#restart(), delayMs);
  }

  #restart(): void {
    if (this.#stopping) return;
    try {
      this.start();
      this.options.log(`${this.name} restarted (pid ${this.pid})`);
    } catch (error) {
      const policy = this.options.backoff ?? DEFAULT_BACKOFF_POLICY;
      this.#streak += 1;
      const delayMs = restartDelayMs(this.#streak, policy);
      this.options.log(`${this.name} could not be restarted (${(error as Error).message}); trying again in ${(delayMs / 1000).toFixed(1)} s`);
      this.#restartTimer = setTimeout(() => this.#restart(), delayMs);
    }
  }
}
