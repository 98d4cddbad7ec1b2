// Test helpers of the plan path: a plan of given steps, as the planner would sign and publish it.
import type { Plan, PlannedAction } from "@x0/shared";

/** An auto plan of node n1 with `actions` and fresh ids; `extra` overrides any field. */
export function planOf(actions: PlannedAction[], extra: Partial<Plan> = {}): Plan {
  return {
    v: 1,
    plan_id: crypto.randomUUID(),
    incident_id: crypto.randomUUID(),
    node: "n1",
    kind: "link_down",
    rule: "r",
    approval: "auto",
    actions,
    created_at: Date.now(),
    ...extra,
  };
}
