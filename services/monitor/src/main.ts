// Monitor (M of MAPE-K): samples this node's interfaces and its eBPF data plane and publishes telemetry.
import { join } from "node:path";
import { announcementKey, Buckets, commaListSchema, contracts, openBucket, probeEndpoint, runService } from "@x0/shared";
import { z } from "zod";
import pkg from "../package.json" with { type: "json" };
import { AddressCache, announcement } from "./announce/announce.ts";
import { overdueAfterMs, overdueReport } from "./probes/overdue.ts";
import { probeOnce } from "./probes/probe-once.ts";
import { PEER_PATTERN, Prober, parsePeer } from "./probes/prober.ts";
import { startBatman } from "./sample/batman.ts";
import { startEbpf } from "./sample/ebpf.ts";
import { Sampler } from "./sample/sampler.ts";
import { InterfaceReader } from "./sysfs/counters.ts";
import { createMonitorMetrics } from "./telemetry/metrics.ts";
import { DEFAULT_PIN_ROOT } from "./xdp/pins.ts";
import { xdpSelection } from "./xdp/selection.ts";

const ms = (min: number, fallback: number) => z.coerce.number().int().min(min).max(3_600_000).default(fallback);
const peerList = commaListSchema.refine((peers) => peers.every((peer) => PEER_PATTERN.test(peer)), "each peer must be <ipv4>[:<port>]");

await runService({
  name: "monitor",
  version: pkg.version,
  httpPort: 9101,
  config: {
    /** Sampling (telemetry) interval in milliseconds. */
    X0_MONITOR_INTERVAL_MS: ms(10, 100),
    /** Comma-separated interfaces to watch; empty = every interface but lo. */
    X0_MONITOR_INTERFACES: commaListSchema.default([]),
    /**
     * Interfaces that get the XDP program: a comma list, or `*` for every watched interface.
     * Default: the X0_MONITOR_INTERFACES list when one is given, none otherwise, so the monitor
     * never attaches to a host's uplink unless told to (the mesh interfaces are the operator's choice).
     */
    X0_MONITOR_XDP_INTERFACES: z.string().optional(),
    /** Where interface counters are read from. */
    X0_MONITOR_SYSFS_NET: z.string().min(1).default("/sys/class/net"),
    /** `auto`: use eBPF when privileges and BTF allow; `off`: sysfs counters only. */
    X0_MONITOR_EBPF: z.enum(["auto", "off"]).default("auto"),
    /** XDP attach mode: native (driver) then generic (`auto`), or only one. */
    X0_MONITOR_XDP_MODE: z.enum(["auto", "native", "generic"]).default("auto"),
    /** Folder of the objects `make bpf` builds. */
    X0_MONITOR_BPF_DIR: z
      .string()
      .min(1)
      .default(join(import.meta.dir, "..", "..", "..", "bpf", "build")),
    /** bpffs folder for pinned maps: `<root>/<iface>/{neighbours,totals,deny,fault}`. */
    X0_MONITOR_BPF_PIN_ROOT: z.string().min(1).default(DEFAULT_PIN_ROOT),
    /** Neighbours reported per interface in telemetry (most recently active first). */
    X0_MONITOR_MAX_NEIGHBOURS: z.coerce.number().int().min(1).max(1024).default(256),
    /** Distinct neighbour label values in metrics; later neighbours are counted as "other". */
    X0_MONITOR_METRIC_NEIGHBOURS: z.coerce.number().int().min(0).max(1024).default(64),
    /** A neighbour whose last frame is older than this is not alive (unless it answers hellos). */
    X0_MONITOR_LIVENESS_MS: ms(10, 1000),
    /** Comma-separated hello peers, `<ipv4>[:<port>]`. */
    X0_MONITOR_PROBE_PEERS: peerList.default([]),
    /** UDP port hellos are sent from and answered on (0: any free port; answering needs a fixed one). */
    X0_MONITOR_PROBE_PORT: z.coerce.number().int().min(0).max(65535).default(7471),
    /** Hello interval. */
    X0_MONITOR_PROBE_INTERVAL_MS: ms(20, 100),
    /**
     * A peer silent this long (ms) is reported on x0.overdue at every hello, for up to two telemetry intervals, so the
     * analyzer need not wait for the next sample: unset → 3 hello intervals; `off` → never; else at least 2 hello intervals.
     */
    X0_MONITOR_PROBE_OVERDUE_MS: z.string().optional(),
    /** A hello unanswered for this long is lost. */
    X0_MONITOR_PROBE_TIMEOUT_MS: ms(1, 500),
    /** Resolved hellos per peer that loss and mean RTT are computed over. */
    X0_MONITOR_PROBE_WINDOW: z.coerce.number().int().min(1).max(10_000).default(50),
    /** batman-adv mesh interface: a name, `auto` (detect) or `off`. */
    X0_MONITOR_BATMAN_INTERFACE: z.string().min(1).max(15).default("auto"),
    /** How often batman-adv's tables are read. */
    X0_MONITOR_BATMAN_INTERVAL_MS: ms(100, 1000),
    /** How batman-adv is read: `netlink` (its generic netlink family, in process) or `batctl` (a spawn per table). */
    X0_MONITOR_BATMAN_SOURCE: z.enum(["netlink", "batctl"]).default("netlink"),
    /** The batctl executable. */
    X0_MONITOR_BATCTL: z.string().min(1).default("batctl"),
    /** The node's stable address, which other nodes route to; announced in x0_topology (empty: none). */
    X0_MONITOR_SERVICE_ADDRESS: z.union([z.ipv4(), z.literal("")]).default(""),
    /** Attach the tracepoint programs (TCP retransmits, skb drops): `on` or `off` (labs share one kernel's tracepoints). */
    X0_MONITOR_TRACEPOINTS: z.enum(["on", "off"]).default("on"),
  },
  async start({ config, bus, nc, logger, metrics, counters, details, onStop, track }) {
    const node = config.X0_NODE;
    const topology = await openBucket(nc, Buckets.topology);
    const m = createMonitorMetrics(metrics.registry, { maxNeighbourLabels: config.X0_MONITOR_METRIC_NEIGHBOURS });
    // Stop hooks run in order: sampling stops before the sources it reads are closed.
    let timer: ReturnType<typeof setInterval> | undefined;
    onStop(() => clearInterval(timer));
    const ebpf = startEbpf({
      enabled: config.X0_MONITOR_EBPF === "auto",
      bpfDir: config.X0_MONITOR_BPF_DIR,
      pinRoot: config.X0_MONITOR_BPF_PIN_ROOT,
      mode: config.X0_MONITOR_XDP_MODE,
      intervalMs: config.X0_MONITOR_INTERVAL_MS,
      tracepoints: config.X0_MONITOR_TRACEPOINTS === "on",
      logger,
      metrics: m,
    });
    onStop(() => ebpf.close());
    let prober: Prober | undefined;
    const peers = config.X0_MONITOR_PROBE_PEERS.map((peer) => parsePeer(peer, config.X0_MONITOR_PROBE_PORT || 7471));
    const helloIntervalMs = config.X0_MONITOR_PROBE_INTERVAL_MS;
    const overdueAfter = overdueAfterMs(config.X0_MONITOR_PROBE_OVERDUE_MS, helloIntervalMs);
    counters.overdue_reports = 0;
    try {
      prober = await Prober.start({
        peers,
        port: config.X0_MONITOR_PROBE_PORT,
        intervalMs: config.X0_MONITOR_PROBE_INTERVAL_MS,
        timeoutMs: config.X0_MONITOR_PROBE_TIMEOUT_MS,
        window: config.X0_MONITOR_PROBE_WINDOW,
        onSendError: (peer, error) => logger.debug("hello not sent", { peer, error }),
        overdueAfterMs: overdueAfter,
        // Two telemetry intervals: by then the regular samples carry the silence as well.
        overdueReportForMs: 2 * config.X0_MONITOR_INTERVAL_MS,
        onOverdue: (overdue) => {
          bus.publish(contracts.overdue, node, overdueReport(node, Date.now(), helloIntervalMs, overdue));
          counters.overdue_reports = (counters.overdue_reports ?? 0) + 1;
        },
      });
      onStop(() => prober?.close());
    } catch (error) {
      // Without peers, answering others is a courtesy: a taken port is reported, not fatal.
      if (peers.length > 0) throw error;
      logger.warn("hello responder off: cannot bind X0_MONITOR_PROBE_PORT", { port: config.X0_MONITOR_PROBE_PORT, error });
    }
    const batman = startBatman({
      meshInterface: config.X0_MONITOR_BATMAN_INTERFACE,
      source: config.X0_MONITOR_BATMAN_SOURCE,
      batctl: config.X0_MONITOR_BATCTL,
      intervalMs: config.X0_MONITOR_BATMAN_INTERVAL_MS,
      logger,
    });
    onStop(() => batman.stop());

    const interfaceReader = new InterfaceReader(config.X0_MONITOR_SYSFS_NET, config.X0_MONITOR_INTERFACES);
    onStop(() => interfaceReader.close());
    const sampler = new Sampler({
      node,
      intervalMs: config.X0_MONITOR_INTERVAL_MS,
      readInterfaces: () => interfaceReader.read(),
      ebpfState: () => ebpf.state(),
      lib: ebpf.lib,
      dataplane: ebpf.dataplane,
      trace: ebpf.trace,
      probes: prober && peers.length > 0 ? () => prober.stats() : undefined,
      batman: batman.latest,
      metrics: m,
      maxNeighbours: config.X0_MONITOR_MAX_NEIGHBOURS,
      livenessMs: config.X0_MONITOR_LIVENESS_MS,
      xdpInterfaces: xdpSelection(config.X0_MONITOR_XDP_INTERFACES, config.X0_MONITOR_INTERFACES),
      onEvent: (event) => logger.info(`dataplane ${event.type}`, { interface: event.iface, mac: event.neighbour.mac, ipv4: event.neighbour.ipv4 }),
    });
    counters.telemetry_published = 0;
    let knownInterfaces = "";
    const addressCache = new AddressCache();

    const tick = () => {
      const started = performance.now();
      let telemetry: ReturnType<Sampler["sample"]>;
      try {
        telemetry = sampler.sample();
      } catch (error) {
        m.sampleErrors.inc();
        logger.error("sampling failed", { error });
        return;
      }
      bus.publish(contracts.telemetry, node, telemetry);
      m.publishDuration.observe((performance.now() - started) / 1000);
      m.samples.inc();
      counters.telemetry_published = (counters.telemetry_published ?? 0) + 1;
      counters.ebpf = telemetry.ebpf ? 1 : 0;
      details.ebpf = telemetry.ebpf_state;
      details.xdp = Object.fromEntries(telemetry.interfaces.map((i) => [i.name, i.xdp ? { mode: i.xdp.mode, error: i.xdp.error } : { mode: "off" }]));
      // The node's interfaces and addresses are knowledge the analyzer and planner build the graph from; write them when they change.
      const shape = telemetry.interfaces.map((i) => `${i.name}:${i.operstate}:${i.xdp?.mode ?? "off"}`).join(",");
      const addresses = addressCache.get(shape, telemetry.ts);
      const mesh = batman.mesh();
      const key = `${shape}|${addressCache.version}|${telemetry.ebpf}|${mesh ? `${mesh.originator}:${mesh.hard_interfaces.join(",")}` : ""}`;
      if (key !== knownInterfaces) {
        knownInterfaces = key;
        const announced = announcement({
          node,
          interfaces: telemetry.interfaces,
          ebpf: telemetry.ebpf,
          serviceAddress: config.X0_MONITOR_SERVICE_ADDRESS || null,
          probePort: prober?.port ?? config.X0_MONITOR_PROBE_PORT,
          addresses,
          batman: mesh,
        });
        topology.put(announcementKey(node), JSON.stringify({ ...announced, updated_at: Date.now() })).catch((error) => {
          knownInterfaces = "";
          logger.warn("cannot update topology", { error });
        });
      }
    };
    // Path checks from inside this node (the executor verifies repairs with them).
    track(
      bus.serve(probeEndpoint(node), async (request) => {
        const outcome = await probeOnce({
          to: request.to,
          port: request.port ?? (config.X0_MONITOR_PROBE_PORT || 7471),
          count: request.count,
          intervalMs: request.interval_ms,
          timeoutMs: request.timeout_ms,
          untilFirst: request.until_first,
        });
        return { v: 1 as const, node, to: request.to, sent: outcome.sent, received: outcome.received, rtt_ms: outcome.rttMs };
      }),
    );
    tick();
    timer = setInterval(tick, config.X0_MONITOR_INTERVAL_MS);
  },
});
