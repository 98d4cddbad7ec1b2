// The accountant against published values of the reference implementations, side by side (sources and parameters:
// testdata/rdp-reference-values.md). Fractional orders follow the signed series of TF Privacy and Opacus.
import { describe, expect, test } from "bun:test";
import { DEFAULT_ORDERS, epsilonOf, logErfc, PrivacyParameterError, rdpOf, rdpOfStep } from "./rdp.ts";

/** TF Privacy `compute_dp_sgd_privacy`'s orders. */
const TF_ORDERS = [1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5, ...Array.from({ length: 59 }, (_, i) => 5 + i), 128, 256, 512];

describe("rdp accountant", () => {
  test("rdp - raw RDP of the sampled Gaussian matches TF Privacy's rdp_accountant_test (q 0.01, σ 2.5, 50 steps)", () => {
    const orders = [1.5, 2.5, 5, 50, 100, Number.POSITIVE_INFINITY];
    const published = [0.00065, 0.001085, 0.00218075, 0.023846, 167.416307, Number.POSITIVE_INFINITY];
    const ours = rdpOf(0.01, 2.5, 50, orders);
    ours.forEach((value, i) => {
      if (published[i] === Number.POSITIVE_INFINITY) expect(value).toBe(Number.POSITIVE_INFINITY);
      else expect(Math.abs(value - (published[i] as number)), `order ${orders[i]}: ours ${value}, TF ${published[i]}`).toBeLessThan(1e-5);
    });
    // The older dp_accounting test (signed series), rtol 1e-4: [6.5007e-4, 1.0854e-3, 2.1808e-3, 2.3846e-2, 1.6742e2].
    [6.5007e-4, 1.0854e-3, 2.1808e-3, 2.3846e-2, 1.6742e2].forEach((value, i) => {
      expect(Math.abs((ours[i] as number) / value - 1)).toBeLessThan(1e-4);
    });
  });

  test("rdp - TF Privacy's single-order and edge cases: q 0.1, σ 2, 10 steps, order 5 is 0.07737; q 1 is α/2σ²; q 0 is 0", () => {
    expect(rdpOf(0.1, 2, 10, [5])[0]).toBeCloseTo(0.07737, 5);
    expect(rdpOfStep(1, 10, 20)).toBeCloseTo(0.1, 12);
    expect(rdpOfStep(0, 10, 20)).toBe(0);
  });

  test("rdp - (ε, δ) matches Opacus's accountants_test: σ 1.5, q 0.04, 2250 steps, δ 1e-5 → 7.32911117143 at α 3.9", () => {
    const { epsilon, order } = epsilonOf(rdpOf(0.04, 1.5, 2250), DEFAULT_ORDERS, 1e-5, "improved");
    expect(epsilon).toBeCloseTo(7.32911117143, 7);
    expect(order).toBeCloseTo(3.9, 10);
  });

  test("rdp - (ε, δ) matches TF Privacy's compute_dp_sgd_privacy_test (classic conversion)", () => {
    // n 60000, batch 150, σ 1.3, 15 epochs (6000 steps), δ 1e-5 → 0.941870567 at order 19.
    const mnist = epsilonOf(rdpOf(150 / 60000, 1.3, 6000, TF_ORDERS), TF_ORDERS, 1e-5, "classic");
    expect(mnist.epsilon).toBeCloseTo(0.941870567, 7);
    expect(mnist.order).toBe(19);
    // n 100000, batch 100, σ 1.0, 30 epochs (30000 steps), δ 1e-7 → 1.70928734 at order 13.
    const large = epsilonOf(rdpOf(100 / 100000, 1.0, 30000, TF_ORDERS), TF_ORDERS, 1e-7, "classic");
    expect(large.epsilon).toBeCloseTo(1.70928734, 7);
    expect(large.order).toBe(13);
  });

  test("rdp - composition of two mechanisms and the conversion alone match Opacus's and dp_accounting's documented values", () => {
    // Opacus analysis/rdp.py docstring: (q 1e-5, σ 1, 10 steps) + (q 1e-4, σ 3, 4 steps), orders 2..32, δ 1e-5 → (0.336, 23).
    const orders = Array.from({ length: 31 }, (_, i) => 2 + i);
    const first = rdpOf(1e-5, 1.0, 10, orders);
    const second = rdpOf(1e-4, 3.0, 4, orders);
    const composed = epsilonOf(
      first.map((value, i) => value + (second[i] as number)),
      orders,
      1e-5,
      "improved",
    );
    expect(composed.epsilon).toBeCloseTo(0.336, 3);
    expect(composed.order).toBe(23);
    // Both test files: RDP 1.1 at every order 2..32, δ 1e-5 → 1.32783806176 at order 32 (improved conversion).
    const conversion = epsilonOf(
      orders.map(() => 1.1),
      orders,
      1e-5,
      "improved",
    );
    expect(conversion.epsilon).toBeCloseTo(1.32783806176, 9);
    expect(conversion.order).toBe(32);
  });

  test("rdp - log erfc is accurate near zero and far in the tail, where erfc itself underflows", () => {
    expect(Math.exp(logErfc(0))).toBeCloseTo(1, 6);
    expect(Math.exp(logErfc(1))).toBeCloseTo(0.157299207, 6);
    expect(Math.exp(logErfc(-1))).toBeCloseTo(1.842700793, 6);
    // erfc(30) ≈ 2.5646e-393: only its logarithm exists in a double; the asymptotic series gives −902.9...
    const asymptotic = -900 - Math.log(30 * Math.sqrt(Math.PI)) + Math.log1p(-1 / 1800);
    expect(Math.abs(logErfc(30) - asymptotic)).toBeLessThan(1e-6);
  });

  test("rdp - bad parameters are named", () => {
    expect(() => rdpOfStep(1.5, 1, 2)).toThrow(PrivacyParameterError);
    expect(() => rdpOfStep(0.1, 0, 2)).toThrow(/noise multiplier/);
    expect(() => rdpOf(0.1, 1, -1)).toThrow(/steps/);
    expect(() => epsilonOf([1], [2], 0)).toThrow(/delta/);
  });
});
