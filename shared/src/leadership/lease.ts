// The leader lease's decisions, pure: what an instance does about `leader.<service>` at a given moment, judged by its
// own clock. The KV operations that carry them out are in leadership.ts; the reasoning is in README.md.
import type { LeaderLease } from "../contracts/records.ts";

/** A lease as read from the bucket, with the revision to compare-and-set against. */
export interface LeaseView {
  lease: LeaderLease;
  revision: number;
}

/** What an instance does about the lease now. */
export type LeaseDecision =
  /** Nobody holds it: take it with create (fails if another instance created it first). */
  | { action: "create"; lease: LeaderLease }
  /** This instance holds it: extend it with update on its revision. */
  | { action: "renew"; lease: LeaderLease; revision: number }
  /** Another holder's lease expired (or was released): take it with update on its revision. */
  | { action: "take-over"; lease: LeaderLease; revision: number; previous: LeaderLease }
  /** Another holder's lease is valid: look again at `retryAt` (this instance's clock). */
  | { action: "wait"; holder: string; retryAt: number };

/** Lease timing: how long a lease lasts, and by how much two instances' clocks may differ. */
export interface LeaseTiming {
  ttlMs: number;
  /** The assumed bound on clock differences between instances: a lease counts as expired only this long after its `expires_at`. */
  skewMs: number;
}

/**
 * Whether `lease` has expired for a reader whose clock says `now`: only `skewMs` after its `expires_at` (the holder's
 * clock), so a holder whose clock is behind by less than that has stopped acting first. A released lease (0) has expired.
 */
export function leaseExpired(lease: LeaderLease, now: number, skewMs: number): boolean {
  return now > lease.expires_at + skewMs;
}

/**
 * The next step of instance `holder` at `now`, given the lease it read (undefined: none). Its own lease is renewed even
 * when it has run out: the revision is still its own, so nobody took it over in between and the compare-and-set is safe.
 *
 * @example
 * decideLease({ current: undefined, holder: "planner-a:1f2e", now, ttlMs: 2000, skewMs: 250 }); // { action: "create", … }
 */
export function decideLease({
  current,
  holder,
  now,
  ttlMs,
  skewMs,
}: { current: LeaseView | undefined; holder: string; now: number } & LeaseTiming): LeaseDecision {
  if (!current) return { action: "create", lease: { holder, expires_at: now + ttlMs, acquired_at: now, term: 1 } };
  const { lease, revision } = current;
  // Its own released lease is taken like anyone's, as a new term.
  if (lease.holder === holder && lease.expires_at > 0) return { action: "renew", lease: { ...lease, expires_at: now + ttlMs }, revision };
  if (!leaseExpired(lease, now, skewMs)) return { action: "wait", holder: lease.holder, retryAt: lease.expires_at + skewMs + 1 };
  return { action: "take-over", lease: { holder, expires_at: now + ttlMs, acquired_at: now, term: lease.term + 1 }, revision, previous: lease };
}

/** The lease as released by its holder: expired at once, same holder and term, so the next holder writes term + 1. */
export function releasedLease(lease: LeaderLease): LeaderLease {
  return { ...lease, expires_at: 0 };
}

/** A holder name unique to this process: the instance name and a random part (a restarted instance is a new holder). */
export function holderName(instance: string): string {
  return `${instance}:${crypto.randomUUID().slice(0, 8)}`;
}
