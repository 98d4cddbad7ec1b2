import { describe, expect, test } from "bun:test";
import { RateTracker } from "./rates.ts";

describe("rates", () => {
  test("rates - first reading has no change, then delta and per-second rate", () => {
    const rates = new RateTracker();
    expect(rates.change("a", 100, 100)).toBeUndefined();
    rates.endRound();
    expect(rates.change("a", 150, 100)).toEqual({ delta: 50, perS: 500 });
  });

  test("rates - a counter that went backwards counts its new value as the delta", () => {
    const rates = new RateTracker();
    rates.change("a", 1000, 100);
    rates.endRound();
    expect(rates.change("a", 30, 200)).toEqual({ delta: 30, perS: 150 });
  });

  test("rates - keys missing from a round are forgotten", () => {
    const rates = new RateTracker();
    rates.change("a", 5, 100);
    rates.endRound();
    rates.endRound();
    expect(rates.change("a", 9, 100)).toBeUndefined();
  });

  test("rates - a key read twice in one round is compared with the previous round both times", () => {
    const rates = new RateTracker();
    rates.change("a", 10, 100);
    rates.endRound();
    expect(rates.change("a", 20, 100)).toEqual({ delta: 10, perS: 100 });
    expect(rates.change("a", 25, 100)).toEqual({ delta: 15, perS: 150 });
    rates.endRound();
    expect(rates.change("a", 30, 100)).toEqual({ delta: 5, perS: 50 });
  });

  test("rates - a key skipped for one round starts again without a change", () => {
    const rates = new RateTracker();
    rates.change("a", 1, 100);
    rates.change("b", 1, 100);
    rates.endRound();
    rates.change("b", 2, 100);
    rates.endRound();
    expect(rates.change("a", 3, 100)).toBeUndefined();
    expect(rates.change("b", 4, 100)).toEqual({ delta: 2, perS: 20 });
  });
});
