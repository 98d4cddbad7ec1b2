/** Serializable state of an {@link EwmaBaseline}. */
export interface EwmaState {
  mean: number;
  variance: number;
  count: number;
}

/**
 * Exponentially weighted mean and variance of one series (West's incremental form),
 * so a baseline adapts to slow drift but a sudden jump stands out.
 */
export class EwmaBaseline {
  mean: number;
  variance: number;
  count: number;

  constructor(
    readonly alpha: number,
    state: EwmaState = { mean: 0, variance: 0, count: 0 },
  ) {
    this.mean = state.mean;
    this.variance = state.variance;
    this.count = state.count;
  }

  /** Adds one observation. */
  update(value: number): void {
    if (this.count === 0) {
      this.mean = value;
      this.variance = 0;
    } else {
      const delta = value - this.mean;
      this.mean += this.alpha * delta;
      this.variance = (1 - this.alpha) * (this.variance + this.alpha * delta * delta);
    }
    this.count += 1;
  }

  /** Standard deviation, floored so that a perfectly steady series does not make every change infinite. */
  stddev(floor = 0): number {
    return Math.max(Math.sqrt(this.variance), floor);
  }

  /** One-sided score: how many (floored) standard deviations `value` lies above the mean. */
  score(value: number, floor: number): number {
    return (value - this.mean) / this.stddev(floor);
  }

  /** The state to persist. */
  toJSON(): EwmaState {
    return { mean: this.mean, variance: this.variance, count: this.count };
  }
}
