// The x0_keyring records every signing service reads: public keys, revocations and rotation orders.
import { z } from "zod";
import { EpochMillis, SignatureAlg } from "./schemas.ts";

/** A key id: what `key.<key_id>` and signatures name. */
export const KeyId = z.string().regex(/^[A-Za-z0-9_-]{1,96}$/);
/** A service name as the keyring records it. */
export const ServiceName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

/** `key.<key_id>`: a public signing key and its validity window. */
export const KeyRecord = z.object({
  v: z.literal(1),
  key_id: KeyId,
  service: ServiceName.describe("Service holding the private key."),
  alg: SignatureAlg,
  mldsa_public: z.string().describe("ML-DSA-65 public key (FIPS 204 encoding), base64."),
  ed25519_public: z.string().optional().describe("Ed25519 public key, base64 (hybrid keys)."),
  not_before: EpochMillis,
  not_after: EpochMillis.describe("Signatures made after this are rejected; shortened to now + overlap when the key is rotated out."),
  created_at: EpochMillis,
});
/** A key record. */
export type KeyRecord = z.infer<typeof KeyRecord>;

/** `revoked.<key_id>`: written by the key authority only; a revoked key verifies nothing. */
export const Revocation = z.object({ v: z.literal(1), key_id: KeyId, revoked_at: EpochMillis, reason: z.string().max(512) });
/** A revocation. */
export type Revocation = z.infer<typeof Revocation>;

/** `rotate.<service>`: the key authority asks a service to rotate its signing key now. */
export const RotationOrder = z.object({ v: z.literal(1), service: ServiceName, requested_at: EpochMillis, reason: z.string().max(512) });
/** A rotation order. */
export type RotationOrder = z.infer<typeof RotationOrder>;
