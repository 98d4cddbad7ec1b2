// Node-level differential privacy of the rounds (DP-FedAvg, McMahan et al. 2018): every update clipped to a norm, the
// clipped sum given Gaussian noise of σ·C, divided by a fixed expected number of participants; each released round is
// one step of the sampled Gaussian mechanism for the accountant (README: "Differential privacy").
import { X0Error } from "@x0/shared";
import { trimmedMeanBy } from "../aggregate/aggregators.ts";
import { l2Norm } from "../aggregate/update-check.ts";
import { DEFAULT_ORDERS, epsilonOf, PrivacyParameterError, rdpOf } from "./rdp.ts";

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

/** The aggregation rules that can be made private, and the neighbouring datasets each guarantee is about. */
export const PRIVATE_RULES = {
  // The clipped sum changes by at most C when one node is added or removed: amplified by the agents' sampling.
  fedavg: "add-remove",
  // A coordinate-wise trimmed sum is 1-Lipschitz in each input, so replacing one node's update moves it by at most 2C
  // in L2; the denominator W − 2k is fixed (absent agents count as zero updates), so no sampling: q = 1.
  "trimmed-mean": "replace-one",
  median: "replace-one",
} as const;
/** A rule with a private version. */
export type PrivateRule = keyof typeof PRIVATE_RULES;

/** The values trimmed at each end of each coordinate: none (fedavg), ⌊β·W⌋ (trimmed mean), all but the middle (median). */
export function trimOf(rule: PrivateRule, slots: number, beta: number): number {
  if (rule === "fedavg") return 0;
  return rule === "median" ? Math.floor((slots - 1) / 2) : Math.floor(beta * slots);
}

/** The L2 sensitivity of a rule's aggregate to one node (C / W added or removed; 2C / (W − 2k) replaced). */
export function sensitivityOf(rule: PrivateRule, settings: PrivacySettings, beta: number): number {
  const slots = settings.expectedParticipants;
  if (rule === "fedavg") return settings.clipNorm / slots;
  return (2 * settings.clipNorm) / (slots - 2 * trimOf(rule, slots, beta));
}

/**
 * The private aggregate of a round: fedavg's noisy clipped mean, or the coordinate-wise trimmed mean (or median) of the
 * clipped updates over exactly W slots (missing ones are zero updates) with noise of σ times its sensitivity.
 */
export function privateAggregate(
  updates: readonly Float32Array[],
  settings: PrivacySettings,
  rule: PrivateRule,
  beta: number,
  gaussian: () => number = secureGaussian,
): Float32Array {
  if (rule === "fedavg") return privateMean(updates, settings, gaussian);
  const slots = settings.expectedParticipants;
  if (updates.length > slots) throw new PrivacyParameterError(`${updates.length} updates for ${slots} slots`);
  const length = updates[0]?.length ?? 0;
  const padded = [
    ...updates.map((update) => clipUpdate(update, settings.clipNorm)),
    ...Array.from({ length: slots - updates.length }, () => new Float32Array(length)),
  ];
  const robust = trimmedMeanBy(padded, trimOf(rule, slots, beta)).vector;
  const std = settings.noiseMultiplier * sensitivityOf(rule, settings, beta);
  return robust.map((value) => value + std * gaussian());
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
