// Overdue reports: when a hello peer stops answering, the monitor tells the analyzer at hello pace, so detection does not
// wait for the next telemetry sample (up to one telemetry interval: 1 s on a slow node).
import { ConfigError, type ProbeOverdue, type ProbeSample } from "@x0/shared";
import type { PeerStats } from "./prober.ts";

/** Hello intervals of silence after which a peer is overdue, when X0_MONITOR_PROBE_OVERDUE_MS is not set. */
export const DEFAULT_OVERDUE_INTERVALS = 3;
/** Fewer hello intervals than this would report ordinary gaps between replies. */
const MIN_OVERDUE_INTERVALS = 2;

/**
 * The silence in ms after which a peer is overdue, from X0_MONITOR_PROBE_OVERDUE_MS: unset → 3 hello intervals,
 * `off` or 0 → never, else a number of ms of at least 2 hello intervals (a {@link ConfigError} otherwise).
 */
export function overdueAfterMs(setting: string | undefined, helloIntervalMs: number): number {
  const text = setting?.trim() ?? "";
  if (text === "") return DEFAULT_OVERDUE_INTERVALS * helloIntervalMs;
  if (text === "off" || text === "0") return 0;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value))
    throw new ConfigError("X0_MONITOR_PROBE_OVERDUE_MS", `${JSON.stringify(text)} is not a number of ms or "off"`);
  if (value < MIN_OVERDUE_INTERVALS * helloIntervalMs)
    throw new ConfigError(
      "X0_MONITOR_PROBE_OVERDUE_MS",
      `${value} ms is less than ${MIN_OVERDUE_INTERVALS} hello intervals (X0_MONITOR_PROBE_INTERVAL_MS=${helloIntervalMs}): ordinary gaps between replies would be reported`,
    );
  return value;
}

/** A prober's peer results as a telemetry probe entry. */
export function probeSampleOf(stats: PeerStats): ProbeSample {
  return {
    peer: stats.peer,
    sent: stats.sent,
    received: stats.received,
    loss: stats.loss,
    rtt_ms: stats.rttMs,
    rtt_avg_ms: stats.rttAvgMs,
    last_reply_ts: stats.lastReplyTs,
    reply_interval_mean_ms: stats.replyIntervalMeanMs,
    reply_interval_stddev_ms: stats.replyIntervalStddevMs,
  };
}

/** The x0.overdue message for the peers a prober found overdue at `ts`. */
export function overdueReport(node: string, ts: number, helloIntervalMs: number, overdue: readonly PeerStats[]): ProbeOverdue {
  return { v: 1, node, ts, hello_interval_ms: helloIntervalMs, probes: overdue.map(probeSampleOf) };
}
