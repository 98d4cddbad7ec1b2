// Signed control-plane messages: sign over a canonical encoding, verify with key validity, revocation and replay checks.
import { MessageSignature, type SignatureAlg } from "../contracts/schemas.ts";
import type { PqBackend } from "./backend.ts";
import { ML_DSA_65 } from "./backend.ts";
import { fromBase64, toBase64 } from "./bytes.ts";
import { canonicalObject } from "./canonical.ts";
import { ed25519Sign, ed25519Verify } from "./ed25519.ts";
import { InvalidCryptoInput } from "./errors.ts";

/** What a signature is for; part of the signed bytes, so a signed result can never pass as a plan. */
export type SignedDomain =
  | "plan"
  | "action"
  | "swarm-round"
  | "swarm-update"
  | "swarm-model"
  | "swarm-adapter-round"
  | "swarm-adapter-update"
  | "swarm-adapter"
  | "gov-proposal"
  | "gov-tally";

/** A private signing key held in memory. */
export interface SigningKey {
  keyId: string;
  alg: SignatureAlg;
  /** ML-DSA-65 secret key (seed or expanded). */
  mldsaSecret: Uint8Array;
  /** Ed25519 secret key, for the hybrid algorithm. */
  ed25519Secret?: Uint8Array;
}

/** A public key as verifiers see it (from the x0_keyring bucket). */
export interface VerifyingKey {
  keyId: string;
  service: string;
  alg: SignatureAlg;
  mldsaPublic: Uint8Array;
  ed25519Public?: Uint8Array;
  notBefore: number;
  notAfter: number;
  /** Set when the key authority revoked the key. */
  revokedAt?: number;
}

const encoder = new TextEncoder();

/** The bytes a signature covers: a domain tag and the canonical JSON of the message with its signature's metadata (not the values). */
export function signedBytes(
  domain: SignedDomain,
  message: Record<string, unknown>,
  meta: Pick<MessageSignature, "key_id" | "alg" | "nonce" | "signed_at">,
): Uint8Array {
  const signature = { key_id: meta.key_id, alg: meta.alg, nonce: meta.nonce, signed_at: meta.signed_at };
  return encoder.encode(`x0tta6bl4/${domain}/v1\n${canonicalObject(message, { signature })}`);
}

/** A fresh 16-byte nonce, base64url. */
export function newNonce(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64url");
}

/**
 * Returns `message` with a `signature` by `key` (any existing signature is replaced).
 * @example const signed = signMessage(backend, "plan", plan, identity.current());
 */
export function signMessage<T extends object>(
  backend: PqBackend,
  domain: SignedDomain,
  message: T,
  key: SigningKey,
  now = Date.now(),
): T & { signature: MessageSignature } {
  const meta = { key_id: key.keyId, alg: key.alg, nonce: newNonce(), signed_at: now };
  const bytes = signedBytes(domain, message as Record<string, unknown>, meta);
  const signature: MessageSignature = { ...meta, value: toBase64(backend.sigSign(key.mldsaSecret, bytes)) };
  if (key.alg === "ML-DSA-65+Ed25519") {
    if (!key.ed25519Secret) throw new InvalidCryptoInput(`key ${key.keyId} is hybrid but has no Ed25519 secret`);
    signature.value_ed25519 = toBase64(ed25519Sign(key.ed25519Secret, bytes));
  }
  return { ...message, signature };
}

/** Why a signed message was rejected (bounded label values for metrics). */
export const Rejection = {
  unsigned: "unsigned",
  malformed: "malformed_signature",
  unknownKey: "unknown_key",
  revokedKey: "revoked_key",
  keyNotValid: "key_not_valid",
  badSignature: "bad_signature",
  stale: "stale",
  replayed: "replayed",
} as const;
/** A rejection reason. */
export type Rejection = (typeof Rejection)[keyof typeof Rejection];

/** The outcome of {@link MessageVerifier.verify}. */
export type VerifyResult = { ok: true; key: VerifyingKey } | { ok: false; reason: Rejection; detail: string };

/** Where a verifier finds public keys: the in-memory keyring first, the KV bucket on a miss. */
export interface KeyLookup {
  get(keyId: string): VerifyingKey | undefined | Promise<VerifyingKey | undefined>;
}

/** Options of {@link MessageVerifier}. */
export interface VerifierOptions {
  backend: PqBackend;
  keys: KeyLookup;
  /** Oldest accepted signed_at, relative to now. */
  maxAgeMs?: number;
  /** Clock skew tolerated for signed_at in the future and around key validity windows. */
  maxSkewMs?: number;
  now?: () => number;
}

/** Verifies signed messages: signature, key validity window, revocation, freshness and nonce replay. */
export class MessageVerifier {
  readonly #backend: PqBackend;
  readonly #keys: KeyLookup;
  readonly #maxAgeMs: number;
  readonly #maxSkewMs: number;
  readonly #now: () => number;
  /** Accepted `key_id:nonce` → when it leaves the freshness window. */
  /** Nonce → when it may be forgotten, and the stream message it came in (if known). */
  readonly #seen = new Map<string, { expiresAt: number; origin?: number }>();
  #sinceSweep = 0;

  constructor({ backend, keys, maxAgeMs = 300_000, maxSkewMs = 30_000, now = Date.now }: VerifierOptions) {
    this.#backend = backend;
    this.#keys = keys;
    this.#maxAgeMs = maxAgeMs;
    this.#maxSkewMs = maxSkewMs;
    this.#now = now;
  }

  /**
   * Verifies `raw`, the message as parsed from JSON (unknown fields included, so additive fields stay signed).
   * A nonce seen before is a replay, unless it comes in the same stream message again: `origin` is that
   * message's stream sequence (a redelivery keeps it, also when a restarted server forgot the delivery count,
   * while a replay is a new message). Without an origin, `redelivered` lets a JetStream redelivery through.
   * With `remember: false` the nonce is not recorded: a look ahead at a message that will be admitted later.
   */
  async verify(
    domain: SignedDomain,
    raw: unknown,
    { redelivered = false, origin, remember = true }: { redelivered?: boolean; origin?: number; remember?: boolean } = {},
  ): Promise<VerifyResult> {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { ok: false, reason: Rejection.malformed, detail: "message is not an object" };
    const message = raw as Record<string, unknown>;
    if (message.signature === undefined) return { ok: false, reason: Rejection.unsigned, detail: "no signature" };
    const parsed = MessageSignature.safeParse(message.signature);
    if (!parsed.success)
      return { ok: false, reason: Rejection.malformed, detail: `signature fields: ${parsed.error.issues.map((i) => i.path.join(".")).join(", ")}` };
    const signature = parsed.data;
    const now = this.#now();
    if (signature.signed_at > now + this.#maxSkewMs) return { ok: false, reason: Rejection.stale, detail: `signed_at ${signature.signed_at} is in the future` };
    if (signature.signed_at < now - this.#maxAgeMs)
      return { ok: false, reason: Rejection.stale, detail: `signed ${now - signature.signed_at} ms ago, over ${this.#maxAgeMs} ms` };
    const key = await this.#keys.get(signature.key_id);
    if (!key) return { ok: false, reason: Rejection.unknownKey, detail: `key ${signature.key_id} is not in the keyring` };
    if (key.revokedAt !== undefined)
      return { ok: false, reason: Rejection.revokedKey, detail: `key ${key.keyId} was revoked at ${new Date(key.revokedAt).toISOString()}` };
    if (signature.signed_at < key.notBefore - this.#maxSkewMs || signature.signed_at > key.notAfter) {
      return {
        ok: false,
        reason: Rejection.keyNotValid,
        detail: `key ${key.keyId} is valid ${key.notBefore}..${key.notAfter}, signed_at ${signature.signed_at}`,
      };
    }
    if (key.alg !== signature.alg)
      return { ok: false, reason: Rejection.badSignature, detail: `key ${key.keyId} is ${key.alg}, signature says ${signature.alg}` };
    const seenKey = `${signature.key_id}:${signature.nonce}`;
    const seen = this.#seen.get(seenKey);
    const sameMessage = seen !== undefined && (origin !== undefined && seen.origin !== undefined ? seen.origin === origin : redelivered);
    if (seen && !sameMessage) return { ok: false, reason: Rejection.replayed, detail: `nonce ${signature.nonce} was already used` };
    const detail = this.#checkValues(domain, message, signature, key);
    if (detail) return { ok: false, reason: Rejection.badSignature, detail };
    // A look ahead (remember false) leaves the nonce for the message's own admission later.
    if (remember) this.#remember(seenKey, signature.signed_at + this.#maxAgeMs + this.#maxSkewMs, now, origin);
    return { ok: true, key };
  }

  /** Nonces currently remembered (for tests and status). */
  get remembered(): number {
    return this.#seen.size;
  }

  #checkValues(domain: SignedDomain, message: Record<string, unknown>, signature: MessageSignature, key: VerifyingKey): string | undefined {
    let value: Uint8Array;
    let classical: Uint8Array | undefined;
    try {
      value = fromBase64(signature.value, "signature value");
      if (value.length !== ML_DSA_65.signature) return `ML-DSA-65 signature must be ${ML_DSA_65.signature} bytes, got ${value.length}`;
      if (signature.alg === "ML-DSA-65+Ed25519") {
        if (signature.value_ed25519 === undefined || !key.ed25519Public) return "hybrid signature without its Ed25519 part";
        classical = fromBase64(signature.value_ed25519, "Ed25519 signature value");
        if (classical.length !== 64) return `Ed25519 signature must be 64 bytes, got ${classical.length}`;
      }
    } catch (error) {
      return (error as Error).message;
    }
    let bytes: Uint8Array;
    try {
      bytes = signedBytes(domain, message, signature);
    } catch (error) {
      return `cannot canonicalise the message: ${(error as Error).message}`;
    }
    if (!this.#backend.sigVerify(key.mldsaPublic, bytes, value)) return "ML-DSA-65 signature does not verify";
    if (classical && key.ed25519Public && !ed25519Verify(key.ed25519Public, bytes, classical)) return "Ed25519 signature does not verify";
    return undefined;
  }

  #remember(seenKey: string, expiresAt: number, now: number, origin?: number): void {
    this.#seen.set(seenKey, { expiresAt, origin });
    // Sweep expired nonces now and then: memory stays bounded by the freshness window.
    if (++this.#sinceSweep >= 1024) {
      this.#sinceSweep = 0;
      for (const [nonce, { expiresAt: expiry }] of this.#seen) if (expiry < now) this.#seen.delete(nonce);
    }
  }
}
