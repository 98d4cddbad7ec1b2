// The analyzer's part in leader election: every instance follows the incident states published on x0.anomaly.*, and
// an instance elected leader continues them (README: "Leader and standbys").
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { Anomaly, contracts, extractTraceContext, type Live, type Logger, type Runtime, subjectOf } from "@x0/shared";
import type { Analyzer } from "./analyzer.ts";
import type { PublishedIncidents } from "./incidents/published.ts";
import type { IncidentPublisher } from "./publish.ts";

/**
 * Follows `x0.anomaly.*` into `published`. Read raw and checked quietly: the planner owns their validation and dead
 * letters, and a state this instance cannot read is one it will not continue.
 */
export function followPublishedIncidents(nc: Runtime<object>["nc"], published: PublishedIncidents): Live {
  const subject = subjectOf(contracts.anomaly, "*");
  const subscription = nc.subscribe(subject, {
    callback: (error, msg) => {
      if (error) return;
      let json: unknown;
      try {
        json = msg.json();
      } catch {
        return;
      }
      const parsed = Anomaly.safeParse(json);
      if (parsed.success) published.observe(parsed.data, Date.now(), extractTraceContext(msg.headers));
    },
  });
  return { name: `subscription ${subject}`, isLive: () => !subscription.isClosed(), stop: () => subscription.drain() };
}

/**
 * Elected: publishes again the states of the last minute (those the stream already holds are dropped as duplicates;
 * those it lost with a dying stream leader are stored), continues the previous leader's incidents (with their traces)
 * and publishes what the takeover decided.
 */
export function takeOverIncidents({
  analyzer,
  published,
  publisher,
  graceMs,
  logger,
}: {
  analyzer: Analyzer;
  published: PublishedIncidents;
  publisher: IncidentPublisher;
  graceMs: number;
  logger: Logger;
}): void {
  const recent = published.recent(Date.now());
  const republished = recent.map(({ anomaly, trace }) =>
    publisher.republish(anomaly, trace ?? ROOT_CONTEXT).catch((error) => {
      logger.warn("incident state not published again", { incident_id: anomaly.incident_id, update: anomaly.update, error });
      return false;
    }),
  );
  void Promise.all(republished).then((stored) => {
    const lost = recent.filter((_, index) => stored[index]).map(({ anomaly }) => `${anomaly.incident_id}:${anomaly.update}`);
    logger.info("leading: recent incident states published again", { states: recent.length, stored_now: lost });
  });
  const known = published.open();
  for (const last of known) {
    const trace = published.traceOf(last.incident_id);
    if (trace) publisher.adoptTrace(last.incident_id, trace);
  }
  const states = analyzer.takeOver(published, Date.now(), graceMs);
  logger.info("leading: incidents taken over", {
    published_open: known.length,
    states: states.map((state) => `${state.incident_id}:${state.update} ${state.state}`),
  });
  // Adopted incidents continue their own trace; the rest start one, as timer decisions do.
  publisher.publishAll(states, ROOT_CONTEXT);
}
