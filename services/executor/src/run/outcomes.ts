// A plan's outcome record in x0_outcomes (`<plan_id>`, created only if absent): what makes a redelivered plan republish its
// result instead of running again, and the same plan in a new stream message a replay.
import { type ActionResult, type Logger, OutcomeRecord, outcomeKey, type Plan, parseRecord } from "@x0/shared";
import type { KvStore } from "../lease/lease.ts";

/** What to do with a plan message: publish a result (new or republished), dead-letter a replay, or nothing (another node reports). */
export type Handled =
  | { kind: "result"; result: ActionResult; republished: boolean; takeover?: boolean }
  | { kind: "replayed"; detail: string }
  | { kind: "none"; detail: string };

/** Which delivery of a plan message this is. */
export interface PlanDelivery {
  sequence?: number;
  redelivered: boolean;
}

/** Reads and creates outcome records. */
export class OutcomeBook {
  constructor(
    private readonly outcomes: KvStore,
    private readonly logger: Logger,
  ) {}

  /** The recorded outcome of `plan`, as a republish (same message) or a replay (a new message with an executed plan). */
  async recorded(plan: Plan, delivery: PlanDelivery): Promise<Handled | undefined> {
    const key = outcomeKey(plan.plan_id);
    const entry = await this.outcomes.get(key);
    if (!entry?.value.length || entry.operation !== "PUT") return undefined;
    const record = parseRecord(OutcomeRecord, key, entry.value);
    // The same plan in a new stream message is a replay, even after a restart emptied the nonce memory;
    // the same stream message again is a redelivery (a restarted server may not flag it as one).
    const sameMessage =
      record.plan_sequence !== undefined && delivery.sequence !== undefined ? record.plan_sequence === delivery.sequence : delivery.redelivered;
    if (!sameMessage) return { kind: "replayed", detail: `plan ${plan.plan_id} was already executed` };
    this.logger.info("plan already executed; republishing its result", { plan_id: plan.plan_id });
    return { kind: "result", result: record.result, republished: true };
  }

  /** Records the outcome (create: only if absent) before it is published; on a conflict the recorded one wins. */
  async record(plan: Plan, delivery: PlanDelivery, result: ActionResult): Promise<Handled> {
    const record: OutcomeRecord = { plan_sequence: delivery.sequence, result };
    try {
      await this.outcomes.create(outcomeKey(plan.plan_id), JSON.stringify(record));
      return { kind: "result", result, republished: false };
    } catch (createError) {
      const recorded = await this.recorded(plan, { ...delivery, redelivered: true });
      if (!recorded) throw createError;
      return recorded;
    }
  }
}
