// Vote plans between admission and running: a plan whose proposal is open is reported awaiting_approval once and seen
// again later; a rejected one gets its `rejected` result recorded once (x0_outcomes) and never runs; a passed one runs.
import { type ActionResult, actionResult, type Logger, type Plan, RedeliverLater } from "@x0/shared";
import type { KvStore } from "../lease/lease.ts";
import { type Handled, OutcomeBook, type PlanDelivery } from "../run/outcomes.ts";
import type { VoteGate } from "./gate.ts";

/** Why a vote plan cannot run on an executor without governance. */
const NO_GOVERNANCE = "the plan needs a governance vote, but governance is not configured on this executor (X0_GOV_MEMBERS)";

/** The gate of an executor without governance: every vote plan is rejected (and never runs). */
export const ungovernedGate: Pick<VoteGate, "decide"> = { decide: async () => ({ kind: "reject", detail: NO_GOVERNANCE }) };

/** Options of {@link VoteAdmission}. */
export interface VoteAdmissionOptions {
  gate: Pick<VoteGate, "decide">;
  outcomes: KvStore;
  sign(result: ActionResult): ActionResult;
  /** Whether this executor reports `plan`'s result (the site executor, or the node executor the plan is addressed to). */
  coordinates(plan: Plan): boolean;
  /** Publishes the awaiting_approval result (not recorded: the plan's final result comes later). */
  publishAwaiting(result: ActionResult): Promise<void>;
  logger: Logger;
}

/** The result of a vote plan that never runs. */
export function rejectedResult(plan: Plan, detail: string, now = Date.now()): ActionResult {
  return actionResult(plan, {
    status: "rejected",
    steps: plan.actions.map((action) => ({ type: action.type, params: action.params, status: "skipped", detail: "not run: the proposal did not pass" })),
    started_at: now,
    finished_at: now,
    detail,
  });
}

/** The result of a vote plan whose proposal is open. */
export function awaitingResult(plan: Plan, detail: string, now = Date.now()): ActionResult {
  return actionResult(plan, {
    status: "awaiting_approval",
    steps: plan.actions.map((action) => ({ type: action.type, params: action.params, status: "skipped", detail: `waits for proposal ${plan.proposal_id}` })),
    started_at: now,
    finished_at: now,
    detail: `waits for the vote on proposal ${plan.proposal_id}: ${detail}`,
  });
}

/** Admits vote plans through the gate. */
export class VoteAdmission {
  readonly #o: VoteAdmissionOptions;
  readonly #book: OutcomeBook;
  /** Plans whose awaiting_approval result this process published. */
  readonly #announced = new Set<string>();

  constructor(options: VoteAdmissionOptions) {
    this.#o = options;
    this.#book = new OutcomeBook(options.outcomes, options.logger);
  }

  /** Undefined: the plan's proposal passed on recount, run it. Otherwise what to publish; throws RedeliverLater while it is open. */
  async admit(plan: Plan, delivery: PlanDelivery): Promise<Handled | undefined> {
    const verdict = await this.#o.gate.decide(plan);
    const coordinating = this.#o.coordinates(plan);
    if (verdict.kind === "run") {
      this.#announced.delete(plan.plan_id);
      this.#o.logger.info("vote plan approved", { plan_id: plan.plan_id, proposal_id: plan.proposal_id, detail: verdict.detail });
      return undefined;
    }
    if (verdict.kind === "reject") {
      this.#announced.delete(plan.plan_id);
      this.#o.logger.warn("vote plan rejected", { plan_id: plan.plan_id, proposal_id: plan.proposal_id, detail: verdict.detail });
      if (!coordinating) return { kind: "none", detail: `rejected; the coordinator ${plan.node} reports: ${verdict.detail}` };
      return this.#book.record(plan, delivery, this.#o.sign(rejectedResult(plan, verdict.detail)));
    }
    if (coordinating && !this.#announced.has(plan.plan_id)) {
      await this.#o.publishAwaiting(this.#o.sign(awaitingResult(plan, verdict.detail)));
      this.#announced.add(plan.plan_id);
    }
    throw new RedeliverLater(`plan ${plan.plan_id} waits for proposal ${plan.proposal_id}: ${verdict.detail}`, verdict.retryMs);
  }
}
