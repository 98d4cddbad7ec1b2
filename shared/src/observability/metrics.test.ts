import { describe, expect, test } from "bun:test";
import { createServiceMetrics, METRIC_PREFIX, metricsCatalogue } from "./metrics.ts";

describe("metrics", () => {
  test("metrics - default process and runtime metrics keep their standard names, without x0_", async () => {
    const names = (await metricsCatalogue(createServiceMetrics("t").registry)).map((entry) => entry.name);
    for (const standard of ["process_cpu_user_seconds_total", "process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds"]) {
      expect(names).toContain(standard);
    }
    const defaults = names.filter((name) => name.startsWith("process_") || name.startsWith("nodejs_"));
    expect(defaults.length).toBeGreaterThan(10);
    expect(names.filter((name) => name.startsWith(`${METRIC_PREFIX}process_`) || name.startsWith(`${METRIC_PREFIX}nodejs_`))).toEqual([]);
  });

  test("metrics - every other metric is our own and carries x0_", async () => {
    const names = (await metricsCatalogue(createServiceMetrics("t").registry)).map((entry) => entry.name);
    const own = names.filter((name) => !name.startsWith("process_") && !name.startsWith("nodejs_"));
    expect(own).toContain("x0_ready");
    for (const name of own) expect(name).toStartWith(METRIC_PREFIX);
  });
});
