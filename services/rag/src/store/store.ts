// The index folder: cases.db (the case store, written event by event) and cases.usearch (the HNSW index of the case
// features, a snapshot: rebuilt from the store when it does not fit). A store that does not fit is rebuilt from the stream.
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { CaseStore } from "../cases/case-store.ts";
import { caseEmbedder } from "../embed/case-features.ts";
import type { HnswSettings } from "../index/vector-index.ts";
import { Knowledge, type TextEmbedder } from "../knowledge/knowledge.ts";
import { checkSnapshot, clearSnapshot, type SnapshotMeta, type StreamIdentity, saveSnapshot } from "./snapshot.ts";

/** The case store's file in the folder. */
export const STORE_FILE = "cases.db";
const CASE_INDEX_FILE = "cases.usearch";
const INDEX_FILES = [CASE_INDEX_FILE];
const STREAM_NAME = "stream_name";
const STREAM_CREATED = "stream_created";

/** What opening the folder gave: the knowledge, and what had to be rebuilt and why. */
export interface Opened {
  knowledge: Knowledge;
  /** Why the case store was started anew, to be read again from the stream (absent: it was used). */
  rebuild?: string;
  /** Why the saved case index was not used and was built again from the store (absent: it was loaded). */
  reindex?: string;
  /** Cases added to the index from the store at start (those written after the saved index, or all on a reindex). */
  caughtUp: number;
  meta?: SnapshotMeta;
}

function removeStore(dir: string): void {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(join(dir, `${STORE_FILE}${suffix}`), { force: true });
}

/** Opens the case store if it is whole and of this stream; otherwise a new one and the reason. */
function openStore(dir: string, stream: StreamIdentity): { store: CaseStore; rebuild?: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, STORE_FILE);
  const fresh = (reason?: string) => {
    removeStore(dir);
    clearSnapshot(dir, INDEX_FILES);
    const store = new CaseStore(path);
    store.setState(STREAM_NAME, stream.name);
    store.setState(STREAM_CREATED, stream.created);
    return reason === undefined ? { store } : { store, rebuild: reason };
  };
  if (!existsSync(path)) return fresh(`no ${STORE_FILE} in ${dir}`);
  let store: CaseStore;
  try {
    store = new CaseStore(path);
  } catch (error) {
    return fresh((error as Error).message);
  }
  const problem = store.problem();
  const name = store.state(STREAM_NAME);
  const created = store.state(STREAM_CREATED);
  const reason =
    problem !== undefined
      ? `${path} is damaged: ${problem}`
      : name !== stream.name || created !== stream.created
        ? `${path} was built from stream ${name} created ${created}, not the one here (created ${stream.created})`
        : undefined;
  if (reason === undefined) return { store };
  store.close();
  return fresh(reason);
}

/**
 * Opens the folder: the case store (or a new one to fill from the stream, and why), then the case index: loaded if its
 * checksum, embedder and store match and brought up to the store, else built again from the store.
 */
export function openKnowledge(
  dir: string,
  stream: StreamIdentity,
  text: TextEmbedder,
  degreesOf: (nodes: string[]) => number[] | undefined,
  hnsw?: HnswSettings,
): Opened {
  const { store, rebuild } = openStore(dir, stream);
  const knowledge = new Knowledge(text, store, degreesOf, hnsw);
  const opened = (extra: Partial<Opened>, caughtUp: number): Opened => ({
    knowledge,
    caughtUp,
    ...(rebuild === undefined ? {} : { rebuild }),
    ...extra,
  });
  if (rebuild !== undefined) return opened({}, 0);
  const check = checkSnapshot(dir, { embedder: caseEmbedder, store: store.id }, INDEX_FILES);
  let reason: string;
  if (check.ok) {
    try {
      knowledge.cases.load(check.paths[CASE_INDEX_FILE] as string);
      const caughtUp = knowledge.catchUp(check.meta.covers_version);
      const indexed = store.counts().cases;
      if (knowledge.cases.size === indexed) return opened({ meta: check.meta }, caughtUp);
      reason = `the index holds ${knowledge.cases.size} vectors for ${indexed} indexed cases`;
    } catch (error) {
      reason = (error as Error).message;
    }
  } else {
    reason = check.reason;
  }
  clearSnapshot(dir, INDEX_FILES);
  knowledge.cases.clear();
  return opened({ reindex: reason }, knowledge.catchUp(0));
}

/** Saves the case index as a snapshot of the store at its current version, and makes the store's commits durable. */
export function saveIndex(dir: string, knowledge: Knowledge, now: number): SnapshotMeta {
  knowledge.store.checkpoint();
  return saveSnapshot(
    dir,
    { embedder: caseEmbedder, store: knowledge.store.id, covers_version: knowledge.store.version, last_seq: knowledge.lastSeq, saved_at: now },
    { [CASE_INDEX_FILE]: (path) => void knowledge.cases.save(path) },
  );
}

/** Bytes of the saved case index in a snapshot's meta. */
export function indexBytesOf(meta: SnapshotMeta | undefined): number {
  return meta?.files[CASE_INDEX_FILE]?.bytes ?? 0;
}
