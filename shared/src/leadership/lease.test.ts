import { describe, expect, test } from "bun:test";
import { decideLease, holderName, leaseExpired, releasedLease } from "./lease.ts";

const timing = { ttlMs: 2000, skewMs: 250 };
const lease = (holder: string, expires_at: number, term = 1) => ({ holder, expires_at, acquired_at: expires_at - 2000, term });

describe("leader lease", () => {
  test("leader lease - nobody holds it: it is created as term 1, valid for the ttl", () => {
    expect(decideLease({ current: undefined, holder: "a:1", now: 10_000, ...timing })).toEqual({
      action: "create",
      lease: { holder: "a:1", expires_at: 12_000, acquired_at: 10_000, term: 1 },
    });
  });

  test("leader lease - its holder renews it on its revision, keeping term and acquired_at", () => {
    const current = { lease: lease("a:1", 11_000, 3), revision: 7 };
    expect(decideLease({ current, holder: "a:1", now: 10_500, ...timing })).toEqual({
      action: "renew",
      lease: { holder: "a:1", expires_at: 12_500, acquired_at: 9000, term: 3 },
      revision: 7,
    });
  });

  test("leader lease - another holder's lease is not taken before its expiry plus the skew margin", () => {
    const current = { lease: lease("a:1", 11_000), revision: 7 };
    expect(decideLease({ current, holder: "b:2", now: 11_000, ...timing })).toEqual({ action: "wait", holder: "a:1", retryAt: 11_251 });
    expect(decideLease({ current, holder: "b:2", now: 11_250, ...timing }).action).toBe("wait");
  });

  test("leader lease - an expired lease is taken over on its revision as the next term", () => {
    const current = { lease: lease("a:1", 11_000, 4), revision: 9 };
    expect(decideLease({ current, holder: "b:2", now: 11_251, ...timing })).toEqual({
      action: "take-over",
      lease: { holder: "b:2", expires_at: 13_251, acquired_at: 11_251, term: 5 },
      revision: 9,
      previous: current.lease,
    });
  });

  test("leader lease - a released lease is free at once, also for its former holder as a new term", () => {
    const released = releasedLease(lease("a:1", 11_000, 2));
    expect(released.expires_at).toBe(0);
    expect(leaseExpired(released, 5000, timing.skewMs)).toBe(true);
    expect(decideLease({ current: { lease: released, revision: 3 }, holder: "b:2", now: 5000, ...timing })).toMatchObject({
      action: "take-over",
      lease: { term: 3 },
    });
    expect(decideLease({ current: { lease: released, revision: 3 }, holder: "a:1", now: 5000, ...timing })).toMatchObject({
      action: "take-over",
      lease: { term: 3 },
    });
  });

  test("leader lease - holder names are unique per process and keep the instance name", () => {
    const [first, second] = [holderName("planner-a"), holderName("planner-a")];
    expect(first).toStartWith("planner-a:");
    expect(first).not.toBe(second);
  });
});
