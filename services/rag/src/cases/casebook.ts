// Cases assembled from X0_EVENTS: one per incident, from its states, plans and results, in stream order.
// A case is ready to index when its incident resolves, and again whenever a later event changes it.
import type { ActionResult, Anomaly, CaseOutcome, CasePlan, CaseResult, Plan, RagCase } from "@x0/shared";
import type { CaseStore } from "./case-store.ts";

/** One event of X0_EVENTS, validated, with its stream sequence. */
export type CaseEvent =
  | { type: "anomaly"; seq: number; message: Anomaly }
  | { type: "plan"; seq: number; message: Plan }
  | { type: "result"; seq: number; message: ActionResult };

/** Evidence kept per case: the opening state's and the latest. */
const EVIDENCE_KEPT = 8;
const PLANS_KEPT = 64;
const FLAGS_KEPT = 16;

/** What applying an event did: the case it changed, and whether that case belongs in the index now. */
export interface Applied {
  case: RagCase;
  /** The incident has resolved (or the case was already indexed): index (or re-index) it. */
  index: boolean;
}

/** The outcome and repair time of a case from its plans and results. */
export function outcomeOf(plans: CasePlan[], results: CaseResult[], startedAt: number | undefined): Pick<RagCase, "outcome" | "alternative" | "mttr_ms"> {
  const repairs = new Map(plans.filter((plan) => plan.alternative !== null).map((plan) => [plan.plan_id, plan]));
  let outcome: CaseOutcome = "none";
  let alternative: string | null = null;
  let repairedAt: number | undefined;
  for (const result of results) {
    const plan = repairs.get(result.plan_id);
    if (!plan) continue;
    const final = finalOf(result.status);
    if (final === undefined) continue;
    outcome = final;
    alternative = plan.alternative;
    const at = result.verified_at ?? result.applied_at;
    if ((final === "verified" || final === "applied") && at !== undefined && repairedAt === undefined) repairedAt = at;
  }
  const mttr = repairedAt !== undefined && startedAt !== undefined ? Math.max(0, repairedAt - startedAt) : null;
  return { outcome, alternative, mttr_ms: mttr };
}

function finalOf(status: ActionResult["status"]): CaseOutcome | undefined {
  switch (status) {
    case "verified":
    case "success":
      return "verified";
    case "applied":
    case "rolled_back":
    case "failed":
      return status;
    default:
      return undefined;
  }
}

/** The alternative a plan carried out: the chosen one it lists, else its rule's suffix when the rule ranks one; null for restores. */
export function alternativeOf(plan: Plan): string | null {
  const chosen = plan.alternatives?.find((alternative) => alternative.chosen)?.name;
  if (chosen) return chosen;
  const [, suffix] = plan.rule.split("/");
  if (!suffix || suffix === "restore" || suffix === "no-alternative" || plan.rule.startsWith("fallback")) return null;
  return suffix;
}

/** Every case by incident id, built up event by event in the case store; indexed ones are marked there. */
export class CaseBook {
  constructor(readonly store: CaseStore) {}

  /** The case of an incident. */
  get(incidentId: string): RagCase | undefined {
    return this.store.get(incidentId)?.case;
  }

  /** Folds one event into its incident's case; undefined for a result of an incident never seen (it has no kind to file it by). */
  apply(event: CaseEvent): Applied | undefined {
    const incidentId = event.message.incident_id;
    const stored = this.store.get(incidentId);
    if (!stored && event.type === "result") return undefined;
    const next = stored?.case ?? emptyCase(incidentId, event as Exclude<CaseEvent, { type: "result" }>);
    if (event.type === "anomaly") applyAnomaly(next, event.message, stored === undefined);
    else if (event.type === "plan") applyPlan(next, event.message, stored === undefined);
    else applyResult(next, event.message);
    next.last_seq = Math.max(next.last_seq, event.seq);
    Object.assign(next, outcomeOf(next.plans, next.results, next.onset_at ?? next.opened_at));
    const indexed = stored?.indexed ?? false;
    this.store.put(next, indexed);
    return { case: next, index: next.resolved_at !== undefined || indexed };
  }

  /** Open cases whose latest event is older than `before`, flagged: indexed as they are, so none waits forever. */
  stale(before: number): RagCase[] {
    const stale = this.store.staleOpen(before);
    for (const item of stale) flag(item, "never resolved: indexed as it stood when its events stopped");
    return stale;
  }
}

function emptyCase(incidentId: string, event: Exclude<CaseEvent, { type: "result" }>): RagCase {
  return {
    v: 1,
    incident_id: incidentId,
    kind: event.message.kind,
    states: 0,
    plans: [],
    results: [],
    outcome: "none",
    alternative: null,
    mttd_ms: null,
    mttr_ms: null,
    flags: [],
    first_seq: event.seq,
    last_seq: event.seq,
  };
}

function flag(item: RagCase, reason: string): void {
  if (!item.flags.includes(reason) && item.flags.length < FLAGS_KEPT) item.flags.push(reason);
}

function applyAnomaly(item: RagCase, anomaly: Anomaly, first: boolean): void {
  if (first && anomaly.state !== "opened") flag(item, `first state seen was ${anomaly.state} (update ${anomaly.update}), not opened`);
  if (!first && item.kind !== anomaly.kind) flag(item, `kind changed from ${item.kind} to ${anomaly.kind}`);
  item.states += 1;
  item.kind = anomaly.kind;
  item.severity = anomaly.severity;
  item.node = anomaly.node;
  item.metric = anomaly.metric;
  if (anomaly.state !== "resolved") {
    item.observed = anomaly.observed;
    item.score = Math.max(item.score ?? Number.NEGATIVE_INFINITY, Math.abs(anomaly.score));
  }
  if (anomaly.target) item.target = anomaly.target;
  item.opened_at ??= anomaly.opened_at;
  if (anomaly.onset_at !== undefined) item.onset_at = Math.min(item.onset_at ?? anomaly.onset_at, anomaly.onset_at);
  if (anomaly.state !== "resolved") item.detected_at ??= anomaly.detected_at ?? anomaly.ts;
  if (item.onset_at !== undefined && item.detected_at !== undefined) item.mttd_ms = Math.max(0, item.detected_at - item.onset_at);
  if (anomaly.evidence && anomaly.evidence.length > 0 && anomaly.state !== "resolved") {
    // The opening evidence and the newest: what made it an incident and what it looked like last.
    const half = EVIDENCE_KEPT / 2;
    item.evidence =
      item.evidence === undefined ? anomaly.evidence.slice(-EVIDENCE_KEPT) : dedupe([...item.evidence.slice(0, half), ...anomaly.evidence.slice(-half)]);
  }
  if (anomaly.state === "resolved") {
    if (item.resolved_at !== undefined) flag(item, "resolved twice");
    item.resolved_at = anomaly.detected_at ?? anomaly.ts;
    item.resolution = anomaly.resolution ?? "cleared";
  }
}

function dedupe<T>(items: T[]): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = JSON.stringify(item);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function applyPlan(item: RagCase, plan: Plan, first: boolean): void {
  if (first) {
    flag(item, "plan seen before any state of its incident");
    item.kind = plan.kind;
    if (plan.target) item.target = plan.target;
    item.node = plan.node;
  }
  if (item.plans.some((known) => known.plan_id === plan.plan_id)) return;
  const entry: CasePlan = {
    plan_id: plan.plan_id,
    rule: plan.rule,
    alternative: alternativeOf(plan),
    actions: plan.actions.map((action) => action.type),
    created_at: plan.created_at,
  };
  item.plans = [...item.plans, entry].slice(-PLANS_KEPT);
}

function applyResult(item: RagCase, result: ActionResult): void {
  if (!item.plans.some((plan) => plan.plan_id === result.plan_id)) flag(item, `result for plan ${result.plan_id} that was not seen`);
  const entry: CaseResult = {
    plan_id: result.plan_id,
    status: result.status,
    finished_at: result.finished_at,
    ...(result.applied_at !== undefined ? { applied_at: result.applied_at } : {}),
    ...(result.verified_at !== undefined ? { verified_at: result.verified_at } : {}),
    ...(result.detail !== undefined ? { detail: result.detail.slice(0, 1024) } : {}),
  };
  // A result repeated (a redelivered or re-sent one) replaces the earlier one of the same plan and status.
  item.results = [...item.results.filter((known) => !(known.plan_id === entry.plan_id && known.status === entry.status)), entry].slice(-PLANS_KEPT);
}
