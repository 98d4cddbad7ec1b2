// Rewrap against a real SoftHSM2 token: interrupted after one record and run again, every key ends up sealed by the
// token and opens to the same secret; a third run changes nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { aadOf, createHsmKey, createLogger, fileKek, HsmKek, type KeyFile, readKeyFile, toBase64, writeKeyFile } from "@x0/shared";
import { setNativeEnv, softhsmAvailable, softhsmToken, type TestToken } from "@x0/shared/testing";
import { rewrapKeys } from "./rewrap.ts";

const logger = createLogger({ service: "rewrap-test", node: "test", level: "error" });
const dir = mkdtempSync(join(tmpdir(), "x0-rewrap-"));
let token: TestToken;
const file = fileKek(crypto.getRandomValues(new Uint8Array(32)), "X0_KEK_FILE");
const secrets = new Map<string, Uint8Array>();

/** A key file of `service` with `count` records sealed by the file KEK. */
function keyFile(service: string, count: number): KeyFile {
  const keys = Array.from({ length: count }, (_, index) => {
    const keyId = `${service}-${index.toString(16).padStart(16, "0")}`;
    const secret = crypto.getRandomValues(new Uint8Array(32));
    secrets.set(keyId, secret);
    const now = Date.now();
    return {
      record: {
        v: 1 as const,
        key_id: keyId,
        service,
        alg: "ML-DSA-65" as const,
        mldsa_public: toBase64(new Uint8Array(1952)),
        not_before: now,
        not_after: now + 3_600_000,
        created_at: now,
      },
      sealed: file.seal(secret, aadOf(service, keyId)),
    };
  });
  return { v: 1, service, current: keys[0]?.record.key_id ?? "", keys };
}

beforeAll(() => {
  if (!softhsmAvailable) return;
  token = softhsmToken("x0-rewrap");
  setNativeEnv("SOFTHSM2_CONF", token.env.SOFTHSM2_CONF);
  createHsmKey(token.settings());
  writeKeyFile(join(dir, "planner.keys.json"), keyFile("planner", 2));
  writeKeyFile(join(dir, "executor.keys.json"), keyFile("executor", 1));
});
afterAll(() => {
  token?.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!softhsmAvailable)("x0 keys rewrap", () => {
  test("rewrap - stopped after the first record and run again, every key is the token's and opens to the same secret", () => {
    const hsm = HsmKek.open(token.settings(), logger);
    try {
      let written = 0;
      expect(() =>
        rewrapKeys(dir, file, hsm, () => {
          written += 1;
          // As if the process died right after writing its first record.
          if (written === 1) throw new Error("crash");
        }),
      ).toThrow("crash");
      const sealedAfterCrash = ["planner", "executor"].flatMap((service) => readKeyFile(join(dir, `${service}.keys.json`))?.keys ?? []);
      expect(sealedAfterCrash.filter((key) => key.sealed.startsWith("pkcs11:"))).toHaveLength(1);
      expect(readFileSync(join(dir, "planner.keys.json"), "utf8")).not.toContain("undefined");

      const report = rewrapKeys(dir, file, hsm);
      expect(report).toEqual({ files: 2, moved: 2, already: 1 });
      for (const service of ["planner", "executor"]) {
        for (const key of readKeyFile(join(dir, `${service}.keys.json`))?.keys ?? []) {
          expect(key.sealed.startsWith("pkcs11:")).toBe(true);
          expect(hsm.unseal(key.sealed, aadOf(service, key.record.key_id))).toEqual(secrets.get(key.record.key_id) as Uint8Array);
        }
      }
      expect(rewrapKeys(dir, file, hsm)).toEqual({ files: 2, moved: 0, already: 3 });
    } finally {
      hsm.close();
    }
  });
});
