// Leases on plans in x0_outcomes (`lease.<plan_id>`, or `lease.<plan_id>.<node>` for one node's part: create, renew, take
// over after expiry by compare-and-set) and the journal beside it (compare-and-set too), so two instances of one executor
// never both run a plan (or a node's part of one). How a takeover fences a slow holder: README.md ("Exactly once").
import { Journal, journalKey, Lease, leaseKey, nodeJournalKey, nodeLeaseKey, parseRecord } from "@x0/shared";
import type { z } from "zod";
import { LeaseLost } from "../errors.ts";
import type { JournalRecord, JournalWriter } from "../run/journal.ts";

/** The part of a NATS KV bucket the leases use (the x0_outcomes bucket). */
export interface KvStore {
  get(key: string): Promise<{ value: Uint8Array; revision: number; operation: string } | null>;
  create(key: string, data: string): Promise<number>;
  update(key: string, data: string, version: number): Promise<number>;
  delete(key: string, opts?: { previousSeq?: number }): Promise<void>;
}

/** The keys of a plan's lease and journal: the site executor's (`lease.<plan_id>`) or one node's (`lease.<plan_id>.<node>`). */
export interface LeaseKeys {
  lease(planId: string): string;
  journal(planId: string): string;
}

/** The site executor's keys: one lease and one journal per plan. */
export const SITE_KEYS: LeaseKeys = { lease: leaseKey, journal: journalKey };

/** A node executor's keys: its own lease and journal of its part of each plan. */
export function nodeKeys(node: string): LeaseKeys {
  return { lease: (planId) => nodeLeaseKey(planId, node), journal: (planId) => nodeJournalKey(planId, node) };
}

/** What trying to take a plan's lease gave. */
export type Acquired = { status: "acquired"; lease: PlanLease } | { status: "took_over"; lease: PlanLease; previous: Lease } | { status: "held"; by: Lease };

/** Reads and validates a record; an invalid one is an InvalidRecord error naming its key. */
async function read<S extends z.ZodType>(
  kv: KvStore,
  key: string,
  schema: S,
): Promise<{ value: z.infer<S>; revision: number } | { value: undefined; revision: number | undefined }> {
  const entry = await kv.get(key);
  if (entry?.operation !== "PUT" || entry.value.length === 0) return { value: undefined, revision: undefined };
  return { value: parseRecord(schema, key, entry.value), revision: entry.revision };
}

/** Takes, renews and hands over plan leases for one executor instance. */
export class PlanLeases {
  readonly #kv: KvStore;
  readonly holder: string;
  readonly ttlMs: number;
  readonly keys: LeaseKeys;

  /** `holder` must be unique per process (instance name plus a random part): a restarted instance is a new holder. */
  constructor({ kv, holder, ttlMs = 15_000, keys = SITE_KEYS }: { kv: KvStore; holder: string; ttlMs?: number; keys?: LeaseKeys }) {
    this.#kv = kv;
    this.holder = holder;
    this.ttlMs = ttlMs;
    this.keys = keys;
  }

  /**
   * Takes the lease of `planId`: fresh, or over an expired one (compare-and-set); `held` while a live holder has it. With
   * `readJournal`, the plan's journal is read at the same time: {@link PlanLease.readJournal} then answers from that read
   * (a holder that wrote it since is fenced all the same: the first journal write fails its compare-and-set).
   */
  async acquire(planId: string, { readJournal = false }: { readJournal?: boolean } = {}): Promise<Acquired> {
    if (!readJournal) return this.#acquire(planId);
    const [acquired, journal] = await Promise.all([this.#acquire(planId), read(this.#kv, this.keys.journal(planId), Journal)]);
    if (acquired.status !== "held") acquired.lease.journalRead(journal);
    return acquired;
  }

  async #acquire(planId: string): Promise<Acquired> {
    const key = this.keys.lease(planId);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const now = Date.now();
      const value: Lease = { holder: this.holder, expires_at: now + this.ttlMs, acquired_at: now };
      try {
        const revision = await this.#kv.create(key, JSON.stringify(value));
        return { status: "acquired", lease: new PlanLease(this.#kv, planId, this, revision) };
      } catch {
        // Present: look at it below.
      }
      const current = await read(this.#kv, key, Lease);
      if (current.value === undefined || current.revision === undefined) continue; // released in between: create again
      if (current.value.expires_at > Date.now()) return { status: "held", by: current.value };
      try {
        const revision = await this.#kv.update(key, JSON.stringify(value), current.revision);
        return { status: "took_over", lease: new PlanLease(this.#kv, planId, this, revision), previous: current.value };
      } catch {
        // Another instance took it over first: it is held by them now.
        const winner = await read(this.#kv, key, Lease);
        if (winner.value) return { status: "held", by: winner.value };
      }
    }
    const last = await read(this.#kv, key, Lease);
    return { status: "held", by: last.value ?? { holder: "unknown", expires_at: Date.now(), acquired_at: Date.now() } };
  }
}

/** A held lease on one plan, with the plan's journal. */
export class PlanLease implements JournalWriter {
  readonly #kv: KvStore;
  readonly #leases: PlanLeases;
  #revision: number;
  #journalRevision: number | undefined;
  #journalRead: { value: JournalRecord | undefined; revision: number | undefined } | undefined;
  /** Journal writes of this holder, one after another: actuators run namespaces in parallel, and each CAS needs the last revision. */
  #journalQueue: Promise<unknown> = Promise.resolve();
  readonly #lost = new AbortController();

  constructor(
    kv: KvStore,
    readonly planId: string,
    leases: PlanLeases,
    revision: number,
  ) {
    this.#kv = kv;
    this.#leases = leases;
    this.#revision = revision;
  }

  /** Aborted when the lease is lost (a renewal or journal write found another holder). */
  get signal(): AbortSignal {
    return this.#lost.signal;
  }

  #lose(reason: string, cause?: unknown): LeaseLost {
    const error = new LeaseLost(`lease of plan ${this.planId} lost: ${reason}`, { cause });
    if (!this.#lost.signal.aborted) this.#lost.abort(error);
    return error;
  }

  /** Extends the lease by its ttl; throws {@link LeaseLost} when another instance took it over. */
  async renew(): Promise<void> {
    if (this.#lost.signal.aborted) throw this.#lost.signal.reason;
    const now = Date.now();
    const value: Lease = { holder: this.#leases.holder, expires_at: now + this.#leases.ttlMs, acquired_at: now };
    try {
      this.#revision = await this.#kv.update(this.#leases.keys.lease(this.planId), JSON.stringify(value), this.#revision);
    } catch (error) {
      throw this.#lose("renewal found another revision", error);
    }
  }

  /** Renews every third of the ttl until the returned function is called; a failed renewal aborts {@link signal}. */
  keepAlive(onError: (error: unknown) => void = () => {}): () => void {
    const timer = setInterval(
      () => {
        this.renew().catch(onError);
      },
      Math.max(50, Math.floor(this.#leases.ttlMs / 3)),
    );
    return () => clearInterval(timer);
  }

  /** The journal as read while the lease was taken, for {@link readJournal}. */
  journalRead(read: { value: JournalRecord | undefined; revision: number | undefined }): void {
    this.#journalRead = read;
  }

  /** The plan's journal as left by whoever ran it before (remembering its revision for the next write). */
  async readJournal(): Promise<JournalRecord | undefined> {
    const current = this.#journalRead ?? (await read(this.#kv, this.#leases.keys.journal(this.planId), Journal));
    this.#journalRead = undefined;
    this.#journalRevision = current.revision;
    return current.value;
  }

  /** Writes the journal with compare-and-set; throws {@link LeaseLost} when someone else wrote it since. */
  write(record: JournalRecord): Promise<void> {
    // Serialised, and the record is captured now: the caller keeps changing it.
    const data = JSON.stringify(record);
    const written = this.#journalQueue.then(() => this.#writeNow(data));
    this.#journalQueue = written.catch(() => {});
    return written;
  }

  async #writeNow(data: string): Promise<void> {
    if (this.#lost.signal.aborted) throw this.#lost.signal.reason;
    try {
      this.#journalRevision =
        this.#journalRevision === undefined
          ? await this.#kv.create(this.#leases.keys.journal(this.planId), data)
          : await this.#kv.update(this.#leases.keys.journal(this.planId), data, this.#journalRevision);
    } catch (error) {
      throw this.#lose("the journal was written by another instance", error);
    }
  }

  /** Removes the journal and the lease: call once the outcome is recorded. */
  async release(): Promise<void> {
    const { keys } = this.#leases;
    if (this.#journalRevision !== undefined) await this.#kv.delete(keys.journal(this.planId), { previousSeq: this.#journalRevision }).catch(() => {});
    await this.#kv.delete(keys.lease(this.planId), { previousSeq: this.#revision }).catch(() => {});
  }
}
