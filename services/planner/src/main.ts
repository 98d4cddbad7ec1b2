// Planner (P of MAPE-K): incident states and link measurements in, signed route, batman-adv, quarantine and notify plans out.
import { Buckets, contracts, followAnnouncements, openBucket, openControlPlaneCrypto, runService, subjectOf, tokenOf } from "@x0/shared";
import pkg from "../package.json" with { type: "json" };
import { plannerConfigShape } from "./config.ts";
import { anomalyIntake } from "./intake/anomalies.ts";
import { KvStore } from "./kv.ts";
import { createMetrics } from "./metrics.ts";
import { OutcomeStore } from "./outcomes/store.ts";
import { Planner } from "./planner.ts";
import { rehearsePlanning } from "./rehearsal.ts";

/** How often held links, cooled-down plans and link records are looked at. */
const TICK_MS = 250;

await runService({
  name: "planner",
  version: pkg.version,
  httpPort: 9103,
  config: plannerConfigShape,
  async start({ config, bus, nc, jsm, logger, metrics: { registry }, counters, details, track, onStop, ensureStreams }) {
    await ensureStreams();
    // Plans are signed in-process with the planner's own key (no round trip to the crypto service).
    const signing = await openControlPlaneCrypto({ service: "planner", config, nc, logger });
    onStop(() => signing.stop());
    const policy = config.X0_PLANNER_POLICY;
    logger.info("policy loaded", { kinds: Object.keys(policy.kinds), fallback: policy.fallback.map((rule) => rule.name) });
    const [topologyKv, outcomesKv] = await Promise.all([openBucket(nc, Buckets.topology), openBucket(nc, Buckets.outcomes)]);
    const outcomes = new OutcomeStore(new KvStore(outcomesKv));
    await outcomes.load();
    const metrics = createMetrics(registry);
    const planner = new Planner({
      policy,
      topologyStore: new KvStore(topologyKv),
      outcomes,
      logger,
      metrics,
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

    track(await bus.consume(contracts.anomaly, anomalyIntake({ planner, metrics, counters }), { durable: "planner", jsm: await jsm() }));
  },
});
