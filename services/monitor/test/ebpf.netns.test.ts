// The monitor's eBPF data plane, for real: a real monitor process attaches its XDP program to a veth whose peer lives in
// a network namespace, real packets cross it, and telemetry arrives over a real nats-server. Needs root (CI runs as root).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { LAB_SCRIPTS_DIR } from "@x0/lab";
import { cleanStaleLabs, createVethLab, inNetns, LAB_PREFIX, run, type VethLab } from "@x0/lab/veth";
import { connectNats, type Telemetry } from "@x0/shared";
import { collectLines, freePort, type NatsServer, REPO_ROOT, type ServiceProcess, startNatsServer, startServiceProcess, waitFor } from "@x0/shared/testing";
import type { udp } from "bun";
import { loadLibbpf } from "../src/bpf/libbpf.ts";
import { PinnedPolicy } from "../src/xdp/pins.ts";

const isRoot = process.getuid?.() === 0;
const NODE = "ebpf1";
const PORT = 9777;
const PAYLOAD = 100;
// UDP payload + UDP (8) + IPv4 (20) + Ethernet (14) headers: the frame length XDP sees.
const FRAME = PAYLOAD + 42;
const SEND = join(LAB_SCRIPTS_DIR, "udp-send.ts");
const RESPONDER = join(LAB_SCRIPTS_DIR, "hello-responder.ts");
const PIN_ROOT = `/sys/fs/bpf/${LAB_PREFIX}-${process.pid}-pins`;

let nats: NatsServer;
let nc: Awaited<ReturnType<typeof connectNats>>;
let lab: VethLab;
let receiver: udp.Socket<"buffer">;
let received = 0;
let monitor: ServiceProcess | undefined;
const telemetry: Telemetry[] = [];
const cleanups: (() => unknown)[] = [];

function startMonitor(extra: Record<string, string> = {}): ServiceProcess {
  return startServiceProcess("monitor", {
    X0_NATS_SERVERS: nats.url,
    X0_NODE: NODE,
    X0_LOG_LEVEL: "info",
    X0_MONITOR_INTERVAL_MS: "100",
    X0_MONITOR_INTERFACES: lab.hostIf,
    X0_MONITOR_BPF_PIN_ROOT: PIN_ROOT,
    X0_MONITOR_PROBE_PORT: "0",
    X0_MONITOR_BATMAN_INTERFACE: "off",
    ...extra,
  });
}

/** Sends `count` UDP datagrams of PAYLOAD bytes from the peer namespace to the host side (async: the receiver keeps reading). */
async function send(count: number): Promise<void> {
  const child = Bun.spawn(inNetns(lab.ns, [process.execPath, SEND, lab.hostIp, String(PORT), String(count), String(PAYLOAD)]), {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect(`${code} ${out.trim()} ${err.trim()}`.trim()).toBe(`0 ${count}`);
}

/** UDP's RcvbufErrors in this namespace (/proc/net/snmp): datagrams dropped because a socket's buffer was full. */
function udpRcvbufErrors(): number {
  const [names, values] = readFileSync("/proc/net/snmp", "utf8")
    .split("\n")
    .filter((line) => line.startsWith("Udp: "))
    .map((line) => line.split(/\s+/).slice(1));
  const at = names?.indexOf("RcvbufErrors") ?? -1;
  const value = at < 0 ? undefined : Number(values?.[at]);
  if (value === undefined || !Number.isFinite(value)) throw new Error("/proc/net/snmp has no Udp RcvbufErrors");
  return value;
}

/**
 * Datagrams that reached UDP since `overflowsBefore`: the receiver read them, or this test process (busy with telemetry)
 * read too slowly and the kernel counted its socket buffer overflowing. What XDP dropped is in neither.
 */
const deliveredSince = (receivedBefore: number, overflowsBefore: number) => received - receivedBefore + (udpRcvbufErrors() - overflowsBefore);

const latest = () => telemetry.at(-1);
const hostSample = (t = latest()) => t?.interfaces.find((i) => i.name === lab.hostIf);
const peerSample = (t = latest()) => hostSample(t)?.neighbours?.find((n) => n.mac === lab.peerMac && n.ipv4 === lab.peerIp);
/** Waits for a telemetry sample taken after now that satisfies `check`. */
async function nextSample(what: string, check: (t: Telemetry) => boolean, timeoutMs = 10_000): Promise<Telemetry> {
  const after = Date.now();
  let found: Telemetry | undefined;
  await waitFor(
    what,
    () => {
      found = telemetry.find((t) => t.ts >= after && check(t));
      return found !== undefined;
    },
    timeoutMs,
  );
  return found as Telemetry;
}

describe.skipIf(!isRoot)("monitor eBPF data plane", () => {
  beforeAll(async () => {
    cleanStaleLabs();
    lab = createVethLab("a", 100 + (process.pid % 100));
    cleanups.push(
      () => lab.destroy(),
      () => rmSync(PIN_ROOT, { recursive: true, force: true }),
    );
    nats = await startNatsServer();
    cleanups.push(() => nats.dispose());
    nc = await connectNats({ servers: [nats.url], service: "test", instance: "ebpf-test" });
    cleanups.push(() => nc.close());
    nc.subscribe(`x0.telemetry.${NODE}`, {
      callback: (_error, msg) => {
        telemetry.push(msg.json<Telemetry>());
      },
    });
    receiver = await Bun.udpSocket({ hostname: lab.hostIp, port: PORT, socket: { data: () => void received++ } });
    cleanups.push(() => receiver.close());
    monitor = startMonitor();
    await monitor.waitReady();
  });

  afterAll(async () => {
    // Every step runs even when an earlier one fails, so the kernel is left clean.
    await monitor?.stop();
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        console.error("cleanup failed", error);
      }
    }
  });

  test("ebpf - XDP attaches to the veth and the mode is in telemetry, /status and metrics", async () => {
    const t = await nextSample("XDP attached", (s) => hostSample(s)?.xdp?.mode !== "off" && hostSample(s)?.xdp !== undefined);
    const mode = hostSample(t)?.xdp?.mode as string;
    expect(["native", "generic"]).toContain(mode);
    expect(t.ebpf).toBe(true);
    expect(t.ebpf_state).toMatchObject({ available: true, missing: [], tracepoints: true });
    const status = (await (await fetch(`http://127.0.0.1:${monitor?.port}/status`)).json()) as { details: { xdp: Record<string, { mode: string }> } };
    expect(status.details.xdp[lab.hostIf]?.mode).toBe(mode);
    const metrics = await (await fetch(`http://127.0.0.1:${monitor?.port}/metrics`)).text();
    expect(metrics).toContain(`x0_monitor_xdp_attach_mode{interface="${lab.hostIf}",mode="${mode}",service="monitor"} 1`);
    expect(metrics).toContain(`x0_monitor_ebpf{service="monitor"} 1`);
  });

  test("ebpf - per-neighbour packet and byte counters equal exactly what was sent", async () => {
    const overflows = udpRcvbufErrors();
    await send(1000);
    const t = await nextSample("1000 packets counted", (s) => peerSample(s)?.packets === 1000);
    expect(peerSample(t)).toMatchObject({ packets: 1000, bytes: 1000 * FRAME, dropped: 0, denied: false, alive: true });
    await waitFor("all 1000 passed XDP to UDP", () => deliveredSince(0, overflows) === 1000, 5000);
    const metrics = await (await fetch(`http://127.0.0.1:${monitor?.port}/metrics`)).text();
    expect(metrics).toContain(`x0_monitor_neighbour_packets_total{interface="${lab.hostIf}",neighbour="${lab.peerMac}/${lab.peerIp}",service="monitor"} 1000`);
  });

  test("ebpf - the ring buffer reports the new neighbour", () => {
    const events = telemetry.flatMap((t) => t.events ?? []);
    expect(events).toContainEqual(expect.objectContaining({ type: "new_neighbour", interface: lab.hostIf, mac: lab.peerMac, ipv4: lab.peerIp }));
  });

  test("ebpf - a denied neighbour's packets never arrive and the drop counter equals those sent", async () => {
    const policy = PinnedPolicy.open(loadLibbpf(join(REPO_ROOT, "bpf", "build", "libx0shim.so")), lab.hostIf, PIN_ROOT);
    try {
      policy.deny({ mac: lab.peerMac, ipv4: lab.peerIp });
      const before = { received, packets: peerSample()?.packets ?? 0, denyDrops: hostSample()?.xdp?.dropped_deny ?? 0 };
      await send(500);
      const t = await nextSample("500 denied", (s) => peerSample(s)?.packets === before.packets + 500);
      expect(peerSample(t)).toMatchObject({ dropped: 500, denied: true });
      expect(hostSample(t)?.xdp?.dropped_deny).toBe(before.denyDrops + 500);
      await Bun.sleep(300);
      expect(received).toBe(before.received);
      const events = telemetry.flatMap((s) => s.events ?? []);
      expect(events).toContainEqual(expect.objectContaining({ type: "deny_hit", interface: lab.hostIf, mac: lab.peerMac, ipv4: lab.peerIp }));
    } finally {
      policy.allow({ mac: lab.peerMac, ipv4: lab.peerIp });
      policy.close();
    }
  });

  test("ebpf - the policy flag is raised while deny or fault holds an entry, and lowered once both are empty", async () => {
    const policy = PinnedPolicy.open(loadLibbpf(join(REPO_ROOT, "bpf", "build", "libx0shim.so")), lab.hostIf, PIN_ROOT);
    const a = { mac: "02:00:00:00:00:0a", ipv4: "192.0.2.10" };
    const b = { mac: "02:00:00:00:00:0b", ipv4: null };
    try {
      expect(policy.active()).toBe(false);
      policy.deny(a);
      policy.setFault(b, 0.25);
      expect(policy.active()).toBe(true);
      policy.allow(a);
      expect(policy.active()).toBe(true); // the fault entry still needs the lookups
      policy.setFault(b, 0);
      expect(policy.active()).toBe(false);
      // With the flag lowered the peer's packets pass uncounted as drops.
      const before = { received, overflows: udpRcvbufErrors(), packets: peerSample()?.packets ?? 0, drops: peerSample()?.dropped ?? 0 };
      await send(100);
      const t = await nextSample("100 seen", (s) => peerSample(s)?.packets === before.packets + 100);
      expect(peerSample(t)?.dropped).toBe(before.drops);
      await waitFor("100 passed XDP to UDP", () => deliveredSince(before.received, before.overflows) === 100, 5000);
    } finally {
      policy.allow(a);
      policy.setFault(b, 0);
      policy.close();
    }
  });

  test("ebpf - a MAC-wide fault entry (ipv4 any) drops every frame of the neighbour: a silent cut", async () => {
    const policy = PinnedPolicy.open(loadLibbpf(join(REPO_ROOT, "bpf", "build", "libx0shim.so")), lab.hostIf, PIN_ROOT);
    try {
      // An exact entry alone leaves the MAC-wide lookup off; a MAC-wide entry turns it on.
      policy.setFault({ mac: "02:00:00:00:00:0c", ipv4: "192.0.2.12" }, 0.5);
      expect(policy.bits()).toBe(1);
      policy.setFault({ mac: lab.peerMac, ipv4: "any" }, 1);
      expect(policy.bits()).toBe(3);
      const before = { received, packets: peerSample()?.packets ?? 0, faultDrops: hostSample()?.xdp?.dropped_fault ?? 0 };
      await send(200);
      const t = await nextSample("200 seen", (s) => peerSample(s)?.packets === before.packets + 200);
      expect(peerSample(t)?.fault_probability).toBe(1);
      expect((hostSample(t)?.xdp?.dropped_fault ?? 0) - before.faultDrops).toBe(200);
      await Bun.sleep(200);
      expect(received).toBe(before.received);
      expect(hostSample(t)?.operstate).toBe("up");
    } finally {
      policy.setFault({ mac: lab.peerMac, ipv4: "any" }, 0);
      expect(policy.bits()).toBe(1);
      policy.setFault({ mac: "02:00:00:00:00:0c", ipv4: "192.0.2.12" }, 0);
      expect(policy.bits()).toBe(0);
      policy.close();
    }
  });

  test("ebpf - 50% fault injection loses a share of 4000 packets within a 5-sigma binomial bound", async () => {
    const policy = PinnedPolicy.open(loadLibbpf(join(REPO_ROOT, "bpf", "build", "libx0shim.so")), lab.hostIf, PIN_ROOT);
    const n = 4000;
    try {
      policy.setFault({ mac: lab.peerMac, ipv4: lab.peerIp }, 0.5);
      const before = { received, packets: peerSample()?.packets ?? 0, faultDrops: hostSample()?.xdp?.dropped_fault ?? 0 };
      await send(n);
      const t = await nextSample("4000 seen", (s) => peerSample(s)?.packets === before.packets + n);
      expect(peerSample(t)?.fault_probability).toBe(0.5);
      const faultDrops = (hostSample(t)?.xdp?.dropped_fault ?? 0) - before.faultDrops;
      await waitFor("every passed packet received", () => received - before.received === n - faultDrops, 5000);
      const lost = n - (received - before.received);
      const sigma = Math.sqrt(n * 0.5 * 0.5);
      expect(Math.abs(lost - n * 0.5)).toBeLessThanOrEqual(5 * sigma);
    } finally {
      policy.setFault({ mac: lab.peerMac, ipv4: lab.peerIp }, 0);
      policy.close();
    }
  });

  test("ebpf - a killed monitor's pinned counters continue after restart, and its stale program is cleaned up", async () => {
    const before = peerSample()?.packets ?? 0;
    monitor?.process.kill("SIGKILL");
    await monitor?.exited;
    // The crashed monitor's program stays attached (netlink XDP outlives its loader) and keeps counting into the pins.
    expect(run(["ip", "link", "show", lab.hostIf])).toMatch(/xdp/);
    await send(100);
    monitor = startMonitor();
    await monitor.waitReady();
    await send(100);
    const t = await nextSample("counters continued", (s) => peerSample(s)?.packets === before + 200);
    expect(peerSample(t)?.bytes).toBe((before + 200) * FRAME);
    expect(monitor.output.some((line) => line.includes("XDP attached") && line.includes("cleaned_stale"))).toBe(true);
  });

  test("ebpf - generic mode can be forced, and counting continues in it", async () => {
    await monitor?.stop();
    monitor = startMonitor({ X0_MONITOR_XDP_MODE: "generic" });
    await monitor.waitReady();
    const attached = await nextSample("generic mode", (s) => hostSample(s)?.xdp?.mode === "generic");
    const before = peerSample(attached)?.packets ?? 0;
    await send(100);
    await nextSample("100 more in generic mode", (s) => peerSample(s)?.packets === before + 100);
  });

  test("ebpf - the kfree_skb tracepoint counts drops by reason (UDP to a closed port is NO_SOCKET)", async () => {
    const before = latest()?.drops?.find((d) => d.reason === "NO_SOCKET")?.count ?? 0;
    const child = Bun.spawn(inNetns(lab.ns, [process.execPath, SEND, lab.hostIp, String(PORT + 2), "50", "10"]), { stdout: "ignore", stderr: "ignore" });
    expect(await child.exited).toBe(0);
    await nextSample("NO_SOCKET drops", (s) => (s.drops?.find((d) => d.reason === "NO_SOCKET")?.count ?? 0) >= before + 50);
  });

  test("ebpf - the tcp_retransmit_skb tracepoint counts retransmits per destination", async () => {
    const server = Bun.spawn(
      inNetns(lab.ns, [
        process.execPath,
        "-e",
        `Bun.listen({ hostname: "${lab.peerIp}", port: ${PORT + 3}, socket: { data() {} } }); console.log("ready"); setInterval(() => {}, 1000);`,
      ]),
      { stdout: "pipe", stderr: "ignore" },
    );
    cleanups.push(() => server.kill());
    const serverOut: string[] = [];
    collectLines(server.stdout, serverOut);
    await waitFor("tcp server", () => serverOut.includes("ready"), 10_000);
    const socket = await Bun.connect({ hostname: lab.peerIp, port: PORT + 3, socket: { data() {} } });
    const policy = PinnedPolicy.open(loadLibbpf(join(REPO_ROOT, "bpf", "build", "libx0shim.so")), lab.hostIf, PIN_ROOT);
    try {
      // Dropping the peer's ACKs on our side makes our data go unacknowledged: the kernel retransmits it.
      policy.deny({ mac: lab.peerMac, ipv4: lab.peerIp });
      socket.write("unacknowledged");
      await nextSample("retransmits to the peer", (s) => (s.retransmits?.find((r) => r.destination === lab.peerIp)?.count ?? 0) >= 1, 15_000);
    } finally {
      policy.allow({ mac: lab.peerMac, ipv4: lab.peerIp });
      policy.close();
      socket.end();
      server.kill();
    }
  });

  test("ebpf - hellos give an RTT for a live neighbour and 100% loss once the veth is down", async () => {
    const responder = Bun.spawn(inNetns(lab.ns, [process.execPath, RESPONDER, String(PORT + 1)]), { stdout: "pipe", stderr: "pipe" });
    const responderOut: string[] = [];
    collectLines(responder.stdout, responderOut);
    cleanups.push(() => responder.kill());
    await waitFor("responder ready", () => responderOut.some((line) => line.startsWith("ready")), 10_000);
    await monitor?.stop();
    monitor = startMonitor({
      X0_MONITOR_PROBE_PEERS: `${lab.peerIp}:${PORT + 1}`,
      X0_MONITOR_PROBE_INTERVAL_MS: "20",
      X0_MONITOR_PROBE_TIMEOUT_MS: "100",
      X0_MONITOR_PROBE_WINDOW: "10",
    });
    await monitor.waitReady();
    const live = await nextSample("RTT", (s) => (s.probes?.[0]?.rtt_ms ?? 0) > 0 && s.probes?.[0]?.loss === 0);
    expect(live.probes?.[0]).toMatchObject({ peer: `${lab.peerIp}:${PORT + 1}`, loss: 0 });
    expect(peerSample(live)?.rtt_ms).toBeGreaterThan(0);
    run(["ip", "link", "set", lab.hostIf, "down"]);
    try {
      const dead = await nextSample("100% loss", (s) => s.probes?.[0]?.loss === 1);
      expect(dead.probes?.[0]?.rtt_ms).toBeNull();
      expect(hostSample(dead)?.operstate).toBe("down");
    } finally {
      run(["ip", "link", "set", lab.hostIf, "up"]);
    }
  });

  test("ebpf - without capabilities the monitor falls back to sysfs counters and names what is missing", async () => {
    await monitor?.stop();
    monitor = undefined;
    const port = freePort();
    // Root with an empty bounding set: no capability survives exec, as in an unprivileged container.
    const child = Bun.spawn(
      ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--", process.execPath, join(REPO_ROOT, "services", "monitor", "src", "main.ts")],
      {
        cwd: REPO_ROOT,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "/root",
          X0_NATS_SERVERS: nats.url,
          // This test is about capabilities, on a plain NATS server of its own (identities are tested in test/identity.test.ts).
          X0_NATS_INSECURE_DEV: "true",
          X0_NODE: NODE,
          X0_HTTP_PORT: String(port),
          X0_MONITOR_INTERVAL_MS: "100",
          X0_MONITOR_INTERFACES: lab.hostIf,
          X0_MONITOR_BPF_PIN_ROOT: PIN_ROOT,
          X0_MONITOR_PROBE_PORT: "0",
          X0_MONITOR_BATMAN_INTERFACE: "off",
        },
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const output: string[] = [];
    collectLines(child.stdout, output);
    collectLines(child.stderr, output);
    cleanups.push(() => child.kill("SIGKILL"));
    try {
      const t = await nextSample("unprivileged telemetry", (s) => s.ebpf === false, 15_000);
      expect(t.ebpf_state?.available).toBe(false);
      expect(t.ebpf_state?.missing).toEqual(expect.arrayContaining(["CAP_BPF (or CAP_SYS_ADMIN)", "CAP_NET_ADMIN"]));
      expect(t.source).toBe("sysfs");
      expect(hostSample(t)?.counters.rx_packets).toBeGreaterThan(0);
      expect(hostSample(t)?.xdp).toBeUndefined();
      expect(output.some((line) => line.includes("eBPF data plane off") && line.includes("CAP_NET_ADMIN"))).toBe(true);
      const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as { ready: boolean; counters: { ebpf: number } };
      expect(status.ready).toBe(true);
      expect(status.counters.ebpf).toBe(0);
    } finally {
      child.kill("SIGTERM");
      await child.exited;
    }
  });
});
