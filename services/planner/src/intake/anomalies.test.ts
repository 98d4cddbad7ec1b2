import { describe, expect, test } from "bun:test";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import type { Anomaly } from "@x0/shared";
import { Registry } from "prom-client";
import { createMetrics } from "../metrics.ts";
import { incident, later, linkTarget } from "../testing.ts";
import { anomalyIntake } from "./anomalies.ts";

function setup(memory?: number) {
  const handled: Anomaly[] = [];
  const registry = new Registry();
  const counters: Record<string, number> = {};
  const planner = {
    handleAnomaly: async (anomaly: Anomaly) => {
      handled.push(anomaly);
    },
  };
  const intake = anomalyIntake({ planner, metrics: createMetrics(registry), counters, ...(memory ? { memory } : {}) });
  return { intake: (anomaly: Anomaly) => intake(anomaly, { trace: ROOT_CONTEXT }), handled, registry, counters };
}

describe("anomaly intake", () => {
  test("anomaly intake - each incident state is planned once; a redelivery is skipped and counted", async () => {
    const { intake, handled, registry, counters } = setup();
    expect(counters.anomalies_processed).toBe(0);
    const down = incident("link_down", linkTarget("n1", "n2"));
    await intake(down);
    await intake(down);
    await intake(later(down, "resolved"));
    expect(handled.map((anomaly) => anomaly.state)).toEqual(["opened", "resolved"]);
    expect(counters.anomalies_processed).toBe(2);
    expect(await registry.getSingleMetricAsString("x0_planner_duplicates_skipped_total")).toContain("x0_planner_duplicates_skipped_total 1");
    expect(await registry.getSingleMetricAsString("x0_planner_anomalies_processed_total")).toContain('kind="link_down",state="opened"} 1');
  });

  test("anomaly intake - a state whose planning failed is not remembered, so its redelivery is planned", async () => {
    const { handled, counters } = setup();
    let fail = true;
    const intake = anomalyIntake({
      planner: {
        handleAnomaly: async (anomaly: Anomaly) => {
          if (fail) throw new Error("publish failed");
          handled.push(anomaly);
        },
      },
      metrics: createMetrics(new Registry()),
      counters,
    });
    const down = incident("link_down", linkTarget("n1", "n2"));
    await expect(intake(down, { trace: ROOT_CONTEXT })).rejects.toThrow("publish failed");
    fail = false;
    await intake(down, { trace: ROOT_CONTEXT });
    expect(handled).toHaveLength(1);
  });

  test("anomaly intake - only the newest states are remembered", async () => {
    const { intake, handled } = setup(2);
    const states = [1, 2, 3].map(() => incident("link_down", linkTarget("n1", "n2")));
    for (const state of states) await intake(state);
    await intake(states[0] as Anomaly);
    await intake(states[2] as Anomaly);
    expect(handled).toHaveLength(4);
  });
});
