// Robust baselines: rolling median and MAD, which one outlier (or a burst) barely moves, unlike a mean and variance.

/** 1.4826 · MAD estimates the standard deviation of normal data. */
const MAD_TO_SIGMA = 1.4826;

/** Floors of the robust spread, so a perfectly steady series does not score every change as infinite. */
export interface SpreadFloor {
  /** Fraction of the median. */
  ratio: number;
  /** Absolute floor, in the series' unit. */
  min: number;
}

/** The median of `sorted` (ascending, non-empty). */
function medianOfSorted(sorted: number[]): number {
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Median and median absolute deviation of `values` (non-empty). */
export function medianAndMad(values: readonly number[]): { median: number; mad: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const median = medianOfSorted(sorted);
  const deviations = sorted.map((value) => Math.abs(value - median)).sort((a, b) => a - b);
  return { median, mad: medianOfSorted(deviations) };
}

/**
 * The last `size` values of a series; scores a value by how many (floored) robust deviations it lies above the median.
 * The caller decides what is learnt: while an incident is open it stops pushing, so the fault does not become the norm.
 */
export class RollingRobust {
  readonly #values: number[];
  #stats: { median: number; mad: number } | undefined;

  constructor(
    readonly size: number,
    values: readonly number[] = [],
  ) {
    this.#values = values.slice(-size);
  }

  /** Values learnt so far (at most `size`). */
  get count(): number {
    return this.#values.length;
  }

  /** Adds one value, dropping the oldest beyond `size`. */
  push(value: number): void {
    this.#values.push(value);
    if (this.#values.length > this.size) this.#values.shift();
    this.#stats = undefined;
  }

  /** Median and MAD of the window (zeros when empty); cached until the next push. */
  stats(): { median: number; mad: number } {
    if (this.#values.length === 0) return { median: 0, mad: 0 };
    this.#stats ??= medianAndMad(this.#values);
    return this.#stats;
  }

  /** The robust standard deviation, floored. */
  spread(floor: SpreadFloor): number {
    const { median, mad } = this.stats();
    return Math.max(MAD_TO_SIGMA * mad, floor.ratio * Math.abs(median), floor.min);
  }

  /** One-sided robust z-score of `value`. */
  score(value: number, floor: SpreadFloor): number {
    return (value - this.stats().median) / this.spread(floor);
  }

  /** The values to persist. */
  toJSON(): number[] {
    return [...this.#values];
  }
}
