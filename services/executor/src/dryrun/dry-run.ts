// The results of plans that are not run: dry-run (`would_apply`), detect-only (`skipped`) and manual approval (`awaiting_approval`).
import { type ActionResult, actionResult, type Plan } from "@x0/shared";

/**
 * The honest result of a plan in dry-run: every step `would_apply` and the plan `dry_run`,
 * never `success`, since nothing was changed. A plan that needs approval is not run at all.
 */
export function dryRun(plan: Plan, { now = Date.now(), resultId = crypto.randomUUID() } = {}): ActionResult {
  const awaiting = plan.approval === "manual";
  return actionResult(plan, {
    result_id: resultId,
    status: awaiting ? "awaiting_approval" : "dry_run",
    dry_run: true,
    steps: plan.actions.map((action) => ({
      type: action.type,
      params: action.params,
      status: awaiting ? "skipped" : "would_apply",
      detail: awaiting ? "plan needs manual approval; nothing done" : `dry-run: would ${action.type} (${action.reason})`,
    })),
    started_at: now,
    finished_at: now,
  });
}

/** The result of a plan in detect-only mode: acknowledged, every step `skipped`, nothing changed (manual plans still say awaiting_approval). */
export function detectOnly(plan: Plan, { now = Date.now(), resultId = crypto.randomUUID() } = {}): ActionResult {
  if (plan.approval === "manual") return dryRun(plan, { now, resultId });
  return actionResult(plan, {
    result_id: resultId,
    status: "skipped",
    steps: plan.actions.map((action) => ({ type: action.type, params: action.params, status: "skipped", detail: `detect-only: not run (${action.reason})` })),
    started_at: now,
    finished_at: now,
    detail: "executor in detect-only mode (X0_EXECUTOR_MODE=detect-only): plan acknowledged, nothing changed",
  });
}
