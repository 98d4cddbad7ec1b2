// The coordinator's rounds while it holds leader.swarm: open, wait for updates, close, pause; a lost lease aborts the
// open round without writing anything.
import type { Logger } from "@x0/shared";
import type { SwarmMetrics } from "../metrics.ts";
import { PrivacyBudgetExhausted } from "../privacy/dp.ts";
import type { Coordinator } from "./coordinator.ts";

/** What the round loop needs. */
export interface RoundLoopOptions {
  coordinator: Coordinator;
  /** Aborted when this instance's term ends. */
  signal: AbortSignal;
  intervalMs: number;
  metrics: SwarmMetrics;
  logger: Logger;
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
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

/** Runs rounds until `signal` aborts; each round's end is logged and counted. */
export async function runRounds({ coordinator, signal, intervalMs, metrics, logger }: RoundLoopOptions): Promise<void> {
  while (!signal.aborted) {
    try {
      const round = await coordinator.open();
      logger.info("round opened", { round: round.round, round_id: round.round_id, base_version: round.base_version, deadline_at: round.deadline_at });
      await coordinator.waitForUpdates(signal);
      if (signal.aborted) {
        coordinator.abandon();
        logger.warn("coordinator lease lost: round abandoned, nothing written", { round: round.round });
        break;
      }
      const result = await coordinator.close();
      if (!result) continue;
      metrics.roundDuration.observe(result.durationMs / 1000);
      metrics.participants.set(result.outcome.participants.length);
      if (!result.version) {
        metrics.rounds.inc({ outcome: "unpublished" });
        logger.warn("round published no model", { round: round.round, reason: result.outcome.published ? "" : result.outcome.reason });
      } else {
        const { version } = result;
        metrics.rounds.inc({ outcome: version.status });
        metrics.versions.inc({ status: version.status });
        if (version.privacy) metrics.privacyEpsilon.set(version.privacy.epsilon);
        if (version.status === "adopted") {
          metrics.currentVersion.set(version.version);
          metrics.validationF1.set(version.validation.macro_f1);
        }
        logger.info(`model version ${version.status}`, {
          round: round.round,
          version: version.version,
          participants: version.participants.length,
          used: version.used.length,
          refused: version.refused,
          macro_f1: version.validation.macro_f1,
          current_macro_f1: version.current_macro_f1,
          ...(version.reason ? { reason: version.reason } : {}),
        });
      }
    } catch (error) {
      coordinator.abandon();
      if (signal.aborted) break;
      if (error instanceof PrivacyBudgetExhausted) {
        metrics.rounds.inc({ outcome: "budget" });
        logger.warn("round not opened: the privacy budget is spent", { reason: error.message });
      } else {
        metrics.rounds.inc({ outcome: "failed" });
        logger.error("round failed", { error });
      }
    }
    await pause(intervalMs, signal);
  }
}
