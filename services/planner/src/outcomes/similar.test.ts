import { describe, expect, test } from "bun:test";
import { degradedStats } from "../testing.ts";
import { type SimilarCase, similarSignal } from "./similar.ts";
import { rank, withSimilar } from "./stats.ts";

const id = () => crypto.randomUUID();
const past = (alternative: string, outcome: SimilarCase["outcome"], score: number, kind: SimilarCase["kind"] = "link_degraded"): SimilarCase => ({
  incidentId: id(),
  kind,
  score,
  alternative,
  outcome,
});

describe("similar cases", () => {
  test("similar - only cases of the same kind, of this alternative, ended, and similar enough count; most similar first", () => {
    const strong = past("raise-cost", "rolled_back", 0.97);
    const cases = [
      past("raise-cost", "verified", 0.85),
      strong,
      past("raise-cost", "none", 0.99),
      past("raise-cost", "verified", 0.5),
      past("raise-cost", "verified", 0.99, "link_down"),
      past("reroute-around", "verified", 0.99),
    ];
    const signal = similarSignal(cases, "link_degraded", "raise-cost");
    expect(signal?.weight).toBe(1.82);
    expect(signal?.success_rate).toBe(0.467);
    expect(signal?.incident_ids[0]).toBe(strong.incidentId);
    expect(similarSignal(cases, "link_degraded", "batman-deactivate")).toBeUndefined();
  });

  test("similar - two very similar failures outweigh a clean record elsewhere; one weak match barely moves it", () => {
    expect(withSimilar(0.9, undefined)).toBe(0.9);
    const twoFailures = withSimilar(11 / 12, { weight: 1.9, success_rate: 0, incident_ids: [] });
    expect(twoFailures).toBeLessThan(0.5);
    const oneWeak = withSimilar(11 / 12, { weight: 0.8, success_rate: 0, incident_ids: [] });
    expect(oneWeak).toBeGreaterThan(0.5);
    const similar = [past("raise-cost", "rolled_back", 0.95), past("raise-cost", "rolled_back", 0.96)];
    const specs = [
      { name: "raise-cost", approval: "auto" },
      { name: "reroute-around", approval: "auto" },
    ] as Parameters<typeof rank>[0];
    const record = (name: string) => (name === "raise-cost" ? degradedStats("raise-cost", 10, 0) : undefined);
    expect(rank(specs, record).map((alternative) => alternative.name)).toEqual(["raise-cost", "reroute-around"]);
    const ranked = rank(specs, record, (name) => similarSignal(similar, "link_degraded", name));
    expect(ranked.map((alternative) => alternative.name)).toEqual(["reroute-around", "raise-cost"]);
    expect(ranked[1]?.similar?.incident_ids).toHaveLength(2);
    expect(ranked[1]?.success_rate).toBe(1);
  });
});
