import { describe, expect, test } from "bun:test";
import { DEFAULT_LINK_COST, etx, LinkMeasurement, quantize, rttFactor } from "./linkCost.ts";

describe("link cost", () => {
  test("link cost - ETX multiplies both ends' delivery, clamped below certain loss", () => {
    expect(etx(0, 0)).toBe(1);
    expect(etx(0.5, 0)).toBe(2);
    expect(etx(0.5, 0.5)).toBe(4);
    expect(etx(1, 0)).toBeCloseTo(20);
  });

  test("link cost - the RTT factor is small and capped", () => {
    expect(rttFactor(undefined, DEFAULT_LINK_COST)).toBe(1);
    expect(rttFactor(10, DEFAULT_LINK_COST)).toBeCloseTo(1.1);
    expect(rttFactor(10_000, DEFAULT_LINK_COST)).toBe(2);
  });

  test("link cost - quantization keeps the cost inside the hysteresis band and rounds outside it", () => {
    expect(quantize(1, 1.2, DEFAULT_LINK_COST)).toBe(1);
    expect(quantize(1, 1.4, DEFAULT_LINK_COST)).toBe(1.5);
    expect(quantize(4, 3.2, DEFAULT_LINK_COST)).toBe(4);
    expect(quantize(4, 2.9, DEFAULT_LINK_COST)).toBe(3);
    expect(quantize(2, 0.5, DEFAULT_LINK_COST)).toBe(1);
  });

  test("link cost - noise around a clean link never moves the routing cost; sustained loss moves it while the average settles, then not", () => {
    const link = new LinkMeasurement();
    let changes = 0;
    for (let i = 0; i < 200; i++) {
      const noise = i % 3 === 0 ? 0.08 : 0;
      if (link.observe(i % 2 === 0 ? "a" : "b", noise, 0.2 + (i % 5) * 0.05, DEFAULT_LINK_COST)) changes += 1;
    }
    expect(changes).toBe(0);
    expect(link.routingCost).toBe(1);
    for (let i = 0; i < 50; i++) if (link.observe(i % 2 === 0 ? "a" : "b", 0.3, 0.2, DEFAULT_LINK_COST)) changes += 1;
    expect(changes).toBeLessThanOrEqual(3);
    expect(link.routingCost).toBe(2);
    changes = 0;
    for (let i = 0; i < 200; i++) if (link.observe(i % 2 === 0 ? "a" : "b", 0.3 + (i % 4) * 0.03, 0.2, DEFAULT_LINK_COST)) changes += 1;
    expect(changes).toBe(0);
  });

  test("link cost - a link whose loss fades returns to the base cost 1, which the hysteresis band alone would forbid", () => {
    expect(quantize(1.25, 1.05, DEFAULT_LINK_COST)).toBe(1);
    expect(quantize(1, 1.2, DEFAULT_LINK_COST)).toBe(1);
    expect(quantize(1.25, 1.2, DEFAULT_LINK_COST)).toBe(1.25);
  });

  test("link cost - one end's loss stands for both until the other reports", () => {
    const link = new LinkMeasurement();
    link.observe("a", 0.5, null, DEFAULT_LINK_COST);
    expect(link.smoothedCost(DEFAULT_LINK_COST)).toBe(4);
    expect(link.routingCost).toBe(4);
  });
});
