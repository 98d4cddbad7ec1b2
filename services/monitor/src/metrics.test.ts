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

  test("metrics - neighbour traffic reaches its counters at collection, exactly once", async () => {
    const registry = new Registry();
    const metrics = createMonitorMetrics(registry, { maxNeighbourLabels: 8 });
    const traffic = metrics.neighbourTraffic.get("mesh0", "aa:bb:cc:dd:ee:ff/10.0.0.2");
    expect(metrics.neighbourTraffic.get("mesh0", "aa:bb:cc:dd:ee:ff/10.0.0.2")).toBe(traffic);
    traffic.packets += 3;
    traffic.bytes += 300;
    const text = await registry.metrics();
    expect(text).toContain('x0_monitor_neighbour_packets_total{interface="mesh0",neighbour="aa:bb:cc:dd:ee:ff/10.0.0.2"} 3');
    expect(text).toContain('x0_monitor_neighbour_bytes_total{interface="mesh0",neighbour="aa:bb:cc:dd:ee:ff/10.0.0.2"} 300');
    traffic.packets += 2;
    expect((await metrics.neighbourPackets.get()).values[0]?.value).toBe(5);
    expect((await metrics.neighbourBytes.get()).values[0]?.value).toBe(300);
  });
});
