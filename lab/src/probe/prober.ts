// LabProber: runs the prober script (probe-main.ts) inside a node's namespace and collects its events, for `x0 lab probe`,
// the benchmarks and the tests.
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import type { Subprocess } from "bun";
import { LabError } from "../errors.ts";
import { HELLO_PORT, inNetns } from "../kernel/commands.ts";
import { REPO_ROOT } from "../paths.ts";
import { LAB_MARK_VARIABLE } from "../plan/names.ts";
import { type LabPlan, nodeOf } from "../plan/plan.ts";
import type { ProbeEvent, SummaryEvent } from "./outage.ts";

/** Options of a {@link LabProber}. */
export interface LabProberOptions {
  plan: LabPlan;
  intervalMs?: number;
  summaryMs?: number;
  /** Hello port at the target (the monitors answer on 7471). */
  port?: number;
  /** Told of every event as it arrives. */
  onEvent?: (event: ProbeEvent) => void;
}

/** A running prober from one lab node to another's service address. */
export class LabProber {
  /** Every event so far (outages, restorations, summaries), in arrival order. */
  readonly events: ProbeEvent[] = [];
  #child: Subprocess<"ignore", "pipe", "pipe"> | undefined;
  #started: PromiseWithResolvers<void> | undefined;
  #stderr = "";
  #pumped: Promise<void> = Promise.resolve();

  constructor(private readonly options: LabProberOptions) {}

  /** Starts probing from node `from` to node `to`; resolves once the prober sends (its socket is bound). */
  async start(from: string, to: string): Promise<void> {
    if (this.#child !== undefined) throw new LabError("this prober already runs; stop it first");
    const { plan, intervalMs = 10, summaryMs = 1000, port = HELLO_PORT } = this.options;
    const source = nodeOf(plan, from);
    const target = nodeOf(plan, to);
    const argv = inNetns(source.netnsPath, [
      process.execPath,
      join(import.meta.dir, "probe-main.ts"),
      "--from",
      from,
      "--to",
      to,
      "--address",
      target.serviceAddress,
      "--port",
      String(port),
      "--interval-ms",
      String(intervalMs),
      "--summary-ms",
      String(summaryMs),
    ]);
    const child = Bun.spawn(argv, {
      cwd: REPO_ROOT,
      env: { ...process.env, [LAB_MARK_VARIABLE]: plan.prefix },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    this.#child = child;
    this.#started = Promise.withResolvers<void>();
    this.#pumped = Promise.all([this.#readEvents(child.stdout), this.#readStderr(child.stderr)]).then(() => undefined);
    void child.exited.then((code) =>
      this.#started?.reject(new LabError(`the prober in ${source.netns} exited with ${code} before starting: ${this.#stderr.trim()}`)),
    );
    await this.#started.promise;
  }

  /** The latest summary, if one arrived. */
  get lastSummary(): SummaryEvent | undefined {
    return this.events.findLast((event): event is SummaryEvent => event.event === "summary");
  }

  /** Waits until an event matches `predicate` (looking at past events too); throws {@link LabError} after `timeoutMs`. */
  async waitFor<T extends ProbeEvent>(predicate: (event: ProbeEvent) => event is T, timeoutMs: number, from = 0): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(predicate);
      if (found) return found;
      if (Date.now() >= deadline) throw new LabError(`no matching prober event within ${timeoutMs} ms; last: ${JSON.stringify(this.events.at(-1) ?? null)}`);
      if (this.#child === undefined) throw new LabError("the prober is not running");
      await Bun.sleep(10);
    }
  }

  /** Stops the prober and returns its final summary. */
  async stop(): Promise<SummaryEvent | undefined> {
    const child = this.#child;
    if (child === undefined) return this.lastSummary;
    child.kill("SIGTERM");
    const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
    if (!exited) child.kill("SIGKILL");
    await this.#pumped;
    this.#child = undefined;
    return this.lastSummary;
  }

  async #readEvents(stream: ReadableStream<Uint8Array>): Promise<void> {
    const take = (line: string) => {
      let parsed: { event?: string };
      try {
        parsed = JSON.parse(line) as { event?: string };
      } catch {
        return; // not an event line (a runtime warning): ignored rather than breaking the stream
      }
      if (parsed.event === "start") {
        this.#started?.resolve();
        return;
      }
      this.events.push(parsed as ProbeEvent);
      this.options.onEvent?.(parsed as ProbeEvent);
    };
    const lines = createInterface({ input: Readable.fromWeb(stream as unknown as NodeReadableStream<Uint8Array>), crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) take(line);
  }

  async #readStderr(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) this.#stderr = (this.#stderr + decoder.decode(chunk, { stream: true })).slice(-4000);
  }
}
