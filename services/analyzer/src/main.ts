// Analyzer (A of MAPE-K): telemetry in, incident states out. Every instance detects; only the leader (the leader lease in
// x0_leases) publishes and saves baselines, and a new leader continues the incidents it follows (README).
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { Buckets, contracts, createLeadershipMetrics, followAnnouncements, holderName, Leadership, openBucket, runService } from "@x0/shared";
import pkg from "../package.json" with { type: "json" };
import { Analyzer } from "./analyzer.ts";
import { baselineKey, restoreBaselines, saveBaselines } from "./baselines.ts";
import { analyzerConfigShape, analyzerOptionsOf } from "./config.ts";
import { followPublishedIncidents, takeOverIncidents } from "./failover.ts";
import { PublishedIncidents } from "./incidents/published.ts";
import { createAnalyzerMetrics } from "./metrics.ts";
import { followModel } from "./model.ts";
import { IncidentPublisher } from "./publish.ts";

await runService({
  name: "analyzer",
  version: pkg.version,
  httpPort: 9102,
  config: analyzerConfigShape,
  async start({ config, bus, nc, logger, metrics, counters, details, track, onStop, ensureStreams }) {
    await ensureStreams();
    const [baselines, topology, leases] = await Promise.all([
      openBucket(nc, Buckets.baselines),
      openBucket(nc, Buckets.topology),
      openBucket(nc, Buckets.leases),
    ]);
    const analyzerMetrics = createAnalyzerMetrics(metrics.registry, () => analyzer.openIncidents);
    const analyzer: Analyzer = new Analyzer({
      ...analyzerOptionsOf(config),
      onModelVerdict: (model, detectors) => analyzerMetrics.modelVerdict(model, detectors),
    });
    const key = baselineKey(config.X0_NODE);
    await restoreBaselines(baselines, key, analyzer, logger);
    // Node announcements tell which node a probed address is and which links each node has.
    track(await followAnnouncements(topology, analyzer, logger));

    // The swarm's model (X0_ANALYZER_MODEL shadow or on): loaded whenever a new version is adopted and its signature verifies.
    if (config.X0_ANALYZER_MODEL !== "off") {
      track(
        await followModel({
          nc,
          logger,
          onModel: (model) => {
            for (const problem of analyzer.setModel(model)) logger.error("site adapter dropped: it does not fit the loaded model", { error: problem });
          },
          onOutcome: (outcome, kind) => analyzerMetrics.modelLoad(outcome, kind, analyzer.modelVersion, analyzer.appliedAdapters()),
          sites: [...new Set(Object.values(config.X0_ANALYZER_SITES))],
          onAdapter: (adapter) => analyzer.setAdapter(adapter),
        }),
      );
    }
    Object.defineProperty(details, "model", {
      enumerable: true,
      get: () => ({ mode: config.X0_ANALYZER_MODEL, version: analyzer.modelVersion ?? null, adapters: analyzer.appliedAdapters() }),
    });

    let leadership: Leadership | undefined;
    const isLeader = () => leadership?.isLeader() ?? false;
    const publisher = new IncidentPublisher({
      bus,
      logger,
      counters,
      metrics: analyzerMetrics,
      isLeader,
      signal: () => leadership?.signal,
    });
    const published = new PublishedIncidents();
    track(followPublishedIncidents(nc, published));
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
      if (isLeader()) saveBaselines(baselines, key, analyzer).catch((error) => logger.warn("cannot save baselines", { error }));
    }, config.X0_ANALYZER_BASELINE_SAVE_MS);
    onStop(() => {
      clearInterval(tickTimer);
      clearInterval(saveTimer);
    });

    leadership = await Leadership.start({
      kv: leases,
      service: "analyzer",
      holder: holderName(config.X0_INSTANCE),
      ttlMs: config.X0_ANALYZER_LEASE_MS,
      skewMs: config.X0_ANALYZER_LEASE_SKEW_MS,
      logger,
      metrics: createLeadershipMetrics(metrics.registry),
      onElected: () => takeOverIncidents({ analyzer, published, publisher, graceMs: config.X0_ANALYZER_ADOPT_GRACE_MS, logger }),
      // What was queued while leading and is not out yet is dropped by the publisher's check.
      onDemoted: () => undefined,
    });
    const elected = leadership;
    Object.defineProperty(details, "leadership", { enumerable: true, get: () => elected.status() });
    // Stopped with the subscriptions, while NATS is up: the leader publishes what it queued and saves its baselines, then releases the lease.
    track({
      name: "analyzer leadership",
      isLive: () => true,
      stop: async () => {
        if (elected.isLeader()) {
          await publisher.flushed();
          await saveBaselines(baselines, key, analyzer).catch((error) => logger.warn("cannot save baselines at stop", { error }));
        }
        await elected.stop();
      },
    });
  },
});
