// The prober's bookkeeping, free of sockets and clocks: hellos sent, replies heard, and outages (no reply for a few intervals).

/** `{"event":"outage"}`: no reply for `missedIntervals` intervals. */
export interface OutageEvent {
  event: "outage";
  from: string;
  to: string;
  /** Epoch ms of the last reply before the outage; null when none came since the start. */
  last_reply_ts: number | null;
  /** Epoch ms when the outage was declared. */
  ts: number;
}

/** `{"event":"restored"}`: the first reply after an outage. */
export interface RestoredEvent {
  event: "restored";
  from: string;
  to: string;
  /** Epoch ms of the first reply. */
  ts: number;
  /** From the last reply before the outage (or the start) to the first reply after it. */
  outage_ms: number;
}

/** `{"event":"summary"}`: totals so far, printed periodically and at the end. */
export interface SummaryEvent {
  event: "summary";
  from: string;
  to: string;
  ts: number;
  sent: number;
  received: number;
  /** Share of hellos without a reply (0 before any was sent). */
  loss: number;
  rtt_avg_ms: number | null;
  rtt_max_ms: number | null;
  outages: number;
  /** Sum of the completed outages' durations. */
  outage_ms_total: number;
  /** True while an outage is in progress. */
  in_outage: boolean;
}

/** Any line the prober prints. */
export type ProbeEvent = OutageEvent | RestoredEvent | SummaryEvent;

/** Options of {@link OutageTracker}. */
export interface OutageTrackerOptions {
  from: string;
  to: string;
  intervalMs: number;
  /** Missed intervals that make an outage (3 by default). */
  missedIntervals?: number;
  /** Epoch ms the probing started at. */
  startedAt: number;
}

/** Tracks replies and declares outages and restorations. */
export class OutageTracker {
  readonly #options: Required<OutageTrackerOptions>;
  #lastReplyTs: number | null = null;
  #inOutage = false;
  #sent = 0;
  #received = 0;
  #rttSum = 0;
  #rttMax: number | null = null;
  #outages = 0;
  #outageMsTotal = 0;

  constructor(options: OutageTrackerOptions) {
    this.#options = { missedIntervals: 3, ...options };
  }

  /** Counts a hello sent. */
  sent(): void {
    this.#sent += 1;
  }

  /** Counts a reply heard at epoch ms `ts`; returns the restored event when it ends an outage. */
  reply(ts: number, rttMs: number): RestoredEvent | undefined {
    this.#received += 1;
    this.#rttSum += rttMs;
    this.#rttMax = Math.max(this.#rttMax ?? rttMs, rttMs);
    const since = this.#lastReplyTs ?? this.#options.startedAt;
    this.#lastReplyTs = ts;
    if (!this.#inOutage) return undefined;
    this.#inOutage = false;
    const outageMs = ts - since;
    this.#outageMsTotal += outageMs;
    return { event: "restored", from: this.#options.from, to: this.#options.to, ts, outage_ms: outageMs };
  }

  /** Looks at the time (epoch ms); returns the outage event when replies have been missing too long. */
  tick(now: number): OutageEvent | undefined {
    if (this.#inOutage) return undefined;
    const since = this.#lastReplyTs ?? this.#options.startedAt;
    if (now - since < this.#options.missedIntervals * this.#options.intervalMs) return undefined;
    this.#inOutage = true;
    this.#outages += 1;
    return { event: "outage", from: this.#options.from, to: this.#options.to, last_reply_ts: this.#lastReplyTs, ts: now };
  }

  /** The totals at epoch ms `ts`. */
  summary(ts: number): SummaryEvent {
    return {
      event: "summary",
      from: this.#options.from,
      to: this.#options.to,
      ts,
      sent: this.#sent,
      received: this.#received,
      loss: this.#sent === 0 ? 0 : Math.max(0, 1 - this.#received / this.#sent),
      rtt_avg_ms: this.#received === 0 ? null : this.#rttSum / this.#received,
      rtt_max_ms: this.#rttMax,
      outages: this.#outages,
      outage_ms_total: this.#outageMsTotal,
      in_outage: this.#inOutage,
    };
  }
}
