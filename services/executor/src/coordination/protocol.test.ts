import { describe, expect, test } from "bun:test";
import { Coordination as CoordinationSchema, type PlannedAction, type TxnParticipant, TxnParticipant as TxnParticipantSchema } from "@x0/shared";
import { planOf } from "../run/testing.ts";
import {
  coordinatorStep,
  entryOf,
  moveTo,
  newCoordination,
  type PartState,
  participantRecord,
  participantStep,
  sameEntry,
  stateOf,
  type TxnState,
} from "./protocol.ts";
import { applyWaves, partsOf } from "./waves.ts";

const route = (node: string, destination: string, path: string): PlannedAction => ({
  type: "route_replace",
  params: { node, destination, path, prefix: "10.255.0.9", via: "10.200.0.1", dev: "e0" },
  reason: "test",
});
// n1 coordinates; n3's route goes first, then n2's, then n1's (all towards n9).
const plan = planOf([route("n1", "n9", "n2,n3,n9"), route("n2", "n9", "n3,n9"), route("n3", "n9", "n9")], { node: "n1" });
const T0 = 1_000_000;
const timing = { verifyMs: 2000, graceMs: 500 };
const created = () => newCoordination(plan, partsOf(plan), applyWaves(plan.actions), T0, 3000);
/** A new plan's state: its record, no participant's record yet. */
const fresh = (): TxnState => stateOf(created(), new Map());

/** The record with `node`'s status (and its reports' statuses, with applied_at when applied) set. */
function withStatus(
  record: TxnState,
  node: string,
  status: TxnParticipant["status"],
  step: "applied" | "failed" | "rolled_back" | undefined = undefined,
): TxnState {
  return {
    ...record,
    participants: record.participants.map((participant) =>
      participant.node !== node
        ? participant
        : {
            ...participant,
            status,
            detail: status,
            reports: participant.reports.map((report) => (step ? { ...report, status: step, ...(step !== "failed" ? { applied_at: T0 + 10 } : {}) } : report)),
          },
    ),
  };
}
const all = (record: TxnState, status: TxnParticipant["status"], step?: "applied" | "failed" | "rolled_back") =>
  record.participants.reduce((acc, participant) => withStatus(acc, participant.node, status, step), record);
const part = (extra: Partial<PartState> = {}): PartState => ({
  prepared: true,
  journal: false,
  done: [],
  verified: false,
  rolledBack: false,
  reports: [],
  ...extra,
});

describe("coordination protocol", () => {
  test("protocol - a new record has every participant pending, the waves and the deadline, and is a valid txn record", () => {
    expect(CoordinationSchema.parse(created())).toEqual(created());
    expect(created().participants).toEqual([
      { node: "n1", steps: [0] },
      { node: "n2", steps: [1] },
      { node: "n3", steps: [2] },
    ]);
    // Until a participant writes its own record, it is pending.
    const record = fresh();
    expect(record).toMatchObject({ phase: "preparing", coordinator: "n1", wave: 0, waves: [[2], [1], [0]], deadline: T0 + 3000 });
    expect(record.participants.map((participant) => [participant.node, participant.steps, participant.status])).toEqual([
      ["n1", [0], "pending"],
      ["n2", [1], "pending"],
      ["n3", [2], "pending"],
    ]);
  });

  test("protocol - phases move only forward: preparing → applying (wave by wave) → verifying → verified | aborting → aborted", () => {
    const record = fresh();
    expect(moveTo(record, "applying", T0, { wave: 0 })?.phase).toBe("applying");
    expect(moveTo(record, "verified", T0)).toBeUndefined();
    expect(moveTo(record, "aborted", T0)).toBeUndefined();
    const applying = moveTo(record, "applying", T0, { wave: 1 }) as TxnState;
    expect(moveTo(applying, "applying", T0, { wave: 1 })).toBeUndefined();
    expect(moveTo(applying, "applying", T0, { wave: 2 })?.wave).toBe(2);
    const verifying = moveTo(applying, "verifying", T0) as TxnState;
    const aborting = moveTo(verifying, "aborting", T0) as TxnState;
    // Once a participant moved it to aborting, a late coordinator cannot declare it verified.
    expect(moveTo(aborting, "verified", T0)).toBeUndefined();
    expect(moveTo(aborting, "aborted", T0)?.phase).toBe("aborted");
    for (const final of ["verified", "applied"] as const) expect(moveTo(moveTo(verifying, final, T0) as TxnState, "aborting", T0)).toBeUndefined();
  });

  test("protocol - the coordinator starts applying when all are prepared, advances a wave when its steps are applied, then verifies", () => {
    let record = fresh();
    expect(coordinatorStep(record, T0, timing)).toEqual({ kind: "wait", until: T0 + 3000 });
    record = withStatus(withStatus(record, "n1", "prepared"), "n2", "prepared");
    expect(coordinatorStep(record, T0, timing).kind).toBe("wait");
    record = withStatus(record, "n3", "prepared");
    expect(coordinatorStep(record, T0, timing)).toEqual({ kind: "move", to: "applying", fields: { wave: 0 } });
    record = moveTo(record, "applying", T0, { wave: 0 }) as TxnState;
    // Wave 0 is n3's route: n1's and n2's are not what it waits for.
    expect(coordinatorStep(withStatus(record, "n1", "applied", "applied"), T0, timing).kind).toBe("wait");
    record = withStatus(record, "n3", "applied", "applied");
    expect(coordinatorStep(record, T0, timing)).toEqual({ kind: "move", to: "applying", fields: { wave: 1 } });
    record = moveTo(withStatus(withStatus(record, "n2", "applied", "applied"), "n1", "applied", "applied"), "applying", T0, { wave: 2 }) as TxnState;
    expect(coordinatorStep(record, T0 + 5, timing)).toEqual({ kind: "move", to: "verifying", fields: { applied_at: T0 + 5, deadline: T0 + 5 + 2000 } });
    expect(coordinatorStep(moveTo(record, "verifying", T0) as TxnState, T0, timing)).toEqual({ kind: "verify" });
  });

  test("protocol - a participant that fails to prepare or apply, or is late past the deadline, aborts the plan, naming it", () => {
    const failed = withStatus(all(fresh(), "prepared"), "n2", "failed");
    const step = coordinatorStep(failed, T0, timing);
    expect(step).toMatchObject({
      kind: "move",
      to: "aborting",
      fields: { abort: { by: "n1", cause: "prepare", detail: "n2 could not prepare (n2: failed)" } },
    });
    const late = withStatus(withStatus(fresh(), "n1", "prepared"), "n2", "prepared");
    expect(coordinatorStep(late, T0 + 3000, timing)).toMatchObject({
      kind: "move",
      to: "aborting",
      fields: { abort: { cause: "deadline", detail: "n3 not prepared by the deadline" }, deadline: T0 + 3000 + 500 },
    });
    const applying = moveTo(all(fresh(), "prepared"), "applying", T0, { wave: 0 }) as TxnState;
    expect(coordinatorStep(withStatus(applying, "n3", "failed", "failed"), T0, timing)).toMatchObject({
      fields: { abort: { cause: "apply", detail: "n3 failed in wave 0 (n3: failed)" } },
    });
    expect(coordinatorStep(applying, T0 + 3000, timing)).toMatchObject({
      fields: { abort: { cause: "deadline", detail: "wave 0: n3 did not apply step(s) 2 by the deadline" } },
    });
  });

  test("protocol - an aborting plan ends once every participant that may have changed something confirmed its rollback, or at its deadline", () => {
    const aborting = moveTo(all(fresh(), "applied", "applied"), "aborting", T0, { deadline: T0 + 500 }) as TxnState;
    expect(coordinatorStep(aborting, T0, timing)).toEqual({ kind: "wait", until: T0 + 500 });
    const two = withStatus(withStatus(aborting, "n1", "rolled_back", "rolled_back"), "n2", "rollback_failed");
    expect(coordinatorStep(two, T0, timing).kind).toBe("wait");
    expect(coordinatorStep(withStatus(two, "n3", "rolled_back", "rolled_back"), T0, timing)).toEqual({ kind: "move", to: "aborted", fields: {} });
    // A participant that failed before changing anything, or never answered, has nothing to confirm.
    const before = moveTo(all(fresh(), "prepared"), "aborting", T0, { deadline: T0 + 500 }) as TxnState;
    const quiet = withStatus(withStatus(withStatus(before, "n1", "rolled_back"), "n2", "failed", "failed"), "n3", "pending");
    expect(coordinatorStep(quiet, T0, timing)).toEqual({ kind: "move", to: "aborted", fields: {} });
    expect(coordinatorStep(two, T0 + 500, timing)).toEqual({
      kind: "move",
      to: "aborted",
      fields: { detail: "n3 did not confirm a rollback by the deadline" },
    });
    expect(coordinatorStep(moveTo(two, "aborted", T0) as TxnState, T0, timing)).toEqual({ kind: "done" });
  });

  test("protocol - a participant prepares, applies only its steps of the current wave, and observes them when the plan asks", () => {
    const options = { graceMs: 500, verifySteps: true };
    let record = fresh();
    expect(participantStep(record, "n2", part({ prepared: false }), T0, options)).toEqual({ kind: "prepare" });
    expect(participantStep(record, "n2", part(), T0, options)).toEqual({ kind: "wait", until: T0 + 3500 });
    record = moveTo(all(record, "prepared"), "applying", T0, { wave: 0 }) as TxnState;
    expect(participantStep(record, "n2", part(), T0, options).kind).toBe("wait");
    expect(participantStep(record, "n3", part(), T0, options)).toEqual({ kind: "apply", indices: [2] });
    expect(participantStep(record, "n3", part({ done: [2] }), T0, options).kind).toBe("wait");
    record = moveTo(record, "applying", T0, { wave: 1 }) as TxnState;
    expect(participantStep(record, "n2", part(), T0, options)).toEqual({ kind: "apply", indices: [1] });
    record = moveTo(record, "verifying", T0, { deadline: T0 + 2000 }) as TxnState;
    expect(participantStep(record, "n2", part({ done: [1] }), T0, options)).toEqual({ kind: "verify" });
    expect(participantStep(record, "n2", part({ done: [1] }), T0, { ...options, verifySteps: false }).kind).toBe("wait");
    expect(participantStep(record, "n2", part({ done: [1], verified: true }), T0, options).kind).toBe("wait");
    expect(participantStep(moveTo(record, "verified", T0) as TxnState, "n2", part(), T0, options)).toEqual({ kind: "finish" });
    expect(participantStep(record, "n7", part(), T0, options)).toEqual({ kind: "finish" });
  });

  test("protocol - after a crash, each recorded phase decides: read the journal back, finish, keep applying, or roll back", () => {
    const options = { graceMs: 500, verifySteps: false };
    const applying = moveTo(all(fresh(), "prepared"), "applying", T0, { wave: 1 }) as TxnState;
    // A restarted participant reads its journal back first, whatever the phase (except a verified or applied plan).
    for (const phase of ["preparing", "applying", "verifying", "aborting", "aborted"] as const)
      expect(participantStep({ ...applying, phase }, "n2", part({ prepared: false, journal: true }), T0, options)).toEqual({ kind: "prepare" });
    // Without a journal it changed nothing: an aborted plan it already reported on is left as it says.
    const rolledBack = withStatus({ ...applying, phase: "aborted" }, "n2", "rolled_back");
    expect(participantStep(rolledBack, "n2", part({ prepared: false }), T0, options)).toEqual({ kind: "finish" });
    expect(participantStep({ ...applying, phase: "aborted" }, "n2", part({ prepared: false }), T0, options)).toEqual({ kind: "prepare" });
    for (const phase of ["verified", "applied"] as const)
      expect(participantStep({ ...applying, phase }, "n2", part({ prepared: false }), T0, options)).toEqual({ kind: "finish" });
    // Still applying: the steps its journal shows applied are done, never applied again; the others follow the waves.
    expect(participantStep(applying, "n2", part({ done: [1] }), T0, options).kind).toBe("wait");
    expect(participantStep(applying, "n2", part({ done: [] }), T0, options)).toEqual({ kind: "apply", indices: [1] });
    // Aborting or aborted: roll back (also with nothing to undo, which confirms it), then finish.
    for (const phase of ["aborting", "aborted"] as const) {
      expect(participantStep({ ...applying, phase }, "n2", part({ done: [1] }), T0, options)).toEqual({ kind: "rollback" });
      expect(participantStep({ ...applying, phase }, "n2", part({ done: [1], rolledBack: true }), T0, options)).toEqual({ kind: "finish" });
    }
    // The coordinator went silent: past the deadline plus the grace, a participant aborts the plan itself.
    expect(participantStep(applying, "n2", part({ done: [1] }), T0 + 3499, options).kind).toBe("wait");
    expect(participantStep(applying, "n2", part({ done: [1] }), T0 + 3500, options)).toEqual({
      kind: "abort",
      detail: "the coordinator n1 said nothing past the applying deadline; aborted by n2",
    });
    // The coordinator's own part never takes itself for silent.
    expect(participantStep(applying, "n1", part({ done: [] }), T0 + 3500, options).kind).toBe("wait");
    // The coordinator restarted: the recorded phase tells it what is left.
    expect(coordinatorStep(applying, T0, timing).kind).toBe("wait");
    expect(coordinatorStep({ ...applying, phase: "verifying" }, T0, timing)).toEqual({ kind: "verify" });
    expect(coordinatorStep({ ...applying, phase: "verified" }, T0, timing)).toEqual({ kind: "done" });
  });

  test("protocol - a participant's entry says where its part stands; one that does not fit the phase is not written", () => {
    const reports = [{ index: 1, status: "applied" as const, detail: "route in", applied_at: T0 }];
    expect(entryOf(part({ reports }))).toEqual({ status: "applied", detail: "1 step(s) applied", reports });
    expect(entryOf(part({ reports: [{ index: 1, status: "would_apply", detail: "" }] })).status).toBe("prepared");
    expect(entryOf(part({ failure: "cannot run here: step 1: no actuator" })).status).toBe("failed");
    expect(entryOf(part({ reports: [{ index: 1, status: "failed", detail: "route replace refused" }] }))).toMatchObject({
      status: "failed",
      detail: "route replace refused",
    });
    const verification = { ok: true, observable: 1, detail: "1 step(s) observed", ts: T0 };
    expect(entryOf(part({ reports, verification })).status).toBe("verified");
    expect(entryOf(part({ reports, rollback: { ok: true, summary: "1 step(s) rolled back" } })).status).toBe("rolled_back");
    expect(entryOf(part({ reports, rollback: { ok: false, summary: "1 step(s) rolled back, not all" } })).status).toBe("rollback_failed");
    // Rolled back after its own step failed: the failure stays in what it says.
    const refused = [{ index: 1, status: "failed" as const, detail: "route replace refused" }];
    expect(entryOf(part({ reports: refused, rollback: { ok: true, summary: "1 step(s) rolled back" } }))).toMatchObject({
      status: "rolled_back",
      detail: "route replace refused; 1 step(s) rolled back",
    });
    const record = fresh();
    const written = participantRecord(record, "n2", entryOf(part()), T0) as TxnParticipant;
    expect(TxnParticipantSchema.parse(written)).toEqual(written);
    expect(written).toMatchObject({ plan_id: plan.plan_id, node: "n2", steps: [1], status: "prepared", updated_at: T0 });
    expect(participantRecord(record, "n2", entryOf(part({ reports })), T0)).toBeUndefined();
    expect(participantRecord(record, "n9", entryOf(part()), T0)).toBeUndefined();
    expect(participantRecord({ ...record, phase: "aborted" }, "n2", entryOf(part()), T0)).toBeUndefined();
    expect(sameEntry(written, entryOf(part()))).toBe(true);
    expect(sameEntry(written, entryOf(part({ reports })))).toBe(false);
    // The state reads each participant from its own record.
    expect(stateOf(created(), new Map([["n2", written]])).participants.map((participant) => participant.status)).toEqual(["pending", "prepared", "pending"]);
  });
});
