import { describe, expect, test } from "bun:test";
import { Mlp, ModelShapeError, parameterCount, type Sample, seededRandom, train } from "./mlp.ts";

const shape = { inputs: 4, hidden: [6, 5], outputs: 3 };

function randomBatch(random: () => number, size: number): Sample[] {
  return Array.from({ length: size }, () => ({ x: Float32Array.from({ length: 4 }, () => random() * 2 - 1), y: Math.floor(random() * 3) }));
}

describe("mlp", () => {
  test("mlp - the parameter count is the weights and biases of every layer", () => {
    expect(parameterCount(shape)).toBe(6 * 5 + 5 * 7 + 3 * 6);
    expect(() => new Mlp(shape, new Float32Array(10))).toThrow(ModelShapeError);
    expect(() => Mlp.init(shape, seededRandom(1)).predict(new Float32Array(3))).toThrow("a sample of 3 features for a model of 4 inputs");
  });

  test("mlp - the backpropagated gradient matches central finite differences for every parameter", () => {
    const random = seededRandom(7);
    const model = Mlp.init(shape, random);
    // Biases away from zero, so every parameter's gradient is exercised.
    for (let p = 0; p < model.params.length; p++) model.params[p] = (model.params[p] as number) + (random() - 0.5) * 0.2;
    const batch = randomBatch(random, 8);
    const weights = [1, 2, 0.5];
    const analytic = new Float64Array(model.params.length);
    model.loss(batch, analytic, weights);
    const epsilon = 1e-3;
    let worst = 0;
    for (let p = 0; p < model.params.length; p++) {
      const kept = model.params[p] as number;
      model.params[p] = kept + epsilon;
      const up = model.loss(batch, undefined, weights);
      model.params[p] = kept - epsilon;
      const down = model.loss(batch, undefined, weights);
      model.params[p] = kept;
      // The step is what float32 made of kept ± epsilon, not epsilon itself.
      const step = Math.fround(kept + epsilon) - Math.fround(kept - epsilon);
      const numeric = (up - down) / step;
      worst = Math.max(worst, Math.abs(numeric - (analytic[p] as number)) / Math.max(1e-3, Math.abs(numeric) + Math.abs(analytic[p] as number)));
    }
    expect(worst).toBeLessThan(1e-3);
  });

  test("mlp - probabilities sum to one and training separates three classes; the same seed trains the same model", () => {
    const data = (random: () => number) =>
      Array.from({ length: 300 }, (_, i) => {
        const y = i % 3;
        // Class c sits around (c - 1) on the first feature, the rest is noise.
        const x = Float32Array.from([y - 1 + (random() - 0.5) * 0.4, random() - 0.5, random() - 0.5, random() - 0.5]);
        return { x, y };
      });
    const samples = data(seededRandom(3));
    const run = () => {
      const model = Mlp.init(shape, seededRandom(11));
      const before = model.loss(samples);
      const after = train(model, samples, { epochs: 30, learningRate: 0.5, batchSize: 16, random: seededRandom(5) });
      return { model, before, after };
    };
    const { model, before, after } = run();
    expect(after).toBeLessThan(before / 4);
    const heldOut = data(seededRandom(99));
    const correct = heldOut.filter((sample) => {
      const p = model.predict(sample.x);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      return p.indexOf(Math.max(...p)) === sample.y;
    }).length;
    expect(correct / heldOut.length).toBeGreaterThan(0.95);
    expect(run().model.params).toEqual(model.params);
  });
});
