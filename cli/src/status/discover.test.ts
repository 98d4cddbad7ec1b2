// `x0 status` without a stack file: a real nats-server, the crypto service as a real process (it registers x0-crypto with
// the services API and announces its HTTP address), and default ports where nothing listens.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { freePort, type NatsServer, type ServiceProcess, startNatsServer, startServiceProcess } from "@x0/shared/testing";
import type { Output } from "../status/command.ts";
import { isPortFree } from "../up/ports.ts";
import { runX0 } from "../x0.ts";
import { pingServices, SERVICE_PING_SUBJECT } from "./discover.ts";

import type { StatusReport } from "./report.ts";

let nats: NatsServer;
let crypto: ServiceProcess;
let nc: NatsConnection;
const stateDir = mkdtempSync(join(tmpdir(), "x0-status-discover-"));

beforeAll(async () => {
  nats = await startNatsServer();
  crypto = startServiceProcess("crypto", { X0_NATS_SERVERS: nats.url, X0_NODE: "disc", X0_LOG_LEVEL: "warn" });
  nc = await connect({ servers: nats.url });
  // Two more answers to a ping: an ADR-32 identity that announces no HTTP address, and something that is not one.
  nc.subscribe(SERVICE_PING_SUBJECT, {
    callback: (_, msg) => void msg.respond(JSON.stringify({ type: "io.nats.micro.v1.ping_response", name: "x0-bare", id: "b1", version: "1.0.0" })),
  });
  nc.subscribe(SERVICE_PING_SUBJECT, { callback: (_, msg) => void msg.respond("not an identity") });
  await crypto.waitReady(60_000);
}, 90_000);
afterAll(async () => {
  await crypto?.stop();
  await nc?.close();
  await nats?.dispose();
  rmSync(stateDir, { recursive: true, force: true });
});

/** Seven consecutive ports where nothing listens: the default ports of a stack that is not there. */
function emptyPortBase(): number {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const first = freePort();
    if (first + 6 <= 65535 && [1, 2, 3, 4, 5, 6].every((offset) => isPortFree(first + offset))) return first;
  }
  throw new Error("no seven consecutive free ports");
}

async function x0(argv: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const output: Output = { out: (text) => out.push(text), err: (text) => err.push(text) };
  const code = await runX0(argv, env, output);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("status discovery", () => {
  test("status discovery - $SRV.PING finds every services-API instance and the HTTP address ours announce", async () => {
    const found = await pingServices(nc, 500);
    expect(found).toEqual([
      { name: "x0-bare", id: "b1", version: "1.0.0", url: undefined },
      { name: "x0-crypto", id: expect.any(String), version: expect.any(String), url: `http://127.0.0.1:${crypto.port}` },
    ]);
  });

  test("status discovery - without a stack file, x0 status asks the services NATS found and the default ports of the others", async () => {
    const base = emptyPortBase();
    const { code, out, err } = await x0(["status", "--json", "-s", nats.url], { X0_STATE_DIR: stateDir, X0_HTTP_PORT_BASE: String(base) });
    expect(err).toBe("");
    const report = JSON.parse(out) as StatusReport;
    expect(report.services.map(({ name, url, found_by, state }) => ({ name, url, found_by, state }))).toEqual([
      { name: "monitor", url: `http://127.0.0.1:${base}`, found_by: "port", state: "down" },
      { name: "analyzer", url: `http://127.0.0.1:${base + 1}`, found_by: "port", state: "down" },
      { name: "planner", url: `http://127.0.0.1:${base + 2}`, found_by: "port", state: "down" },
      { name: "executor", url: `http://127.0.0.1:${base + 3}`, found_by: "port", state: "down" },
      { name: "crypto", url: `http://127.0.0.1:${crypto.port}`, found_by: "nats", state: "ready" },
      { name: "rag", url: `http://127.0.0.1:${base + 5}`, found_by: "port", state: "down" },
      { name: "swarm", url: `http://127.0.0.1:${base + 6}`, found_by: "port", state: "down" },
    ]);
    expect(report.services[4]).toMatchObject({ node: "disc", nats_connected: true });
    expect(code).toBe(1);
  }, 20_000);

  test("status discovery - NATS that does not answer is said once, and the default ports are still asked", async () => {
    const base = emptyPortBase();
    const dead = `nats://127.0.0.1:${freePort()}`;
    const { code, out, err } = await x0(["status", "--json", "--server", dead], { X0_STATE_DIR: stateDir, X0_HTTP_PORT_BASE: String(base) });
    expect(err).toStartWith(`note: no NATS service discovery (cannot connect to NATS at ${dead}`);
    expect(err).toEndWith("asking the default ports");
    expect((JSON.parse(out) as StatusReport).services.map(({ name, found_by }) => `${name} ${found_by}`)).toHaveLength(7);
    expect(code).toBe(1);
  }, 20_000);
});
