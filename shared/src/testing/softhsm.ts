// SoftHSM2 tokens for tests: each test run makes its own token folder and configuration (SOFTHSM2_CONF), so no test
// touches the machine's tokens, and removes them afterwards.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pkcs11Settings } from "../crypto/hsm-kek.ts";
import { X0Error } from "../errors.ts";

/** Where Debian (and others) install SoftHSM2's PKCS#11 module. */
export const SOFTHSM_MODULE = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/lib64/pkcs11/libsofthsm2.so"].find(
  (path) => existsSync(path),
);
/** Whether SoftHSM2 is installed (its module and softhsm2-util). */
export const softhsmAvailable = SOFTHSM_MODULE !== undefined && Bun.which("softhsm2-util") !== null;

/** A SoftHSM2 token of a test. */
export interface TestToken {
  /** The token folder's parent (configuration, PIN file). */
  dir: string;
  /** SOFTHSM2_CONF for processes that use it. */
  env: { SOFTHSM2_CONF: string };
  module: string;
  token: string;
  pin: string;
  /** The PIN in a 0600 file. */
  pinFile: string;
  /** The settings of a KEK labelled `keyLabel` on this token. */
  settings(keyLabel?: string): Pkcs11Settings;
  /** Takes the token's files away (as if the HSM went offline) or puts them back. */
  setPresent(present: boolean): void;
  remove(): void;
}

/** Initialises a token labelled `label` in a folder of its own. */
export function softhsmToken(label = "x0-test", pin = "246810"): TestToken {
  if (!SOFTHSM_MODULE) throw new X0Error("SoftHSM2 is not installed (apt install softhsm2)");
  const dir = mkdtempSync(join(tmpdir(), "x0-softhsm-"));
  const tokens = join(dir, "tokens");
  const away = join(dir, "away");
  mkdirSync(tokens, { mode: 0o700 });
  const conf = join(dir, "softhsm2.conf");
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const init = Bun.spawnSync(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", `${pin}9`], {
    env: { ...process.env, SOFTHSM2_CONF: conf },
    stdout: "pipe",
    stderr: "pipe",
  });
  if (init.exitCode !== 0) throw new X0Error(`softhsm2-util --init-token failed: ${init.stderr.toString()}`);
  const pinFile = join(dir, "pin");
  writeFileSync(pinFile, `${pin}\n`, { mode: 0o600 });
  chmodSync(pinFile, 0o600);
  const module = SOFTHSM_MODULE;
  return {
    dir,
    env: { SOFTHSM2_CONF: conf },
    module,
    token: label,
    pin,
    pinFile,
    settings: (keyLabel = "x0-kek") => ({ module, token: label, keyLabel, pin }),
    setPresent(present) {
      const [from, to] = present ? [away, tokens] : [tokens, away];
      mkdirSync(to, { recursive: true, mode: 0o700 });
      for (const entry of readdirSync(from)) renameSync(join(from, entry), join(to, entry));
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Sets a variable in the process's C environment, where a PKCS#11 module reads its configuration (Bun's process.env
 * does not reach a library's getenv).
 */
export function setNativeEnv(name: string, value: string): void {
  const libc = dlopen("libc.so.6", { setenv: { args: [FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 } });
  try {
    const encode = (text: string) => new TextEncoder().encode(`${text}\0`);
    const nameBytes = encode(name);
    const valueBytes = encode(value);
    if (libc.symbols.setenv(ptr(nameBytes), ptr(valueBytes), 1) !== 0) throw new X0Error(`setenv ${name} failed`);
  } finally {
    libc.close();
  }
  process.env[name] = value;
}
