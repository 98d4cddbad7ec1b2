// Publishes incident states on x0.anomaly, one at a time and in order, only while this instance leads; each incident is one trace.
import { type Context, trace as otelTrace } from "@opentelemetry/api";
import { type Anomaly, type Bus, contracts, type Logger } from "@x0/shared";
import type { AnalyzerMetrics } from "./metrics.ts";

/** What an {@link IncidentPublisher} publishes with and reports to. */
export interface IncidentPublisherOptions {
  bus: Bus;
  metrics: AnalyzerMetrics;
  logger: Logger;
  /** The service's /status counters: `anomalies` counts the states published. */
  counters: Record<string, number>;
  /** Whether this instance leads now: checked immediately before each publish; a standby's states are dropped. */
  isLeader?: () => boolean;
  /** Aborted when this instance stops leading: a publish retried through a NATS outage gives up. */
  signal?: () => AbortSignal | undefined;
}

/**
 * Publishes incident states durably (`Nats-Msg-Id: anomaly:<incident_id>:<update>`). One publisher at a time keeps the
 * states of an incident in order, also across NATS outages; later states continue the trace of the opened state.
 */
export class IncidentPublisher {
  readonly #options: IncidentPublisherOptions;
  readonly #traces = new Map<string, Context>();
  #outbox: Promise<unknown> = Promise.resolve();

  constructor(options: IncidentPublisherOptions) {
    this.#options = options;
  }

  /** Queues one incident state; `parent` is the trace of what caused it (a telemetry sample, or none for the timer). */
  publish(anomaly: Anomaly, parent: Context): Promise<unknown> {
    const { bus, metrics, logger, counters, isLeader = () => true, signal } = this.#options;
    this.#outbox = this.#outbox.then(async () => {
      if (!isLeader()) return;
      let trace: Context;
      try {
        ({ trace } = await bus.publishDurable(contracts.anomaly, anomaly.node, anomaly, {
          msgID: `anomaly:${anomaly.incident_id}:${anomaly.update}`,
          parent: this.#traces.get(anomaly.incident_id) ?? parent,
          signal: signal?.(),
        }));
      } catch (error) {
        // Only an aborted retry ends here: this instance stopped leading while NATS was away, and the new leader goes on.
        logger.warn("incident state not published: no longer leader", { incident_id: anomaly.incident_id, update: anomaly.update, error });
        return;
      }
      if (anomaly.state === "opened") this.#traces.set(anomaly.incident_id, trace);
      if (anomaly.state === "resolved") this.#traces.delete(anomaly.incident_id);
      metrics.published(anomaly, Date.now());
      counters.anomalies = (counters.anomalies ?? 0) + 1;
      logger.info("anomaly", {
        incident_id: anomaly.incident_id,
        state: anomaly.state,
        kind: anomaly.kind,
        node: anomaly.node,
        target: anomaly.target?.id,
        resolution: anomaly.resolution,
        // The incident's trace, not the one of the telemetry sample whose handler queued this publish.
        trace_id: otelTrace.getSpanContext(trace)?.traceId,
      });
    });
    return this.#outbox;
  }

  /**
   * Publishes again, in order, a state another leader published (a subscriber may have seen it while the stream never
   * stored it: its leader died with it). Same message id: the stream stores it only if it does not hold it yet.
   * Resolves to whether it was stored now.
   */
  republish(anomaly: Anomaly, trace: Context): Promise<boolean> {
    const { bus, isLeader = () => true, signal } = this.#options;
    const stored = this.#outbox.then(async () => {
      if (!isLeader()) return false;
      const { ack } = await bus.publishDurable(contracts.anomaly, anomaly.node, anomaly, {
        msgID: `anomaly:${anomaly.incident_id}:${anomaly.update}`,
        parent: trace,
        signal: signal?.(),
      });
      return !ack.duplicate;
    });
    this.#outbox = stored.catch(() => undefined);
    return stored;
  }

  /** Continues the trace of an incident this instance did not open (taken over from the previous leader). */
  adoptTrace(incidentId: string, trace: Context): void {
    this.#traces.set(incidentId, trace);
  }

  /** Queues the states one analyzer call emitted, in order. */
  publishAll(anomalies: Iterable<Anomaly>, parent: Context): void {
    for (const anomaly of anomalies) void this.publish(anomaly, parent);
  }

  /** Resolves once every state queued so far is published. */
  flushed(): Promise<unknown> {
    return this.#outbox;
  }
}
