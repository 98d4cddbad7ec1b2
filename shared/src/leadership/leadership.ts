// Leadership of one service among its instances through `leader.<service>` in x0_leases: taken with create, renewed
// every ttl/3 with compare-and-set, taken over after expiry, released on a clean stop (README.md).
import { LeaderLease, leaderKey, parseRecord } from "../contracts/records.ts";
import { X0Error } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { decideLease, type LeaseDecision, type LeaseTiming, type LeaseView, releasedLease } from "./lease.ts";
import type { LeadershipMetrics } from "./metrics.ts";

/** One entry of the lease bucket, as NATS KV gets and watches it. */
export interface LeaseEntry {
  value: Uint8Array;
  revision: number;
  operation: string;
}

/** The part of a NATS KV bucket (x0_leases) the leadership uses. */
export interface LeaseStore {
  get(key: string): Promise<LeaseEntry | null>;
  create(key: string, data: string): Promise<number>;
  update(key: string, data: string, version: number): Promise<number>;
  watch(options: { key: string }): Promise<AsyncIterable<LeaseEntry> & { stop(): void }>;
}

/** The lease is no longer this instance's: it was taken over, or could not be renewed before it ran out. */
export class LeadershipLost extends X0Error {}

/** What an elected instance learns about its term. */
export interface Term {
  term: number;
  /** The holder it took over from, when it did. */
  previous?: LeaderLease;
}

/** Options of {@link Leadership.start}. */
export interface LeadershipOptions extends LeaseTiming {
  kv: LeaseStore;
  /** The service whose leader is elected (`leader.<service>`). */
  service: string;
  /** This process's holder name ({@link holderName}). */
  holder: string;
  logger: Logger;
  /** Called when this instance becomes leader; renewals go on while it runs. */
  onElected?: (term: Term) => void | Promise<void>;
  /** Called when it stops being leader (taken over, not renewed in time, or stopping); after onElected finished. */
  onDemoted?: (reason: string) => void | Promise<void>;
  metrics?: LeadershipMetrics;
  now?: () => number;
}

/** What /status shows about the leadership. */
export interface LeadershipStatus {
  role: "leader" | "standby";
  holder: string;
  /** The holder of the lease as last seen (this instance when leader); undefined when nobody holds it. */
  leader: string | undefined;
  term: number | undefined;
  /** When the lease seen last expires (its holder's clock). */
  expires_at: number | undefined;
}

/**
 * One instance's part in electing its service's leader. {@link isLeader} turns false as soon as the lease could have run
 * out by this instance's own clock, whether or not the demotion has been handled yet.
 *
 * @example
 * const leadership = await Leadership.start({ kv, service: "planner", holder: holderName(instance), ttlMs: 2000, skewMs: 250, logger, onElected, onDemoted });
 * if (leadership.isLeader()) await publish(plan);
 */
export class Leadership {
  readonly #options: LeadershipOptions;
  readonly #key: string;
  readonly #now: () => number;
  /** The lease this instance holds (its last successful write), with its revision. */
  #held: LeaseView | undefined;
  /** The lease as last seen, whoever holds it. */
  #seen: LeaderLease | undefined;
  #elected = false;
  #stopped = false;
  /** After resigning, this instance does not contend until then (its clock). */
  #pausedUntil = 0;
  #term = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #deadline: ReturnType<typeof setTimeout> | undefined;
  #watch: (AsyncIterable<LeaseEntry> & { stop(): void }) | undefined;
  /** Lease operations, one at a time. */
  #work: Promise<unknown> = Promise.resolve();
  /** Elected and demoted callbacks, one at a time and in order, apart from the lease operations so renewals never wait for them. */
  #transitions: Promise<unknown> = Promise.resolve();

  private constructor(options: LeadershipOptions) {
    this.#options = options;
    this.#key = leaderKey(options.service);
    this.#now = options.now ?? Date.now;
    this.#term.abort(new LeadershipLost("not elected yet"));
  }

  /** Starts contending: resolves after the first attempt, and after onElected when that attempt won. */
  static async start(options: LeadershipOptions): Promise<Leadership> {
    const leadership = new Leadership(options);
    options.metrics?.leader.set(0);
    await leadership.#serial(() => leadership.#attempt());
    await leadership.#transitions;
    await leadership.#follow();
    return leadership;
  }

  /** Whether this instance may act for the service now: elected, and its lease not run out by its own clock. */
  isLeader(): boolean {
    return this.#elected && this.#held !== undefined && this.#now() < this.#held.lease.expires_at;
  }

  /** Aborted when the current term ends (with {@link LeadershipLost}); already aborted while standby. */
  get signal(): AbortSignal {
    return this.#term.signal;
  }

  /** The role and the lease as last seen. */
  status(): LeadershipStatus {
    const lease = this.#elected ? this.#held?.lease : this.#seen;
    const current = lease && lease.expires_at > 0 ? lease : undefined;
    return {
      role: this.isLeader() ? "leader" : "standby",
      holder: this.#options.holder,
      leader: current?.holder,
      term: lease?.term,
      expires_at: current?.expires_at,
    };
  }

  /** Stops contending; a leader stops acting (onDemoted) and then releases the lease, so a standby takes over at once. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#watch?.stop();
    clearTimeout(this.#deadline);
    await this.#serial(() => this.#resign("stopping"));
  }

  #serial(work: () => Promise<void>): Promise<void> {
    const run = this.#work.then(work, work);
    this.#work = run.catch((error) => this.#options.logger.error("leader lease operation failed", { lease: this.#key, error }));
    return this.#work as Promise<void>;
  }

  /** Watches the lease key: a release or another holder's write is seen at once, not at the next timer. */
  async #follow(): Promise<void> {
    const watch = await this.#options.kv.watch({ key: this.#key });
    this.#watch = watch;
    void (async () => {
      for await (const entry of watch) {
        if (this.#stopped) break;
        const lease = this.#parse(entry);
        if (lease?.holder === this.#options.holder) continue; // this instance's own write
        // A leader looks again only when someone else wrote (its renewal then finds out); a standby decides on what it saw.
        const seen = lease ? { lease, revision: entry.revision } : undefined;
        this.#soon(0, this.#held ? undefined : { current: seen });
      }
    })().catch((error) => this.#options.logger.warn("leader lease watch ended", { lease: this.#key, error }));
  }

  #parse(entry: LeaseEntry | null): LeaderLease | undefined {
    if (entry?.operation !== "PUT" || entry.value.length === 0) return undefined;
    return parseRecord(LeaderLease, this.#key, entry.value);
  }

  /** Runs an attempt after `delayMs` (replacing a pending one), on the lease `known` from the watch or else read then. */
  #soon(delayMs: number, known?: { current: LeaseView | undefined }): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    const delay = Math.max(0, delayMs, this.#pausedUntil - this.#now());
    this.#timer = setTimeout(() => void this.#serial(() => this.#attempt(delay === delayMs ? known : undefined)), delay);
  }

  async #read(): Promise<LeaseView | undefined> {
    const entry = await this.#options.kv.get(this.#key);
    const lease = this.#parse(entry);
    return lease && entry ? { lease, revision: entry.revision } : undefined;
  }

  /** One step: renew the lease held, or look at the lease (as `known`, or read now) and take it when free. */
  async #attempt(known?: { current: LeaseView | undefined }): Promise<void> {
    if (this.#stopped) return;
    const { ttlMs, skewMs } = this.#options;
    let decision: LeaseDecision;
    try {
      const current = this.#held ?? (known ? known.current : await this.#read());
      if (current && current.lease.holder !== this.#options.holder) this.#seen = current.lease;
      decision = decideLease({ current, holder: this.#options.holder, now: this.#now(), ttlMs, skewMs });
      if (decision.action === "wait") {
        this.#soon(Math.min(decision.retryAt - this.#now(), ttlMs));
        return;
      }
      const data = JSON.stringify(decision.lease);
      const revision =
        decision.action === "create" ? await this.#options.kv.create(this.#key, data) : await this.#options.kv.update(this.#key, data, decision.revision);
      this.#won({ lease: decision.lease, revision }, decision.action === "take-over" ? decision.previous : undefined);
    } catch (error) {
      await this.#failed(error);
    }
  }

  #won(held: LeaseView, previous: LeaderLease | undefined): void {
    this.#held = held;
    this.#seen = held.lease;
    this.#watchDeadline(held.lease.expires_at);
    this.#soon(this.#options.ttlMs / 3);
    if (this.#elected) return;
    this.#elected = true;
    this.#term = new AbortController();
    this.#options.metrics?.leader.set(1);
    this.#options.metrics?.elections.inc();
    const term: Term = { term: held.lease.term, ...(previous ? { previous } : {}) };
    this.#options.logger.info("elected leader", { lease: this.#key, holder: this.#options.holder, term: term.term, previous: previous?.holder });
    const onElected = this.#options.onElected;
    this.#transition(async () => {
      try {
        await onElected?.(term);
      } catch (error) {
        // A leader that cannot act must not keep the lease: it resigns, and stands back for a ttl so another instance tries.
        this.#options.logger.error("leader could not take up its work: resigning", { lease: this.#key, error });
        void this.#serial(() => this.#resign("it could not take up its work"));
      }
    });
  }

  /** Stops acting and releases the lease (a clean stop, or a leader that cannot act); stands back for a ttl unless stopping. */
  async #resign(reason: string): Promise<void> {
    const held = this.#held;
    if (!this.#elected || !held) return;
    this.#demote(reason);
    if (!this.#stopped) this.#pausedUntil = this.#now() + this.#options.ttlMs;
    await this.#transitions;
    this.#held = undefined;
    try {
      await this.#options.kv.update(this.#key, JSON.stringify(releasedLease(held.lease)), held.revision);
      this.#options.logger.info("leader lease released", { lease: this.#key, term: held.lease.term });
    } catch (error) {
      // Taken over or run out already: nothing of this instance's is left to release.
      this.#options.logger.warn("leader lease not released", { lease: this.#key, error });
    }
    this.#soon(0);
  }

  /** A write failed: lost to another instance (demote), or NATS did not answer (keep trying until the lease runs out). */
  async #failed(error: unknown): Promise<void> {
    const { logger, ttlMs } = this.#options;
    let current: LeaseView | undefined;
    try {
      current = await this.#read();
    } catch {
      // NATS unreachable: the lease stands until it runs out by this instance's clock (the deadline timer).
      if (this.#held) logger.warn("leader lease not renewed: NATS did not answer", { lease: this.#key, error });
      this.#soon(Math.min(ttlMs / 3, 250));
      return;
    }
    if (current?.lease.holder === this.#options.holder && this.#held?.lease.term === current.lease.term) {
      // The write went through although its answer was lost: carry on from its revision.
      this.#held = current;
      this.#soon(0);
      return;
    }
    if (current) this.#seen = current.lease;
    if (this.#held) {
      this.#held = undefined;
      this.#demote(`taken over by ${current?.lease.holder ?? "nobody (the lease was deleted)"}`);
    }
    this.#soon(0);
  }

  /** Demotes at `expiresAt` (this instance's clock) unless a renewal moves it on first. */
  #watchDeadline(expiresAt: number): void {
    clearTimeout(this.#deadline);
    this.#deadline = setTimeout(
      () => {
        if (!this.#elected) return;
        if (this.isLeader()) return this.#watchDeadline(expiresAt); // a timer that fired early
        this.#held = undefined;
        this.#demote("the lease ran out before it was renewed");
        this.#soon(0);
      },
      Math.max(0, expiresAt - this.#now()),
    );
  }

  #demote(reason: string): void {
    if (!this.#elected) return;
    this.#elected = false;
    clearTimeout(this.#deadline);
    this.#term.abort(new LeadershipLost(`${this.#options.service} leadership lost: ${reason}`));
    this.#options.metrics?.leader.set(0);
    this.#options.logger.warn("no longer leader", { lease: this.#key, holder: this.#options.holder, reason });
    const onDemoted = this.#options.onDemoted;
    this.#transition(() => onDemoted?.(reason));
  }

  #transition(callback: () => void | Promise<void>): void {
    const run = this.#transitions.then(callback);
    this.#transitions = run.catch((error) => this.#options.logger.error("leadership transition failed", { lease: this.#key, error }));
  }
}
