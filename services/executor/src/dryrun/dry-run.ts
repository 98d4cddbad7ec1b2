import type { ActionResult, Plan } from "@x0/shared";

/**
 * The honest result of a plan in dry-run: every step `would_apply` and the plan `dry_run`,
 * never `success`, since nothing was changed. A plan that needs approval is not run at all.
 */
export function dryRun(plan: Plan, { now = Date.now(), resultId = crypto.randomUUID() } = {}): ActionResult {
  const awaiting = plan.approval === "manual";
  return {
    v: 1,
    result_id: resultId,
    plan_id: plan.plan_id,
    incident_id: plan.incident_id,
    node: plan.node,
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
  };
}
