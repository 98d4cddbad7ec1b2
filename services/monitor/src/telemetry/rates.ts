// Deltas and per-second rates of cumulative counters between two samples.

/** A counter's change over the last interval. */
export interface Change {
  delta: number;
  perS: number;
}

/** Tracks cumulative counters by key and turns each new reading into a delta and a rate. */
export class RateTracker {
  private previous = new Map<string, number>();
  private current = new Map<string, number>();

  /**
   * The change of `key` since the previous round, over `elapsedMs`. The first reading of a key has no change;
   * a counter that went backwards was reset (e.g. maps re-created), so its new value is the delta.
   */
  change(key: string, value: number, elapsedMs: number): Change | undefined {
    this.current.set(key, value);
    const before = this.previous.get(key);
    if (before === undefined || elapsedMs <= 0) return undefined;
    const delta = value >= before ? value - before : value;
    return { delta, perS: (delta * 1000) / elapsedMs };
  }

  /** Ends a round: keys not read in it are forgotten, so vanished neighbours do not accumulate. */
  endRound(): void {
    this.previous = this.current;
    this.current = new Map();
  }
}
