// Monitor (M of MAPE-K): samples this node's interfaces and publishes telemetry.
import { Buckets, commaListSchema, contracts, openBucket, runService, type Telemetry } from "@x0/shared";
import { Counter } from "prom-client";
import { z } from "zod";
import pkg from "../package.json" with { type: "json" };
import { readInterfaces } from "./sysfs/counters.ts";

await runService({
  name: "monitor",
  version: pkg.version,
  httpPort: 9101,
  config: {
    /** Sampling interval in milliseconds. */
    X0_MONITOR_INTERVAL_MS: z.coerce.number().int().min(10).max(3_600_000).default(1000),
    /** Comma-separated interfaces to watch; empty = every interface but lo. */
    X0_MONITOR_INTERFACES: commaListSchema.default([]),
    /** Where interface counters are read from. */
    X0_MONITOR_SYSFS_NET: z.string().min(1).default("/sys/class/net"),
  },
  async start({ config, bus, nc, logger, metrics, counters, onStop }) {
    const node = config.X0_NODE;
    const topology = await openBucket(nc, Buckets.topology);
    const samplesTotal = new Counter({
      name: "x0_monitor_samples_total",
      help: "Telemetry samples published.",
      registers: [metrics.registry],
    });
    const sampleErrors = new Counter({
      name: "x0_monitor_sample_errors_total",
      help: "Sampling rounds that failed to read interface counters.",
      registers: [metrics.registry],
    });
    counters.telemetry_published = 0;
    let seq = 0;
    let knownInterfaces = "";

    const sample = () => {
      let interfaces: Telemetry["interfaces"];
      try {
        interfaces = readInterfaces(config.X0_MONITOR_SYSFS_NET, config.X0_MONITOR_INTERFACES);
      } catch (error) {
        sampleErrors.inc();
        logger.error("sampling failed", { error });
        return;
      }
      const telemetry: Telemetry = {
        v: 1,
        node,
        ts: Date.now(),
        seq: seq++,
        interval_ms: config.X0_MONITOR_INTERVAL_MS,
        source: "sysfs",
        ebpf: false,
        interfaces,
      };
      bus.publish(contracts.telemetry, node, telemetry);
      samplesTotal.inc();
      counters.telemetry_published = (counters.telemetry_published ?? 0) + 1;
      // The node's interface list is knowledge the planner uses; write it when it changes.
      const names = interfaces.map((iface) => iface.name).join(",");
      if (names !== knownInterfaces) {
        knownInterfaces = names;
        topology
          .put(
            `node.${node}`,
            JSON.stringify({ node, interfaces: interfaces.map(({ name, operstate }) => ({ name, operstate })), ebpf: false, updated_at: Date.now() }),
          )
          .catch((error) => {
            knownInterfaces = "";
            logger.warn("cannot update topology", { error });
          });
      }
    };
    sample();
    const timer = setInterval(sample, config.X0_MONITOR_INTERVAL_MS);
    onStop(() => clearInterval(timer));
  },
});
