// One telemetry sample per interval: sysfs interface counters, plus, where available, XDP per-neighbour counters,
// tracepoint counters, hello probes, batman-adv state and ring buffer events; deltas and rates against the last sample.
import type { BatmanSample, CounterName, EbpfState, InterfaceSample, NeighbourSample, Telemetry } from "@x0/shared";
import { directTq } from "../batman/tq.ts";
import type { Libbpf } from "../bpf/libbpf.ts";
import type { MonitorMetrics, PendingTraffic } from "../metrics.ts";
import { probeSampleOf } from "../probes/overdue.ts";
import type { PeerStats } from "../probes/prober.ts";
import { COUNTER_NAMES } from "../sysfs/counters.ts";
import { RateTracker } from "../telemetry/rates.ts";
import type { NetTrace } from "../trace/tracepoints.ts";
import type { Dataplane, InterfaceEvent, InterfaceReading } from "../xdp/dataplane.ts";

/** What the sampler uses of the {@link Dataplane} (tests give a fake). */
export type DataplaneSource = Pick<Dataplane, "sync" | "state" | "read" | "takeEvents" | "active">;

/** Where a sample's parts come from; only `readInterfaces` is required. */
export interface SamplerSources {
  node: string;
  intervalMs: number;
  readInterfaces: () => InterfaceSample[];
  ebpfState: () => EbpfState;
  lib?: Libbpf;
  dataplane?: DataplaneSource;
  trace?: Pick<NetTrace, "readRetransmits" | "readDrops">;
  probes?: () => PeerStats[];
  batman?: () => BatmanSample | undefined;
  metrics: MonitorMetrics;
  /** Neighbours reported per interface, most recently active first. */
  maxNeighbours: number;
  /** A neighbour is alive when a frame from it arrived within this many ms (or a hello was answered). */
  livenessMs: number;
  /** Called for each ring buffer event (e.g. to log it). */
  onEvent?: (event: InterfaceEvent) => void;
  /** Which of the sampled interfaces get the XDP program (default: all of them). */
  xdpInterfaces?: (sampled: string[]) => string[];
}

const MAX_EVENTS = 256;
const NO_TQ: ReadonlyMap<string, number> = new Map();

/** Builds telemetry samples, keeping the previous readings for deltas and rates. */
export class Sampler {
  private readonly rates = new RateTracker();
  private seq = 0;
  private lastTs = 0;
  /** Per interface, each neighbour's previous reading (by keyId), updated in place every sample. */
  private readonly neighbourState = new Map<string, Map<string, NeighbourState>>();
  /** The XDP mode last written to the mode gauge, per interface. */
  private readonly modeShown = new Map<string, string>();
  /** Rate-tracker keys of each sampled interface, made once rather than every sample (dropped with the interface). */
  private readonly interfaceKeys = new Map<string, { counters: string[]; xdp: string[] }>();
  private round = 0;
  /** The value last written to the eBPF gauge. */
  private ebpfShown: boolean | undefined;

  constructor(private readonly sources: SamplerSources) {}

  /** Takes one sample. */
  sample(now = Date.now()): Telemetry {
    const s = this.sources;
    const elapsed = this.lastTs === 0 ? 0 : now - this.lastTs;
    this.lastTs = now;
    const interfaces = s.readInterfaces();
    const names = interfaces.map((i) => i.name);
    s.dataplane?.sync(s.xdpInterfaces ? s.xdpInterfaces(names) : names);
    const probes = s.probes?.() ?? [];
    const batman = s.batman?.();
    const tqByMac = batman ? directTq(batman.originators) : NO_TQ;

    this.round++;
    for (const iface of interfaces) {
      const deltas = {} as Record<CounterName, number>;
      const rates = {} as Record<CounterName, number>;
      let complete = true;
      const keys = this.keysOf(iface.name).counters;
      for (let i = 0; i < COUNTER_NAMES.length; i++) {
        const counter = COUNTER_NAMES[i] as CounterName;
        const change = this.rates.change(keys[i] as string, iface.counters[counter], elapsed);
        if (!change) complete = false;
        else {
          deltas[counter] = change.delta;
          rates[counter] = change.perS;
        }
      }
      if (complete) {
        iface.deltas = deltas;
        iface.rates = rates;
      }
      if (s.dataplane) this.addXdp(iface, now, elapsed, probes, tqByMac);
    }

    const telemetry: Telemetry = {
      v: 1,
      node: s.node,
      ts: now,
      seq: this.seq++,
      interval_ms: s.intervalMs,
      source: "sysfs",
      ebpf: s.dataplane?.active ?? false,
      interfaces,
      ebpf_state: s.ebpfState(),
    };
    if (s.trace) {
      telemetry.retransmits = this.counterList(s.trace.readRetransmits(), "retx", elapsed, (destination, c) => ({ destination, ...c }));
      telemetry.drops = this.counterList(s.trace.readDrops(), "drop", elapsed, (reason, c) => ({ reason, ...c }));
      for (const drop of telemetry.drops) if (drop.delta > 0) s.metrics.kernelDrops.inc({ reason: drop.reason }, drop.delta);
      const retransmits = telemetry.retransmits.reduce((sum, r) => sum + r.delta, 0);
      if (retransmits > 0) s.metrics.retransmits.inc(retransmits);
    }
    if (s.probes) {
      telemetry.probes = probes.map(probeSampleOf);
      for (const p of probes) {
        s.metrics.probeLoss.set({ peer: p.peer }, p.loss);
        if (p.rttMs !== null) s.metrics.probeRtt.set({ peer: p.peer }, p.rttMs / 1000);
      }
    }
    if (batman) telemetry.batman = batman;
    if (s.dataplane) {
      const events = s.dataplane.takeEvents();
      // Read only when needed: the clock call crosses the FFI boundary and allocates BigInts.
      const monoNowNs = events.length > 0 ? (s.lib?.monotonicNs() ?? 0n) : 0n;
      for (const event of events) {
        s.metrics.events.inc({ type: event.type });
        s.onEvent?.(event);
      }
      telemetry.events = events
        .filter((e) => e.type !== "unknown")
        .slice(0, MAX_EVENTS)
        .map((e) => ({
          type: e.type as "new_neighbour" | "deny_hit",
          interface: e.iface,
          mac: e.neighbour.mac,
          ipv4: e.neighbour.ipv4,
          ts: monoToEpoch(e.tsNs, monoNowNs, now),
        }));
    }
    for (const name of this.neighbourState.keys()) if (!names.includes(name)) this.neighbourState.delete(name);
    for (const name of this.interfaceKeys.keys()) if (!names.includes(name)) this.interfaceKeys.delete(name);
    if (this.ebpfShown !== telemetry.ebpf) {
      s.metrics.ebpf.set(telemetry.ebpf ? 1 : 0);
      this.ebpfShown = telemetry.ebpf;
    }
    this.rates.endRound();
    return telemetry;
  }

  /** The rate-tracker keys of an interface's counters (`if/<name>/<counter>`) and XDP totals (`xdp/<name>/<total>`). */
  private keysOf(name: string): { counters: string[]; xdp: string[] } {
    let keys = this.interfaceKeys.get(name);
    if (!keys) {
      keys = { counters: COUNTER_NAMES.map((counter) => `if/${name}/${counter}`), xdp: XDP_TOTALS.map((total) => `xdp/${name}/${total}`) };
      this.interfaceKeys.set(name, keys);
    }
    return keys;
  }

  private addXdp(iface: InterfaceSample, now: number, elapsed: number, probes: PeerStats[], tqByMac: ReadonlyMap<string, number>): void {
    const s = this.sources;
    const dataplane = s.dataplane as DataplaneSource;
    const state = dataplane.state(iface.name);
    if (this.modeShown.get(iface.name) !== state.mode) {
      for (const mode of ["native", "generic", "off"] as const) s.metrics.xdpMode.set({ interface: iface.name, mode }, state.mode === mode ? 1 : 0);
      this.modeShown.set(iface.name, state.mode);
    }
    const reading = dataplane.read(iface.name);
    if (!reading) {
      // Rates restart when XDP comes back: a gap's counts are not one interval's.
      this.neighbourState.delete(iface.name);
      iface.xdp = { ...state, ...zeroXdp };
      return;
    }
    const { totals } = reading;
    const dropped = totals.droppedDeny + totals.droppedFault;
    const [packetsKey, bytesKey, droppedKey, denyKey, faultKey] = this.keysOf(iface.name).xdp as [string, string, string, string, string];
    const packets = this.rates.change(packetsKey, totals.packets, elapsed);
    const bytes = this.rates.change(bytesKey, totals.bytes, elapsed);
    const drops = this.rates.change(droppedKey, dropped, elapsed);
    const deny = this.rates.change(denyKey, totals.droppedDeny, elapsed);
    const fault = this.rates.change(faultKey, totals.droppedFault, elapsed);
    const newDeny = deny?.delta ?? totals.droppedDeny;
    const newFault = fault?.delta ?? totals.droppedFault;
    if (newDeny) s.metrics.xdpDropped.inc({ interface: iface.name, cause: "deny" }, newDeny);
    if (newFault) s.metrics.xdpDropped.inc({ interface: iface.name, cause: "fault" }, newFault);
    iface.xdp = {
      ...state,
      packets: totals.packets,
      bytes: totals.bytes,
      passed: totals.passed,
      dropped_deny: totals.droppedDeny,
      dropped_fault: totals.droppedFault,
      packets_delta: packets?.delta ?? 0,
      bytes_delta: bytes?.delta ?? 0,
      dropped_delta: drops?.delta ?? 0,
      packets_per_s: packets?.perS ?? 0,
      bytes_per_s: bytes?.perS ?? 0,
      dropped_per_s: drops?.perS ?? 0,
    };

    iface.neighbours = this.neighbours(iface.name, reading, now, elapsed, probes, tqByMac);
  }

  /**
   * The neighbour samples of one interface, most recently active first and capped. Each neighbour's state is updated in
   * place and only the published sample is allocated: this loop runs for every neighbour every interval, so it is a plain
   * loop over local variables (a per-neighbour closure was the largest function the JIT compiled).
   */
  private neighbours(
    name: string,
    reading: InterfaceReading,
    now: number,
    elapsed: number,
    probes: PeerStats[],
    tqByMac: ReadonlyMap<string, number>,
  ): NeighbourSample[] {
    const s = this.sources;
    const probeByIp = probes.length > 0 ? new Map(probes.map((p) => [p.host, p])) : undefined;
    let states = this.neighbourState.get(name);
    if (!states) {
      states = new Map();
      this.neighbourState.set(name, states);
    }
    const known = states;
    const round = this.round;
    const rated = elapsed > 0;
    const { denied, faults } = reading;
    const checkPolicy = denied.size > 0 || faults.size > 0;
    const neighbours: NeighbourSample[] = [];
    for (const { neighbour: n, packets, bytes, droppedPackets } of reading.neighbours) {
      let state = known.get(n.id);
      // A neighbour absent from the previous sample (new, or back after a gap in XDP) has no delta yet.
      const had = state !== undefined && state.round === round - 1 && rated;
      const packetsDelta = had ? counterDelta(packets, (state as NeighbourState).packets) : 0;
      const bytesDelta = had ? counterDelta(bytes, (state as NeighbourState).bytes) : 0;
      const droppedDelta = had ? counterDelta(droppedPackets, (state as NeighbourState).dropped) : 0;
      // The program keeps no timestamp (a clock read per packet is costly): a neighbour was seen when its count moved.
      const lastSeen = !had || packetsDelta > 0 ? now : (state as NeighbourState).lastSeen;
      if (state === undefined) {
        state = {
          packets,
          bytes,
          dropped: droppedPackets,
          lastSeen,
          round,
          traffic: s.metrics.neighbourTraffic.get(name, s.metrics.neighbourLabels.value(n.id)),
        };
        known.set(n.id, state);
      } else {
        state.packets = packets;
        state.bytes = bytes;
        state.dropped = droppedPackets;
        state.lastSeen = lastSeen;
        state.round = round;
      }
      // A Prometheus counter starts with the process: a neighbour's first reading counts whole, later ones by delta.
      state.traffic.packets += had ? packetsDelta : packets;
      state.traffic.bytes += had ? bytesDelta : bytes;
      const probe = probeByIp !== undefined && n.ipv4 ? probeByIp.get(n.ipv4) : undefined;
      const sample: NeighbourSample = {
        mac: n.mac,
        ipv4: n.ipv4,
        packets,
        bytes,
        dropped: droppedPackets,
        packets_delta: packetsDelta,
        bytes_delta: bytesDelta,
        dropped_delta: droppedDelta,
        packets_per_s: had ? (packetsDelta * 1000) / elapsed : 0,
        bytes_per_s: had ? (bytesDelta * 1000) / elapsed : 0,
        dropped_per_s: had ? (droppedDelta * 1000) / elapsed : 0,
        last_seen_ts: lastSeen,
        // Counter-based liveness works for neighbours that do not answer hellos; an answered hello also counts.
        alive: now - lastSeen <= s.livenessMs || (probe !== undefined && probe.rttMs !== null && probe.loss < 1),
        // Exact entries first, then the MAC-wide ("any") entry, as the program looks them up.
        denied: checkPolicy && (denied.has(n.id) || denied.has(`${n.mac}/any`)),
        fault_probability: checkPolicy ? (faults.get(n.id) ?? faults.get(`${n.mac}/any`) ?? 0) : 0,
      };
      if (probe?.rttMs != null) sample.rtt_ms = probe.rttMs;
      if (probe) sample.loss = probe.loss;
      const tq = tqByMac.get(n.mac);
      if (tq !== undefined) sample.tq = tq;
      neighbours.push(sample);
    }
    // Neighbours evicted from the LRU map are forgotten here too.
    if (known.size > neighbours.length) for (const [id, state] of known) if (state.round !== round) known.delete(id);
    // Usually every neighbour was seen this interval: the order is already right (sort is stable), so skip the sort.
    if (!newestFirst(neighbours)) neighbours.sort((a, b) => b.last_seen_ts - a.last_seen_ts);
    return neighbours.length > s.maxNeighbours ? neighbours.slice(0, s.maxNeighbours) : neighbours;
  }

  private counterList<T>(
    counts: Map<string, number>,
    prefix: string,
    elapsed: number,
    make: (name: string, counter: { count: number; delta: number; per_s: number }) => T,
  ): T[] {
    const out: T[] = [];
    for (const [name, count] of counts) {
      const change = this.rates.change(`${prefix}/${name}`, count, elapsed);
      out.push(make(name, { count, delta: change?.delta ?? 0, per_s: change?.perS ?? 0 }));
    }
    return out.slice(0, 256);
  }
}

/** A neighbour's previous reading. */
interface NeighbourState {
  packets: number;
  bytes: number;
  dropped: number;
  /** Epoch ms when its packet count last moved. */
  lastSeen: number;
  /** The sample (Sampler round) of this reading. */
  round: number;
  traffic: PendingTraffic;
}

/** The rate-tracked XDP totals of an interface. */
const XDP_TOTALS = ["packets", "bytes", "dropped", "deny", "fault"] as const;

/** Whether the samples are already ordered most recently seen first. */
function newestFirst(neighbours: readonly NeighbourSample[]): boolean {
  for (let i = 1; i < neighbours.length; i++)
    if ((neighbours[i] as NeighbourSample).last_seen_ts > (neighbours[i - 1] as NeighbourSample).last_seen_ts) return false;
  return true;
}

/** A cumulative counter's increase; one that went backwards was reset (maps re-created), so its new value is the increase. */
function counterDelta(value: number, before: number): number {
  return value >= before ? value - before : value;
}

/** The deltas and rates of a reading with nothing before it to compare with. */
const NO_CHANGE = { packets_delta: 0, bytes_delta: 0, dropped_delta: 0, packets_per_s: 0, bytes_per_s: 0, dropped_per_s: 0 } as const;
const zeroXdp = { packets: 0, bytes: 0, passed: 0, dropped_deny: 0, dropped_fault: 0, ...NO_CHANGE };

/** Converts a CLOCK_MONOTONIC timestamp (ns) to epoch ms, given the monotonic and epoch times of "now". */
export function monoToEpoch(tsNs: bigint, monoNowNs: bigint, epochNowMs: number): number {
  if (tsNs === 0n) return 0;
  return Math.max(0, Math.round(epochNowMs - Number(monoNowNs - tsNs) / 1e6));
}
