import { describe, expect, test } from "bun:test";
import { actionResult, clipDetail } from "./results.ts";
import { ActionResult } from "./schemas.ts";

const plan = { plan_id: crypto.randomUUID(), incident_id: crypto.randomUUID(), node: "n1" };

describe("action result", () => {
  test("action result - ids and node come from the plan; dry_run false, no steps, a new id and finished now by default", () => {
    const before = Date.now();
    const result = actionResult(plan, { status: "verified", started_at: 5 });
    expect(result).toMatchObject({ v: 1, plan_id: plan.plan_id, incident_id: plan.incident_id, node: "n1", status: "verified", dry_run: false, steps: [] });
    expect(result.finished_at).toBeGreaterThanOrEqual(before);
    expect(result.result_id).not.toBe(actionResult(plan, { status: "verified", started_at: 5 }).result_id);
    // Fields not given are absent, not undefined: the signed bytes carry only what was said.
    expect(Object.keys(result)).toEqual(["v", "result_id", "plan_id", "incident_id", "node", "status", "dry_run", "steps", "started_at", "finished_at"]);
    expect(ActionResult.safeParse(result).success).toBe(true);
  });

  test("action result - details are clipped to 1024 characters, an empty detail is left out, at most 64 verification entries", () => {
    const long = "x".repeat(2000);
    const check = { check: "c", ok: true, detail: "d", ts: 1 };
    const result = actionResult(plan, {
      status: "rolled_back",
      started_at: 1,
      finished_at: 2,
      steps: [{ type: "notify", params: {}, status: "rolled_back", detail: long, applied_at: 1 }],
      verification: Array.from({ length: 70 }, () => check),
      detail: long,
      result_id: "00000000-0000-4000-8000-000000000001",
    });
    expect(result.detail).toHaveLength(1024);
    expect(result.detail?.endsWith("…")).toBe(true);
    expect(result.steps[0]).toEqual({ type: "notify", params: {}, status: "rolled_back", detail: clipDetail(long), applied_at: 1 });
    expect(result.verification).toHaveLength(64);
    expect(result.result_id).toBe("00000000-0000-4000-8000-000000000001");
    expect(ActionResult.safeParse(result).success).toBe(true);
    expect("detail" in actionResult(plan, { status: "skipped", started_at: 1, detail: "" })).toBe(false);
    expect(clipDetail("short")).toBe("short");
    expect(clipDetail("abcdef", 4)).toBe("abc…");
  });

  test("action result - each participant of a coordinated plan is carried with its status and a clipped detail", () => {
    const result = actionResult(plan, {
      status: "rolled_back",
      started_at: 1,
      participants: [
        { node: "n1", status: "rolled_back", detail: "x".repeat(2000) },
        { node: "n2", status: "failed", detail: "route replace refused" },
      ],
    });
    expect(result.participants?.map((participant) => [participant.node, participant.status])).toEqual([
      ["n1", "rolled_back"],
      ["n2", "failed"],
    ]);
    expect(result.participants?.[0]?.detail).toHaveLength(1024);
    expect(ActionResult.safeParse(result).success).toBe(true);
    expect("participants" in actionResult(plan, { status: "verified", started_at: 1 })).toBe(false);
  });
});
