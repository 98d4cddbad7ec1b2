// The KEK inside a PKCS#11 token: an AES-256 key generated there, sensitive and never extractable; keyring secrets are
// sealed and opened by the token with AES-GCM, so the KEK never exists in process memory (services/crypto/README.md).
import { readFileSync, statSync } from "node:fs";
import type { Logger } from "../observability/logger.ts";
import { concatBytes, fromBase64, toBase64 } from "./bytes.ts";
import { CryptoError, DecryptionFailed, KeyStoreError } from "./errors.ts";
import { type Kek, PKCS11_SEALED_PREFIX } from "./kek.ts";
import { AES_KEY_TYPE, Pkcs11Error, Pkcs11Module, type Pkcs11Session } from "./pkcs11.ts";

/** Where the token and its key are. */
export interface Pkcs11Settings {
  /** Path of the PKCS#11 module (`X0_PKCS11_MODULE`). */
  module: string;
  /** Label of the token (`X0_PKCS11_TOKEN`). */
  token: string;
  /** Label of the AES key (`X0_PKCS11_KEY_LABEL`). */
  keyLabel: string;
  /** The user PIN (read from `X0_PKCS11_PIN_FILE`). */
  pin: string;
}

/** The token cannot be reached now (removed, or its module failing): nothing was sealed or opened. */
export class KekUnavailable extends CryptoError {}

/** Reads a PIN file, refusing one that its group or others may read or write. */
export function readPinFile(path: string): string {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (error) {
    throw new KeyStoreError(`cannot read the PIN file ${path}`, { cause: error });
  }
  if ((mode & 0o077) !== 0) throw new KeyStoreError(`the PIN file ${path} has permissions ${(mode & 0o777).toString(8)}: it must be 0600 (chmod 600 ${path})`);
  return readFileSync(path, "utf8").trim();
}

/** Opens a session and finds the KEK, refusing a key that is not AES-256, not sensitive, or extractable. */
function connect(settings: Pkcs11Settings): { module: Pkcs11Module; session: Pkcs11Session; key: bigint } {
  const module = Pkcs11Module.load(settings.module);
  let session: Pkcs11Session | undefined;
  try {
    session = module.open(settings.token, settings.pin);
    const key = session.findSecretKey(settings.keyLabel);
    if (key === undefined) {
      throw new KeyStoreError(`no key labelled "${settings.keyLabel}" on token "${settings.token}": create it with bun run x0 keys hsm init`);
    }
    const info = session.describe(key);
    if (info.keyType !== AES_KEY_TYPE || info.valueLength !== 32) {
      throw new KeyStoreError(`key "${settings.keyLabel}" on token "${settings.token}" is not an AES-256 key`);
    }
    if (info.extractable || !info.sensitive) {
      throw new KeyStoreError(
        `key "${settings.keyLabel}" on token "${settings.token}" is ${info.extractable ? "extractable" : "not sensitive"}: a KEK must never leave its token (make one with x0 keys hsm init)`,
      );
    }
    return { module, session, key };
  } catch (error) {
    session?.close();
    module.close();
    throw error;
  }
}

/** A KEK held in a token. */
export class HsmKek implements Kek {
  readonly source = "pkcs11" as const;
  readonly #settings: Pkcs11Settings;
  readonly #logger: Logger;
  #connection: ReturnType<typeof connect> | undefined;
  #lastError: Error | undefined;

  private constructor(settings: Pkcs11Settings, connection: ReturnType<typeof connect>, logger: Logger) {
    this.#settings = settings;
    this.#connection = connection;
    this.#logger = logger;
  }

  /** Connects to the token; throws (Pkcs11Error, KeyStoreError) when it, the PIN or the key is wrong. */
  static open(settings: Pkcs11Settings, logger: Logger): HsmKek {
    return new HsmKek(settings, connect(settings), logger);
  }

  /** What the last failed operation or health check said, if the token is unavailable now. */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  seal(plaintext: Uint8Array, aad: string): string {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = this.#withToken("seal", ({ session, key }) => session.encryptGcm(key, iv, new TextEncoder().encode(aad), plaintext));
    return `${PKCS11_SEALED_PREFIX}${toBase64(concatBytes(iv, sealed))}`;
  }

  unseal(sealed: string, aad: string): Uint8Array {
    if (!sealed.startsWith(PKCS11_SEALED_PREFIX)) {
      throw new KeyStoreError(
        "this key was sealed with a file KEK: keep X0_KEK or X0_KEK_FILE set beside X0_KEK_SOURCE=pkcs11 until x0 keys rewrap has moved it",
      );
    }
    const bytes = fromBase64(sealed.slice(PKCS11_SEALED_PREFIX.length), "sealed key");
    if (bytes.length < 28) throw new DecryptionFailed("sealed key is too short");
    const aadBytes = new TextEncoder().encode(aad);
    return this.#withToken("unseal", ({ session, key }) => {
      try {
        return session.decryptGcm(key, bytes.subarray(0, 12), aadBytes, bytes.subarray(12));
      } catch (error) {
        // The token answered but would not open it: another key, AAD or a changed record (not an outage).
        if (error instanceof Pkcs11Error && session.alive() && session.findSecretKey(this.#settings.keyLabel) === key) {
          throw new DecryptionFailed("sealed key does not open in the token (another KEK, or the record was changed)", { cause: error });
        }
        throw error;
      }
    });
  }

  /** Checks the token (reconnecting when it was lost); false while it cannot be reached. */
  healthy(): boolean {
    try {
      this.#withToken("check", ({ session, key }) => session.describe(key));
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.#disconnect();
  }

  /** Runs `operation` on the token, reconnecting once (module reloaded) when the token was lost; KekUnavailable when it stays lost. */
  #withToken<T>(what: string, operation: (connection: ReturnType<typeof connect>) => T): T {
    for (let attempt = 0; ; attempt++) {
      try {
        this.#connection ??= connect(this.#settings);
        const result = operation(this.#connection);
        if (this.#lastError) this.#logger.info("PKCS#11 token reachable again", { token: this.#settings.token });
        this.#lastError = undefined;
        return result;
      } catch (error) {
        if (error instanceof DecryptionFailed) throw error;
        this.#disconnect();
        if (attempt === 0) continue;
        if (!this.#lastError) this.#logger.error("PKCS#11 token unavailable", { token: this.#settings.token, what, error });
        this.#lastError = error as Error;
        throw new KekUnavailable(`the KEK's token "${this.#settings.token}" is unavailable (${what}): ${(error as Error).message}`, { cause: error });
      }
    }
  }

  #disconnect(): void {
    const connection = this.#connection;
    this.#connection = undefined;
    if (!connection) return;
    connection.session.close();
    try {
      connection.module.close();
    } catch {
      // The module may already be in a failed state: it is reloaded on the next use.
    }
  }
}

/** Creates the KEK in a token (x0 keys hsm init): AES-256, on the token, private, sensitive, not extractable. */
export function createHsmKey(settings: Pkcs11Settings): { created: boolean } {
  const module = Pkcs11Module.load(settings.module);
  try {
    const session = module.open(settings.token, settings.pin);
    try {
      if (session.findSecretKey(settings.keyLabel) !== undefined) return { created: false };
      session.generateAesKey(settings.keyLabel);
      return { created: true };
    } finally {
      session.close();
    }
  } finally {
    module.close();
  }
}
