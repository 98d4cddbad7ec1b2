// An agent's part of a round: train a copy of the round's model on its own samples and return the change. Class weights
// come from its own label counts only; the seed from the round and the node, so a rerun trains the same update.
import type { Mlp, Sample } from "../model/mlp.ts";
import { seededRandom, train } from "../model/mlp.ts";

/** Local training settings as a round announces them. */
export interface LocalTraining {
  epochs: number;
  learningRate: number;
  batchSize: number;
}

/** A 32-bit FNV-1a hash of a string (the training seed of one agent in one round). */
export function seedOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** Inverse-frequency class weights over `classes` classes, mean 1 over the classes present; absent classes weigh 1. */
export function classWeightsOf(samples: readonly Sample[], classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const sample of samples) counts[sample.y] = (counts[sample.y] as number) + 1;
  const present = counts.filter((count) => count > 0).length;
  return counts.map((count) => (count === 0 ? 1 : samples.length / (present * count)));
}

/** Trains a copy of `base` on `samples`; the change to its parameters and the last epoch's mean loss. */
export function localUpdate(base: Mlp, samples: readonly Sample[], training: LocalTraining, seed: number): { delta: Float32Array; loss: number } {
  const local = base.clone();
  const loss = train(local, samples, {
    epochs: training.epochs,
    learningRate: training.learningRate,
    batchSize: training.batchSize,
    random: seededRandom(seed),
    classWeights: classWeightsOf(samples, base.shape.outputs),
  });
  return { delta: local.params.map((value, i) => value - (base.params[i] as number)), loss };
}
