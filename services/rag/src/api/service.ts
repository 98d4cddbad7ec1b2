// The rag endpoints on the NATS services API (group x0.rag, $SRV discovery, ADR-32 error headers).
// A malformed request is answered 400 and dead-lettered with the reason; the service stays up.
import type { Service } from "@nats-io/services";
import type { NatsConnection } from "@nats-io/transport-node";
import { type Bus, type Logger, type MicroHandlers, RAG_GROUP, RAG_SERVICE_NAME, ragEndpoints, serveMicro } from "@x0/shared";
import type { Counter, Histogram } from "prom-client";
import { NotFound } from "../knowledge/errors.ts";

/** A handler per endpoint, given the parsed request. */
export type RagHandlers = MicroHandlers<typeof ragEndpoints>;

/** The ADR-32 code and description for a handler's error. */
export function errorReply(error: unknown): { code: number; description: string } {
  if (error instanceof NotFound) return { code: 404, description: error.message };
  return { code: 500, description: "internal error" };
}

/** Adds the service and its endpoints; requests are counted by endpoint and outcome, and timed. */
export async function serveRag({
  nc,
  bus,
  handlers,
  version,
  metadata,
  requests,
  duration,
  logger,
}: {
  nc: NatsConnection;
  bus: Bus;
  handlers: RagHandlers;
  version: string;
  metadata: Record<string, string>;
  requests: Counter<"endpoint" | "outcome">;
  duration: Histogram<"endpoint">;
  logger: Logger;
}): Promise<Service> {
  return serveMicro({
    nc,
    name: RAG_SERVICE_NAME,
    group: RAG_GROUP,
    description: "x0tta6bl4 incident memory: similar cases and runbook sections for the planner and operators",
    version,
    metadata,
    endpoints: ragEndpoints,
    handlers,
    errorReply,
    onInvalid: (msg, endpoint, reason) => bus.deadLetter(msg.subject, `${RAG_GROUP}.${endpoint}`, msg.data, msg.headers, reason),
    requests,
    duration,
    logger,
  });
}
