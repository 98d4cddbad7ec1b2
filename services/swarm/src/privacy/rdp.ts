// Rényi-DP of the sampled Gaussian mechanism (Mironov, Talwar, Zhang 2019), composed over steps and converted to
// (ε, δ): the accountant of the swarm's DP rounds. Written from the paper's formulas; checked against the published
// values of TensorFlow Privacy and Opacus in rdp.test.ts (testdata/rdp-reference-values.md).
import { X0Error } from "@x0/shared";

/** Parameters an accountant cannot work with. */
export class PrivacyParameterError extends X0Error {}

/** Opacus's default orders: 1.1 … 10.9 in tenths, then 12 … 63. */
export const DEFAULT_ORDERS: readonly number[] = [...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10), ...Array.from({ length: 52 }, (_, x) => 12 + x)];

/** log(e^a + e^b) without overflow. */
function logAdd(a: number, b: number): number {
  const high = Math.max(a, b);
  if (high === Number.NEGATIVE_INFINITY) return high;
  return high + Math.log1p(Math.exp(Math.min(a, b) - high));
}

/** log(e^a − e^b) for a ≥ b. */
function logSub(a: number, b: number): number {
  if (b === Number.NEGATIVE_INFINITY) return a;
  if (a <= b) return a === b ? Number.NEGATIVE_INFINITY : Number.NaN;
  return a + Math.log(-Math.expm1(b - a));
}

/** log C(n, k) for integers, as a sum of logs (no overflow for n in the thousands). */
function logBinomial(n: number, k: number): number {
  let sum = 0;
  for (let j = 1; j <= k; j++) sum += Math.log((n - k + j) / j);
  return sum;
}

/**
 * log erfc(x), accurate in the far tail: the Chebyshev fit of erfc (Numerical Recipes `erfcc`, fractional error under
 * 1.2e-7) is exp of a polynomial, so its logarithm needs no exp at all. Hand-written: JavaScript has no erf.
 */
export function logErfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -z * z -
    1.26551223 +
    t *
      (1.00002368 +
        t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const logTail = Math.log(t) + poly;
  return x >= 0 ? logTail : Math.log(2 - Math.exp(logTail));
}

/** log A_α for an integer order: the binomial expansion (the paper's Section 3.3, integer α). */
function logAInteger(q: number, sigma: number, alpha: number): number {
  let logA = Number.NEGATIVE_INFINITY;
  for (let k = 0; k <= alpha; k++) {
    const term = logBinomial(alpha, k) + k * Math.log(q) + (alpha - k) * Math.log1p(-q) + (k * k - k) / (2 * sigma * sigma);
    logA = logAdd(logA, term);
  }
  return logA;
}

/** log A_α for a fractional order: the two series split at z0 (the paper's Section 3.3), summed with their signs. */
function logAFractional(q: number, sigma: number, alpha: number): number {
  let logA0 = Number.NEGATIVE_INFINITY;
  let logA1 = Number.NEGATIVE_INFINITY;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  let coefficient = 1; // C(α, i), the generalised binomial coefficient, built term by term
  for (let i = 0; ; i++) {
    if (i > 0) coefficient *= (alpha - i + 1) / i;
    const logCoefficient = Math.log(Math.abs(coefficient));
    const j = alpha - i;
    const logT0 = logCoefficient + i * Math.log(q) + j * Math.log1p(-q);
    const logT1 = logCoefficient + j * Math.log(q) + i * Math.log1p(-q);
    const logE0 = Math.log(0.5) + logErfc((i - z0) / (Math.SQRT2 * sigma));
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / (Math.SQRT2 * sigma));
    const logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
    if (coefficient > 0) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    if (Math.max(logS0, logS1) < -30 || i > 10_000) break;
  }
  return logAdd(logA0, logA1);
}

/** RDP at order `alpha` of one step of the Gaussian mechanism with noise multiplier `sigma`, sampled with rate `q`. */
export function rdpOfStep(q: number, sigma: number, alpha: number): number {
  if (!(q >= 0 && q <= 1)) throw new PrivacyParameterError(`sampling rate ${q} is not in [0, 1]`);
  if (!(sigma > 0)) throw new PrivacyParameterError(`noise multiplier ${sigma} must be positive`);
  if (!(alpha > 1)) throw new PrivacyParameterError(`order ${alpha} must be above 1`);
  if (q === 0) return 0;
  // At order ∞ the sampled Gaussian's divergence is unbounded.
  if (alpha === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  if (q === 1) return alpha / (2 * sigma * sigma);
  const logA = Number.isInteger(alpha) ? logAInteger(q, sigma, alpha) : logAFractional(q, sigma, alpha);
  return logA / (alpha - 1);
}

/** RDP at each order after `steps` steps of the sampled Gaussian mechanism (RDP composes by addition). */
export function rdpOf(q: number, sigma: number, steps: number, orders: readonly number[] = DEFAULT_ORDERS): number[] {
  if (!(Number.isInteger(steps) && steps >= 0)) throw new PrivacyParameterError(`steps ${steps} is not a non-negative integer`);
  return orders.map((alpha) => rdpOfStep(q, sigma, alpha) * steps);
}

/** How RDP turns into (ε, δ): the classic bound (Mironov 2017) or the tighter one of Balle et al. 2020 (Opacus ≥ 1.0). */
export type Conversion = "classic" | "improved";

/** The smallest ε over the orders for `delta`, and the order that gives it. */
export function epsilonOf(
  rdp: readonly number[],
  orders: readonly number[],
  delta: number,
  conversion: Conversion = "improved",
): { epsilon: number; order: number } {
  if (!(delta > 0 && delta < 1)) throw new PrivacyParameterError(`delta ${delta} is not in (0, 1)`);
  if (rdp.length !== orders.length) throw new PrivacyParameterError(`${rdp.length} RDP values for ${orders.length} orders`);
  let best = { epsilon: Number.POSITIVE_INFINITY, order: Number.NaN };
  orders.forEach((alpha, i) => {
    const r = rdp[i] as number;
    const epsilon =
      conversion === "classic" ? r - Math.log(delta) / (alpha - 1) : r + Math.log1p(-1 / alpha) - (Math.log(delta) + Math.log(alpha)) / (alpha - 1);
    if (epsilon < best.epsilon) best = { epsilon, order: alpha };
  });
  return best;
}
