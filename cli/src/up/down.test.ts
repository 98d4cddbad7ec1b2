// `x0 down` against real processes: an up (UpStack with stand-in services, no NATS, no lab, in a temporary folder) that
// it stops cleanly, and a stand-in up that ignores SIGTERM.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isProcessAlive } from "@x0/shared";
import { collectLines, freePort, waitFor } from "@x0/shared/testing";
import { readStackFile } from "../stack-file.ts";
import type { Output } from "../status/command.ts";
import { stackFileFixture } from "../testing.ts";
import { runX0 } from "../x0.ts";
import { isPortFree } from "./ports.ts";

const root = mkdtempSync(join(tmpdir(), "x0-down-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A service that answers /readyz and /status on X0_HTTP_PORT. */
const SERVING = `
const status = { service: "alpha", version: "0.0.1", node: process.env.X0_NODE, ready: true, nats: { connected: false } };
Bun.serve({ hostname: "127.0.0.1", port: Number(process.env.X0_HTTP_PORT), fetch: (request) => new URL(request.url).pathname === "/readyz" ? new Response("ok") : Response.json(status) });
`;
mkdirSync(join(root, "services", "alpha", "src"), { recursive: true });
writeFileSync(join(root, "services", "alpha", "src", "main.ts"), SERVING);
/** `up` itself, on the folder above (the driver `x0 up` is, with a host of our own). */
const DRIVER = join(root, "up.ts");
writeFileSync(
  DRIVER,
  `import { parseUpArgs } from ${JSON.stringify(join(import.meta.dir, "args.ts"))};
import { loadUpConfig } from ${JSON.stringify(join(import.meta.dir, "config.ts"))};
import { UpStack } from ${JSON.stringify(join(import.meta.dir, "stack.ts"))};
const host = { root: ${JSON.stringify(root)}, isRoot: false, isTTY: false, write: (stream, text) => void process[stream].write(text) };
const stack = new UpStack(parseUpArgs(["--no-nats", "--no-console"]), loadUpConfig(process.env), process.env, undefined, host);
process.exit(await stack.run({ stopOnSignals: true }));
`,
);

/** Runs x0 with `env` and returns its exit code and what it printed. */
async function x0(argv: string[], env: Record<string, string | undefined>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const output: Output = { out: (text) => out.push(text), err: (text) => err.push(text) };
  const code = await runX0(argv, env, output);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** Five consecutive ports that were free a moment ago (alpha gets the fifth). */
function freePortBase(): number {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const first = freePort();
    if (first + 4 <= 65535 && [1, 2, 3, 4].every((offset) => isPortFree(first + offset))) return first;
  }
  throw new Error("no five consecutive free ports");
}

describe("x0 down", () => {
  test("down - with no stack, or a stack file its up left behind, says so, clears it and exits 0", async () => {
    const stateDir = mkdtempSync(join(root, "state-"));
    expect(await x0(["down"], { X0_STATE_DIR: stateDir })).toEqual({ code: 0, out: `no stack runs here (no ${join(stateDir, "stack.json")})`, err: "" });
    const gone = Bun.spawn(["true"]);
    await gone.exited;
    writeFileSync(join(stateDir, "stack.json"), JSON.stringify(stackFileFixture({ pid: gone.pid })));
    const stale = await x0(["down"], { X0_STATE_DIR: stateDir });
    expect(stale).toMatchObject({ code: 0, out: expect.stringContaining(`left by up (pid ${gone.pid}), which has ended; removed it`) });
    expect(existsSync(join(stateDir, "stack.json"))).toBe(false);
  });

  test("down - a stack file whose pid is now another, younger process is stale: that process is not signalled", async () => {
    const stateDir = mkdtempSync(join(root, "state-"));
    const other = Bun.spawn(["sleep", "30"]);
    try {
      // The file says up started long before this process did: the pid was reused after up died.
      writeFileSync(join(stateDir, "stack.json"), JSON.stringify(stackFileFixture({ pid: other.pid, started_at: "2025-01-01T00:00:00.000Z" })));
      const stale = await x0(["down"], { X0_STATE_DIR: stateDir });
      expect(stale).toMatchObject({ code: 0, out: expect.stringContaining(`names pid ${other.pid}, now another process`) });
      expect(existsSync(join(stateDir, "stack.json"))).toBe(false);
      await Bun.sleep(100);
      expect(other.exitCode).toBeNull();
      expect(other.signalCode).toBeNull();
    } finally {
      other.kill();
      await other.exited;
    }
  });

  test("down - stops a running up as Ctrl-C would: its services stop, its stack file goes, and up exits 0", async () => {
    const stateDir = mkdtempSync(join(root, "state-"));
    const env = { ...process.env, X0_STATE_DIR: stateDir, X0_HTTP_PORT_BASE: String(freePortBase()), X0_NODE: "down-test", X0_LAB: "off", NO_COLOR: "1" };
    const up = Bun.spawn([process.execPath, DRIVER], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const output: string[] = [];
    collectLines(up.stdout, output);
    collectLines(up.stderr, output);
    try {
      await waitFor("the stack ready", () => output.some((line) => line.includes("services ready")), 30_000, 50).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\n${output.join("\n")}`, { cause: error });
      });
      const stack = readStackFile(join(stateDir, "stack.json"));
      expect(stack?.pid).toBe(up.pid);
      const pids = stack?.services.flatMap(({ pid }) => (pid === null ? [] : [pid])) ?? [];
      expect(pids).toHaveLength(1);

      const down = await x0(["down"], env);
      expect(down.err).toBe("");
      expect(down.out.split("\n")).toEqual([`stopping the stack of up (pid ${up.pid}, NATS ${stack?.nats.url}, 1 service(s))`, "stack stopped"]);
      expect(down.code).toBe(0);
      expect(await up.exited).toBe(0);
      expect(output.at(-1)).toMatch(/\| stopped$/);
      expect(existsSync(join(stateDir, "stack.json"))).toBe(false);
      expect(pids.filter(isProcessAlive)).toEqual([]);
    } finally {
      if (up.exitCode === null) up.kill("SIGKILL");
    }
  }, 60_000);

  test("down - an up that does not stop in time is a failure (exit 1) unless --force kills it", async () => {
    const stateDir = mkdtempSync(join(root, "state-"));
    const stubborn = Bun.spawn(
      [process.execPath, "-e", `process.on("SIGTERM", () => console.log("ignored")); setInterval(() => {}, 1000); console.log("up");`],
      {
        stdout: "pipe",
      },
    );
    const said: string[] = [];
    collectLines(stubborn.stdout, said);
    try {
      await waitFor("the stand-in up", () => said.includes("up"), 10_000);
      writeFileSync(join(stateDir, "stack.json"), JSON.stringify(stackFileFixture({ pid: stubborn.pid, started_at: new Date().toISOString() })));
      const late = await x0(["down", "--timeout-s", "1"], { X0_STATE_DIR: stateDir });
      expect(late.code).toBe(1);
      expect(late.err).toBe(`x0 down: up (pid ${stubborn.pid}) is still stopping after 1 s; wait, or run "x0 down --force" to kill it`);
      expect(said).toContain("ignored");
      const forced = await x0(["down", "--timeout-s", "0", "--force"], { X0_STATE_DIR: stateDir });
      expect(forced).toMatchObject({ code: 0, out: expect.stringContaining(`killed up (pid ${stubborn.pid})`) });
      expect(await stubborn.exited).not.toBe(0);
    } finally {
      if (stubborn.exitCode === null) stubborn.kill("SIGKILL");
    }
  }, 30_000);
});
