// Analyzer (A of MAPE-K): telemetry in, incident states out.

import { type Context, trace as otelTrace, ROOT_CONTEXT } from "@opentelemetry/api";
import { type Anomaly, Buckets, contracts, openBucket, runService } from "@x0/shared";
import { Counter, Gauge, Histogram } from "prom-client";
import { z } from "zod";
import pkg from "../package.json" with { type: "json" };
import { type BaselineSnapshot, DEFAULT_DETECTOR_OPTIONS as D, Detector } from "./detect/detector.ts";

const positive = z.coerce.number().positive();
const count = z.coerce.number().int().min(1);

await runService({
  name: "analyzer",
  version: pkg.version,
  httpPort: 9102,
  config: {
    /** EWMA smoothing factor per sample (0 < alpha <= 1). */
    X0_ANALYZER_ALPHA: positive.max(1).default(D.alpha),
    /** Breach threshold in standard deviations. */
    X0_ANALYZER_Z_THRESHOLD: positive.default(D.zThreshold),
    X0_ANALYZER_WARMUP_SAMPLES: count.default(D.warmupSamples),
    X0_ANALYZER_RESOLVE_AFTER: count.default(D.resolveAfter),
    X0_ANALYZER_STDDEV_FLOOR_RATIO: z.coerce.number().min(0).default(D.stddevFloorRatio),
    X0_ANALYZER_STDDEV_FLOOR_ABS: z.coerce.number().min(0).default(D.stddevFloorAbs),
    X0_ANALYZER_UPDATE_EVERY_MS: count.default(D.updateEveryMs),
    X0_ANALYZER_SILENCE_INTERVALS: count.default(D.silenceIntervals),
    /** How often baselines are saved to the x0_baselines bucket. */
    X0_ANALYZER_BASELINE_SAVE_MS: count.default(10_000),
  },
  async start({ config, bus, nc, logger, metrics, counters, track, onStop, ensureStreams }) {
    await ensureStreams();
    const baselines = await openBucket(nc, Buckets.baselines);
    const baselineKey = `analyzer.${config.X0_NODE}`;
    const detector = new Detector({
      alpha: config.X0_ANALYZER_ALPHA,
      zThreshold: config.X0_ANALYZER_Z_THRESHOLD,
      warmupSamples: config.X0_ANALYZER_WARMUP_SAMPLES,
      resolveAfter: config.X0_ANALYZER_RESOLVE_AFTER,
      stddevFloorRatio: config.X0_ANALYZER_STDDEV_FLOOR_RATIO,
      stddevFloorAbs: config.X0_ANALYZER_STDDEV_FLOOR_ABS,
      updateEveryMs: config.X0_ANALYZER_UPDATE_EVERY_MS,
      silenceIntervals: config.X0_ANALYZER_SILENCE_INTERVALS,
    });
    const saved = await baselines.get(baselineKey);
    if (saved?.value.length) {
      const snapshot = saved.json<BaselineSnapshot>();
      detector.restore(snapshot);
      logger.info("baselines restored", { nodes: Object.keys(snapshot).length });
    }

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
        this.set(detector.openIncidents);
      },
    });
    counters.telemetry_samples = 0;
    counters.anomalies = 0;

    // Each incident is one trace: later states continue the trace of the opened state.
    const incidentTraces = new Map<string, Context>();
    // One publisher at a time keeps the states of an incident in order, also across NATS outages.
    let outbox: Promise<unknown> = Promise.resolve();
    /** Publishes one incident state in order; `onsetAt` is the earliest time the fault can have begun (opened states). */
    const publish = (anomaly: Anomaly, parent: Context, onsetAt?: number) => {
      const traceParent = incidentTraces.get(anomaly.incident_id) ?? parent;
      outbox = outbox.then(async () => {
        const { trace } = await bus.publishDurable(contracts.anomaly, anomaly.node, anomaly, {
          msgID: `anomaly:${anomaly.incident_id}:${anomaly.update}`,
          parent: traceParent,
        });
        if (anomaly.state === "opened") incidentTraces.set(anomaly.incident_id, trace);
        if (anomaly.state === "resolved") incidentTraces.delete(anomaly.incident_id);
        anomaliesTotal.inc({ kind: anomaly.kind, state: anomaly.state });
        if (anomaly.state === "opened" && onsetAt !== undefined) mttd.observe({ kind: anomaly.kind }, Math.max(0, Date.now() - onsetAt) / 1000);
        if (anomaly.state === "resolved") mttr.observe({ kind: anomaly.kind }, Math.max(0, anomaly.ts - anomaly.opened_at) / 1000);
        counters.anomalies = (counters.anomalies ?? 0) + 1;
        logger.info("anomaly", {
          incident_id: anomaly.incident_id,
          state: anomaly.state,
          kind: anomaly.kind,
          node: anomaly.node,
          interface: anomaly.interface,
          // The incident's trace, not the one of the telemetry sample whose handler queued this publish.
          trace_id: otelTrace.getSpanContext(trace)?.traceId,
        });
      });
      return outbox;
    };

    track(
      bus.subscribe(contracts.telemetry, (sample, delivery) => {
        counters.telemetry_samples = (counters.telemetry_samples ?? 0) + 1;
        // A fault seen in this sample began at most one interval before it was taken.
        for (const anomaly of detector.ingest(sample, Date.now())) void publish(anomaly, delivery.trace, sample.ts - sample.interval_ms);
      }),
    );

    const silenceTimer = setInterval(() => {
      const now = Date.now();
      // A silent node may have failed right after its last sample: observed is that silence.
      for (const anomaly of detector.checkSilence(now)) void publish(anomaly, ROOT_CONTEXT, now - anomaly.observed);
    }, 1000);
    const saveBaselines = async () => {
      await baselines.put(baselineKey, JSON.stringify(detector.snapshot()));
    };
    const saveTimer = setInterval(() => {
      saveBaselines().catch((error) => logger.warn("cannot save baselines", { error }));
    }, config.X0_ANALYZER_BASELINE_SAVE_MS);
    onStop(async () => {
      clearInterval(silenceTimer);
      clearInterval(saveTimer);
      await outbox;
      await saveBaselines().catch((error) => logger.warn("cannot save baselines at stop", { error }));
    });
  },
});
