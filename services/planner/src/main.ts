// Planner (P of MAPE-K): incident states and link measurements in, signed route, batman-adv, quarantine and notify plans out.
import { join } from "node:path";
import { Buckets, contracts, cryptoConfigShape, followAnnouncements, openBucket, openControlPlaneCrypto, runService, subjectOf, tokenOf } from "@x0/shared";
import { Counter } from "prom-client";
import { z } from "zod";
import pkg from "../package.json" with { type: "json" };
import { KvStore } from "./kv.ts";
import { OutcomeStore } from "./outcomes/store.ts";
import { Planner } from "./planner.ts";
import { loadPolicy } from "./policy/policy.ts";
import { rehearsePlanning } from "./rehearsal.ts";

/** How many processed anomaly ids the planner remembers to skip redeliveries. */
const PROCESSED_MEMORY = 100_000;
/** How often held links, cooled-down plans and link records are looked at. */
const TICK_MS = 250;

await runService({
  name: "planner",
  version: pkg.version,
  httpPort: 9103,
  config: {
    ...cryptoConfigShape,
    /** Policy file (YAML or JSON); validated at start. */
    X0_PLANNER_POLICY: z
      .string()
      .default(join(import.meta.dir, "..", "policy.yaml"))
      .transform((path, ctx) => {
        try {
          return loadPolicy(path);
        } catch (error) {
          ctx.addIssue({ code: "custom", message: (error as Error).message });
          return z.NEVER;
        }
      }),
  },
  async start({ config, bus, nc, jsm, logger, metrics, counters, details, track, onStop, ensureStreams }) {
    await ensureStreams();
    // Plans are signed in-process with the planner's own key (no round trip to the crypto service).
    const signing = await openControlPlaneCrypto({ service: "planner", config, nc, logger });
    onStop(() => signing.stop());
    const policy = config.X0_PLANNER_POLICY;
    logger.info("policy loaded", { kinds: Object.keys(policy.kinds), fallback: policy.fallback.map((rule) => rule.name) });
    const [topologyKv, outcomesKv] = await Promise.all([openBucket(nc, Buckets.topology), openBucket(nc, Buckets.outcomes)]);
    const outcomes = new OutcomeStore(new KvStore(outcomesKv));
    await outcomes.load();
    const planner = new Planner({
      policy,
      topologyStore: new KvStore(topologyKv),
      outcomes,
      logger,
      registry: metrics.registry,
      counters,
      publish: async (plan, msgID, parent) => {
        // Signed once, before the publish loop: a retried publish carries the same bytes and is stored once.
        await bus.publishDurable(contracts.plan, plan.node, signing.sign("plan", plan), { msgID, parent });
      },
    });
    await planner.restore();
    // Before the first incident: its plan should not pay for the first pass through the planning, signing and checking code.
    await rehearsePlanning({
      policy,
      sign: (plan) => signing.sign("plan", plan),
      checkPlan: (plan) => bus.check(contracts.plan, plan.node, plan),
      checkAnomaly: (anomaly) => bus.check(contracts.anomaly, anomaly.node, anomaly).message,
    }).then(
      (rehearsal) => {
        details.rehearsal = { plans: rehearsal.plans, rules: rehearsal.rules, ms: Math.round(rehearsal.durationMs) };
        logger.info("plan path rehearsed", details.rehearsal as Record<string, unknown>);
      },
      (error) => {
        details.rehearsal = { failed: (error as Error).message };
        logger.error("plan path rehearsal failed; the first real plan will take the cold path", { error });
      },
    );
    track(await followAnnouncements(topologyKv, planner, logger));

    // Telemetry is read raw and only in part: the analyzer owns its validation and dead letters.
    const telemetry = nc.subscribe(subjectOf(contracts.telemetry, "*"), {
      callback: (error, msg) => {
        const node = error ? undefined : tokenOf(contracts.telemetry, msg.subject);
        if (node) planner.observeTelemetry(node, msg.data);
      },
    });
    track({ name: "subscription x0.telemetry.*", isLive: () => !telemetry.isClosed(), stop: () => telemetry.drain() });

    track(await bus.consume(contracts.action, (result) => planner.handleResult(result), { durable: "planner-outcomes", jsm: await jsm() }));

    const ticker = setInterval(() => {
      planner.tick().catch((error) => logger.error("planner tick failed", { error }));
      details.links = planner.topology.linkCount();
      details.held_links = planner.topology.heldCount();
    }, TICK_MS);
    onStop(() => clearInterval(ticker));

    const processedTotal = new Counter({
      name: "x0_planner_anomalies_processed_total",
      help: "Incident states processed (each once), by kind and state.",
      labelNames: ["kind", "state"],
      registers: [metrics.registry],
    });
    const duplicatesTotal = new Counter({
      name: "x0_planner_duplicates_skipped_total",
      help: "Redelivered incident states skipped because they were already processed.",
      registers: [metrics.registry],
    });
    counters.anomalies_processed = 0;
    counters.plans = 0;
    // Redeliveries after a lost ack are skipped here; across planner restarts the plan's message id (and the
    // plan id derived from it) makes JetStream store a re-published plan once.
    const processed = new Set<string>();
    track(
      await bus.consume(
        contracts.anomaly,
        async (anomaly, delivery) => {
          const key = `${anomaly.incident_id}:${anomaly.update}`;
          if (processed.has(key)) {
            duplicatesTotal.inc();
            return;
          }
          await planner.handleAnomaly(anomaly, delivery.trace);
          processed.add(key);
          if (processed.size > PROCESSED_MEMORY) processed.delete(processed.values().next().value as string);
          processedTotal.inc({ kind: anomaly.kind, state: anomaly.state });
          counters.anomalies_processed = (counters.anomalies_processed ?? 0) + 1;
        },
        { durable: "planner", jsm: await jsm() },
      ),
    );
  },
});
