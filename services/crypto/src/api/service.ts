// The crypto endpoints on the NATS services API (group x0.crypto, $SRV discovery, ADR-32 error headers).
import type { Service } from "@nats-io/services";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  BackendUnavailable,
  CRYPTO_GROUP,
  CRYPTO_SERVICE_NAME,
  type CryptoEndpoint,
  cryptoEndpoints,
  InvalidCryptoInput,
  type Logger,
  parseMicroRequest,
  serveMicro,
} from "@x0/shared";
import type { Counter } from "prom-client";
import type { z } from "zod";
import type { CryptoHandlers } from "./handlers.ts";

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
  const parsed = parseMicroRequest(cryptoEndpoints[endpoint].request as z.ZodType, data);
  return parsed as { ok: true; value: z.infer<(typeof cryptoEndpoints)[E]["request"]> } | { ok: false; error: string };
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
  // Requests can hold secret keys, so a bad one is answered and counted but not dead-lettered.
  return serveMicro({
    nc,
    name: CRYPTO_SERVICE_NAME,
    group: CRYPTO_GROUP,
    description: "x0tta6bl4 key authority and post-quantum crypto API: ML-KEM-768, ML-DSA-65, X-Wing, keyring",
    version,
    metadata,
    endpoints: cryptoEndpoints,
    handlers,
    errorReply,
    requests,
    logger,
  });
}
