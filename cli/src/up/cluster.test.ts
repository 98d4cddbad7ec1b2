// Integration test of `bun cli/src/up.ts --cluster`: three real nats-servers with mTLS routes and every service on free
// ports, the state folder in a temporary directory, no lab.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Buckets, DLQ_STREAM, EVENTS_STREAM, isProcessAlive } from "@x0/shared";
import { collectLines, freePort, REPO_ROOT, waitFor } from "@x0/shared/testing";
import type { Subprocess } from "bun";
import { readStackFile } from "../stack-file.ts";
import { CLUSTER_SIZE } from "./nats.ts";
import { isPortFree, KNOWN_SERVICE_OFFSETS } from "./ports.ts";

/** The first of `count` consecutive ports that were free a moment ago. */
function freePortRange(count: number): number {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const first = freePort();
    if (Array.from({ length: count - 1 }, (_, index) => first + index + 1).every((port) => port <= 65535 && isPortFree(port))) return first;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

const stateDir = mkdtempSync(join(tmpdir(), "x0-up-cluster-test-"));
const natsPort = freePortRange(CLUSTER_SIZE);
const monitorPort = freePortRange(CLUSTER_SIZE);
const clusterPort = freePortRange(CLUSTER_SIZE);
const env: Record<string, string | undefined> = {
  ...process.env,
  X0_STATE_DIR: stateDir,
  X0_NATS_PORT: String(natsPort),
  X0_NATS_MONITOR_PORT: String(monitorPort),
  X0_NATS_CLUSTER_PORT: String(clusterPort),
  X0_HTTP_PORT_BASE: String(freePortRange(Object.keys(KNOWN_SERVICE_OFFSETS).length)),
  X0_NODE: "up-cluster",
  X0_NATS_SERVERS: undefined,
  X0_JS_REPLICAS: undefined,
  NO_COLOR: "1",
  X0_MONITOR_EBPF: "off",
  X0_LAB: "off",
};
const output: string[] = [];
let up: Subprocess<"ignore", "pipe", "pipe"> | undefined;

/** The pids of the nats-servers listening on the cluster's client ports. */
function natsPids(): number[] {
  const ps = Bun.spawnSync(["ps", "-eo", "pid=,stat=,args="]).stdout.toString().split("\n");
  return ps
    .filter((line) => line.includes("nats-server") && !/^\s*\d+\s+Z/.test(line))
    .filter((line) => Array.from({ length: CLUSTER_SIZE }, (_, index) => `-p ${natsPort + index} `).some((port) => line.includes(port)))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

afterAll(async () => {
  if (up !== undefined && up.exitCode === null) {
    up.kill("SIGKILL");
    await up.exited;
  }
  for (const pid of natsPids()) if (isProcessAlive(pid)) process.kill(pid, "SIGKILL");
  rmSync(stateDir, { recursive: true, force: true });
});

describe("up --cluster", () => {
  test("up --cluster - runs three routed nats-servers, every service on all three, streams and buckets with 3 replicas", async () => {
    up = Bun.spawn([process.execPath, "cli/src/up.ts", "--cluster"], { cwd: REPO_ROOT, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    collectLines(up.stdout, output);
    collectLines(up.stderr, output);
    const child = up;
    // Ready as the operator sees it: `x0 status` finds the stack and every service answers ready.
    const status = async () => {
      const x0 = Bun.spawn([process.execPath, "cli/src/x0.ts", "status", "--json"], { cwd: REPO_ROOT, env, stdout: "pipe", stderr: "ignore" });
      return JSON.parse(await new Response(x0.stdout).text()) as { all_ready: boolean; services: { nats_connected: boolean }[] };
    };
    await waitFor(
      "every service ready in x0 status",
      async () => {
        if (child.exitCode !== null) throw new Error(`up exited with ${child.exitCode}:\n${output.slice(-80).join("\n")}`);
        return (await status().catch(() => undefined))?.all_ready === true;
      },
      90_000,
      500,
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n--- up output ---\n${output.slice(-80).join("\n")}`, { cause: error });
    });
    expect((await status()).services.every((service) => service.nats_connected)).toBe(true);
    const urls = Array.from({ length: CLUSTER_SIZE }, (_, index) => `tls://127.0.0.1:${natsPort + index}`);
    expect(readStackFile(join(stateDir, "stack.json"))?.nats.url).toBe(urls.join(","));
    expect(natsPids()).toHaveLength(CLUSTER_SIZE);
    for (let index = 0; index < CLUSTER_SIZE; index += 1) {
      const routez = (await (await fetch(`http://127.0.0.1:${monitorPort + index}/routez`)).json()) as { num_routes: number };
      expect(routez.num_routes).toBe(CLUSTER_SIZE - 1);
    }
    // What the server itself reports of the streams it holds.
    const jsz = (await (await fetch(`http://127.0.0.1:${monitorPort}/jsz?accounts=true&streams=true&config=true`)).json()) as {
      account_details?: { stream_detail?: { name: string; config?: { num_replicas: number } }[] }[];
    };
    const replicas = new Map(
      jsz.account_details?.flatMap((account) => account.stream_detail ?? []).map((stream) => [stream.name, stream.config?.num_replicas]),
    );
    for (const stream of [EVENTS_STREAM, DLQ_STREAM, `KV_${Buckets.topology}`, `KV_${Buckets.outcomes}`, `KV_${Buckets.keyring}`]) {
      expect(replicas.get(stream), stream).toBe(CLUSTER_SIZE);
    }
  }, 120_000);

  test("up --cluster - SIGINT stops the services and all three servers and exits 0", async () => {
    const child = up;
    if (child === undefined) throw new Error("up did not start");
    child.kill("SIGINT");
    expect(await Promise.race([child.exited, Bun.sleep(45_000).then(() => "still running")])).toBe(0);
    await waitFor("no nats-server left", () => natsPids().length === 0, 5000);
  }, 60_000);
});
