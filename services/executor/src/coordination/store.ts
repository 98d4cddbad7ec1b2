// One coordinated plan's record (`txn.<plan_id>` in x0_outcomes) as its coordinator and participants see it: the latest
// revision through a KV watch, written only by compare-and-set against the revision a decision was made on.
import { Coordination, type Logger, parseRecord, txnKey } from "@x0/shared";
import { CoordinationError } from "../errors.ts";
import type { KvStore } from "../lease/lease.ts";

/** A watch of one key, as NATS KV gives it. */
export interface KvWatch extends AsyncIterable<{ revision: number; operation: string; value: Uint8Array }> {
  stop(): void;
}

/** The part of a NATS KV bucket coordination needs: the leases' reads and writes, and a watch of one key. */
export interface WatchableKv extends KvStore {
  watch(options: { key: string }): Promise<KvWatch>;
}

/** A record at a revision. */
export interface Revision {
  record: Coordination;
  revision: number;
}

/** How often the record is read again while waiting, in case the watch falls behind. */
const POLL_MS = 250;

/** The coordination record of one plan. */
export class CoordinationView {
  readonly #kv: WatchableKv;
  readonly #key: string;
  readonly #logger: Logger;
  #latest: Revision | undefined;
  #watch: KvWatch | undefined;
  #waiters: (() => void)[] = [];

  private constructor(kv: WatchableKv, planId: string, logger: Logger) {
    this.#kv = kv;
    this.#key = txnKey(planId);
    this.#logger = logger;
  }

  /** Opens the record of `planId` (absent until someone creates it) and starts watching it. */
  static async open(kv: WatchableKv, planId: string, logger: Logger): Promise<CoordinationView> {
    const view = new CoordinationView(kv, planId, logger);
    await view.refresh();
    view.#watch = await kv.watch({ key: view.#key });
    void view.#follow(view.#watch);
    return view;
  }

  /** The latest record seen, if any. */
  current(): Revision | undefined {
    return this.#latest;
  }

  /** Reads the record now. */
  async refresh(): Promise<Revision | undefined> {
    const entry = await this.#kv.get(this.#key);
    if (entry?.operation === "PUT" && entry.value.length > 0) this.#see(entry.revision, entry.value);
    return this.#latest;
  }

  /** Creates the record unless someone did first; either way the record read back. */
  async create(record: Coordination): Promise<Revision> {
    try {
      const revision = await this.#kv.create(this.#key, JSON.stringify(Coordination.parse(record)));
      this.#see(revision, record);
    } catch (createError) {
      const current = await this.refresh();
      if (!current) throw new CoordinationError(`cannot create ${this.#key}`, { cause: createError });
    }
    return this.#latest as Revision;
  }

  /**
   * Writes `next` if the record is still at `revision` (compare-and-set); false when someone wrote it since, after
   * reading the newer record: the caller decides again from it.
   */
  async write(next: Coordination, revision: number): Promise<boolean> {
    try {
      const written = await this.#kv.update(this.#key, JSON.stringify(Coordination.parse(next)), revision);
      this.#see(written, next);
      return true;
    } catch (error) {
      const current = await this.refresh();
      if (current && current.revision !== revision) return false;
      throw new CoordinationError(`cannot write ${this.#key} at revision ${revision}`, { cause: error });
    }
  }

  /** Resolves when a revision after `revision` is seen, or at `until` (epoch ms), whichever comes first. */
  async next(revision: number, until: number): Promise<void> {
    while ((this.#latest?.revision ?? 0) <= revision && Date.now() < until) {
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

  /** Stops watching. */
  close(): void {
    this.#watch?.stop();
    this.#wake();
  }

  async #follow(watch: KvWatch): Promise<void> {
    try {
      for await (const entry of watch) if (entry.operation === "PUT" && entry.value.length > 0) this.#see(entry.revision, entry.value);
    } catch (error) {
      this.#logger.warn("coordination watch ended; reading the record every 250 ms", { key: this.#key, error });
    }
  }

  #see(revision: number, value: Uint8Array | Coordination): void {
    if (revision <= (this.#latest?.revision ?? 0)) return;
    const record = value instanceof Uint8Array ? parseRecord(Coordination, this.#key, value) : value;
    this.#latest = { record, revision };
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
