// Moving sealed keys from a file KEK to a token, record by record under each key file's lock: every record is written
// as soon as it is resealed, so a crash loses nothing and running the command again finishes the rest.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { aadOf, type Kek, KeyStoreError, PKCS11_SEALED_PREFIX, withKeyFileLock, writeKeyFile } from "@x0/shared";

/** What one run did. */
export interface RewrapReport {
  files: number;
  /** Records resealed by this run. */
  moved: number;
  /** Records the token had sealed before this run (an earlier run, or a service started on it). */
  already: number;
}

/**
 * Reseals every record of every `<service>.keys.json` in `dir` that `from` sealed, with `to` (a token-held KEK); each
 * record is opened again before its file is rewritten. `afterRecord` runs after each record is written.
 */
export function rewrapKeys(dir: string, from: Kek, to: Kek, afterRecord: (service: string, keyId: string) => void = () => {}): RewrapReport {
  const report: RewrapReport = { files: 0, moved: 0, already: 0 };
  for (const name of readdirSync(dir).filter((file) => file.endsWith(".keys.json"))) {
    const path = join(dir, name);
    report.files += 1;
    let movedHere = 0;
    for (;;) {
      // One record per lock: a service saving a rotation meanwhile waits for at most one reseal.
      const finished = withKeyFileLock(path, (file) => {
        if (!file) return true;
        const pending = file.keys.find((key) => !key.sealed.startsWith(PKCS11_SEALED_PREFIX));
        if (!pending) {
          report.already += file.keys.length - movedHere;
          return true;
        }
        const aad = aadOf(file.service, pending.record.key_id);
        const secret = from.unseal(pending.sealed, aad);
        const sealed = to.seal(secret, aad);
        // The token must open what it sealed before the file changes.
        if (!Buffer.from(to.unseal(sealed, aad)).equals(Buffer.from(secret))) {
          throw new KeyStoreError(`${pending.record.key_id} resealed in the token does not open to the same key`);
        }
        writeKeyFile(path, { ...file, keys: file.keys.map((key) => (key === pending ? { ...key, sealed } : key)) });
        movedHere += 1;
        report.moved += 1;
        afterRecord(file.service, pending.record.key_id);
        return false;
      });
      if (finished) break;
    }
  }
  return report;
}
