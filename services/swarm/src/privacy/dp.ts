// Node-level differential privacy of the rounds (DP-FedAvg, McMahan et al. 2018): every update clipped to a norm, the
// clipped sum given Gaussian noise of σ·C, divided by a fixed expected number of participants; each released round is
// one step of the sampled Gaussian mechanism for the accountant (README: "Differential privacy").
import { X0Error } from "@x0/shared";
import { l2Norm } from "../aggregate/update-check.ts";
import { DEFAULT_ORDERS, epsilonOf, rdpOf } from "./rdp.ts";

/** The next round would spend more than the configured ε. */
export class PrivacyBudgetExhausted extends X0Error {}

/** The DP mechanism of the rounds and the budget it may spend. */
export interface PrivacySettings {
  /** σ: the noise's standard deviation is σ · clipNorm on the sum. */
  noiseMultiplier: number;
  clipNorm: number;
  /** q: each agent takes part in a round with this probability. */
  sampleRate: number;
  /** The public denominator of the noisy mean (q × the agents): a count that depends on no one's data. */
  expectedParticipants: number;
  epsilonBudget: number;
  delta: number;
}

/** `update` scaled down to L2 norm `clipNorm` when it is longer (a copy). */
export function clipUpdate(update: Float32Array, clipNorm: number): Float32Array {
  const norm = l2Norm(update);
  const factor = norm > clipNorm ? clipNorm / norm : 1;
  return update.map((value) => value * factor);
}

/** A standard normal draw from cryptographic randomness (Box-Muller): DP noise must not be predictable. */
export function secureGaussian(): number {
  const words = crypto.getRandomValues(new Uint32Array(2));
  // Uniforms in (0, 1]: the logarithm never sees 0.
  const u1 = ((words[0] as number) + 1) / 2 ** 32;
  const u2 = (words[1] as number) / 2 ** 32;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** The noisy mean of the clipped updates: (Σ clip(Δᵢ) + N(0, (σC)²·I)) / expected participants. */
export function privateMean(updates: readonly Float32Array[], settings: PrivacySettings, gaussian: () => number = secureGaussian): Float32Array {
  const length = updates[0]?.length ?? 0;
  const sum = new Float64Array(length);
  for (const update of updates) {
    const clipped = clipUpdate(update, settings.clipNorm);
    for (let i = 0; i < length; i++) sum[i] = (sum[i] as number) + (clipped[i] as number);
  }
  const std = settings.noiseMultiplier * settings.clipNorm;
  return Float32Array.from(sum, (value) => (value + std * gaussian()) / settings.expectedParticipants);
}

/** ε spent at `settings.delta` after `rounds` released rounds (improved conversion, Opacus's orders). */
export function epsilonAfter(rounds: number, settings: PrivacySettings): number {
  if (rounds === 0) return 0;
  return epsilonOf(rdpOf(settings.sampleRate, settings.noiseMultiplier, rounds, DEFAULT_ORDERS), DEFAULT_ORDERS, settings.delta, "improved").epsilon;
}

/** The ε the next round would bring the total to; throws {@link PrivacyBudgetExhausted} when it is over the budget. */
export function nextRoundEpsilon(roundsDone: number, settings: PrivacySettings): number {
  const epsilon = epsilonAfter(roundsDone + 1, settings);
  if (epsilon > settings.epsilonBudget) {
    throw new PrivacyBudgetExhausted(
      `round ${roundsDone + 1} would spend ε ${epsilon.toFixed(3)} at δ ${settings.delta}, over the budget ε ${settings.epsilonBudget} (${roundsDone} rounds spent ε ${epsilonAfter(roundsDone, settings).toFixed(3)})`,
    );
  }
  return epsilon;
}
