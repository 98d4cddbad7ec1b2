// Outcome stats and plan records in x0_outcomes: stats updated by compare-and-set, plan records kept until their final result.
import { type ActionResult, type AnomalyKind, OutcomeStats, PlanRecord, planKey, statsKey, X0Error } from "@x0/shared";
import { type JsonStore, StoreConflict } from "../kv.ts";
import { addOutcome, outcomeOf } from "./stats.ts";

/** How many plan records are kept in memory (the bucket keeps them all until their result). */
const PLAN_MEMORY = 10_000;
/** Compare-and-set attempts before giving up on one stats update. */
const CAS_ATTEMPTS = 16;

/** A stats update lost every compare-and-set attempt. */
export class OutcomeUpdateError extends X0Error {}

/** What a result meant for the stats and the installed routes. */
export interface Settled {
  record: PlanRecord;
  outcome: "success" | "rolled_back" | "failed" | undefined;
  stats: OutcomeStats | undefined;
}

/** Stats per (kind, alternative), cached in memory, and the plan records results are matched with. */
export class OutcomeStore {
  readonly #stats = new Map<string, OutcomeStats>();
  readonly #plans = new Map<string, PlanRecord>();

  constructor(readonly store: JsonStore) {}

  /** Reads every stats record into the cache. */
  async load(): Promise<void> {
    for (const key of await this.store.keys("stats.>")) {
      const entry = await this.store.get(key);
      const parsed = OutcomeStats.safeParse(entry?.value);
      if (parsed.success) this.#stats.set(key, parsed.data);
    }
  }

  /** The cached stats of an alternative. */
  statsOf(kind: AnomalyKind, alternative: string): OutcomeStats | undefined {
    return this.#stats.get(statsKey(kind, alternative));
  }

  /** Keeps a plan's record until its final result. */
  async remember(record: PlanRecord): Promise<void> {
    this.#plans.set(record.plan_id, record);
    if (this.#plans.size > PLAN_MEMORY) this.#plans.delete(this.#plans.keys().next().value as string);
    await this.store.put(planKey(record.plan_id), record);
  }

  /**
   * Matches a result with its plan record: a final result (verified, applied, rolled back, failed) counts in the
   * alternative's stats and ends the record, as does one where nothing was tried (dry run, skipped); awaiting
   * approval keeps it. Results of unknown or already settled plans give undefined, so a repeated result counts once.
   */
  async settle(result: ActionResult, now: number): Promise<Settled | undefined> {
    if (result.status === "awaiting_approval") return undefined;
    const record = await this.#record(result.plan_id);
    if (!record) return undefined;
    const outcome = outcomeOf(result.status);
    let stats: OutcomeStats | undefined;
    if (outcome) {
      const repairedAt = result.verified_at ?? result.applied_at;
      stats = await this.#count(record, result, repairedAt === undefined ? undefined : repairedAt - record.created_at, now);
    }
    this.#plans.delete(record.plan_id);
    await this.store.delete(planKey(record.plan_id));
    return { record, outcome, stats };
  }

  async #record(planId: string): Promise<PlanRecord | undefined> {
    const known = this.#plans.get(planId);
    if (known) return known;
    const parsed = PlanRecord.safeParse((await this.store.get(planKey(planId)))?.value);
    return parsed.success ? parsed.data : undefined;
  }

  async #count(record: PlanRecord, result: ActionResult, ttrMs: number | undefined, now: number): Promise<OutcomeStats> {
    const key = statsKey(record.kind, record.alternative);
    let lastConflict: unknown;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const entry = await this.store.get(key);
      const current = OutcomeStats.safeParse(entry?.value);
      const next = addOutcome(current.success ? current.data : undefined, record, result.status, ttrMs, now);
      try {
        if (entry) await this.store.update(key, next, entry.revision);
        else await this.store.create(key, next);
        this.#stats.set(key, next);
        return next;
      } catch (error) {
        if (!(error instanceof StoreConflict)) throw error;
        lastConflict = error;
      }
    }
    throw new OutcomeUpdateError(`stats ${key}: ${CAS_ATTEMPTS} compare-and-set attempts lost`, { cause: lastConflict });
  }
}
