// Envelope encryption for sensitive payloads (e.g. federated model updates), HPKE-style:
// ML-KEM-768 → HKDF-SHA-256 (KEM ciphertext, recipient key and context bound into the key) → AES-256-GCM (header as AAD).
import { createCipheriv, createDecipheriv, hkdfSync } from "node:crypto";
import { z } from "zod";
import { type KeyPair, ML_KEM_768, type PqBackend } from "./backend.ts";
import { concatBytes, expectLength, fromBase64, lengthPrefixed, toBase64 } from "./bytes.ts";
import { canonicalJson } from "./canonical.ts";
import { DecryptionFailed, InvalidCryptoInput } from "./errors.ts";

/** The envelope algorithm identifier. */
export const ENVELOPE_ALG = "ML-KEM-768+HKDF-SHA256+AES-256-GCM" as const;

/** A sealed payload; every field is authenticated. */
export const Envelope = z.object({
  v: z.literal(1),
  alg: z.literal(ENVELOPE_ALG),
  kem_ct: z.string().describe("ML-KEM-768 ciphertext to the recipient, base64."),
  nonce: z.string().describe("AES-GCM nonce (12 bytes), base64."),
  context: z.string().max(1024).describe("What the payload is for, e.g. `fl-update/round-7`; bound into the key and the AAD."),
  ciphertext: z.string().describe("AES-256-GCM ciphertext and 16-byte tag, base64."),
});
/** An envelope. */
export type Envelope = z.infer<typeof Envelope>;

const encoder = new TextEncoder();
const LABEL = encoder.encode("x0tta6bl4/envelope/v1");

function deriveKey(sharedSecret: Uint8Array, kemCt: Uint8Array, recipient: Uint8Array, context: string): Uint8Array {
  // As HPKE's key_schedule_context: the bound inputs are hashed (HKDF info is short; node limits it to 1024 bytes).
  const bound = new Bun.CryptoHasher("sha256")
    .update(concatBytes(lengthPrefixed(kemCt), lengthPrefixed(recipient), lengthPrefixed(encoder.encode(context))))
    .digest();
  return new Uint8Array(hkdfSync("sha256", sharedSecret, LABEL, concatBytes(LABEL, new Uint8Array(bound)), 32));
}

const aadOf = (envelope: Omit<Envelope, "ciphertext">) =>
  encoder.encode(canonicalJson({ v: envelope.v, alg: envelope.alg, kem_ct: envelope.kem_ct, nonce: envelope.nonce, context: envelope.context }));

/**
 * Seals `plaintext` to the holder of `recipientPublicKey`.
 * @example const envelope = await sealEnvelope(backend, recipient.publicKey, update, "fl-update/round-7");
 */
export async function sealEnvelope(backend: PqBackend, recipientPublicKey: Uint8Array, plaintext: Uint8Array, context: string): Promise<Envelope> {
  expectLength(recipientPublicKey, ML_KEM_768.publicKey, "recipient ML-KEM-768 public key");
  const { ciphertext: kemCt, sharedSecret } = await backend.kemEncaps(recipientPublicKey);
  const key = deriveKey(sharedSecret, kemCt, recipientPublicKey, context);
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const header = { v: 1 as const, alg: ENVELOPE_ALG, kem_ct: toBase64(kemCt), nonce: toBase64(nonce), context };
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(aadOf(header));
  const body = concatBytes(cipher.update(plaintext), cipher.final(), cipher.getAuthTag());
  return { ...header, ciphertext: toBase64(body) };
}

/** Opens an envelope with the recipient's key pair; any change to any field throws {@link DecryptionFailed}. */
export async function openEnvelope(backend: PqBackend, recipient: KeyPair, envelope: unknown): Promise<Uint8Array> {
  const parsed = Envelope.safeParse(envelope);
  if (!parsed.success) throw new InvalidCryptoInput(`not an envelope: ${parsed.error.issues.map((i) => i.path.join(".") || i.message).join(", ")}`);
  const sealed = parsed.data;
  const kemCt = fromBase64(sealed.kem_ct, "kem_ct");
  const nonce = fromBase64(sealed.nonce, "nonce");
  const body = fromBase64(sealed.ciphertext, "ciphertext");
  if (kemCt.length !== ML_KEM_768.ciphertext) throw new DecryptionFailed(`kem_ct must be ${ML_KEM_768.ciphertext} bytes`);
  if (nonce.length !== 12 || body.length < 16) throw new DecryptionFailed("nonce or ciphertext has the wrong length");
  // ML-KEM's implicit rejection turns a changed kem_ct into a different key, caught by the tag below.
  const sharedSecret = await backend.kemDecaps(recipient.secretKey, kemCt);
  const key = deriveKey(sharedSecret, kemCt, recipient.publicKey, sealed.context);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, nonce);
    decipher.setAAD(aadOf(sealed));
    decipher.setAuthTag(body.subarray(body.length - 16));
    return concatBytes(decipher.update(body.subarray(0, body.length - 16)), decipher.final());
  } catch (error) {
    throw new DecryptionFailed("envelope does not authenticate (tampered, wrong recipient or wrong context)", { cause: error });
  }
}
