import { describe, expect, test } from "bun:test";
import { classWeightsOf } from "../agent/local-update.ts";
import { SHIPPED_TRAINING, SHIPPED_VALIDATION } from "../config.ts";
import { LINK_FEATURES } from "../features/link-features.ts";
import { TrainingSet } from "../features/training-set.ts";
import { evaluate } from "./evaluate.ts";
import { Adapter, AdapterError, adapterParameterCount, averageAdapters } from "./lora.ts";
import { Mlp, type Sample, seededRandom, train } from "./mlp.ts";

const shape = { inputs: 6, hidden: [5], outputs: 3 };
const base = Mlp.init(shape, seededRandom(3));
const spec = { rank: 2, alpha: 4, seed: 9 };
const randomB = (seed: number) => {
  const random = seededRandom(seed);
  return Float32Array.from({ length: adapterParameterCount(base, spec.rank) }, () => random() * 2 - 1);
};

describe("LoRA adapters", () => {
  test("lora - a rank-r adapter changes each weight matrix by exactly (alpha / r)·B·A and leaves the biases; a new one changes nothing", () => {
    expect(adapterParameterCount(base, 2)).toBe(5 * 2 + 3 * 2);
    expect([...new Adapter(base, spec).apply().params]).toEqual([...base.params]);
    const adapter = new Adapter(base, spec, randomB(1));
    const adapted = adapter.apply();
    const widths = [6, 5, 3];
    let offset = 0;
    let bOffset = 0;
    for (let layer = 0; layer < 2; layer++) {
      const fanIn = widths[layer] as number;
      const fanOut = widths[layer + 1] as number;
      const a = adapter.frozen[layer] as Float32Array;
      for (let o = 0; o < fanOut; o++) {
        for (let i = 0; i < fanIn; i++) {
          let product = 0;
          for (let k = 0; k < spec.rank; k++) product += (adapter.b[bOffset + o * spec.rank + k] as number) * (a[k * fanIn + i] as number);
          const p = offset + o * fanIn + i;
          expect((adapted.params[p] as number) - (base.params[p] as number)).toBeCloseTo((spec.alpha / spec.rank) * product, 5);
        }
        expect(adapted.params[offset + fanOut * fanIn + o]).toBe(base.params[offset + fanOut * fanIn + o] as number);
      }
      offset += fanOut * (fanIn + 1);
      bOffset += fanOut * spec.rank;
    }
    expect(() => new Adapter(base, spec, new Float32Array(3))).toThrow(AdapterError);
  });

  test("lora - with A shared and frozen, the adapter of the averaged B is the average of the members' changes; averaging A and B apart is not", () => {
    const members = [randomB(1), randomB(2), randomB(3)];
    const averaged = averageAdapters(base, spec, members).layerDelta(0);
    const changes = members.map((b) => new Adapter(base, spec, b).layerDelta(0));
    averaged.forEach((value, i) => {
      expect(value).toBeCloseTo(changes.reduce((sum, change) => sum + (change[i] as number), 0) / changes.length, 6);
    });
    // Members with their own A (other seeds): the product of the means differs from the mean of the products.
    const own = members.map((b, m) => new Adapter(base, { ...spec, seed: 100 + m }, b));
    const meanOfProducts = own
      .map((adapter) => adapter.layerDelta(0))
      .reduce((sum, delta) => sum.map((value, i) => value + (delta[i] as number) / own.length), new Float64Array(5 * 6));
    const firstA = (own[0] as Adapter).frozen[0] as Float32Array;
    const meanA = firstA.map((_, i) => own.reduce((sum, adapter) => sum + ((adapter.frozen[0] as Float32Array)[i] as number), 0) / own.length);
    const meanB = averageAdapters(base, spec, members).b;
    const productOfMeans = new Float64Array(5 * 6);
    for (let o = 0; o < 5; o++)
      for (let i = 0; i < 6; i++)
        for (let k = 0; k < 2; k++)
          productOfMeans[o * 6 + i] = (productOfMeans[o * 6 + i] as number) + 2 * (meanB[o * 2 + k] as number) * (meanA[k * 6 + i] as number);
    const gap = Math.max(...meanOfProducts.map((value, i) => Math.abs(value - (productOfMeans[i] as number))));
    expect(gap).toBeGreaterThan(0.05);
  });

  test("lora - the gradient of B matches central finite differences", () => {
    const random = seededRandom(5);
    const batch: Sample[] = Array.from({ length: 8 }, (_, i) => ({ x: Float32Array.from({ length: 6 }, () => random() * 2 - 1), y: i % 3 }));
    const adapter = new Adapter(
      base,
      spec,
      randomB(4).map((value) => value * 0.3),
    );
    const { gradient } = adapter.gradientOfB(batch);
    for (let p = 0; p < adapter.b.length; p++) {
      const h = 1e-2;
      const plus = adapter.b.slice();
      plus[p] = (plus[p] as number) + h;
      const minus = adapter.b.slice();
      minus[p] = (minus[p] as number) - h;
      const numeric = (adapter.withB(plus).apply().loss(batch) - adapter.withB(minus).apply().loss(batch)) / ((plus[p] as number) - (minus[p] as number));
      expect(Math.abs(numeric - (gradient[p] as number))).toBeLessThan(1e-3 + 1e-2 * Math.abs(numeric));
    }
  });

  test("lora - a site whose healthy links lose a fifth of their hellos: the base model calls them degraded, an adapter trained on the site's own samples fixes most of it", () => {
    const window = { window: 5, baselineAlpha: 0.05 };
    const general = TrainingSet.read([SHIPPED_TRAINING]).samples(window);
    const model = Mlp.init({ inputs: LINK_FEATURES.length, hidden: [16], outputs: 3 }, seededRandom(1));
    train(model, general, { epochs: 30, learningRate: 0.05, batchSize: 32, random: seededRandom(2), classWeights: classWeightsOf(general, 3) });
    // The site: every link carries a baseline loss of 0.2 that is normal there (loss features shifted, labels kept).
    const lossFeatures = ["loss", "loss_max", "recent_loss"].map((name) => LINK_FEATURES.indexOf(name as (typeof LINK_FEATURES)[number]));
    const shifted = TrainingSet.read([SHIPPED_VALIDATION])
      .samples(window)
      .map((sample) => ({ y: sample.y, x: sample.x.map((value, i) => (lossFeatures.includes(i) ? Math.min(1, value + 0.2) : value)) }));
    const siteTrain = shifted.filter((_, i) => i % 2 === 0);
    const siteTest = shifted.filter((_, i) => i % 2 === 1);
    const falseAlarms = (m: Mlp) => siteTest.filter((s) => s.y === 0 && evaluate(m, [s]).accuracy === 0).length;
    const before = { f1: evaluate(model, siteTest).macroF1, falseAlarms: falseAlarms(model) };
    const adapter = new Adapter(model, { rank: 2, alpha: 2, seed: 7 });
    adapter.train(siteTrain, { epochs: 20, learningRate: 0.05, batchSize: 32, random: seededRandom(8), classWeights: classWeightsOf(siteTrain, 3) });
    const adapted = adapter.apply();
    const after = { f1: evaluate(adapted, siteTest).macroF1, falseAlarms: falseAlarms(adapted) };
    // Measured: 610 of 1,761 healthy samples called faulty and macro F1 0.70 before; 5 and 0.99 after.
    expect(before.falseAlarms).toBeGreaterThan(300);
    expect(after.falseAlarms).toBeLessThan(before.falseAlarms / 10);
    expect(after.f1).toBeGreaterThan(before.f1 + 0.2);
    // Only B travels: 16·2 + 3·2 values against the model's 227.
    expect(adapter.b.length).toBe(38);
    expect(model.params.length).toBe(227);
  });
});
