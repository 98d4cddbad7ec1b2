import { describe, expect, test } from "bun:test";
import { medianAndMad, RollingRobust } from "./robust.ts";

describe("robust", () => {
  test("robust - median and MAD ignore one outlier", () => {
    expect(medianAndMad([1, 2, 3, 4, 1000])).toEqual({ median: 3, mad: 1 });
    expect(medianAndMad([1, 2, 3, 4])).toEqual({ median: 2.5, mad: 1 });
  });

  test("robust - the window rolls and scores above the median in floored deviations", () => {
    const series = new RollingRobust(4);
    for (const value of [100, 100, 100, 100, 100, 50]) series.push(value);
    expect(series.count).toBe(4);
    expect(series.stats().median).toBe(100);
    // MAD is 0: the floor (10 % of the median = 10) is the spread.
    expect(series.score(200, { ratio: 0.1, min: 1 })).toBe(10);
    expect(series.score(90, { ratio: 0.1, min: 1 })).toBe(-1);
  });

  test("robust - a restored window keeps its values", () => {
    const restored = new RollingRobust(3, [1, 2, 3, 4, 5]);
    expect(restored.toJSON()).toEqual([3, 4, 5]);
    expect(new RollingRobust(3).stats()).toEqual({ median: 0, mad: 0 });
  });
});
