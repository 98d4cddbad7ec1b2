// The one path every plan leaves the planner by: notify when nothing changes, the too-many-steps guard, the action
// budget, publishing (the publish callback signs), the plan metrics and counters, and the record its result meets.
import { createHash } from "node:crypto";
import type { Context } from "@opentelemetry/api";
import type { Anomaly, AnomalyKind, IncidentTarget, Logger, Plan, PlanAlternative, PlanFragility, PlannedAction, VerifyCheck } from "@x0/shared";
import type { BatmanChange } from "../batman/settings.ts";
import type { PlannerMetrics } from "../metrics.ts";
import type { OutcomeStore } from "../outcomes/store.ts";
import { ActionBudget } from "../policy/guards.ts";
import { buildPlan } from "../routing/plan.ts";
import type { RouteChange } from "../routing/routes.ts";

/** A plan message holds at most this many steps (the Plan contract's limit). */
export const MAX_ACTIONS = 256;

/** A plan id derived from the plan's message id (UUIDv8), so a re-planned redelivery carries the id JetStream already stored. */
export function planIdFor(msgID: string): string {
  const hex = createHash("sha256").update(msgID).digest("hex");
  const variant = ((Number.parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** What a plan answers and how it was chosen: the parts of a plan that do not depend on its steps. */
export interface PlanOrigin {
  /** The JetStream message id; the plan id is derived from it. */
  msgID: string;
  incidentId: string;
  node: string;
  kind: AnomalyKind;
  rule: string;
  approval: Plan["approval"];
  target?: IncidentTarget | undefined;
  /** The incident state answered (its update and evidence go into the plan); none for a hold-down release. */
  anomaly?: Anomaly | undefined;
  /** The ranked alternatives the plan lists. */
  alternatives?: PlanAlternative[] | undefined;
  /** The alternative whose outcome stats the plan's result counts in; undefined: the result is not counted. */
  ranked?: string | undefined;
}

/** The message id of the plan answering an incident state: `plan:<incident_id>:<update>`. */
export function planMsgID(anomaly: Pick<Anomaly, "incident_id" | "update">): string {
  return `plan:${anomaly.incident_id}:${anomaly.update}`;
}

/** The origin of a plan answering an incident state. */
export function originOf(anomaly: Anomaly, choice: Pick<PlanOrigin, "rule" | "approval" | "alternatives" | "ranked">): PlanOrigin {
  return {
    msgID: planMsgID(anomaly),
    incidentId: anomaly.incident_id,
    node: anomaly.node,
    kind: anomaly.kind,
    target: anomaly.target,
    anomaly,
    ...choice,
  };
}

/** The steps a strategy (or the quarantine builder) proposes, and what the planner says when it cannot send them. */
export interface Proposal {
  /** The plan's steps; none when nothing needs to change. */
  actions: PlannedAction[];
  summary: string;
  /** What the notify says when nothing changes; undefined: no plan at all (a restore with nothing to bring back). */
  unchanged: string | undefined;
  /** What the manual notify says when the steps are more than one plan holds. */
  tooLarge?: string;
  verify: VerifyCheck[];
  deadlineMs: number;
  /** Running plans whose changes this one states again. */
  supersedes?: string[];
  /** The changes the plan record keeps, to confirm or revert them when the result arrives. */
  record: { changes: RouteChange[]; batman?: BatmanChange[] };
  /** Route repairs: whether the new paths leave the mesh more fragile. */
  fragility?: PlanFragility;
}

/** What became of a proposal: published, a notify in its place, or nothing because the action budget was spent. */
export type Emitted =
  | { outcome: "published"; plan: Plan }
  | { outcome: "unchanged"; plan: Plan | undefined }
  | { outcome: "too-large"; plan: Plan }
  | { outcome: "budget"; plan?: undefined };

/** What the emitter needs from the planner's service. */
export interface EmitterDeps {
  /** Signs and publishes a plan durably with this message id. */
  publish(plan: Plan, msgID: string, parent: Context | undefined): Promise<void>;
  outcomes: Pick<OutcomeStore, "remember">;
  logger: Logger;
  metrics: Pick<PlannerMetrics, "plans" | "budgetExhausted">;
  /** /status loop counters (`plans`). */
  counters?: Record<string, number> | undefined;
  /** The policy's budget of network-changing plans per minute. */
  plansPerMinute: number;
  /** The deadline of notify plans (the policy's verify.deadline_ms). */
  deadlineMs: number;
}

/** Publishes plans: proposals through the guards, notifications, and plans made elsewhere (the fallback rules). */
export class PlanEmitter {
  readonly #deps: EmitterDeps;
  readonly #budget: ActionBudget;

  constructor(deps: EmitterDeps) {
    this.#deps = deps;
    this.#budget = new ActionBudget(deps.plansPerMinute);
    if (deps.counters) deps.counters.plans ??= 0;
  }

  /** Publishes a proposal as a plan, or the notify that stands in for it; "budget" when the action budget refused it. */
  async emit(origin: PlanOrigin, proposal: Proposal, parent: Context | undefined, now: number): Promise<Emitted> {
    // A notify standing in for the chosen alternative is not ranked by its outcome.
    const unranked = { ...origin, ranked: undefined };
    if (proposal.actions.length === 0) {
      return { outcome: "unchanged", plan: proposal.unchanged === undefined ? undefined : await this.notify(unranked, proposal.unchanged, parent, now) };
    }
    if (proposal.actions.length > MAX_ACTIONS) {
      this.#deps.logger.error("plan too large for one plan message", {
        incident_id: origin.incidentId,
        rule: origin.rule,
        steps: proposal.actions.length,
        max: MAX_ACTIONS,
      });
      const message = proposal.tooLarge ?? `${proposal.summary}: more than ${MAX_ACTIONS} steps, too many for one plan; nothing changes`;
      return { outcome: "too-large", plan: await this.notify({ ...unranked, approval: "manual", alternatives: undefined }, message, parent, now) };
    }
    if (!this.spend(origin.incidentId, now)) return { outcome: "budget" };
    const plan = buildPlan({
      ...this.#header(origin, now),
      actions: proposal.actions,
      summary: proposal.summary,
      verify: proposal.verify,
      deadlineMs: proposal.deadlineMs,
      supersedes: proposal.supersedes,
      fragility: proposal.fragility,
    });
    await this.publish(plan, origin.msgID, parent, origin.ranked === undefined ? undefined : { alternative: origin.ranked, ...proposal.record });
    return { outcome: "published", plan };
  }

  /** Publishes a notify plan: operators are told, nothing in the network changes (and no budget is spent). */
  async notify(origin: PlanOrigin, message: string, parent: Context | undefined, now: number): Promise<Plan> {
    const plan = buildPlan({
      ...this.#header(origin, now),
      actions: [
        {
          type: "notify",
          params: { incident_id: origin.incidentId, message: message.slice(0, 512) },
          reason: "tell operators; nothing in the network changes",
        },
      ],
      summary: message,
      verify: [],
      deadlineMs: this.#deps.deadlineMs,
    });
    await this.publish(plan, origin.msgID, parent, origin.ranked === undefined ? undefined : { alternative: origin.ranked, changes: [] });
    return plan;
  }

  /** Spends one network-changing plan from the budget; false (counted and logged) when the minute's budget is spent. */
  spend(incidentId: string, now: number): boolean {
    if (this.#budget.tryTake(now)) return true;
    this.#deps.metrics.budgetExhausted.inc();
    this.#deps.logger.warn("action budget exhausted: no plan", { incident_id: incidentId, plans_per_minute: this.#deps.plansPerMinute });
    return false;
  }

  /** Publishes a finished plan, counts it, and (when `ranked`) records it for its result's outcome. */
  async publish(
    plan: Plan,
    msgID: string,
    parent: Context | undefined,
    ranked: { alternative: string; changes: RouteChange[]; batman?: BatmanChange[] } | undefined,
  ): Promise<void> {
    const deps = this.#deps;
    await deps.publish(plan, msgID, parent);
    deps.metrics.plans.inc({ rule: plan.rule, kind: plan.kind, approval: plan.approval });
    if (deps.counters) deps.counters.plans = (deps.counters.plans ?? 0) + 1;
    deps.logger.info("plan", { plan_id: plan.plan_id, incident_id: plan.incident_id, rule: plan.rule, approval: plan.approval, actions: plan.actions.length });
    if (!ranked) return;
    await deps.outcomes
      .remember({
        v: 1,
        plan_id: plan.plan_id,
        incident_id: plan.incident_id,
        kind: plan.kind,
        alternative: ranked.alternative,
        approval: plan.approval,
        created_at: plan.created_at,
        changes: ranked.changes.map(({ next, previous }) => ({ next, previous: previous ?? null })),
        ...(ranked.batman && ranked.batman.length > 0 ? { batman: ranked.batman.map(({ next, previous }) => ({ next, previous: previous ?? null })) } : {}),
      })
      .catch((error) => deps.logger.warn("cannot record plan for its outcome", { plan_id: plan.plan_id, error }));
  }

  #header(origin: PlanOrigin, now: number) {
    return {
      planId: planIdFor(origin.msgID),
      incidentId: origin.incidentId,
      node: origin.node,
      kind: origin.kind,
      rule: origin.rule,
      approval: origin.approval,
      now,
      target: origin.target,
      anomaly: origin.anomaly,
      alternatives: origin.alternatives,
    };
  }
}
