// Swarm: federated learning of the link-health model. Every instance is its node's agent; the one holding leader.swarm
// in x0_leases also coordinates the rounds and writes the signed model versions to x0_models (README.md).
import {
  Buckets,
  contracts,
  createLeadershipMetrics,
  holderName,
  Leadership,
  LINK_HEALTH_MODEL,
  openBucket,
  openControlPlaneCrypto,
  runService,
  swarmServiceOf,
} from "@x0/shared";
import pkg from "../package.json" with { type: "json" };
import { Agent } from "./agent/agent.ts";
import { adapterSpecOf, checkSwarmConfig, privacyOf, swarmConfigShape } from "./config.ts";
import { Coordinator } from "./coordinator/coordinator.ts";
import { reportModelFailure, reportModelRound, runRounds } from "./coordinator/loop.ts";
import { TrainingSet } from "./features/training-set.ts";
import { createSwarmMetrics } from "./metrics.ts";
import { artefactVerifier } from "./models/artefact.ts";
import { AdapterStore, ModelStore } from "./models/store.ts";
import { startSiteMember } from "./sites/run-site.ts";

const decoder = new TextDecoder();

await runService({
  name: "swarm",
  version: pkg.version,
  httpPort: 9107,
  config: swarmConfigShape,
  checkConfig: checkSwarmConfig,
  async start({ config, bus, nc, logger, metrics: { registry }, counters, details, track, onStop }) {
    const node = config.X0_NODE;
    // Each node's agent signs with its own identity (swarm-<node>): the coordinator accepts a node's update only from it.
    const signing = await openControlPlaneCrypto({ service: swarmServiceOf(node), config, nc, logger });
    // A KEK held in a token: the service is not ready while the token cannot be reached.
    track(signing.kekHealth);
    onStop(() => signing.stop());
    const metrics = createSwarmMetrics(registry);
    const [modelsKv, leasesKv] = await Promise.all([openBucket(nc, Buckets.models), openBucket(nc, Buckets.leases)]);
    const store = new ModelStore(modelsKv, LINK_HEALTH_MODEL);
    const artefacts = artefactVerifier(signing.backend, signing.keyring, config.X0_SIGNATURE_MAX_SKEW_MS);
    const privacy = privacyOf(config);
    const dataNode = config.X0_SWARM_DATA_NODE ?? node;
    const data = TrainingSet.read(config.X0_SWARM_DATA, dataNode);
    const validation = TrainingSet.read(config.X0_SWARM_VALIDATION);
    logger.info("recordings read", { data: config.X0_SWARM_DATA, data_node: dataNode, validation: config.X0_SWARM_VALIDATION });

    let leadership: Leadership | undefined;
    const isLeader = () => leadership?.isLeader() ?? false;
    const agent = new Agent({
      node,
      model: LINK_HEALTH_MODEL,
      data,
      store,
      verifier: signing.verifier,
      artefacts,
      sign: (domain, message) => signing.sign(domain, message),
      publish: (update) => bus.publish(contracts.swarmUpdate, node, update),
    });
    const coordinator = new Coordinator({
      node,
      model: LINK_HEALTH_MODEL,
      settings: {
        deadlineMs: config.X0_SWARM_ROUND_DEADLINE_MS,
        epochs: config.X0_SWARM_EPOCHS,
        learningRate: config.X0_SWARM_LEARNING_RATE,
        batchSize: config.X0_SWARM_BATCH_SIZE,
        maxUpdateNorm: config.X0_SWARM_MAX_UPDATE_NORM,
        aggregator: config.X0_SWARM_AGGREGATOR,
        trim: config.X0_SWARM_TRIM,
        byzantine: config.X0_SWARM_BYZANTINE,
        minParticipants: config.X0_SWARM_MIN_PARTICIPANTS,
        expectedAgents: config.X0_SWARM_EXPECTED_AGENTS,
        hidden: config.X0_SWARM_HIDDEN,
        seed: config.X0_SWARM_SEED,
        window: config.X0_SWARM_WINDOW,
        baselineAlpha: config.X0_SWARM_BASELINE_ALPHA,
        ...(privacy ? { privacy } : {}),
      },
      store,
      validation,
      verifier: signing.verifier,
      artefacts,
      sign: (domain, message) => signing.sign(domain, message),
      publishRound: (round) => bus.publish(contracts.swarmRound, LINK_HEALTH_MODEL, round),
      isLeader,
      logger,
    });
    Object.assign(counters, { rounds_answered: 0, updates_refused: 0 });

    // The agent: one update per verified announcement; a refused announcement is dead-lettered with the reason.
    track(
      bus.subscribe(contracts.swarmRound, async (round, delivery) => {
        coordinator.lastRound = Math.max(coordinator.lastRound, round.round);
        metrics.currentVersion.set(round.base_version);
        const end = metrics.trainDuration.startTimer();
        try {
          const outcome = await agent.onRound(round, JSON.parse(decoder.decode(delivery.data)));
          metrics.agentRounds.inc({ outcome: outcome.kind });
          if (outcome.kind === "submitted") {
            end();
            counters.rounds_answered = agent.answered;
            logger.info("update submitted", {
              round: round.round,
              base_version: round.base_version,
              samples: outcome.samples,
              loss: outcome.update.train_loss,
            });
          } else if (outcome.kind === "refused") {
            bus.deadLetter(delivery.subject, contracts.swarmRound.template, delivery.data, delivery.headers, outcome.reason);
          } else {
            logger.debug("round skipped", { round: round.round, reason: outcome.reason });
          }
        } catch (error) {
          metrics.agentRounds.inc({ outcome: "failed" });
          logger.error("could not answer the round", { round: round.round, error });
        }
      }),
    );
    // The coordinator: updates of its open round, subscribed only while it holds the lease (standbys never see them).
    const listenForUpdates = () =>
      bus.subscribe(contracts.swarmUpdate, async (update, delivery) => {
        const verdict = await coordinator.submit(update, JSON.parse(decoder.decode(delivery.data)), delivery.token);
        if (verdict.accepted) {
          metrics.updates.inc({ outcome: "accepted" });
          return;
        }
        metrics.updates.inc({ outcome: verdict.kind });
        counters.updates_refused = (counters.updates_refused ?? 0) + 1;
        bus.deadLetter(delivery.subject, contracts.swarmUpdate.template, delivery.data, delivery.headers, `refused (${verdict.kind}): ${verdict.reason}`);
      });

    let rounds: Promise<void> | undefined;
    // The first election happens inside Leadership.start: its rounds wait until `leadership` is set.
    const started = Promise.withResolvers<void>();
    leadership = await Leadership.start({
      kv: leasesKv,
      service: "swarm",
      holder: holderName(config.X0_INSTANCE),
      ttlMs: config.X0_SWARM_LEASE_MS,
      skewMs: config.X0_SWARM_LEASE_SKEW_MS,
      logger,
      metrics: createLeadershipMetrics(registry),
      // The rounds run apart from the lease's callbacks, until the term's signal aborts.
      onElected: () => {
        rounds = started.promise.then(async () => {
          const signal = (leadership as Leadership).signal;
          const updates = listenForUpdates();
          try {
            await nc.flush();
            await runRounds({
              runner: coordinator,
              signal,
              intervalMs: config.X0_SWARM_ROUND_INTERVAL_MS,
              logger,
              onClosed: (result) => reportModelRound(result, metrics, logger),
              onFailed: (error) => reportModelFailure(error, metrics, logger),
            });
          } finally {
            await updates.stop().catch((error) => logger.warn("could not stop the update subscription", { error }));
          }
        });
      },
      onDemoted: () => coordinator.abandon(),
    });
    const elected = leadership;
    started.resolve();
    // A site member also fine-tunes its site's adapter with the other members (X0_SWARM_SITE).
    const site = config.X0_SWARM_SITE;
    const member = site
      ? await startSiteMember({
          node,
          site,
          instance: config.X0_INSTANCE,
          settings: {
            adapter: adapterSpecOf(config, site),
            deadlineMs: config.X0_SWARM_ROUND_DEADLINE_MS,
            epochs: config.X0_SWARM_EPOCHS,
            learningRate: config.X0_SWARM_LEARNING_RATE,
            batchSize: config.X0_SWARM_BATCH_SIZE,
            maxUpdateNorm: config.X0_SWARM_MAX_UPDATE_NORM,
            aggregator: config.X0_SWARM_SITE_AGGREGATOR,
            trim: config.X0_SWARM_TRIM,
            byzantine: config.X0_SWARM_BYZANTINE,
            minParticipants: config.X0_SWARM_SITE_MIN_PARTICIPANTS,
            expectedAgents: config.X0_SWARM_SITE_EXPECTED_AGENTS,
            intervalMs: config.X0_SWARM_ROUND_INTERVAL_MS,
            leaseMs: config.X0_SWARM_LEASE_MS,
            leaseSkewMs: config.X0_SWARM_LEASE_SKEW_MS,
          },
          data,
          validation: TrainingSet.read(config.X0_SWARM_SITE_VALIDATION),
          models: store,
          adapters: new AdapterStore(modelsKv, LINK_HEALTH_MODEL, site),
          artefacts,
          signing,
          bus,
          nc,
          leases: leasesKv,
          metrics,
          logger,
        })
      : undefined;
    for (const live of member?.lives ?? []) track(live);
    Object.defineProperties(details, {
      site: { enumerable: true, get: () => member?.status() ?? null },
      leadership: { enumerable: true, get: () => elected.status() },
      round: { enumerable: true, get: () => ({ last: coordinator.lastRound, open: coordinator.openRound?.round ?? null }) },
      data: { enumerable: true, value: { node: dataNode, recordings: config.X0_SWARM_DATA.length } },
    });
    track({
      name: "swarm leadership",
      isLive: () => true,
      stop: async () => {
        await elected.stop();
        await rounds;
      },
    });
  },
});
