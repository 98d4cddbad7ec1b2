import { describe, expect, test } from "bun:test";
import { ActionResult, actionResult, type PlannedAction } from "@x0/shared";
import { planOf } from "../run/testing.ts";
import { newCoordination, stateOf, type TxnState } from "./protocol.ts";
import { coordinatedResult } from "./result.ts";
import { applyWaves, partsOf } from "./waves.ts";

const route = (node: string): PlannedAction => ({ type: "route_replace", params: { node, destination: "n9", path: "n9" }, reason: `${node} reroutes` });
const plan = planOf([route("n1"), route("n2"), route("n3")], { node: "n1" });
const T0 = 1_000_000;
const base = stateOf(newCoordination(plan, partsOf(plan), applyWaves(plan.actions), T0, 3000), new Map());

/** `base` in `phase` with each node's status and its one step's status. */
function ended(
  phase: TxnState["phase"],
  parts: Record<string, [TxnState["participants"][number]["status"], "applied" | "rolled_back" | "failed" | "would_apply"]>,
  extra: Partial<TxnState> = {},
): TxnState {
  return {
    ...base,
    ...extra,
    phase,
    participants: base.participants.map((participant) => {
      const [status, step] = parts[participant.node] ?? ["prepared", "would_apply"];
      return {
        ...participant,
        status,
        detail: `${participant.node} ${status}`,
        reports: participant.reports.map((report) => ({
          ...report,
          status: step,
          detail: `step ${step}`,
          ...(step === "would_apply" ? {} : { applied_at: T0 + 1 }),
        })),
      };
    }),
  };
}

describe("coordinated result", () => {
  test("result - a verified plan: each step's status as its node reported it, the detail naming the node, each node's part", () => {
    const record = ended(
      "verified",
      { n1: ["applied", "applied"], n2: ["applied", "applied"], n3: ["verified", "applied"] },
      { verified_at: T0 + 9, applied_at: T0 + 5 },
    );
    const fields = coordinatedResult(plan, record);
    const result = actionResult(plan, fields);
    expect(ActionResult.safeParse(result).success).toBe(true);
    expect(result).toMatchObject({ status: "verified", node: "n1", started_at: T0, applied_at: T0 + 5, verified_at: T0 + 9 });
    expect(result.steps.map((step) => step.detail)).toEqual(["n1: step applied", "n2: step applied", "n3: step applied"]);
    expect(result.participants).toEqual([
      { node: "n1", status: "applied", detail: "n1 applied" },
      { node: "n2", status: "applied", detail: "n2 applied" },
      { node: "n3", status: "verified", detail: "n3 verified" },
    ]);
  });

  test("result - a participant failing its apply: failed, naming the node and what was rolled back", () => {
    const record = ended(
      "aborted",
      { n1: ["rolled_back", "would_apply"], n2: ["rolled_back", "failed"], n3: ["rolled_back", "rolled_back"] },
      { abort: { by: "n1", cause: "apply", detail: "n2 failed in wave 0 (n2: route replace refused)", at: T0 } },
    );
    const fields = coordinatedResult(plan, record, "taken over from x (lease expired) by y");
    expect(fields.status).toBe("failed");
    expect(fields.detail).toBe("taken over from x (lease expired) by y; n2 failed in wave 0 (n2: route replace refused); rolled back: n2, n3");
    expect(fields.steps?.map((step) => step.status)).toEqual(["skipped", "failed", "rolled_back"]);
    expect(fields.steps?.[0]?.detail).toBe("n1: not run");
  });

  test("result - failed verification: rolled_back when every node undid its steps, failed when one did not confirm", () => {
    const abort = { by: "n1", cause: "verification" as const, detail: "effect not observed by the deadline (probe n1→10.255.0.9: 0/3 hellos)", at: T0 };
    const undone = ended("aborted", { n1: ["rolled_back", "rolled_back"], n2: ["rolled_back", "rolled_back"], n3: ["rolled_back", "rolled_back"] }, { abort });
    expect(coordinatedResult(plan, undone).status).toBe("rolled_back");
    const silent = ended(
      "aborted",
      { n1: ["rolled_back", "rolled_back"], n2: ["rolled_back", "rolled_back"], n3: ["applied", "applied"] },
      { abort, detail: "n3 did not confirm a rollback by the deadline" },
    );
    const fields = coordinatedResult(plan, silent);
    expect(fields.status).toBe("failed");
    expect(fields.detail).toContain("not rolled back: n3 (n3 applied)");
    expect(fields.detail).toContain("n3 did not confirm a rollback by the deadline");
    expect(fields.participants?.find((participant) => participant.node === "n3")?.status).toBe("applied");
  });

  test("result - a node that never answered is named as such", () => {
    const record = ended(
      "aborted",
      { n1: ["rolled_back", "would_apply"], n2: ["rolled_back", "would_apply"], n3: ["pending", "would_apply"] },
      {
        abort: { by: "n1", cause: "deadline", detail: "n3 not prepared by the deadline", at: T0 },
      },
    );
    const fields = coordinatedResult(plan, { ...record, participants: record.participants.map((p) => (p.node === "n3" ? { ...p, detail: "" } : p)) });
    expect(fields.status).toBe("failed");
    expect(fields.detail).toBe("n3 not prepared by the deadline; nothing to roll back");
    expect(fields.participants?.find((participant) => participant.node === "n3")).toEqual({ node: "n3", status: "pending", detail: "never answered" });
  });
});
