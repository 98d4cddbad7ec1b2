import { describe, expect, test } from "bun:test";
import { SeriesDetector, type SeriesOptions } from "./series.ts";

// A floor of 100, a z threshold of 6: over a steady baseline of 150 (spread floored at 10 % = 15), 240 is the breach line
// and 195 (half the threshold) the line a value must fall back under to count as normal.
const OPTIONS: SeriesOptions = { zThreshold: 6, minValue: 100, openAfter: 2, clearAfter: 3, warmupSamples: 5, window: 50, floor: { ratio: 0.1, min: 1 } };
const steady = () => new SeriesDetector(OPTIONS, Array(20).fill(150));

/** Feeds values one a second from ts 1000; the onset given is the sample before each. */
function feed(detector: SeriesDetector, values: number[], from = 1000): (string | undefined)[] {
  return values.map((value, i) => detector.observe(value, from + i * 1000, from + (i - 1) * 1000));
}

describe("series", () => {
  test("series - a series without a baseline is judged by its floor alone, so a flood from a new source opens", () => {
    const quiet = new SeriesDetector(OPTIONS);
    expect(feed(quiet, [50, 80, 99])).toEqual([undefined, undefined, undefined]);
    expect(quiet.baseline.count).toBe(3);
    const flooded = new SeriesDetector(OPTIONS);
    expect(feed(flooded, [5000, 5000], 5000)).toEqual([undefined, "opened"]);
    expect(flooded.active).toBe(true);
    // The onset is the one given with the first breaching sample, and the flood was not learnt.
    expect(flooded.onsetAt).toBe(4000);
    expect(flooded.baseline.count).toBe(0);
    expect(flooded.reading).toMatchObject({ observed: 5000, score: 0 });
  });

  test("series - once warm, a value over the floor opens only far above the baseline, for openAfter samples in a row", () => {
    const series = steady();
    // Above the floor but 3.3 deviations up: normal, and learnt.
    expect(feed(series, [200])).toEqual([undefined]);
    expect(series.baseline.count).toBe(21);
    // A breach, then a normal sample: the streak starts over.
    expect(feed(series, [300, 150, 300, 300], 2000)).toEqual([undefined, undefined, undefined, "opened"]);
    expect(series.onsetAt).toBe(3000);
    expect(series.reading).toEqual({ metric: "", observed: 300, mean: 150, stddev: 15, score: 10, ts: 5000 });
  });

  test("series - nothing is learnt while a fault lasts, and clearing needs clearAfter samples back under half the threshold", () => {
    const series = steady();
    feed(series, [300, 300]);
    expect(series.active).toBe(true);
    const learnt = series.baseline.count;
    // 220 is no breach but not normal either (4.7 deviations): it breaks the run of normal samples.
    expect(feed(series, [180, 180, 220, 180, 180], 3000)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(feed(series, [180], 8000)).toEqual(["cleared"]);
    expect(series.active).toBe(false);
    expect(series.baseline.count).toBe(learnt);
    // Below the floor is normal whatever the score; after the fault, values are learnt again.
    feed(series, [90], 9000);
    expect(series.baseline.count).toBe(learnt + 1);
  });

  test("series - the time the series was last seen is the caller's clock when given, else the sample's", () => {
    const series = steady();
    series.observe(150, 1000, 900, 77_000);
    expect(series.lastSeenAt).toBe(77_000);
    series.observe(150, 2000, 1000);
    expect(series.lastSeenAt).toBe(2000);
  });
});
