// Deltas and per-second rates of cumulative counters between two samples.

/** A counter's change over the last interval. */
export interface Change {
  delta: number;
  perS: number;
}

/** One key's readings: the one of the previous round and the latest, and the round of the latest. */
interface Readings {
  before: number | undefined;
  value: number;
  round: number;
}

/** Tracks cumulative counters by key and turns each new reading into a delta and a rate. */
export class RateTracker {
  // One entry per key, updated in place: a sample reads the same keys every round, so nothing is allocated for them.
  private readonly readings = new Map<string, Readings>();
  private round = 0;

  /**
   * The change of `key` since the previous round, over `elapsedMs`. The first reading of a key has no change;
   * a counter that went backwards was reset (e.g. maps re-created), so its new value is the delta.
   */
  change(key: string, value: number, elapsedMs: number): Change | undefined {
    let readings = this.readings.get(key);
    if (readings === undefined) {
      readings = { before: undefined, value, round: this.round };
      this.readings.set(key, readings);
    } else {
      // A second reading in the same round is compared with the previous round too.
      if (readings.round !== this.round) readings.before = readings.value;
      readings.value = value;
      readings.round = this.round;
    }
    const { before } = readings;
    if (before === undefined || elapsedMs <= 0) return undefined;
    const delta = value >= before ? value - before : value;
    return { delta, perS: (delta * 1000) / elapsedMs };
  }

  /** Ends a round: keys not read in it are forgotten, so vanished neighbours do not accumulate. */
  endRound(): void {
    for (const [key, readings] of this.readings) if (readings.round !== this.round) this.readings.delete(key);
    this.round++;
  }
}
