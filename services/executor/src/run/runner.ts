// The plan runner: apply every step (journaled), observe the expected effect before the deadline, and roll every applied
// step back, in reverse order, when it is not observed. The status says what is known: verified only when every check passed.
import { type ActionResult, actionResult, clipDetail, type Logger, type Plan, type PlannedAction, type Telemetry, type VerifyCheck } from "@x0/shared";
import { z } from "zod";
import type { ActuatorRegistry } from "../actuators/registry.ts";
import { type Actuator, type ActuatorContext, type Applied, type Observation, observed, type Step } from "../actuators/types.ts";
import { ActuatorError, LeaseLost } from "../errors.ts";
import type { JournalEntry, JournalRecord, JournalWriter } from "./journal.ts";
import { watchSupersession } from "./supersession.ts";

/** A probe check as the runner asks for it: hellos from a node's monitor to an address, bounded by `timeoutMs`. */
export type ProbeFn = (check: Extract<VerifyCheck, { type: "probe" }>, timeoutMs: number) => Promise<Observation>;

/** What the runner reports to metrics. */
export interface RunnerMetrics {
  /** One apply, verify or rollback call of an actuator (a batch counts once). */
  step(actuator: string, phase: "apply" | "verify" | "rollback", seconds: number): void;
  /** The plan-level verification, from the last apply to its verdict. */
  verification(seconds: number, ok: boolean): void;
  /** One plan rolled back, with whether every step came back. */
  rollback(outcome: "ok" | "failed"): void;
}

/** Options of {@link PlanRunner}. */
export interface RunnerOptions {
  registry: ActuatorRegistry;
  /** The executor's node. */
  node: string;
  logger: Logger;
  probe?: ProbeFn;
  nextTelemetry?: (node: string, timeoutMs: number) => Promise<Telemetry | undefined>;
  /** Testing: widens the window between steps (and turns batching off), so a test can stop the executor mid-plan. */
  stepDelayMs?: number;
  /** Verification deadline of plans without an expected_effect. */
  defaultDeadlineMs?: number;
  metrics?: RunnerMetrics;
  /** The id of a newer signed plan that supersedes `planId` (states its routes again), once one has been seen. */
  supersededBy?: (planId: string) => string | undefined;
}

/** One step's progress through a run. */
interface StepState {
  index: number;
  action: PlannedAction;
  actuator?: Actuator;
  step?: Step;
  status: StepStatus;
  detail: string;
  /** Set once the actuator reported undo data (the step may have changed something from then on). */
  undo?: { value: unknown };
  applied?: Applied;
  observation?: Observation;
}

type StepStatus = ActionResult["steps"][number]["status"];
/** One entry of a result's verification. */
export type Verification = NonNullable<ActionResult["verification"]>[number];

/** One step of a node's part as it stands: what goes into the coordination record. */
export interface StepReport {
  index: number;
  status: StepStatus;
  detail: string;
  applied_at?: number;
}

/** A node's part of a coordinated plan, prepared by {@link PlanRunner.part}. */
export interface PlanPart {
  /** Its steps this executor cannot run (no actuator, invalid params, not handled here), with why. */
  readonly invalid: readonly { index: number; detail: string }[];
  /**
   * Applies its steps among `wave` not applied yet, in plan order, each journaled before it changes anything; the first
   * failure, if any. The journal's note of what landed may still be on its way ({@link settled}).
   */
  apply(wave: readonly number[], signal?: AbortSignal): Promise<{ index: number; detail: string } | undefined>;
  /** Observes its applied steps until `deadline`; undefined when nothing of them is observable. */
  verify(deadline: number): Promise<{ ok: boolean; observable: number; detail: string; ts: number } | undefined>;
  /** Undoes every step that may have changed something, in reverse order. */
  rollback(): Promise<{ ok: boolean; summary: string }>;
  /** Resolves once the journal notes every change applied so far; throws {@link LeaseLost} when a write found another holder. */
  settled(): Promise<void>;
  /** Each of its steps as it stands. */
  reports(): StepReport[];
  /** Its steps that are no longer waiting to be applied (applied, failed, skipped, rolled back). */
  done(): number[];
}

/** Whether `error` (or a cause of it) says this instance lost the plan's lease. */
export function isLeaseLost(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) if (e instanceof LeaseLost) return true;
  return false;
}

const message = (error: unknown): string => {
  const parts: string[] = [];
  for (let e: unknown = error; e instanceof Error && parts.length < 4; e = e.cause) parts.push(e.message);
  return parts.join(": ") || String(error);
};

/** Runs plans through the actuators of a registry. */
export class PlanRunner {
  readonly #o: Required<Omit<RunnerOptions, "probe" | "nextTelemetry" | "metrics" | "supersededBy">> & RunnerOptions;

  constructor(options: RunnerOptions) {
    this.#o = { stepDelayMs: 0, defaultDeadlineMs: 5000, ...options };
  }

  /** Applies, verifies and (when the effect is not observed) rolls back `plan`; writes the journal as it goes. */
  async run(plan: Plan, journal: JournalWriter, { holder, signal }: { holder: string; signal?: AbortSignal }): Promise<ActionResult> {
    const startedAt = Date.now();
    const states = this.#prepare(plan);
    const invalid = states.filter((state) => state.status === "failed");
    if (invalid.length > 0) {
      for (const state of states) if (state.status !== "failed") this.#set(state, "skipped", "not run: the plan has invalid steps");
      return this.#result(plan, states, "failed", startedAt, { detail: `nothing applied: ${invalid.map((s) => `step ${s.index}: ${s.detail}`).join("; ")}` });
    }
    const runnable = states.filter((state) => state.status === "would_apply");
    if (runnable.length === 0)
      return this.#result(plan, states, "skipped", startedAt, { detail: "no step of this plan is for this executor; nothing applied" });
    const supersededBy = this.#o.supersededBy?.(plan.plan_id);
    if (supersededBy) {
      // A newer plan already states this one's routes: applying these first would only be undone or repeated.
      for (const state of runnable) this.#set(state, "skipped", `superseded by plan ${supersededBy}`);
      return this.#result(plan, states, "skipped", startedAt, { detail: `superseded by plan ${supersededBy} before it ran; nothing applied` });
    }

    const record: JournalRecord = { plan_id: plan.plan_id, holder, started_at: startedAt, entries: [] };
    await journal.write(record);
    const ctx = this.#context(record, states, journal);

    const failure = await this.#apply(runnable, ctx, signal, record, journal);
    const appliedAt = Date.now();
    if (failure) {
      for (const state of runnable) if (state.status === "would_apply") this.#set(state, "skipped", `not run: step ${failure.index} failed`);
      const rolled = await this.#rollback(states, ctx, record, journal);
      return this.#result(plan, states, "failed", startedAt, {
        appliedAt,
        detail: `step ${failure.index} (${failure.action.type}) failed: ${failure.detail}; ${rolled.summary}`,
      });
    }
    return this.#verifyAndSettle(plan, states, ctx, record, journal, startedAt, appliedAt, "");
  }

  /**
   * Finishes a plan whose holder died mid-run, from its journal, without applying anything again: verifies the effect and,
   * when it is not observed, rolls back the journaled steps.
   */
  async recover(plan: Plan, existing: JournalRecord, journal: JournalWriter, { holder }: { holder: string }): Promise<ActionResult> {
    const startedAt = Date.now();
    const record: JournalRecord = { ...existing, recovered_by: holder };
    // Writing the journal first fences the old holder: its next journal write fails its compare-and-set.
    await journal.write(record);
    const states = this.#prepare(plan);
    const journaled = new Map(record.entries.map((entry) => [entry.index, entry]));
    for (const state of states) {
      const entry = journaled.get(state.index);
      if (entry && state.actuator && state.step) {
        state.undo = { value: entry.undo };
        state.applied = entry.applied ?? { undo: entry.undo, at: entry.ts, detail: "in flight when its executor stopped" };
        this.#set(state, entry.state === "rolled_back" ? "rolled_back" : "applied", `${state.applied.detail} (journaled by ${existing.holder})`);
      } else if (entry) {
        this.#set(state, "failed", `journaled by ${existing.holder} but cannot be handled here: ${state.detail}`);
      } else if (state.status !== "skipped") {
        this.#set(state, "skipped", `not applied: ${existing.holder} stopped before this step, and a taken-over plan is never applied again`);
      }
    }
    const prefix = `taken over from ${existing.holder} (lease expired) by ${holder}: ${journaled.size} of ${plan.actions.length} steps had started; nothing re-applied`;
    const ctx = this.#context(record, states, journal);
    const appliedAt = Math.max(...record.entries.map((entry) => entry.applied?.at ?? entry.ts), existing.started_at);
    const missing = states.some((state) => state.status === "skipped" && state.action.type !== "notify" && !journaled.has(state.index));
    if (missing && !plan.expected_effect) {
      // Without an expected effect, observing the started steps alone says nothing about the plan: undo them.
      const rolled = await this.#rollback(states, ctx, record, journal);
      return this.#result(plan, states, rolled.ok ? "rolled_back" : "failed", startedAt, {
        appliedAt,
        detail: clipDetail(`${prefix}; not every step ran and the plan has no expected effect to observe; ${rolled.summary}`),
      });
    }
    return this.#verifyAndSettle(plan, states, ctx, record, journal, startedAt, appliedAt, prefix);
  }

  /**
   * One node's part of a coordinated plan (the steps at `indices`), prepared: each step checked against its actuator (and,
   * with `checks` from {@link check}, by its read-only checks). The journal is written at once over `existing`, left by an
   * earlier holder (whose steps count as applied and are never applied again), or with `fence` (a lease taken over);
   * else with the first change. Its steps are then applied, observed and undone when the coordination records say so.
   */
  async part(
    plan: Plan,
    indices: readonly number[],
    journal: JournalWriter,
    { holder, existing, checks, fence = false }: { holder: string; existing?: JournalRecord; checks?: Promise<ReadonlyMap<number, string>>; fence?: boolean },
  ): Promise<PlanPart> {
    const own = new Set(indices);
    const states = this.#prepare(plan).filter((state) => own.has(state.index));
    const record: JournalRecord = existing ? { ...existing, recovered_by: holder } : { plan_id: plan.plan_id, holder, started_at: Date.now(), entries: [] };
    // A journal left by an earlier holder, or a lease taken over, is written at once (fencing the earlier holder); a fresh
    // part's journal is created with its first step's undo data. A step journaled before is not checked again.
    const fencing = existing !== undefined || fence ? journal.write({ ...record, entries: [...record.entries] }) : undefined;
    const [, problems] = await Promise.all([fencing, checks]);
    for (const state of states) {
      const problem = problems?.get(state.index);
      if (problem && state.status === "would_apply" && !existing?.entries.some((entry) => entry.index === state.index)) this.#set(state, "failed", problem);
    }
    const invalid = states
      .filter((state) => state.status === "failed" || state.status === "skipped")
      .map((state) => ({ index: state.index, detail: state.detail }));
    for (const entry of existing?.entries ?? []) {
      const state = states.find((candidate) => candidate.index === entry.index);
      if (!state?.actuator || !state.step) continue;
      state.undo = { value: entry.undo };
      state.applied = entry.applied ?? { undo: entry.undo, at: entry.ts, detail: "in flight when its executor stopped" };
      const status = entry.state === "rolled_back" || entry.state === "failed" ? entry.state : "applied";
      this.#set(state, status, `${state.applied.detail} (journaled by ${existing?.holder})`);
    }
    const ctx = this.#context(record, states, journal);
    // The journal's note of what landed is written while the part reports it; its next step waits for the write.
    let landed: Promise<void> = Promise.resolve();
    let lost: unknown;
    const noted = (write: Promise<void>) => {
      const caught = write.catch((error) => {
        lost ??= error;
      });
      landed = landed.then(() => caught);
    };
    const settled = async () => {
      await landed;
      if (lost !== undefined) throw lost;
    };
    const report = (state: StepState): StepReport => ({
      index: state.index,
      status: state.status,
      detail: state.detail || state.action.reason,
      ...(state.applied ? { applied_at: state.applied.at } : {}),
    });
    return {
      invalid,
      apply: async (wave, signal) => {
        await settled();
        const runnable = states.filter((state) => wave.includes(state.index) && state.status === "would_apply");
        const failure = await this.#apply(runnable, ctx, signal, record, journal, noted);
        if (!failure) return undefined;
        for (const state of runnable) if (state.status === "would_apply") this.#set(state, "skipped", `not run: step ${failure.index} failed`);
        return { index: failure.index, detail: `step ${failure.index} (${failure.action.type}) failed: ${failure.detail}` };
      },
      verify: async (deadline) => {
        await settled();
        const entry = await this.#check({ type: "steps" }, states, ctx, deadline);
        if (!entry) return undefined;
        const observable = states.filter((state) => state.applied && state.observation && state.observation.observable !== false).length;
        return { ok: entry.ok, observable, detail: entry.detail, ts: entry.ts };
      },
      rollback: async () => {
        // A journal write that found another holder stops the part here, as it would have stopped the apply.
        await settled();
        return this.#rollback(states, ctx, record, journal);
      },
      settled,
      reports: () => states.map(report),
      done: () => states.filter((state) => state.status !== "would_apply").map((state) => state.index),
    };
  }

  /**
   * The actuators' read-only checks of `plan`'s steps at `indices` (a route's next hop reachable on its device), batched
   * per actuator: the problem of each step that fails one, by index. Nothing changes, so it may run before the part's lease.
   */
  async check(plan: Plan, indices: readonly number[]): Promise<ReadonlyMap<number, string>> {
    const own = new Set(indices);
    const states = this.#prepare(plan).filter((state) => own.has(state.index));
    await this.#precheck(states);
    return new Map(states.filter((state) => state.status === "failed").map((state) => [state.index, state.detail]));
  }

  /** Runs the actuators' read-only checks of steps about to run (per actuator, batched); a step that fails one is failed. */
  async #precheck(states: StepState[]): Promise<void> {
    const byActuator = new Map<Actuator, StepState[]>();
    for (const state of states)
      if (state.status === "would_apply" && state.actuator?.checkBatch) byActuator.set(state.actuator, [...(byActuator.get(state.actuator) ?? []), state]);
    const ctx: ActuatorContext = { node: this.#o.node, logger: this.#o.logger, beforeChange: async () => {} };
    await Promise.all(
      [...byActuator].map(async ([actuator, group]) => {
        const problems = await (actuator.checkBatch as NonNullable<Actuator["checkBatch"]>)(
          group.map((state) => state.step as Step),
          ctx,
        ).catch((error: Error) => group.map(() => `cannot check: ${message(error)}`));
        group.forEach((state, k) => {
          const problem = problems[k];
          if (problem) this.#set(state, "failed", problem);
        });
      }),
    );
  }

  /** Observes one probe check of a plan (hellos through a node's monitor) until it passes, `deadline` or `stop`. */
  async probe(check: Extract<VerifyCheck, { type: "probe" }>, deadline: number, stop?: AbortSignal): Promise<Verification> {
    const name = `probe ${check.from}→${check.to}${check.port ? `:${check.port}` : ""}`;
    if (!this.#o.probe) return { check: name, ok: false, detail: "no probe transport", ts: Date.now() };
    let attempts = 0;
    let last: Observation = observed(false, "deadline passed before the first probe");
    while (Date.now() < deadline && !stop?.aborted) {
      attempts += 1;
      last = await this.#o.probe(check, deadline - Date.now()).catch((error) => observed(false, message(error)));
      if (last.ok || stop?.aborted) break;
      await Bun.sleep(Math.min(50, Math.max(0, deadline - Date.now())));
    }
    return { check: name, ok: last.ok, detail: clipDetail(`${last.detail} (attempt ${attempts})`), ts: last.at };
  }

  #prepare(plan: Plan): StepState[] {
    return plan.actions.map((action, index): StepState => {
      const state: StepState = { index, action, status: "would_apply", detail: "" };
      const actuator = this.#o.registry.get(action.type);
      if (!actuator) return { ...state, status: "failed", detail: `no actuator for ${action.type}` };
      const params = actuator.params.safeParse(action.params);
      if (!params.success) return { ...state, status: "failed", detail: clipDetail(`invalid params: ${z.prettifyError(params.error)}`) };
      const step: Step = { index, type: action.type, params: params.data, reason: action.reason };
      const handled = actuator.handles(params.data, { node: this.#o.node, logger: this.#o.logger, beforeChange: async () => {} });
      if (!handled.ok) return { ...state, actuator, step, status: "skipped", detail: handled.reason };
      return { ...state, actuator, step };
    });
  }

  #set(state: StepState, status: StepStatus, detail: string): void {
    state.status = status;
    state.detail = clipDetail(detail);
  }

  #context(record: JournalRecord, states: StepState[], journal: JournalWriter): ActuatorContext {
    const byIndex = new Map(states.map((state) => [state.index, state]));
    return {
      node: this.#o.node,
      logger: this.#o.logger,
      nextTelemetry: this.#o.nextTelemetry,
      beforeChange: async (items) => {
        const now = Date.now();
        for (const { step, undo } of items) {
          const state = byIndex.get(step.index);
          if (state) state.undo = { value: undo };
          const entry: JournalEntry = { index: step.index, type: step.type, params: state?.action.params ?? {}, state: "applying", undo, ts: now };
          const at = record.entries.findIndex((existing) => existing.index === step.index);
          if (at >= 0) record.entries[at] = entry;
          else record.entries.push(entry);
        }
        await journal.write(record);
      },
    };
  }

  /**
   * Applies `runnable` in order, consecutive steps of one batching actuator together, and consecutive batches of
   * actuators sharing a concurrency group at once; returns the first failed step.
   */
  async #apply(
    runnable: StepState[],
    ctx: ActuatorContext,
    signal: AbortSignal | undefined,
    record: JournalRecord,
    journal: JournalWriter,
    noteLanded?: (write: Promise<void>) => void,
  ): Promise<StepState | undefined> {
    const { stepDelayMs } = this.#o;
    for (let i = 0; i < runnable.length; ) {
      const first = runnable[i] as StepState;
      const actuator = first.actuator as Actuator;
      const group = [first];
      if (stepDelayMs === 0 && actuator.applyBatch) {
        const joins = (next: Actuator | undefined) =>
          next === actuator ||
          (next?.applyBatch !== undefined && actuator.concurrencyGroup !== undefined && next.concurrencyGroup === actuator.concurrencyGroup);
        while (joins(runnable[i + group.length]?.actuator)) group.push(runnable[i + group.length] as StepState);
      }
      if (i > 0 && stepDelayMs > 0) await Bun.sleep(stepDelayMs);
      if (signal?.aborted) throw new LeaseLost("lease lost before the next step", { cause: signal.reason });
      // One batch per actuator in the group, all at once; results back in the group's order.
      const byActuator = new Map<Actuator, StepState[]>();
      for (const state of group) byActuator.set(state.actuator as Actuator, [...(byActuator.get(state.actuator as Actuator) ?? []), state]);
      const resultOf = new Map<StepState, Applied | Error>();
      await Promise.all(
        [...byActuator].map(async ([batchActuator, states]) => {
          const started = performance.now();
          const steps = states.map((state) => state.step as Step);
          const results: (Applied | Error)[] = batchActuator.applyBatch
            ? await batchActuator.applyBatch(steps, ctx).catch((error: Error) => steps.map(() => error))
            : [await batchActuator.apply(steps[0] as Step, ctx).catch((error: Error) => error)];
          this.#o.metrics?.step(batchActuator.type, "apply", (performance.now() - started) / 1000);
          for (const [k, state] of states.entries())
            resultOf.set(state, results[k] ?? new ActuatorError(`${batchActuator.type}: no result for step ${state.index}`));
        }),
      );
      const results = group.map((state) => resultOf.get(state));
      let failed: StepState | undefined;
      group.forEach((state, k) => {
        const result = results[k];
        if (result instanceof Error || result === undefined) {
          if (isLeaseLost(result)) throw result;
          this.#set(state, "failed", message(result));
          failed ??= state;
        } else {
          state.applied = result;
          this.#set(state, "applied", result.detail);
        }
      });
      // After the change: the journal says which steps landed (their undo data was written before, by beforeChange).
      let touched = false;
      for (const state of group) {
        const entry = record.entries.find((candidate) => candidate.index === state.index);
        if (!entry) continue;
        touched = true;
        entry.state = state.status === "applied" ? "applied" : "failed";
        if (state.applied) entry.applied = state.applied;
        entry.ts = Date.now();
      }
      if (touched) {
        const write = journal.write(record);
        if (noteLanded) noteLanded(write);
        else await write;
      }
      if (failed) return failed;
      i += group.length;
    }
    return undefined;
  }

  async #verifyAndSettle(
    plan: Plan,
    states: StepState[],
    ctx: ActuatorContext,
    record: JournalRecord,
    journal: JournalWriter,
    startedAt: number,
    appliedAt: number,
    prefix: string,
  ): Promise<ActionResult> {
    const started = performance.now();
    const deadline = appliedAt + (plan.expected_effect?.deadline_ms ?? this.#o.defaultDeadlineMs);
    const checks: VerifyCheck[] = plan.expected_effect?.verify ?? [{ type: "steps" }];
    // A newer plan that states this one's routes again makes waiting for this one's effect pointless (and rolling it back
    // harmful): verification stops as soon as such a plan is seen.
    const superseded = watchSupersession(plan.plan_id, this.#o.supersededBy);
    let verification: Verification[];
    try {
      verification = (await Promise.all(checks.map((check) => this.#check(check, states, ctx, deadline, superseded.signal)))).filter(
        (entry): entry is Verification => entry !== undefined,
      );
    } finally {
      superseded.stop();
    }
    if (superseded.signal.aborted && !verification.every((entry) => entry.ok)) {
      return this.#result(plan, states, "applied", startedAt, {
        appliedAt,
        verification,
        detail: clipDetail(
          [prefix, `superseded by plan ${superseded.signal.reason} before its effect was observed; its steps stay (that plan states them again)`]
            .filter(Boolean)
            .join("; "),
        ),
      });
    }
    const ok = verification.every((entry) => entry.ok);
    if (verification.length > 0) this.#o.metrics?.verification((performance.now() - started) / 1000, ok);
    const join = (...parts: string[]) => clipDetail(parts.filter(Boolean).join("; "));
    if (verification.length === 0) {
      return this.#result(plan, states, "applied", startedAt, { appliedAt, detail: join(prefix, "applied; nothing observable to verify") });
    }
    if (ok) {
      const verifiedAt = Math.max(...verification.map((entry) => entry.ts));
      return this.#result(plan, states, "verified", startedAt, { appliedAt, verifiedAt, verification, detail: join(prefix, "effect observed") });
    }
    const failed = verification.filter((entry) => !entry.ok).map((entry) => `${entry.check}: ${entry.detail}`);
    const rolled = await this.#rollback(states, ctx, record, journal);
    return this.#result(plan, states, rolled.ok ? "rolled_back" : "failed", startedAt, {
      appliedAt,
      verification,
      detail: join(prefix, `effect not observed by the deadline (${failed.join("; ")})`, rolled.summary),
    });
  }

  /** Runs one check, retrying until it passes or the deadline; undefined when it has nothing to observe. */
  async #check(check: VerifyCheck, states: StepState[], ctx: ActuatorContext, deadline: number, stop?: AbortSignal): Promise<Verification | undefined> {
    if (check.type === "probe") return this.probe(check, deadline, stop);
    const applied = states.filter((state) => state.applied && state.actuator && state.step && state.status === "applied");
    if (applied.length === 0) return undefined;
    let pending = applied;
    let observable = 0;
    for (;;) {
      const observations = await this.#observe(pending, ctx);
      observable = applied.filter((state) => state.observation?.observable !== false).length;
      pending = pending.filter((_, k) => !observations[k]?.ok);
      if (pending.length === 0 || Date.now() + 100 >= deadline || stop?.aborted) break;
      await Bun.sleep(100);
    }
    for (const state of applied) {
      if (state.observation?.ok && state.observation.observable !== false)
        this.#set(state, "verified", `${state.applied?.detail}; ${state.observation.detail}`);
    }
    if (observable === 0) return undefined;
    const bad = applied.filter((state) => !state.observation?.ok);
    const detail =
      bad.length === 0
        ? `${observable} step(s) observed: ${applied.map((state) => state.observation?.detail).join("; ")}`
        : `${observable - bad.length}/${observable} steps observed; ${bad.map((state) => `step ${state.index}: ${state.observation?.detail}`).join("; ")}`;
    const ts = Math.max(...applied.map((state) => state.observation?.at ?? 0));
    return { check: check.description ? `steps: ${check.description}` : "steps", ok: bad.length === 0, detail: clipDetail(detail), ts };
  }

  /** One verify pass over `states` (batched per actuator); stores each observation on its state. */
  async #observe(states: StepState[], ctx: ActuatorContext): Promise<Observation[]> {
    const byActuator = new Map<Actuator, StepState[]>();
    for (const state of states) byActuator.set(state.actuator as Actuator, [...(byActuator.get(state.actuator as Actuator) ?? []), state]);
    await Promise.all(
      [...byActuator].map(async ([actuator, group]) => {
        const started = performance.now();
        const items = group.map((state) => ({ step: state.step as Step, applied: state.applied as Applied }));
        const fail = (error: unknown) => items.map(() => observed(false, message(error)));
        const observations = actuator.verifyBatch
          ? await actuator.verifyBatch(items, ctx).catch(fail)
          : await Promise.all(items.map((item) => actuator.verify(item.step, item.applied, ctx).catch((error) => observed(false, message(error)))));
        this.#o.metrics?.step(actuator.type, "verify", (performance.now() - started) / 1000);
        group.forEach((state, k) => {
          state.observation = observations[k] ?? observed(false, "not observed");
        });
      }),
    );
    return states.map((state) => state.observation ?? observed(false, "not observed"));
  }

  /** Undoes every step that recorded undo data, in reverse order; irreversible steps are reported, never hidden. */
  async #rollback(states: StepState[], ctx: ActuatorContext, record: JournalRecord, journal: JournalWriter): Promise<{ ok: boolean; summary: string }> {
    const todo = states.filter((state) => state.undo !== undefined && state.actuator && state.step && state.status !== "rolled_back").reverse();
    if (todo.length === 0) return { ok: true, summary: "nothing to roll back" };
    let undone = 0;
    const problems: string[] = [];
    for (let i = 0; i < todo.length; ) {
      const first = todo[i] as StepState;
      const actuator = first.actuator as Actuator;
      const group = [first];
      if (actuator.rollbackBatch) while (todo[i + group.length]?.actuator === actuator) group.push(todo[i + group.length] as StepState);
      i += group.length;
      if (!actuator.reversible) {
        for (const state of group) {
          this.#set(state, state.status, `${state.detail}; cannot be rolled back (${actuator.type} has no undo)`);
          problems.push(`step ${state.index} (${actuator.type}) cannot be undone`);
        }
        continue;
      }
      const items = group.map((state) => ({
        step: state.step as Step,
        applied: state.applied ?? { undo: (state.undo as { value: unknown }).value, at: Date.now(), detail: "in flight" },
      }));
      const started = performance.now();
      const errors: (Error | undefined)[] = actuator.rollbackBatch
        ? await actuator.rollbackBatch(items, ctx).catch((error: Error) => items.map(() => error))
        : await Promise.all(
            items.map((item) =>
              actuator.rollback(item.step, item.applied, ctx).then(
                () => undefined,
                (error: Error) => error,
              ),
            ),
          );
      this.#o.metrics?.step(actuator.type, "rollback", (performance.now() - started) / 1000);
      group.forEach((state, k) => {
        const error = errors[k];
        const entry = record.entries.find((candidate) => candidate.index === state.index);
        if (error) {
          problems.push(`step ${state.index}: ${message(error)}`);
          this.#set(state, "failed", `${state.detail}; rollback failed: ${message(error)}`);
        } else {
          undone += 1;
          if (entry) entry.state = "rolled_back";
          // A step whose apply failed stays failed: the rollback only made sure nothing of it is left.
          this.#set(state, state.status === "failed" ? "failed" : "rolled_back", `${state.detail}; rolled back`);
        }
      });
      await journal.write(record).catch((error) => this.#o.logger.warn("journal write failed during rollback", { plan_id: record.plan_id, error }));
    }
    const ok = problems.length === 0;
    this.#o.metrics?.rollback(ok ? "ok" : "failed");
    return { ok, summary: ok ? `${undone} step(s) rolled back` : `${undone} step(s) rolled back, not all: ${problems.join("; ")}` };
  }

  #result(
    plan: Plan,
    states: StepState[],
    status: ActionResult["status"],
    startedAt: number,
    extra: { appliedAt?: number; verifiedAt?: number; verification?: Verification[]; detail?: string },
  ): ActionResult {
    return actionResult(plan, {
      status,
      steps: states.map((state) => ({
        type: state.action.type,
        params: state.action.params,
        status: state.status,
        detail: state.detail || state.action.reason,
        ...(state.applied ? { applied_at: state.applied.at } : {}),
      })),
      started_at: startedAt,
      applied_at: extra.appliedAt,
      verified_at: extra.verifiedAt,
      verification: extra.verification,
      detail: extra.detail,
    });
  }
}
