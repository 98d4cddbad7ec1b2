// A deterministic mesh for tests: hellos and replies per directed pair, telemetry as the monitor publishes it, faults.
import { mulberry32, type NodeAnnouncement, type ProbeOverdue, type ProbeSample, type Telemetry } from "@x0/shared";

/** A lab-like announcement: link interfaces with their /30 addresses, and a service address. */
export function announce(node: string, links: [string, string][], service: string): NodeAnnouncement {
  return {
    node,
    interfaces: links.map(([name, cidr]) => ({ name, operstate: "up", xdp: "native", ipv4: [cidr] })),
    service_address: service,
    ebpf: true,
    updated_at: 0,
  };
}

interface PairSim {
  from: string;
  to: string;
  peer: string;
  sent: number;
  received: number;
  lastReplyTs: number | null;
  intervals: number[];
  results: (number | null)[];
  lastRtt: number | null;
}

/** Options of a {@link MeshSim}. */
export interface MeshSimOptions {
  /** Undirected links as [a, b]. */
  links: [string, string][];
  helloMs?: number;
  intervalMs?: number;
  rttMs?: number;
  seed?: number;
  start?: number;
  /** Silence after which a pair is reported on x0.overdue, as the monitor does (0: no reports). */
  overdueAfterMs?: number;
}

/** Simulated lab: per link a /30, hellos each way every `helloMs`, telemetry per node every `intervalMs` with its own phase. */
export class MeshSim {
  readonly helloMs: number;
  readonly intervalMs: number;
  readonly rttMs: number;
  readonly overdueAfterMs: number;
  now: number;
  readonly #random: () => number;
  readonly #pairs: PairSim[] = [];
  readonly #nodes: string[];
  readonly #phase = new Map<string, number>();
  readonly #seq = new Map<string, number>();
  readonly #addresses = new Map<string, { iface: string; cidr: string }[]>();
  /** Drop probability per direction, keyed "from>to". */
  readonly loss = new Map<string, number>();
  /** Nodes whose telemetry is not delivered. */
  readonly muted = new Set<string>();
  /** Extra fixed RTT per directed pair, keyed "from>to". */
  readonly extraRtt = new Map<string, number>();

  constructor(options: MeshSimOptions) {
    this.helloMs = options.helloMs ?? 20;
    this.intervalMs = options.intervalMs ?? 100;
    this.rttMs = options.rttMs ?? 0.3;
    this.overdueAfterMs = options.overdueAfterMs ?? 0;
    this.now = options.start ?? 1_700_000_000_000;
    this.#random = mulberry32(options.seed ?? 1);
    const nodes = new Set<string>();
    options.links.forEach(([a, b], k) => {
      nodes.add(a);
      nodes.add(b);
      const base = k * 4;
      const [ipA, ipB] = [`10.200.${base >> 8}.${(base & 255) + 1}`, `10.200.${base >> 8}.${(base & 255) + 2}`];
      this.#addresses.set(a, [...(this.#addresses.get(a) ?? []), { iface: `${a}-${b}`, cidr: `${ipA}/30` }]);
      this.#addresses.set(b, [...(this.#addresses.get(b) ?? []), { iface: `${b}-${a}`, cidr: `${ipB}/30` }]);
      this.#pairs.push(this.#pair(a, b, `${ipB}:7471`), this.#pair(b, a, `${ipA}:7471`));
    });
    this.#nodes = [...nodes].sort();
    for (const [i, node] of this.#nodes.entries()) this.#phase.set(node, Math.floor(((i * 37) % this.intervalMs) + 1));
  }

  #pair(from: string, to: string, peer: string): PairSim {
    return { from, to, peer, sent: 0, received: 0, lastReplyTs: null, intervals: [], results: [], lastRtt: null };
  }

  /** The announcements the monitors would write to x0_topology. */
  announcements(): NodeAnnouncement[] {
    return this.#nodes.map((node, i) => ({
      node,
      interfaces: (this.#addresses.get(node) ?? []).map(({ iface, cidr }) => ({ name: iface, operstate: "up" as const, xdp: "native" as const, ipv4: [cidr] })),
      service_address: `10.255.0.${i + 1}`,
      probe_port: 7471,
      ebpf: true,
      updated_at: 0,
    }));
  }

  /** Sets the drop probability of hellos and replies between a and b, both ways (1 = cut). */
  fault(a: string, b: string, probability: number): void {
    this.loss.set(`${a}>${b}`, probability);
    this.loss.set(`${b}>${a}`, probability);
  }

  /** Cuts every link of a node. */
  nodeDown(node: string): void {
    for (const pair of this.#pairs) if (pair.from === node) this.fault(pair.from, pair.to, 1);
  }

  /** Removes every fault. */
  heal(): void {
    this.loss.clear();
  }

  /**
   * Advances the clock by `ms` in 1 ms steps: hellos, replies, telemetry. `onSample` gets each telemetry sample as it is
   * taken; `onMs` runs every millisecond (for the analyzer's timer); `onOverdue` gets the overdue reports, made after each
   * round of hellos as the monitor makes them (silent longer than `overdueAfterMs`, for two telemetry intervals more).
   */
  run(ms: number, onSample: (sample: Telemetry) => void, onMs?: (now: number) => void, onOverdue?: (report: ProbeOverdue) => void): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += 1;
      if (this.now % this.helloMs === 0) {
        for (const pair of this.#pairs) this.#hello(pair);
        if (onOverdue && this.overdueAfterMs > 0) for (const node of this.#nodes) this.#reportOverdue(node, onOverdue);
      }
      for (const node of this.#nodes) {
        if ((this.now - (this.#phase.get(node) ?? 0)) % this.intervalMs === 0 && !this.muted.has(node)) onSample(this.sample(node));
      }
      onMs?.(this.now);
    }
  }

  #hello(pair: PairSim): void {
    pair.sent += 1;
    const drop = (key: string) => this.#random() < (this.loss.get(key) ?? 0);
    // Either the hello or the reply may be lost: loss p each way is 1 - (1 - p)² round trip.
    const lost = drop(`${pair.from}>${pair.to}`) || drop(`${pair.to}>${pair.from}`);
    pair.results.push(lost ? null : this.rttMs);
    if (pair.results.length > 50) pair.results.shift();
    if (lost) return;
    const rtt = this.rttMs + (this.extraRtt.get(`${pair.from}>${pair.to}`) ?? 0);
    // The reply lands within the same millisecond step at lab RTTs; the timestamp keeps its fraction.
    const replyTs = Math.round(this.now + rtt);
    if (pair.lastReplyTs !== null) {
      pair.intervals.push(replyTs - pair.lastReplyTs);
      if (pair.intervals.length > 50) pair.intervals.shift();
    }
    pair.lastReplyTs = replyTs;
    pair.received += 1;
    pair.lastRtt = rtt;
  }

  #reportOverdue(node: string, onOverdue: (report: ProbeOverdue) => void): void {
    if (this.muted.has(node)) return;
    const overdue = this.#pairs.filter((pair) => {
      if (pair.from !== node || pair.lastReplyTs === null) return false;
      const silence = this.now - pair.lastReplyTs;
      return silence > this.overdueAfterMs && silence <= this.overdueAfterMs + 2 * this.intervalMs;
    });
    if (overdue.length > 0) onOverdue({ v: 1, node, ts: this.now, hello_interval_ms: this.helloMs, probes: overdue.map((pair) => this.#probeOf(pair)) });
  }

  #probeOf(pair: PairSim): ProbeSample {
    const mean = pair.intervals.length ? pair.intervals.reduce((a, b) => a + b, 0) / pair.intervals.length : null;
    const variance = mean === null ? null : pair.intervals.reduce((a, b) => a + (b - mean) ** 2, 0) / pair.intervals.length;
    const answered = pair.results.filter((r) => r !== null);
    return {
      peer: pair.peer,
      sent: pair.sent,
      received: pair.received,
      loss: pair.results.length ? 1 - answered.length / pair.results.length : 0,
      rtt_ms: answered.length ? pair.lastRtt : null,
      rtt_avg_ms: answered.length ? pair.lastRtt : null,
      last_reply_ts: pair.lastReplyTs,
      reply_interval_mean_ms: mean,
      reply_interval_stddev_ms: variance === null ? null : Math.sqrt(variance),
    };
  }

  /** The telemetry sample `node` would publish now. */
  sample(node: string): Telemetry {
    const seq = this.#seq.get(node) ?? 0;
    this.#seq.set(node, seq + 1);
    const probes = this.#pairs.filter((pair) => pair.from === node).map((pair) => this.#probeOf(pair));
    return {
      v: 1,
      node,
      ts: this.now,
      seq,
      interval_ms: this.intervalMs,
      source: "ebpf",
      ebpf: true,
      interfaces: (this.#addresses.get(node) ?? []).map(({ iface }) => ({ name: iface, operstate: "up", counters: ZERO })),
      probes,
    };
  }
}

const ZERO = { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 };
