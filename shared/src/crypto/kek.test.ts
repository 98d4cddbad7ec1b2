import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../observability/logger.ts";
import { toBase64 } from "./bytes.ts";
import { DecryptionFailed, KeyStoreError } from "./errors.ts";
import { loadKek, seal, unseal } from "./kek.ts";

const logger = createLogger({ service: "test", node: "t", level: "error" });
const kek = crypto.getRandomValues(new Uint8Array(32));

describe("kek", () => {
  test("kek - X0_KEK wins, then X0_KEK_FILE, else a development KEK is created once with mode 0600", () => {
    const dir = mkdtempSync(join(tmpdir(), "x0-kek-"));
    try {
      expect(loadKek({ kek: toBase64(kek), dir, logger })).toEqual({ kek, source: "X0_KEK" });
      const file = join(dir, "kek");
      writeFileSync(file, `${toBase64(kek)}\n`);
      expect(loadKek({ kekFile: file, dir, logger })).toEqual({ kek, source: "X0_KEK_FILE" });
      const dev = loadKek({ dir, logger });
      expect(dev.source).toBe("dev");
      expect(statSync(join(dir, "dev-kek")).mode & 0o777).toBe(0o600);
      expect(loadKek({ dir, logger }).kek).toEqual(dev.kek);
      expect(readFileSync(join(dir, "dev-kek"), "utf8").trim()).toBe(toBase64(dev.kek));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("kek - a KEK of the wrong size or an unreadable file is refused naming the variable", () => {
    expect(() => loadKek({ kek: toBase64(new Uint8Array(16)), dir: "/nonexistent", logger })).toThrow("X0_KEK must be 32 bytes");
    expect(() => loadKek({ kekFile: "/nonexistent/kek", dir: "/nonexistent", logger })).toThrow(KeyStoreError);
  });

  test("kek - sealed keys open only with the same KEK and AAD, and any change is detected", () => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const sealed = seal(kek, secret, "slot-a");
    expect(sealed).not.toContain(toBase64(secret));
    expect(unseal(kek, sealed, "slot-a")).toEqual(secret);
    expect(() => unseal(kek, sealed, "slot-b")).toThrow(DecryptionFailed);
    expect(() => unseal(crypto.getRandomValues(new Uint8Array(32)), sealed, "slot-a")).toThrow(DecryptionFailed);
    const bytes = Buffer.from(sealed, "base64");
    bytes[20] = (bytes[20] ?? 0) ^ 1;
    expect(() => unseal(kek, bytes.toString("base64"), "slot-a")).toThrow(DecryptionFailed);
  });
});
