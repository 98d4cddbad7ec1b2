// The swarm's adopted link-health model, followed in x0_models: each new version is loaded only if its ML-DSA signature
// verifies with its coordinator's swarm identity; a refused one is logged and counted, and the loaded one stays.

import type { NatsConnection } from "@nats-io/transport-node";
import { Buckets, currentModelKey, Keyring, LINK_HEALTH_MODEL, type Live, type Logger, openBucket, selectBackend } from "@x0/shared";
import { artefactVerifier, type LoadedModel, verifyModel } from "@x0/swarm";

/** What following the model needs. */
export interface FollowModelOptions {
  nc: NatsConnection;
  logger: Logger;
  /** Gets each verified version. */
  onModel: (model: LoadedModel) => void;
  /** Counts each version seen, loaded or refused. */
  onOutcome: (outcome: "loaded" | "refused") => void;
}

/** Loads the adopted model now (if any) and every later one. */
export async function followModel({ nc, logger, onModel, onOutcome }: FollowModelOptions): Promise<Live> {
  const keyring = await Keyring.open(nc, logger);
  const verifier = artefactVerifier(selectBackend({ logger }), keyring);
  const kv = await openBucket(nc, Buckets.models);
  // The watch starts with the current value, then every change.
  const watcher = await kv.watch({ key: currentModelKey(LINK_HEALTH_MODEL) });
  let live = true;
  const loop = (async () => {
    for await (const entry of watcher) {
      if (entry.operation !== "PUT") continue;
      try {
        const loaded = await verifyModel(verifier, entry.json());
        onModel(loaded);
        onOutcome("loaded");
        logger.info("link-health model loaded", {
          version: loaded.record.version,
          macro_f1: loaded.record.validation.macro_f1,
          coordinator: loaded.record.coordinator,
        });
      } catch (error) {
        onOutcome("refused");
        logger.error("link-health model refused; the loaded one (if any) stays", { revision: entry.revision, error });
      }
    }
  })()
    .catch((error) => logger.error("model watch ended", { error }))
    .finally(() => {
      live = false;
    });
  return {
    name: `watch x0_models ${currentModelKey(LINK_HEALTH_MODEL)}`,
    isLive: () => live,
    stop: async () => {
      watcher.stop();
      keyring.stop();
      await loop;
    },
  };
}
