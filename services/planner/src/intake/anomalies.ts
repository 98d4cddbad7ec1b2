// Incident states from the durable consumer into the planner, each once: a redelivery after a lost ack is skipped.
import type { Context } from "@opentelemetry/api";
import type { Anomaly, Delivery } from "@x0/shared";
import type { PlannerMetrics } from "../metrics.ts";

/** How many processed incident states are remembered to skip their redeliveries. */
const PROCESSED_MEMORY = 100_000;

/** What the intake hands states to and counts them in. */
export interface AnomalyIntakeOptions {
  planner: { handleAnomaly(anomaly: Anomaly, parent?: Context): Promise<unknown> };
  metrics: Pick<PlannerMetrics, "anomaliesProcessed" | "duplicatesSkipped">;
  /** /status loop counters (`anomalies_processed`). */
  counters: Record<string, number>;
  /** How many processed states are remembered. */
  memory?: number;
}

/**
 * The handler of `x0.anomaly.*`: each state (`<incident_id>:<update>`) is planned once per process; across restarts the
 * plan's message id (and the plan id derived from it) makes JetStream store a re-published plan once.
 */
export function anomalyIntake({ planner, metrics, counters, memory = PROCESSED_MEMORY }: AnomalyIntakeOptions) {
  const processed = new Set<string>();
  counters.anomalies_processed = 0;
  return async function intake(anomaly: Anomaly, delivery: Pick<Delivery, "trace">): Promise<void> {
    const key = `${anomaly.incident_id}:${anomaly.update}`;
    if (processed.has(key)) {
      metrics.duplicatesSkipped.inc();
      return;
    }
    await planner.handleAnomaly(anomaly, delivery.trace);
    processed.add(key);
    if (processed.size > memory) processed.delete(processed.values().next().value as string);
    metrics.anomaliesProcessed.inc({ kind: anomaly.kind, state: anomaly.state });
    counters.anomalies_processed = (counters.anomalies_processed ?? 0) + 1;
  };
}
