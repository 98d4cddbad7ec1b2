import { describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { createMetrics, executorCounts } from "./metrics.ts";

describe("metrics", () => {
  test("metrics - what the executor counts reaches its Prometheus series and the /status counters alike", async () => {
    const registry = new Registry();
    const counters: Record<string, number> = {};
    const counts = executorCounts(createMetrics(registry), counters, "enforce");
    expect(counters).toEqual({ plans_rejected: 0, actions: 0, rollbacks: 0, takeovers: 0 });
    counts.rejected("bad_signature");
    counts.published("verified");
    counts.published("verified");
    counts.tookOver();
    counts.runner.rollback("ok");
    counts.runner.step("batman_interface", "apply", 0.002);
    counts.runner.verification(0.3, false);
    expect(counters).toEqual({ plans_rejected: 1, actions: 2, rollbacks: 1, takeovers: 1 });
    const text = await registry.metrics();
    for (const line of [
      'x0_plan_rejections_total{reason="bad_signature"} 1',
      'x0_actions_total{status="verified"} 2',
      "x0_executor_lease_takeovers_total 1",
      'x0_executor_rollbacks_total{outcome="ok"} 1',
      'x0_executor_step_duration_seconds_count{actuator="batman_interface",phase="apply"} 1',
      'x0_executor_verification_duration_seconds_count{outcome="failed"} 1',
      'x0_executor_mode{mode="enforce"} 1',
    ])
      expect(text).toContain(line);
  });
});
