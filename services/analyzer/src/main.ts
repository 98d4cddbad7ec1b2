// Analyzer (A of MAPE-K): telemetry in, incident states out.

import { type Context, trace as otelTrace, ROOT_CONTEXT } from "@opentelemetry/api";
import { type Anomaly, Buckets, contracts, NodeAnnouncement, openBucket, runService } from "@x0/shared";
import { Counter, Gauge, Histogram } from "prom-client";
import { z } from "zod";
import pkg from "../package.json" with { type: "json" };
import { Analyzer, BaselineSnapshot, DEFAULT_ANALYZER_OPTIONS as D } from "./analyzer.ts";

const positive = z.coerce.number().positive();
const count = z.coerce.number().int().min(1);
const ratio = z.coerce.number().gt(0).lt(1);

await runService({
  name: "analyzer",
  version: pkg.version,
  httpPort: 9102,
  config: {
    /** Phi above which a probe pair's replies have stopped (link_down). */
    X0_ANALYZER_PHI_THRESHOLD: positive.default(D.phiThreshold),
    /** Floor of the reply-interval standard deviation as a fraction of its mean. */
    X0_ANALYZER_PHI_STDDEV_RATIO: z.coerce.number().min(0).default(D.phiStddevRatio),
    /** Absolute floor of the reply-interval standard deviation, in ms. */
    X0_ANALYZER_PHI_MIN_STDDEV_MS: positive.default(D.phiMinStddevMs),
    /** How often phi, silence, correlation windows and updates are evaluated between samples. */
    X0_ANALYZER_TICK_MS: count.max(1000).default(25),
    /** Link detections on the nodes of an incident opened this recently are held, in case the node is the fault. */
    X0_ANALYZER_CORRELATION_WINDOW_MS: z.coerce.number().int().min(0).default(D.correlationWindowMs),
    /** Round-trip hello loss above which a link is degraded. */
    X0_ANALYZER_LOSS_THRESHOLD: ratio.default(D.lossThreshold),
    /** Telemetry samples the loss is measured over. */
    X0_ANALYZER_LOSS_WINDOW_SAMPLES: count.default(D.lossWindowSamples),
    /** Consecutive breaching samples (loss or RTT) that open link_degraded. */
    X0_ANALYZER_DEGRADED_SAMPLES: count.default(D.degradedSamples),
    /** Robust z-score of the RTT above which it breaches. */
    X0_ANALYZER_RTT_Z_THRESHOLD: positive.default(D.rttZThreshold),
    /** Minimum RTT rise above its median, in ms, for a breach. */
    X0_ANALYZER_RTT_MIN_DELTA_MS: z.coerce.number().min(0).default(D.rttMinDeltaMs),
    /** Robust z-score threshold of per-neighbour packet rates and retransmit rates. */
    X0_ANALYZER_Z_THRESHOLD: positive.default(D.zThreshold),
    /** A neighbour must send more than this many packets/s to be a traffic_spike. */
    X0_ANALYZER_SPIKE_MIN_PPS: z.coerce.number().min(0).default(D.spikeMinPps),
    /** Consecutive breaching samples that open traffic_spike or retransmit_storm. */
    X0_ANALYZER_SPIKE_SAMPLES: count.default(D.spikeSamples),
    /** A node must retransmit more than this many segments/s to be a retransmit_storm. */
    X0_ANALYZER_RETRANSMIT_MIN_PER_S: z.coerce.number().min(0).default(D.retransmitMinPerS),
    /** Samples a robust baseline needs before it can breach. */
    X0_ANALYZER_WARMUP_SAMPLES: count.default(D.warmupSamples),
    /** Consecutive samples with a fresh hello reply before a probe pair is judged (start-up and restarts lose hellos without a fault). */
    X0_ANALYZER_ARM_SAMPLES: count.default(D.armSamples),
    /** Samples in each rolling baseline (median/MAD). */
    X0_ANALYZER_BASELINE_WINDOW: count.max(10_000).default(D.baselineWindow),
    /** Consecutive normal samples (fresh replies, for phi) that resolve an incident. */
    X0_ANALYZER_RESOLVE_AFTER: count.default(D.resolveAfter),
    /** Minimum time between two keep-alive `updated` states of one incident. */
    X0_ANALYZER_UPDATE_EVERY_MS: count.default(D.updateEveryMs),
    /** A node silent for this many of its own intervals is unreachable. */
    X0_ANALYZER_SILENCE_INTERVALS: count.default(D.silenceIntervals),
    /** A batman-adv neighbour not heard from (its last-seen) for longer than this, in ms, is a dead link. */
    X0_ANALYZER_BATMAN_LAST_SEEN_MS: positive.default(D.batmanLastSeenMs),
    /** A one-hop TQ more than this fraction below its baseline median breaches. */
    X0_ANALYZER_BATMAN_TQ_DROP: ratio.default(D.batmanTqDrop),
    /** A one-hop TQ under this value breaches too, on links whose baseline is above it. */
    X0_ANALYZER_BATMAN_TQ_FLOOR: z.coerce.number().int().min(0).max(255).default(D.batmanTqFloor),
    /** Consecutive breaching batman reads that open link_degraded. */
    X0_ANALYZER_BATMAN_TQ_SAMPLES: count.default(D.batmanTqSamples),
    /** A node's batman verdicts are withdrawn after this many ms without a new batman read (errored, missing or repeated). */
    X0_ANALYZER_BATMAN_BLIND_MS: positive.default(D.batmanBlindMs),
    /** How often baselines are saved to the x0_baselines bucket. */
    X0_ANALYZER_BASELINE_SAVE_MS: count.default(10_000),
  },
  async start({ config, bus, nc, logger, metrics, counters, details, track, onStop, ensureStreams }) {
    await ensureStreams();
    const [baselines, topology] = await Promise.all([openBucket(nc, Buckets.baselines), openBucket(nc, Buckets.topology)]);
    const baselineKey = `analyzer.${config.X0_NODE}`;
    const analyzer = new Analyzer({
      phiThreshold: config.X0_ANALYZER_PHI_THRESHOLD,
      phiStddevRatio: config.X0_ANALYZER_PHI_STDDEV_RATIO,
      phiMinStddevMs: config.X0_ANALYZER_PHI_MIN_STDDEV_MS,
      correlationWindowMs: config.X0_ANALYZER_CORRELATION_WINDOW_MS,
      lossThreshold: config.X0_ANALYZER_LOSS_THRESHOLD,
      lossWindowSamples: config.X0_ANALYZER_LOSS_WINDOW_SAMPLES,
      degradedSamples: config.X0_ANALYZER_DEGRADED_SAMPLES,
      rttZThreshold: config.X0_ANALYZER_RTT_Z_THRESHOLD,
      rttMinDeltaMs: config.X0_ANALYZER_RTT_MIN_DELTA_MS,
      zThreshold: config.X0_ANALYZER_Z_THRESHOLD,
      spikeMinPps: config.X0_ANALYZER_SPIKE_MIN_PPS,
      spikeSamples: config.X0_ANALYZER_SPIKE_SAMPLES,
      retransmitMinPerS: config.X0_ANALYZER_RETRANSMIT_MIN_PER_S,
      warmupSamples: config.X0_ANALYZER_WARMUP_SAMPLES,
      baselineWindow: config.X0_ANALYZER_BASELINE_WINDOW,
      armSamples: config.X0_ANALYZER_ARM_SAMPLES,
      resolveAfter: config.X0_ANALYZER_RESOLVE_AFTER,
      updateEveryMs: config.X0_ANALYZER_UPDATE_EVERY_MS,
      silenceIntervals: config.X0_ANALYZER_SILENCE_INTERVALS,
      batmanLastSeenMs: config.X0_ANALYZER_BATMAN_LAST_SEEN_MS,
      batmanTqDrop: config.X0_ANALYZER_BATMAN_TQ_DROP,
      batmanTqFloor: config.X0_ANALYZER_BATMAN_TQ_FLOOR,
      batmanTqSamples: config.X0_ANALYZER_BATMAN_TQ_SAMPLES,
      batmanBlindMs: config.X0_ANALYZER_BATMAN_BLIND_MS,
    });
    const saved = await baselines.get(baselineKey);
    if (saved?.value.length) {
      // Snapshots of older analyzers (EWMA per counter) no longer apply: start learning afresh.
      const parsed = BaselineSnapshot.safeParse(saved.json());
      if (parsed.success) {
        analyzer.restore(parsed.data);
        logger.info("baselines restored", { series: Object.keys(parsed.data.series).length, rtt: Object.keys(parsed.data.rtt).length });
      } else logger.info("baselines not restored: snapshot of another format");
    }

    // Node announcements tell which node a probed address is and which links each node has.
    const watcher = await topology.watch({ key: "node.>" });
    let watching = true;
    void (async () => {
      for await (const entry of watcher) {
        const node = entry.key.slice("node.".length);
        if (entry.operation !== "PUT") {
          analyzer.forget(node);
          continue;
        }
        const parsed = NodeAnnouncement.safeParse(entry.value.length ? entry.json() : undefined);
        if (parsed.success) analyzer.announce(parsed.data);
        else logger.warn("ignoring invalid node announcement", { key: entry.key, error: parsed.error.message });
      }
    })()
      .catch((error) => logger.error("x0_topology watch failed", { error }))
      .finally(() => {
        watching = false;
      });
    track({ name: "watch x0_topology node.>", isLive: () => watching, stop: async () => watcher.stop() });

    const anomaliesTotal = new Counter({
      name: "x0_anomalies_total",
      help: "Incident states published, by kind and state.",
      labelNames: ["kind", "state"],
      registers: [metrics.registry],
    });
    // Buckets from 10 ms (eBPF-speed detection) to 10 min (slow repairs).
    const timeBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
    const mttd = new Histogram({
      name: "x0_mttd_seconds",
      help: "Time to detect: from the start of the sampling interval in which a fault appeared (for silence: the last sample heard) to its incident being published; an upper bound.",
      labelNames: ["kind"],
      buckets: timeBuckets,
      registers: [metrics.registry],
    });
    const mttr = new Histogram({
      name: "x0_mttr_seconds",
      help: "Time to repair: from an incident being opened to it being resolved.",
      labelNames: ["kind"],
      buckets: timeBuckets,
      registers: [metrics.registry],
    });
    new Gauge({
      name: "x0_analyzer_open_incidents",
      help: "Incidents open now.",
      registers: [metrics.registry],
      collect() {
        this.set(analyzer.openIncidents);
      },
    });
    counters.telemetry_samples = 0;
    counters.anomalies = 0;
    Object.defineProperty(details, "topology", { enumerable: true, get: () => ({ nodes: analyzer.directory.size, held: analyzer.heldDetections }) });

    // Each incident is one trace: later states continue the trace of the opened state.
    const incidentTraces = new Map<string, Context>();
    // One publisher at a time keeps the states of an incident in order, also across NATS outages.
    let outbox: Promise<unknown> = Promise.resolve();
    /** Publishes one incident state in order. */
    const publish = (anomaly: Anomaly, parent: Context) => {
      const traceParent = incidentTraces.get(anomaly.incident_id) ?? parent;
      outbox = outbox.then(async () => {
        const { trace } = await bus.publishDurable(contracts.anomaly, anomaly.node, anomaly, {
          msgID: `anomaly:${anomaly.incident_id}:${anomaly.update}`,
          parent: traceParent,
        });
        if (anomaly.state === "opened") incidentTraces.set(anomaly.incident_id, trace);
        if (anomaly.state === "resolved") incidentTraces.delete(anomaly.incident_id);
        anomaliesTotal.inc({ kind: anomaly.kind, state: anomaly.state });
        if (anomaly.state === "opened" && anomaly.onset_at !== undefined)
          mttd.observe({ kind: anomaly.kind }, Math.max(0, Date.now() - anomaly.onset_at) / 1000);
        // A merged incident was not repaired: it lives on in the incident it was folded into.
        if (anomaly.state === "resolved" && anomaly.resolution !== "merged") {
          mttr.observe({ kind: anomaly.kind }, Math.max(0, (anomaly.detected_at ?? anomaly.ts) - anomaly.opened_at) / 1000);
        }
        counters.anomalies = (counters.anomalies ?? 0) + 1;
        logger.info("anomaly", {
          incident_id: anomaly.incident_id,
          state: anomaly.state,
          kind: anomaly.kind,
          node: anomaly.node,
          target: anomaly.target?.id,
          resolution: anomaly.resolution,
          // The incident's trace, not the one of the telemetry sample whose handler queued this publish.
          trace_id: otelTrace.getSpanContext(trace)?.traceId,
        });
      });
      return outbox;
    };

    track(
      bus.subscribe(contracts.telemetry, (sample, delivery) => {
        counters.telemetry_samples = (counters.telemetry_samples ?? 0) + 1;
        for (const anomaly of analyzer.ingest(sample, Date.now())) void publish(anomaly, delivery.trace);
      }),
    );
    counters.overdue_reports = 0;
    track(
      bus.subscribe(contracts.overdue, (report, delivery) => {
        counters.overdue_reports = (counters.overdue_reports ?? 0) + 1;
        for (const anomaly of analyzer.overdue(report, Date.now())) void publish(anomaly, delivery.trace);
      }),
    );

    let lastTick = Date.now();
    const tickTimer = setInterval(() => {
      const now = Date.now();
      // A tick far behind schedule means this process stalled and samples may be queued unread: phi would see
      // silence that is only ours, so it waits for the next tick, after the queue is read.
      const onTime = now - lastTick <= 4 * config.X0_ANALYZER_TICK_MS;
      lastTick = now;
      for (const anomaly of analyzer.tick(now, onTime)) void publish(anomaly, ROOT_CONTEXT);
    }, config.X0_ANALYZER_TICK_MS);
    const saveBaselines = async () => {
      await baselines.put(baselineKey, JSON.stringify(analyzer.snapshot()));
    };
    const saveTimer = setInterval(() => {
      saveBaselines().catch((error) => logger.warn("cannot save baselines", { error }));
    }, config.X0_ANALYZER_BASELINE_SAVE_MS);
    onStop(async () => {
      clearInterval(tickTimer);
      clearInterval(saveTimer);
      watcher.stop();
      await outbox;
      await saveBaselines().catch((error) => logger.warn("cannot save baselines at stop", { error }));
    });
  },
});
