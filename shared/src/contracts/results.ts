// The one builder of `x0.action` results (ActionResult): its defaults and the limits of its detail fields live here.
import type { ActionResult, Plan } from "./schemas.ts";

/** The longest detail a result, a step or a verification entry carries. */
const DETAIL_MAX = 1024;
/** The most verification entries a result carries. */
const VERIFICATION_MAX = 64;

/** `text` cut to `max` characters, the cut marked with an ellipsis (a result's detail fields take at most 1024). */
export function clipDetail(text: string, max = DETAIL_MAX): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** What a result says beyond the plan it answers; the optional fields take the defaults named here. */
export interface ActionResultFields {
  status: ActionResult["status"];
  /** Whether nothing was run because the executor is in dry-run; default false. */
  dry_run?: boolean;
  /** One entry per plan step (each detail clipped); default none. */
  steps?: ActionResult["steps"];
  started_at: number;
  /** Default: now. */
  finished_at?: number;
  applied_at?: number;
  verified_at?: number;
  /** The first 64 entries are kept. */
  verification?: ActionResult["verification"];
  /** Clipped; an empty detail is left out. */
  detail?: string;
  /** Each node's part of a coordinated plan (details clipped); default none. */
  participants?: ActionResult["participants"];
  /** Default: a new UUID. */
  result_id?: string;
}

/**
 * The result of `plan` (its ids and node) with `fields`, ready to sign.
 * @example actionResult(plan, { status: "verified", started_at: t0, verified_at: t1 })
 */
export function actionResult(plan: Pick<Plan, "plan_id" | "incident_id" | "node">, fields: ActionResultFields): ActionResult {
  const { status, dry_run = false, steps = [], started_at, finished_at = Date.now(), applied_at, verified_at, verification, detail, participants } = fields;
  return {
    v: 1,
    result_id: fields.result_id ?? crypto.randomUUID(),
    plan_id: plan.plan_id,
    incident_id: plan.incident_id,
    node: plan.node,
    status,
    dry_run,
    steps: steps.map((step) => ({ ...step, detail: clipDetail(step.detail) })),
    started_at,
    finished_at,
    ...(applied_at !== undefined ? { applied_at } : {}),
    ...(verified_at !== undefined ? { verified_at } : {}),
    ...(verification ? { verification: verification.slice(0, VERIFICATION_MAX) } : {}),
    ...(detail ? { detail: clipDetail(detail) } : {}),
    ...(participants ? { participants: participants.map((participant) => ({ ...participant, detail: clipDetail(participant.detail) })) } : {}),
  };
}
