// Cross-service test helpers: test clients, a fake sysfs, the loop services as processes and incident telemetry.
// The loop's messages are recorded with recordEvents from @x0/shared/testing.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Telemetry } from "@x0/shared";
import { type SecureNats, type ServiceProcess, startSecureNats, startServiceProcess } from "@x0/shared/testing";

/** Connects a test client: with `tls` (an admin identity of the test's CA) to a server that requires mTLS. */
export function testClient(url: string, tls?: { caFile: string; certFile: string; keyFile: string }): Promise<NatsConnection> {
  return connect({ servers: url, name: "test", maxReconnectAttempts: -1, reconnectTimeWait: 100, ...(tls ? { tls } : {}) });
}

const COUNTERS = ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "rx_errors", "tx_errors", "rx_dropped", "tx_dropped"];

/** A fake /sys/class/net with one interface `mesh0` whose counters the test moves (for the monitor's sysfs source). */
export function fakeSysfs(): { root: string; set(counter: string, value: number): void; setOperstate(state: "up" | "down"): void; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), "x0-sysfs-"));
  mkdirSync(join(root, "mesh0", "statistics"), { recursive: true });
  writeFileSync(join(root, "mesh0", "operstate"), "up\n");
  for (const counter of COUNTERS) writeFileSync(join(root, "mesh0", "statistics", counter), "0\n");
  return {
    root,
    set: (counter, value) => writeFileSync(join(root, "mesh0", "statistics", counter), `${value}\n`),
    setOperstate: (state) => writeFileSync(join(root, "mesh0", "operstate"), `${state}\n`),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/**
 * Starts the four loop services as processes for a cross-service test: the monitor on `sysfsRoot` at 50 ms without
 * eBPF, an analyzer with a short warm-up and no silence detection, and waits until all are ready.
 */
export async function startLoopServices(env: Record<string, string>, sysfsRoot: string): Promise<ServiceProcess[]> {
  const services = [
    startServiceProcess("monitor", { ...env, X0_MONITOR_INTERVAL_MS: "50", X0_MONITOR_SYSFS_NET: sysfsRoot, X0_MONITOR_EBPF: "off" }),
    startServiceProcess("analyzer", { ...env, X0_ANALYZER_WARMUP_SAMPLES: "5", X0_ANALYZER_SILENCE_INTERVALS: "1000" }),
    startServiceProcess("planner", env),
    startServiceProcess("executor", env),
  ];
  try {
    await Promise.all(services.map((service) => service.waitReady()));
  } catch (error) {
    await Promise.all(services.map((service) => service.stop()));
    throw error;
  }
  return services;
}

/** The loop behind mTLS: nats-server with the permission matrix, its services, and an admin client. */
export interface SecureLoop {
  secure: SecureNats;
  services: ServiceProcess[];
  nc: NatsConnection;
  stop(): Promise<void>;
}

/**
 * Starts a secure nats-server for `node` and the analyzer, planner and executor (every node's plans) as processes on it,
 * each with its own identity (`env` on top, `analyzer` for the analyzer only), and connects an admin test client.
 */
export async function startSecureLoop(
  node: string,
  { env = {}, analyzer = {} }: { env?: Record<string, string>; analyzer?: Record<string, string> } = {},
): Promise<SecureLoop> {
  const secure = await startSecureNats({ nodes: [node] });
  const common = { ...secure.serviceEnv, X0_LOG_LEVEL: "warn", X0_NODE: node, ...env };
  const services = [
    startServiceProcess("analyzer", { ...common, ...analyzer }),
    startServiceProcess("planner", common),
    startServiceProcess("executor", { ...common, X0_EXECUTOR_SCOPE: "all" }),
  ];
  const stopServices = async () => {
    await Promise.all(services.map((service) => service.stop()));
    await secure.dispose();
  };
  try {
    await Promise.all(services.map((service) => service.waitReady()));
  } catch (error) {
    await stopServices();
    throw error;
  }
  const nc = await testClient(secure.nats.url, secure.adminTls);
  return {
    secure,
    services,
    nc,
    stop: async () => {
      await nc.close();
      await stopServices();
    },
  };
}

const ZERO_COUNTERS = { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 };

/** Sample `seq` of one node whose interface `mesh0` is up for `warmup + 1` samples and down from then on. */
export function incidentSample(node: string, start: number, warmup: number, seq: number): Telemetry {
  return {
    v: 1,
    node,
    ts: start + seq * 1000,
    seq,
    interval_ms: 1000,
    source: "sysfs",
    ebpf: false,
    interfaces: [{ name: "mesh0", operstate: seq > warmup ? "down" : "up", counters: ZERO_COUNTERS }],
  };
}

/** `warmup + 1` samples of one node's interface `mesh0` up, then one with it down: exactly one link_down incident. */
export function incidentSamples(node: string, start: number, warmup: number): Telemetry[] {
  return Array.from({ length: warmup + 2 }, (_, seq) => incidentSample(node, start, warmup, seq));
}
