import { describe, expect, test } from "bun:test";
import { trimmedMeanBy } from "../aggregate/aggregators.ts";
import { l2Norm } from "../aggregate/update-check.ts";
import { seededRandom } from "../model/mlp.ts";
import {
  clipUpdate,
  epsilonAfter,
  nextRoundEpsilon,
  PrivacyBudgetExhausted,
  type PrivacySettings,
  privateAggregate,
  privateMean,
  sensitivityOf,
  trimOf,
} from "./dp.ts";
import { DEFAULT_ORDERS, epsilonOf, rdpOf } from "./rdp.ts";

const settings: PrivacySettings = { noiseMultiplier: 1.1, clipNorm: 1, sampleRate: 0.5, expectedParticipants: 4, epsilonBudget: 2, delta: 1e-5 };

describe("differential privacy of the rounds", () => {
  test("dp - an update longer than the clip norm is scaled down to it, a shorter one is left alone", () => {
    const long = Float32Array.from({ length: 100 }, (_, i) => Math.sin(i) * 3);
    expect(l2Norm(clipUpdate(long, 1))).toBeCloseTo(1, 5);
    // Direction kept.
    const clipped = clipUpdate(long, 1);
    expect((clipped[7] as number) / (clipped[3] as number)).toBeCloseTo((long[7] as number) / (long[3] as number), 4);
    const short = Float32Array.from([0.1, 0.2]);
    expect([...clipUpdate(short, 1)]).toEqual([...short]);
  });

  test("dp - without noise the private mean is the clipped sum over the expected participants", () => {
    const updates = [Float32Array.from([3, 4]), Float32Array.from([0.3, 0.4]), Float32Array.from([0, -2])];
    const mean = privateMean(updates, settings, () => 0);
    // clip(3,4) = (0.6, 0.8); (0.3, 0.4) stays; clip(0, −2) = (0, −1): sum (0.9, 0.2) / 4.
    expect(mean[0]).toBeCloseTo(0.9 / 4, 6);
    expect(mean[1]).toBeCloseTo(0.2 / 4, 6);
  });

  test("dp - the noise is there, and of the calibrated size: (noisy − noiseless) / (σC/W) is standard normal", () => {
    const dimension = 20_000;
    const updates = Array.from({ length: 3 }, (_, k) => Float32Array.from({ length: dimension }, (_, i) => Math.cos(i + k) * 0.01));
    const noiseless = privateMean(updates, settings, () => 0);
    const noisy = privateMean(updates, settings);
    const scale = (settings.noiseMultiplier * settings.clipNorm) / settings.expectedParticipants;
    const z = Array.from(noisy, (value, i) => (value - (noiseless[i] as number)) / scale);
    const mean = z.reduce((a, b) => a + b, 0) / dimension;
    const variance = z.reduce((a, b) => a + (b - mean) ** 2, 0) / (dimension - 1);
    // Five standard errors: |mean| < 5/√d, variance within 5·√(2/d) of 1.
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(dimension));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / dimension));
    // Two releases of the same round differ: the noise is drawn afresh.
    expect(privateMean(updates, settings)[0]).not.toBe(noisy[0]);
  });

  test("dp - ε composes over rounds through the accountant, and the round that would pass the budget is refused, saying by how much", () => {
    expect(epsilonAfter(0, settings)).toBe(0);
    const three = epsilonAfter(3, settings);
    expect(three).toBeCloseTo(epsilonOf(rdpOf(0.5, 1.1, 3), DEFAULT_ORDERS, 1e-5).epsilon, 12);
    expect(epsilonAfter(4, settings)).toBeGreaterThan(three);
    let rounds = 0;
    while (epsilonAfter(rounds + 1, settings) <= settings.epsilonBudget) rounds++;
    expect(nextRoundEpsilon(rounds - 1, settings)).toBeLessThanOrEqual(settings.epsilonBudget);
    expect(() => nextRoundEpsilon(rounds, settings)).toThrow(PrivacyBudgetExhausted);
    expect(() => nextRoundEpsilon(rounds, settings)).toThrow(new RegExp(`round ${rounds + 1} would spend ε .* over the budget ε 2`));
  });

  test("dp - the private trimmed mean and median: one node's update replaced moves the noiseless aggregate by at most 2C/(W − 2k)", () => {
    const random = seededRandom(11);
    const dimension = 50;
    const slots = 8;
    const robust = { ...settings, sampleRate: 1, expectedParticipants: slots };
    for (const rule of ["trimmed-mean", "median"] as const) {
      const bound = sensitivityOf(rule, robust, 0.25);
      expect(bound).toBeCloseTo((2 * robust.clipNorm) / (slots - 2 * trimOf(rule, slots, 0.25)), 12);
      let worst = 0;
      for (let trial = 0; trial < 300; trial++) {
        const updates = Array.from({ length: slots - (trial % 3) }, () => Float32Array.from({ length: dimension }, () => (random() * 2 - 1) * 0.5));
        const replaced = updates.map((update, i) => (i === 0 ? Float32Array.from({ length: dimension }, () => (random() < 0.5 ? -5 : 5)) : update));
        const a = privateAggregate(updates, robust, rule, 0.25, () => 0);
        const b = privateAggregate(replaced, robust, rule, 0.25, () => 0);
        worst = Math.max(worst, l2Norm(a.map((value, i) => value - (b[i] as number))));
      }
      expect(worst, rule).toBeLessThanOrEqual(bound * (1 + 1e-6));
      expect(worst, rule).toBeGreaterThan(bound / 20);
    }
  });

  test("dp - the private median pads missing agents with zero updates, trims all but the middle, and adds σ times its sensitivity", () => {
    const robust = { ...settings, sampleRate: 1, expectedParticipants: 5 };
    const updates = [Float32Array.from([0.5]), Float32Array.from([0.2]), Float32Array.from([-0.3])];
    // Slots: 0.5, 0.2, −0.3, 0, 0 → median 0; with a noise draw of 1: σ · 2C / 1.
    expect(privateAggregate(updates, robust, "median", 0, () => 0)[0]).toBeCloseTo(0, 6);
    expect(privateAggregate(updates, robust, "median", 0, () => 1)[0]).toBeCloseTo(settings.noiseMultiplier * 2, 6);
    expect(trimmedMeanBy(updates, 1).vector[0]).toBeCloseTo(0.2, 6);
    expect(() => privateAggregate([...updates, ...updates], robust, "median", 0)).toThrow(/6 updates for 5 slots/);
  });
});
