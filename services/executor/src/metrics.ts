// Every Prometheus metric of the executor, registered once on the service's registry, and the /status counters beside them.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { ExecutorMode } from "./run/handle-plan.ts";
import type { RunnerMetrics } from "./run/runner.ts";

/** The executor's metrics on `registry`. */
export function createMetrics(registry: Registry) {
  const registers = [registry];
  return {
    rejections: new Counter({
      name: "x0_plan_rejections_total",
      help: "Plans rejected by signature verification (and sent to the dead-letter subject), by reason.",
      labelNames: ["reason"],
      registers,
    }),
    results: new Counter({ name: "x0_actions_total", help: "Plan results published, by status.", labelNames: ["status"], registers }),
    stepSeconds: new Histogram({
      name: "x0_executor_step_duration_seconds",
      help: "Duration of one actuator call (a batch of steps counts once), by actuator and phase (apply, verify, rollback).",
      labelNames: ["actuator", "phase"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    verificationSeconds: new Histogram({
      name: "x0_executor_verification_duration_seconds",
      help: "Time from a plan's last applied step to the verdict of its verification, by outcome (ok, failed).",
      labelNames: ["outcome"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    rollbacks: new Counter({
      name: "x0_executor_rollbacks_total",
      help: "Plans rolled back, by outcome (ok: every step undone; failed: some could not be).",
      labelNames: ["outcome"],
      registers,
    }),
    takeovers: new Counter({
      name: "x0_executor_lease_takeovers_total",
      help: "Plans taken over from an executor instance whose lease expired.",
      registers,
    }),
    mode: new Gauge({ name: "x0_executor_mode", help: "The executor's mode (1 for the one in use).", labelNames: ["mode"], registers }),
  };
}

/** The executor's metrics. */
export type ExecutorMetrics = ReturnType<typeof createMetrics>;

/** What the executor counts, in its metrics and in the /status loop counters alike. */
export interface ExecutorCounts {
  /** A plan dead-lettered, by reason. */
  rejected(reason: string): void;
  /** A result published, by status. */
  published(status: string): void;
  /** A plan taken over from an instance whose lease expired. */
  tookOver(): void;
  /** What the plan runner reports. */
  runner: RunnerMetrics;
}

/** Counts into `metrics` and `counters` (/status: plans_rejected, actions, rollbacks, takeovers); sets the mode gauge. */
export function executorCounts(metrics: ExecutorMetrics, counters: Record<string, number>, mode: ExecutorMode): ExecutorCounts {
  metrics.mode.set({ mode }, 1);
  for (const name of ["plans_rejected", "actions", "rollbacks", "takeovers"]) counters[name] = 0;
  const bump = (name: string) => {
    counters[name] = (counters[name] ?? 0) + 1;
  };
  return {
    rejected: (reason) => {
      metrics.rejections.inc({ reason });
      bump("plans_rejected");
    },
    published: (status) => {
      metrics.results.inc({ status });
      bump("actions");
    },
    tookOver: () => {
      metrics.takeovers.inc();
      bump("takeovers");
    },
    runner: {
      step: (actuator, phase, seconds) => metrics.stepSeconds.observe({ actuator, phase }, seconds),
      verification: (seconds, ok) => metrics.verificationSeconds.observe({ outcome: ok ? "ok" : "failed" }, seconds),
      rollback: (outcome) => {
        metrics.rollbacks.inc({ outcome });
        bump("rollbacks");
      },
    },
  };
}
