// What a signing service wires at start: backend, keyring, KEK, its signing identity and a verifier.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import type { Live } from "../contracts/bus.ts";
import type { SignatureAlg } from "../contracts/schemas.ts";
import { ConfigError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { PqBackend } from "./backend.ts";
import { HedgedSigner, withHedgedSigning } from "./hedged.ts";
import { HsmKek, readPinFile } from "./hsm-kek.ts";
import { SigningIdentity } from "./identity.ts";
import { fileKek, type Kek, type KekSource, kekChain, loadKek, parseKek } from "./kek.ts";
import { Keyring } from "./keyring.ts";
import { Pkcs11Error } from "./pkcs11.ts";
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
  X0_CRYPTO_BACKEND: z
    .enum(["auto", "liboqs", "native", "liboqs-wasm"])
    .default("auto")
    .describe("`auto` (liboqs through FFI when present, else native, else liboqs-wasm), or one of them required: `liboqs`, `native`, `liboqs-wasm`."),
  OQS_LIB: z
    .string()
    .optional()
    .refine((path) => path === undefined || existsSync(path), "file not found")
    .describe("Path of liboqs.so; unset: the system loader is asked."),
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
    }, "must be 32 bytes, base64")
    .describe("Key-encryption key: 32 bytes, base64."),
  X0_KEK_FILE: z
    .string()
    .optional()
    .refine((path) => path === undefined || existsSync(path), "file not found")
    .describe("File holding the KEK (32 bytes, base64)."),
  X0_KEK_SOURCE: z
    .enum(["file", "pkcs11"])
    .default("file")
    .describe(
      "Where the KEK is: `file` (X0_KEK, X0_KEK_FILE, else a development KEK) or `pkcs11` (an AES-256 key inside a token, X0_PKCS11_*; X0_KEK or X0_KEK_FILE, when also set, still opens the records a file KEK sealed) [file].",
    ),
  X0_PKCS11_MODULE: z
    .string()
    .optional()
    .refine((path) => path === undefined || existsSync(path), "file not found")
    .describe("The PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so) [pkcs11 only]."),
  X0_PKCS11_TOKEN: z.string().min(1).max(32).optional().describe("Label of the token holding the KEK [pkcs11 only]."),
  X0_PKCS11_KEY_LABEL: z.string().min(1).max(64).default("x0-kek").describe("Label of the KEK in the token [x0-kek]."),
  X0_PKCS11_PIN_FILE: z
    .string()
    .optional()
    .refine((path) => path === undefined || existsSync(path), "file not found")
    .describe("File holding the token's user PIN, readable by its owner only (0600) [pkcs11 only]."),
  X0_KEY_DIR: z
    .string()
    .min(1)
    .default(".x0/keys")
    .describe("Folder of sealed private keys (and of the development KEK when neither X0_KEK nor X0_KEK_FILE is set)."),
  X0_SIGNING_ALG: z
    .enum(["ml-dsa-65", "ml-dsa-65+ed25519"])
    .default("ml-dsa-65")
    .transform((alg): SignatureAlg => (alg === "ml-dsa-65" ? "ML-DSA-65" : "ML-DSA-65+Ed25519"))
    .describe("`ml-dsa-65`, or `ml-dsa-65+ed25519` (hybrid: both signatures must verify)."),
  X0_KEY_ROTATE_INTERVAL_MS: millis(1000, 86_400_000).describe("How long a key signs before it is rotated [1 day]."),
  X0_KEY_OVERLAP_MS: millis(0, 3_600_000).describe("How long a rotated-out key still verifies [1 hour]."),
  X0_SIGNATURE_MAX_AGE_MS: millis(1000, 300_000).describe("Oldest signature accepted (replay window) [5 minutes]."),
  X0_SIGNATURE_MAX_SKEW_MS: millis(0, 30_000).describe("Clock skew tolerated [30 s]."),
  X0_SIGN_HEDGE_THREADS: z.coerce
    .number()
    .int()
    .min(0)
    .max(8)
    .refine((threads) => threads !== 1, "0 (off) or at least 2: one thread only adds a hop")
    .default(0)
    .describe(
      "Threads racing to sign each control-plane message with the native backend (hedged ML-DSA-65: the first signature wins, which cuts the tail of its rejection sampling for about twice the CPU, when two CPUs are free and cross-CPU wake-ups are cheap; measured by bench:crypto); 0 signs on the service's thread [0].",
    ),
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
  /** The KEK's state for readiness: a token-held KEK is checked every 5 s and the service is not ready while it is lost. */
  kekHealth: Live;
  /** Threads racing to sign control-plane messages (0: signed on the service's thread). */
  signThreads: number;
  /** Signs `message` for `domain` with the current key, in-process. */
  sign<T extends object>(domain: SignedDomain, message: T): T & { signature: NonNullable<ReturnType<typeof signMessage>["signature"]> };
  stop(): void;
}

/** How often a token-held KEK is checked (its state is the service's readiness). */
const KEK_CHECK_MS = 5000;

/** The KEK the config names; ConfigError naming the variable when the token, the PIN or the key is wrong. */
export function openKek(config: CryptoConfig, logger: Logger): Kek {
  if (config.X0_KEK_SOURCE === "file") {
    const { kek, source } = loadKek({ kek: config.X0_KEK, kekFile: config.X0_KEK_FILE, dir: config.X0_KEY_DIR, logger });
    return fileKek(kek, source as Exclude<KekSource, "pkcs11">);
  }
  const required = (name: "X0_PKCS11_MODULE" | "X0_PKCS11_TOKEN" | "X0_PKCS11_PIN_FILE"): string => {
    const value = config[name];
    if (!value) throw new ConfigError(name, "required with X0_KEK_SOURCE=pkcs11");
    return value;
  };
  const settings = { module: required("X0_PKCS11_MODULE"), token: required("X0_PKCS11_TOKEN"), keyLabel: config.X0_PKCS11_KEY_LABEL, pin: "" };
  try {
    settings.pin = readPinFile(required("X0_PKCS11_PIN_FILE"));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError("X0_PKCS11_PIN_FILE", (error as Error).message, { cause: error });
  }
  let hsm: HsmKek;
  try {
    hsm = HsmKek.open(settings, logger);
  } catch (error) {
    const code = error instanceof Pkcs11Error ? error.code : "";
    const variable = /PIN/.test(code)
      ? "X0_PKCS11_PIN_FILE"
      : code === "CKR_TOKEN_NOT_PRESENT"
        ? "X0_PKCS11_TOKEN"
        : error instanceof Pkcs11Error
          ? "X0_PKCS11_MODULE"
          : "X0_PKCS11_KEY_LABEL";
    throw new ConfigError(variable, (error as Error).message, { cause: error });
  }
  logger.info("KEK in a PKCS#11 token", { module: settings.module, token: settings.token, key: settings.keyLabel });
  // Records a file KEK sealed stay readable while they are being moved (x0 keys rewrap).
  const previous =
    config.X0_KEK || config.X0_KEK_FILE || existsSync(join(config.X0_KEY_DIR, "dev-kek"))
      ? loadKek({ kek: config.X0_KEK, kekFile: config.X0_KEK_FILE, dir: config.X0_KEY_DIR, logger })
      : undefined;
  return kekChain(hsm, previous ? fileKek(previous.kek, previous.source as Exclude<KekSource, "pkcs11">) : undefined);
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
  const backend = await selectBackend({ preference: config.X0_CRYPTO_BACKEND, oqsLib: config.OQS_LIB, logger });
  const kek = openKek(config, logger);
  const source = kek.source;
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
  let kekHealthy = true;
  // A file KEK cannot go away: only a token's is checked.
  const kekCheck =
    source === "pkcs11"
      ? setInterval(() => {
          kekHealthy = kek.healthy();
        }, KEK_CHECK_MS)
      : undefined;
  kekCheck?.unref?.();
  const kekHealth: Live = { name: `KEK (${source})`, isLive: () => kekHealthy, stop: async () => clearInterval(kekCheck) };
  return {
    backend,
    keyring,
    identity,
    verifier,
    kekSource: source,
    kekHealth,
    signThreads: hedged?.threads ?? 0,
    sign: (domain, message) => signMessage(signingBackend, domain, message, identity.current()),
    stop: () => {
      clearInterval(kekCheck);
      hedged?.close();
      identity.stop();
      keyring.stop();
      kek.close();
    },
  };
}
