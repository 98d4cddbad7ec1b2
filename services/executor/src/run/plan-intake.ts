// Plans from the durable consumer to published results: the signature admission, the plan handler, what is counted.
// A plan that fails admission, or a replay of one already executed, goes to the dead-letter subject instead.
import { type Bus, contracts, type Delivery, type Logger, type MessageVerifier, type Plan } from "@x0/shared";
import { PlanInProgress } from "../errors.ts";
import type { VoteAdmission } from "../governance/admit.ts";
import type { ExecutorCounts } from "../metrics.ts";
import { checkPlan } from "../verify/verify-plan.ts";
import type { Handled } from "./outcomes.ts";

/** What the intake admits plans with, hands them to, publishes and counts through. */
export interface PlanIntakeOptions {
  bus: Pick<Bus, "deadLetter" | "publishDurable">;
  verifier: MessageVerifier;
  /** Services whose keys may sign plans. */
  signers: readonly string[];
  /** Turns an admitted plan into a result to publish (PlanHandler for the site executor, CoordinatedPlans for a node's). */
  handler: {
    handle(plan: Plan, delivery: Delivery): Promise<Handled>;
    /** Whether this executor has a part in `plan`; one it has none in is acknowledged before its signature is checked. */
    concerns?(plan: Plan): boolean;
  };
  counts: Pick<ExecutorCounts, "rejected" | "published" | "tookOver">;
  logger: Logger;
  /** Vote plans: run only when their proposal passes on the executor's own recount. */
  votes?: Pick<VoteAdmission, "admit">;
  /** Verifies vote plans, whose signature must stay acceptable while their proposal is open (up to its deadline). */
  voteVerifier?: MessageVerifier;
}

/** The handler of `x0.plan.*`: admits a plan, runs it (or its node's part of it) once, publishes its signed result when it has one. */
export function planIntake({ bus, verifier, signers, handler, counts, logger, votes, voteVerifier }: PlanIntakeOptions) {
  return async function intake(plan: Plan, delivery: Delivery): Promise<void> {
    const reject = (reason: string, detail: string) => {
      counts.rejected(reason);
      bus.deadLetter(delivery.subject, contracts.plan.template, delivery.data, delivery.headers, `plan rejected: ${reason}: ${detail}`);
    };
    if (handler.concerns && !handler.concerns(plan)) {
      logger.debug("plan without a part for this executor", { plan_id: plan.plan_id, node: plan.node });
      return;
    }
    const voting = plan.approval === "vote";
    const verdict = await checkPlan(voting && voteVerifier ? voteVerifier : verifier, delivery, signers);
    if (!verdict.ok) return reject(verdict.reason, verdict.detail);
    let handled: Handled;
    try {
      // Without the admission nothing here could recount a vote plan's proposal: it is never run.
      let admitted: Handled | undefined;
      if (voting) admitted = votes ? await votes.admit(plan, delivery) : { kind: "none", detail: "no vote admission: a vote plan is not run" };
      handled = admitted ?? (await handler.handle(plan, delivery));
    } catch (error) {
      if (error instanceof PlanInProgress) logger.info("plan held by another instance; redelivery later", { plan_id: plan.plan_id, detail: error.message });
      throw error;
    }
    if (handled.kind === "replayed") return reject("replayed", handled.detail);
    if (handled.kind === "none") {
      logger.debug("plan handled; another node reports its result", { plan_id: plan.plan_id, node: plan.node, detail: handled.detail });
      return;
    }
    if (handled.takeover) counts.tookOver();
    const { result } = handled;
    await bus.publishDurable(contracts.action, plan.node, result, { msgID: `result:${plan.plan_id}`, parent: delivery.trace });
    counts.published(result.status);
    logger.info("result", { plan_id: plan.plan_id, incident_id: plan.incident_id, status: result.status, detail: result.detail });
  };
}
