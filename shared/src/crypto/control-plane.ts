// What a signing service wires at start: backend, keyring, KEK, its signing identity and a verifier.
import { existsSync } from "node:fs";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import type { SignatureAlg } from "../contracts/schemas.ts";
import type { Logger } from "../observability/logger.ts";
import type { PqBackend } from "./backend.ts";
import { HedgedSigner, withHedgedSigning } from "./hedged.ts";
import { SigningIdentity } from "./identity.ts";
import { type KekSource, loadKek, parseKek } from "./kek.ts";
import { Keyring } from "./keyring.ts";
import { selectBackend } from "./select.ts";
import { MessageVerifier, type SignedDomain, signMessage } from "./signing.ts";

const millis = (min: number, fallback: number) =>
  z.coerce
    .number()
    .int()
    .min(min)
    .max(365 * 24 * 3600_000)
    .default(fallback);

/** Config of services that sign and verify control-plane messages (keys are environment variables). */
export const cryptoConfigShape = {
  /** `auto` (liboqs when present, else native), `liboqs` (required) or `native`. */
  X0_CRYPTO_BACKEND: z.enum(["auto", "liboqs", "native"]).default("auto"),
  /** Path of liboqs.so; unset: the system loader is asked. */
  OQS_LIB: z
    .string()
    .optional()
    .refine((path) => path === undefined || existsSync(path), "file not found"),
  /** Key-encryption key: 32 bytes, base64. */
  X0_KEK: z
    .string()
    .optional()
    .refine((text) => {
      if (text === undefined) return true;
      try {
        parseKek(text, "X0_KEK");
        return true;
      } catch {
        return false;
      }
    }, "must be 32 bytes, base64"),
  /** File holding the KEK (32 bytes, base64). */
  X0_KEK_FILE: z
    .string()
    .optional()
    .refine((path) => path === undefined || existsSync(path), "file not found"),
  /** Folder of sealed private keys (and of the development KEK when neither X0_KEK nor X0_KEK_FILE is set). */
  X0_KEY_DIR: z.string().min(1).default(".x0/keys"),
  /** `ml-dsa-65`, or `ml-dsa-65+ed25519` (hybrid: both signatures must verify). */
  X0_SIGNING_ALG: z
    .enum(["ml-dsa-65", "ml-dsa-65+ed25519"])
    .default("ml-dsa-65")
    .transform((alg): SignatureAlg => (alg === "ml-dsa-65" ? "ML-DSA-65" : "ML-DSA-65+Ed25519")),
  /** How long a key signs before it is rotated [1 day]. */
  X0_KEY_ROTATE_INTERVAL_MS: millis(1000, 86_400_000),
  /** How long a rotated-out key still verifies [1 hour]. */
  X0_KEY_OVERLAP_MS: millis(0, 3_600_000),
  /** Oldest signature accepted (replay window) [5 minutes]. */
  X0_SIGNATURE_MAX_AGE_MS: millis(1000, 300_000),
  /** Clock skew tolerated [30 s]. */
  X0_SIGNATURE_MAX_SKEW_MS: millis(0, 30_000),
  /**
   * Threads racing to sign each control-plane message with the native backend (hedged ML-DSA-65: the first signature
   * wins, which cuts the tail of its rejection sampling for about twice the CPU, when two CPUs are free and cross-CPU
   * wake-ups are cheap; measured by bench:crypto); 0 signs on the service's thread [0].
   */
  X0_SIGN_HEDGE_THREADS: z.coerce
    .number()
    .int()
    .min(0)
    .max(8)
    .refine((threads) => threads !== 1, "0 (off) or at least 2: one thread only adds a hop")
    .default(0),
};

/** The parsed crypto config. */
export type CryptoConfig = z.infer<z.ZodObject<typeof cryptoConfigShape>>;

/** A service's control-plane crypto. */
export interface ControlPlaneCrypto {
  backend: PqBackend;
  keyring: Keyring;
  identity: SigningIdentity;
  verifier: MessageVerifier;
  kekSource: KekSource;
  /** Threads racing to sign control-plane messages (0: signed on the service's thread). */
  signThreads: number;
  /** Signs `message` for `domain` with the current key, in-process. */
  sign<T extends object>(domain: SignedDomain, message: T): T & { signature: NonNullable<ReturnType<typeof signMessage>["signature"]> };
  stop(): void;
}

/** Opens backend, keyring, KEK and signing identity of `service`. */
export async function openControlPlaneCrypto({
  service,
  config,
  nc,
  logger,
}: {
  service: string;
  config: CryptoConfig;
  nc: NatsConnection;
  logger: Logger;
}): Promise<ControlPlaneCrypto> {
  const backend = selectBackend({ preference: config.X0_CRYPTO_BACKEND, oqsLib: config.OQS_LIB, logger });
  const { kek, source } = loadKek({ kek: config.X0_KEK, kekFile: config.X0_KEK_FILE, dir: config.X0_KEY_DIR, logger });
  const keyring = await Keyring.open(nc, logger);
  const identity = await SigningIdentity.open({
    service,
    backend,
    keyring,
    kek,
    dir: config.X0_KEY_DIR,
    alg: config.X0_SIGNING_ALG,
    rotateIntervalMs: config.X0_KEY_ROTATE_INTERVAL_MS,
    overlapMs: config.X0_KEY_OVERLAP_MS,
    logger,
  });
  const verifier = new MessageVerifier({ backend, keys: keyring, maxAgeMs: config.X0_SIGNATURE_MAX_AGE_MS, maxSkewMs: config.X0_SIGNATURE_MAX_SKEW_MS });
  // Only control-plane messages signed with the service's own key are hedged; `backend` (the crypto API) is left as it is.
  const hedged =
    config.X0_SIGN_HEDGE_THREADS >= 2 && backend.name === "native"
      ? new HedgedSigner({
          threads: config.X0_SIGN_HEDGE_THREADS,
          onError: (error) => logger.error("hedged signing turned off, signing on the service thread", { error }),
        })
      : undefined;
  const signingBackend = hedged ? withHedgedSigning(backend, hedged) : backend;
  logger.info("control-plane crypto ready", {
    backend: backend.name,
    version: backend.version,
    key_id: identity.current().keyId,
    kek: source,
    sign_threads: hedged?.threads ?? 0,
  });
  return {
    backend,
    keyring,
    identity,
    verifier,
    kekSource: source,
    signThreads: hedged?.threads ?? 0,
    sign: (domain, message) => signMessage(signingBackend, domain, message, identity.current()),
    stop: () => {
      hedged?.close();
      identity.stop();
      keyring.stop();
    },
  };
}
