// Asks the rag for cases similar to an incident, within a deadline: a slow or absent rag costs at most the deadline,
// and the planner then ranks without it (counted in x0_planner_rag_fallbacks_total by reason).
import { type Anomaly, type Logger, RAG_GROUP, RateLimiter, ragEndpoints } from "@x0/shared";
import type { Counter } from "prom-client";
import { type SimilarCase, similarCasesOf } from "../outcomes/similar.ts";

/** Cases asked for per incident. */
const CASES_ASKED = 10;

/** What the asker needs of a NATS connection: request/reply. */
export interface Requester {
  request(subject: string, payload: string, options: { timeout: number }): Promise<{ headers?: { get(key: string): string } | undefined; json<T>(): T }>;
}

/** Why a question to the rag gave nothing usable. */
export type FallbackReason = "timeout" | "no_responders" | "error";

/** The reason of a failed request, from the NATS client's error. */
export function fallbackReasonOf(error: unknown): FallbackReason {
  const text = `${(error as Error)?.name ?? ""} ${(error as Error)?.message ?? ""}`;
  if (/no ?responders/i.test(text)) return "no_responders";
  if (/timeout/i.test(text)) return "timeout";
  return "error";
}

/** A function asking the rag for an anomaly's similar cases (undefined: plan without them). */
export function ragAsker({
  nc,
  deadlineMs,
  fallbacks,
  logger,
}: {
  nc: Requester;
  deadlineMs: number;
  fallbacks: Counter<"reason">;
  logger: Logger;
}): (anomaly: Anomaly) => Promise<SimilarCase[] | undefined> {
  // One warning per reason a minute: a dead rag must not flood the log at every incident.
  const limiter = new RateLimiter(1, 60_000);
  const fallBack = (reason: FallbackReason, error: unknown): undefined => {
    fallbacks.inc({ reason });
    const suppressed = limiter.take(reason);
    if (suppressed >= 0) logger.warn("planning without the rag", { reason, deadline_ms: deadlineMs, error, suppressed_since_last: suppressed });
    return undefined;
  };
  return async (anomaly) => {
    const body = {
      case: {
        kind: anomaly.kind,
        severity: anomaly.severity,
        node: anomaly.node,
        metric: anomaly.metric,
        observed: anomaly.observed,
        score: Math.abs(anomaly.score),
        ...(anomaly.target ? { target: anomaly.target } : {}),
        ...(anomaly.evidence ? { evidence: anomaly.evidence } : {}),
      },
      k: CASES_ASKED,
      include: ["cases"],
      min_score: 0,
    };
    try {
      const reply = await nc.request(`${RAG_GROUP}.search`, JSON.stringify(body), { timeout: deadlineMs });
      const code = reply.headers?.get("Nats-Service-Error-Code");
      if (code) return fallBack("error", `rag answered ${code}: ${reply.headers?.get("Nats-Service-Error")}`);
      const parsed = ragEndpoints.search.response.safeParse(reply.json<unknown>());
      if (!parsed.success) return fallBack("error", `rag reply violates its contract: ${parsed.error.message}`);
      return similarCasesOf(parsed.data.hits);
    } catch (error) {
      return fallBack(fallbackReasonOf(error), error);
    }
  };
}
