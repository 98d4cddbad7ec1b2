// One admitted plan to one recorded result, exactly once: the outcome in x0_outcomes (create: only if absent) makes a
// redelivery republish instead of running again, and the plan's lease makes sure only one instance runs it at all.
import { type ActionResult, type Logger, OutcomeRecord, outcomeKey, type Plan, parseRecord } from "@x0/shared";
import { detectOnly, dryRun } from "../dryrun/dry-run.ts";
import { PlanInProgress } from "../errors.ts";
import type { KvStore, PlanLeases } from "../lease/lease.ts";
import type { PlanRunner } from "./runner.ts";

/** The executor's modes: enforce runs actuators, dry-run reports what it would do, detect-only acknowledges plans. */
export const ExecutorModes = ["enforce", "dry-run", "detect-only"] as const;
/** An executor mode. */
export type ExecutorMode = (typeof ExecutorModes)[number];

/** What to do with a plan message. */
export type Handled = { kind: "result"; result: ActionResult; republished: boolean; takeover?: boolean } | { kind: "replayed"; detail: string };

/** Options of {@link PlanHandler}. */
export interface PlanHandlerOptions {
  mode: ExecutorMode;
  outcomes: KvStore;
  leases: PlanLeases;
  runner: PlanRunner;
  /** Signs a result (the executor's signature); applied before it is recorded, so a republished result is the same bytes. */
  sign(result: ActionResult): ActionResult;
  logger: Logger;
}

/** Turns admitted plans into recorded results. */
export class PlanHandler {
  readonly #o: PlanHandlerOptions;

  constructor(options: PlanHandlerOptions) {
    this.#o = options;
  }

  /** Handles one delivery of `plan`; throws {@link PlanInProgress} when a live instance holds its lease (redeliver later). */
  async handle(plan: Plan, delivery: { sequence?: number; redelivered: boolean }): Promise<Handled> {
    const recorded = await this.#recorded(plan, delivery);
    if (recorded) return recorded;
    const { mode } = this.#o;
    if (mode !== "enforce" || plan.approval === "manual") {
      const result = this.#o.sign(mode === "detect-only" ? detectOnly(plan) : dryRun(plan));
      return this.#record(plan, delivery, result);
    }
    const acquired = await this.#o.leases.acquire(plan.plan_id);
    if (acquired.status === "held") {
      throw new PlanInProgress(`plan ${plan.plan_id} is being run by ${acquired.by.holder} (lease until ${new Date(acquired.by.expires_at).toISOString()})`);
    }
    const { lease } = acquired;
    // The previous holder may have recorded the outcome between our first look and taking the lease.
    const finished = await this.#recorded(plan, delivery);
    if (finished) {
      await lease.release();
      return finished;
    }
    const stop = lease.keepAlive((error) => this.#o.logger.warn("plan lease renewal failed", { plan_id: plan.plan_id, error }));
    try {
      const journal = await lease.readJournal();
      let result: ActionResult;
      if (journal && journal.entries.length > 0) {
        this.#o.logger.warn("taking over a plan whose holder stopped mid-run: verifying, not re-applying", {
          plan_id: plan.plan_id,
          previous_holder: journal.holder,
          journaled_steps: journal.entries.length,
        });
        result = await this.#o.runner.recover(plan, journal, lease, { holder: this.#o.leases.holder });
      } else {
        result = await this.#o.runner.run(plan, lease, { holder: this.#o.leases.holder, signal: lease.signal });
        if (journal)
          result = { ...result, detail: `${result.detail ? `${result.detail}; ` : ""}started again: ${journal.holder} stopped before changing anything` };
      }
      const handled = await this.#record(plan, delivery, this.#o.sign(result));
      await lease.release();
      return { ...handled, takeover: acquired.status === "took_over" } as Handled;
    } finally {
      stop();
    }
  }

  /** The recorded outcome of `plan`, as a republish (same message) or a replay (a new message with an executed plan). */
  async #recorded(plan: Plan, delivery: { sequence?: number; redelivered: boolean }): Promise<Handled | undefined> {
    const key = outcomeKey(plan.plan_id);
    const entry = await this.#o.outcomes.get(key);
    if (!entry?.value.length || entry.operation !== "PUT") return undefined;
    const record = parseRecord(OutcomeRecord, key, entry.value);
    // The same plan in a new stream message is a replay, even after a restart emptied the nonce memory;
    // the same stream message again is a redelivery (a restarted server may not flag it as one).
    const sameMessage =
      record.plan_sequence !== undefined && delivery.sequence !== undefined ? record.plan_sequence === delivery.sequence : delivery.redelivered;
    if (!sameMessage) return { kind: "replayed", detail: `plan ${plan.plan_id} was already executed` };
    this.#o.logger.info("plan already executed; republishing its result", { plan_id: plan.plan_id });
    return { kind: "result", result: record.result, republished: true };
  }

  /** Records the outcome (create: only if absent) before it is published; on a conflict the recorded one wins. */
  async #record(plan: Plan, delivery: { sequence?: number; redelivered: boolean }, result: ActionResult): Promise<Handled> {
    const record: OutcomeRecord = { plan_sequence: delivery.sequence, result };
    try {
      await this.#o.outcomes.create(outcomeKey(plan.plan_id), JSON.stringify(record));
      return { kind: "result", result, republished: false };
    } catch (createError) {
      const recorded = await this.#recorded(plan, { ...delivery, redelivered: true });
      if (!recorded) throw createError;
      return recorded;
    }
  }
}
