// A service's sealed key file (`<service>.keys.json` in X0_KEY_DIR) and its lock: the service (saving a rotation) and
// `x0 keys rewrap` (resealing records under another KEK) change it in turns, never over each other.
import { closeSync, existsSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { z } from "zod";
import { KeyRecord } from "../contracts/keyring.ts";
import { KeyStoreError } from "./errors.ts";

/** One sealed key: its keyring record and the sealed secret (a `pkcs11:` prefix says a token sealed it). */
export const StoredKey = z.object({ record: KeyRecord, sealed: z.string() });
/** A service's key file. */
export const KeyFile = z.object({ v: z.literal(1), service: z.string(), current: z.string(), keys: z.array(StoredKey) });
/** A key file. */
export type KeyFile = z.infer<typeof KeyFile>;

/** A lock older than this is left over from a crashed holder and is broken. */
const STALE_LOCK_MS = 30_000;

/** Reads a key file, or undefined when there is none. */
export function readKeyFile(path: string): KeyFile | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return KeyFile.parse(JSON.parse(readFileSync(path, "utf8")));
  } catch (error) {
    throw new KeyStoreError(`cannot read the key file ${path}`, { cause: error });
  }
}

/** Writes a key file whole (a temporary file renamed over it: a crash leaves the old or the new file, never half). */
export function writeKeyFile(path: string, file: KeyFile): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** Runs `change` with the key file's lock held (`<path>.lock`, created exclusively), given the file as it is on disk. */
export function withKeyFileLock<T>(path: string, change: (onDisk: KeyFile | undefined) => T): T {
  const lock = `${path}.lock`;
  const deadline = Date.now() + 5000;
  let fd: number | undefined;
  while (fd === undefined) {
    try {
      fd = openSync(lock, "wx", 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw new KeyStoreError(`cannot lock the key file ${path}`, { cause: error });
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > STALE_LOCK_MS) unlinkSync(lock);
      else if (Date.now() > deadline) throw new KeyStoreError(`the key file ${path} stays locked (${lock}): is x0 keys rewrap running?`);
      else Bun.sleepSync(10);
    }
  }
  try {
    return change(readKeyFile(path));
  } finally {
    closeSync(fd);
    unlinkSync(lock);
  }
}
