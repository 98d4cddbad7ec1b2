// Request and response contracts of the crypto service (NATS services API, group x0.crypto). Bytes are base64.
import { z } from "zod";
import { KeyId, KeyRecord, Revocation, RotationOrder, ServiceName } from "./keyring.ts";
import { EpochMillis, SignatureAlg } from "./schemas.ts";

/** The services-API group of the crypto service. */
export const CRYPTO_GROUP = "x0.crypto";
/** The service name in $SRV discovery. */
export const CRYPTO_SERVICE_NAME = "x0-crypto";

const Bytes = z.string().max(16_384).describe("Bytes, standard base64.");
const Empty = z.object({}).strict().describe("No parameters.");

/** Every endpoint: its subject below the group, what it does, request and response schemas. */
export const cryptoEndpoints = {
  "kem.keypair": {
    summary: "A fresh ML-KEM-768 key pair.",
    request: Empty,
    response: z.object({ public_key: Bytes, secret_key: Bytes.describe("ML-KEM-768 seed d‖z (64 bytes).") }),
  },
  "kem.encaps": {
    summary: "Encapsulate a shared secret to an ML-KEM-768 public key.",
    request: z.object({ public_key: Bytes }),
    response: z.object({ ciphertext: Bytes, shared_secret: Bytes }),
  },
  "kem.decaps": {
    summary: "Decapsulate an ML-KEM-768 ciphertext with the secret key.",
    request: z.object({ secret_key: Bytes, ciphertext: Bytes }),
    response: z.object({ shared_secret: Bytes }),
  },
  "sig.keypair": {
    summary: "A fresh ML-DSA-65 key pair.",
    request: Empty,
    response: z.object({ public_key: Bytes, secret_key: Bytes.describe("ML-DSA-65 seed or expanded key, as the backend holds it.") }),
  },
  "sig.sign": {
    summary: "Sign a message with an ML-DSA-65 secret key.",
    request: z.object({ secret_key: Bytes, message: Bytes }),
    response: z.object({ signature: Bytes }),
  },
  "sig.verify": {
    summary: "Verify an ML-DSA-65 signature.",
    request: z.object({ public_key: Bytes, message: Bytes, signature: Bytes }),
    response: z.object({ valid: z.boolean() }),
  },
  "hybrid.keypair": {
    summary: "A fresh X-Wing (X25519 + ML-KEM-768) key pair.",
    request: Empty,
    response: z.object({ public_key: Bytes, secret_key: Bytes.describe("X-Wing 32-byte seed.") }),
  },
  "hybrid.encaps": {
    summary: "Encapsulate a shared secret to an X-Wing public key.",
    request: z.object({ public_key: Bytes }),
    response: z.object({ ciphertext: Bytes, shared_secret: Bytes }),
  },
  "hybrid.decaps": {
    summary: "Decapsulate an X-Wing ciphertext.",
    request: z.object({ secret_key: Bytes, ciphertext: Bytes }),
    response: z.object({ shared_secret: Bytes }),
  },
  "keys.rotate": {
    summary: "Order a service to rotate its signing key (the crypto service rotates its own at once).",
    request: z.object({ service: ServiceName, reason: z.string().max(512).default("requested") }),
    response: z.object({ order: RotationOrder, key_id: z.string().optional().describe("The crypto service's new key, when it rotated itself.") }),
  },
  "keys.revoke": {
    summary: "Revoke a signing key: nothing it signs verifies any more.",
    request: z.object({ key_id: KeyId, reason: z.string().min(1).max(512) }),
    response: Revocation,
  },
  "keys.list": {
    summary: "The keyring: every public signing key, with revocations.",
    request: z.object({ service: ServiceName.optional() }),
    response: z.object({ keys: z.array(KeyRecord.extend({ revoked_at: EpochMillis.optional(), revoked_reason: z.string().optional() })) }),
  },
  health: {
    summary: "Backend, algorithms and the service's own key.",
    request: Empty,
    response: z.object({
      status: z.literal("ok"),
      backend: z.string(),
      backend_version: z.string(),
      algorithms: z.array(z.string()),
      hybrid: z.literal("X-Wing").describe("draft-connolly-cfrg-xwing-kem (X25519 + ML-KEM-768, SHA3-256 combiner)."),
      signing_alg: SignatureAlg,
      key_id: z.string(),
      kek_source: z.enum(["X0_KEK", "X0_KEK_FILE", "dev", "pkcs11"]),
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
