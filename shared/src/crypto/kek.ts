// The key-encryption key (KEK) and AES-256-GCM sealing of private keys at rest.
import { createCipheriv, createDecipheriv } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../observability/logger.ts";
import { concatBytes, fromBase64, toBase64 } from "./bytes.ts";
import { DecryptionFailed, KeyStoreError } from "./errors.ts";

/** Where the KEK came from. */
export type KekSource = "X0_KEK" | "X0_KEK_FILE" | "dev";

/** Parses a KEK: 32 bytes as base64 (what X0_KEK and X0_KEK_FILE hold). */
export function parseKek(text: string, what: string): Uint8Array {
  const kek = fromBase64(text.trim(), what);
  if (kek.length !== 32) throw new KeyStoreError(`${what} must be 32 bytes (base64), got ${kek.length}`);
  return kek;
}

/**
 * The KEK from X0_KEK, else X0_KEK_FILE, else a development KEK generated once into `dir/dev-kek`
 * (with a loud warning: anyone who can read that folder can read the keys).
 */
export function loadKek({ kek, kekFile, dir, logger }: { kek?: string; kekFile?: string; dir: string; logger: Logger }): {
  kek: Uint8Array;
  source: KekSource;
} {
  if (kek) return { kek: parseKek(kek, "X0_KEK"), source: "X0_KEK" };
  if (kekFile) {
    try {
      return { kek: parseKek(readFileSync(kekFile, "utf8"), "X0_KEK_FILE"), source: "X0_KEK_FILE" };
    } catch (error) {
      throw new KeyStoreError(`cannot read the KEK from X0_KEK_FILE ${kekFile}`, { cause: error });
    }
  }
  const path = join(dir, "dev-kek");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(path)) {
    // Exclusive create: two services starting together do not overwrite each other's KEK.
    try {
      writeFileSync(path, `${toBase64(crypto.getRandomValues(new Uint8Array(32)))}\n`, { mode: 0o600, flag: "wx" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw new KeyStoreError(`cannot write the development KEK ${path}`, { cause: error });
    }
  }
  chmodSync(path, 0o600);
  logger.warn("DEVELOPMENT KEY-ENCRYPTION KEY IN USE: set X0_KEK or X0_KEK_FILE in production; private keys are only as safe as this file", { path });
  return { kek: parseKek(readFileSync(path, "utf8"), `development KEK ${path}`), source: "dev" };
}

/** AES-256-GCM: base64(nonce ‖ ciphertext ‖ tag), bound to `aad`. */
export function seal(kek: Uint8Array, plaintext: Uint8Array, aad: string): string {
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const cipher = createCipheriv("aes-256-gcm", kek, nonce);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = concatBytes(cipher.update(plaintext), cipher.final());
  return toBase64(concatBytes(nonce, body, cipher.getAuthTag()));
}

/** Opens what {@link seal} produced; throws {@link DecryptionFailed} on a wrong KEK, AAD or any change. */
export function unseal(kek: Uint8Array, sealed: string, aad: string): Uint8Array {
  const bytes = fromBase64(sealed, "sealed key");
  if (bytes.length < 28) throw new DecryptionFailed("sealed key is too short");
  try {
    const decipher = createDecipheriv("aes-256-gcm", kek, bytes.subarray(0, 12));
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return concatBytes(decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final());
  } catch (error) {
    throw new DecryptionFailed("sealed key does not decrypt (wrong KEK, or the file was changed)", { cause: error });
  }
}
