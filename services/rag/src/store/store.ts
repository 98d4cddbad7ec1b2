// The knowledge on disk: cases.json and the two case indexes in a snapshot (snapshot.ts). Runbooks are not saved:
// they are read from their folder at every start.
import { readFileSync } from "node:fs";
import { RagCase } from "@x0/shared";
import { z } from "zod";
import type { HnswSettings } from "../index/vector-index.ts";
import { Knowledge, type KnowledgeState, type TextEmbedder } from "../knowledge/knowledge.ts";
import { checkSnapshot, clearSnapshot, type SnapshotExpectation, type SnapshotMeta, saveSnapshot, writeDurably } from "./snapshot.ts";

const STATE_FILE = "cases.json";
const CASE_INDEX_FILE = "cases.usearch";
const TEXT_INDEX_FILE = "case-texts.usearch";
const FILES = [STATE_FILE, CASE_INDEX_FILE, TEXT_INDEX_FILE];

const SavedState = z.object({
  cases: z.array(RagCase),
  indexed: z.array(z.uuid()),
  keys: z.array(z.tuple([z.uuid(), z.number().int().positive()])),
  last_seq: z.number().int().nonnegative(),
});

/** What opening the folder gave: the knowledge, and why it starts empty when it does. */
export interface Opened {
  knowledge: Knowledge;
  /** Why the saved index was not used (absent: it was loaded). */
  rebuild?: string;
  meta?: SnapshotMeta;
}

/** Loads the saved knowledge if every file checks out and fits; otherwise an empty one and the reason. */
export function openKnowledge(
  dir: string,
  expected: SnapshotExpectation,
  text: TextEmbedder,
  degreesOf: (nodes: string[]) => number[] | undefined,
  hnsw?: HnswSettings,
): Opened {
  const empty = (reason: string): Opened => {
    clearSnapshot(dir, FILES);
    return { knowledge: new Knowledge(text, degreesOf, hnsw), rebuild: reason };
  };
  const check = checkSnapshot(dir, expected, FILES);
  if (!check.ok) return empty(check.reason);
  let state: KnowledgeState;
  try {
    const parsed = SavedState.safeParse(JSON.parse(readFileSync(check.paths[STATE_FILE] as string, "utf8")));
    if (!parsed.success) return empty(`${STATE_FILE} is invalid: ${z.prettifyError(parsed.error).split("\n")[0]}`);
    state = parsed.data;
  } catch (error) {
    return empty(`${STATE_FILE} cannot be read: ${(error as Error).message}`);
  }
  if (state.last_seq !== check.meta.last_seq) return empty(`${STATE_FILE} is at sequence ${state.last_seq}, meta.json says ${check.meta.last_seq}`);
  const knowledge = new Knowledge(text, degreesOf, hnsw, state);
  try {
    knowledge.cases.load(check.paths[CASE_INDEX_FILE] as string);
    knowledge.caseTexts.load(check.paths[TEXT_INDEX_FILE] as string);
  } catch (error) {
    return empty((error as Error).message);
  }
  if (knowledge.cases.size !== state.indexed.length || knowledge.caseTexts.size !== state.indexed.length) {
    return empty(`the indexes hold ${knowledge.cases.size} and ${knowledge.caseTexts.size} vectors for ${state.indexed.length} indexed cases`);
  }
  return { knowledge, meta: check.meta };
}

/** Saves the knowledge (cases and both case indexes) as one snapshot; returns its meta. */
export function saveKnowledge(dir: string, knowledge: Knowledge, stream: SnapshotExpectation["stream"], now: number): SnapshotMeta {
  const state = knowledge.state();
  return saveSnapshot(
    dir,
    { embedders: knowledge.embedders, stream, last_seq: state.last_seq, saved_at: now },
    {
      [STATE_FILE]: (path) => writeDurably(path, JSON.stringify(state)),
      [CASE_INDEX_FILE]: (path) => void knowledge.cases.save(path),
      [TEXT_INDEX_FILE]: (path) => void knowledge.caseTexts.save(path),
    },
  );
}

/** Bytes of the saved indexes in a snapshot's meta. */
export function indexBytesOf(meta: SnapshotMeta | undefined): number {
  if (!meta) return 0;
  return (meta.files[CASE_INDEX_FILE]?.bytes ?? 0) + (meta.files[TEXT_INDEX_FILE]?.bytes ?? 0);
}
