// One telemetry round, as the monitor runs it every interval: sample, publish, time and count it, then hand the sample on
// (to the node's announcement). A failed sample is counted and logged, and nothing is published.
import type { Logger, Telemetry } from "@x0/shared";
import type { MonitorMetrics } from "../metrics.ts";
import type { Sampler } from "./sampler.ts";

/** What a telemetry round uses. */
export interface TelemetryRoundOptions {
  sampler: Pick<Sampler, "sample">;
  publish: (telemetry: Telemetry) => void;
  /** Called with each published sample. */
  onPublished: (telemetry: Telemetry) => void;
  metrics: Pick<MonitorMetrics, "samples" | "sampleErrors" | "publishDuration">;
  /** /status counters: telemetry_published, ebpf. */
  counters: Record<string, number>;
  /** /status details: the eBPF state and each interface's XDP mode. */
  details: Record<string, unknown>;
  logger: Logger;
}

/** The round, to call every telemetry interval. */
export function telemetryRound({ sampler, publish, onPublished, metrics, counters, details, logger }: TelemetryRoundOptions): () => void {
  counters.telemetry_published = 0;
  return function publishSample() {
    const started = performance.now();
    let telemetry: Telemetry;
    try {
      telemetry = sampler.sample();
    } catch (error) {
      metrics.sampleErrors.inc();
      logger.error("sampling failed", { error });
      return;
    }
    publish(telemetry);
    metrics.publishDuration.observe((performance.now() - started) / 1000);
    metrics.samples.inc();
    counters.telemetry_published = (counters.telemetry_published ?? 0) + 1;
    counters.ebpf = telemetry.ebpf ? 1 : 0;
    details.ebpf = telemetry.ebpf_state;
    details.xdp = Object.fromEntries(telemetry.interfaces.map((i) => [i.name, i.xdp ? { mode: i.xdp.mode, error: i.xdp.error } : { mode: "off" }]));
    onPublished(telemetry);
  };
}
