// The stack `up` runs, with real processes: small stand-in services in a temporary folder (one that serves, one that
// crashes once, one whose configuration is invalid), no NATS (--no-nats) and no lab, so it needs neither root nor nats-server.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isProcessAlive } from "@x0/shared";
import { freePort, waitFor } from "@x0/shared/testing";
import { readStackFile, type StackFile } from "../stack-file.ts";
import { stackFileFixture } from "../testing.ts";
import { parseUpArgs } from "./args.ts";
import { loadUpConfig } from "./config.ts";
import { isPortFree } from "./ports.ts";
import { runUp, type UpHost, UpStack } from "./stack.ts";

/** A service that prints what it was told and answers /readyz and /status on X0_HTTP_PORT. */
const SERVING = `
const env = process.env;
console.log(\`env X0_NATS_SERVERS=\${env.X0_NATS_SERVERS} X0_HTTP_PORT=\${env.X0_HTTP_PORT} X0_NODE=\${env.X0_NODE} X0_TEST_MARK=\${env.X0_TEST_MARK}\`);
const status = { service: env.X0_TEST_NAME, version: "0.0.1", node: env.X0_NODE, ready: true, nats: { connected: false } };
Bun.serve({ hostname: "127.0.0.1", port: Number(env.X0_HTTP_PORT), fetch: (request) => new URL(request.url).pathname === "/readyz" ? new Response("ok") : Response.json(status) });
`;
/** Exits 1 the first time it runs in a state folder, then serves. */
const CRASHING_ONCE = `
import { existsSync, writeFileSync } from "node:fs";
const marker = \`\${process.env.X0_STATE_DIR}/crashed-once\`;
if (!existsSync(marker)) { writeFileSync(marker, ""); console.error("crashing on purpose"); process.exit(1); }
${SERVING}`;
/** Exits 78 (invalid configuration) at once. */
const MISCONFIGURED = `console.error("X0_WHATEVER is not valid"); process.exit(78);\n`;

const root = mkdtempSync(join(tmpdir(), "x0-stack-test-"));
const services: Record<string, string> = { monitor: SERVING, analyzer: SERVING, alpha: CRASHING_ONCE, zeta: MISCONFIGURED };
for (const [name, source] of Object.entries(services)) {
  mkdirSync(join(root, "services", name, "src"), { recursive: true });
  writeFileSync(join(root, "services", name, "src", "main.ts"), source.replaceAll("env.X0_TEST_NAME", JSON.stringify(name)));
}
// A folder without src/main.ts is not a service.
mkdirSync(join(root, "services", "notes"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Six consecutive ports that were free a moment ago: monitor … executor, then the two others. */
function freePortBase(): number {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const first = freePort();
    if (first + 5 <= 65535 && [1, 2, 3, 4, 5].every((offset) => isPortFree(first + offset))) return first;
  }
  throw new Error("no six consecutive free ports");
}

/** A host that keeps every line up writes, and the environment of one run in its own state folder. */
function testRun() {
  const lines: string[] = [];
  const host: UpHost = {
    root,
    isRoot: false,
    isTTY: false,
    write: (stream, text) =>
      lines.push(
        ...text
          .replace(/\n$/, "")
          .split("\n")
          .map((line) => `${stream} ${line}`),
      ),
  };
  const stateDir = mkdtempSync(join(tmpdir(), "x0-stack-state-"));
  const portBase = freePortBase();
  const env: Record<string, string | undefined> = {
    ...process.env,
    X0_STATE_DIR: stateDir,
    X0_HTTP_PORT_BASE: String(portBase),
    X0_NATS_PORT: "14999",
    X0_NATS_SERVERS: undefined,
    X0_NODE: "stack-test",
    X0_LAB: undefined,
    X0_TEST_MARK: "passed-on",
    NO_COLOR: "1",
  };
  const start = (argv: string[]) => new UpStack(parseUpArgs(argv), loadUpConfig(env), env, undefined, host);
  const cleanup = () => rmSync(stateDir, { recursive: true, force: true });
  return { lines, host, env, stateDir, portBase, start, cleanup };
}

describe("up stack", () => {
  test("up stack - starts every service in order, tells each its environment, restarts a crash, gives up on bad configuration, and stops all", async () => {
    const run = testRun();
    const stack = run.start(["--no-nats"]);
    const exited = stack.run();
    let stackFile: StackFile | undefined;
    try {
      await waitFor("the startup table", () => run.lines.some((line) => line.includes("services ready")), 30_000, 20);
      stackFile = readStackFile(join(run.stateDir, "stack.json"));
      const started = run.lines.flatMap((line) => /^stdout up\s+\| (\S+) started \(pid \d+\) on http:\/\/127\.0\.0\.1:(\d+)$/.exec(line)?.slice(1) ?? []);
      const base = run.portBase;
      expect(started).toEqual(["monitor", String(base), "analyzer", String(base + 1), "alpha", String(base + 4), "zeta", String(base + 5)]);
      expect(stackFile?.services.map(({ name, port }) => [name, port])).toEqual([
        ["monitor", base],
        ["analyzer", base + 1],
        ["alpha", base + 4],
        ["zeta", base + 5],
      ]);
      expect(stackFile?.nats).toEqual({ url: "nats://127.0.0.1:14999", monitorPort: null, pid: null });
      expect(run.lines).toContain(
        `stdout monitor  | env X0_NATS_SERVERS=nats://127.0.0.1:14999 X0_HTTP_PORT=${base} X0_NODE=stack-test X0_TEST_MARK=passed-on`,
      );
      expect(run.lines.some((line) => /^stdout up\s+\| alpha exited with code 1 after .* restarting in 0\.5 s \(crash 1 in a row\)$/.test(line))).toBe(true);
      expect(run.lines.some((line) => /^stdout up\s+\| zeta exited with code 78: its configuration is invalid .*not restarting it/.test(line))).toBe(true);
      expect(run.lines).toContain("stderr zeta     | X0_WHATEVER is not valid");
      const table = run.lines
        .filter((line) => /^stdout (monitor|analyzer|alpha|zeta) +(\d+|-) +\d+ +(yes|no|down) /.test(line))
        .map((line) => line.split(/\s+/));
      expect(table.map((cells) => [cells[1], cells[4]])).toEqual([
        ["monitor", "yes"],
        ["analyzer", "yes"],
        ["alpha", "yes"],
        ["zeta", "down"],
      ]);
      expect(run.lines).toContain("stdout 3/4 services ready, NATS at nats://127.0.0.1:14999. Not ready: zeta. Ctrl-C stops the stack.");
    } finally {
      stack.stop();
    }
    expect(await exited).toBe(0);
    expect(run.lines.at(-1)).toMatch(/^stdout up\s+\| stopped$/);
    expect(existsSync(join(run.stateDir, "stack.json"))).toBe(false);
    const pids = stackFile?.services.flatMap(({ pid }) => (pid === null ? [] : [pid])) ?? [];
    expect(pids).toHaveLength(3);
    expect(pids.filter(isProcessAlive)).toEqual([]);
    run.cleanup();
  }, 60_000);

  test("up stack - --only starts just those services, on the ports they have in the whole stack", async () => {
    const run = testRun();
    const stack = run.start(["--no-nats", "--only", "alpha"]);
    const exited = stack.run();
    try {
      await waitFor("the startup table", () => run.lines.some((line) => line.includes("services ready")), 30_000, 20);
      expect(readStackFile(join(run.stateDir, "stack.json"))?.services.map(({ name, port }) => [name, port])).toEqual([["alpha", run.portBase + 4]]);
      expect(run.lines).toContain("stdout 1/1 services ready, NATS at nats://127.0.0.1:14999. Ctrl-C stops the stack.");
    } finally {
      stack.stop();
    }
    expect(await exited).toBe(0);
    run.cleanup();
  }, 60_000);

  test("up stack - refuses to start next to another up, or on a taken port, before starting anything", async () => {
    const run = testRun();
    const other = Bun.spawn(["sleep", "30"]);
    try {
      writeFileSync(join(run.stateDir, "stack.json"), JSON.stringify(stackFileFixture({ pid: other.pid })));
      expect(await run.start(["--no-nats"]).run()).toBe(1);
      expect(run.lines).toContain(
        `stderr up: another up (pid ${other.pid}) runs this stack (${join(run.stateDir, "stack.json")}); stop it first or set X0_STATE_DIR`,
      );
    } finally {
      other.kill();
      await other.exited;
    }
    rmSync(join(run.stateDir, "stack.json"));
    const holder = Bun.listen({ hostname: "127.0.0.1", port: run.portBase + 1, socket: { data() {} } });
    try {
      expect(await run.start(["--no-nats"]).run()).toBe(1);
      expect(run.lines.at(-1)).toBe(
        `stderr up: HTTP port already in use: ${run.portBase + 1} (analyzer); stop what holds it, use --only, or set X0_HTTP_PORT_BASE`,
      );
    } finally {
      holder.stop(true);
    }
    expect(run.lines.some((line) => line.includes("started"))).toBe(false);
    run.cleanup();
  });

  test("up stack - a lab needs root, and an unknown --only service is a usage error (exit 2)", async () => {
    const run = testRun();
    expect(await runUp(["--lab", "line:2"], run.env, run.host)).toBe(2);
    expect(run.lines[0]).toBe("stderr up: the lab (line:2) needs root: it creates network namespaces; run as root or without --lab");
    expect(await run.start(["--no-nats", "--only", "nosuch"]).run()).toBe(2);
    expect(run.lines.some((line) => line.startsWith("stderr up: --only: no such service: nosuch (services: monitor, analyzer, alpha, zeta)"))).toBe(true);
    expect(await runUp(["--help"], run.env, run.host)).toBe(0);
    expect(run.lines.some((line) => line.startsWith("stdout Usage: x0 up [options]"))).toBe(true);
    run.cleanup();
  });
});
