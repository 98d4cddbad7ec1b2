// One batman-adv neighbour of a node on one hard interface: dead when batman-adv has not heard it for a few OGM intervals
// (its neighbour entry ages, or vanishes from the table), degraded when the TQ of its one-hop originator entry falls well
// below its own robust baseline. Judged only on fresh batman reads; pure: time comes in with the calls.
import type { BatmanSample } from "@x0/shared";
import type { Reading } from "../incidents/incident.ts";
import { LinkVerdict } from "./link-verdict.ts";
import { RollingRobust, type SpreadFloor } from "./robust.ts";

/** Tuning of a {@link BatmanLink}; defaults and reasons are in the analyzer README. */
export interface BatmanLinkOptions {
  /** A neighbour batman-adv has not heard from (its last-seen) for longer than this, in ms, is dead. */
  batmanLastSeenMs: number;
  /** TQ more than this fraction below its baseline median breaches. */
  batmanTqDrop: number;
  /** TQ under this absolute value breaches too, on a link whose baseline median is above it. */
  batmanTqFloor: number;
  /** Consecutive breaching reads that make the link degraded. */
  batmanTqSamples: number;
  /** Consecutive healthy reads that end `down` (last-seen fresh) or `degraded` (TQ back near its baseline). */
  resolveAfter: number;
}

/** Reads a TQ baseline needs before TQ is judged. */
export const TQ_WARMUP_SAMPLES = 10;
/**
 * Reads in the rolling TQ baseline: 5 min at one read a second. batman-adv's TQ slides to a new level over its 64-OGM
 * window (a minute), so a shorter baseline would follow the slide and never see the drop.
 */
export const TQ_WINDOW = 300;
/** batman-adv's local TQ window is 64 OGMs: a neighbour's TQ climbs for up to 64 s (1 s OGMs) after it (re)appears. */
export const TQ_RAMP_MS = 64_000;
const TQ_SPREAD_FLOOR: SpreadFloor = { ratio: 0.02, min: 1 };

/** One neighbour in one batman read. */
export interface NeighbourRead {
  /** The observing node's hard interface. */
  interface: string;
  mac: string;
  lastSeenMs: number;
  /** TQ of its one-hop originator entry (originator = next hop = the neighbour, on the same hard interface), when present. */
  tq?: number;
}

/** The one-hop neighbours of a batman read with their TQ, by `<interface>|<mac>`. */
export function oneHopNeighbours(sample: BatmanSample): Map<string, NeighbourRead> {
  const reads = new Map<string, NeighbourRead>();
  for (const n of sample.neighbours) reads.set(`${n.interface}|${n.neighbour}`, { interface: n.interface, mac: n.neighbour, lastSeenMs: n.last_seen_ms });
  for (const o of sample.originators) {
    if (o.originator !== o.next_hop) continue;
    const read = reads.get(`${o.interface}|${o.originator}`);
    if (read) read.tq = o.tq;
  }
  return reads;
}

/**
 * What tells one batman read from the next (the monitor repeats its latest read in every telemetry sample until batctl runs
 * again): the one-hop part the detectors use, whose ages move with every read while batman-adv hears anything at all.
 */
export function readsFingerprint(reads: ReadonlyMap<string, NeighbourRead>): string {
  return JSON.stringify([...reads.values()]);
}

/** The telemetry sample a batman read arrived in (node clock). */
export interface BatmanClock {
  ts: number;
  /** Telemetry interval: batctl ran at most this long before `ts`. */
  intervalMs: number;
}

/**
 * Detector state of one (node, hard interface, neighbour MAC): down when not heard from for longer than the last-seen
 * threshold, degraded when its TQ is well below its baseline; the onset is on the node's clock.
 */
export class BatmanLink extends LinkVerdict {
  /** When a read last listed the neighbour (analyzer clock, set by the caller), for expiry. */
  lastSeenAt = 0;
  readonly tq: RollingRobust;

  /** When batman-adv last heard the neighbour (node clock); undefined until a read lists it (again, after a withdrawal). */
  #heardAt: number | undefined;
  #vanished = false;
  #recovery = 0;
  /** Since when (node clock) the neighbour is back or new: its TQ is ramping up until then + TQ_RAMP_MS. */
  #appearedAt: number | undefined;
  /** TQ is judged only once it ramped up (see {@link TQ_RAMP_MS}). */
  #armed = false;
  #breaches = 0;
  #normals = 0;
  #breachOnset = 0;
  #previousTs: number | undefined;

  constructor(
    readonly node: string,
    readonly interfaceName: string,
    readonly mac: string,
    readonly options: BatmanLinkOptions,
    tqValues: readonly number[] = [],
  ) {
    super();
    this.tq = new RollingRobust(TQ_WINDOW, tqValues);
  }

  /**
   * Feeds one batman read of the node: `read` is the neighbour's entry, undefined when the table no longer lists it (the
   * caller feeds a repeated read only for that case: the entry's age still grows). Returns whether the verdict changed.
   */
  observe(clock: BatmanClock, read: NeighbourRead | undefined): boolean {
    const before = this.status();
    if (read) {
      this.#heardAt = clock.ts - read.lastSeenMs;
      this.#vanished = false;
    } else if (this.#heardAt === undefined) {
      return false; // never listed since it was created or withdrawn: nothing to miss
    } else {
      this.#vanished = true;
    }
    const heardAt = this.#heardAt;
    const threshold = this.options.batmanLastSeenMs;
    // A vanished entry keeps ageing from when it was last heard: it counts as dead on the same clock as one still listed.
    const age = read ? read.lastSeenMs : Math.max(0, clock.ts - heardAt);
    this.#note("batman_last_seen_ms", age, threshold, clock.ts, { mean: threshold, stddev: 0, score: age / threshold });
    if (this.#vanished) this.#note("batman_neighbour_present", 0, 1, clock.ts, { mean: 1, stddev: 0, score: Number.POSITIVE_INFINITY });

    if (age > threshold) {
      this.#recovery = 0;
      if (!this.down) this.#goDown(heardAt - clock.intervalMs);
      return before !== this.status();
    }
    if (!read) return before !== this.status();
    if (this.down) {
      // Hysteresis: recovery needs the neighbour fresh (within half the threshold) in several reads in a row.
      this.#recovery = age <= threshold / 2 ? this.#recovery + 1 : 0;
      if (this.#recovery < this.options.resolveAfter) return false;
      this.down = false;
      this.#appearedAt = clock.ts;
    }
    this.#appearedAt ??= clock.ts;
    if (read.tq !== undefined) this.#judgeTq(read.tq, clock);
    return before !== this.status();
  }

  /** Drops the verdict and what the link knows of the neighbour's presence: its batman view can no longer confirm anything. */
  withdraw(): boolean {
    const changed = this.status() !== "ok";
    this.down = false;
    this.degraded = false;
    this.#heardAt = undefined;
    this.#vanished = false;
    this.#appearedAt = undefined;
    this.#armed = false;
    this.#recovery = 0;
    this.#breaches = 0;
    this.#normals = 0;
    this.#previousTs = undefined;
    return changed;
  }

  #goDown(onsetAt: number): void {
    this.down = true;
    this.degraded = false;
    this.onsetAt = onsetAt;
    this.#armed = false;
    this.#breaches = 0;
    this.#normals = 0;
    this.#previousTs = undefined;
  }

  #judgeTq(tq: number, clock: BatmanClock): void {
    const { batmanTqDrop: drop, batmanTqFloor: floor, batmanTqSamples, resolveAfter } = this.options;
    const warm = this.tq.count >= TQ_WARMUP_SAMPLES;
    const { median } = this.tq.stats();
    // A link whose own norm is under the floor is judged by its drop alone: it would otherwise breach for good.
    const floorLine = median >= floor ? floor : 0;
    const breachLine = Math.max(median * (1 - drop), floorLine);
    // Hysteresis: clearing needs the TQ within half the drop of its baseline, not just above the breach line.
    const clearLine = Math.max(median * (1 - drop / 2), floorLine);
    if (!this.#armed) {
      // A new or returning neighbour's TQ climbs for a minute: low values then are batman-adv learning, not a fault. Judged
      // once the TQ is back near its baseline, or once the ramp is over (a link that came back lossy stays low).
      const ramped = clock.ts - (this.#appearedAt ?? clock.ts) >= TQ_RAMP_MS;
      if (!(warm && tq >= clearLine) && !ramped) return;
      this.#armed = true;
    }
    const breach = warm && tq < breachLine;
    const normal = !warm || tq >= clearLine;
    if (warm) {
      const spread = this.tq.spread(TQ_SPREAD_FLOOR);
      this.#note("batman_tq", tq, breachLine, clock.ts, { mean: median, stddev: spread, score: (median - tq) / spread });
      this.#note("batman_tq_baseline", median, breachLine, clock.ts, { mean: median, stddev: spread, score: 0 });
    }
    if (breach) {
      if (this.#breaches === 0) this.#breachOnset = this.#previousTs ?? clock.ts - clock.intervalMs;
      this.#breaches += 1;
      this.#normals = 0;
    } else {
      this.#breaches = 0;
      this.#normals = normal ? this.#normals + 1 : 0;
    }
    // The baseline learns only while the link is healthy, so a degraded TQ never becomes the norm.
    if (!breach && !this.degraded) this.tq.push(tq);
    if (!this.degraded && this.#breaches >= batmanTqSamples) {
      this.degraded = true;
      this.onsetAt = this.#breachOnset;
      this.#normals = 0;
    } else if (this.degraded && this.#normals >= resolveAfter) {
      this.degraded = false;
    }
    this.#previousTs = clock.ts;
  }

  #note(metric: string, observed: number, threshold: number, ts: number, baseline: { mean: number; stddev: number; score: number }): void {
    this.readings.set(metric, { metric, observed, ts, ...baseline });
    this.evidence.set(metric, {
      node: this.node,
      interface: this.interfaceName,
      peer: this.mac,
      metric,
      observed,
      threshold,
      ts: Math.max(0, Math.round(ts)),
    });
  }

  /** The headline reading of the current verdict: last-seen (or absence) while down, TQ while degraded. */
  verdictReading(): Reading | undefined {
    if (this.down) return this.readings.get(this.#vanished ? "batman_neighbour_present" : "batman_last_seen_ms");
    return this.degraded ? this.readings.get("batman_tq") : undefined;
  }

  /** Last-seen (and absence) while down, TQ and its baseline while degraded. */
  protected verdictMetrics(): string[] {
    if (this.down) return ["batman_last_seen_ms", ...(this.#vanished ? ["batman_neighbour_present"] : [])];
    return this.degraded ? ["batman_tq", "batman_tq_baseline"] : [];
  }
}
