// How good a model is on labelled samples: accuracy, per-class precision / recall / F1 and their macro mean. The
// coordinator's adoption guard and the benchmark read the same numbers.
import type { Mlp, Sample } from "./mlp.ts";

/** Precision, recall and F1 of one class. */
export interface ClassScore {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** A model's scores on a labelled set. */
export interface Evaluation {
  samples: number;
  accuracy: number;
  /** The unweighted mean of the classes' F1: a rare class (down) counts as much as a common one. */
  macroF1: number;
  classes: ClassScore[];
}

/** The index of the largest value. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

/** Scores `model` on `samples` (classes 0 … outputs − 1). A class with no sample and no prediction scores F1 1. */
export function evaluate(model: Mlp, samples: readonly Sample[]): Evaluation {
  const classes = model.shape.outputs;
  const truePositive = new Array<number>(classes).fill(0);
  const predicted = new Array<number>(classes).fill(0);
  const actual = new Array<number>(classes).fill(0);
  let correct = 0;
  for (const sample of samples) {
    const guess = argmax(model.predict(sample.x));
    predicted[guess] = (predicted[guess] as number) + 1;
    actual[sample.y] = (actual[sample.y] as number) + 1;
    if (guess === sample.y) {
      correct++;
      truePositive[guess] = (truePositive[guess] as number) + 1;
    }
  }
  const scores = truePositive.map((tp, c) => {
    const p = predicted[c] as number;
    const a = actual[c] as number;
    if (p === 0 && a === 0) return { precision: 1, recall: 1, f1: 1, support: 0 };
    const precision = p === 0 ? 0 : tp / p;
    const recall = a === 0 ? 0 : tp / a;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { precision, recall, f1, support: a };
  });
  return {
    samples: samples.length,
    accuracy: samples.length === 0 ? 0 : correct / samples.length,
    macroF1: scores.reduce((sum, score) => sum + score.f1, 0) / classes,
    classes: scores,
  };
}
