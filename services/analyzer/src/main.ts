// Analyzer (A of MAPE-K): telemetry in, incident states out.
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { Buckets, contracts, followAnnouncements, openBucket, runService } from "@x0/shared";
import pkg from "../package.json" with { type: "json" };
import { Analyzer } from "./analyzer.ts";
import { baselineKey, restoreBaselines, saveBaselines } from "./baselines.ts";
import { analyzerConfigShape, analyzerOptionsOf } from "./config.ts";
import { createAnalyzerMetrics } from "./metrics.ts";
import { IncidentPublisher } from "./publish.ts";

await runService({
  name: "analyzer",
  version: pkg.version,
  httpPort: 9102,
  config: analyzerConfigShape,
  async start({ config, bus, nc, logger, metrics, counters, details, track, onStop, ensureStreams }) {
    await ensureStreams();
    const [baselines, topology] = await Promise.all([openBucket(nc, Buckets.baselines), openBucket(nc, Buckets.topology)]);
    const analyzer = new Analyzer(analyzerOptionsOf(config));
    const key = baselineKey(config.X0_NODE);
    await restoreBaselines(baselines, key, analyzer, logger);
    // Node announcements tell which node a probed address is and which links each node has.
    track(await followAnnouncements(topology, analyzer, logger));

    const publisher = new IncidentPublisher({ bus, logger, counters, metrics: createAnalyzerMetrics(metrics.registry, () => analyzer.openIncidents) });
    Object.assign(counters, { telemetry_samples: 0, anomalies: 0, overdue_reports: 0 });
    Object.defineProperty(details, "topology", { enumerable: true, get: () => ({ nodes: analyzer.directory.size, held: analyzer.heldDetections }) });
    track(
      bus.subscribe(contracts.telemetry, (sample, delivery) => {
        counters.telemetry_samples = (counters.telemetry_samples ?? 0) + 1;
        publisher.publishAll(analyzer.ingest(sample, Date.now()), delivery.trace);
      }),
    );
    track(
      bus.subscribe(contracts.overdue, (report, delivery) => {
        counters.overdue_reports = (counters.overdue_reports ?? 0) + 1;
        publisher.publishAll(analyzer.overdue(report, Date.now()), delivery.trace);
      }),
    );

    let lastTick = Date.now();
    const tickTimer = setInterval(() => {
      const now = Date.now();
      // A tick far behind schedule means this process stalled and samples may be queued unread: phi would see
      // silence that is only ours, so it waits for the next tick, after the queue is read.
      const onTime = now - lastTick <= 4 * config.X0_ANALYZER_TICK_MS;
      lastTick = now;
      publisher.publishAll(analyzer.tick(now, onTime), ROOT_CONTEXT);
    }, config.X0_ANALYZER_TICK_MS);
    const saveTimer = setInterval(() => {
      saveBaselines(baselines, key, analyzer).catch((error) => logger.warn("cannot save baselines", { error }));
    }, config.X0_ANALYZER_BASELINE_SAVE_MS);
    onStop(async () => {
      clearInterval(tickTimer);
      clearInterval(saveTimer);
      await publisher.flushed();
      await saveBaselines(baselines, key, analyzer).catch((error) => logger.warn("cannot save baselines at stop", { error }));
    });
  },
});
