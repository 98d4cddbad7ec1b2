// Integration test of `bun cli/src/up.ts`: a real nats-server and real service processes on free ports,
// with the state folder in a temporary directory so the developer's .x0/ is never touched.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isProcessAlive, signalGroup } from "@x0/shared";
import { collectLines, freePort, REPO_ROOT, waitFor } from "@x0/shared/testing";
import type { Subprocess } from "bun";
import { readStackFile, type StackFile } from "./stack-file.ts";
import type { StatusReport } from "./status/report.ts";
import { isPortFree, KNOWN_SERVICE_OFFSETS } from "./up/ports.ts";

/** A run of `count` consecutive ports that were free a moment ago. */
function freePortRange(count: number): number {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const first = freePort();
    const rest = Array.from({ length: count - 1 }, (_, index) => first + index + 1);
    if (rest.every((port) => port <= 65535 && isPortFree(port))) return first;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

const stateDir = mkdtempSync(join(tmpdir(), "x0-up-test-"));
const natsPort = freePort();
const natsMonitorPort = freePort();
const httpPortBase = freePortRange(Object.keys(KNOWN_SERVICE_OFFSETS).length);
const env: Record<string, string | undefined> = {
  ...process.env,
  X0_STATE_DIR: stateDir,
  X0_NATS_PORT: String(natsPort),
  X0_NATS_MONITOR_PORT: String(natsMonitorPort),
  X0_HTTP_PORT_BASE: String(httpPortBase),
  X0_NODE: "up-test",
  X0_NATS_SERVERS: undefined,
  NO_COLOR: "1",
  // This test is about the supervisor: keep the monitor off the host's data path, and no lab even when run as root.
  X0_MONITOR_EBPF: "off",
  X0_LAB: "off",
};

const output: string[] = [];
let up: Subprocess<"ignore", "pipe", "pipe"> | undefined;
/** The stack as up described it while running; kept to check (and clean up) its processes afterwards. */
let stack: StackFile | undefined;

/** Processes (pid and command line) whose command line contains `text`, zombies left out. */
function processesMatching(text: string): string[] {
  const ps = Bun.spawnSync(["ps", "-eo", "pid=,stat=,args="]);
  return ps.stdout
    .toString()
    .split("\n")
    .filter((line) => line.includes(text) && !/^\s*\d+\s+Z/.test(line) && !line.includes("ps -eo"));
}

function leftovers(): string[] {
  const pids = stack ? [stack.nats.pid, ...stack.services.map((service) => service.pid)].filter((pid): pid is number => pid !== null) : [];
  return [
    ...pids.filter(isProcessAlive).map((pid) => `pid ${pid} from stack.json`),
    ...processesMatching(`-p ${natsPort} `),
    ...processesMatching(`reaper.ts ${up?.pid ?? "?"} `),
  ];
}

afterAll(async () => {
  if (up !== undefined && up.exitCode === null && up.signalCode === null) {
    up.kill("SIGKILL");
    await up.exited;
  }
  const pids = stack ? [stack.nats.pid, ...stack.services.map((service) => service.pid)] : [];
  for (const pid of pids) if (pid !== null && isProcessAlive(pid)) signalGroup(pid, "SIGKILL");
  for (const line of [...processesMatching(`-p ${natsPort} `), ...processesMatching(`reaper.ts ${up?.pid ?? "?"} `)]) {
    const pid = Number(line.trim().split(/\s+/)[0]);
    if (pid > 1) process.kill(pid, "SIGKILL");
  }
  rmSync(stateDir, { recursive: true, force: true });
});

describe("up", () => {
  test("up - a bad --lab topology exits 2 naming the grammar", async () => {
    const lab = Bun.spawn([process.execPath, "cli/src/up.ts", "--lab", "ring"], { cwd: REPO_ROOT, env, stdout: "pipe", stderr: "pipe" });
    expect(await lab.exited).toBe(2);
    expect(await new Response(lab.stderr).text()).toContain("expected ring:<nodes>");
  });

  test("up - starts NATS and every service and prints the status table once they are ready", async () => {
    up = Bun.spawn([process.execPath, "cli/src/up.ts"], { cwd: REPO_ROOT, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    collectLines(up.stdout, output);
    collectLines(up.stderr, output);
    const child = up;
    try {
      await waitFor(
        "the status table",
        () => {
          if (child.exitCode !== null) throw new Error(`up exited with ${child.exitCode}`);
          return output.some((line) => /^\d+\/\d+ services ready/.test(line));
        },
        60_000,
        50,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- up output ---\n${output.slice(-60).join("\n")}`, { cause: error });
    }
    const header = output.findIndex((line) => line.startsWith("SERVICE"));
    expect(header).toBeGreaterThanOrEqual(0);
    expect(output[header]).toMatch(/^SERVICE\s+PID\s+PORT\s+READY\s+VERSION\s+NODE$/);
    expect(output.find((line) => /services ready/.test(line))).toMatch(/^(\d+)\/\1 services ready/);

    stack = readStackFile(join(stateDir, "stack.json"));
    expect(stack).toBeDefined();
    expect(stack?.pid).toBe(child.pid);
    // mTLS by default: the stack file names the TLS URL.
    expect(stack?.nats).toMatchObject({ url: `tls://127.0.0.1:${natsPort}`, monitorPort: natsMonitorPort });
    expect(stack?.services.slice(0, 4)).toMatchObject([
      { name: "monitor", port: httpPortBase },
      { name: "analyzer", port: httpPortBase + 1 },
      { name: "planner", port: httpPortBase + 2 },
      { name: "executor", port: httpPortBase + 3 },
    ]);
    // The leftover check after the stop looks for these; make sure it would find them.
    expect(processesMatching(`-p ${natsPort} `)).toHaveLength(1);
    expect(processesMatching(`reaper.ts ${child.pid} `)).toHaveLength(1);
  }, 90_000);

  test("up - x0 status --json finds the stack and reports every service ready", async () => {
    const status = Bun.spawn([process.execPath, "cli/src/x0.ts", "status", "--json"], { cwd: REPO_ROOT, env, stdout: "pipe", stderr: "pipe" });
    const [code, text] = await Promise.all([status.exited, new Response(status.stdout).text()]);
    const report = JSON.parse(text) as StatusReport;
    expect(report.services.map((service) => service.name)).toEqual(stack?.services.map((service) => service.name) ?? []);
    for (const service of report.services) expect(service).toMatchObject({ state: "ready", node: "up-test", nats_connected: true });
    expect(report.all_ready).toBe(true);
    expect(Object.keys(report.totals)).toEqual(["anomalies", "plans", "actions", "dlq"]);
    expect(code).toBe(0);
  }, 30_000);

  test("up - SIGINT stops everything, exits 0, removes stack.json and leaves no process behind", async () => {
    const child = up;
    if (child === undefined) throw new Error("up did not start");
    child.kill("SIGINT");
    const code = await Promise.race([child.exited, Bun.sleep(45_000).then(() => "still running")]);
    expect(code).toBe(0);
    expect(output.at(-1)).toMatch(/\| stopped$/);
    expect(existsSync(join(stateDir, "stack.json"))).toBe(false);
    await waitFor("no leftover processes", () => leftovers().length === 0, 5000).catch((error: unknown) => {
      throw new Error(`left behind: ${leftovers().join("; ")}`, { cause: error });
    });
  }, 60_000);
});
