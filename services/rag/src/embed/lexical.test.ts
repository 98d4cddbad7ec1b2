import { describe, expect, test } from "bun:test";
import { embedText, stem, TEXT_DIMENSIONS, tokensOf } from "./lexical.ts";

const cos = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * (b[i] as number), 0);

describe("lexical embedder", () => {
  test("lexical - identifiers are split and kept whole, stopwords dropped, words lightly stemmed", () => {
    expect(tokensOf("Why does n3 keep losing link:n3|n6?")).toEqual(["n3", "los", "link:n3|n6", "link", "n3", "n6"]);
    expect(["links", "queries", "losses", "detached", "quickly", "loss"].map(stem)).toEqual(["link", "query", "loss", "detach", "quick", "loss"]);
  });

  test("lexical - texts that share words are near, texts that share none are orthogonal, empty text is zero", () => {
    const question = embedText("n3 keeps losing its link to n6");
    expect(question.length).toBe(TEXT_DIMENSIONS);
    expect(cos(question, embedText("link_down on link:n3|n6"))).toBeGreaterThan(0.3);
    expect(cos(question, embedText("quarantine the flooding neighbour"))).toBeLessThan(0.1);
    expect(Math.hypot(...embedText("the of and"))).toBe(0);
  });
});
