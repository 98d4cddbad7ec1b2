import { describe, expect, test } from "bun:test";
import { anomalyFixture } from "@x0/shared/testing";
import { Registry } from "prom-client";
import { createAnalyzerMetrics } from "./metrics.ts";

/** The value of one sample line of the registry's text output, e.g. `x0_mttr_seconds_count{kind="link_down"}`. */
async function value(registry: Registry, series: string): Promise<number | undefined> {
  const line = (await registry.metrics()).split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("metrics", () => {
  test("metrics - an opened state is counted with its time to detect, from its onset to now", async () => {
    const registry = new Registry();
    const metrics = createAnalyzerMetrics(registry, () => 0);
    metrics.published(anomalyFixture({ onset_at: 1000 }), 1200);
    expect(await value(registry, 'x0_anomalies_total{kind="link_down",state="opened"}')).toBe(1);
    expect(await value(registry, 'x0_mttd_seconds_sum{kind="link_down"}')).toBeCloseTo(0.2, 6);
    expect(await value(registry, 'x0_mttd_seconds_bucket{le="0.25",kind="link_down"}')).toBe(1);
  });

  test("metrics - a cleared incident counts its time to repair; a merged one does not (it lives on in another)", async () => {
    const registry = new Registry();
    const metrics = createAnalyzerMetrics(registry, () => 0);
    metrics.published(anomalyFixture({ state: "resolved", update: 2, opened_at: 1000, detected_at: 4000, resolution: "cleared" }), 5000);
    metrics.published(anomalyFixture({ state: "resolved", update: 1, opened_at: 1000, detected_at: 2000, resolution: "merged" }), 5000);
    expect(await value(registry, 'x0_anomalies_total{kind="link_down",state="resolved"}')).toBe(2);
    expect(await value(registry, 'x0_mttr_seconds_count{kind="link_down"}')).toBe(1);
    expect(await value(registry, 'x0_mttr_seconds_sum{kind="link_down"}')).toBe(3);
  });

  test("metrics - the open incidents gauge reads the analyzer at each scrape", async () => {
    const registry = new Registry();
    let open = 2;
    createAnalyzerMetrics(registry, () => open);
    expect(await value(registry, "x0_analyzer_open_incidents")).toBe(2);
    open = 0;
    expect(await value(registry, "x0_analyzer_open_incidents")).toBe(0);
  });
});
