// The crypto endpoints on the NATS services API (group x0.crypto, $SRV discovery, ADR-32 error headers).
import { type Service, type ServiceMsg, Svcm } from "@nats-io/services";
import type { NatsConnection } from "@nats-io/transport-node";
import { BackendUnavailable, CRYPTO_GROUP, CRYPTO_SERVICE_NAME, type CryptoEndpoint, cryptoEndpoints, InvalidCryptoInput, type Logger } from "@x0/shared";
import type { Counter } from "prom-client";
import { z } from "zod";
import type { CryptoHandlers } from "./handlers.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/** The ADR-32 error code and description for an error thrown by a handler. */
export function errorReply(error: unknown): { code: number; description: string } {
  if (error instanceof InvalidCryptoInput) return { code: 400, description: error.message };
  if (error instanceof BackendUnavailable) return { code: 501, description: error.message };
  return { code: 500, description: "internal error" };
}

/** Parses and validates a request body; a problem becomes a 400 description. */
export function parseRequest<E extends CryptoEndpoint>(
  endpoint: E,
  data: Uint8Array,
): { ok: true; value: z.infer<(typeof cryptoEndpoints)[E]["request"]> } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = data.length === 0 ? {} : JSON.parse(decoder.decode(data));
  } catch (error) {
    return { ok: false, error: `invalid JSON: ${(error as Error).message}` };
  }
  const checked = cryptoEndpoints[endpoint].request.safeParse(json);
  if (!checked.success) return { ok: false, error: z.prettifyError(checked.error).replace(/\s*\n\s*/g, "; ") };
  return { ok: true, value: checked.data as z.infer<(typeof cryptoEndpoints)[E]["request"]> };
}

/** Adds the service and every endpoint; requests are counted by endpoint and outcome (2xx, 4xx, 5xx). */
export async function serveCrypto({
  nc,
  handlers,
  version,
  metadata,
  requests,
  logger,
}: {
  nc: NatsConnection;
  handlers: CryptoHandlers;
  version: string;
  metadata: Record<string, string>;
  requests: Counter<"endpoint" | "outcome">;
  logger: Logger;
}): Promise<Service> {
  // @nats-io/services' last release (3.0.0-25) types against nats-core 3.0.0-50; the connection is wire-compatible.
  const service = await new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]).add({
    name: CRYPTO_SERVICE_NAME,
    version,
    description: "x0tta6bl4 key authority and post-quantum crypto API: ML-KEM-768, ML-DSA-65, X-Wing, keyring",
    metadata,
  });
  const group = service.addGroup(CRYPTO_GROUP);
  for (const endpoint of Object.keys(cryptoEndpoints) as CryptoEndpoint[]) {
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
          logger.error("crypto endpoint subscription error", { endpoint, error });
          return;
        }
        // Requests can hold secret keys, so a bad one is answered and counted but not dead-lettered.
        const parsed = parseRequest(endpoint, msg.data);
        if (!parsed.ok) return respondError(msg, 400, parsed.error);
        const handler = handlers[endpoint] as (request: unknown) => Promise<unknown>;
        void handler(parsed.value).then(
          (response) => {
            requests.inc({ endpoint, outcome: "2xx" });
            msg.respond(JSON.stringify(cryptoEndpoints[endpoint].response.parse(response)));
          },
          (handlerError: unknown) => {
            const { code, description } = errorReply(handlerError);
            if (code >= 500) logger.error("crypto endpoint failed", { endpoint, error: handlerError });
            respondError(msg, code, description);
          },
        );
      },
    });
  }
  return service;
}
