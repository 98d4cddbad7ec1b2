// The journal of one plan's execution (x0_outcomes `journal.<plan_id>`): which steps were about to change or changed
// something, with their undo data. It is what lets another instance finish a plan whose holder died without applying it again.
import type { Journal, JournalEntry } from "@x0/shared";

/** The journal of one plan (the x0_outcomes `journal.<plan_id>` record). */
export type JournalRecord = Journal;
/** One step in the journal. */
export type { JournalEntry };

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
