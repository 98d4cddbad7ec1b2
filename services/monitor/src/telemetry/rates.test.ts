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
});
