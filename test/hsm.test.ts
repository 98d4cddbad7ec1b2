// The KEK in a real SoftHSM2 token, with real processes: `x0 keys hsm init`, the crypto service sealing its keys in the
// token and keeping them across a restart, the token going away at run time (not ready, nothing lost, ready again),
// settings that are wrong stopping the service at start naming the variable, and a move from a file KEK by rewrap.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXIT_CONFIG, readKeyFile, toBase64 } from "@x0/shared";
import { type NatsServer, REPO_ROOT, softhsmAvailable, softhsmToken, startNatsServer, startServiceProcess, type TestToken, waitFor } from "@x0/shared/testing";

if (!softhsmAvailable) process.stderr.write("hsm.test.ts: skipped: SoftHSM2 is not installed (the bootstrap installs it)\n");

let nats: NatsServer;
let token: TestToken;
const work = mkdtempSync(join(tmpdir(), "x0-hsm-test-"));
const pkcs11Env = () => ({
  ...token.env,
  X0_KEK_SOURCE: "pkcs11",
  X0_PKCS11_MODULE: token.module,
  X0_PKCS11_TOKEN: token.token,
  X0_PKCS11_PIN_FILE: token.pinFile,
});

/** `bun run x0 …` as a process with `env`; its exit code and output. */
function x0(args: string[], env: Record<string, string>): { code: number; out: string } {
  const run = Bun.spawnSync([process.execPath, join(REPO_ROOT, "cli", "src", "x0.ts"), ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: run.exitCode, out: `${run.stdout.toString()}${run.stderr.toString()}` };
}

beforeAll(async () => {
  if (!softhsmAvailable) return;
  token = softhsmToken("x0-service");
  nats = await startNatsServer();
}, 30_000);

afterAll(async () => {
  await nats?.dispose();
  token?.remove();
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!softhsmAvailable)("KEK in an HSM, with processes", () => {
  test("hsm - x0 keys hsm init creates the KEK in the token, and says so when it is there already", () => {
    const first = x0(["keys", "hsm", "init", "--json"], pkcs11Env());
    expect(first.code).toBe(0);
    expect(JSON.parse(first.out)).toEqual({ token: "x0-service", label: "x0-kek", created: true });
    expect(x0(["keys", "hsm", "init"], pkcs11Env()).out).toContain("already holds");
    expect(x0(["keys", "hsm", "init"], { ...pkcs11Env(), X0_PKCS11_TOKEN: "" }).code).toBe(2);
  });

  test("hsm - the crypto service seals its keys in the token and keeps them across a restart; a lost token makes it not ready, and it recovers", async () => {
    const keyDir = join(work, "crypto-keys");
    const env = { X0_NATS_SERVERS: nats.url, X0_LOG_LEVEL: "warn", X0_KEY_DIR: keyDir, ...pkcs11Env() };
    let crypto = startServiceProcess("crypto", env);
    try {
      await crypto.waitReady();
      const stored = readKeyFile(join(keyDir, "crypto.keys.json"));
      expect(stored?.keys.every((key) => key.sealed.startsWith("pkcs11:"))).toBe(true);
      const keyId = stored?.current;
      await crypto.stop();
      crypto = startServiceProcess("crypto", env);
      await crypto.waitReady();
      expect(readKeyFile(join(keyDir, "crypto.keys.json"))?.current).toBe(keyId as string);

      // The token goes away: within a check (5 s) the service says it is not ready, and stays up.
      token.setPresent(false);
      await waitFor("not ready", async () => !(await crypto.ready()), 15_000, 250);
      expect(crypto.process.exitCode).toBeNull();
      token.setPresent(true);
      await waitFor("ready again", () => crypto.ready(), 15_000, 250);
      expect(readKeyFile(join(keyDir, "crypto.keys.json"))?.current).toBe(keyId as string);
    } finally {
      token.setPresent(true);
      await crypto.stop();
    }
  }, 60_000);

  test("hsm - wrong settings stop the service at start (exit 78) naming the variable, an extractable key among them", async () => {
    const loosePin = join(work, "loose-pin");
    writeFileSync(loosePin, token.pin);
    chmodSync(loosePin, 0o644);
    const wrongPin = join(work, "wrong-pin");
    writeFileSync(wrongPin, "000000", { mode: 0o600 });
    // A key that could leave the token: made here with the binding, as a careless tool might.
    const leaky = Bun.spawnSync(
      [
        process.execPath,
        "-e",
        `import { Pkcs11Module } from "${join(REPO_ROOT, "shared", "src", "crypto", "pkcs11.ts")}"; const m = Pkcs11Module.load(${JSON.stringify(token.module)}); m.open(${JSON.stringify(token.token)}, ${JSON.stringify(token.pin)}).generateAesKey("leaky", { extractable: true }); m.close();`,
      ],
      { env: { ...process.env, ...token.env }, stderr: "pipe" },
    );
    expect(leaky.exitCode).toBe(0);
    const cases: [Record<string, string>, RegExp][] = [
      [{ X0_PKCS11_KEY_LABEL: "leaky" }, /X0_PKCS11_KEY_LABEL: key "leaky" on token "x0-service" is extractable/],
      [{ X0_PKCS11_PIN_FILE: wrongPin }, /X0_PKCS11_PIN_FILE: .*CKR_PIN_INCORRECT/],
      [{ X0_PKCS11_PIN_FILE: loosePin }, /X0_PKCS11_PIN_FILE: .*chmod 600/],
      [{ X0_PKCS11_TOKEN: "absent" }, /X0_PKCS11_TOKEN: no token labelled "absent"/],
      [{ X0_PKCS11_KEY_LABEL: "absent" }, /X0_PKCS11_KEY_LABEL: no key labelled "absent"/],
      [{ X0_PKCS11_MODULE: "" }, /X0_PKCS11_MODULE: required with X0_KEK_SOURCE=pkcs11/],
    ];
    for (const [extra, expected] of cases) {
      const env = { X0_NATS_SERVERS: nats.url, X0_LOG_LEVEL: "warn", X0_KEY_DIR: join(work, "refused-keys"), ...pkcs11Env(), ...extra };
      const child = startServiceProcess("crypto", Object.fromEntries(Object.entries(env).filter(([, value]) => value !== "")));
      expect(await child.exited).toBe(EXIT_CONFIG);
      await Bun.sleep(20);
      expect(child.output.join("\n")).toMatch(expected);
    }
  }, 60_000);

  test("hsm - from a file KEK to the token without stopping: rewrap while the service runs, then it restarts on the token alone", async () => {
    const keyDir = join(work, "planner-like-keys");
    const kekFile = join(work, "kek");
    writeFileSync(kekFile, `${toBase64(globalThis.crypto.getRandomValues(new Uint8Array(32)))}\n`, { mode: 0o600 });
    const base = { X0_NATS_SERVERS: nats.url, X0_LOG_LEVEL: "warn", X0_KEY_DIR: keyDir };
    let crypto = startServiceProcess("crypto", { ...base, X0_KEK_FILE: kekFile });
    try {
      await crypto.waitReady();
      const before = readKeyFile(join(keyDir, "crypto.keys.json"));
      expect(before?.keys.some((key) => key.sealed.startsWith("pkcs11:"))).toBe(false);
      const moved = x0(["keys", "rewrap", "--to", "pkcs11", "--dir", keyDir, "--json"], { ...pkcs11Env(), X0_KEK_FILE: kekFile });
      expect(moved.code).toBe(0);
      expect(JSON.parse(moved.out)).toMatchObject({ files: 1, moved: before?.keys.length });
      expect(await crypto.ready()).toBe(true);
      await crypto.stop();
      // The file KEK is gone from its configuration: the token alone opens its keys.
      crypto = startServiceProcess("crypto", { ...base, ...pkcs11Env() });
      await crypto.waitReady();
      expect(readKeyFile(join(keyDir, "crypto.keys.json"))?.current).toBe(before?.current as string);
    } finally {
      await crypto.stop();
    }
  }, 60_000);
});
