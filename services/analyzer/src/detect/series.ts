// A rate series judged against its own robust baseline, with an absolute floor, a breach streak to open and hysteresis to clear.
import type { Reading } from "../incidents/incident.ts";
import { RollingRobust, type SpreadFloor } from "./robust.ts";

/** Tuning of a {@link SeriesDetector}. */
export interface SeriesOptions {
  /** Robust z-score above which a value breaches. */
  zThreshold: number;
  /** And the value must exceed this absolute floor (e.g. 2000 packets/s), so quiet series never breach on noise. */
  minValue: number;
  /** Consecutive breaching samples that open. */
  openAfter: number;
  /** Consecutive normal samples (below the floor, or under half the z threshold) that clear. */
  clearAfter: number;
  /** Samples needed before judging. */
  warmupSamples: number;
  /** Samples in the rolling baseline. */
  window: number;
  /** Spread floor of the baseline. */
  floor: SpreadFloor;
}

/** What one observation did to the series' verdict. */
export type SeriesTransition = "opened" | "cleared" | undefined;

/** One series: learns while normal, freezes while breaching, says when a fault starts and ends. */
export class SeriesDetector {
  readonly baseline: RollingRobust;
  /** A fault is in progress. */
  active = false;
  /** When the first breaching sample of the current streak was seen. */
  onsetAt = 0;
  lastSeenAt = 0;
  reading: Reading | undefined;
  #breaches = 0;
  #normals = 0;

  constructor(
    readonly options: SeriesOptions,
    values: readonly number[] = [],
  ) {
    this.baseline = new RollingRobust(options.window, values);
  }

  /** Feeds one value observed at `ts` (the fault may have begun one interval earlier: `onsetAt`). */
  observe(value: number, ts: number, onsetAt: number, seenAt = ts): SeriesTransition {
    const options = this.options;
    this.lastSeenAt = seenAt;
    const warm = this.baseline.count >= options.warmupSamples;
    const score = warm ? this.baseline.score(value, options.floor) : 0;
    const { median } = this.baseline.stats();
    this.reading = { metric: "", observed: value, mean: median, stddev: this.baseline.spread(options.floor), score, ts };
    // A series without a baseline yet (a new neighbour, a restarted analyzer) is judged by the floor alone: a flood from a
    // source never seen before is the usual attack, and a baseline learnt from the flood itself would hide it for good.
    const breaching = value > options.minValue && (!warm || score > options.zThreshold);
    // Hysteresis: clearing needs the value back under the floor or within half the threshold, not just below the edge.
    const normal = value <= options.minValue || (warm && score <= options.zThreshold / 2);
    if (breaching) {
      if (this.#breaches === 0) this.onsetAt = onsetAt;
      this.#breaches += 1;
      this.#normals = 0;
    } else {
      this.#breaches = 0;
      this.#normals = normal ? this.#normals + 1 : 0;
    }
    if (!this.active && !breaching) this.baseline.push(value);
    if (!this.active && this.#breaches >= options.openAfter) {
      this.active = true;
      return "opened";
    }
    if (this.active && this.#normals >= options.clearAfter) {
      this.active = false;
      return "cleared";
    }
    return undefined;
  }
}
