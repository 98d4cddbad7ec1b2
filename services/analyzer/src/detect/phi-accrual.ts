// Phi-accrual failure detection (Hayashibara et al., 2004): suspicion on a continuous scale instead of a fixed timeout.

/**
 * log10 of the upper tail of the standard normal distribution, 1 - Φ(z), without underflow.
 * Uses the Chebyshev fit of erfc from Numerical Recipes (relative error < 1.2e-7 everywhere), whose
 * exp(-x² + poly) form gives the logarithm directly: a fault ten deviations out scores ~23, not Infinity.
 */
export function log10NormalTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const poly =
    -x * x -
    1.26551223 +
    t *
      (1.00002368 +
        t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  // erfc(x) = t * exp(poly); 1 - Φ(z) = erfc(z / √2) / 2 for z >= 0, and 1 - erfc(|z| / √2) / 2 below the mean.
  const lnHalfErfc = Math.log(t) + poly - Math.LN2;
  if (z >= 0) return lnHalfErfc / Math.LN10;
  return Math.log10(1 - Math.exp(lnHalfErfc));
}

/** Phi for `elapsedMs` since the last heartbeat, when inter-arrival times are normal with `meanMs` and `stddevMs`. */
export function phi(elapsedMs: number, meanMs: number, stddevMs: number): number {
  return -log10NormalTail((elapsedMs - meanMs) / stddevMs);
}

/** Floors of the inter-arrival standard deviation. */
export interface StddevFloor {
  /** Fraction of the mean. */
  ratio: number;
  /** Absolute floor in milliseconds. */
  minMs: number;
}

/** The standard deviation phi is computed with: the measured one, but never below the floors. */
export function flooredStddev(meanMs: number, stddevMs: number, floor: StddevFloor): number {
  return Math.max(stddevMs, floor.ratio * meanMs, floor.minMs);
}

/** The elapsed time at which phi reaches `threshold` (the effective timeout), for docs, logs and tests. */
export function elapsedForPhi(threshold: number, meanMs: number, stddevMs: number): number {
  // Bisection on the monotone phi(elapsed): exact enough and free of an inverse-erfc approximation.
  let low = meanMs;
  let high = meanMs + 50 * stddevMs;
  for (let i = 0; i < 60; i++) {
    const mid = (low + high) / 2;
    if (phi(mid, meanMs, stddevMs) < threshold) low = mid;
    else high = mid;
  }
  return high;
}
