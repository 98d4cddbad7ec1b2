import { describe, expect, test } from "bun:test";
import type { CaseSituation } from "@x0/shared";
import { CASE_DIMENSIONS, caseEmbedder, embedCase, metricFamilyOf } from "./case-features.ts";

const cos = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * (b[i] as number), 0);
const link = (a: string, b: string): CaseSituation["target"] => ({ type: "link", id: `link:${a}|${b}`, nodes: [a, b] });

describe("case features", () => {
  test("case features - unit length, fixed dimensions, the same vector for the same situation", () => {
    const situation: CaseSituation = { kind: "link_down", target: link("n3", "n6"), metric: "probe_silence_ms", score: 12, degrees: [3, 2] };
    const vector = embedCase(situation);
    expect(vector.length).toBe(CASE_DIMENSIONS);
    expect(caseEmbedder.dimensions).toBe(CASE_DIMENSIONS);
    expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
    expect([...embedCase(structuredClone(situation))]).toEqual([...vector]);
  });

  test("case features - the same element and kind is nearest, then the same kind elsewhere, then another kind", () => {
    const cut = (a: string, b: string): CaseSituation => ({ kind: "link_down", target: link(a, b), metric: "probe_silence_ms", score: 12 });
    const query = embedCase(cut("n3", "n6"));
    const sameLink = cos(query, embedCase({ ...cut("n3", "n6"), score: 9 }));
    const otherLink = cos(query, embedCase(cut("n1", "n2")));
    const lossy = cos(query, embedCase({ kind: "link_degraded", target: link("n1", "n2"), metric: "probe_loss", score: 4 }));
    expect(sameLink).toBeGreaterThan(0.95);
    expect(otherLink).toBeLessThan(sameLink);
    expect(lossy).toBeLessThan(otherLink);
  });

  test("case features - metric families", () => {
    expect(["operstate", "probe_loss", "rx_bytes_per_s", "retransmits", undefined].map(metricFamilyOf)).toEqual([
      "operstate",
      "probe",
      "rate",
      "other",
      "other",
    ]);
  });
});
