// bun run bench:xdp — the XDP program's cost per packet and the monitor's CPU cost, measured in one run (as root).
// 1. Packets per second through a veth pair from a UDP flood in a namespace (pktgen is used by nobody here: this kernel
//    has no pktgen module), without XDP, with XDP in generic mode and in native mode; the program's own run time per
//    packet from the kernel's BPF stats (kernel.bpf_stats_enabled, restored afterwards).
// 2. The CPU share of a real monitor process at a 100 ms interval with 64 live neighbours.
// Knobs: X0_BENCH_FLOOD_S (3), X0_BENCH_CPU_S (20). Results go to bench/results/xdp.json.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { connectNats, type Telemetry } from "@x0/shared";
import { REPO_ROOT, startNatsServer, startServiceProcess, waitFor } from "@x0/shared/testing";
import { loadLibbpf } from "../services/monitor/src/bpf/libbpf.ts";
import { cleanStaleLabs, createVethLab, inNetns, LAB_PREFIX, run } from "../services/monitor/src/lab/netns.ts";
import { XdpInterface } from "../services/monitor/src/xdp/attach.ts";

const FLOOD_S = Number(process.env.X0_BENCH_FLOOD_S ?? 3);
const CPU_S = Number(process.env.X0_BENCH_CPU_S ?? 20);
const NEIGHBOURS = 64;
const PAYLOAD = 18; // minimum-size Ethernet frames (64 bytes with FCS): the per-packet cost dominates
const BUILD = join(REPO_ROOT, "bpf", "build");
const LAB = join(REPO_ROOT, "services", "monitor", "src", "lab");
const PIN_ROOT = `/sys/fs/bpf/${LAB_PREFIX}-${process.pid}-bench`;

if (process.getuid?.() !== 0) {
  process.stderr.write("bench:xdp needs root (network namespaces, XDP)\n");
  process.exit(1);
}

const sysfsCounter = (iface: string, counter: string) => Number(readFileSync(`/sys/class/net/${iface}/statistics/${counter}`, "utf8"));

async function runIn(ns: string, argv: string[]): Promise<string> {
  const child = Bun.spawn(inNetns(ns, argv), { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}: ${err}`);
  return out.trim();
}

function progStats(id: number): { runTimeNs: number; runCnt: number } {
  const info = JSON.parse(run(["bpftool", "prog", "show", "id", String(id), "--json"])) as { run_time_ns?: number; run_cnt?: number };
  return { runTimeNs: info.run_time_ns ?? 0, runCnt: info.run_cnt ?? 0 };
}

cleanStaleLabs();
const lab = createVethLab("b", 240);
const statsBefore = run(["sysctl", "-n", "kernel.bpf_stats_enabled"]).trim();
const results: Record<string, unknown> = {};
try {
  /** Floods hostIf for FLOOD_S seconds; packets per second received, and the program's ns per packet when attached. */
  const flood = async (xdp?: XdpInterface) => {
    const before = { rx: sysfsCounter(lab.hostIf, "rx_packets"), prog: xdp ? progStats(xdp.progId) : undefined };
    const started = performance.now();
    const sent = Number(await runIn(lab.ns, [process.execPath, join(LAB, "udp-flood.ts"), lab.hostIp, "9", String(FLOOD_S), String(PAYLOAD)]));
    const seconds = (performance.now() - started) / 1000;
    const received = sysfsCounter(lab.hostIf, "rx_packets") - before.rx;
    const result: Record<string, number> = { sent, received, seconds: Number(seconds.toFixed(3)), pps: Math.round(received / seconds) };
    if (xdp && before.prog) {
      const after = progStats(xdp.progId);
      const runs = after.runCnt - before.prog.runCnt;
      result.program_runs = runs;
      result.program_ns_per_packet = Number(((after.runTimeNs - before.prog.runTimeNs) / runs).toFixed(1));
    }
    return result;
  };
  const lib = loadLibbpf(join(BUILD, "libx0shim.so"));
  const attach = (mode: "generic" | "native") =>
    XdpInterface.attach(lib, {
      objectPath: join(BUILD, "xdp_mesh.bpf.o"),
      iface: lab.hostIf,
      pinRoot: PIN_ROOT,
      mode,
      denyEventIntervalNs: 100_000_000n,
      onEvent: () => {},
    });
  run(["sysctl", "-q", "-w", "kernel.bpf_stats_enabled=1"]);
  await flood(); // warm-up: ARP, JIT of the sender
  const without = await flood();
  const generic = attach("generic");
  const withGeneric = await flood(generic);
  generic.detach();
  const native = attach("native");
  const withNative = await flood(native);
  native.detach();
  const without2 = await flood();
  run(["sysctl", "-q", "-w", `kernel.bpf_stats_enabled=${statsBefore}`]);
  const baselinePps = ((without.pps as number) + (without2.pps as number)) / 2;
  const nsPerPacket = (pps: number) => Number((1e9 / pps - 1e9 / baselinePps).toFixed(1));
  results.xdp = {
    payload_bytes: PAYLOAD,
    flood_seconds: FLOOD_S,
    sender: "Bun UDP sendMany flood from the peer namespace (one core; pktgen unavailable)",
    without_xdp: without,
    without_xdp_again: without2,
    generic: { ...withGeneric, overhead_ns_per_packet_from_pps: nsPerPacket(withGeneric.pps as number) },
    native: { ...withNative, overhead_ns_per_packet_from_pps: nsPerPacket(withNative.pps as number) },
    target: "generic-mode overhead < 100 ns per packet",
  };

  // The monitor's CPU cost with 64 live neighbours: 64 source addresses on the peer side, one datagram each every 10 ms.
  const sources = Array.from({ length: NEIGHBOURS }, (_, i) => `10.214.${240}.${i + 1}`);
  for (const ip of sources) run(["ip", "-n", lab.ns, "addr", "add", `${ip}/32`, "dev", lab.peerIf]);
  const nats = await startNatsServer();
  const monitor = startServiceProcess("monitor", {
    X0_NATS_SERVERS: nats.url,
    X0_NODE: "bench",
    X0_LOG_LEVEL: "warn",
    X0_MONITOR_INTERVAL_MS: "100",
    X0_MONITOR_INTERFACES: lab.hostIf,
    X0_MONITOR_BPF_PIN_ROOT: PIN_ROOT,
    X0_MONITOR_PROBE_PORT: "0",
    X0_MONITOR_BATMAN_INTERFACE: "off",
  });
  const nc = await connectNats({ servers: [nats.url], service: "bench", instance: "bench-xdp" });
  try {
    let last: Telemetry | undefined;
    nc.subscribe("x0.telemetry.bench", {
      callback: (_error, msg) => {
        last = msg.json<Telemetry>();
      },
    });
    await monitor.waitReady();
    const load = runIn(lab.ns, [process.execPath, join(LAB, "neighbours-send.ts"), lab.hostIp, "9", String(CPU_S + 5), "10", ...sources]);
    await waitFor("64 neighbours in telemetry", () => (last?.interfaces[0]?.neighbours?.filter((n) => n.packets_delta > 0).length ?? 0) >= NEIGHBOURS, 15_000);
    await Bun.sleep(2000);
    const ticks = () => {
      const fields = readFileSync(`/proc/${monitor.process.pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (1/100 s)
    };
    const t0 = ticks();
    const started = performance.now();
    const published0 = last?.seq ?? 0;
    await Bun.sleep(CPU_S * 1000);
    const cpuSeconds = (ticks() - t0) / 100;
    const wall = (performance.now() - started) / 1000;
    results.monitor = {
      interval_ms: 100,
      neighbours_live: last?.interfaces[0]?.neighbours?.filter((n) => n.packets_delta > 0).length ?? 0,
      xdp_mode: last?.interfaces[0]?.xdp?.mode,
      samples: (last?.seq ?? 0) - published0,
      seconds: Number(wall.toFixed(2)),
      cpu_seconds: cpuSeconds,
      cpu_percent_of_one_core: Number(((cpuSeconds / wall) * 100).toFixed(2)),
      target: "< 2% of one core",
    };
    await load;
  } finally {
    await nc.close();
    await monitor.stop();
    await nats.dispose();
  }
} finally {
  run(["sysctl", "-q", "-w", `kernel.bpf_stats_enabled=${statsBefore}`]);
  lab.destroy();
  rmSync(PIN_ROOT, { recursive: true, force: true });
}

const report = {
  measured_at: new Date().toISOString(),
  command: "bun run bench:xdp",
  machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, kernel: run(["uname", "-r"]).trim(), bun: Bun.version },
  ...results,
};
writeFileSync(join(REPO_ROOT, "bench", "results", "xdp.json"), `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report, null, 2));
