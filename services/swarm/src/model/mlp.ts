// The link-health model: a small multilayer perceptron (tanh hidden layers, softmax output) over one flat Float32Array
// of parameters, so a federated update is a vector and aggregation is arithmetic on vectors. Hand-written: why in README.
import { X0Error } from "@x0/shared";

/** A model's parameters do not fit its shape, or a sample does not fit its inputs. */
export class ModelShapeError extends X0Error {}

/** Layer widths: inputs, each hidden layer, outputs (classes). */
export interface MlpShape {
  inputs: number;
  hidden: number[];
  outputs: number;
}

/** One labelled sample: features and the class index. */
export interface Sample {
  x: Float32Array;
  y: number;
}

function widthsOf(shape: MlpShape): number[] {
  return [shape.inputs, ...shape.hidden, shape.outputs];
}

/** Number of parameters of a shape: per layer, weights (out × in, row-major) then biases (out). */
export function parameterCount(shape: MlpShape): number {
  const widths = widthsOf(shape);
  let count = 0;
  for (let layer = 1; layer < widths.length; layer++) count += (widths[layer] as number) * ((widths[layer - 1] as number) + 1);
  return count;
}

/** A deterministic random source (a linear congruential generator): the same seed gives the same model. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/** An MLP of a fixed shape over a flat parameter vector. */
export class Mlp {
  readonly widths: number[];
  readonly params: Float32Array;
  // Activations of every layer for the sample being processed (f64: the loss and its gradient stay exact enough to check).
  readonly #activations: Float64Array[];
  readonly #deltas: Float64Array[];

  constructor(
    readonly shape: MlpShape,
    params?: Float32Array,
  ) {
    this.widths = widthsOf(shape);
    const count = parameterCount(shape);
    if (params && params.length !== count) throw new ModelShapeError(`${params.length} parameters for a shape that has ${count}`);
    this.params = params ?? new Float32Array(count);
    this.#activations = this.widths.map((width) => new Float64Array(width));
    this.#deltas = this.widths.map((width) => new Float64Array(width));
  }

  /** A model with Xavier-uniform weights and zero biases drawn from `random`. */
  static init(shape: MlpShape, random: () => number): Mlp {
    const model = new Mlp(shape);
    let offset = 0;
    for (let layer = 1; layer < model.widths.length; layer++) {
      const fanIn = model.widths[layer - 1] as number;
      const fanOut = model.widths[layer] as number;
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < fanIn * fanOut; i++) model.params[offset + i] = (random() * 2 - 1) * limit;
      offset += fanOut * (fanIn + 1);
    }
    return model;
  }

  /** A copy with its own parameters. */
  clone(): Mlp {
    return new Mlp(this.shape, this.params.slice());
  }

  #forward(x: Float32Array): Float64Array {
    if (x.length !== this.shape.inputs) throw new ModelShapeError(`a sample of ${x.length} features for a model of ${this.shape.inputs} inputs`);
    const input = this.#activations[0] as Float64Array;
    for (let i = 0; i < x.length; i++) input[i] = x[i] as number;
    let offset = 0;
    const last = this.widths.length - 1;
    for (let layer = 1; layer <= last; layer++) {
      const fanIn = this.widths[layer - 1] as number;
      const fanOut = this.widths[layer] as number;
      const previous = this.#activations[layer - 1] as Float64Array;
      const out = this.#activations[layer] as Float64Array;
      const biases = offset + fanOut * fanIn;
      for (let o = 0; o < fanOut; o++) {
        let sum = this.params[biases + o] as number;
        const row = offset + o * fanIn;
        for (let i = 0; i < fanIn; i++) sum += (this.params[row + i] as number) * (previous[i] as number);
        out[o] = layer === last ? sum : Math.tanh(sum);
      }
      offset += fanOut * (fanIn + 1);
    }
    // Softmax of the output layer, shifted by its maximum so exp cannot overflow.
    const logits = this.#activations[last] as Float64Array;
    let max = Number.NEGATIVE_INFINITY;
    for (const value of logits) max = Math.max(max, value);
    let total = 0;
    for (let o = 0; o < logits.length; o++) {
      logits[o] = Math.exp((logits[o] as number) - max);
      total += logits[o] as number;
    }
    for (let o = 0; o < logits.length; o++) logits[o] = (logits[o] as number) / total;
    return logits;
  }

  /** Class probabilities for one sample. */
  predict(x: Float32Array): Float32Array {
    return Float32Array.from(this.#forward(x));
  }

  /**
   * Mean cross-entropy over `batch`; when `gradient` is given, adds the gradient of that mean to it (backpropagation).
   * `classWeights` weighs each sample's term by its class (rare classes count more).
   */
  loss(batch: readonly Sample[], gradient?: Float64Array, classWeights?: readonly number[]): number {
    if (gradient && gradient.length !== this.params.length) throw new ModelShapeError(`a gradient of ${gradient.length} for ${this.params.length} parameters`);
    let total = 0;
    let weightSum = 0;
    for (const sample of batch) weightSum += classWeights?.[sample.y] ?? 1;
    if (weightSum === 0) return 0;
    const last = this.widths.length - 1;
    for (const sample of batch) {
      const weight = (classWeights?.[sample.y] ?? 1) / weightSum;
      const probabilities = this.#forward(sample.x);
      total -= weight * Math.log(Math.max(probabilities[sample.y] as number, 1e-12));
      if (!gradient) continue;
      // Softmax with cross-entropy: d loss / d logit = p - onehot(y).
      const outDelta = this.#deltas[last] as Float64Array;
      for (let o = 0; o < outDelta.length; o++) outDelta[o] = weight * ((probabilities[o] as number) - (o === sample.y ? 1 : 0));
      let offset = this.params.length;
      for (let layer = last; layer >= 1; layer--) {
        const fanIn = this.widths[layer - 1] as number;
        const fanOut = this.widths[layer] as number;
        offset -= fanOut * (fanIn + 1);
        const delta = this.#deltas[layer] as Float64Array;
        const previous = this.#activations[layer - 1] as Float64Array;
        const biases = offset + fanOut * fanIn;
        const below = this.#deltas[layer - 1] as Float64Array;
        if (layer > 1) below.fill(0);
        for (let o = 0; o < fanOut; o++) {
          const d = delta[o] as number;
          if (d === 0) continue;
          gradient[biases + o] = (gradient[biases + o] as number) + d;
          const row = offset + o * fanIn;
          for (let i = 0; i < fanIn; i++) {
            gradient[row + i] = (gradient[row + i] as number) + d * (previous[i] as number);
            if (layer > 1) below[i] = (below[i] as number) + d * (this.params[row + i] as number);
          }
        }
        // Through tanh: d/dz tanh(z) = 1 - tanh(z)^2, and the layer below holds tanh(z).
        if (layer > 1) for (let i = 0; i < fanIn; i++) below[i] = (below[i] as number) * (1 - (previous[i] as number) ** 2);
      }
    }
    return total;
  }
}

/** Local training settings. */
export interface TrainOptions {
  epochs: number;
  learningRate: number;
  batchSize: number;
  random: () => number;
  classWeights?: readonly number[];
}

/**
 * Mini-batch descent: `epochs` passes over `samples` in an order shuffled by `random` (Fisher-Yates: the same seed gives
 * the same batches), `step` taking one batch and returning its mean loss; returns the last epoch's mean loss.
 */
export function descend(samples: readonly Sample[], options: Pick<TrainOptions, "epochs" | "batchSize" | "random">, step: (batch: Sample[]) => number): number {
  const order = samples.map((_, i) => i);
  let epochLoss = 0;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(options.random() * (i + 1));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    epochLoss = 0;
    for (let from = 0; from < order.length; from += options.batchSize) {
      const batch = order.slice(from, from + options.batchSize).map((i) => samples[i] as Sample);
      epochLoss += step(batch) * batch.length;
    }
    epochLoss /= Math.max(1, order.length);
  }
  return epochLoss;
}

/** Mini-batch gradient descent on `samples` for `epochs` passes in a shuffled order; returns the last epoch's mean loss. */
export function train(model: Mlp, samples: readonly Sample[], options: TrainOptions): number {
  const gradient = new Float64Array(model.params.length);
  return descend(samples, options, (batch) => {
    gradient.fill(0);
    const loss = model.loss(batch, gradient, options.classWeights);
    for (let p = 0; p < gradient.length; p++) model.params[p] = (model.params[p] as number) - options.learningRate * (gradient[p] as number);
    return loss;
  });
}
