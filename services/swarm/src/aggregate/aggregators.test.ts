import { describe, expect, test } from "bun:test";
import { seededRandom } from "../model/mlp.ts";
import { AggregationError, aggregate, coordinateMedian, fedAvg, multiKrum, trimmedMean } from "./aggregators.ts";

const v = (...values: number[]) => Float32Array.from(values);

describe("aggregators", () => {
  test("aggregators - FedAvg weighs by sample counts; hand-computed", () => {
    // (1·[1, 2] + 3·[5, 6]) / 4 = [4, 5]
    expect([...fedAvg([v(1, 2), v(5, 6)], [1, 3]).vector]).toEqual([4, 5]);
    expect([...fedAvg([v(1, 2), v(5, 6)]).vector]).toEqual([3, 4]);
    expect(() => fedAvg([v(1), v(1, 2)])).toThrow("update 1 has 2 values, update 0 has 1");
    expect(() => fedAvg([])).toThrow(AggregationError);
    expect(() => fedAvg([v(1)], [0])).toThrow("the weights sum to zero");
  });

  test("aggregators - coordinate-wise median and trimmed mean; hand-computed, an outlier has no pull", () => {
    const updates = [v(1, 10), v(2, 20), v(3, 30), v(4, 40), v(1000, -1000)];
    // Columns sorted: [1, 2, 3, 4, 1000] and [-1000, 10, 20, 30, 40].
    expect([...coordinateMedian(updates).vector]).toEqual([3, 20]);
    expect([...coordinateMedian(updates.slice(0, 4)).vector]).toEqual([2.5, 25]);
    // β = 0.2 of 5 trims one at each end: (2 + 3 + 4) / 3 = 3 and (10 + 20 + 30) / 3 = 20.
    expect([...trimmedMean(updates, 0.2).vector]).toEqual([3, 20]);
    expect([...trimmedMean(updates, 0).vector]).toEqual([202, -180]);
    expect(() => trimmedMean(updates, 0.5)).toThrow("outside [0, 0.5)");
  });

  test("aggregators - Krum scores by the n − f − 2 nearest; hand-computed", () => {
    // n = 5, f = 1: each score sums the 2 smallest squared distances to the others.
    const updates = [v(0), v(1), v(2), v(10), v(11)];
    // Scores: 0 → 1 + 4 = 5; 1 → 1 + 1 = 2; 2 → 1 + 4 = 5; 10 → 1 + 64 = 65; 11 → 1 + 81 = 82.
    expect(multiKrum(updates, 1, 1)).toEqual({ vector: v(1), used: [1] });
    expect(multiKrum(updates, 1, 3)).toEqual({ vector: v(1), used: [0, 1, 2] });
    expect(() => multiKrum(updates.slice(0, 4), 1)).toThrow("Multi-Krum needs more than 2f + 2 = 4 updates for f = 1, got 4");
  });

  test("aggregators - among 10 honest and 4 Byzantine updates, Multi-Krum selects exactly the honest cluster", () => {
    const random = seededRandom(21);
    const honestMean = Float32Array.from({ length: 50 }, () => random() - 0.5);
    const honest = Array.from({ length: 10 }, () => honestMean.map((x) => x + (random() - 0.5) * 0.1));
    const byzantine = [
      honestMean.map((x) => -x * 10), // sign-flipped and scaled
      honestMean.map((x) => x * 10), // scaled
      Float32Array.from({ length: 50 }, () => (random() - 0.5) * 20), // random
      Float32Array.from({ length: 50 }, () => (random() - 0.5) * 20),
    ];
    const updates = [...byzantine.slice(0, 2), ...honest, ...byzantine.slice(2)];
    const { used, vector } = multiKrum(updates, 4);
    expect(used).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const error = (candidate: Float32Array) => Math.sqrt(candidate.reduce((sum, x, i) => sum + (x - (honestMean[i] as number)) ** 2, 0));
    expect(error(vector)).toBeLessThan(0.1);
    // FedAvg over the same updates is pulled far off; the coordinate-wise rules stay near.
    expect(error(fedAvg(updates).vector)).toBeGreaterThan(1);
    expect(error(coordinateMedian(updates).vector)).toBeLessThan(0.3);
    expect(error(aggregate("trimmed-mean", updates, [], { trim: 0.3, byzantine: 4 }).vector)).toBeLessThan(0.3);
  });
});
