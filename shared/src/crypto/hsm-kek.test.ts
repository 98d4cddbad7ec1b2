// The KEK in a real SoftHSM2 token (Debian's softhsm2, installed by the bootstrap; a token folder of this run's own).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../observability/logger.ts";
import { setNativeEnv, softhsmAvailable, softhsmToken, type TestToken } from "../testing/softhsm.ts";
import { DecryptionFailed, KeyStoreError } from "./errors.ts";
import { createHsmKey, HsmKek, KekUnavailable, readPinFile } from "./hsm-kek.ts";
import { fileKek, kekChain } from "./kek.ts";
import { Pkcs11Error, Pkcs11Module } from "./pkcs11.ts";

if (!softhsmAvailable) console.warn("hsm-kek: SoftHSM2 is not installed: the PKCS#11 tests are SKIPPED (the bootstrap installs it)");
const logger = createLogger({ service: "hsm-test", node: "test", level: "error" });
let token: TestToken;
const secret = new TextEncoder().encode("an ML-DSA-65 seed, 32 bytes long");

beforeAll(() => {
  if (!softhsmAvailable) return;
  token = softhsmToken("x0-unit");
  setNativeEnv("SOFTHSM2_CONF", token.env.SOFTHSM2_CONF);
});
afterAll(() => token?.remove());

describe.skipIf(!softhsmAvailable)("KEK in a PKCS#11 token", () => {
  test("hsm - init creates an AES-256 key that is sensitive and not extractable, once", () => {
    expect(createHsmKey(token.settings())).toEqual({ created: true });
    expect(createHsmKey(token.settings())).toEqual({ created: false });
    const module = Pkcs11Module.load(token.module);
    try {
      const session = module.open(token.token, token.pin);
      const key = session.findSecretKey("x0-kek") as bigint;
      expect(session.describe(key)).toEqual({ keyType: 0x1f, valueLength: 32, sensitive: true, extractable: false });
    } finally {
      module.close();
    }
  });

  test("hsm - seal and unseal through the token; a wrong AAD or a changed record does not open; the format says which KEK", () => {
    const kek = HsmKek.open(token.settings(), logger);
    try {
      const sealed = kek.seal(secret, "planner|key-1");
      expect(sealed.startsWith("pkcs11:")).toBe(true);
      expect(kek.unseal(sealed, "planner|key-1")).toEqual(secret);
      expect(() => kek.unseal(sealed, "planner|key-2")).toThrow(DecryptionFailed);
      const bytes = Buffer.from(sealed.slice("pkcs11:".length), "base64");
      bytes[20] = (bytes[20] ?? 0) ^ 1;
      expect(() => kek.unseal(`pkcs11:${bytes.toString("base64")}`, "planner|key-1")).toThrow(DecryptionFailed);
      // A record a file KEK sealed: refused by the token alone, opened when the file KEK is chained for the move.
      const file = fileKek(crypto.getRandomValues(new Uint8Array(32)), "X0_KEK_FILE");
      const old = file.seal(secret, "planner|key-0");
      expect(() => kek.unseal(old, "planner|key-0")).toThrow(/keep X0_KEK or X0_KEK_FILE set/);
      expect(() => file.unseal(sealed, "planner|key-1")).toThrow(/X0_KEK_SOURCE=pkcs11/);
      const chain = kekChain(kek, file);
      expect(chain.unseal(old, "planner|key-0")).toEqual(secret);
      expect(chain.unseal(chain.seal(secret, "a"), "a")).toEqual(secret);
      expect(chain.seal(secret, "a").startsWith("pkcs11:")).toBe(true);
    } finally {
      kek.close();
    }
  });

  test("hsm - a wrong PIN, a missing token, a missing key and an extractable key are refused with what is wrong", () => {
    // Logged out everywhere first: PKCS#11 logs an application in once for all its sessions.
    expect(() => HsmKek.open({ ...token.settings(), pin: "000000" }, logger)).toThrow(expect.objectContaining({ code: "CKR_PIN_INCORRECT" }));
    expect(() => HsmKek.open({ ...token.settings(), token: "no-such-token" }, logger)).toThrow(/no token labelled "no-such-token".*"x0-unit"/);
    expect(() => HsmKek.open(token.settings("absent"), logger)).toThrow(/no key labelled "absent".*x0 keys hsm init/);
    expect(() => HsmKek.open({ ...token.settings(), module: "/nonexistent/libpkcs11.so" }, logger)).toThrow(Pkcs11Error);
    const module = Pkcs11Module.load(token.module);
    try {
      module.open(token.token, token.pin).generateAesKey("leaky", { extractable: true });
    } finally {
      module.close();
    }
    expect(() => HsmKek.open(token.settings("leaky"), logger)).toThrow(KeyStoreError);
    expect(() => HsmKek.open(token.settings("leaky"), logger)).toThrow(/is extractable/);
  });

  test("hsm - the PIN file must be 0600", () => {
    const loose = join(token.dir, "loose-pin");
    writeFileSync(loose, token.pin);
    chmodSync(loose, 0o644);
    expect(() => readPinFile(loose)).toThrow(/chmod 600/);
    expect(readPinFile(token.pinFile)).toBe(token.pin);
  });

  test("hsm - the token going away: KekUnavailable and unhealthy, nothing half-done; back: healthy again and the keys open", () => {
    const kek = HsmKek.open(token.settings(), logger);
    try {
      const sealed = kek.seal(secret, "executor|key-9");
      token.setPresent(false);
      expect(() => kek.seal(secret, "executor|key-10")).toThrow(KekUnavailable);
      expect(() => kek.unseal(sealed, "executor|key-9")).toThrow(KekUnavailable);
      expect(kek.healthy()).toBe(false);
      expect(kek.lastError).toBeDefined();
      token.setPresent(true);
      expect(kek.healthy()).toBe(true);
      expect(kek.unseal(sealed, "executor|key-9")).toEqual(secret);
      expect(kek.lastError).toBeUndefined();
    } finally {
      token.setPresent(true);
      kek.close();
    }
  });
});
