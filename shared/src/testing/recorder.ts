// The control loop's messages as a subscriber sees them, for benches and tests: anomalies, plans, results, dead letters
// and (optionally) telemetry, each parsed with its contract and stamped when it arrived, with its trace id.
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { z } from "zod";
import type { ActionResult, Anomaly, DeadLetter, Plan, Telemetry } from "../contracts/schemas.ts";
import { type Contract, contracts, type MessageOf, subjectOf } from "../contracts/subjects.ts";
import { traceIdOf } from "../observability/tracing.ts";

/** One message as it arrived: when (the recorder's clock), on which subject, parsed by its contract. */
export interface Arrival<T> {
  at: number;
  subject: string;
  message: T;
  /** The W3C trace id of the message's `traceparent` header, when it has one. */
  traceId?: string;
}

/** A message its contract refused: kept with the reason and the text as it came, never cast. */
export interface Rejected {
  at: number;
  subject: string;
  /** The contract's name (`anomaly`, `plan`, …). */
  contract: string;
  error: string;
  /** The payload as text, cut at 1000 characters. */
  text: string;
}

/** Options of {@link recordEvents}. */
export interface RecordOptions {
  /** Also parse every telemetry sample and keep each node's latest (off by default: the loop's own messages are few, samples many). */
  telemetry?: boolean;
  /** The clock arrivals are stamped with (default `Date.now`). */
  now?: () => number;
}

const decoder = new TextDecoder();

/** A payload read by a contract's schema, or why it is refused. */
function parseBy<C extends Contract>(contract: C, text: string): { message: MessageOf<C> } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON: ${(error as Error).message}` };
  }
  const result = contract.schema.safeParse(json);
  return result.success ? { message: result.data as MessageOf<C> } : { problem: z.prettifyError(result.error).replace(/\s*\n\s*/g, "; ") };
}

/** What a subscriber saw of the loop; filled as messages arrive until {@link EventRecorder.stop}. */
export class EventRecorder {
  /** Incident states, in arrival order. */
  readonly anomalies: Arrival<Anomaly>[] = [];
  /** Plans, in arrival order. */
  readonly plans: Arrival<Plan>[] = [];
  /** Executor results, in arrival order (a plan may have more than one, e.g. after a redelivery). */
  readonly results: Arrival<ActionResult>[] = [];
  /** Dead letters of every service. */
  readonly deadLetters: Arrival<DeadLetter>[] = [];
  /** Each node's latest telemetry sample (with the `telemetry` option). */
  readonly telemetry = new Map<string, Arrival<Telemetry>>();
  /** Messages that failed their contract. */
  readonly rejected: Rejected[] = [];
  readonly #nc: NatsConnection;
  readonly #now: () => number;
  readonly #subscriptions: Subscription[] = [];
  readonly #firstResults = new Map<string, Arrival<ActionResult>>();
  /** Every arrival but telemetry, in order, with a one-line summary made when asked for. */
  readonly #timeline: { at: number; subject: string; summary: () => string }[] = [];
  readonly #waiters = new Set<() => void>();

  /** Subscribes at once; {@link recordEvents} also waits until the server has the subscriptions. */
  constructor(nc: NatsConnection, { telemetry = false, now = Date.now }: RecordOptions = {}) {
    this.#nc = nc;
    this.#now = now;
    this.#listen(contracts.anomaly, (arrival) => {
      this.anomalies.push(arrival);
      return (a) => `${a.state} ${a.kind} ${a.target?.id ?? ""}`;
    });
    this.#listen(contracts.plan, (arrival) => {
      this.plans.push(arrival);
      return (p) => `${p.rule} ${JSON.stringify(p.actions.map((action) => [action.type, action.params]))}`;
    });
    this.#listen(contracts.action, (arrival) => {
      this.results.push(arrival);
      if (!this.#firstResults.has(arrival.message.plan_id)) this.#firstResults.set(arrival.message.plan_id, arrival);
      return (r) => JSON.stringify(r).slice(0, 800);
    });
    this.#listen(contracts.dlq, (arrival) => {
      this.deadLetters.push(arrival);
      return (d) => JSON.stringify(d).slice(0, 800);
    });
    if (telemetry) {
      this.#listen(contracts.telemetry, (arrival) => {
        this.telemetry.set(arrival.message.node, arrival);
        return undefined;
      });
    }
  }

  /**
   * Subscribes to `contract`'s subjects: a message its schema accepts goes to `keep`, which returns how to summarise it
   * in the timeline (undefined: not in it); any other is rejected with the reason.
   */
  #listen<C extends Contract>(contract: C, keep: (arrival: Arrival<MessageOf<C>>) => ((message: MessageOf<C>) => string) | undefined): void {
    const subscription = this.#nc.subscribe(subjectOf(contract, "*"), {
      callback: (error, msg) => {
        const at = this.#now();
        const text = error ? "" : decoder.decode(msg.data);
        const parsed = error ? { problem: `subscription error: ${error.message}` } : parseBy(contract, text);
        const subject = error ? subjectOf(contract, "*") : msg.subject;
        if ("message" in parsed) {
          const arrival = { at, subject, message: parsed.message, traceId: traceIdOf(msg.headers) };
          const summary = keep(arrival);
          if (summary) this.#timeline.push({ at, subject, summary: () => summary(arrival.message) });
        } else {
          this.rejected.push({ at, subject, contract: contract.name, error: parsed.problem, text: text.slice(0, 1000) });
          this.#timeline.push({ at, subject, summary: () => `refused by its contract: ${parsed.problem}` });
        }
        for (const wake of [...this.#waiters]) wake();
      },
    });
    this.#subscriptions.push(subscription);
  }

  /** The first result received for a plan. */
  resultOf(planId: string): Arrival<ActionResult> | undefined {
    return this.#firstResults.get(planId);
  }

  /** Plans without a result yet. */
  pendingPlans(): Arrival<Plan>[] {
    return this.plans.filter(({ message }) => !this.#firstResults.has(message.plan_id));
  }

  /** Ids of the incidents whose latest state is not `resolved`. */
  openIncidents(): Set<string> {
    const open = new Set<string>();
    for (const { message } of this.anomalies) {
      if (message.state === "resolved") open.delete(message.incident_id);
      else open.add(message.incident_id);
    }
    return open;
  }

  /** The first `opened` state received at or after `since` that `about` accepts, waiting up to `timeoutMs` for it. */
  async firstOpened(since: number, about: (anomaly: Anomaly) => boolean, timeoutMs: number): Promise<Arrival<Anomaly> | undefined> {
    const deadline = this.#now() + timeoutMs;
    for (;;) {
      const found = this.anomalies.find((a) => a.at >= since && a.message.state === "opened" && about(a.message));
      if (found) return found;
      const left = deadline - this.#now();
      if (left <= 0) return undefined;
      await this.#nextArrival(left);
    }
  }

  /** What the loop said since `since`, one line per message (`+<ms> ms <subject> <summary>`): for failure messages. */
  describe(since: number): string[] {
    return this.#timeline.filter((entry) => entry.at >= since).map((entry) => `+${Math.round(entry.at - since)} ms ${entry.subject} ${entry.summary()}`);
  }

  /** Stops recording (what arrived so far stays); nothing to do once the connection is closed. */
  async stop(): Promise<void> {
    if (!this.#nc.isClosed()) await Promise.all(this.#subscriptions.filter((s) => !s.isClosed()).map((s) => s.drain()));
    for (const wake of [...this.#waiters]) wake();
  }

  #nextArrival(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      this.#waiters.add(wake);
    });
  }
}

/**
 * Starts recording the loop's subjects (`x0.anomaly.*`, `x0.plan.*`, `x0.action.*`, `x0.dlq.*`, and `x0.telemetry.*`
 * with `telemetry`); resolves once the server has the subscriptions, so nothing published after that is missed.
 *
 * @example
 * const events = await recordEvents(nc);
 * const detected = await events.firstOpened(cutAt, (a) => a.target?.id === "link:n1|n2", 5000);
 */
export async function recordEvents(nc: NatsConnection, options: RecordOptions = {}): Promise<EventRecorder> {
  const recorder = new EventRecorder(nc, options);
  await nc.flush();
  return recorder;
}
