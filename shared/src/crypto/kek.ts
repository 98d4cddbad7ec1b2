// The key-encryption key (KEK) and AES-256-GCM sealing of private keys at rest.
import { createCipheriv, createDecipheriv } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../observability/logger.ts";
import { concatBytes, fromBase64, toBase64 } from "./bytes.ts";
import { DecryptionFailed, KeyStoreError } from "./errors.ts";

/** Where the KEK came from: a file KEK's variable (or the development file), or a token through PKCS#11. */
export type KekSource = "X0_KEK" | "X0_KEK_FILE" | "dev" | "pkcs11";

/** Seals and opens keyring secrets: the file KEK in process, the pkcs11 one inside its token (hsm-kek.ts). */
export interface Kek {
  readonly source: KekSource;
  /** Seals `plaintext`, bound to `aad`. */
  seal(plaintext: Uint8Array, aad: string): string;
  /** Opens what {@link seal} produced; DecryptionFailed on a wrong KEK, AAD or any change. */
  unseal(sealed: string, aad: string): Uint8Array;
  /** Whether it can seal and open now (a token can go away; a file KEK always can). */
  healthy(): boolean;
  close(): void;
}

/** The prefix of what a token sealed: a record says which KEK opens it. */
export const PKCS11_SEALED_PREFIX = "pkcs11:";

/** A KEK held in memory (X0_KEK, X0_KEK_FILE or the development file). */
export function fileKek(kek: Uint8Array, source: Exclude<KekSource, "pkcs11">): Kek {
  return {
    source,
    seal: (plaintext, aad) => seal(kek, plaintext, aad),
    unseal: (sealed, aad) => {
      if (sealed.startsWith(PKCS11_SEALED_PREFIX)) {
        throw new KeyStoreError("this key was sealed in a PKCS#11 token: set X0_KEK_SOURCE=pkcs11 (and X0_PKCS11_*) to open it");
      }
      return unseal(kek, sealed, aad);
    },
    healthy: () => true,
    close: () => {},
  };
}

/**
 * Seals with `current` and opens each record with the KEK that sealed it: during a move to a token, records the file KEK
 * sealed stay readable through `previous` until `x0 keys rewrap` has moved them all.
 */
export function kekChain(current: Kek, previous: Kek | undefined): Kek {
  if (!previous) return current;
  return {
    source: current.source,
    seal: (plaintext, aad) => current.seal(plaintext, aad),
    unseal: (sealed, aad) => (sealed.startsWith(PKCS11_SEALED_PREFIX) === (current.source === "pkcs11") ? current : previous).unseal(sealed, aad),
    healthy: () => current.healthy(),
    close: () => {
      current.close();
      previous.close();
    },
  };
}

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
