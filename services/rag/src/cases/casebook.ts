// Cases assembled from X0_EVENTS: one per incident, from its states, plans and results, in stream order.
// A case is ready to index when its incident resolves, and again whenever a later event changes it.
import type { ActionResult, Anomaly, CaseOutcome, CasePlan, CaseResult, Plan, RagCase } from "@x0/shared";

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

/** Every case by incident id, built up event by event; indexed ones are marked. */
export class CaseBook {
  readonly #cases = new Map<string, RagCase>();
  readonly #indexed = new Set<string>();

  /** Cases restored from disk, with the ids of those already in the index. */
  constructor(cases: Iterable<RagCase> = [], indexed: Iterable<string> = []) {
    for (const item of cases) this.#cases.set(item.incident_id, item);
    for (const id of indexed) if (this.#cases.has(id)) this.#indexed.add(id);
  }

  get size(): number {
    return this.#cases.size;
  }

  /** The case of an incident. */
  get(incidentId: string): RagCase | undefined {
    return this.#cases.get(incidentId);
  }

  /** Whether the case is in the index. */
  isIndexed(incidentId: string): boolean {
    return this.#indexed.has(incidentId);
  }

  /** Marks a case as indexed. */
  markIndexed(incidentId: string): void {
    this.#indexed.add(incidentId);
  }

  /** Every case, indexed or open. */
  all(): IterableIterator<RagCase> {
    return this.#cases.values();
  }

  /** Ids of the indexed cases. */
  indexedIds(): string[] {
    return [...this.#indexed];
  }

  /** Folds one event into its incident's case; undefined for a result of an incident never seen (it has no kind to file it by). */
  apply(event: CaseEvent): Applied | undefined {
    const incidentId = event.message.incident_id;
    const existing = this.#cases.get(incidentId);
    if (!existing && event.type === "result") return undefined;
    const next = existing ?? emptyCase(incidentId, event as Exclude<CaseEvent, { type: "result" }>);
    if (event.type === "anomaly") applyAnomaly(next, event.message, existing === undefined);
    else if (event.type === "plan") applyPlan(next, event.message, existing === undefined);
    else applyResult(next, event.message);
    next.last_seq = Math.max(next.last_seq, event.seq);
    Object.assign(next, outcomeOf(next.plans, next.results, next.onset_at ?? next.opened_at));
    this.#cases.set(incidentId, next);
    return { case: next, index: next.resolved_at !== undefined || this.#indexed.has(incidentId) };
  }

  /** Open cases whose latest event is older than `before`: indexed as they are, flagged, so none waits forever. */
  stale(before: number): RagCase[] {
    const stale: RagCase[] = [];
    for (const item of this.#cases.values()) {
      if (this.#indexed.has(item.incident_id) || item.resolved_at !== undefined) continue;
      if (latestTimeOf(item) >= before) continue;
      flag(item, "never resolved: indexed as it stood when its events stopped");
      stale.push(item);
    }
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

function latestTimeOf(item: RagCase): number {
  const times = [item.opened_at ?? 0, item.detected_at ?? 0, ...item.plans.map((p) => p.created_at), ...item.results.map((r) => r.finished_at)];
  return Math.max(...times);
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
