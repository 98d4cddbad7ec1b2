import { describe, expect, test } from "bun:test";
import { ActionBudget, Cooldown, Severity } from "./guards.ts";

describe("guards", () => {
  test("guards - the cooldown holds a target back for its time, unless the next plan is more severe", () => {
    const cooldown = new Cooldown(5000);
    expect(cooldown.remaining("link:a|b", Severity.degraded, 0)).toBe(0);
    cooldown.record("link:a|b", Severity.degraded, 0);
    expect(cooldown.remaining("link:a|b", Severity.degraded, 1000)).toBe(4000);
    expect(cooldown.remaining("link:a|b", Severity.down, 1000)).toBe(0);
    expect(cooldown.remaining("link:c|d", Severity.degraded, 1000)).toBe(0);
    expect(cooldown.remaining("link:a|b", Severity.degraded, 5000)).toBe(0);
  });

  test("guards - the budget allows so many plans in any sliding minute", () => {
    const budget = new ActionBudget(2);
    expect(budget.tryTake(0)).toBe(true);
    expect(budget.tryTake(10_000)).toBe(true);
    expect(budget.tryTake(20_000)).toBe(false);
    expect(budget.tryTake(60_001)).toBe(true);
    expect(budget.tryTake(60_002)).toBe(false);
    budget.refund();
    expect(budget.tryTake(60_003)).toBe(true);
  });
});
