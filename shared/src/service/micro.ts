// A NATS services API (ADR-32) service from a table of endpoint contracts: request parsing into one-line 400 reasons,
// handler errors mapped to codes, every request counted by endpoint and outcome. The crypto service and the rag use it.
import { type Service, type ServiceMsg, Svcm } from "@nats-io/services";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import type { Counter, Histogram } from "prom-client";
import { z } from "zod";
import type { Logger } from "../observability/logger.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/** One endpoint's contract: what it does, its request and response schemas. */
export interface MicroEndpoint {
  readonly summary: string;
  readonly request: z.ZodType;
  readonly response: z.ZodType;
}

/** A handler per endpoint of `E`, given the parsed request. */
export type MicroHandlers<E extends Record<string, MicroEndpoint>> = {
  [K in keyof E]: (request: z.infer<E[K]["request"]>) => Promise<z.input<E[K]["response"]>>;
};

/** Parses and validates a request body against `schema`; a problem becomes a one-line 400 description. */
export function parseMicroRequest<S extends z.ZodType>(schema: S, data: Uint8Array): { ok: true; value: z.infer<S> } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = data.length === 0 ? {} : JSON.parse(decoder.decode(data));
  } catch (error) {
    return { ok: false, error: `invalid JSON: ${(error as Error).message}` };
  }
  const checked = schema.safeParse(json);
  if (!checked.success) return { ok: false, error: z.prettifyError(checked.error).replace(/\s*\n\s*/g, "; ") };
  return { ok: true, value: checked.data };
}

/** What {@link serveMicro} needs. */
export interface MicroOptions<E extends Record<string, MicroEndpoint>> {
  nc: NatsConnection;
  /** The service name in $SRV discovery, its group (the subjects' prefix), its description, version and metadata. */
  name: string;
  group: string;
  description: string;
  version: string;
  metadata: Record<string, string>;
  endpoints: E;
  handlers: MicroHandlers<E>;
  /** The ADR-32 code and description of a handler's error (500s are logged; their description should say nothing inside). */
  errorReply(error: unknown): { code: number; description: string };
  /** Called with every request that fails to parse, before its 400 reply (e.g. to dead-letter it). */
  onInvalid?: (msg: { subject: string; data: Uint8Array; headers: MsgHdrs | undefined }, endpoint: string, reason: string) => void;
  requests: Counter<"endpoint" | "outcome">;
  /** Time to answer, by endpoint (successful requests). */
  duration?: Histogram<"endpoint">;
  logger: Logger;
}

/** Adds the service and every endpoint (subject `<group>.<endpoint>`); returns the running service. */
export async function serveMicro<E extends Record<string, MicroEndpoint>>(options: MicroOptions<E>): Promise<Service> {
  const { nc, endpoints, handlers, requests, duration, logger } = options;
  // @nats-io/services' last release (3.0.0-25) types against nats-core 3.0.0-50; the connection is wire-compatible.
  const service = await new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]).add({
    name: options.name,
    version: options.version,
    description: options.description,
    metadata: options.metadata,
  });
  const group = service.addGroup(options.group);
  for (const endpoint of Object.keys(endpoints) as (keyof E & string)[]) {
    const contract = endpoints[endpoint] as MicroEndpoint;
    const respondError = (msg: ServiceMsg, code: number, description: string) => {
      requests.inc({ endpoint, outcome: `${Math.floor(code / 100)}xx` });
      // Header values are single lines.
      msg.respondError(code, description.replace(/\s*[\r\n]+\s*/g, "; ").slice(0, 512));
    };
    group.addEndpoint(endpoint.replace(".", "-"), {
      subject: endpoint,
      metadata: { endpoint },
      handler: (error, msg) => {
        if (error) {
          logger.error("service endpoint subscription error", { service: options.name, endpoint, error });
          return;
        }
        const started = performance.now();
        const parsed = parseMicroRequest(contract.request, msg.data);
        if (!parsed.ok) {
          // (The services API types headers against an older nats-core; they are the same on the wire.)
          options.onInvalid?.({ subject: msg.subject, data: msg.data, headers: msg.headers as unknown as MsgHdrs | undefined }, endpoint, parsed.error);
          return respondError(msg, 400, parsed.error);
        }
        const handler = handlers[endpoint] as (request: unknown) => Promise<unknown>;
        void handler(parsed.value).then(
          (response) => {
            requests.inc({ endpoint, outcome: "2xx" });
            msg.respond(JSON.stringify(contract.response.parse(response)));
            duration?.observe({ endpoint }, (performance.now() - started) / 1000);
          },
          (handlerError: unknown) => {
            const { code, description } = options.errorReply(handlerError);
            if (code >= 500) logger.error("service endpoint failed", { service: options.name, endpoint, error: handlerError });
            respondError(msg, code, description);
          },
        );
      },
    });
  }
  return service;
}
