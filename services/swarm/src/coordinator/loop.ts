// A coordinator's rounds while it holds its lease (leader.swarm, or a site's): open, wait for updates, close, pause;
// a lost lease aborts the open round without writing anything.
import type { Logger } from "@x0/shared";
import type { SwarmMetrics } from "../metrics.ts";
import { PrivacyBudgetExhausted } from "../privacy/dp.ts";
import type { AdapterRoundResult } from "../sites/site-coordinator.ts";
import type { RoundResult } from "./coordinator.ts";

/** What the loop drives: the model's coordinator or a site's adapter coordinator. */
export interface RoundRunner<Result> {
  open(): Promise<{ round: number; round_id: string; base_version: number; deadline_at: number }>;
  waitForUpdates(signal: AbortSignal): Promise<void>;
  close(): Promise<Result | undefined>;
  abandon(): void;
}

/** What the round loop needs. */
export interface RoundLoopOptions<Result> {
  runner: RoundRunner<Result>;
  /** Aborted when this instance's term ends. */
  signal: AbortSignal;
  intervalMs: number;
  logger: Logger;
  /** What became of a closed round (metrics, log). */
  onClosed: (result: Result) => void;
  /** A round that failed to open or close (not a lost lease). */
  onFailed: (error: unknown) => void;
}

/** Waits `ms`, or less when `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Waits until `deadlineAt` (clock `now`), or until `done` resolves or `signal` aborts, whichever is first. */
export async function waitForRound(deadlineAt: number, done: Promise<void>, signal: AbortSignal, now: () => number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const aborted = Promise.withResolvers<void>();
  const onAbort = () => aborted.resolve();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadlineAt - now())))), aborted.promise]);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}

/** Runs rounds until `signal` aborts. */
export async function runRounds<Result>({ runner, signal, intervalMs, logger, onClosed, onFailed }: RoundLoopOptions<Result>): Promise<void> {
  while (!signal.aborted) {
    try {
      const round = await runner.open();
      logger.info("round opened", { round: round.round, round_id: round.round_id, base_version: round.base_version, deadline_at: round.deadline_at });
      await runner.waitForUpdates(signal);
      if (signal.aborted) {
        runner.abandon();
        logger.warn("coordinator lease lost: round abandoned, nothing written", { round: round.round });
        break;
      }
      const result = await runner.close();
      if (result) onClosed(result);
    } catch (error) {
      runner.abandon();
      if (signal.aborted) break;
      onFailed(error);
    }
    await pause(intervalMs, signal);
  }
}

/** The model coordinator's report of a closed round: metrics and one log line. */
export function reportModelRound(result: RoundResult, metrics: SwarmMetrics, logger: Logger): void {
  metrics.roundDuration.observe(result.durationMs / 1000);
  metrics.participants.set(result.outcome.participants.length);
  if (!result.version) {
    metrics.rounds.inc({ outcome: "unpublished" });
    logger.warn("round published no model", { round: result.round.round, reason: result.outcome.published ? "" : result.outcome.reason });
    return;
  }
  const { version } = result;
  metrics.rounds.inc({ outcome: version.status });
  metrics.versions.inc({ status: version.status });
  if (version.privacy) metrics.privacyEpsilon.set(version.privacy.epsilon);
  if (version.status === "adopted") {
    metrics.currentVersion.set(version.version);
    metrics.validationF1.set(version.validation.macro_f1);
  }
  logger.info(`model version ${version.status}`, {
    round: result.round.round,
    version: version.version,
    participants: version.participants.length,
    used: version.used.length,
    refused: version.refused,
    macro_f1: version.validation.macro_f1,
    current_macro_f1: version.current_macro_f1,
    ...(version.reason ? { reason: version.reason } : {}),
  });
}

/** The model coordinator's report of a round that failed: a spent privacy budget is its own outcome. */
export function reportModelFailure(error: unknown, metrics: SwarmMetrics, logger: Logger): void {
  if (error instanceof PrivacyBudgetExhausted) {
    metrics.rounds.inc({ outcome: "budget" });
    logger.warn("round not opened: the privacy budget is spent", { reason: error.message });
  } else {
    metrics.rounds.inc({ outcome: "failed" });
    logger.error("round failed", { error });
  }
}

/** A site coordinator's report of a closed adapter round: metrics and one log line. */
export function reportAdapterRound(result: AdapterRoundResult, metrics: SwarmMetrics, logger: Logger): void {
  const { version } = result;
  if (!version) {
    metrics.adapterRounds.inc({ outcome: "unpublished" });
    logger.warn("adapter round published nothing", { round: result.round.round, reason: result.outcome.published ? "" : result.outcome.reason });
    return;
  }
  metrics.adapterRounds.inc({ outcome: version.status });
  if (version.status === "adopted") {
    metrics.adapterVersion.set(version.version);
    metrics.adapterF1.set({ model: "adapted" }, version.validation.macro_f1);
  }
  metrics.adapterF1.set({ model: "base" }, version.base_macro_f1);
  logger.info(`adapter version ${version.status}`, {
    round: result.round.round,
    version: version.version,
    base_version: version.base_version,
    participants: version.participants.length,
    macro_f1: version.validation.macro_f1,
    base_macro_f1: version.base_macro_f1,
    current_macro_f1: version.current_macro_f1,
    ...(version.reason ? { reason: version.reason } : {}),
  });
}
