// Coordinated plans' records in x0_outcomes as one executor process sees them: the coordinator's `txn.<plan_id>` and each
// participant's `txn.<plan_id>.<node>`, kept current by one watch of `txn.>` for the whole process (demultiplexed by
// plan), read once when a plan's view opens, written by create or compare-and-set.
import { Coordination, type Live, type Logger, parseRecord, TxnParticipant, txnKey, txnParticipantKey } from "@x0/shared";
import { CoordinationError } from "../errors.ts";
import type { KvStore } from "../lease/lease.ts";

/** One change of a key, as a NATS KV watch gives it. */
export interface KvWatchEntry {
  key: string;
  revision: number;
  operation: string;
  value: Uint8Array;
}

/** A watch of keys, as NATS KV gives it. */
export interface KvWatch extends AsyncIterable<KvWatchEntry> {
  stop(): void;
}

/** The part of a NATS KV bucket coordination needs: the leases' reads and writes, and a watch of the changes from now on. */
export interface WatchableKv extends KvStore {
  watch(options: { key: string; include?: "updates"; resumeFromRevision?: number }): Promise<KvWatch>;
}

/** A record at a revision. */
export interface Revision<T> {
  record: T;
  revision: number;
}

/** A plan's records as last seen. */
export interface TxnSnapshot {
  /** The coordinator's record (`txn.<plan_id>`) and its revision, for a compare-and-set. */
  coordination: Revision<Coordination>;
  /** The participants' own records seen so far, by node. */
  parts: ReadonlyMap<string, Revision<TxnParticipant>>;
  /** Counts the revisions this view took in: a later one (of any of the plan's records) makes it higher. */
  seen: number;
}

/** How long a view waits for the watch before it reads its records again (the watch may be restarting). */
const POLL_MS = 250;
/** How long the watch waits before it starts again after it ended. */
const REWATCH_MS = 250;
const PREFIX = "txn.";

/** Every coordination record as this process sees it: one watch of `txn.>`, its changes handed to the open plans' views. */
export class CoordinationRecords implements Live {
  readonly name = "kv watch x0_outcomes txn.>";
  readonly #kv: WatchableKv;
  readonly #logger: Logger;
  readonly #views = new Map<string, Set<CoordinationView>>();
  #watch: KvWatch | undefined;
  #last = 0;
  #stopped = false;

  private constructor(kv: WatchableKv, logger: Logger) {
    this.#kv = kv;
    this.#logger = logger;
  }

  /** Starts watching every coordination record's changes from now on: call at start-up, before the first plan. */
  static async start(kv: WatchableKv, logger: Logger): Promise<CoordinationRecords> {
    const records = new CoordinationRecords(kv, logger);
    records.#watch = await kv.watch({ key: `${PREFIX}>`, include: "updates" });
    void records.#follow(records.#watch);
    return records;
  }

  /**
   * Opens `planId`'s view: the coordinator's record and those of `nodes` are read now (what was written before), later
   * changes come through the watch. With `initial`, the coordinator's record is created first unless it exists.
   */
  async open(planId: string, nodes: readonly string[], initial?: Coordination): Promise<CoordinationView> {
    const view = new CoordinationView(this.#kv, planId, nodes, () => this.#views.get(planId)?.delete(view));
    const views = this.#views.get(planId) ?? new Set();
    views.add(view);
    this.#views.set(planId, views);
    try {
      await Promise.all([initial ? view.create(initial) : view.refreshCoordination(), ...nodes.map((node) => view.refreshPart(node))]);
    } catch (error) {
      view.close();
      throw error;
    }
    return view;
  }

  /** Live until stopped: a watch that ended starts again by itself, and the open views read their records meanwhile. */
  isLive(): boolean {
    return !this.#stopped;
  }

  /** Stops the watch. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watch?.stop();
  }

  async #follow(watch: KvWatch): Promise<void> {
    try {
      for await (const entry of watch) {
        this.#last = Math.max(this.#last, entry.revision);
        if (entry.operation !== "PUT" || entry.value.length === 0 || !entry.key.startsWith(PREFIX)) continue;
        const rest = entry.key.slice(PREFIX.length);
        const dot = rest.indexOf(".");
        const [planId, node] = dot < 0 ? [rest, undefined] : [rest.slice(0, dot), rest.slice(dot + 1)];
        for (const view of this.#views.get(planId) ?? []) {
          try {
            view.see(node, entry.revision, entry.value);
          } catch (error) {
            // The view reads it again when it polls, and fails its plan with the same error.
            this.#logger.warn("invalid coordination record in the watch", { key: entry.key, revision: entry.revision, error });
          }
        }
      }
    } catch (error) {
      this.#logger.warn("coordination watch ended; the open plans read their records every 250 ms until it is back", { error });
    }
    if (this.#stopped) return;
    // Back from the first revision not seen, so no change is missed.
    for (;;) {
      await Bun.sleep(REWATCH_MS);
      if (this.#stopped) return;
      try {
        this.#watch = await this.#kv.watch({ key: `${PREFIX}>`, include: "updates", resumeFromRevision: this.#last + 1 });
        void this.#follow(this.#watch);
        return;
      } catch (error) {
        this.#logger.warn("cannot watch the coordination records again yet", { error });
      }
    }
  }
}

/** One plan's records: the latest revisions seen, waits for newer ones, and this executor's writes. */
export class CoordinationView {
  readonly #kv: WatchableKv;
  readonly #planId: string;
  readonly #nodes: readonly string[];
  readonly #close: () => void;
  #coordination: Revision<Coordination> | undefined;
  readonly #parts = new Map<string, Revision<TxnParticipant>>();
  #seen = 0;
  #waiters: (() => void)[] = [];

  constructor(kv: WatchableKv, planId: string, nodes: readonly string[], close: () => void) {
    this.#kv = kv;
    this.#planId = planId;
    this.#nodes = nodes;
    this.#close = close;
  }

  /** The plan's records as last seen; while the coordinator's record is not known, `implied` at revision 0 (or undefined). */
  current(): TxnSnapshot | undefined;
  current(implied: Coordination): TxnSnapshot;
  current(implied?: Coordination): TxnSnapshot | undefined {
    const coordination = this.#coordination ?? (implied && { record: implied, revision: 0 });
    if (!coordination) return undefined;
    return { coordination, parts: new Map(this.#parts), seen: this.#seen };
  }

  /** Reads the coordinator's record and those of this view's nodes now. */
  async refresh(): Promise<TxnSnapshot | undefined> {
    await Promise.all([this.refreshCoordination(), ...this.#nodes.map((node) => this.refreshPart(node))]);
    return this.current();
  }

  /** Reads the coordinator's record now. */
  async refreshCoordination(): Promise<void> {
    const entry = await this.#kv.get(txnKey(this.#planId));
    if (entry?.operation === "PUT" && entry.value.length > 0) this.see(undefined, entry.revision, entry.value);
  }

  /** Reads `node`'s record now. */
  async refreshPart(node: string): Promise<void> {
    const entry = await this.#kv.get(txnParticipantKey(this.#planId, node));
    if (entry?.operation === "PUT" && entry.value.length > 0) this.see(node, entry.revision, entry.value);
  }

  /** Creates the coordinator's record unless someone did first (then it is read). */
  async create(record: Coordination): Promise<void> {
    await this.write(record, 0);
  }

  /**
   * Writes the coordinator's record `next` if it is still at `revision` (compare-and-set; revision 0: only if absent);
   * false when someone wrote it since, once the newer record is read (or the watch brought it): the caller decides again.
   */
  async write(next: Coordination, revision: number): Promise<boolean> {
    const key = txnKey(this.#planId);
    const data = JSON.stringify(Coordination.parse(next));
    try {
      this.see(undefined, revision === 0 ? await this.#kv.create(key, data) : await this.#kv.update(key, data, revision), next);
      return true;
    } catch (error) {
      return this.#lost(
        key,
        revision,
        error,
        () => this.refreshCoordination(),
        () => this.#coordination?.revision,
      );
    }
  }

  /**
   * Writes this executor's own record of its part (created with the first report, then compare-and-set against the
   * revision seen); false when another writer got there first, once its record is read: the caller decides again.
   */
  async report(record: TxnParticipant): Promise<boolean> {
    const key = txnParticipantKey(this.#planId, record.node);
    const revision = this.#parts.get(record.node)?.revision;
    const data = JSON.stringify(TxnParticipant.parse(record));
    try {
      this.see(record.node, revision === undefined ? await this.#kv.create(key, data) : await this.#kv.update(key, data, revision), record);
      return true;
    } catch (error) {
      return this.#lost(
        key,
        revision ?? 0,
        error,
        () => this.refreshPart(record.node),
        () => this.#parts.get(record.node)?.revision,
      );
    }
  }

  /** After a refused write at `revision`: false once a newer revision is known; a write refused for another reason throws. */
  async #lost(key: string, revision: number, error: unknown, read: () => Promise<void>, known: () => number | undefined): Promise<boolean> {
    await read();
    // A replica may answer the read before it has the newer revision: the watch brings it.
    if ((known() ?? 0) <= revision) await this.next(this.#seen, Date.now() + POLL_MS);
    if ((known() ?? 0) > revision) return false;
    throw new CoordinationError(`cannot write ${key} at revision ${revision}`, { cause: error });
  }

  /** Resolves when a revision of the plan's records newer than those of snapshot `seen` comes in, or at `until` (epoch ms). */
  async next(seen: number, until: number): Promise<void> {
    while (this.#seen <= seen && Date.now() < until) {
      const wait = Math.max(1, Math.min(POLL_MS, until - Date.now()));
      const changed = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), wait);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (!changed) await this.refresh();
    }
  }

  /** Stops following the plan. */
  close(): void {
    this.#close();
    this.#wake();
  }

  /** A revision of the coordinator's record (`node` undefined) or of `node`'s, kept when newer; an invalid one throws InvalidRecord. */
  see(node: string | undefined, revision: number, value: Uint8Array | Coordination | TxnParticipant): void {
    const known = node === undefined ? this.#coordination : this.#parts.get(node);
    if (revision <= (known?.revision ?? 0)) return;
    if (node === undefined) {
      const key = txnKey(this.#planId);
      this.#coordination = { record: value instanceof Uint8Array ? parseRecord(Coordination, key, value) : (value as Coordination), revision };
    } else {
      const key = txnParticipantKey(this.#planId, node);
      this.#parts.set(node, { record: value instanceof Uint8Array ? parseRecord(TxnParticipant, key, value) : (value as TxnParticipant), revision });
    }
    // A count, not the revision: this executor's own write can come back before the watch brings others' earlier ones.
    this.#seen += 1;
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
