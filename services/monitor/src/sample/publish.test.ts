import { describe, expect, test } from "bun:test";
import { createLogger, type Telemetry } from "@x0/shared";
import { Registry } from "prom-client";
import { createMonitorMetrics } from "../metrics.ts";
import { telemetryRound } from "./publish.ts";

const telemetry: Telemetry = {
  v: 1,
  node: "n1",
  ts: 1000,
  seq: 0,
  interval_ms: 100,
  source: "ebpf",
  ebpf: true,
  ebpf_state: { available: true, missing: [], tracepoints: false },
  interfaces: [
    {
      name: "n1-n2",
      operstate: "up",
      counters: { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 },
    },
  ],
};

describe("telemetry round", () => {
  test("telemetry round - a sample is published, counted and handed on; a failed one is counted as an error and not published", async () => {
    const registry = new Registry();
    const metrics = createMonitorMetrics(registry, { maxNeighbourLabels: 4 });
    const published: Telemetry[] = [];
    const handedOn: Telemetry[] = [];
    const counters: Record<string, number> = {};
    const details: Record<string, unknown> = {};
    const logs: string[] = [];
    let fail = false;
    const round = telemetryRound({
      sampler: {
        sample: () => {
          if (fail) throw new Error("sysfs gone");
          return telemetry;
        },
      },
      publish: (t) => published.push(t),
      onPublished: (t) => handedOn.push(t),
      metrics,
      counters,
      details,
      logger: createLogger({ service: "monitor-test", node: "n1", write: (line) => logs.push(line) }),
    });
    expect(counters.telemetry_published).toBe(0);
    round();
    expect(published).toEqual([telemetry]);
    expect(handedOn).toEqual([telemetry]);
    expect(counters).toEqual({ telemetry_published: 1, ebpf: 1 });
    expect(details).toEqual({ ebpf: telemetry.ebpf_state, xdp: { "n1-n2": { mode: "off" } } });
    fail = true;
    round();
    expect(published).toHaveLength(1);
    expect(counters.telemetry_published).toBe(1);
    expect(logs.map((line) => JSON.parse(line).msg)).toEqual(["sampling failed"]);
    const text = await registry.metrics();
    expect(text).toContain("x0_monitor_samples_total 1");
    expect(text).toContain("x0_monitor_sample_errors_total 1");
    expect(text).toContain("x0_monitor_telemetry_publish_duration_seconds_count 1");
  });
});
