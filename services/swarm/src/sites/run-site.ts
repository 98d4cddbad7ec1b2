// A site member's wiring: the member answers its site's adapter rounds; while it holds leader.swarm-site.<site> it also
// coordinates them (subscribed to updates only then) and writes the site's signed adapters (README: site adapters).
import type { NatsConnection } from "@nats-io/transport-node";
import {
  type Bus,
  type ControlPlaneCrypto,
  contracts,
  holderName,
  Leadership,
  LINK_HEALTH_MODEL,
  type Live,
  type Logger,
  type MessageVerifier,
  siteLeaseService,
} from "@x0/shared";
import { reportAdapterRound, runRounds } from "../coordinator/loop.ts";
import type { TrainingSet } from "../features/training-set.ts";
import type { SwarmMetrics } from "../metrics.ts";
import type { AdapterStore, ModelStore } from "../models/store.ts";
import { SiteAgent } from "./site-agent.ts";
import { NoBaseModel, SiteCoordinator, type SiteSettings } from "./site-coordinator.ts";

/** What a site member needs. */
export interface SiteMemberOptions {
  node: string;
  site: string;
  instance: string;
  /** The rounds, and the site lease (x0_leader counts the model's lease only; the site's shows in /status). */
  settings: SiteSettings & { intervalMs: number; leaseMs: number; leaseSkewMs: number };
  data: TrainingSet;
  validation: TrainingSet;
  models: ModelStore;
  adapters: AdapterStore;
  artefacts: MessageVerifier;
  signing: ControlPlaneCrypto;
  bus: Bus;
  nc: NatsConnection;
  leases: Parameters<typeof Leadership.start>[0]["kv"];
  metrics: SwarmMetrics;
  logger: Logger;
}

const decoder = new TextDecoder();

/** Starts a site member: its agent subscription and its part in the site's lease; returns what to stop and a status. */
export async function startSiteMember(options: SiteMemberOptions): Promise<{ lives: Live[]; status: () => Record<string, unknown> }> {
  const { node, site, bus, signing, metrics, logger } = options;
  const siteLogger = logger.child({ site });
  const agent = new SiteAgent({
    node,
    site,
    model: LINK_HEALTH_MODEL,
    data: options.data,
    models: options.models,
    adapters: options.adapters,
    verifier: signing.verifier,
    artefacts: options.artefacts,
    sign: (domain, message) => signing.sign(domain, message),
    publish: (update) => bus.publish(contracts.adapterUpdate, node, update),
  });
  let leadership: Leadership | undefined;
  const coordinator = new SiteCoordinator({
    node,
    site,
    model: LINK_HEALTH_MODEL,
    settings: options.settings,
    models: options.models,
    adapters: options.adapters,
    validation: options.validation,
    verifier: signing.verifier,
    artefacts: options.artefacts,
    sign: (domain, message) => signing.sign(domain, message),
    publishRound: (round) => bus.publish(contracts.adapterRound, site, round),
    isLeader: () => leadership?.isLeader() ?? false,
    logger: siteLogger,
  });
  // The member: only its own site's announcements (the subject's token is the site).
  const rounds = bus.subscribe(
    contracts.adapterRound,
    async (round, delivery) => {
      coordinator.lastRound = Math.max(coordinator.lastRound, round.round);
      try {
        const outcome = await agent.onRound(round, JSON.parse(decoder.decode(delivery.data)));
        metrics.adapterAgentRounds.inc({ outcome: outcome.kind });
        if (outcome.kind === "submitted") siteLogger.info("adapter update submitted", { round: round.round, samples: outcome.samples });
        else if (outcome.kind === "refused") bus.deadLetter(delivery.subject, contracts.adapterRound.template, delivery.data, delivery.headers, outcome.reason);
        else siteLogger.debug("adapter round skipped", { round: round.round, reason: outcome.reason });
      } catch (error) {
        metrics.adapterAgentRounds.inc({ outcome: "failed" });
        siteLogger.error("could not answer the adapter round", { round: round.round, error });
      }
    },
    { token: site },
  );
  // The coordinator: members' updates while it holds the site's lease; other sites' updates are theirs, not refused here.
  const listenForUpdates = () =>
    bus.subscribe(contracts.adapterUpdate, async (update, delivery) => {
      if (update.site !== site) return;
      const verdict = await coordinator.submit(update, JSON.parse(decoder.decode(delivery.data)), delivery.token);
      metrics.adapterUpdates.inc({ outcome: verdict.accepted ? "accepted" : verdict.kind });
      if (!verdict.accepted) {
        bus.deadLetter(delivery.subject, contracts.adapterUpdate.template, delivery.data, delivery.headers, `refused (${verdict.kind}): ${verdict.reason}`);
      }
    });
  let running: Promise<void> | undefined;
  const started = Promise.withResolvers<void>();
  leadership = await Leadership.start({
    kv: options.leases,
    service: siteLeaseService(site),
    holder: holderName(options.instance),
    ttlMs: options.settings.leaseMs,
    skewMs: options.settings.leaseSkewMs,
    logger: siteLogger,
    onElected: () => {
      running = started.promise.then(async () => {
        const signal = (leadership as Leadership).signal;
        const updates = listenForUpdates();
        try {
          await options.nc.flush();
          await runRounds({
            runner: coordinator,
            signal,
            intervalMs: options.settings.intervalMs,
            logger: siteLogger,
            onClosed: (result) => reportAdapterRound(result, metrics, siteLogger),
            onFailed: (error) => {
              metrics.adapterRounds.inc({ outcome: error instanceof NoBaseModel ? "no_base" : "failed" });
              if (error instanceof NoBaseModel) siteLogger.info("adapter round not opened", { reason: error.message });
              else siteLogger.error("adapter round failed", { error });
            },
          });
        } finally {
          await updates.stop().catch((error) => siteLogger.warn("could not stop the adapter update subscription", { error }));
        }
      });
    },
    onDemoted: () => coordinator.abandon(),
  });
  const elected = leadership;
  started.resolve();
  return {
    lives: [
      rounds,
      {
        name: `site ${site} leadership`,
        isLive: () => true,
        stop: async () => {
          await elected.stop();
          await running;
        },
      },
    ],
    status: () => ({
      site,
      leadership: elected.status(),
      round: { last: coordinator.lastRound, open: coordinator.openRound?.round ?? null },
      answered: agent.answered,
    }),
  };
}
