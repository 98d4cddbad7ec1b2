// The lab against the real kernel (root only): a grid:2x2 lab with its monitors and a nats-server on its bridge, a prefix
// of its own (x0t<pid>) and the management subnet derived from it, so a user's `x0` lab is never touched.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "@x0/shared/testing";
import type { Subprocess } from "bun";
import { healLab, setLinkLoss } from "../faults/faults.ts";
import { existingNamespaces, findLabProcesses, readLinks, teardownLab } from "../kernel/kernel.ts";
import { defaultMgmtSubnet } from "../plan/addressing.ts";
import { labRunDirOf, pinParentOf } from "../plan/names.ts";
import { type LabPlan, planLab } from "../plan/plan.ts";
import { parseTopology } from "../plan/topology.ts";
import type { OutageEvent, ProbeEvent, RestoredEvent } from "../probe/outage.ts";
import { LabProber } from "../probe/prober.ts";
import { createLab, loadLab, startDetachedMonitor, waitForDataplanes } from "./lab.ts";
import { writeLabState } from "./state.ts";

const isRoot = process.getuid?.() === 0;
const hasNats = Bun.which(process.env.NATS_SERVER_BIN ?? "nats-server") !== null;
const runnable = isRoot && hasNats;
if (!runnable) {
  process.stderr.write(
    `lab.netns.test.ts: skipped: ${!isRoot ? "needs root (network namespaces, veths, mounts, bpffs)" : "needs nats-server on PATH (the lab's monitors connect to it)"}\n`,
  );
}

const prefix = `x0t${process.pid % 1_000_000}`;
const stateDir = mkdtempSync(join(tmpdir(), "x0-lab-test-"));
const plan: LabPlan = planLab(parseTopology("grid:2x2"), prefix, defaultMgmtSubnet(prefix));
let nats: Subprocess | undefined;
const probers: LabProber[] = [];

/** Everything the lab could have left in the kernel and on disk. */
function leftovers(): string[] {
  return [
    ...existingNamespaces(prefix).map((ns) => `netns ${ns}`),
    ...readdirSync("/sys/class/net")
      .filter((name) => name.startsWith(`${prefix}-`))
      .map((name) => `link ${name}`),
    ...readFileSync("/proc/self/mounts", "utf8")
      .split("\n")
      .filter((line) => line.includes(`${labRunDirOf(prefix)}/`))
      .map((line) => `mount ${line.split(" ")[1]}`),
    ...[pinParentOf(prefix), labRunDirOf(prefix)].filter((path) => existsSync(path)).map((path) => `path ${path}`),
    ...findLabProcesses(prefix).map((pid) => `process ${pid}`),
  ];
}

beforeAll(async () => {
  if (!runnable) return;
  // A crashed earlier run with this pid's prefix (pids are recycled) must not make this one fail.
  await teardownLab(prefix, { stateDir, graceMs: 0 });
  const natsPort = freePort();
  const state = await createLab(plan, { stateDir, natsUrl: `nats://${plan.bridgeAddress}:${natsPort}`, owner: "lab" });
  const storeDir = join(stateDir, "nats");
  mkdirSync(storeDir, { recursive: true });
  const natsLog = join(stateDir, "nats-server.log");
  nats = Bun.spawn([process.env.NATS_SERVER_BIN ?? "nats-server", "-a", plan.bridgeAddress, "-p", String(natsPort), "-js", "-sd", storeDir], {
    stdout: "ignore",
    stderr: Bun.file(natsLog),
  });
  // Monitors attach XDP only once they reach NATS: a server that never listened must be named as the cause.
  await waitFor("nats-server listening on the lab bridge", () => accepts(plan.bridgeAddress, natsPort), 15_000).catch((error) => {
    throw new Error(`nats-server did not listen on ${plan.bridgeAddress}:${natsPort} (exit ${nats?.exitCode}): ${tail(natsLog)}`, { cause: error });
  });
  // This test is about the lab, on a plain NATS server of its own: the development flag (identities are tested elsewhere).
  for (const node of plan.nodes)
    state.processes.push(
      startDetachedMonitor(plan, node, state.nats as string, stateDir, { ...process.env, X0_LOG_LEVEL: "warn", X0_NATS_INSECURE_DEV: "true" }),
    );
  writeLabState(join(stateDir, `lab-${prefix}.json`), state);
  const missing = await waitForDataplanes(plan, 60_000);
  if (missing.length > 0) {
    const logs = plan.nodes.map((node) => `--- ${node.name}: ${tail(join(stateDir, `lab-${prefix}-logs`, `${node.name}.log`))}`);
    throw new Error(`monitors did not attach XDP on ${missing.join(", ")}\n${logs.join("\n")}\n--- nats-server: ${tail(natsLog)}`);
  }
}, 90_000);

afterAll(async () => {
  if (!runnable) return;
  for (const prober of probers) await prober.stop();
  await teardownLab(prefix, { stateDir, graceMs: 2000 });
  nats?.kill("SIGKILL");
  await nats?.exited;
  if (!process.env.X0_KEEP_LAB_LOGS) rmSync(stateDir, { recursive: true, force: true });
}, 30_000);

/** Whether a TCP connection to `host:port` is accepted. */
async function accepts(host: string, port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: host, port, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false; // not listening yet
  }
}

/** The last lines of a log file, for a failure message that CI prints. */
function tail(path: string, lines = 15): string {
  return existsSync(path) ? readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n") : "(no log)";
}

async function startProber(from: string, to: string): Promise<LabProber> {
  const prober = new LabProber({ plan, intervalMs: 10, summaryMs: 200 });
  probers.push(prober);
  await prober.start(from, to);
  return prober;
}

const isRestored = (event: ProbeEvent): event is RestoredEvent => event.event === "restored";
const isOutage = (event: ProbeEvent): event is OutageEvent => event.event === "outage";

describe.skipIf(!runnable)("lab netns", () => {
  test("lab netns - state file describes the lab and every node has its namespace, links and service address", () => {
    const { state } = loadLab(stateDir, prefix);
    expect(state).toMatchObject({ prefix, topology: "grid:2x2", routing: "static", link_costs: "equal", owner: "lab" });
    expect(existingNamespaces(prefix).sort()).toEqual(plan.nodes.map((node) => node.netns).sort());
    for (const node of plan.nodes) {
      const links = readLinks(node.netns).map((link) => link.name);
      expect(links).toEqual(expect.arrayContaining(["lo", "mgmt", ...node.interfaces]));
    }
  });

  test("lab netns - every node reaches every other node's service address over the mesh", async () => {
    const pairs = plan.nodes.flatMap((from) => plan.nodes.filter((to) => to !== from).map((to) => [from.name, to.name] as const));
    for (const [from, to] of pairs) {
      const prober = await startProber(from, to);
      await waitFor(`${from} → ${to} replies`, () => (prober.lastSummary?.received ?? 0) > 0, 5000);
      await prober.stop();
    }
  }, 60_000);

  test("lab netns - cut stops traffic on the link while its interfaces stay up, and heal restores it", async () => {
    // n1 → n2 is one hop over link n1|n2, so the static routes cannot go around the cut.
    const prober = await startProber("n1", "n2");
    await waitFor("replies before the cut", () => (prober.lastSummary?.received ?? 0) > 0, 5000);
    // Events from before the cut (a reply lost while ARP settled) must not stand for the cut's outage or heal.
    const beforeCut = prober.events.length;
    await setLinkLoss(plan, "n1", "n2", 1);
    const outage = await prober.waitFor(isOutage, 3000, beforeCut);
    expect(outage).toMatchObject({ from: "n1", to: "n2" });
    const n1 = readLinks(plan.nodes[0]?.netns as string, "n1-n2")[0];
    expect(n1).toMatchObject({ adminUp: true, operstate: "UP" });
    // Summaries come every 200 ms: between the first one after the outage and one at least 300 ms later, 20+ hellos go
    // out and at most one reply comes in (a reply already queued on the socket when the first summary was taken).
    await waitFor("a summary after the outage", () => (prober.lastSummary?.ts ?? 0) > outage.ts, 2000);
    const atOutage = prober.lastSummary;
    await waitFor("a summary 300 ms later", () => (prober.lastSummary?.ts ?? 0) >= (atOutage?.ts ?? 0) + 300, 2000);
    expect((prober.lastSummary?.received ?? 0) - (atOutage?.received ?? 0)).toBeLessThanOrEqual(1);
    expect((prober.lastSummary?.sent ?? 0) - (atOutage?.sent ?? 0)).toBeGreaterThan(20);
    const beforeHeal = prober.events.length;
    expect(healLab(plan)).toBe(2);
    const restored = await prober.waitFor(isRestored, 3000, beforeHeal);
    expect(restored.outage_ms).toBeGreaterThanOrEqual(300);
  }, 30_000);

  test("lab netns - down removes processes, namespaces, bridge, mounts and pins, and is idempotent", async () => {
    for (const prober of probers) await prober.stop();
    const report = await teardownLab(prefix, { stateDir, graceMs: 2000 });
    expect(report.namespaces).toHaveLength(plan.nodes.length);
    expect(report.processes.length).toBeGreaterThanOrEqual(plan.nodes.length);
    expect(leftovers()).toEqual([]);
    expect(existsSync(join(stateDir, `lab-${prefix}.json`))).toBe(false);
    const again = await teardownLab(prefix, { stateDir });
    expect(again).toEqual({ processes: [], mounts: [], namespaces: [], interfaces: [], paths: [] });
  }, 30_000);
});
