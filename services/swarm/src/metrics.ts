// Every Prometheus metric of the swarm, registered once on the service's registry.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The swarm's metrics on `registry`. */
export function createSwarmMetrics(registry: Registry) {
  const registers = [registry];
  const adapterVersion = new Gauge({
    name: "x0_swarm_adapter_version",
    help: "The site's adopted adapter version this instance last wrote (-1: none).",
    registers,
  });
  adapterVersion.set(-1);
  return {
    rounds: new Counter({
      name: "x0_swarm_rounds_total",
      help: "Rounds this instance closed as coordinator, by outcome (adopted, rejected: below the current model on the held-out set, unpublished: too few participants, failed, budget: not opened, the privacy budget is spent).",
      labelNames: ["outcome"],
      registers,
    }),
    roundDuration: new Histogram({
      name: "x0_swarm_round_duration_seconds",
      help: "From a round's announcement to its model version written (or to its close without one).",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    }),
    participants: new Gauge({ name: "x0_swarm_round_participants", help: "Accepted updates in the last round this instance closed.", registers }),
    updates: new Counter({
      name: "x0_swarm_updates_total",
      help: "Updates the coordinator received, by outcome (accepted, or refused: round, signature, identity, check) and dead-lettered when refused.",
      labelNames: ["outcome"],
      registers,
    }),
    versions: new Counter({
      name: "x0_swarm_model_versions_total",
      help: "Model versions written by this instance, by status (adopted, rejected).",
      labelNames: ["status"],
      registers,
    }),
    privacyEpsilon: new Gauge({
      name: "x0_swarm_privacy_epsilon",
      help: "ε spent by the differentially private rounds released so far (at X0_SWARM_DP_DELTA), as of the last version this instance wrote.",
      registers,
    }),
    currentVersion: new Gauge({ name: "x0_swarm_model_version", help: "The adopted model version this instance last saw.", registers }),
    validationF1: new Gauge({ name: "x0_swarm_model_macro_f1", help: "Held-out macro F1 of the adopted model this instance last saw.", registers }),
    agentRounds: new Counter({
      name: "x0_swarm_agent_rounds_total",
      help: "Round announcements this node's agent handled, by outcome (submitted, skipped, refused, failed).",
      labelNames: ["outcome"],
      registers,
    }),
    trainDuration: new Histogram({
      name: "x0_swarm_agent_train_duration_seconds",
      help: "Local training of one round on this node's own samples.",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    adapterRounds: new Counter({
      name: "x0_swarm_adapter_rounds_total",
      help: "Site adapter rounds this instance closed as its site's coordinator, by outcome (adopted, rejected, unpublished, failed, no_base: no model adopted yet).",
      labelNames: ["outcome"],
      registers,
    }),
    adapterUpdates: new Counter({
      name: "x0_swarm_adapter_updates_total",
      help: "Site members' adapter updates the site coordinator received, by outcome (accepted, or refused: round, signature, identity, check).",
      labelNames: ["outcome"],
      registers,
    }),
    adapterVersion,
    adapterF1: new Gauge({
      name: "x0_swarm_adapter_macro_f1",
      help: "Macro F1 on the site's held-out set, by model (base: the base alone, adapted: base + the adopted adapter), as last judged here.",
      labelNames: ["model"],
      registers,
    }),
    adapterAgentRounds: new Counter({
      name: "x0_swarm_adapter_agent_rounds_total",
      help: "Adapter round announcements this node handled as a site member, by outcome (submitted, skipped, refused, failed).",
      labelNames: ["outcome"],
      registers,
    }),
  };
}

/** The swarm's metrics. */
export type SwarmMetrics = ReturnType<typeof createSwarmMetrics>;
