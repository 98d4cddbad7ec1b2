// Metrics of governance, on the planner's registry.
import { Counter, Gauge, type Registry } from "prom-client";

/** Governance metrics on `registry`. */
export function createGovernanceMetrics(registry: Registry) {
  const registers = [registry];
  return {
    open: new Gauge({
      name: "x0_gov_proposals_open",
      help: "Proposals open (waiting for votes or their deadline), as the leading planner sees them.",
      registers,
    }),
    opened: new Counter({ name: "x0_gov_proposals_opened_total", help: "Proposals opened, by kind (plan, members, policy).", labelNames: ["kind"], registers }),
    closed: new Counter({
      name: "x0_gov_proposals_closed_total",
      help: "Proposals closed with a tally, by kind and result (passed, rejected).",
      labelNames: ["kind", "result"],
      registers,
    }),
    votes: new Counter({ name: "x0_gov_votes_total", help: "Votes received, by outcome (accepted, refused).", labelNames: ["outcome"], registers }),
  };
}
/** Governance metrics. */
export type GovernanceMetrics = ReturnType<typeof createGovernanceMetrics>;
