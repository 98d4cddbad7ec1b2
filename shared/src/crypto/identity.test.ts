// Identity and keyring against a real nats-server (JetStream KV).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { createLogger } from "../observability/logger.ts";
import { type NatsServer, startNatsServer, waitFor } from "../testing/mod.ts";
import { toBase64 } from "./bytes.ts";
import { DecryptionFailed } from "./errors.ts";
import { type IdentityOptions, SigningIdentity } from "./identity.ts";
import { fileKek } from "./kek.ts";
import { Keyring } from "./keyring.ts";
import { createNativeBackend } from "./native.ts";
import { MessageVerifier, signMessage } from "./signing.ts";

const logger = createLogger({ service: "test", node: "t", level: "error" });
const backend = createNativeBackend();
let nats: NatsServer;
let nc: NatsConnection;
let keyring: Keyring;
let dir: string;
const kek = fileKek(crypto.getRandomValues(new Uint8Array(32)), "X0_KEK");

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  keyring = await Keyring.open(nc, logger);
  dir = mkdtempSync(join(tmpdir(), "x0-identity-"));
});

afterAll(async () => {
  keyring?.stop();
  await nc?.close();
  await nats?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const options = (service: string, extra: Partial<IdentityOptions> = {}): IdentityOptions => ({
  service,
  backend,
  keyring,
  kek,
  dir,
  alg: "ML-DSA-65",
  rotateIntervalMs: 3_600_000,
  overlapMs: 60_000,
  logger,
  ...extra,
});

describe("identity", () => {
  test("identity - the first start generates a key, seals it at rest and publishes its public key with a validity window", async () => {
    const identity = await SigningIdentity.open(options("alpha"));
    const record = identity.record();
    expect(record.key_id).toMatch(/^alpha-[0-9a-f]{16}$/);
    expect(record.not_after - record.not_before).toBe(3_600_000 + 60_000);
    const file = readFileSync(join(dir, "alpha.keys.json"), "utf8");
    expect(file).toContain(record.key_id);
    expect(file).not.toContain(toBase64(identity.current().mldsaSecret));
    const stored = await keyring.kv.get(`key.${record.key_id}`);
    expect(stored?.json<{ mldsa_public: string }>().mldsa_public).toBe(record.mldsa_public);
    identity.stop();
    // A restart loads the same key.
    const again = await SigningIdentity.open(options("alpha"));
    expect(again.current().keyId).toBe(record.key_id);
    expect(again.current().mldsaSecret).toEqual(identity.current().mldsaSecret);
    again.stop();
  });

  test("identity - a wrong KEK stops the start with a decryption error", async () => {
    await expect(SigningIdentity.open(options("alpha", { kek: fileKek(crypto.getRandomValues(new Uint8Array(32)), "X0_KEK") }))).rejects.toThrow(
      DecryptionFailed,
    );
  });

  test("identity - rotation publishes the new key first and keeps the old one valid for the overlap", async () => {
    const identity = await SigningIdentity.open(options("beta"));
    const verifier = new MessageVerifier({ backend, keys: keyring });
    const oldKey = identity.current();
    const inFlight = signMessage(backend, "plan", { n: 1 }, oldKey);
    const before = Date.now();
    const fresh = await identity.rotate("test");
    expect(identity.current().keyId).toBe(fresh.key_id);
    const old = keyring.list().find((k) => k.record.key_id === oldKey.keyId)?.record;
    expect(old?.not_after).toBeGreaterThanOrEqual(before + 60_000);
    expect(old?.not_after).toBeLessThanOrEqual(Date.now() + 60_000);
    expect((await verifier.verify("plan", inFlight)).ok).toBe(true);
    expect((await verifier.verify("plan", signMessage(backend, "plan", { n: 2 }, identity.current()))).ok).toBe(true);
    identity.stop();
  });

  test("identity - rotates on schedule, on a rotation order and when its key is revoked", async () => {
    const identity = await SigningIdentity.open(options("gamma", { rotateIntervalMs: 1000 }));
    const first = identity.current().keyId;
    await waitFor("scheduled rotation", () => identity.current().keyId !== first, 5000);
    const second = identity.current().keyId;
    await Bun.sleep(5);
    await keyring.orderRotation("gamma", "test order");
    await waitFor("ordered rotation", () => identity.current().keyId !== second, 5000);
    const third = identity.current().keyId;
    await keyring.revoke(third, "test");
    await waitFor("rotation after revocation", () => identity.current().keyId !== third, 5000);
    const verifier = new MessageVerifier({ backend, keys: keyring });
    expect(await verifier.verify("plan", signMessage(backend, "plan", { n: 3 }, { ...identity.current(), keyId: third }))).toMatchObject({
      reason: "revoked_key",
    });
    identity.stop();
  });

  test("identity - a hybrid identity carries an Ed25519 key too and its signatures verify", async () => {
    const identity = await SigningIdentity.open(options("delta", { alg: "ML-DSA-65+Ed25519" }));
    expect(identity.record().ed25519_public).toBeDefined();
    const verifier = new MessageVerifier({ backend, keys: keyring });
    expect((await verifier.verify("action", signMessage(backend, "action", { r: 1 }, identity.current()))).ok).toBe(true);
    identity.stop();
  });

  test("keyring - a key published by another client is found on a miss, and invalid entries are ignored", async () => {
    const other = await Keyring.open(nc, logger);
    const identity = await SigningIdentity.open(options("epsilon", { keyring: other }));
    expect(await keyring.get(identity.current().keyId)).toMatchObject({ service: "epsilon" });
    await keyring.kv.put("key.bogus-1", "{not json");
    expect(await keyring.get("bogus-1")).toBeUndefined();
    expect(await keyring.get("no such key!")).toBeUndefined();
    identity.stop();
    other.stop();
  });
});
