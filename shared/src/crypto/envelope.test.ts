import { describe, expect, test } from "bun:test";
import { fromBase64, toBase64 } from "./bytes.ts";
import { type Envelope, openEnvelope, sealEnvelope } from "./envelope.ts";
import { DecryptionFailed, InvalidCryptoInput } from "./errors.ts";
import { createNativeBackend } from "./native.ts";
import { createNobleBackend } from "./noble.ts";

const backend = createNativeBackend();
const payload = new TextEncoder().encode(JSON.stringify({ round: 7, weights: [0.1, -0.2, 0.3] }));

/** Flips one bit of a base64 field. */
function flip(text: string, index = 0): string {
  const bytes = fromBase64(text, "field");
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  return toBase64(bytes);
}

describe("envelope", () => {
  test("envelope - seals and opens a payload, also across backends (native seals, noble opens)", async () => {
    const recipient = await backend.kemKeypair();
    const sealed = await sealEnvelope(backend, recipient.publicKey, payload, "fl-update/round-7");
    expect(await openEnvelope(backend, recipient, sealed)).toEqual(payload);
    expect(await openEnvelope(createNobleBackend(), recipient, sealed)).toEqual(payload);
    expect(sealed.ciphertext).not.toContain("weights");
  });

  test("envelope - tampering with any field, or the wrong recipient, fails authentication", async () => {
    const recipient = await backend.kemKeypair();
    const other = await backend.kemKeypair();
    const sealed = await sealEnvelope(backend, recipient.publicKey, payload, "fl-update/round-7");
    const tampered: [string, Envelope][] = [
      ["kem_ct", { ...sealed, kem_ct: flip(sealed.kem_ct, 100) }],
      ["nonce", { ...sealed, nonce: flip(sealed.nonce) }],
      ["context", { ...sealed, context: "fl-update/round-8" }],
      ["ciphertext body", { ...sealed, ciphertext: flip(sealed.ciphertext, 3) }],
      ["ciphertext tag", { ...sealed, ciphertext: flip(sealed.ciphertext, fromBase64(sealed.ciphertext, "c").length - 1) }],
    ];
    for (const [field, envelope] of tampered) {
      await expect(openEnvelope(backend, recipient, envelope), field).rejects.toThrow(DecryptionFailed);
    }
    await expect(openEnvelope(backend, other, sealed)).rejects.toThrow(DecryptionFailed);
    // A recipient key pair whose public half is not the one sealed to: the key derivation differs.
    await expect(openEnvelope(backend, { ...recipient, publicKey: other.publicKey }, sealed)).rejects.toThrow(DecryptionFailed);
  });

  test("envelope - a changed version or algorithm, a truncated field or a missing field is refused clearly", async () => {
    const recipient = await backend.kemKeypair();
    const sealed = await sealEnvelope(backend, recipient.publicKey, payload, "ctx");
    await expect(openEnvelope(backend, recipient, { ...sealed, v: 2 })).rejects.toThrow(InvalidCryptoInput);
    await expect(openEnvelope(backend, recipient, { ...sealed, alg: "AES-128-GCM" })).rejects.toThrow(InvalidCryptoInput);
    await expect(openEnvelope(backend, recipient, { ...sealed, kem_ct: sealed.kem_ct.slice(0, 40) })).rejects.toThrow(DecryptionFailed);
    await expect(openEnvelope(backend, recipient, { ...sealed, ciphertext: "AAAA" })).rejects.toThrow(DecryptionFailed);
    await expect(openEnvelope(backend, recipient, { ...sealed, nonce: "!!" })).rejects.toThrow(InvalidCryptoInput);
    const { context: _context, ...missing } = sealed;
    await expect(openEnvelope(backend, recipient, missing)).rejects.toThrow(InvalidCryptoInput);
  });

  test("envelope - sealing refuses a recipient key of the wrong length", async () => {
    await expect(sealEnvelope(backend, new Uint8Array(1000), payload, "ctx")).rejects.toThrow("recipient ML-KEM-768 public key must be 1184 bytes");
  });
});
