import { describe, expect, test } from "bun:test";
import { ActionResult, type Plan } from "@x0/shared";
import { detectOnly, dryRun } from "./dry-run.ts";

const plan: Plan = {
  v: 1,
  plan_id: "11111111-1111-4111-8111-111111111111",
  incident_id: "22222222-2222-4222-8222-222222222222",
  node: "n1",
  kind: "link_down",
  rule: "r",
  approval: "auto",
  actions: [
    { type: "reroute", params: { node: "n1" }, reason: "because" },
    { type: "notify", params: {}, reason: "tell" },
  ],
  created_at: 1,
};

describe("dry-run", () => {
  test("dry-run - an auto plan reports dry_run with every step would_apply, never success", () => {
    const result = dryRun(plan, { now: 5 });
    expect(ActionResult.safeParse(result).success).toBe(true);
    expect(result.status).toBe("dry_run");
    expect(result.dry_run).toBe(true);
    expect(result.steps.map((step) => step.status)).toEqual(["would_apply", "would_apply"]);
    expect(result.plan_id).toBe(plan.plan_id);
    expect(result.incident_id).toBe(plan.incident_id);
  });

  test("dry-run - a manual plan is not run and reports awaiting_approval", () => {
    const result = dryRun({ ...plan, approval: "manual" });
    expect(result.status).toBe("awaiting_approval");
    expect(result.steps.every((step) => step.status === "skipped")).toBe(true);
  });
});

describe("detect-only", () => {
  test("detect-only - acknowledges an auto plan as skipped, every step skipped, nothing changed", () => {
    const result = detectOnly(plan, { now: 5 });
    expect(ActionResult.safeParse(result).success).toBe(true);
    expect(result.status).toBe("skipped");
    expect(result.steps.every((step) => step.status === "skipped")).toBe(true);
    expect(result.detail).toMatch(/detect-only/);
  });

  test("detect-only - a manual plan still reports awaiting_approval", () => {
    expect(detectOnly({ ...plan, approval: "manual" }).status).toBe("awaiting_approval");
  });
});
