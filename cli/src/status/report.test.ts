import { describe, expect, test } from "bun:test";
import type { ServiceProbe, ServiceStatus } from "./probe.ts";
import { buildStatusReport, renderStatusReport } from "./report.ts";
import type { Target } from "./targets.ts";

function status(service: string, counters: Record<string, number>, connected = true): ServiceStatus {
  return { service, version: "0.1.0", node: "n1", instance: "n1-1", ready: true, nats: { connected, server: null }, started_at: "x", counters };
}
function probe(url: string, statusOf: ServiceStatus | undefined, ready = true): ServiceProbe {
  return { url, reachable: true, ready, status: statusOf, error: undefined };
}

const targets: Target[] = [
  { name: "analyzer", url: "http://127.0.0.1:9102", found_by: "stack" },
  { name: "planner", url: "http://127.0.0.1:9103", found_by: "stack" },
  { name: "executor", url: "http://127.0.0.1:9104", found_by: "stack" },
  { name: "monitor", url: "http://127.0.0.1:9101", found_by: "stack" },
];
const probes: ServiceProbe[] = [
  probe(targets[0]?.url ?? "", status("analyzer", { anomalies: 3, telemetry_samples: 90, dlq: 1 })),
  probe(targets[1]?.url ?? "", status("planner", { plans: 2, anomalies_processed: 3, dlq: 0 }), false),
  probe(targets[2]?.url ?? "", status("executor", { actions: 2, dlq: 0 })),
  { url: targets[3]?.url ?? "", reachable: false, ready: false, status: undefined, error: "connection refused" },
];

describe("status report", () => {
  test("status report - one entry per service with its state and every counter it reports", () => {
    const report = buildStatusReport(targets, probes);
    expect(report.services.map((service) => [service.name, service.state])).toEqual([
      ["analyzer", "ready"],
      ["planner", "not ready"],
      ["executor", "ready"],
      ["monitor", "down"],
    ]);
    expect(report.services[0]?.counters).toEqual({ anomalies: 3, telemetry_samples: 90, dlq: 1 });
    expect(report.services[3]).toMatchObject({ version: null, node: null, nats_connected: null, counters: {}, error: "connection refused" });
  });

  test("status report - totals the loop counters over the services", () => {
    expect(buildStatusReport(targets, probes).totals).toEqual({ anomalies: 3, plans: 2, actions: 2, dlq: 1 });
  });

  test("status report - ready only when every service is ready (and there is one)", () => {
    expect(buildStatusReport(targets, probes).all_ready).toBe(false);
    expect(buildStatusReport(targets.slice(0, 1), probes.slice(0, 1)).all_ready).toBe(true);
    expect(buildStatusReport([], []).all_ready).toBe(false);
  });

  test("status report - a service named only by URL takes the name it reports", () => {
    const report = buildStatusReport([{ name: undefined, url: "http://h:1", found_by: "url" }], [probe("http://h:1", status("rag", {}))]);
    expect(report.services[0]?.name).toBe("rag");
  });

  test("status report - renders the table, the loop totals and the problems", () => {
    expect(renderStatusReport(buildStatusReport(targets, probes)).split("\n")).toEqual([
      "SERVICE   READY  VERSION  NODE  NATS  ANOMALIES  PLANS  ACTIONS  DLQ",
      "analyzer  yes    0.1.0    n1    yes           3      -        -    1",
      "planner   no     0.1.0    n1    yes           -      2        -    0",
      "executor  yes    0.1.0    n1    yes           -      -        2    0",
      "monitor   down   -        -     -             -      -        -    -",
      "",
      "loop totals: anomalies 3, plans 2, actions 2, dlq 1",
      "monitor (http://127.0.0.1:9101): connection refused",
    ]);
  });

  test("status report - says so when there is nothing to ask", () => {
    expect(renderStatusReport(buildStatusReport([], []))).toContain("no services");
  });
});
