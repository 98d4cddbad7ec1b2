import { describe, expect, test } from "bun:test";
import { argmax, evaluate } from "./evaluate.ts";
import { Mlp } from "./mlp.ts";

describe("evaluate", () => {
  test("evaluate - accuracy, per-class precision, recall and F1 and their macro mean; hand-computed", () => {
    // One input, no hidden layer: logits = w·x + b, with weights that make class = round(x) for x in {0, 1, 2}.
    const model = new Mlp({ inputs: 1, hidden: [], outputs: 3 }, Float32Array.from([0, 10, 20, 0, -5, -20]));
    expect(argmax(model.predict(Float32Array.from([0])))).toBe(0);
    expect(argmax(model.predict(Float32Array.from([1])))).toBe(1);
    expect(argmax(model.predict(Float32Array.from([2])))).toBe(2);
    const x = (value: number) => Float32Array.from([value]);
    // Predictions 0, 1, 2, 2; truths 0, 1, 1, 2.
    const result = evaluate(model, [
      { x: x(0), y: 0 },
      { x: x(1), y: 1 },
      { x: x(2), y: 1 },
      { x: x(2), y: 2 },
    ]);
    expect(result.accuracy).toBe(0.75);
    expect(result.classes[0]).toEqual({ precision: 1, recall: 1, f1: 1, support: 1 });
    expect(result.classes[1]).toEqual({ precision: 1, recall: 0.5, f1: 2 / 3, support: 2 });
    expect(result.classes[2]).toEqual({ precision: 0.5, recall: 1, f1: 2 / 3, support: 1 });
    expect(result.macroF1).toBeCloseTo((1 + 2 / 3 + 2 / 3) / 3, 10);
  });
});
