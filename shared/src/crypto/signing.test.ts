import { describe, expect, test } from "bun:test";
import { toBase64 } from "./bytes.ts";
import { ed25519Keypair } from "./ed25519.ts";
import { createNativeBackend } from "./native.ts";
import { createNobleBackend } from "./noble.ts";
import { MessageVerifier, type SigningKey, signedBytes, signMessage, type VerifyingKey } from "./signing.ts";

const backend = createNativeBackend();
const NOW = 1_800_000_000_000;

function keyPair(alg: SigningKey["alg"] = "ML-DSA-65", keyId = "planner-0000000000000001"): { key: SigningKey; verifying: VerifyingKey } {
  const mldsa = backend.sigKeypair();
  const ed = alg === "ML-DSA-65+Ed25519" ? ed25519Keypair() : undefined;
  return {
    key: { keyId, alg, mldsaSecret: mldsa.secretKey, ed25519Secret: ed?.secretKey },
    verifying: { keyId, service: "planner", alg, mldsaPublic: mldsa.publicKey, ed25519Public: ed?.publicKey, notBefore: NOW - 1000, notAfter: NOW + 3_600_000 },
  };
}

const verifierFor = (verifying: VerifyingKey, now = NOW) =>
  new MessageVerifier({ backend, keys: { get: (id) => (id === verifying.keyId ? verifying : undefined) }, now: () => now });
const message = { v: 1, plan_id: "p1", actions: [{ type: "notify", params: { b: 2, a: 1 } }], created_at: NOW };

describe("signing", () => {
  test("signing - a signed message verifies, with its unknown fields covered too", async () => {
    const { key, verifying } = keyPair();
    const signed = signMessage(backend, "plan", { ...message, future_field: "x" }, key, NOW);
    expect(signed.signature.key_id).toBe(key.keyId);
    expect(signed.signature.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const verdict = await verifierFor(verifying).verify("plan", JSON.parse(JSON.stringify(signed)));
    expect(verdict.ok).toBe(true);
    const changed = await verifierFor(verifying).verify("plan", { ...signed, future_field: "y" });
    expect(changed).toMatchObject({ ok: false, reason: "bad_signature" });
  });

  test("signing - key order does not matter (canonical encoding), content does", async () => {
    const { key, verifying } = keyPair();
    const signed = signMessage(backend, "plan", message, key, NOW);
    const reordered = { signature: signed.signature, created_at: signed.created_at, actions: signed.actions, plan_id: signed.plan_id, v: 1 };
    expect((await verifierFor(verifying).verify("plan", reordered)).ok).toBe(true);
  });

  test("signing - signature metadata is covered: changing signed_at or nonce breaks it", async () => {
    const { key, verifying } = keyPair();
    const signed = signMessage(backend, "plan", message, key, NOW);
    expect(await verifierFor(verifying).verify("plan", { ...signed, signature: { ...signed.signature, signed_at: NOW + 1 } })).toMatchObject({
      reason: "bad_signature",
    });
    expect(await verifierFor(verifying).verify("plan", { ...signed, signature: { ...signed.signature, nonce: "A".repeat(22) } })).toMatchObject({
      reason: "bad_signature",
    });
  });

  test("signing - rejects unsigned, malformed, stale, future, unknown, revoked and out-of-window signatures", async () => {
    const { key, verifying } = keyPair();
    const verifier = verifierFor(verifying);
    const signed = signMessage(backend, "plan", message, key, NOW);
    expect(await verifier.verify("plan", message)).toMatchObject({ reason: "unsigned" });
    expect(await verifier.verify("plan", { ...message, signature: { key_id: 5 } })).toMatchObject({ reason: "malformed_signature" });
    expect(await verifier.verify("plan", "text")).toMatchObject({ reason: "malformed_signature" });
    expect(await verifierFor(verifying, NOW + 301_000).verify("plan", signed)).toMatchObject({ reason: "stale" });
    expect(await verifierFor(verifying, NOW - 31_000).verify("plan", signed)).toMatchObject({ reason: "stale" });
    expect(await verifierFor({ ...verifying, keyId: "other-1" }).verify("plan", signed)).toMatchObject({ reason: "unknown_key" });
    expect(await verifierFor({ ...verifying, revokedAt: NOW }).verify("plan", signed)).toMatchObject({ reason: "revoked_key" });
    expect(await verifierFor({ ...verifying, notAfter: NOW - 1 }).verify("plan", signed)).toMatchObject({ reason: "key_not_valid" });
    const short = { ...signed, signature: { ...signed.signature, value: toBase64(new Uint8Array(100)) } };
    expect(await verifier.verify("plan", short)).toMatchObject({ reason: "bad_signature", detail: expect.stringContaining("3309 bytes") });
  });

  test("signing - the same message twice is a replay unless it is a redelivery", async () => {
    const { key, verifying } = keyPair();
    const verifier = verifierFor(verifying);
    const signed = signMessage(backend, "plan", message, key, NOW);
    expect((await verifier.verify("plan", signed)).ok).toBe(true);
    expect(await verifier.verify("plan", signed)).toMatchObject({ ok: false, reason: "replayed" });
    expect((await verifier.verify("plan", signed, { redelivered: true })).ok).toBe(true);
    expect(verifier.remembered).toBe(1);
  });

  test("signing - the same stream message again is a redelivery even unflagged; another message with the nonce is a replay", async () => {
    const { key, verifying } = keyPair();
    const verifier = verifierFor(verifying);
    const signed = signMessage(backend, "plan", message, key, NOW);
    expect((await verifier.verify("plan", signed, { origin: 41 })).ok).toBe(true);
    // A restarted server may deliver stream message 41 again without flagging it as redelivered.
    expect((await verifier.verify("plan", signed, { origin: 41 })).ok).toBe(true);
    // The same signed plan published again is stream message 42: a replay, whatever the flag says.
    expect(await verifier.verify("plan", signed, { origin: 42, redelivered: true })).toMatchObject({ ok: false, reason: "replayed" });
  });

  test("signing - a plan signature does not verify as an action signature", async () => {
    const { key, verifying } = keyPair();
    const signed = signMessage(backend, "plan", message, key, NOW);
    expect(await verifierFor(verifying).verify("action", signed)).toMatchObject({ reason: "bad_signature" });
  });

  test("signing - hybrid ML-DSA-65+Ed25519 needs both signatures to verify", async () => {
    const { key, verifying } = keyPair("ML-DSA-65+Ed25519");
    const signed = signMessage(backend, "plan", message, key, NOW);
    expect(signed.signature.value_ed25519).toBeDefined();
    expect((await verifierFor(verifying).verify("plan", signed)).ok).toBe(true);
    const badClassical = { ...signed, signature: { ...signed.signature, value_ed25519: toBase64(new Uint8Array(64)) } };
    expect(await verifierFor(verifying).verify("plan", badClassical)).toMatchObject({ reason: "bad_signature", detail: "Ed25519 signature does not verify" });
    const stripped = { ...signed, signature: { ...signed.signature, value_ed25519: undefined } };
    expect(await verifierFor(verifying).verify("plan", stripped)).toMatchObject({ reason: "bad_signature" });
    // Downgrade: claiming ML-DSA-65 alone for a hybrid key is refused.
    const downgraded = signMessage(backend, "plan", message, { ...key, alg: "ML-DSA-65" }, NOW);
    expect(await verifierFor(verifying).verify("plan", downgraded)).toMatchObject({ reason: "bad_signature" });
  });

  test("signing - signatures made by the native backend verify with noble over the same bytes", () => {
    const { key, verifying } = keyPair();
    const signed = signMessage(backend, "plan", message, key, NOW);
    const bytes = signedBytes("plan", signed, signed.signature);
    expect(createNobleBackend().sigVerify(verifying.mldsaPublic, bytes, Buffer.from(signed.signature.value, "base64"))).toBe(true);
  });
});
