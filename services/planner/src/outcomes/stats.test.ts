import { describe, expect, test } from "bun:test";
import type { OutcomeStats } from "@x0/shared";
import { addOutcome, rank, scoreOf } from "./stats.ts";

const which = { kind: "link_degraded", alternative: "raise-cost" } as const;

function stats(statuses: ("verified" | "rolled_back" | "failed" | "applied")[], ttr = 100): OutcomeStats {
  let current: OutcomeStats | undefined;
  for (const status of statuses) current = addOutcome(current, which, status, ttr, 1);
  return current as OutcomeStats;
}

describe("outcome stats", () => {
  test("outcome stats - counts each status; time to repair only from successes, newest 32 kept", () => {
    const record = stats(["verified", "rolled_back", "failed", "applied"]);
    expect(record).toMatchObject({ attempts: 4, verified: 1, applied: 1, rolled_back: 1, failed: 1, ttr_ms: [100, 100] });
    let many: OutcomeStats | undefined;
    for (let i = 0; i < 40; i++) many = addOutcome(many, which, "verified", i, 1);
    expect(many?.ttr_ms).toHaveLength(32);
    expect(many?.ttr_ms[0]).toBe(8);
  });

  test("outcome stats - the score is Laplace-smoothed: untried 0.5, one failure does not bury an alternative", () => {
    expect(scoreOf(undefined)).toEqual({ score: 0.5, attempts: 0, success_rate: null, median_ttr_ms: null });
    expect(scoreOf(stats(["rolled_back"])).score).toBeCloseTo(1 / 3);
    expect(scoreOf(stats(["verified", "verified", "verified"])).score).toBeCloseTo(0.8);
    expect(scoreOf(stats(["verified", "verified"], 300)).median_ttr_ms).toBe(300);
  });

  test("outcome stats - ranking: score first, then median time to repair, then policy order", () => {
    const specs = [
      { name: "raise-cost", approval: "auto" },
      { name: "reroute-around", approval: "auto" },
    ] as const;
    expect(rank([...specs], () => undefined).map((a) => [a.name, a.chosen])).toEqual([
      ["raise-cost", true],
      ["reroute-around", false],
    ]);
    const byName: Record<string, OutcomeStats> = { "raise-cost": stats(["verified"], 900), "reroute-around": stats(["verified"], 200) };
    expect(rank([...specs], (name) => byName[name])[0]?.name).toBe("reroute-around");
    byName["raise-cost"] = stats(["verified", "verified"], 900);
    expect(rank([...specs], (name) => byName[name])[0]?.name).toBe("raise-cost");
  });
});
