// The cases on disk: one SQLite row per incident (bun:sqlite, WAL), a full-text index of the indexed cases' texts
// (FTS5), and the stream position they were read to. Written event by event, so a save never rewrites history.
import { Database } from "bun:sqlite";
import { type RagCase, X0Error } from "@x0/shared";

/** The case store's layout version: another one is rebuilt from the stream, never read. */
export const CASE_STORE_FORMAT = 2;

/** The case store cannot be opened or read. */
export class CaseStoreError extends X0Error {}

/** Counts of the cases by state. */
export interface CaseCounts {
  /** Indexed cases. */
  cases: number;
  /** Cases of incidents not yet indexed (still open). */
  open: number;
  /** Cases with at least one flag. */
  flagged: number;
}

interface Row {
  key: number;
  body: string;
  indexed: number;
}

const SCHEMA = `
  create table if not exists cases (
    key integer primary key autoincrement,
    incident_id text not null unique,
    body text not null,
    indexed integer not null,
    resolved integer not null,
    flagged integer not null,
    last_event_at integer not null,
    last_seq integer not null,
    version integer not null
  );
  create index if not exists cases_open on cases (indexed, resolved, last_event_at);
  create index if not exists cases_version on cases (indexed, version);
  create index if not exists cases_flagged on cases (flagged) where flagged = 1;
  create virtual table if not exists case_text using fts5 (text, content = '', contentless_delete = 1);
  create virtual table if not exists case_terms using fts5vocab (case_text, row);
  create table if not exists state (name text primary key, value text not null);
`;

/** The latest time an event of the case carried. */
function latestTimeOf(item: RagCase): number {
  let latest = Math.max(item.opened_at ?? 0, item.detected_at ?? 0, item.resolved_at ?? 0);
  for (const plan of item.plans) latest = Math.max(latest, plan.created_at);
  for (const result of item.results) latest = Math.max(latest, result.finished_at);
  return latest;
}

/** A word in more than this share of the cases says little about which: left out of the query (BM25 would rank it low anyway). */
const COMMON_SHARE = 0.05;
/** ...unless fewer cases than this have it. */
const COMMON_MIN = 1000;

/** The words of a question, as FTS5 splits them (unicode61: letters and digits, lower case), at most 64. */
export function wordsOf(text: string): string[] {
  return [...new Set(text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])].slice(0, 64);
}

/** Words as an FTS5 query: each quoted (no query syntax gets through), any of them may match. */
export function ftsQueryOf(words: string[]): string | undefined {
  return words.length === 0 ? undefined : words.map((word) => `"${word}"`).join(" OR ");
}

/** Cases by incident id and by index key, in one SQLite file (or in memory for tests). */
export class CaseStore {
  readonly #db: Database;
  readonly #get;
  readonly #getByKey;
  readonly #upsert;
  readonly #textDelete;
  readonly #textInsert;
  readonly #textMatch;
  readonly #setState;
  readonly #getState;
  readonly #stateOf;
  /** Kept as rows are written (counting a million rows at every metrics tick would read them all). */
  #counts: CaseCounts;
  /** Every write gives its row the next version: an index saved at version v lacks exactly the rows above v. */
  #version: number;
  /** This store's identity (made when it was created): a saved index names the store it indexes. */
  readonly id: string;

  /** Opens (creating) the store at `path` (":memory:" for none); throws CaseStoreError if the file is not a store of this format. */
  constructor(readonly path: string) {
    try {
      this.#db = new Database(path, { create: true, strict: true });
      this.#db.run("pragma journal_mode = wal");
      // WAL with synchronous=normal: a commit survives a crash of the process; checkpoint() makes it survive the machine.
      this.#db.run("pragma synchronous = normal");
      const format = this.#db.query<{ user_version: number }, []>("pragma user_version").get()?.user_version ?? 0;
      const empty = this.#db.query("select name from sqlite_master where type = 'table' and name = 'cases'").get() === null;
      if (!empty && format !== CASE_STORE_FORMAT) throw new CaseStoreError(`${path} is case store format ${format}, this rag reads ${CASE_STORE_FORMAT}`);
      this.#db.run(SCHEMA);
      this.#db.run(`pragma user_version = ${CASE_STORE_FORMAT}`);
      this.#version = this.#db.query<{ version: number | null }, []>("select max(version) as version from cases").get()?.version ?? 0;
    } catch (error) {
      if (error instanceof CaseStoreError) throw error;
      throw new CaseStoreError(`cannot open the case store ${path}: ${(error as Error).message}`, { cause: error });
    }
    this.#get = this.#db.query<Row, [string]>("select key, body, indexed from cases where incident_id = ?");
    this.#getByKey = this.#db.query<Row, [number]>("select key, body, indexed from cases where key = ?");
    this.#upsert = this.#db.query<{ key: number }, [string, string, number, number, number, number, number, number]>(
      `insert into cases (incident_id, body, indexed, resolved, flagged, last_event_at, last_seq, version) values (?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (incident_id) do update set body = excluded.body, indexed = excluded.indexed, resolved = excluded.resolved,
         flagged = excluded.flagged, last_event_at = excluded.last_event_at, last_seq = excluded.last_seq, version = excluded.version
       returning key`,
    );
    this.#textDelete = this.#db.query<never, [number]>("delete from case_text where rowid = ?");
    this.#textInsert = this.#db.query<never, [number, string]>("insert into case_text (rowid, text) values (?, ?)");
    this.#textMatch = this.#db.query<{ key: number }, [string, number]>(
      "select rowid as key from case_text where case_text match ? order by bm25(case_text) limit ?",
    );
    this.#setState = this.#db.query<never, [string, string]>(
      "insert into state (name, value) values (?, ?) on conflict (name) do update set value = excluded.value",
    );
    this.#getState = this.#db.query<{ value: string }, [string]>("select value from state where name = ?");
    this.#stateOf = this.#db.query<{ indexed: number; flagged: number }, [string]>("select indexed, flagged from cases where incident_id = ?");
    this.#counts = this.#countRows();
    const id = this.state("store_id") ?? crypto.randomUUID();
    this.setState("store_id", id);
    this.id = id;
  }

  /** Checks the file's pages (SQLite's quick_check); the problem found, or undefined. */
  problem(): string | undefined {
    try {
      const rows = this.#db.query<{ quick_check: string }, []>("pragma quick_check").all();
      const found = rows.map((row) => row.quick_check).filter((line) => line !== "ok");
      return found.length === 0 ? undefined : found.slice(0, 3).join("; ");
    } catch (error) {
      return (error as Error).message;
    }
  }

  /** The case of an incident, with whether it is indexed. */
  get(incidentId: string): { case: RagCase; indexed: boolean; key: number } | undefined {
    const row = this.#get.get(incidentId);
    return row ? { case: JSON.parse(row.body) as RagCase, indexed: row.indexed === 1, key: row.key } : undefined;
  }

  /** The case under an index key. */
  byKey(key: number): RagCase | undefined {
    const row = this.#getByKey.get(key);
    return row ? (JSON.parse(row.body) as RagCase) : undefined;
  }

  /** Writes a case; an indexed one also gets its text in the full-text index. Returns its key. */
  put(item: RagCase, indexed: boolean, text?: string): number {
    const before = this.#stateOf.get(item.incident_id);
    const flagged = item.flags.length > 0;
    if (before) {
      this.#counts.cases -= before.indexed;
      this.#counts.open -= 1 - before.indexed;
      this.#counts.flagged -= before.flagged;
    }
    this.#counts.cases += indexed ? 1 : 0;
    this.#counts.open += indexed ? 0 : 1;
    this.#counts.flagged += flagged ? 1 : 0;
    const row = this.#upsert.get(
      item.incident_id,
      JSON.stringify(item),
      indexed ? 1 : 0,
      item.resolved_at === undefined ? 0 : 1,
      flagged ? 1 : 0,
      latestTimeOf(item),
      item.last_seq,
      ++this.#version,
    );
    const key = (row as { key: number }).key;
    if (indexed && text !== undefined) {
      this.#textDelete.run(key);
      this.#textInsert.run(key, text);
    }
    return key;
  }

  /**
   * Keys of indexed cases whose text shares words with `text`, most relevant first (BM25). Words most cases have are
   * left out while rarer ones remain: a question about n3 and n6 then reads a few thousand rows, not every case.
   */
  textCandidates(text: string, limit: number): number[] {
    const words = wordsOf(text);
    if (words.length === 0) return [];
    const counts = new Map(
      this.#db
        .query<{ term: string; doc: number }, string[]>(`select term, doc from case_terms where term in (${words.map(() => "?").join(", ")})`)
        .all(...words)
        .map((row) => [row.term, row.doc]),
    );
    const present = words.filter((word) => (counts.get(word) ?? 0) > 0);
    if (present.length === 0) return [];
    const common = Math.max(COMMON_MIN, COMMON_SHARE * this.counts().cases);
    const rare = present.filter((word) => (counts.get(word) as number) <= common);
    const chosen = rare.length > 0 ? rare : [present.reduce((a, b) => ((counts.get(a) as number) <= (counts.get(b) as number) ? a : b))];
    return this.#textMatch.all(ftsQueryOf(chosen) as string, limit).map((row) => row.key);
  }

  /** Open cases (neither indexed nor resolved) whose latest event is older than `before`. */
  staleOpen(before: number): RagCase[] {
    return this.#db
      .query<Row, [number]>("select key, body, indexed from cases where indexed = 0 and resolved = 0 and last_event_at < ?")
      .all(before)
      .map((row) => JSON.parse(row.body) as RagCase);
  }

  /** The version of the latest write. */
  get version(): number {
    return this.#version;
  }

  /** Indexed cases written after `version`, in write order, `batch` at a time (read along the version index). */
  *indexedSince(version: number, batch = 10_000): Generator<{ key: number; case: RagCase }[]> {
    const page = this.#db.query<Row & { version: number }, [number, number]>(
      "select key, body, indexed, version from cases where indexed = 1 and version > ? order by version limit ?",
    );
    let after = version;
    for (;;) {
      const rows = page.all(after, batch);
      if (rows.length === 0) return;
      yield rows.map((row) => ({ key: row.key, case: JSON.parse(row.body) as RagCase }));
      after = (rows.at(-1) as { version: number }).version;
    }
  }

  /** Every case, in key order (tests and small stores). */
  *all(): Generator<RagCase> {
    for (const row of this.#db.query<Row, []>("select key, body, indexed from cases order by key").iterate()) yield JSON.parse(row.body) as RagCase;
  }

  /** Counts by state. */
  counts(): CaseCounts {
    return { ...this.#counts };
  }

  #countRows(): CaseCounts {
    const count = (where: string) => this.#db.query<{ n: number }, []>(`select count(*) as n from cases where ${where}`).get()?.n ?? 0;
    return { cases: count("indexed = 1"), open: count("indexed = 0"), flagged: count("flagged = 1") };
  }

  /** A named value of the store's state (the stream position, the stream's identity). */
  state(name: string): string | undefined {
    return this.#getState.get(name)?.value;
  }

  /** Sets a named value of the store's state. */
  setState(name: string, value: string): void {
    this.#setState.run(name, value);
  }

  /** Runs `work` in one transaction: all of it is written or none. */
  transaction<T>(work: () => T): T {
    try {
      return this.#db.transaction(work)();
    } catch (error) {
      // Rolled back: the counts kept along the way are counted again from what was written.
      this.#counts = this.#countRows();
      throw error;
    }
  }

  /** Flushes the write-ahead log to the database file and to disk: what was committed survives a power cut. */
  checkpoint(): void {
    this.#db.run("pragma wal_checkpoint(passive)");
  }

  /** Bytes of the database file and its log. */
  bytes(): number {
    if (this.path === ":memory:") return 0;
    return Bun.file(this.path).size + Bun.file(`${this.path}-wal`).size;
  }

  close(): void {
    this.#db.close();
  }
}
