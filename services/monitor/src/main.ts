// Monitor (M of MAPE-K): samples this node's interfaces and its eBPF data plane and publishes telemetry.
import { announcementKey, Buckets, contracts, openBucket, probeEndpoint, runService } from "@x0/shared";
import pkg from "../package.json" with { type: "json" };
import { TopologyAnnouncer } from "./announce/announce.ts";
import { monitorConfigShape } from "./config.ts";
import { createMonitorMetrics } from "./metrics.ts";
import { DEFAULT_HELLO_PORT, startHellos } from "./probes/hellos.ts";
import { probeResponder } from "./probes/probe-once.ts";
import { startBatman } from "./sample/batman.ts";
import { startEbpf } from "./sample/ebpf.ts";
import { telemetryRound } from "./sample/publish.ts";
import { Sampler } from "./sample/sampler.ts";
import { InterfaceReader } from "./sysfs/counters.ts";
import { xdpSelection } from "./xdp/selection.ts";

await runService({
  name: "monitor",
  version: pkg.version,
  httpPort: 9101,
  config: monitorConfigShape,
  async start({ config, bus, nc, logger, metrics: { registry }, counters, details, onStop, track }) {
    const node = config.X0_NODE;
    const intervalMs = config.X0_MONITOR_INTERVAL_MS;
    const topology = await openBucket(nc, Buckets.topology);
    const metrics = createMonitorMetrics(registry, { maxNeighbourLabels: config.X0_MONITOR_METRIC_NEIGHBOURS });
    // Stop hooks run in order: sampling stops before the sources it reads are closed.
    let timer: ReturnType<typeof setInterval> | undefined;
    onStop(() => clearInterval(timer));
    const ebpf = startEbpf({
      enabled: config.X0_MONITOR_EBPF === "auto",
      bpfDir: config.X0_MONITOR_BPF_DIR,
      pinRoot: config.X0_MONITOR_BPF_PIN_ROOT,
      mode: config.X0_MONITOR_XDP_MODE,
      intervalMs,
      tracepoints: config.X0_MONITOR_TRACEPOINTS === "on",
      logger,
      metrics,
    });
    onStop(() => ebpf.close());
    counters.overdue_reports = 0;
    const prober = await startHellos({
      node,
      peers: config.X0_MONITOR_PROBE_PEERS,
      port: config.X0_MONITOR_PROBE_PORT,
      intervalMs: config.X0_MONITOR_PROBE_INTERVAL_MS,
      timeoutMs: config.X0_MONITOR_PROBE_TIMEOUT_MS,
      window: config.X0_MONITOR_PROBE_WINDOW,
      overdue: config.X0_MONITOR_PROBE_OVERDUE_MS,
      telemetryIntervalMs: intervalMs,
      onOverdue: (report) => {
        bus.publish(contracts.overdue, node, report);
        counters.overdue_reports = (counters.overdue_reports ?? 0) + 1;
      },
      logger,
    });
    if (prober) onStop(() => prober.close());
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
      intervalMs,
      readInterfaces: () => interfaceReader.read(),
      ebpfState: () => ebpf.state(),
      lib: ebpf.lib,
      dataplane: ebpf.dataplane,
      trace: ebpf.trace,
      probes: prober && config.X0_MONITOR_PROBE_PEERS.length > 0 ? () => prober.stats() : undefined,
      batman: batman.latest,
      metrics,
      maxNeighbours: config.X0_MONITOR_MAX_NEIGHBOURS,
      livenessMs: config.X0_MONITOR_LIVENESS_MS,
      xdpInterfaces: xdpSelection(config.X0_MONITOR_XDP_INTERFACES, config.X0_MONITOR_INTERFACES),
      onEvent: (event) => logger.info(`dataplane ${event.type}`, { interface: event.iface, mac: event.neighbour.mac, ipv4: event.neighbour.ipv4 }),
    });
    const announcer = new TopologyAnnouncer({
      node,
      serviceAddress: config.X0_MONITOR_SERVICE_ADDRESS || null,
      probePort: prober?.port ?? config.X0_MONITOR_PROBE_PORT,
      mesh: batman.mesh,
      write: (announcement) => topology.put(announcementKey(node), JSON.stringify(announcement)),
      logger,
    });
    const publishSample = telemetryRound({
      sampler,
      publish: (telemetry) => bus.publish(contracts.telemetry, node, telemetry),
      onPublished: (telemetry) => announcer.update(telemetry),
      metrics,
      counters,
      details,
      logger,
    });
    // Path checks from inside this node (the executor verifies repairs with them).
    track(bus.serve(probeEndpoint(node), probeResponder(node, config.X0_MONITOR_PROBE_PORT || DEFAULT_HELLO_PORT)));
    publishSample();
    timer = setInterval(publishSample, intervalMs);
  },
});
