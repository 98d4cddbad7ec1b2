// The planner as leader or standby: a standby keeps a planner warm (announcements, link costs) and consumes nothing; the
// leader restores it from KV, consumes incident states and results, and ticks; a demoted one starts over as a standby.
import type { Context } from "@opentelemetry/api";
import type { ActionResult, Anomaly, Live, Logger, NodeAnnouncement, Plan } from "@x0/shared";
import type { OutcomeStore } from "../outcomes/store.ts";
import type { Planner } from "../planner.ts";
import { NotLeader } from "./fenced-store.ts";

/** What a {@link PlannerRole} needs from its service. */
export interface PlannerRoleOptions {
  /** A planner with no state of its own (policy, fenced stores and the fenced publish wired). */
  newPlanner(): Planner;
  /** The outcome stats, read again at each election (another leader counted results meanwhile). */
  outcomes: OutcomeStore;
  /** Starts the leader's durable consumers, which hand their messages to this role. */
  consume(): Promise<Live[]>;
  /** How often the leader's planner ticks (held links, deferred plans, link records). */
  tickMs: number;
  logger: Logger;
}

/** The planner of the current term, with what it does as leader and as standby. */
export class PlannerRole {
  readonly #options: PlannerRoleOptions;
  readonly #announcements = new Map<string, NodeAnnouncement>();
  #planner: Planner;
  #consumers: Live[] = [];
  #ticker: ReturnType<typeof setInterval> | undefined;
  #leading = false;

  constructor(options: PlannerRoleOptions) {
    this.#options = options;
    this.#planner = options.newPlanner();
  }

  /** The planner of the current term (a standby's is warm: announcements and link costs). */
  get planner(): Planner {
    return this.#planner;
  }

  /** Whether this instance consumes and plans now. */
  get leading(): boolean {
    return this.#leading;
  }

  /** Ready: a standby always; a leader while its consumers are live. */
  isLive(): boolean {
    return !this.#leading || this.#consumers.every((consumer) => consumer.isLive());
  }

  /** A node's announcement (followed in either role, and kept to warm the next term's planner). */
  announce(announcement: NodeAnnouncement): void {
    this.#announcements.set(announcement.node, announcement);
    this.#planner.announce(announcement);
  }

  /** A node's announcement was deleted. */
  forget(node: string): void {
    this.#announcements.delete(node);
    this.#planner.forget(node);
  }

  /** Raw telemetry of `node`: link costs stay warm in either role. */
  observeTelemetry(node: string, data: Uint8Array): void {
    this.#planner.observeTelemetry(node, data);
  }

  /** An incident state from the durable consumer; refused once demoted, so it is redelivered to the new leader. */
  handleAnomaly(anomaly: Anomaly, parent?: Context): Promise<Plan | undefined> {
    if (!this.#leading) return Promise.reject(new NotLeader(`incident ${anomaly.incident_id}:${anomaly.update} refused: this planner is not the leader`));
    return this.#planner.handleAnomaly(anomaly, parent);
  }

  /** A plan's result from the durable consumer; refused once demoted. */
  handleResult(result: ActionResult): Promise<void> {
    if (!this.#leading) return Promise.reject(new NotLeader(`result of plan ${result.plan_id} refused: this planner is not the leader`));
    return this.#planner.handleResult(result);
  }

  /** Elected: resumes from x0_topology and x0_outcomes, then consumes where the previous leader stopped, and ticks. */
  async lead(): Promise<void> {
    const startedAt = performance.now();
    await this.#planner.restore();
    await this.#options.outcomes.load();
    this.#leading = true;
    this.#consumers = await this.#options.consume();
    const planner = this.#planner;
    this.#ticker = setInterval(() => {
      planner.tick().catch((error) => this.#options.logger.error("planner tick failed", { error }));
    }, this.#options.tickMs);
    this.#options.logger.info("leading: restored and consuming", {
      links: planner.topology.linkCount(),
      restore_ms: Math.round(performance.now() - startedAt),
    });
  }

  /** Builds the planner anew (a new policy was adopted): a new term when leading, a new warm planner otherwise. */
  async renew(): Promise<void> {
    if (!this.#leading) {
      this.#planner = this.#options.newPlanner();
      for (const announcement of this.#announcements.values()) this.#planner.announce(announcement);
      return;
    }
    await this.standBy();
    await this.lead();
  }

  /** Demoted (or stopping): stops consuming and ticking, and keeps a fresh planner warm for the next term. */
  async standBy(): Promise<void> {
    this.#leading = false;
    clearInterval(this.#ticker);
    const consumers = this.#consumers;
    this.#consumers = [];
    for (const consumer of consumers) await consumer.stop().catch((error) => this.#options.logger.error("stop failed", { name: consumer.name, error }));
    // The next term starts from what the leader of the meantime wrote, not from this term's memory.
    this.#planner = this.#options.newPlanner();
    for (const announcement of this.#announcements.values()) this.#planner.announce(announcement);
  }
}
