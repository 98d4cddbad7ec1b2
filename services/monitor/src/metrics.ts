// Every Prometheus metric of the monitor. Label values are bounded: interfaces are the configured ones, drop reasons a
// kernel enum, and neighbours are capped (later ones are reported as "other").
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Keeps the first `max` distinct values of a label; every later value maps to `other`. */
export class LabelCap {
  private readonly seen = new Set<string>();
  constructor(
    private readonly max: number,
    private readonly other = "other",
  ) {}

  /** The label value to use for `value`. */
  value(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return this.other;
    this.seen.add(value);
    return value;
  }
}

/** Traffic of one (interface, neighbour label) series not yet added to the Prometheus counters. */
export interface PendingTraffic {
  readonly labels: { interface: string; neighbour: string };
  packets: number;
  bytes: number;
}

/**
 * Neighbour traffic is added to its counters when they are collected (a scrape), not every sample: a sample then costs one
 * addition per neighbour instead of two labelled counter updates (label hashing), and a scrape still sees exact totals.
 */
export class PendingNeighbourTraffic {
  private readonly pending = new Map<string, PendingTraffic>();

  /** The accumulator of one series; callers keep it, so the lookup happens once per neighbour. */
  get(iface: string, neighbour: string): PendingTraffic {
    const key = `${iface}\0${neighbour}`;
    let pending = this.pending.get(key);
    if (!pending) {
      pending = { labels: { interface: iface, neighbour }, packets: 0, bytes: 0 };
      this.pending.set(key, pending);
    }
    return pending;
  }

  /** Moves everything pending into the counters. */
  flush(packets: Counter, bytes: Counter): void {
    for (const pending of this.pending.values()) {
      if (pending.packets > 0) packets.inc(pending.labels, pending.packets);
      if (pending.bytes > 0) bytes.inc(pending.labels, pending.bytes);
      pending.packets = 0;
      pending.bytes = 0;
    }
  }
}

/** Creates the monitor's metrics in `registry`. */
export function createMonitorMetrics(registry: Registry, { maxNeighbourLabels }: { maxNeighbourLabels: number }) {
  const registers = [registry];
  const neighbourTraffic = new PendingNeighbourTraffic();
  // Either counter's collection flushes both, so they stay consistent with each other.
  const flushTraffic = () => neighbourTraffic.flush(neighbourPackets, neighbourBytes);
  const neighbourCounter = (name: string, help: string): Counter =>
    new Counter({ name, help, labelNames: ["interface", "neighbour"], registers, collect: flushTraffic });
  const neighbourPackets = neighbourCounter(
    "x0_monitor_neighbour_packets_total",
    "Frames received from a neighbour (XDP), by interface and neighbour (MAC/IPv4; capped, the rest is 'other').",
  );
  const neighbourBytes = neighbourCounter(
    "x0_monitor_neighbour_bytes_total",
    "Bytes received from a neighbour (XDP), by interface and neighbour (capped like the packet counter).",
  );
  return {
    neighbourLabels: new LabelCap(maxNeighbourLabels),
    /** Add neighbour traffic here; it reaches neighbourPackets / neighbourBytes at collection. */
    neighbourTraffic,
    samples: new Counter({ name: "x0_monitor_samples_total", help: "Telemetry samples published.", registers }),
    sampleErrors: new Counter({ name: "x0_monitor_sample_errors_total", help: "Sampling rounds that failed to read interface counters.", registers }),
    neighbourPackets,
    neighbourBytes,
    xdpDropped: new Counter({
      name: "x0_monitor_xdp_dropped_packets_total",
      help: "Frames the XDP program dropped, by interface and cause (deny, fault).",
      labelNames: ["interface", "cause"],
      registers,
    }),
    kernelDrops: new Counter({
      name: "x0_monitor_kernel_drops_total",
      help: "skb drops seen by the skb:kfree_skb tracepoint, by drop reason.",
      labelNames: ["reason"],
      registers,
    }),
    retransmits: new Counter({ name: "x0_monitor_tcp_retransmits_total", help: "TCP retransmits seen by the tcp:tcp_retransmit_skb tracepoint.", registers }),
    xdpMode: new Gauge({
      name: "x0_monitor_xdp_attach_mode",
      help: "1 for the XDP attach mode of each interface (native, generic or off).",
      labelNames: ["interface", "mode"],
      registers,
    }),
    ebpf: new Gauge({ name: "x0_monitor_ebpf", help: "1 when the eBPF data plane is attached on at least one interface.", registers }),
    mapErrors: new Counter({ name: "x0_monitor_map_errors_total", help: "BPF map operations that failed, by operation.", labelNames: ["op"], registers }),
    events: new Counter({ name: "x0_monitor_dataplane_events_total", help: "Ring buffer events, by type.", labelNames: ["type"], registers }),
    publishDuration: new Histogram({
      name: "x0_monitor_telemetry_publish_duration_seconds",
      help: "Time to sample, build, validate and publish one telemetry message.",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers,
    }),
    probeRtt: new Gauge({ name: "x0_monitor_probe_rtt_seconds", help: "Latest hello round-trip time, by configured peer.", labelNames: ["peer"], registers }),
    probeLoss: new Gauge({
      name: "x0_monitor_probe_loss_ratio",
      help: "Hello loss over the probe window, by configured peer.",
      labelNames: ["peer"],
      registers,
    }),
  };
}

/** The monitor's metrics. */
export type MonitorMetrics = ReturnType<typeof createMonitorMetrics>;
