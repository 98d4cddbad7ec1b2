// A seeded pseudo-random generator, so simulations and generated topologies are the same for the same seed.

/**
 * mulberry32 (Tommy Ettinger's 32-bit generator): a tiny, well-mixed PRNG; returns a function giving floats in [0, 1).
 * @example const next = mulberry32(7); next(); // 0.0117…, and the same on every run
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
