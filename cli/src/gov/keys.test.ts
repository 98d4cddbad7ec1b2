import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encryptKeystoreJson, Wallet } from "ethers";
import { KeyFileError, loadMemberKey } from "./keys.ts";

const dir = mkdtempSync(join(tmpdir(), "x0-gov-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string, mode = 0o600) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
};
const wallet = new Wallet(`0x${"11".repeat(32)}`);
const address = wallet.address as `0x${string}`;

describe("x0 gov keys", () => {
  test("a hex private key file (with or without 0x) gives its account", async () => {
    expect((await loadMemberKey(file("hex", `${wallet.privateKey}\n`), undefined)).address).toBe(address);
    expect((await loadMemberKey(file("bare", wallet.privateKey.slice(2)), undefined)).address).toBe(address);
  });

  test("a JSON keystore (ethers' v3 encryption) is decrypted with the password file", async () => {
    // A low scrypt cost keeps the test fast; the format is the standard one.
    const keystore = await encryptKeystoreJson({ address: wallet.address, privateKey: wallet.privateKey }, "correct horse", { scrypt: { N: 1024 } });
    const path = file("keystore.json", keystore);
    expect((await loadMemberKey(path, file("password", "correct horse\n"))).address).toBe(address);
    await expect(loadMemberKey(path, file("wrong", "wrong horse"))).rejects.toThrow(/cannot decrypt/);
    await expect(loadMemberKey(path, undefined)).rejects.toThrow(/--password-file/);
  });

  test("a key or password readable by others is refused, naming chmod 600", async () => {
    await expect(loadMemberKey(file("open", wallet.privateKey, 0o644), undefined)).rejects.toThrow(/chmod 600/);
    await expect(loadMemberKey(file("garbage", "not a key"), undefined)).rejects.toThrow(KeyFileError);
    await expect(loadMemberKey(join(dir, "missing"), undefined)).rejects.toThrow(/cannot read/);
  });
});
