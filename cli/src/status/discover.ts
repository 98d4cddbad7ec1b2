// NATS service discovery (ADR-32) for `x0 status`: every service registered with the services API answers $SRV.PING
// with its name, id, version and metadata; ours announce their HTTP address there (`http_url`, see Runtime.discovery).

import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";

/** The subject every services-API service answers a ping on. */
export const SERVICE_PING_SUBJECT = "$SRV.PING";

/** The metadata key under which our services announce the base URL of their HTTP endpoints. */
export const HTTP_URL_METADATA = "http_url";

const ServiceIdentity = z.object({
  name: z.string().min(1),
  id: z.string().min(1),
  version: z.string(),
  metadata: z.record(z.string(), z.string()).nullish(),
});

/** A service instance that answered the ping. */
export interface FoundService {
  /** Its services-API name (`x0-crypto`). */
  name: string;
  id: string;
  version: string;
  /** Where its /readyz and /status answer, when it says. */
  url: string | undefined;
}

/**
 * Every service instance that answers $SRV.PING within `maxWaitMs`. Asked by hand rather than through the services
 * API's client: that client ends at the first reply that is not JSON, so one stray responder would hide every service.
 */
export async function pingServices(nc: NatsConnection, maxWaitMs = 1000): Promise<FoundService[]> {
  const replies = await nc.requestMany(SERVICE_PING_SUBJECT, "", { strategy: "timer", maxWait: maxWaitMs });
  const found: FoundService[] = [];
  for await (const reply of replies) {
    let json: unknown;
    try {
      json = reply.json();
    } catch {
      continue;
    }
    const parsed = ServiceIdentity.safeParse(json);
    if (!parsed.success) continue;
    const { name, id, version, metadata } = parsed.data;
    found.push({ name, id, version, url: metadata?.[HTTP_URL_METADATA] || undefined });
  }
  return found.sort((left, right) => left.name.localeCompare(right.name) || left.id.localeCompare(right.id));
}
