// The monitor's hello prober: hellos to the configured peers, overdue peers reported between telemetry samples, and
// hellos from others answered (without peers a taken port is only reported: answering others is a courtesy).
import type { Logger, ProbeOverdue } from "@x0/shared";
import { overdueAfterMs, overdueReport } from "./overdue.ts";
import { Prober, parsePeer } from "./prober.ts";

/** The hello port, and the port of a peer given without one. */
export const DEFAULT_HELLO_PORT = 7471;

/** Settings of {@link startHellos}, from the X0_MONITOR_PROBE_* variables. */
export interface HelloSettings {
  node: string;
  /** `<ipv4>[:<port>]` each. */
  peers: readonly string[];
  /** Port hellos are sent from and answered on (0: any free port; peers without a port then use the default). */
  port: number;
  intervalMs: number;
  timeoutMs: number;
  window: number;
  /** X0_MONITOR_PROBE_OVERDUE_MS as given (see {@link overdueAfterMs}). */
  overdue: string | undefined;
  /** Overdue peers are reported for two telemetry intervals: by then the samples carry the silence as well. */
  telemetryIntervalMs: number;
  /** Publishes an overdue report (x0.overdue). */
  onOverdue: (report: ProbeOverdue) => void;
  logger: Logger;
}

/** Starts the prober; undefined when no peers are configured and the port is taken. */
export async function startHellos(settings: HelloSettings): Promise<Prober | undefined> {
  const { node, port, intervalMs, logger } = settings;
  const peers = settings.peers.map((peer) => parsePeer(peer, port || DEFAULT_HELLO_PORT));
  const overdueAfter = overdueAfterMs(settings.overdue, intervalMs);
  try {
    return await Prober.start({
      peers,
      port,
      intervalMs,
      timeoutMs: settings.timeoutMs,
      window: settings.window,
      onSendError: (peer, error) => logger.debug("hello not sent", { peer, error }),
      overdueAfterMs: overdueAfter,
      overdueReportForMs: 2 * settings.telemetryIntervalMs,
      onOverdue: (overdue) => settings.onOverdue(overdueReport(node, Date.now(), intervalMs, overdue)),
    });
  } catch (error) {
    if (peers.length > 0) throw error;
    logger.warn("hello responder off: cannot bind X0_MONITOR_PROBE_PORT", { port, error });
    return undefined;
  }
}
