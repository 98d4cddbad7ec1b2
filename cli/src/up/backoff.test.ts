import { describe, expect, test } from "bun:test";
import { DEFAULT_BACKOFF_POLICY, nextCrashStreak, restartDelayMs } from "./backoff.ts";

describe("backoff", () => {
  test("backoff - starts at 0.5 s and doubles per crash in a row", () => {
    expect([1, 2, 3, 4, 5, 6].map((streak) => restartDelayMs(streak))).toEqual([500, 1000, 2000, 4000, 8000, 16000]);
  });

  test("backoff - never waits more than 30 s, however long the streak", () => {
    expect(restartDelayMs(7)).toBe(30_000);
    expect(restartDelayMs(10_000)).toBe(30_000);
  });

  test("backoff - a crash after a minute of running starts a new streak", () => {
    expect(nextCrashStreak(0, 100)).toBe(1);
    expect(nextCrashStreak(5, 59_999)).toBe(6);
    expect(nextCrashStreak(5, 60_000)).toBe(1);
  });

  test("backoff - follows a custom policy", () => {
    const policy = { ...DEFAULT_BACKOFF_POLICY, initialMs: 10, maxMs: 25, resetAfterMs: 5 };
    expect([1, 2, 3].map((streak) => restartDelayMs(streak, policy))).toEqual([10, 20, 25]);
    expect(nextCrashStreak(3, 5, policy)).toBe(1);
  });
});
