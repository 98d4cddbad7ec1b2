import { describe, expect, test } from "bun:test";
import { elapsedForPhi, flooredStddev, log10NormalTail, phi } from "./phi-accrual.ts";

describe("phi-accrual", () => {
  test("phi-accrual - the normal tail matches known values", () => {
    expect(10 ** log10NormalTail(0)).toBeCloseTo(0.5, 6);
    expect(10 ** log10NormalTail(1.959964)).toBeCloseTo(0.025, 6);
    expect(10 ** log10NormalTail(-1.959964)).toBeCloseTo(0.975, 6);
    // 1 - Φ(5.612) ≈ 1e-8: phi 8 is 5.6 deviations past the mean.
    expect(log10NormalTail(5.612)).toBeCloseTo(-8, 2);
  });

  test("phi-accrual - phi grows with silence and stays finite far out", () => {
    expect(phi(20, 20, 5)).toBeCloseTo(-Math.log10(0.5), 6);
    expect(phi(10, 20, 5)).toBeLessThan(0.1);
    expect(phi(60, 20, 5)).toBeGreaterThan(phi(40, 20, 5));
    const far = phi(10_000, 20, 5);
    expect(Number.isFinite(far)).toBe(true);
    expect(far).toBeGreaterThan(1000);
  });

  test("phi-accrual - the floor keeps a steady series from making every pause infinite", () => {
    expect(flooredStddev(20, 0, { ratio: 0.2, minMs: 2 })).toBe(4);
    expect(flooredStddev(5, 0, { ratio: 0.2, minMs: 2 })).toBe(2);
    expect(flooredStddev(20, 9, { ratio: 0.2, minMs: 2 })).toBe(9);
  });

  test("phi-accrual - the effective timeout is mean plus ~5.6 deviations at phi 8", () => {
    expect(elapsedForPhi(8, 20, 10)).toBeCloseTo(20 + 56.12, 0);
    expect(phi(elapsedForPhi(8, 20, 10), 20, 10)).toBeCloseTo(8, 3);
  });
});
