// One admitted plan to one recorded result, exactly once: the outcome in x0_outcomes (create: only if absent) makes a
// redelivery republish instead of running again, and the plan's lease makes sure only one instance runs it at all.
import type { ActionResult, Logger, Plan } from "@x0/shared";
import { detectOnly, dryRun } from "../dryrun/dry-run.ts";
import { PlanInProgress } from "../errors.ts";
import type { KvStore, PlanLeases } from "../lease/lease.ts";
import { type Handled, OutcomeBook, type PlanDelivery } from "./outcomes.ts";
import type { PlanRunner } from "./runner.ts";

/** The executor's modes: enforce runs actuators, dry-run reports what it would do, detect-only acknowledges plans. */
export const ExecutorModes = ["enforce", "dry-run", "detect-only"] as const;
/** An executor mode. */
export type ExecutorMode = (typeof ExecutorModes)[number];

export type { Handled } from "./outcomes.ts";

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
  readonly #book: OutcomeBook;

  constructor(options: PlanHandlerOptions) {
    this.#o = options;
    this.#book = new OutcomeBook(options.outcomes, options.logger);
  }

  /** Handles one delivery of `plan`; throws {@link PlanInProgress} when a live instance holds its lease (redeliver later). */
  async handle(plan: Plan, delivery: PlanDelivery): Promise<Handled> {
    const recorded = await this.#book.recorded(plan, delivery);
    if (recorded) return recorded;
    const { mode } = this.#o;
    if (mode !== "enforce" || plan.approval === "manual") {
      const result = this.#o.sign(mode === "detect-only" ? detectOnly(plan) : dryRun(plan));
      return this.#book.record(plan, delivery, result);
    }
    const acquired = await this.#o.leases.acquire(plan.plan_id);
    if (acquired.status === "held") {
      throw new PlanInProgress(`plan ${plan.plan_id} is being run by ${acquired.by.holder} (lease until ${new Date(acquired.by.expires_at).toISOString()})`);
    }
    const { lease } = acquired;
    // The previous holder may have recorded the outcome between our first look and taking the lease.
    const finished = await this.#book.recorded(plan, delivery);
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
      const handled = await this.#book.record(plan, delivery, this.#o.sign(result));
      await lease.release();
      return { ...handled, takeover: acquired.status === "took_over" } as Handled;
    } finally {
      stop();
    }
  }
}
