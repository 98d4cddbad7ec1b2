// Synthetic lab topologies for the planner's tests, addressed as `x0 lab` addresses them (docs/self-healing.md).
import { type ActionResult, type Anomaly, actionResult, type IncidentTarget, type OutcomeStats, type Plan } from "@x0/shared";
import { anomalyFixture } from "@x0/shared/testing";

export { announcementsOf, batmanIdentity, gridAnnouncements, withBatman } from "./topology/synthetic.ts";

/** The incident target of link a|b. */
export const linkTarget = (a: string, b: string): IncidentTarget => ({ type: "link", id: `link:${a}|${b}`, nodes: [a, b] });

/** An opened incident of `kind` about `target` (none: an incident without a target), raised by its first node. */
export function incident(kind: Anomaly["kind"], target: IncidentTarget | undefined, overrides: Partial<Anomaly> = {}): Anomaly {
  return anomalyFixture({ kind, node: target?.nodes[0] ?? "n1", ...(target ? { target } : {}), ...overrides });
}

/** The incident's next state. */
export function later(anomaly: Anomaly, state: "updated" | "resolved", overrides: Partial<Anomaly> = {}): Anomaly {
  return { ...anomaly, state, update: anomaly.update + 1, ...overrides };
}

/** The executor's result of `plan` with `status`, finished at `at`. */
export function result(plan: Plan, status: ActionResult["status"], at: number): ActionResult {
  return actionResult(plan, { status, started_at: at, finished_at: at, ...(status === "verified" ? { verified_at: at } : {}) });
}

/** Outcome stats of a link_degraded alternative: `verified` successes and `rolledBack` rollbacks. */
export function degradedStats(alternative: string, verified: number, rolledBack: number, ttrMs: number[] = [400]): OutcomeStats {
  return {
    v: 1,
    kind: "link_degraded",
    alternative,
    attempts: verified + rolledBack,
    verified,
    applied: 0,
    rolled_back: rolledBack,
    failed: 0,
    ttr_ms: ttrMs,
    updated_at: 1,
  };
}
