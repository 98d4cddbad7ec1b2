// Request and response contracts of the crypto service (NATS services API, group x0.crypto). Bytes are base64.
import { z } from "zod";
import { EpochMillis, SignatureAlg } from "../contracts/schemas.ts";
import { KeyRecord, Revocation, RotationOrder } from "./keyring.ts";

/** The services-API group of the crypto service. */
export const CRYPTO_GROUP = "x0.crypto";
/** The service name in $SRV discovery. */
export const CRYPTO_SERVICE_NAME = "x0-crypto";

const Bytes = z.string().max(16_384).describe("Bytes, standard base64.");
const Empty = z.object({}).strict().describe("No parameters.");
const ServiceName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

/** Every endpoint: its subject below the group, request and response schemas. */
export const cryptoEndpoints = {
  "kem.keypair": { request: Empty, response: z.object({ public_key: Bytes, secret_key: Bytes.describe("ML-KEM-768 seed d‖z (64 bytes).") }) },
  "kem.encaps": { request: z.object({ public_key: Bytes }), response: z.object({ ciphertext: Bytes, shared_secret: Bytes }) },
  "kem.decaps": { request: z.object({ secret_key: Bytes, ciphertext: Bytes }), response: z.object({ shared_secret: Bytes }) },
  "sig.keypair": {
    request: Empty,
    response: z.object({ public_key: Bytes, secret_key: Bytes.describe("ML-DSA-65 seed or expanded key, as the backend holds it.") }),
  },
  "sig.sign": { request: z.object({ secret_key: Bytes, message: Bytes }), response: z.object({ signature: Bytes }) },
  "sig.verify": { request: z.object({ public_key: Bytes, message: Bytes, signature: Bytes }), response: z.object({ valid: z.boolean() }) },
  "hybrid.keypair": { request: Empty, response: z.object({ public_key: Bytes, secret_key: Bytes.describe("X-Wing 32-byte seed.") }) },
  "hybrid.encaps": { request: z.object({ public_key: Bytes }), response: z.object({ ciphertext: Bytes, shared_secret: Bytes }) },
  "hybrid.decaps": { request: z.object({ secret_key: Bytes, ciphertext: Bytes }), response: z.object({ shared_secret: Bytes }) },
  "keys.rotate": {
    request: z.object({ service: ServiceName, reason: z.string().max(512).default("requested") }),
    response: z.object({ order: RotationOrder, key_id: z.string().optional().describe("The crypto service's new key, when it rotated itself.") }),
  },
  "keys.revoke": { request: z.object({ key_id: z.string().regex(/^[A-Za-z0-9_-]{1,96}$/), reason: z.string().min(1).max(512) }), response: Revocation },
  "keys.list": {
    request: z.object({ service: ServiceName.optional() }),
    response: z.object({ keys: z.array(KeyRecord.extend({ revoked_at: EpochMillis.optional(), revoked_reason: z.string().optional() })) }),
  },
  health: {
    request: Empty,
    response: z.object({
      status: z.literal("ok"),
      backend: z.string(),
      backend_version: z.string(),
      algorithms: z.array(z.string()),
      hybrid: z.literal("X-Wing").describe("draft-connolly-cfrg-xwing-kem (X25519 + ML-KEM-768, SHA3-256 combiner)."),
      signing_alg: SignatureAlg,
      key_id: z.string(),
      kek_source: z.enum(["X0_KEK", "X0_KEK_FILE", "dev"]),
      uptime_ms: z.number().int().nonnegative(),
    }),
  },
} as const;
/** An endpoint name (its subject below {@link CRYPTO_GROUP}). */
export type CryptoEndpoint = keyof typeof cryptoEndpoints;
/** The request of an endpoint. */
export type CryptoRequest<E extends CryptoEndpoint> = z.input<(typeof cryptoEndpoints)[E]["request"]>;
/** The response of an endpoint. */
export type CryptoResponse<E extends CryptoEndpoint> = z.infer<(typeof cryptoEndpoints)[E]["response"]>;
