// One telemetry sample per interval: sysfs interface counters, plus, where available, XDP per-neighbour counters,
// tracepoint counters, hello probes, batman-adv state and ring buffer events; deltas and rates against the last sample.
import type { BatmanSample, CounterName, EbpfState, InterfaceSample, NeighbourSample, Telemetry } from "@x0/shared";
import { directTq } from "../batman/parse.ts";
import type { Libbpf } from "../bpf/libbpf.ts";
import type { PeerStats } from "../probes/prober.ts";
import { COUNTER_NAMES } from "../sysfs/counters.ts";
import type { MonitorMetrics, PendingTraffic } from "../telemetry/metrics.ts";
import { RateTracker } from "../telemetry/rates.ts";
import type { NetTrace } from "../trace/tracepoints.ts";
import type { Dataplane, InterfaceEvent } from "../xdp/dataplane.ts";

/** Where a sample's parts come from; only `readInterfaces` is required. */
export interface SamplerSources {
  node: string;
  intervalMs: number;
  readInterfaces: () => InterfaceSample[];
  ebpfState: () => EbpfState;
  lib?: Libbpf;
  dataplane?: Dataplane;
  trace?: NetTrace;
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

/** Builds telemetry samples, keeping the previous readings for deltas and rates. */
export class Sampler {
  private readonly rates = new RateTracker();
  private seq = 0;
  private lastTs = 0;
  /** Per interface, each neighbour's previous reading (by keyId). */
  private readonly neighbourState = new Map<string, Map<string, NeighbourState>>();
  /** The XDP mode last written to the mode gauge, per interface. */
  private readonly modeShown = new Map<string, string>();

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
    const tqByMac = batman ? directTq(batman.originators) : new Map<string, number>();

    for (const iface of interfaces) {
      const deltas = {} as Record<CounterName, number>;
      const rates = {} as Record<CounterName, number>;
      let complete = true;
      for (const counter of COUNTER_NAMES) {
        const change = this.rates.change(`if/${iface.name}/${counter}`, iface.counters[counter], elapsed);
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
      telemetry.probes = probes.map((p) => ({
        peer: p.peer,
        sent: p.sent,
        received: p.received,
        loss: p.loss,
        rtt_ms: p.rttMs,
        rtt_avg_ms: p.rttAvgMs,
        last_reply_ts: p.lastReplyTs,
        reply_interval_mean_ms: p.replyIntervalMeanMs,
        reply_interval_stddev_ms: p.replyIntervalStddevMs,
      }));
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
    s.metrics.ebpf.set(telemetry.ebpf ? 1 : 0);
    this.rates.endRound();
    return telemetry;
  }

  private addXdp(iface: InterfaceSample, now: number, elapsed: number, probes: PeerStats[], tqByMac: Map<string, number>): void {
    const s = this.sources;
    const dataplane = s.dataplane as Dataplane;
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
    const dropped = Number(totals.droppedDeny + totals.droppedFault);
    const key = `xdp/${iface.name}`;
    const packets = this.rates.change(`${key}/packets`, Number(totals.packets), elapsed);
    const bytes = this.rates.change(`${key}/bytes`, Number(totals.bytes), elapsed);
    const drops = this.rates.change(`${key}/dropped`, dropped, elapsed);
    const deny = this.rates.change(`${key}/deny`, Number(totals.droppedDeny), elapsed);
    const fault = this.rates.change(`${key}/fault`, Number(totals.droppedFault), elapsed);
    const newDeny = deny?.delta ?? Number(totals.droppedDeny);
    const newFault = fault?.delta ?? Number(totals.droppedFault);
    if (newDeny) s.metrics.xdpDropped.inc({ interface: iface.name, cause: "deny" }, newDeny);
    if (newFault) s.metrics.xdpDropped.inc({ interface: iface.name, cause: "fault" }, newFault);
    iface.xdp = {
      ...state,
      packets: Number(totals.packets),
      bytes: Number(totals.bytes),
      passed: Number(totals.passed),
      dropped_deny: Number(totals.droppedDeny),
      dropped_fault: Number(totals.droppedFault),
      packets_delta: packets?.delta ?? 0,
      bytes_delta: bytes?.delta ?? 0,
      dropped_delta: drops?.delta ?? 0,
      packets_per_s: packets?.perS ?? 0,
      bytes_per_s: bytes?.perS ?? 0,
      dropped_per_s: drops?.perS ?? 0,
    };

    const probeByIp = new Map(probes.map((p) => [p.host, p]));
    const previous = this.neighbourState.get(iface.name) ?? new Map<string, NeighbourState>();
    const current = new Map<string, NeighbourState>();
    const rated = elapsed > 0;
    const neighbours: NeighbourSample[] = reading.neighbours.map((n) => {
      // Per-neighbour state replaces string-keyed rate lookups: the hot loop of a sample with many neighbours.
      const before = previous.get(n.id);
      const had = before !== undefined && rated;
      const packetsDelta = had ? counterDelta(n.packets, before.packets) : 0;
      const bytesDelta = had ? counterDelta(n.bytes, before.bytes) : 0;
      const droppedDelta = had ? counterDelta(n.droppedPackets, before.dropped) : 0;
      const traffic = before?.traffic ?? s.metrics.neighbourTraffic.get(iface.name, s.metrics.neighbourLabels.value(n.id));
      // A Prometheus counter starts with the process: a neighbour's first reading counts whole, later ones by delta.
      traffic.packets += had ? packetsDelta : n.packets;
      traffic.bytes += had ? bytesDelta : n.bytes;
      // The program keeps no timestamp (a clock read per packet is costly): a neighbour was seen when its count moved.
      const lastSeen = !had || packetsDelta > 0 ? now : before.lastSeen;
      current.set(n.id, { packets: n.packets, bytes: n.bytes, dropped: n.droppedPackets, lastSeen, traffic });
      const probe = n.ipv4 ? probeByIp.get(n.ipv4) : undefined;
      const perS = (delta: number) => (had ? (delta * 1000) / elapsed : 0);
      const sample: NeighbourSample = {
        mac: n.mac,
        ipv4: n.ipv4,
        packets: n.packets,
        bytes: n.bytes,
        dropped: n.droppedPackets,
        packets_delta: packetsDelta,
        bytes_delta: bytesDelta,
        dropped_delta: droppedDelta,
        packets_per_s: perS(packetsDelta),
        bytes_per_s: perS(bytesDelta),
        dropped_per_s: perS(droppedDelta),
        last_seen_ts: lastSeen,
        // Counter-based liveness works for neighbours that do not answer hellos; an answered hello also counts.
        alive: now - lastSeen <= s.livenessMs || (probe !== undefined && probe.rttMs !== null && probe.loss < 1),
        // Exact entries first, then the MAC-wide ("any") entry, as the program looks them up.
        denied: reading.denied.has(n.id) || reading.denied.has(`${n.mac}/any`),
        fault_probability: reading.faults.get(n.id) ?? reading.faults.get(`${n.mac}/any`) ?? 0,
      };
      if (probe?.rttMs != null) sample.rtt_ms = probe.rttMs;
      if (probe) sample.loss = probe.loss;
      const tq = tqByMac.get(n.mac);
      if (tq !== undefined) sample.tq = tq;
      return sample;
    });
    // Neighbours evicted from the LRU map are forgotten here too.
    this.neighbourState.set(iface.name, current);
    neighbours.sort((a, b) => b.last_seen_ts - a.last_seen_ts);
    iface.neighbours = neighbours.slice(0, s.maxNeighbours);
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
  traffic: PendingTraffic;
}

/** A cumulative counter's increase; one that went backwards was reset (maps re-created), so its new value is the increase. */
function counterDelta(value: number, before: number): number {
  return value >= before ? value - before : value;
}

const zeroXdp = {
  packets: 0,
  bytes: 0,
  passed: 0,
  dropped_deny: 0,
  dropped_fault: 0,
  packets_delta: 0,
  bytes_delta: 0,
  dropped_delta: 0,
  packets_per_s: 0,
  bytes_per_s: 0,
  dropped_per_s: 0,
};

/** Converts a CLOCK_MONOTONIC timestamp (ns) to epoch ms, given the monotonic and epoch times of "now". */
export function monoToEpoch(tsNs: bigint, monoNowNs: bigint, epochNowMs: number): number {
  if (tsNs === 0n) return 0;
  return Math.max(0, Math.round(epochNowMs - Number(monoNowNs - tsNs) / 1e6));
}
