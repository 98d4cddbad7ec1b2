// One directed probe pair (node → peer address): phi-accrual on hello replies, loss over a window of samples, RTT robust z-score.
import type { ProbeSample } from "@x0/shared";
import type { Reading } from "../incidents/incident.ts";
import { LinkVerdict } from "./link-verdict.ts";
import { flooredStddev, phi } from "./phi-accrual.ts";
import { RollingRobust, type SpreadFloor } from "./robust.ts";

/** Tuning of a {@link ProbePair}; defaults and reasons are in the analyzer README. */
export interface ProbePairOptions {
  phiThreshold: number;
  /** Floor of the reply-interval standard deviation, as a fraction of its mean. */
  phiStddevRatio: number;
  /** Absolute floor of the reply-interval standard deviation, in ms. */
  phiMinStddevMs: number;
  /** Consecutive samples with a fresh reply and phi below threshold that end `down`; also the clear streak of `degraded`. */
  resolveAfter: number;
  /** Round-trip hello loss above which the pair is degrading. */
  lossThreshold: number;
  /** Telemetry samples the analyzer's own loss window spans. */
  lossWindowSamples: number;
  /** Consecutive breaching samples that make the pair `degraded`. */
  degradedSamples: number;
  /** Robust z-score of the RTT above which it breaches. */
  rttZThreshold: number;
  /** And the RTT must be this many ms above its median (lab RTTs are microseconds: a scheduling hiccup is not degradation). */
  rttMinDeltaMs: number;
  /** Samples an RTT baseline needs before it can breach. */
  warmupSamples: number;
  /** Samples in the rolling RTT baseline. */
  baselineWindow: number;
  /**
   * Consecutive samples with a fresh reply before a pair is judged at all: hellos sent before the peer's monitor listened
   * (start-up, restarts) are lost without any fault, and a reply history of a few gaps says nothing about its spread.
   */
  armSamples: number;
}

/** Hellos the loss window must hold before loss is judged: fewer is noise (one lost of three is 33 %). */
const MIN_HELLOS_FOR_LOSS = 10;
const RTT_FLOOR: SpreadFloor = { ratio: 0.1, min: 0.5 };

interface Suspicion {
  value: number;
  elapsed: number;
  mean: number;
  stddev: number;
}

/** The sample a pair's probe came in, with when the analyzer received it (its own clock). */
export interface SampleClock {
  node: string;
  ts: number;
  intervalMs: number;
  receivedAt: number;
}

/** What changed in a pair's verdict after an observation. */
export interface PairChange {
  down: boolean;
  degraded: boolean;
  /** The verdict changed (down or degraded flipped). */
  changed: boolean;
}

/**
 * Detector state of one directed probe pair: down when no reply came for longer than phi tolerates, degraded when lossy
 * or slow while replies still arrive. Pure: time comes in with the calls.
 */
export class ProbePair extends LinkVerdict {
  readonly rtt: RollingRobust;

  #last: { clock: SampleClock; probe: ProbeSample } | undefined;
  #ageAtSample: number | undefined;
  #lossWindow: { sent: number; received: number }[] = [];
  #recovery = { streak: 0, sent: 0, received: 0 };
  #breachStreak = 0;
  #normalStreak = 0;
  #phiOverStreak = 0;
  /** Judged only once replies have arrived steadily (see armSamples). */
  #armed = false;
  #freshStreak = 0;

  constructor(
    readonly node: string,
    readonly peer: string,
    /** The node's interface towards the peer, once the announcements tell it. */
    public interfaceName: string | undefined,
    readonly options: ProbePairOptions,
    rttValues: readonly number[] = [],
  ) {
    super();
    this.rtt = new RollingRobust(options.baselineWindow, rttValues);
  }

  /** When the pair was last sampled (analyzer clock), for expiry. */
  get lastSeenAt(): number {
    return this.#last?.clock.receivedAt ?? 0;
  }

  /** Feeds the probe entry of one telemetry sample. */
  observe(clock: SampleClock, probe: ProbeSample): PairChange {
    const before = { down: this.down, degraded: this.degraded };
    const previous = this.#last;
    this.#last = { clock, probe };
    const lastReply = probe.last_reply_ts ?? null;
    const fresh = lastReply !== null && lastReply > (previous?.probe.last_reply_ts ?? -1);
    this.#ageAtSample = lastReply === null ? undefined : Math.max(0, clock.ts - lastReply);

    // Counter deltas of this interval; a monitor restart resets the counters, and the window with them.
    let delta: { sent: number; received: number } | undefined;
    if (previous) {
      const sent = probe.sent - previous.probe.sent;
      const received = probe.received - previous.probe.received;
      if (sent < 0 || received < 0) this.#lossWindow = [];
      else delta = { sent, received: Math.min(received, sent) };
    }

    if (!this.#armed || delta === undefined) {
      // A counter reset (monitor restart) disarms the pair as well: its history restarted.
      if (previous && delta === undefined) this.#armed = false;
      this.#freshStreak = fresh ? this.#freshStreak + 1 : 0;
      if (this.#armed || this.#freshStreak < this.options.armSamples) return { down: false, degraded: false, changed: false };
      this.#armed = true;
      this.#lossWindow = [];
      return { down: false, degraded: false, changed: false };
    }

    const suspicion = this.#phiAt(this.#ageAtSample, 0);
    const overThreshold = suspicion !== undefined && suspicion.value > this.options.phiThreshold;
    this.#phiOverStreak = overThreshold ? this.#phiOverStreak + 1 : 0;
    if (suspicion) this.#notePhi(suspicion, clock.ts);

    if (this.down) {
      this.#recover(fresh && !overThreshold, delta, clock.ts);
    } else if (overThreshold && (!this.degraded || this.#phiOverStreak >= 2)) {
      // A degraded link has long gaps by nature: escalating it to down takes two samples in a row over the threshold.
      this.#goDown(lastReply ?? clock.ts - clock.intervalMs);
    } else {
      if (delta) this.#pushLoss(delta);
      this.#judgeDegradation(probe, clock);
    }
    return { down: this.down, degraded: this.degraded, changed: before.down !== this.down || before.degraded !== this.degraded };
  }

  /**
   * Re-evaluates phi between samples at analyzer time `now`. The analyzer hears of a reply only with the next sample,
   * up to one telemetry interval later, so the expected silence here is one reply interval plus one telemetry interval.
   */
  tick(now: number): PairChange {
    const last = this.#last;
    if (!this.#armed || this.down || this.degraded || !last || this.#ageAtSample === undefined)
      return { down: this.down, degraded: this.degraded, changed: false };
    const elapsed = this.#ageAtSample + Math.max(0, now - last.clock.receivedAt);
    const suspicion = this.#phiAt(elapsed, last.clock.intervalMs);
    if (!suspicion || suspicion.value <= this.options.phiThreshold) return { down: false, degraded: false, changed: false };
    this.#notePhi(suspicion, last.clock.ts + (now - last.clock.receivedAt));
    this.#goDown(last.probe.last_reply_ts ?? last.clock.ts);
    return { down: true, degraded: false, changed: true };
  }

  /**
   * Judges an overdue report (x0.overdue) made at `ts` on the monitor's clock: phi over the silence up to then, with the
   * report's own reply-interval stats and no telemetry lag, since the report is fresh. It only ever turns a pair down;
   * the counters, loss window and recovery stay with the regular samples. A degraded pair is left to them too: its
   * gaps are long by nature, and going down from degraded takes two samples in a row.
   */
  overdue(ts: number, probe: ProbeSample): PairChange {
    const lastReply = probe.last_reply_ts ?? null;
    if (!this.#armed || this.down || this.degraded || lastReply === null || lastReply < (this.#last?.probe.last_reply_ts ?? 0))
      return { down: this.down, degraded: this.degraded, changed: false };
    const mean = probe.reply_interval_mean_ms;
    if (mean === undefined || mean === null || mean <= 0) return { down: false, degraded: false, changed: false };
    const stddev = flooredStddev(mean, probe.reply_interval_stddev_ms ?? 0, { ratio: this.options.phiStddevRatio, minMs: this.options.phiMinStddevMs });
    const elapsed = Math.max(0, ts - lastReply);
    const value = phi(elapsed, mean, stddev);
    if (value <= this.options.phiThreshold) return { down: false, degraded: false, changed: false };
    this.#notePhi({ value, elapsed, mean, stddev }, ts);
    this.#goDown(lastReply);
    return { down: true, degraded: false, changed: true };
  }

  /** Phi after `elapsed` ms of silence, with the monitor's reply-interval stats shifted by `lagMs`; undefined without stats. */
  #phiAt(elapsed: number | undefined, lagMs: number): Suspicion | undefined {
    const probe = this.#last?.probe;
    const mean = probe?.reply_interval_mean_ms;
    if (elapsed === undefined || mean === undefined || mean === null || mean <= 0) return undefined;
    const expected = mean + lagMs;
    const stddev = flooredStddev(expected, probe?.reply_interval_stddev_ms ?? 0, { ratio: this.options.phiStddevRatio, minMs: this.options.phiMinStddevMs });
    return { value: phi(elapsed, expected, stddev), elapsed, mean: expected, stddev };
  }

  #notePhi(suspicion: Suspicion, ts: number): void {
    const { value, elapsed, mean, stddev } = suspicion;
    this.#note("phi", value, this.options.phiThreshold, ts, { mean, stddev, score: (elapsed - mean) / stddev });
  }

  #goDown(onsetAt: number): void {
    this.down = true;
    this.degraded = false;
    this.onsetAt = onsetAt;
    this.#recovery = { streak: 0, sent: 0, received: 0 };
    this.#breachStreak = 0;
    this.#normalStreak = 0;
  }

  #recover(healthy: boolean, delta: { sent: number; received: number } | undefined, ts: number): void {
    if (!healthy) {
      this.#recovery = { streak: 0, sent: 0, received: 0 };
      return;
    }
    this.#recovery.streak += 1;
    // The first fresh sample's interval still holds hellos lost in the outage: loss is counted from the next one.
    if (this.#recovery.streak > 1) {
      this.#recovery.sent += delta?.sent ?? 0;
      this.#recovery.received += delta?.received ?? 0;
    }
    if (this.#recovery.streak < this.options.resolveAfter) return;
    this.down = false;
    // The outage's losses belong to the down verdict: the loss window restarts with the recovery samples.
    this.#lossWindow = this.#recovery.sent > 0 ? [{ sent: this.#recovery.sent, received: this.#recovery.received }] : [];
    const loss = this.#recovery.sent > 0 ? 1 - this.#recovery.received / this.#recovery.sent : 0;
    this.#noteLoss(loss, ts);
    if (this.#recovery.sent >= MIN_HELLOS_FOR_LOSS && loss > this.options.lossThreshold) {
      // Replies came back, but lossy: the same fault, now a degraded link rather than a dead one.
      this.degraded = true;
      this.#breachStreak = this.options.degradedSamples;
    }
  }

  #pushLoss(delta: { sent: number; received: number }): void {
    this.#lossWindow.push(delta);
    while (this.#lossWindow.length > this.options.lossWindowSamples) this.#lossWindow.shift();
  }

  #windowLoss(): number | undefined {
    let sent = 0;
    let received = 0;
    for (const entry of this.#lossWindow) {
      sent += entry.sent;
      received += entry.received;
    }
    return sent < MIN_HELLOS_FOR_LOSS ? undefined : 1 - received / sent;
  }

  #judgeDegradation(probe: ProbeSample, clock: SampleClock): void {
    const options = this.options;
    const loss = this.#windowLoss();
    if (loss !== undefined) this.#noteLoss(loss, clock.ts);
    const lossBreach = loss !== undefined && loss > options.lossThreshold;
    // Hysteresis: clearing needs loss at half the threshold, so a link hovering at the threshold does not flap.
    const lossClear = loss === undefined || loss <= options.lossThreshold / 2;

    let rttBreach = false;
    const rtt = probe.rtt_ms;
    if (rtt !== null && rtt !== undefined) {
      if (this.rtt.count >= options.warmupSamples) {
        const score = this.rtt.score(rtt, RTT_FLOOR);
        const { median } = this.rtt.stats();
        rttBreach = score > options.rttZThreshold && rtt - median > options.rttMinDeltaMs;
        const spread = this.rtt.spread(RTT_FLOOR);
        this.#note("rtt_ms", rtt, median + Math.max(options.rttZThreshold * spread, options.rttMinDeltaMs), clock.ts, { mean: median, stddev: spread, score });
      }
      // The baseline learns only healthy samples, so a slow link does not become the norm.
      if (!rttBreach && !this.degraded && !lossBreach) this.rtt.push(rtt);
    }

    if (lossBreach || rttBreach) {
      this.#breachStreak += 1;
      this.#normalStreak = 0;
    } else {
      this.#breachStreak = 0;
      if (lossClear) this.#normalStreak += 1;
    }
    if (!this.degraded && this.#breachStreak >= options.degradedSamples) {
      this.degraded = true;
      this.onsetAt = clock.ts - clock.intervalMs * options.degradedSamples;
      this.#normalStreak = 0;
    } else if (this.degraded && this.#normalStreak >= options.resolveAfter) {
      this.degraded = false;
    }
  }

  /** Loss has no baseline: the reading carries the threshold as its mean and the ratio to it as its score. */
  #noteLoss(loss: number, ts: number): void {
    const threshold = this.options.lossThreshold;
    this.#note("probe_loss", loss, threshold, ts, { mean: threshold, stddev: 0, score: loss / threshold });
  }

  #note(metric: string, observed: number, threshold: number, ts: number, baseline: { mean: number; stddev: number; score: number }): void {
    this.readings.set(metric, { metric, observed, ts, ...baseline });
    this.evidence.set(metric, {
      node: this.node,
      ...(this.interfaceName ? { interface: this.interfaceName } : {}),
      peer: this.peer,
      metric,
      observed: Number.isFinite(observed) ? observed : 1e9,
      threshold,
      ts: Math.max(0, Math.round(ts)),
    });
  }

  /** The headline reading of the current verdict: phi while down; while degraded, loss when it breaches, else RTT. */
  verdictReading(): Reading | undefined {
    if (this.down) return this.readings.get("phi");
    const loss = this.readings.get("probe_loss");
    if (loss && loss.observed > this.options.lossThreshold) return loss;
    return this.readings.get("rtt_ms") ?? loss;
  }

  /** Phi while down, loss and RTT otherwise. */
  protected verdictMetrics(): string[] {
    return this.down ? ["phi"] : ["probe_loss", "rtt_ms"];
  }
}
