// The rag endpoints on the NATS services API (group x0.rag, $SRV discovery, ADR-32 error headers).
// A malformed request is answered 400 and dead-lettered with the reason; the service stays up.
import { type Service, type ServiceMsg, Svcm } from "@nats-io/services";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Bus } from "@x0/shared";
import { type Logger, RAG_GROUP, RAG_SERVICE_NAME, type RagEndpoint, type RagResponse, ragEndpoints } from "@x0/shared";
import type { Counter, Histogram } from "prom-client";
import { z } from "zod";
import { NotFound } from "../knowledge/errors.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/** A handler per endpoint, given the parsed request. */
export type RagHandlers = { [E in RagEndpoint]: (request: z.infer<(typeof ragEndpoints)[E]["request"]>) => Promise<RagResponse<E>> };

/** The ADR-32 code and description for a handler's error. */
export function errorReply(error: unknown): { code: number; description: string } {
  if (error instanceof NotFound) return { code: 404, description: error.message };
  return { code: 500, description: "internal error" };
}

/** Parses and validates a request body; a problem becomes a 400 description. */
export function parseRequest<E extends RagEndpoint>(
  endpoint: E,
  data: Uint8Array,
): { ok: true; value: z.infer<(typeof ragEndpoints)[E]["request"]> } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = data.length === 0 ? {} : JSON.parse(decoder.decode(data));
  } catch (error) {
    return { ok: false, error: `invalid JSON: ${(error as Error).message}` };
  }
  const checked = ragEndpoints[endpoint].request.safeParse(json);
  if (!checked.success) return { ok: false, error: z.prettifyError(checked.error).replace(/\s*\n\s*/g, "; ") };
  return { ok: true, value: checked.data as z.infer<(typeof ragEndpoints)[E]["request"]> };
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
  // @nats-io/services' last release (3.0.0-25) types against nats-core 3.0.0-50; the connection is wire-compatible.
  const service = await new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]).add({
    name: RAG_SERVICE_NAME,
    version,
    description: "x0tta6bl4 incident memory: similar cases and runbook sections for the planner and operators",
    metadata,
  });
  const group = service.addGroup(RAG_GROUP);
  for (const endpoint of Object.keys(ragEndpoints) as RagEndpoint[]) {
    const respondError = (msg: ServiceMsg, code: number, description: string) => {
      requests.inc({ endpoint, outcome: `${Math.floor(code / 100)}xx` });
      msg.respondError(code, description.replace(/\s*[\r\n]+\s*/g, "; ").slice(0, 512));
    };
    group.addEndpoint(endpoint, {
      subject: endpoint,
      metadata: { endpoint },
      handler: (error, msg) => {
        if (error) {
          logger.error("rag endpoint subscription error", { endpoint, error });
          return;
        }
        const started = performance.now();
        const parsed = parseRequest(endpoint, msg.data);
        if (!parsed.ok) {
          // (The services API types headers against an older nats-core; they are the same on the wire.)
          bus.deadLetter(msg.subject, `${RAG_GROUP}.${endpoint}`, msg.data, msg.headers as Parameters<Bus["deadLetter"]>[3], parsed.error);
          return respondError(msg, 400, parsed.error);
        }
        const handler = handlers[endpoint] as (request: unknown) => Promise<unknown>;
        void handler(parsed.value).then(
          (response) => {
            requests.inc({ endpoint, outcome: "2xx" });
            msg.respond(JSON.stringify(ragEndpoints[endpoint].response.parse(response)));
            duration.observe({ endpoint }, (performance.now() - started) / 1000);
          },
          (handlerError: unknown) => {
            const { code, description } = errorReply(handlerError);
            if (code >= 500) logger.error("rag endpoint failed", { endpoint, error: handlerError });
            respondError(msg, code, description);
          },
        );
      },
    });
  }
  return service;
}
