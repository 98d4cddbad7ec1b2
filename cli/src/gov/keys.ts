// A member's signing key for `x0 gov`: a file with 0600 permissions holding a hex private key or a standard JSON keystore
// (v3, decrypted with ethers; the password from a 0600 file). Keys and passwords never come on the command line.
import { readFileSync, statSync } from "node:fs";
import { X0Error } from "@x0/shared";
import { Wallet } from "ethers";
import { type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";

/** A key or password file is missing, readable by others, or not a key. */
export class KeyFileError extends X0Error {}

/** Reads a secret file, refusing one that its group or others may read or write. */
export function readSecretFile(path: string, what: string): string {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (error) {
    throw new KeyFileError(`cannot read the ${what} ${path}`, { cause: error });
  }
  if ((mode & 0o077) !== 0) {
    throw new KeyFileError(`the ${what} ${path} has permissions ${(mode & 0o777).toString(8)}: it must be readable by its owner only (chmod 600 ${path})`);
  }
  return readFileSync(path, "utf8").trim();
}

const HEX_KEY = /^(0x)?[0-9a-fA-F]{64}$/;

/** The account of a key file: hex private key, or a JSON keystore decrypted with the password in `passwordFile`. */
export async function loadMemberKey(path: string, passwordFile: string | undefined): Promise<PrivateKeyAccount> {
  const text = readSecretFile(path, "key file");
  if (HEX_KEY.test(text)) return privateKeyToAccount((text.startsWith("0x") ? text : `0x${text}`) as `0x${string}`);
  if (!text.startsWith("{")) throw new KeyFileError(`${path} is neither a hex private key (64 hex digits) nor a JSON keystore`);
  if (passwordFile === undefined) throw new KeyFileError(`${path} is a JSON keystore: give its password in a file with --password-file (0600)`);
  const password = readSecretFile(passwordFile, "password file");
  let wallet: Awaited<ReturnType<typeof Wallet.fromEncryptedJson>>;
  try {
    wallet = await Wallet.fromEncryptedJson(text, password);
  } catch (error) {
    throw new KeyFileError(`cannot decrypt the keystore ${path}: ${(error as Error).message}`, { cause: error });
  }
  return privateKeyToAccount(wallet.privateKey as `0x${string}`);
}
