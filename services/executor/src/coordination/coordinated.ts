// A node executor's plans: it takes part in every plan with a step for its node and coordinates the plans addressed to
// it. The coordinator moves the phases in `txn.<plan_id>` by compare-and-set, each participant reports in its own
// `txn.<plan_id>.<node>`; the protocol is README.md ("Coordinated plans").
import { type ActionResult, actionResult, type Coordination, clipDetail, type Logger, outcomeKey, type Plan, type VerifyCheck } from "@x0/shared";
import { detectOnly, dryRun } from "../dryrun/dry-run.ts";
import { PlanInProgress, RouteLoop } from "../errors.ts";
import type { PlanLease, PlanLeases } from "../lease/lease.ts";
import type { ExecutorMode } from "../run/handle-plan.ts";
import type { JournalRecord } from "../run/journal.ts";
import { type Handled, OutcomeBook, type PlanDelivery } from "../run/outcomes.ts";
import type { PlanPart, PlanRunner, RunnerMetrics, Verification } from "../run/runner.ts";
import { watchSupersession } from "../run/supersession.ts";
import {
  coordinatorStep,
  entryOf,
  isFinal,
  type MoveFields,
  moveTo,
  newCoordination,
  type PartState,
  participantRecord,
  participantStep,
  sameEntry,
  stateOf,
  type TxnState,
} from "./protocol.ts";
import { coordinatedResult } from "./result.ts";
import type { CoordinationRecords, CoordinationView, TxnSnapshot, WatchableKv } from "./store.ts";
import { applyWaves, partsOf } from "./waves.ts";

/** Options of {@link CoordinatedPlans}. */
export interface CoordinatedPlansOptions {
  /** This executor's node. */
  node: string;
  mode: ExecutorMode;
  /** The x0_outcomes bucket: outcomes, this node's leases and journals, coordination records. */
  outcomes: WatchableKv;
  /** The coordination records of x0_outcomes, watched since start-up. */
  records: CoordinationRecords;
  /** Leases and journals under this node's keys (`lease.<plan_id>.<node>`). */
  leases: PlanLeases;
  runner: PlanRunner;
  sign(result: ActionResult): ActionResult;
  logger: Logger;
  /** How long preparing and applying may take together (X0_EXECUTOR_TXN_DEADLINE_MS). */
  deadlineMs: number;
  /** How long past a deadline a participant waits for a silent coordinator, and an abort for rollbacks (X0_EXECUTOR_TXN_GRACE_MS). */
  graceMs: number;
  /** Verification deadline of plans without an expected_effect. */
  defaultVerifyMs: number;
  /** Testing: the pause between steps, which the deadline makes room for. */
  stepDelayMs?: number;
  /** The id of a newer signed plan that supersedes `planId`, once one has been seen. */
  supersededBy?(planId: string): string | undefined;
  metrics?: Pick<RunnerMetrics, "verification">;
}

/** The state of a plan from a snapshot of its records. */
const stateOfSnapshot = (snapshot: TxnSnapshot): TxnState =>
  stateOf(snapshot.coordination.record, new Map([...snapshot.parts].map(([node, part]) => [node, part.record])));

/** Whether the plan asks for its steps' own observation (a `steps` check, or no expected effect at all). */
function verifiesSteps(plan: Plan): boolean {
  return plan.expected_effect === undefined || plan.expected_effect.verify.some((check) => check.type === "steps");
}

/** The plan's waves, or one wave of every step when its routes loop (each participant's prepare then refuses the plan). */
function wavesOrOne(plan: Plan): number[][] {
  try {
    return applyWaves(plan.actions);
  } catch (error) {
    if (!(error instanceof RouteLoop)) throw error;
    return [plan.actions.map((_, index) => index)];
  }
}

/** Carries out this node's part of plans, coordinating those addressed to it. */
export class CoordinatedPlans {
  readonly #o: CoordinatedPlansOptions;
  readonly #book: OutcomeBook;

  constructor(options: CoordinatedPlansOptions) {
    this.#o = options;
    this.#book = new OutcomeBook(options.outcomes, options.logger);
  }

  /** Whether this node has a part in `plan`: a step, or the plan is addressed to it (it coordinates). */
  concerns(plan: Plan): boolean {
    return partsOf(plan).has(this.#o.node);
  }

  /**
   * Handles one delivery of `plan`: a result to publish when this node coordinates it, `none` when it only takes part (or
   * has no step in it). Throws {@link PlanInProgress} while another live instance of this node's executor holds its part.
   */
  async handle(plan: Plan, delivery: PlanDelivery): Promise<Handled> {
    const { node, mode, leases, logger } = this.#o;
    const parts = partsOf(plan);
    const mine = parts.get(node);
    if (mine === undefined) return { kind: "none", detail: `no step of plan ${plan.plan_id} is for ${node}` };
    const coordinating = plan.node === node;
    if (mode !== "enforce" || plan.approval === "manual") {
      if (!coordinating) return { kind: "none", detail: `${mode}: the coordinator ${plan.node} reports` };
      const recorded = await this.#book.recorded(plan, delivery);
      if (recorded) return recorded;
      return this.#book.record(plan, delivery, this.#o.sign(mode === "detect-only" ? detectOnly(plan) : dryRun(plan)));
    }
    // At once: the read-only checks, the lease with the journal, the outcome and the records (the coordinator creates
    // its record and reads every participant's; a participant reads its own and the coordinator's).
    const budget = this.#o.deadlineMs + (this.#o.stepDelayMs ?? 0) * (plan.actions.length + 1);
    const implied = newCoordination(plan, parts, wavesOrOne(plan), Date.now(), budget);
    const checks = this.#o.runner.check(plan, mine);
    checks.catch(() => {}); // awaited when preparing
    const [acquired, recorded, view] = await Promise.all([
      leases.acquire(plan.plan_id, { readJournal: true }),
      coordinating ? this.#book.recorded(plan, delivery) : undefined,
      this.#o.records.open(plan.plan_id, coordinating ? [...parts.keys()] : [node], coordinating ? implied : undefined),
    ]);
    if (recorded) {
      view.close();
      if (acquired.status !== "held") await acquired.lease.release();
      return recorded;
    }
    if (acquired.status === "held") {
      view.close();
      throw new PlanInProgress(
        `${node}'s part of plan ${plan.plan_id} is held by ${acquired.by.holder} (lease until ${new Date(acquired.by.expires_at).toISOString()})`,
      );
    }
    const { lease } = acquired;
    const stopRenewing = lease.keepAlive((error) => logger.warn("plan lease renewal failed", { plan_id: plan.plan_id, error }));
    const stop = new AbortController();
    try {
      const existing = await lease.readJournal();
      // Either role failing stops the other: the plan message is redelivered and handled again from the records.
      const fail = (error: unknown): never => {
        stop.abort(error);
        throw error;
      };
      const roles = await Promise.allSettled([
        this.#participate(plan, mine, { view, implied, checks }, { lease, existing, takenOver: acquired.status === "took_over" }, stop.signal).catch(fail),
        coordinating ? this.#coordinate(plan, view, stop.signal).catch(fail) : Promise.resolve(undefined),
      ]);
      const failed = roles.find((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected");
      if (failed) throw failed.reason;
      const final = (roles[1] as PromiseFulfilledResult<TxnState | undefined>).value;
      if (!coordinating || !final) {
        await lease.release();
        return { kind: "none", detail: `${node}'s part done; the coordinator ${plan.node} reports` };
      }
      const prefix =
        acquired.status === "took_over"
          ? `taken over from ${acquired.previous.holder} (lease expired) by ${leases.holder}${existing ? `: ${existing.entries.length} of its steps had started; nothing re-applied` : ""}`
          : "";
      const handled = await this.#book.record(plan, delivery, this.#o.sign(actionResult(plan, coordinatedResult(plan, final, prefix))));
      await lease.release();
      return handled.kind === "result" ? { ...handled, takeover: acquired.status === "took_over" } : handled;
    } finally {
      stop.abort();
      stopRenewing();
      view.close();
    }
  }

  /**
   * This node's part: prepare, apply its steps wave by wave, observe them, roll them back, as the records say. Until the
   * coordinator's record is seen, the record the plan implies stands for it (preparing): only an abort would create it.
   */
  async #participate(
    plan: Plan,
    mine: number[],
    { view, implied, checks }: { view: CoordinationView; implied: Coordination; checks: Promise<ReadonlyMap<number, string>> },
    { lease, existing, takenOver }: { lease: PlanLease; existing: JournalRecord | undefined; takenOver: boolean },
    stop: AbortSignal,
  ): Promise<void> {
    const { node, runner, leases, graceMs, logger } = this.#o;
    const verifySteps = verifiesSteps(plan);
    let part: PlanPart | undefined;
    const state: PartState = { prepared: false, journal: existing !== undefined, done: [], verified: false, rolledBack: false, reports: [] };
    const refresh = () => {
      if (!part) return;
      state.reports = part.reports();
      state.done = part.done();
    };
    for (;;) {
      if (stop.aborted) return;
      const snapshot = view.current(implied);
      const record = stateOfSnapshot(snapshot);
      const { seen } = snapshot;
      const me = record.participants.find((participant) => participant.node === node);
      if (state.prepared && me) {
        const entry = entryOf(state);
        const next = sameEntry(me, entry) ? undefined : participantRecord(record, node, entry, Date.now());
        if (next) {
          await view.report(next);
          continue;
        }
      }
      const step = participantStep(record, node, state, Date.now(), { graceMs, verifySteps });
      switch (step.kind) {
        case "prepare": {
          // Checked only while preparing: later, a restarted participant reads its part back to finish or undo it.
          const preparing = record.phase === "preparing";
          part = await runner.part(plan, mine, lease, { holder: leases.holder, existing, fence: takenOver, ...(preparing ? { checks } : {}) });
          const problems = part.invalid.map((entry) => `step ${entry.index}: ${entry.detail}`);
          try {
            applyWaves(plan.actions);
          } catch (error) {
            if (!(error instanceof RouteLoop)) throw error;
            problems.push(error.message);
          }
          if (preparing && problems.length > 0) state.failure = clipDetail(`cannot run here: ${problems.join("; ")}`);
          state.prepared = true;
          refresh();
          break;
        }
        case "apply":
          await part?.apply(step.indices, lease.signal);
          // Testing: the window between a change and its report, so a test can stop the executor in it.
          if (this.#o.stepDelayMs) await Bun.sleep(this.#o.stepDelayMs);
          refresh();
          break;
        case "verify":
          state.verification = await part?.verify(Math.max(record.deadline, Date.now() + 100));
          state.verified = true;
          break;
        case "rollback":
          state.rollback = (await part?.rollback()) ?? { ok: true, summary: "nothing to roll back" };
          state.rolledBack = true;
          refresh();
          break;
        case "abort": {
          logger.warn("aborting a plan whose coordinator went silent", { plan_id: plan.plan_id, coordinator: record.coordinator });
          const fields: MoveFields = { abort: { by: node, cause: "coordinator_silent", detail: step.detail, at: Date.now() }, deadline: Date.now() + graceMs };
          const next = moveTo(snapshot.coordination.record, "aborting", Date.now(), fields);
          if (next) await view.write(next, snapshot.coordination.revision);
          break;
        }
        case "wait":
          await view.next(seen, Math.min(step.until, Date.now() + 60_000));
          break;
        case "finish":
          await part?.settled();
          // A settled plan's result comes before this node's next plan: the coordinator records it (a dead one, by the grace).
          if (node !== plan.node && isFinal(record.phase)) await this.#outcomeRecorded(plan.plan_id, record.deadline + graceMs, stop);
          return;
      }
    }
  }

  /** Resolves once the plan's outcome is recorded (read every 25 ms), or at `until`. */
  async #outcomeRecorded(planId: string, until: number, stop: AbortSignal): Promise<void> {
    while (Date.now() < until && !stop.aborted) {
      const entry = await this.#o.outcomes.get(outcomeKey(planId));
      if (entry?.operation === "PUT") return;
      await Bun.sleep(25);
    }
  }

  /** The coordinator's loop: moves the phases as the participants report, verifies the plan, returns the final record. */
  async #coordinate(plan: Plan, view: CoordinationView, stop: AbortSignal): Promise<TxnState | undefined> {
    const timing = { verifyMs: plan.expected_effect?.deadline_ms ?? this.#o.defaultVerifyMs, graceMs: this.#o.graceMs };
    for (;;) {
      if (stop.aborted) return undefined;
      const snapshot = view.current() ?? (await view.refresh());
      if (!snapshot) return undefined;
      const record = stateOfSnapshot(snapshot);
      const { coordination, seen } = snapshot;
      const step = coordinatorStep(record, Date.now(), timing);
      switch (step.kind) {
        case "move": {
          const next = moveTo(coordination.record, step.to, Date.now(), step.fields);
          if (next) {
            await view.write(next, coordination.revision);
          } else await view.next(seen, Date.now() + 100);
          break;
        }
        case "verify": {
          const verdict = await this.#verify(plan, view, record);
          // The verdict stands while the plan is still verifying; a participant may have aborted it meanwhile.
          for (
            let latest = view.current()?.coordination ?? coordination;
            latest.record.phase === "verifying";
            latest = view.current()?.coordination ?? latest
          ) {
            const next = moveTo(latest.record, verdict.to, Date.now(), verdict.fields);
            if (!next || (await view.write(next, latest.revision))) break;
          }
          break;
        }
        case "wait":
          await view.next(seen, Math.min(step.until, Date.now() + 60_000));
          break;
        case "done":
          return record;
      }
    }
  }

  /** The plan's checks: probes from the nodes' monitors, and the participants' own observations of their steps. */
  async #verify(plan: Plan, view: CoordinationView, record: TxnState): Promise<{ to: "verified" | "applied" | "aborting"; fields: MoveFields }> {
    const started = performance.now();
    // A coordinator restarted past the deadline gets half the grace, within which the participants still wait for it.
    const deadline = record.deadline > Date.now() ? record.deadline : Date.now() + this.#o.graceMs / 2;
    const checks: VerifyCheck[] = plan.expected_effect?.verify ?? [{ type: "steps" }];
    const superseded = watchSupersession(plan.plan_id, this.#o.supersededBy);
    let verification: Verification[];
    try {
      const entries = await Promise.all(
        checks.map((check) =>
          check.type === "probe" ? this.#o.runner.probe(check, deadline, superseded.signal) : this.#stepsCheck(check, view, deadline, superseded.signal),
        ),
      );
      verification = entries.filter((entry): entry is Verification => entry !== undefined);
    } finally {
      superseded.stop();
    }
    const ok = verification.every((entry) => entry.ok);
    if (superseded.signal.aborted && !ok) {
      const detail = `superseded by plan ${superseded.signal.reason} before its effect was observed; its steps stay (that plan states them again)`;
      return { to: "applied", fields: { verification, detail } };
    }
    if (verification.length === 0) return { to: "applied", fields: { detail: "applied; nothing observable to verify" } };
    this.#o.metrics?.verification((performance.now() - started) / 1000, ok);
    if (ok) return { to: "verified", fields: { verification, verified_at: Math.max(...verification.map((entry) => entry.ts)) } };
    const failed = verification.filter((entry) => !entry.ok).map((entry) => `${entry.check}: ${entry.detail}`);
    const now = Date.now();
    return {
      to: "aborting",
      fields: {
        verification,
        abort: { by: record.coordinator, cause: "verification", detail: clipDetail(`effect not observed by the deadline (${failed.join("; ")})`), at: now },
        deadline: now + this.#o.graceMs,
      },
    };
  }

  /** A `steps` check from the participants' reports: every node with steps observed its own by the deadline. */
  async #stepsCheck(
    check: Extract<VerifyCheck, { type: "steps" }>,
    view: CoordinationView,
    deadline: number,
    stop: AbortSignal,
  ): Promise<Verification | undefined> {
    let latest = view.current();
    const parts = () => (latest ? stateOfSnapshot(latest).participants : []).filter((participant) => participant.steps.length > 0);
    const waiting = () => parts().filter((participant) => participant.verification === undefined && participant.status !== "failed");
    while (latest && waiting().length > 0 && Date.now() < deadline && !stop.aborted && latest.coordination.record.phase === "verifying") {
      await view.next(latest.seen, deadline);
      latest = view.current();
    }
    const observable = parts().reduce((sum, participant) => sum + (participant.verification?.observable ?? 0), 0);
    const missing = parts().filter((participant) => participant.verification === undefined);
    const bad = parts().filter((participant) => participant.verification && !participant.verification.ok);
    if (observable === 0 && missing.length === 0 && bad.length === 0) return undefined;
    const problems = [
      ...bad.map((participant) => `${participant.node}: ${participant.verification?.detail}`),
      ...missing.map((participant) => `${participant.node} reported no observation`),
    ];
    return {
      check: check.description ? `steps: ${check.description}` : "steps",
      ok: problems.length === 0,
      detail: clipDetail(
        problems.length === 0
          ? `${observable} step(s) observed on ${parts()
              .map((participant) => participant.node)
              .join(", ")}`
          : problems.join("; "),
      ),
      ts: Math.max(0, ...parts().map((participant) => participant.verification?.ts ?? 0)) || Date.now(),
    };
  }
}
