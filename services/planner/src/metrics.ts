// Every Prometheus metric of the planner, registered once on the service's registry.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The planner's metrics on `registry`. */
export function createMetrics(registry: Registry) {
  const registers = [registry];
  return {
    plans: new Counter({ name: "x0_plans_total", help: "Plans published, by rule, kind and approval.", labelNames: ["rule", "kind", "approval"], registers }),
    ragFallbacks: new Counter({
      name: "x0_planner_rag_fallbacks_total",
      help: "Rankings made without the rag's similar cases, by reason (timeout, no_responders, error).",
      labelNames: ["reason"],
      registers,
    }),
    routeChanges: new Counter({ name: "x0_planner_route_changes_total", help: "Route replacements planned (route_replace steps).", registers }),
    holdDowns: new Gauge({ name: "x0_planner_hold_downs", help: "Links held out of routing for flapping.", registers }),
    singlePoints: new Gauge({
      name: "x0_topology_single_points_of_failure",
      help: "Single points of failure of the mesh on the links usable now, by kind (bridge: a link, articulation_point: a node, cut_off_node: a node one of them would cut off).",
      labelNames: ["kind"],
      registers,
    }),
    edgeConnectivity: new Gauge({
      name: "x0_topology_edge_connectivity",
      help: "The fewest link-disjoint paths between two nodes of the mesh (1: some pair hangs on one link).",
      registers,
    }),
    components: new Gauge({
      name: "x0_topology_components",
      help: "Connected parts of the mesh on the links usable now (more than 1: it is split).",
      registers,
    }),
    budgetExhausted: new Counter({
      name: "x0_planner_budget_exhausted_total",
      help: "Plans not made because the action budget per minute was spent.",
      registers,
    }),
    deferred: new Counter({ name: "x0_planner_cooldown_deferred_total", help: "Plans held back until their target's cooldown ended.", registers }),
    retries: new Counter({
      name: "x0_planner_repair_retries_total",
      help: "Repairs planned again because their plan failed without changing anything.",
      registers,
    }),
    planning: new Histogram({
      name: "x0_planner_planning_duration_seconds",
      help: "Time to plan routes: graph, route tables, diff and verify checks.",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers,
    }),
    outcomes: new Counter({
      name: "x0_planner_outcomes_total",
      help: "Plan results counted in the outcome stats, by kind, alternative and outcome (none: nothing was tried).",
      labelNames: ["kind", "alternative", "outcome"],
      registers,
    }),
    anomaliesProcessed: new Counter({
      name: "x0_planner_anomalies_processed_total",
      help: "Incident states processed (each once), by kind and state.",
      labelNames: ["kind", "state"],
      registers,
    }),
    duplicatesSkipped: new Counter({
      name: "x0_planner_duplicates_skipped_total",
      help: "Redelivered incident states skipped because they were already processed.",
      registers,
    }),
  };
}

/** The planner's metrics. */
export type PlannerMetrics = ReturnType<typeof createMetrics>;
