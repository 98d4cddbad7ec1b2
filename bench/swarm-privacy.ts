// bench:swarm's privacy part: held-out F1 of DP-FedAvg against ε (σ found by the accountant for each target), and a
// membership check: how well one agent's presence in a round can be told from the released aggregate, as an empirical
// ε next to the accountant's.
import {
  type AggregatorName,
  epsilonAfter,
  epsilonOf,
  federate,
  l2Norm,
  localUpdate,
  Mlp,
  type MlpShape,
  type PrivacySettings,
  privateMean,
  rdpOf,
  type Sample,
  seededRandom,
} from "@x0/swarm";

/** What the privacy part needs from the bench. */
export interface PrivacyBenchOptions {
  agents: Sample[][];
  shape: MlpShape;
  local: { epochs: number; learningRate: number; batchSize: number };
  rounds: number;
  seed: number;
  score: (model: Mlp) => { macro_f1: number };
  log: (line: string) => void;
}

const DELTA = 1e-5;
const CLIP_NORM = 0.5;
const REPETITIONS = 3;

/** A seeded standard normal source (Box-Muller): the bench's noise draws repeat from run to run. */
function seededGaussian(seed: number): () => number {
  const random = seededRandom(seed);
  return () => Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
}

/** The σ that makes `rounds` rounds at sampling rate q spend `epsilon` at δ (bisection on the accountant). */
export function noiseFor(epsilon: number, q: number, rounds: number): number {
  let low = 0.3;
  let high = 200;
  const spend = (sigma: number) =>
    epsilonAfter(rounds, { noiseMultiplier: sigma, clipNorm: 1, sampleRate: q, expectedParticipants: 1, epsilonBudget: 0, delta: DELTA });
  for (let i = 0; i < 50; i++) {
    const mid = (low + high) / 2;
    if (spend(mid) > epsilon) low = mid;
    else high = mid;
  }
  return high;
}

/** F1 against ε, and the membership check. */
export function privacyBench({ agents, shape, local, rounds, seed, score, log }: PrivacyBenchOptions) {
  // C 0.5: a sweep of C 0.1 / 0.25 / 0.5 / 1 at ε 4 and 8 (3 noise draws each) did best at 0.5 (bench/README.md).
  const clipNorm = CLIP_NORM;
  const initial = Mlp.init(shape, seededRandom(seed));
  const sampleRate = 0.5;
  const expectedParticipants = sampleRate * agents.length;
  const run = (aggregator: AggregatorName, privacy: PrivacySettings | undefined, q: number | undefined, repetition: number) =>
    federate(agents, {
      shape,
      rounds,
      local: { ...local, ownClassWeights: true },
      settings: {
        aggregator,
        minParticipants: 1,
        deadlineMs: Number.MAX_SAFE_INTEGER,
        maxUpdateNorm: 5,
        trim: 0.2,
        byzantine: 1,
        ...(privacy ? { privacy, gaussian: seededGaussian(seed * 1000 + repetition) } : {}),
      },
      seed: seed + repetition,
      ...(q !== undefined ? { sampleRate: q } : {}),
    }).model;
  /** F1 over REPETITIONS runs (each its own sampling and noise draws): median and lowest. */
  const repeated = (aggregator: AggregatorName, privacy: PrivacySettings | undefined, q: number | undefined) => {
    const f1 = Array.from({ length: REPETITIONS }, (_, repetition) => score(run(aggregator, privacy, q, repetition)).macro_f1).sort((a, b) => a - b);
    return { macro_f1_median: f1[Math.floor(f1.length / 2)] as number, macro_f1_lowest: f1[0] as number, runs: f1 };
  };

  const curve: { epsilon: number | null; noise_multiplier: number | null; rule: string; macro_f1_median: number; macro_f1_lowest: number; runs: number[] }[] =
    [];
  for (const epsilon of [1, 2, 4, 8]) {
    const sigma = noiseFor(epsilon, sampleRate, rounds);
    const privacy = { noiseMultiplier: sigma, clipNorm, sampleRate, expectedParticipants, epsilonBudget: epsilon, delta: DELTA };
    curve.push({ epsilon, noise_multiplier: Math.round(sigma * 1000) / 1000, rule: "fedavg", ...repeated("fedavg", privacy, sampleRate) });
    log(`dp: ε ${epsilon} (σ ${sigma.toFixed(3)}): F1 ${JSON.stringify(curve.at(-1)?.runs)}`);
  }
  curve.push({ epsilon: null, noise_multiplier: null, rule: "fedavg", ...repeated("fedavg", undefined, sampleRate) });
  // The private trimmed mean at ε 8: every agent, W = all of them, replace-one adjacency, no sampling.
  const robustSigma = noiseFor(8, 1, rounds);
  const robust = { noiseMultiplier: robustSigma, clipNorm, sampleRate: 1, expectedParticipants: agents.length, epsilonBudget: 8, delta: DELTA };
  curve.push({ epsilon: 8, noise_multiplier: Math.round(robustSigma * 1000) / 1000, rule: "trimmed-mean", ...repeated("trimmed-mean", robust, undefined) });
  log(`dp: trimmed mean ε 8 (σ ${robustSigma.toFixed(3)}): F1 ${JSON.stringify(curve.at(-1)?.runs)}`);

  // Membership: one round's release with agent 0's update in or out; the statistic is the release's projection on that
  // update. Each release is a fresh noise draw; ε_emp = max over thresholds of log((TPR − δ) / FPR).
  const sigma = noiseFor(4, sampleRate, rounds);
  const updates = agents.map((samples, i) => localUpdate(initial, samples, { ...local }, seed + i).delta);
  const noise = seededGaussian(seed * 7919);
  const target = updates[0] as Float32Array;
  const direction = target.map((value) => value / l2Norm(target));
  const settings = { noiseMultiplier: sigma, clipNorm, sampleRate: 1, expectedParticipants, epsilonBudget: 0, delta: DELTA };
  const trials = 4000;
  const statistic = (release: Float32Array) => release.reduce((sum, value, i) => sum + value * (direction[i] as number), 0);
  const present = Array.from({ length: trials }, () => statistic(privateMean(updates, settings, noise))).sort((a, b) => a - b);
  const absent = Array.from({ length: trials }, () => statistic(privateMean(updates.slice(1), settings, noise))).sort((a, b) => a - b);
  let empirical = 0;
  for (const threshold of present) {
    const tpr = present.filter((value) => value > threshold).length / trials;
    const fpr = absent.filter((value) => value > threshold).length / trials;
    // Thresholds with fewer than 20 absent releases above them say nothing reliable.
    if (fpr * trials < 20) continue;
    empirical = Math.max(empirical, Math.log(Math.max(tpr - DELTA, 1e-12) / fpr));
  }
  const oneRound = epsilonOf(
    rdpOf(1, sigma, 1),
    [...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10), ...Array.from({ length: 52 }, (_, x) => 12 + x)],
    DELTA,
  ).epsilon;
  log(`dp membership: empirical ε ${empirical.toFixed(3)} against the accountant's ${oneRound.toFixed(3)} for one round without sampling`);
  return {
    delta: DELTA,
    clip_norm: clipNorm,
    sample_rate: sampleRate,
    expected_participants: expectedParticipants,
    rounds,
    repetitions: REPETITIONS,
    class_weights: "each agent's own",
    f1_against_epsilon: curve,
    membership: {
      trials_per_arm: trials,
      noise_multiplier: Math.round(sigma * 1000) / 1000,
      statistic: "the release's projection on the target agent's update",
      empirical_epsilon: Math.round(empirical * 1000) / 1000,
      accountant_epsilon_one_round: Math.round(oneRound * 1000) / 1000,
      mean_shift_in_noise_sds:
        Math.round(((present.reduce((a, b) => a + b, 0) - absent.reduce((a, b) => a + b, 0)) / trials / ((sigma * clipNorm) / expectedParticipants)) * 1000) /
        1000,
    },
  };
}
