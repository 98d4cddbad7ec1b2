// The journal of one plan's execution (x0_outcomes `journal.<plan_id>`): which steps were about to change or changed
// something, with their undo data. It is what lets another instance finish a plan whose holder died without applying it again.
import type { ActionType, PlannedAction } from "@x0/shared";
import type { Applied } from "../actuators/types.ts";

/** One step in the journal: `applying` once its undo data is known and before it changes anything, then `applied` or `failed`. */
export interface JournalEntry {
  index: number;
  type: ActionType;
  params: PlannedAction["params"];
  state: "applying" | "applied" | "failed" | "rolled_back";
  undo: unknown;
  applied?: Applied;
  ts: number;
}

/** The journal of one plan. */
export interface JournalRecord {
  plan_id: string;
  holder: string;
  started_at: number;
  entries: JournalEntry[];
  /** Set by an instance that took the plan over. */
  recovered_by?: string;
}

/** Where the runner writes its journal; a write fails with LeaseLost when another instance owns the plan now. */
export interface JournalWriter {
  write(record: JournalRecord): Promise<void>;
}

/** A journal kept in memory only (dry tests, and runs that need no crash recovery). */
export function memoryJournal(): JournalWriter & { records: JournalRecord[] } {
  const records: JournalRecord[] = [];
  return {
    records,
    write: async (record) => {
      records.push(structuredClone(record));
    },
  };
}
