/** How crashed processes are restarted. */
export interface BackoffPolicy {
  /** Delay before the first restart. */
  initialMs: number;
  /** The delay doubles per consecutive crash up to this. */
  maxMs: number;
  /** A process that ran this long before crashing starts again at `initialMs`. */
  resetAfterMs: number;
}

/** 0.5 s doubling to 30 s, reset after a minute of running. */
export const DEFAULT_BACKOFF_POLICY: BackoffPolicy = { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 };

/** The delay before the restart that follows `streak` consecutive crashes (streak ≥ 1). */
export function restartDelayMs(streak: number, policy: BackoffPolicy = DEFAULT_BACKOFF_POLICY): number {
  const doublings = Math.max(0, streak - 1);
  // 2 ** 1024 is Infinity; Math.min still gives maxMs.
  return Math.min(policy.maxMs, policy.initialMs * 2 ** doublings);
}

/** The crash streak after a crash of a process that ran `ranForMs`: a long healthy run starts a new streak. */
export function nextCrashStreak(previousStreak: number, ranForMs: number, policy: BackoffPolicy = DEFAULT_BACKOFF_POLICY): number {
  return ranForMs >= policy.resetAfterMs ? 1 : previousStreak + 1;
}
