// Planner (P of MAPE-K): incident states and link measurements in, signed route, batman-adv, quarantine and notify plans out.
// One instance leads (the leader lease in x0_leases); the others stand by warm (README: "Leader and standbys").
import {
  Buckets,
  ConfigError,
  contracts,
  createLeadershipMetrics,
  followAnnouncements,
  holderName,
  Leadership,
  openBucket,
  openControlPlaneCrypto,
  runService,
  subjectOf,
  tokenOf,
} from "@x0/shared";
import pkg from "../package.json" with { type: "json" };
import { plannerConfigShape } from "./config.ts";
import { planIdFor } from "./emit/emit.ts";
import { FencedStore, NotLeader } from "./failover/fenced-store.ts";
import { PlannerRole } from "./failover/role.ts";
import { createGovernanceMetrics } from "./governance/metrics.ts";
import { anomalyIntake } from "./intake/anomalies.ts";
import { KvStore } from "./kv.ts";
import { createMetrics } from "./metrics.ts";
import { OutcomeStore } from "./outcomes/store.ts";
import { Planner } from "./planner.ts";
import { needsVotes } from "./policy/policy.ts";
import { ragAsker } from "./rag/ask.ts";
import { rehearsePlanning } from "./rehearsal.ts";

/** How often held links, cooled-down plans and link records are looked at. */
const TICK_MS = 250;

await runService({
  name: "planner",
  version: pkg.version,
  httpPort: 9103,
  config: plannerConfigShape,
  checkConfig(config) {
    if (needsVotes(config.X0_PLANNER_POLICY) && config.X0_GOV_MEMBERS === "") {
      throw new ConfigError("X0_GOV_MEMBERS", "the genesis member set file: the policy has plans whose approval is vote, and nobody could approve them");
    }
  },
  async start({ config, bus, nc, jsm, logger, metrics: { registry }, counters, details, track, onStop, ensureStreams }) {
    await ensureStreams();
    // Plans are signed in-process with the planner's own key (no round trip to the crypto service).
    const signing = await openControlPlaneCrypto({ service: "planner", config, nc, logger });
    // A KEK held in a token: the service is not ready while the token cannot be reached.
    track(signing.kekHealth);
    onStop(() => signing.stop());
    let policy = config.X0_PLANNER_POLICY;
    const [topologyKv, outcomesKv, leasesKv] = await Promise.all([
      openBucket(nc, Buckets.topology),
      openBucket(nc, Buckets.outcomes),
      openBucket(nc, Buckets.leases),
    ]);
    // Governance: proposals for plans whose approval is vote, members' votes, tallies (services/planner/README.md).
    // Its metrics exist (at zero) with governance off, so dashboards and the catalogue see them either way.
    const governanceMetrics = createGovernanceMetrics(registry);
    const gov =
      config.X0_GOV_MEMBERS === ""
        ? undefined
        : // Loaded only when governance is configured (its code brings viem).
          await (await import("./governance/start.ts")).startGovernance({
            membersPath: config.X0_GOV_MEMBERS,
            bucket: await openBucket(nc, Buckets.gov),
            bus,
            rules: () => policy.governance,
            sign: (domain, message) => signing.sign(domain, message),
            adoptPolicy: async (adopted, proposal) => {
              policy = adopted;
              logger.info("policy adopted by vote", { proposal_id: proposal.proposal_id, kinds: Object.keys(policy.kinds) });
              await role.renew();
            },
            proposer: `planner/${holderName(config.X0_INSTANCE)}`,
            metrics: governanceMetrics,
            logger,
          });
    for (const live of gov?.lives ?? []) track(live);
    if (gov?.adopted) policy = gov.adopted;
    logger.info("policy loaded", { kinds: Object.keys(policy.kinds), fallback: policy.fallback.map((rule) => rule.name), governance: gov !== undefined });
    // Every write and publish is fenced: only the leader's land, checked immediately before each one.
    let leadership: Leadership | undefined;
    const isLeader = () => leadership?.isLeader() ?? false;
    const outcomes = new OutcomeStore(new FencedStore(new KvStore(outcomesKv), isLeader));
    const metrics = createMetrics(registry);
    const ackWaitMs = config.X0_PLANNER_LEASE_MS;
    const similar = ragAsker({ nc, deadlineMs: config.X0_PLANNER_RAG_DEADLINE_MS, fallbacks: metrics.ragFallbacks, logger });
    const role: PlannerRole = new PlannerRole({
      newPlanner: () =>
        new Planner({
          policy,
          topologyStore: new FencedStore(new KvStore(topologyKv), isLeader),
          outcomes,
          logger,
          metrics,
          counters,
          ...(config.X0_PLANNER_RAG_DEADLINE_MS > 0 ? { similar } : {}),
          publish: async (plan, msgID, parent) => {
            if (!isLeader()) throw new NotLeader(`plan ${plan.plan_id} not published: this planner is not the leader`);
            // A vote plan names its proposal (derived from the plan id, so a re-planned redelivery names the same one).
            const named = plan.approval === "vote" ? { ...plan, proposal_id: planIdFor(`proposal:${plan.plan_id}`) } : plan;
            // Signed once, before the publish loop: a retried publish carries the same bytes and is stored once.
            const signed = signing.sign("plan", named);
            // The proposal is stored before the plan is published, so an executor never meets a vote plan without one.
            if (signed.approval === "vote") await gov?.governance.openForPlan(signed);
            await bus.publishDurable(contracts.plan, plan.node, signed, { msgID, parent, signal: leadership?.signal });
          },
        }),
      outcomes,
      tickMs: TICK_MS,
      logger,
      consume: async () => [
        await bus.consume(contracts.action, (result) => role.handleResult(result), { durable: "planner-outcomes", jsm: await jsm(), ackWaitMs }),
        await bus.consume(contracts.anomaly, intake, { durable: "planner", jsm: await jsm(), ackWaitMs }),
      ],
    });
    const intake = anomalyIntake({ planner: role, metrics, counters });
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
    track(await followAnnouncements(topologyKv, role, logger));

    // Telemetry is read raw and only in part: the analyzer owns its validation and dead letters.
    const telemetry = nc.subscribe(subjectOf(contracts.telemetry, "*"), {
      callback: (error, msg) => {
        const node = error ? undefined : tokenOf(contracts.telemetry, msg.subject);
        if (node) role.observeTelemetry(node, msg.data);
      },
    });
    track({ name: "subscription x0.telemetry.*", isLive: () => !telemetry.isClosed(), stop: () => telemetry.drain() });

    leadership = await Leadership.start({
      kv: leasesKv,
      service: "planner",
      holder: holderName(config.X0_INSTANCE),
      ttlMs: config.X0_PLANNER_LEASE_MS,
      skewMs: config.X0_PLANNER_LEASE_SKEW_MS,
      logger,
      metrics: createLeadershipMetrics(registry),
      onElected: async () => {
        await role.lead();
        await gov?.lead(true);
      },
      onDemoted: async () => {
        await gov?.lead(false);
        await role.standBy();
      },
    });
    const elected = leadership;
    Object.defineProperties(details, {
      leadership: { enumerable: true, get: () => elected.status() },
      links: { enumerable: true, get: () => role.planner.topology.linkCount() },
      held_links: { enumerable: true, get: () => role.planner.topology.heldCount() },
    });
    // Stopped with the subscriptions, while NATS is up: the leader stops consuming, then releases the lease.
    track({ name: "planner leadership", isLive: () => role.isLive(), stop: () => elected.stop() });
  },
});
