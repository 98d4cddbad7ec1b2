import { describe, expect, test } from "bun:test";
import { EwmaBaseline } from "./ewma.ts";

describe("ewma", () => {
  test("ewma - a constant series has its value as mean and zero variance", () => {
    const baseline = new EwmaBaseline(0.2);
    for (let i = 0; i < 50; i++) baseline.update(100);
    expect(baseline.mean).toBe(100);
    expect(baseline.variance).toBe(0);
    expect(baseline.count).toBe(50);
  });

  test("ewma - mean and deviation converge to those of an alternating series", () => {
    const baseline = new EwmaBaseline(0.05);
    for (let i = 0; i < 2000; i++) baseline.update(i % 2 === 0 ? 90 : 110);
    expect(baseline.mean).toBeCloseTo(100, 0);
    expect(baseline.stddev()).toBeGreaterThan(8);
    expect(baseline.stddev()).toBeLessThan(12);
  });

  test("ewma - score is one-sided and uses the floor when variance is zero", () => {
    const baseline = new EwmaBaseline(0.1);
    for (let i = 0; i < 10; i++) baseline.update(10);
    expect(baseline.score(20, 2)).toBe(5);
    expect(baseline.score(0, 2)).toBe(-5);
  });

  test("ewma - state round-trips through JSON", () => {
    const baseline = new EwmaBaseline(0.1);
    for (const value of [1, 5, 3, 8]) baseline.update(value);
    const restored = new EwmaBaseline(0.1, JSON.parse(JSON.stringify(baseline)));
    expect(restored.toJSON()).toEqual(baseline.toJSON());
  });
});
