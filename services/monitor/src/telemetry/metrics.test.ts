import { describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { createMonitorMetrics, LabelCap } from "./metrics.ts";

describe("metrics", () => {
  test("metrics - the label cap keeps the first values and maps the rest to other", () => {
    const cap = new LabelCap(2);
    expect(["a", "b", "c", "a", "d"].map((v) => cap.value(v))).toEqual(["a", "b", "other", "a", "other"]);
  });

  test("metrics - neighbour series stay bounded however many neighbours appear", async () => {
    const registry = new Registry();
    const metrics = createMonitorMetrics(registry, { maxNeighbourLabels: 3 });
    for (let i = 0; i < 50; i++) metrics.neighbourPackets.inc({ interface: "mesh0", neighbour: metrics.neighbourLabels.value(`n${i}`) }, 1);
    const values = (await metrics.neighbourPackets.get()).values;
    expect(values).toHaveLength(4);
    expect(values.find((v) => v.labels.neighbour === "other")?.value).toBe(47);
  });
});
