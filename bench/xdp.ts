// bun run bench:xdp: the XDP program's cost per packet through a veth pair, and the CPU share of a real monitor with 64
// live neighbours, in one run. Root only; writes bench/results/xdp.json. Method and knobs: bench/README.md.
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { LAB_SCRIPTS_DIR } from "@x0/lab";
import { cleanStaleLabs, createVethLab, inNetns, LAB_PREFIX, run } from "@x0/lab/veth";
import { connectNats, type Telemetry } from "@x0/shared";
import { REPO_ROOT, startNatsServer, startServiceProcess, waitFor } from "@x0/shared/testing";
import { loadLibbpf } from "../services/monitor/src/bpf/libbpf.ts";
import { BpfObject } from "../services/monitor/src/bpf/object.ts";
import { ifindexOf, XdpFlag, XdpInterface } from "../services/monitor/src/xdp/attach.ts";
import { PinnedPolicy } from "../services/monitor/src/xdp/pins.ts";

const FLOOD_S = Number(process.env.X0_BENCH_FLOOD_S ?? 2);
const ROUNDS = Number(process.env.X0_BENCH_ROUNDS ?? 4);
const CPU_S = Number(process.env.X0_BENCH_CPU_S ?? 20);
const STEADY_AFTER_S = Number(process.env.X0_BENCH_STEADY_AFTER_S ?? 60);
const NEIGHBOURS = 64;
const PAYLOAD = 18; // minimum-size Ethernet frames (64 bytes with FCS): the per-packet cost dominates
const BUILD = join(REPO_ROOT, "bpf", "build");
const LAB = LAB_SCRIPTS_DIR;
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

/** On-CPU nanoseconds of each thread of `pid` (schedstat), by thread id, with the thread's name. */
function threadTimes(pid: number): Map<string, { name: string; ns: number }> {
  const out = new Map<string, { name: string; ns: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      out.set(tid, { name, ns: Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]) });
    } catch {
      // A thread that ended between the listing and the read has nothing more to count.
    }
  }
  return out;
}

/** Per cent of one core each thread name used between two {@link threadTimes} readings `seconds` apart. */
function threadShares(before: Map<string, { name: string; ns: number }>, after: Map<string, { name: string; ns: number }>, seconds: number) {
  const byName: Record<string, number> = {};
  for (const [tid, { name, ns }] of after) byName[name] = (byName[name] ?? 0) + ns - (before.get(tid)?.ns ?? 0);
  return Object.fromEntries(
    Object.entries(byName)
      .filter(([, ns]) => ns > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([name, ns]) => [name, Number(((ns / 1e9 / seconds) * 100).toFixed(3))]),
  );
}

const round1 = (n: number) => Number(n.toFixed(1));
/** Median and range of a series. */
function spread(values: number[]): { median: number; min: number; max: number; values: number[] } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median: round1(median), min: round1(sorted[0] ?? 0), max: round1(sorted.at(-1) ?? 0), values: values.map(round1) };
}

cleanStaleLabs();
const lab = createVethLab("b", 240);
const statsBefore = run(["sysctl", "-n", "kernel.bpf_stats_enabled"]).trim();
const results: Record<string, unknown> = {};
try {
  /** Floods hostIf for FLOOD_S seconds: packets per second received, and the attached program's ns per run. */
  const flood = async (progId?: number) => {
    const before = { rx: sysfsCounter(lab.hostIf, "rx_packets"), prog: progId ? progStats(progId) : undefined };
    const started = performance.now();
    await runIn(lab.ns, [process.execPath, join(LAB, "udp-flood.ts"), lab.hostIp, "9", String(FLOOD_S), String(PAYLOAD)]);
    const seconds = (performance.now() - started) / 1000;
    const pps = (sysfsCounter(lab.hostIf, "rx_packets") - before.rx) / seconds;
    if (!progId || !before.prog) return { pps };
    const after = progStats(progId);
    return { pps, nsPerRun: (after.runTimeNs - before.prog.runTimeNs) / (after.runCnt - before.prog.runCnt) };
  };
  const lib = loadLibbpf(join(BUILD, "libx0shim.so"));
  const ifindex = ifindexOf(lib, lab.hostIf);
  const attachedId = () => (JSON.parse(run(["ip", "-j", "link", "show", "dev", lab.hostIf])) as { xdp?: { prog?: { id: number } } }[])[0]?.xdp?.prog?.id ?? 0;
  /** Attaches the program of `condition`; returns its id and how to detach it. */
  const attach = (condition: string): { id: number; detach: () => void } | undefined => {
    if (condition === "none") return undefined;
    const mode = condition.endsWith("native") ? "native" : "generic";
    if (condition.startsWith("pass")) {
      const object = BpfObject.load(lib, join(BUILD, "xdp_pass.bpf.o"));
      const flag = mode === "native" ? XdpFlag.DRV_MODE : XdpFlag.SKB_MODE;
      lib.check("bpf_xdp_attach(pass)", lib.bpf.bpf_xdp_attach(ifindex, object.programFd("x0_xdp_pass"), flag, null));
      return {
        id: attachedId(),
        detach: () => {
          lib.bpf.bpf_xdp_detach(ifindex, flag, null);
          object.close();
        },
      };
    }
    const xdp = XdpInterface.attach(lib, {
      objectPath: join(BUILD, "xdp_mesh.bpf.o"),
      iface: lab.hostIf,
      pinRoot: PIN_ROOT,
      mode,
      denyEventIntervalNs: 100_000_000n,
      onEvent: () => {},
    });
    // A deny entry for a neighbour that does not send: the flood passes, but every packet pays the deny and fault lookups.
    const policy = condition.includes("policy") ? PinnedPolicy.open(lib, lab.hostIf, PIN_ROOT) : undefined;
    const other = { mac: "02:00:00:00:00:01", ipv4: "192.0.2.1" };
    policy?.deny(other);
    return {
      id: xdp.progId,
      detach: () => {
        policy?.allow(other);
        policy?.close();
        xdp.detach();
      },
    };
  };
  const conditions = ["none", "pass-generic", "x0-generic", "x0-generic-policy", "pass-native", "x0-native"] as const;
  const measured = Object.fromEntries(conditions.map((c) => [c, { pps: [] as number[], ns: [] as number[] }]));
  run(["sysctl", "-q", "-w", "kernel.bpf_stats_enabled=1"]);
  await flood(); // warm-up: ARP, JIT of the sender
  for (let round = 0; round < ROUNDS; round++) {
    for (const condition of conditions) {
      const attached = attach(condition);
      try {
        const { pps, nsPerRun } = await flood(attached?.id);
        measured[condition]?.pps.push(pps);
        if (nsPerRun !== undefined) measured[condition]?.ns.push(nsPerRun);
      } finally {
        attached?.detach();
      }
    }
  }
  run(["sysctl", "-q", "-w", `kernel.bpf_stats_enabled=${statsBefore}`]);
  const m = (c: (typeof conditions)[number]) => measured[c] as { pps: number[]; ns: number[] };
  /** ns per packet that `condition` adds over `base`, paired round by round: 1e9/pps(condition) - 1e9/pps(base). */
  const added = (condition: (typeof conditions)[number], base: (typeof conditions)[number]) =>
    spread(m(condition).pps.map((pps, i) => 1e9 / pps - 1e9 / (m(base).pps[i] as number)));
  const net = (condition: (typeof conditions)[number], base: (typeof conditions)[number]) =>
    spread(m(condition).ns.map((ns, i) => ns - (m(base).ns[i] as number)));
  const program = (condition: (typeof conditions)[number], base: (typeof conditions)[number]) => ({
    pps: spread(m(condition).pps.map(Math.round)),
    bpf_stats_ns_per_packet: spread(m(condition).ns),
    bpf_stats_ns_per_packet_net_of_empty_program: net(condition, base),
    overhead_ns_per_packet_from_pps_vs_no_xdp: added(condition, "none"),
    overhead_ns_per_packet_from_pps_vs_empty_program: added(condition, base),
  });
  const generic = program("x0-generic", "pass-generic");
  results.xdp = {
    payload_bytes: PAYLOAD,
    flood_seconds: FLOOD_S,
    rounds: ROUNDS,
    sender: "Bun UDP sendMany flood from the peer namespace (one core; pktgen unavailable); XDP runs in the sender's softirq on the same core",
    without_xdp: { pps: spread(m("none").pps.map(Math.round)) },
    empty_program_generic: {
      pps: spread(m("pass-generic").pps.map(Math.round)),
      bpf_stats_ns_per_packet: spread(m("pass-generic").ns),
      overhead_ns_per_packet_from_pps_vs_no_xdp: added("pass-generic", "none"),
    },
    generic,
    generic_with_policy_entries: program("x0-generic-policy", "pass-generic"),
    empty_program_native: { pps: spread(m("pass-native").pps.map(Math.round)), bpf_stats_ns_per_packet: spread(m("pass-native").ns) },
    native: program("x0-native", "pass-native"),
    target: "generic-mode overhead of the program < 100 ns per packet",
    judged_on:
      "bpf_stats_ns_per_packet_net_of_empty_program (cross-checked by overhead_ns_per_packet_from_pps_vs_empty_program): the raw BPF-stats figure includes the clock reads BPF stats adds to every program (the empty program's figure), and the pps overhead against no XDP includes the kernel's generic-XDP hook, which any program pays",
    target_met: generic.bpf_stats_ns_per_packet_net_of_empty_program.median < 100,
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
    const readyAt = performance.now();
    const loadSeconds = Math.max(CPU_S, STEADY_AFTER_S + CPU_S) + 10;
    const load = runIn(lab.ns, [process.execPath, join(LAB, "neighbours-send.ts"), lab.hostIp, "9", String(loadSeconds), "10", ...sources]);
    await waitFor("64 neighbours in telemetry", () => (last?.interfaces[0]?.neighbours?.filter((n) => n.packets_delta > 0).length ?? 0) >= NEIGHBOURS, 15_000);
    await Bun.sleep(2000);
    const pid = monitor.process.pid;
    const ticks = () => {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (1/100 s)
    };
    /** The monitor's CPU over the next CPU_S seconds: utime + stime of the process, and each thread's on-CPU time. */
    const window = async () => {
      const [t0, threads0, started, published0] = [ticks(), threadTimes(pid), performance.now(), last?.seq ?? 0];
      await Bun.sleep(CPU_S * 1000);
      const [cpuSeconds, threads1, wall] = [(ticks() - t0) / 100, threadTimes(pid), (performance.now() - started) / 1000];
      return {
        since_ready_s: Number(((started - readyAt) / 1000).toFixed(1)),
        samples: (last?.seq ?? 0) - published0,
        seconds: Number(wall.toFixed(2)),
        cpu_seconds: cpuSeconds,
        cpu_percent_of_one_core: Number(((cpuSeconds / wall) * 100).toFixed(2)),
        threads_percent_of_one_core: threadShares(threads0, threads1, wall),
      };
    };
    const first = await window();
    const neighboursLive = last?.interfaces[0]?.neighbours?.filter((n) => n.packets_delta > 0).length ?? 0;
    let steady: Awaited<ReturnType<typeof window>> | undefined;
    if (STEADY_AFTER_S > 0) {
      await Bun.sleep(Math.max(0, STEADY_AFTER_S * 1000 - (performance.now() - readyAt)));
      steady = await window();
    }
    results.monitor = {
      interval_ms: 100,
      neighbours_live: neighboursLive,
      xdp_mode: last?.interfaces[0]?.xdp?.mode,
      ...first,
      target: "< 2% of one core",
      judged_on:
        "cpu_percent_of_one_core of the first window (from 2 s after all 64 neighbours are live, as measured since the start), which includes the JIT compiling the hot paths (JITWorker threads); steady_state is the same measure once the process has run for a minute",
      target_met: (first.cpu_seconds / first.seconds) * 100 < 2,
      ...(steady ? { steady_state: steady } : {}),
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
