// The coordination protocol as pure functions over a plan's records: the coordinator's `txn.<plan_id>` (its phases) and
// each participant's own `txn.<plan_id>.<node>`. Which phase may follow which, what the coordinator and each participant
// do next from what the records say, and a participant's own record; the driver (coordinated.ts) writes them.
import type { Coordination, ParticipantStatus, Plan, TxnParticipant, TxnPhase } from "@x0/shared";
import type { StepReport } from "../run/runner.ts";

/** A plan's coordination as one executor sees it: the coordinator's record, each participant as its own record says. */
export type TxnState = Omit<Coordination, "participants"> & { participants: TxnParticipant[] };

/** The phases each phase may move to; any other move is refused, so a late writer re-reads and decides again. */
const NEXT: Readonly<Record<TxnPhase, readonly TxnPhase[]>> = {
  preparing: ["applying", "verifying", "aborting"],
  applying: ["applying", "verifying", "aborting"],
  verifying: ["verifying", "verified", "applied", "aborting"],
  verified: [],
  applied: [],
  aborting: ["aborted"],
  aborted: [],
};

/** Why a plan aborts: a participant failed to prepare or apply, verification failed, the deadline passed, or the coordinator went silent. */
export type AbortCause = NonNullable<Coordination["abort"]>["cause"];

/** Whether nothing moves a record in `phase` any more. */
export function isFinal(phase: TxnPhase): boolean {
  return NEXT[phase].length === 0;
}

/** A new record for `plan`: its participants with their steps, the apply waves, the deadline by which preparing and applying end. */
export function newCoordination(
  plan: Pick<Plan, "plan_id" | "node">,
  parts: ReadonlyMap<string, readonly number[]>,
  waves: number[][],
  now: number,
  deadlineMs: number,
): Coordination {
  return {
    v: 2,
    plan_id: plan.plan_id,
    coordinator: plan.node,
    phase: "preparing",
    wave: 0,
    waves,
    participants: [...parts].map(([node, steps]) => ({ node, steps: [...steps] })),
    deadline: now + deadlineMs,
    created_at: now,
    updated_at: now,
  };
}

/** The state of `record` with the participants' own records (`parts`, by node); one without a record yet is pending. */
export function stateOf(record: Coordination, parts: ReadonlyMap<string, TxnParticipant>): TxnState {
  return {
    ...record,
    participants: record.participants.map(({ node, steps }) => {
      const own = parts.get(node);
      if (own) return { ...own, steps: [...steps] };
      const reports = steps.map((index) => ({ index, status: "would_apply" as const, detail: "" }));
      return { plan_id: record.plan_id, node, steps: [...steps], status: "pending", detail: "", reports, updated_at: record.created_at };
    }),
  };
}

/** The fields a phase move may set. */
export type MoveFields = Partial<Pick<Coordination, "wave" | "deadline" | "abort" | "verification" | "detail" | "applied_at" | "verified_at">>;

/** `record` moved to phase `to` with `fields`; undefined when `to` may not follow its phase (the caller re-reads and decides again). */
export function moveTo<R extends Omit<Coordination, "participants">>(record: R, to: TxnPhase, now: number, fields: MoveFields = {}): R | undefined {
  if (!NEXT[record.phase].includes(to)) return undefined;
  if (to === "applying" && record.phase === "applying" && (fields.wave ?? record.wave) <= record.wave) return undefined;
  return { ...record, ...fields, phase: to, updated_at: now };
}

/** The statuses a participant may report in each phase. */
const REPORTABLE: Readonly<Record<TxnPhase, readonly ParticipantStatus[]>> = {
  preparing: ["prepared", "failed"],
  applying: ["prepared", "applied", "failed"],
  verifying: ["applied", "verified", "failed"],
  verified: ["applied", "verified"],
  applied: ["applied", "verified"],
  aborting: ["applied", "verified", "failed", "rolled_back", "rollback_failed"],
  aborted: ["applied", "verified", "failed", "rolled_back", "rollback_failed"],
};

/** What a participant says about itself in its record. */
export type ParticipantEntry = Pick<TxnParticipant, "status" | "detail" | "reports" | "verification">;

/** `node`'s own record saying `entry`; undefined when `node` is no participant or `entry.status` does not fit the phase. */
export function participantRecord(state: TxnState, node: string, entry: ParticipantEntry, now: number): TxnParticipant | undefined {
  const current = state.participants.find((participant) => participant.node === node);
  if (!current || !REPORTABLE[state.phase].includes(entry.status)) return undefined;
  const verification = entry.verification ?? current.verification;
  return { plan_id: state.plan_id, node, steps: current.steps, ...entry, ...(verification ? { verification } : {}), updated_at: now };
}

/** Whether `entry` already says what the record says of the participant (no write needed). */
export function sameEntry(participant: TxnParticipant, entry: ParticipantEntry): boolean {
  return (
    participant.status === entry.status &&
    participant.detail === entry.detail &&
    JSON.stringify(participant.reports) === JSON.stringify(entry.reports) &&
    (entry.verification === undefined || JSON.stringify(participant.verification) === JSON.stringify(entry.verification))
  );
}

/** What a participant knows of its own part. */
export interface PartState {
  /** Its part is prepared in this process (checked, journal written). */
  prepared: boolean;
  /** An earlier holder left a journal of this part (something to read back, finish or undo). */
  journal: boolean;
  /** Steps that are no longer waiting to be applied. */
  done: readonly number[];
  /** It observed its steps (or has nothing to observe). */
  verified: boolean;
  /** It rolled its steps back (whatever the outcome). */
  rolledBack: boolean;
  reports: readonly StepReport[];
  verification?: TxnParticipant["verification"];
  rollback?: { ok: boolean; summary: string };
  /** Why preparing failed, when it did. */
  failure?: string;
}

/** A participant's own entry from what it knows of its part. */
export function entryOf(part: PartState): ParticipantEntry {
  const reports = part.reports.map((report) => ({ ...report }));
  const steps = (statuses: string[]) => reports.filter((report) => statuses.includes(report.status)).length;
  let status: ParticipantStatus = "prepared";
  let detail = "prepared";
  const failedStep = reports.find((report) => report.status === "failed");
  if (part.failure !== undefined) [status, detail] = ["failed", part.failure];
  else if (part.rollback)
    [status, detail] = [part.rollback.ok ? "rolled_back" : "rollback_failed", [failedStep?.detail, part.rollback.summary].filter(Boolean).join("; ")];
  else if (failedStep) [status, detail] = ["failed", failedStep.detail];
  else if (part.verification?.ok && part.verification.observable > 0) [status, detail] = ["verified", part.verification.detail];
  else if (steps(["applied", "verified"]) > 0) [status, detail] = ["applied", `${steps(["applied", "verified"])} step(s) applied`];
  return { status, detail, reports, ...(part.verification ? { verification: part.verification } : {}) };
}

/** The participant of `state` that owns step `index`. */
function ownerOf(state: TxnState, index: number): TxnParticipant | undefined {
  return state.participants.find((participant) => participant.steps.includes(index));
}

/** Whether every step at `indices` is reported applied (or verified) by its node. */
function allApplied(state: TxnState, indices: readonly number[]): boolean {
  return indices.every((index) => {
    const status = ownerOf(state, index)?.reports.find((report) => report.index === index)?.status;
    return status === "applied" || status === "verified";
  });
}

/**
 * While applying: the first wave, from the one the coordinator recorded on, with a step not reported applied yet
 * (`waves.length` once every wave is). A participant applies its steps of this wave without waiting for the
 * coordinator to record the move: every step of the waves before it is in place.
 */
export function reachedWave(state: TxnState): number {
  let wave = state.wave;
  while (wave < state.waves.length && allApplied(state, state.waves[wave] ?? [])) wave += 1;
  return wave;
}

/** Whether a participant may have changed something it has not undone (by what it reported). */
function mayHaveChanged(participant: TxnParticipant): boolean {
  return participant.reports.some((report) => report.applied_at !== undefined && report.status !== "rolled_back");
}

/** Whether a participant's part is settled while the plan aborts: undone, failed before changing anything, or never started. */
function settled(participant: TxnParticipant): boolean {
  if (participant.status === "rolled_back" || participant.status === "rollback_failed" || participant.status === "pending") return true;
  return participant.status === "failed" && !mayHaveChanged(participant);
}

/** What the coordinator does next. */
export type CoordinatorStep = { kind: "move"; to: TxnPhase; fields: MoveFields } | { kind: "verify" } | { kind: "wait"; until: number } | { kind: "done" };

/** Timing the coordinator decides with. */
export interface CoordinatorTiming {
  /** How long verification may take after the last wave (the plan's `expected_effect.deadline_ms`). */
  verifyMs: number;
  /** How long an aborting plan waits for its participants to confirm their rollback. */
  graceMs: number;
}

const names = (participants: TxnParticipant[]) => participants.map((participant) => participant.node).join(", ");

/** The coordinator's next step from `record` (its own record with the participants' records) at `now`. */
export function coordinatorStep(record: TxnState, now: number, { verifyMs, graceMs }: CoordinatorTiming): CoordinatorStep {
  const abort = (cause: AbortCause, detail: string): CoordinatorStep => ({
    kind: "move",
    to: "aborting",
    fields: { abort: { by: record.coordinator, cause, detail, at: now }, deadline: now + graceMs },
  });
  const toVerifying: CoordinatorStep = { kind: "move", to: "verifying", fields: { applied_at: now, deadline: now + verifyMs } };
  const failed = record.participants.filter((participant) => participant.status === "failed");
  const failures = failed.map((participant) => `${participant.node}: ${participant.detail}`).join("; ");
  switch (record.phase) {
    case "preparing": {
      if (failed.length > 0) return abort("prepare", `${names(failed)} could not prepare (${failures})`);
      const waiting = record.participants.filter((participant) => participant.status !== "prepared");
      if (waiting.length === 0) return record.waves.length > 0 ? { kind: "move", to: "applying", fields: { wave: 0 } } : toVerifying;
      if (now >= record.deadline) return abort("deadline", `${names(waiting)} not prepared by the deadline`);
      return { kind: "wait", until: record.deadline };
    }
    case "applying": {
      const wave = reachedWave(record);
      if (failed.length > 0) return abort("apply", `${names(failed)} failed in wave ${wave} (${failures})`);
      if (wave >= record.waves.length) return toVerifying;
      if (wave > record.wave) return { kind: "move", to: "applying", fields: { wave } };
      if (now >= record.deadline) {
        const pending = (record.waves[wave] ?? []).filter((index) => !allApplied(record, [index]));
        const late = record.participants.filter((participant) => participant.steps.some((index) => pending.includes(index)));
        return abort("deadline", `wave ${wave}: ${names(late)} did not apply step(s) ${pending.join(", ")} by the deadline`);
      }
      return { kind: "wait", until: record.deadline };
    }
    case "verifying":
      return { kind: "verify" };
    case "aborting": {
      const unsettled = record.participants.filter((participant) => !settled(participant));
      if (unsettled.length === 0) return { kind: "move", to: "aborted", fields: {} };
      if (now >= record.deadline) return { kind: "move", to: "aborted", fields: { detail: `${names(unsettled)} did not confirm a rollback by the deadline` } };
      return { kind: "wait", until: record.deadline };
    }
    default:
      return { kind: "done" };
  }
}

/** What a participant does next. */
export type ParticipantStep =
  | { kind: "prepare" }
  | { kind: "apply"; indices: number[] }
  | { kind: "verify" }
  | { kind: "rollback" }
  | { kind: "abort"; detail: string }
  | { kind: "wait"; until: number }
  | { kind: "finish" };

/**
 * Participant `node`'s next step from `record` (the coordinator's record with the participants'), what it knows of its part and `now`. The same function decides after a
 * restart: a part prepared before comes back from its journal (never applied again), and an aborting plan is rolled back.
 * `verifySteps`: the plan asks for the steps' own observation. A coordinator silent past the deadline plus `graceMs`
 * makes the participant abort the plan itself (by compare-and-set, so a late coordinator cannot declare it verified).
 */
export function participantStep(
  record: TxnState,
  node: string,
  part: Pick<PartState, "prepared" | "journal" | "done" | "verified" | "rolledBack">,
  now: number,
  { graceMs, verifySteps }: { graceMs: number; verifySteps: boolean },
): ParticipantStep {
  const me = record.participants.find((participant) => participant.node === node);
  if (!me || record.phase === "verified" || record.phase === "applied") return { kind: "finish" };
  const aborting = record.phase === "aborting" || record.phase === "aborted";
  // Nothing changes before the journal exists: without one there is nothing to undo (and what it said stays as it was).
  if (aborting && !part.prepared && !part.journal && me.status !== "pending" && me.status !== "prepared") return { kind: "finish" };
  // Also after a restart: preparing again reads back the journal of what was applied before.
  if (!part.prepared) return { kind: "prepare" };
  // Rolling back with nothing touched confirms it in the record, so the coordinator need not wait for the deadline.
  if (aborting) return part.rolledBack ? { kind: "finish" } : { kind: "rollback" };
  if (node !== record.coordinator && now >= record.deadline + graceMs)
    return { kind: "abort", detail: `the coordinator ${record.coordinator} said nothing past the ${record.phase} deadline; aborted by ${node}` };
  const wait: ParticipantStep = { kind: "wait", until: record.deadline + graceMs };
  if (record.phase === "applying") {
    const todo = (record.waves[reachedWave(record)] ?? []).filter((index) => me.steps.includes(index) && !part.done.includes(index));
    return todo.length > 0 ? { kind: "apply", indices: todo } : wait;
  }
  if (record.phase === "verifying" && verifySteps && me.steps.length > 0 && !part.verified) return { kind: "verify" };
  return wait;
}
