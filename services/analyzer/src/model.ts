// The swarm's adopted link-health model, followed in x0_models, and the adopted adapters of the sites this analyzer's
// nodes belong to: each new version is loaded only if its ML-DSA signature verifies with its coordinator's swarm
// identity; a refused one is logged and counted, and the loaded one stays.

import type { NatsConnection } from "@nats-io/transport-node";
import { Buckets, currentModelKey, Keyring, LINK_HEALTH_MODEL, type Live, type Logger, openBucket, selectBackend } from "@x0/shared";
import { artefactVerifier, type LoadedAdapter, type LoadedModel, verifyAdapter, verifyModel } from "@x0/swarm";

/** What following the model needs. */
export interface FollowModelOptions {
  nc: NatsConnection;
  logger: Logger;
  /** Gets each verified version. */
  onModel: (model: LoadedModel) => void;
  /** Counts each version seen, loaded or refused. */
  onOutcome: (outcome: "loaded" | "refused", kind: "model" | "adapter") => void;
  /** Sites whose adapters to follow (X0_ANALYZER_SITES), and what gets each verified one (it may refuse by throwing). */
  sites?: readonly string[];
  onAdapter?: (adapter: LoadedAdapter) => void;
}

/** Loads the adopted model (and the sites' adapters) now, if any, and every later one. */
export async function followModel({ nc, logger, onModel, onOutcome, sites = [], onAdapter }: FollowModelOptions): Promise<Live> {
  const keyring = await Keyring.open(nc, logger);
  const verifier = artefactVerifier(await selectBackend({ logger }), keyring);
  const kv = await openBucket(nc, Buckets.models);
  const modelKey = currentModelKey(LINK_HEALTH_MODEL);
  // Two watches (nats-server 2.9 has no multi-filter consumers): the model's current key, and every site's
  // (`link-health.site.<site>.current`); each starts with the current values.
  const keys = sites.length > 0 ? [modelKey, `${LINK_HEALTH_MODEL}.site.*.current`] : [modelKey];
  const watchers = await Promise.all(keys.map((key) => kv.watch({ key })));
  let live = true;
  const follow = async (watcher: (typeof watchers)[number]) => {
    for await (const entry of watcher) {
      if (entry.operation !== "PUT") continue;
      const kind = entry.key === modelKey ? "model" : "adapter";
      if (kind === "adapter" && !sites.includes(entry.key.split(".")[2] ?? "")) continue;
      try {
        if (kind === "model") {
          const loaded = await verifyModel(verifier, entry.json());
          onModel(loaded);
          logger.info("link-health model loaded", {
            version: loaded.record.version,
            macro_f1: loaded.record.validation.macro_f1,
            coordinator: loaded.record.coordinator,
          });
        } else {
          const adapter = await verifyAdapter(verifier, entry.json());
          onAdapter?.(adapter);
          logger.info("site adapter loaded", {
            site: adapter.record.site,
            version: adapter.record.version,
            base_version: adapter.record.base_version,
            macro_f1: adapter.record.validation.macro_f1,
            base_macro_f1: adapter.record.base_macro_f1,
          });
        }
        onOutcome("loaded", kind);
      } catch (error) {
        onOutcome("refused", kind);
        logger.error(`${kind} version refused; the loaded one (if any) stays`, { key: entry.key, revision: entry.revision, error });
      }
    }
  };
  const loop = Promise.all(watchers.map((watcher) => follow(watcher)))
    .catch((error) => logger.error("model watch ended", { error }))
    .finally(() => {
      live = false;
    });
  return {
    name: `watch x0_models ${keys.join(" ")}`,
    isLive: () => live,
    stop: async () => {
      for (const watcher of watchers) watcher.stop();
      keyring.stop();
      await loop;
    },
  };
}
