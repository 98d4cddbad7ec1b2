import { describe, expect, test } from "bun:test";
import { Round, type RoundSettings } from "./round.ts";

const settings: RoundSettings = { aggregator: "fedavg", minParticipants: 2, deadlineMs: 1000, maxUpdateNorm: 10, trim: 0.2, byzantine: 1 };
const v = (...values: number[]) => Float32Array.from(values);

describe("round", () => {
  test("round - accepted updates become the next parameters: base plus the weighted mean of the changes", () => {
    const round = new Round(1, 3, v(1, 1), 0, settings);
    expect(round.submit("n1", v(1, 0), 10, 100)).toEqual({ accepted: true });
    expect(round.submit("n2", v(0, 2), 30, 200)).toEqual({ accepted: true });
    const outcome = round.close();
    // base + (10·[1, 0] + 30·[0, 2]) / 40 = [1.25, 2.5]
    expect(outcome).toEqual({ published: true, params: v(1.25, 2.5), participants: ["n1", "n2"], used: ["n1", "n2"], refused: 0 });
  });

  test("round - a late, repeated, malformed or oversized update is refused with the reason and not counted", () => {
    const round = new Round(2, 3, v(0, 0), 1000, settings);
    expect(round.submit("n1", v(1, 1), 5, 1500)).toEqual({ accepted: true });
    expect(round.submit("n1", v(1, 1), 5, 1600)).toEqual({ accepted: false, reason: "n1 already submitted to round 2" });
    expect(round.submit("n2", v(1, 1), 5, 2001)).toEqual({ accepted: false, reason: "after round 2's deadline (1001 ms after it opened)" });
    expect(round.submit("n3", v(Number.NaN, 1), 5, 1500)).toEqual({ accepted: false, reason: "value 0 is NaN, not a finite number" });
    expect(round.submit("n4", v(100, 0), 5, 1500)).toEqual({ accepted: false, reason: "the update's norm 100.0 exceeds the bound 10" });
    expect(round.submit("n5", v(1), 5, 1500)).toEqual({ accepted: false, reason: "the update has 1 values, the model has 2" });
    expect(round.submit("n6", v(1, 1), 0, 1500)).toEqual({ accepted: false, reason: "sample count 0 is not a positive integer" });
    // One participant of the two needed: nothing is published.
    expect(round.close()).toEqual({ published: false, reason: "1 of the 2 participants needed", participants: ["n1"], refused: 6 });
    expect(round.submit("n7", v(1, 1), 5, 1500)).toEqual({ accepted: false, reason: "round 2 is closed" });
  });

  test("round - Multi-Krum names the agents it used, and leaves out the one far from the rest", () => {
    const round = new Round(3, 1, v(0), 0, { ...settings, aggregator: "multi-krum", byzantine: 1 });
    for (const [agent, value] of [
      ["n1", 1],
      ["n2", 1.1],
      ["n3", 0.9],
      ["n4", 1.05],
      ["n5", -9],
    ] as const)
      round.submit(agent, v(value), 10, 1);
    const outcome = round.close();
    expect(outcome.published && outcome.used).toEqual(["n1", "n2", "n3", "n4"]);
    expect(outcome.published && outcome.params[0]).toBeCloseTo(1.0125, 5);
  });
});
