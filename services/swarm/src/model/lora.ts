// Low-rank site adapters (LoRA, Hu et al. 2021) on the frozen link-health model: each weight matrix W becomes
// W + (alpha / r)·B·A. A is frozen (drawn from a seed every site member shares) and only B is trained and exchanged, as in
// FFA-LoRA (Sun et al. 2024): the layer change is linear in B, so averaging the members' B is averaging their changes.
import { X0Error } from "@x0/shared";
import { descend, Mlp, type Sample, seededRandom } from "./mlp.ts";

/** An adapter that does not fit its base model, or settings it cannot have. */
export class AdapterError extends X0Error {}

/** What defines an adapter besides its trained B: rank, scale, and the seed of the frozen A. */
export interface AdapterSpec {
  rank: number;
  /** alpha: the layer change is (alpha / rank)·B·A. */
  alpha: number;
  seed: number;
}

/** Layer sizes (out × in) of the base's weight matrices, in order. */
function layersOf(base: Mlp): { fanIn: number; fanOut: number; offset: number }[] {
  const layers = [];
  let offset = 0;
  for (let layer = 1; layer < base.widths.length; layer++) {
    const fanIn = base.widths[layer - 1] as number;
    const fanOut = base.widths[layer] as number;
    layers.push({ fanIn, fanOut, offset });
    offset += fanOut * (fanIn + 1);
  }
  return layers;
}

/** Number of trainable (B) parameters of an adapter of rank r on `base`: Σ out·r. */
export function adapterParameterCount(base: Mlp, rank: number): number {
  return layersOf(base).reduce((count, layer) => count + layer.fanOut * rank, 0);
}

/** A rank-r adapter on one base model: the frozen A matrices and the trained B (flat, one r-column block per layer). */
export class Adapter {
  readonly scale: number;
  /** A per layer, r × in, row-major; frozen. */
  readonly frozen: Float32Array[];
  /** B of every layer, out × r each, row-major, concatenated: what a round exchanges. */
  readonly b: Float32Array;

  constructor(
    readonly base: Mlp,
    readonly spec: AdapterSpec,
    b?: Float32Array,
  ) {
    if (!(Number.isInteger(spec.rank) && spec.rank >= 1)) throw new AdapterError(`rank ${spec.rank} is not a positive integer`);
    if (!(spec.alpha > 0)) throw new AdapterError(`alpha ${spec.alpha} must be positive`);
    this.scale = spec.alpha / spec.rank;
    const count = adapterParameterCount(base, spec.rank);
    if (b && b.length !== count) throw new AdapterError(`${b.length} adapter parameters for rank ${spec.rank} on this model (${count})`);
    // B starts at zero: a new adapter leaves the base unchanged (as in LoRA). A is Gaussian-like with variance 1/in.
    this.b = b ?? new Float32Array(count);
    const random = seededRandom(spec.seed);
    this.frozen = layersOf(base).map(({ fanIn }) =>
      Float32Array.from({ length: spec.rank * fanIn }, () => ((random() + random() + random() - 1.5) * 2) / Math.sqrt(fanIn)),
    );
  }

  /** This adapter with other B values (a copy). */
  withB(b: Float32Array): Adapter {
    return new Adapter(this.base, this.spec, b);
  }

  /** The change (alpha / r)·B·A of layer `index`, out × in, row-major. */
  layerDelta(index: number): Float64Array {
    const layer = layersOf(this.base)[index];
    if (!layer) throw new AdapterError(`the base has no layer ${index}`);
    const { fanIn, fanOut } = layer;
    const rank = this.spec.rank;
    const a = this.frozen[index] as Float32Array;
    const bOffset = this.#bOffset(index);
    const delta = new Float64Array(fanOut * fanIn);
    for (let o = 0; o < fanOut; o++) {
      for (let k = 0; k < rank; k++) {
        const bValue = (this.b[bOffset + o * rank + k] as number) * this.scale;
        if (bValue === 0) continue;
        for (let i = 0; i < fanIn; i++) delta[o * fanIn + i] = (delta[o * fanIn + i] as number) + bValue * (a[k * fanIn + i] as number);
      }
    }
    return delta;
  }

  /** The model the analyzer runs: the base with every weight matrix changed by its layer delta (biases as they are). */
  apply(): Mlp {
    const params = this.base.params.slice();
    layersOf(this.base).forEach(({ fanIn, fanOut, offset }, index) => {
      const delta = this.layerDelta(index);
      for (let p = 0; p < fanOut * fanIn; p++) params[offset + p] = (params[offset + p] as number) + (delta[p] as number);
    });
    return new Mlp(this.base.shape, params);
  }

  /**
   * Trains B on `samples` (the base and A stay frozen); returns the last epoch's mean loss. The gradient of B is the
   * effective model's weight gradient G projected through A: ∂L/∂B = (alpha / r)·G·Aᵀ.
   */
  train(
    samples: readonly Sample[],
    options: { epochs: number; learningRate: number; batchSize: number; random: () => number; classWeights?: readonly number[] },
  ): number {
    return descend(samples, options, (batch) => {
      const { loss, gradient } = this.gradientOfB(batch, options.classWeights);
      for (let p = 0; p < this.b.length; p++) this.b[p] = (this.b[p] as number) - options.learningRate * (gradient[p] as number);
      return loss;
    });
  }

  /** The mean loss over `batch` of the adapted model and its gradient with respect to B. */
  gradientOfB(batch: readonly Sample[], classWeights?: readonly number[]): { loss: number; gradient: Float64Array } {
    const effective = this.apply();
    const weights = new Float64Array(effective.params.length);
    const loss = effective.loss(batch, weights, classWeights);
    const gradient = new Float64Array(this.b.length);
    const rank = this.spec.rank;
    layersOf(this.base).forEach(({ fanIn, fanOut, offset }, index) => {
      const a = this.frozen[index] as Float32Array;
      const bOffset = this.#bOffset(index);
      for (let o = 0; o < fanOut; o++) {
        for (let k = 0; k < rank; k++) {
          let sum = 0;
          for (let i = 0; i < fanIn; i++) sum += (weights[offset + o * fanIn + i] as number) * (a[k * fanIn + i] as number);
          gradient[bOffset + o * rank + k] = this.scale * sum;
        }
      }
    });
    return { loss, gradient };
  }

  #bOffset(index: number): number {
    let offset = 0;
    const layers = layersOf(this.base);
    for (let l = 0; l < index; l++) offset += (layers[l]?.fanOut ?? 0) * this.spec.rank;
    return offset;
  }
}

/** The mean of several members' B (FFA-LoRA): with A shared and frozen, the adapter of the mean B is the mean change. */
export function averageAdapters(base: Mlp, spec: AdapterSpec, members: readonly Float32Array[]): Adapter {
  if (members.length === 0) throw new AdapterError("no adapter to average");
  const count = adapterParameterCount(base, spec.rank);
  const mean = new Float32Array(count);
  for (const b of members) {
    if (b.length !== count) throw new AdapterError(`${b.length} adapter parameters for rank ${spec.rank} on this model (${count})`);
    for (let i = 0; i < count; i++) mean[i] = (mean[i] as number) + (b[i] as number) / members.length;
  }
  return new Adapter(base, spec, mean);
}
