import { z } from "zod";

/** The JSON a service answers on GET /status (see shared/src/service/runtime.ts). */
export const ServiceStatus = z.object({
  service: z.string(),
  version: z.string(),
  node: z.string(),
  instance: z.string().optional(),
  ready: z.boolean(),
  nats: z.object({ connected: z.boolean(), server: z.string().nullable().optional() }),
  started_at: z.string().optional(),
  counters: z.record(z.string(), z.number()).default({}),
});
/** A parsed /status answer. */
export type ServiceStatus = z.infer<typeof ServiceStatus>;

/** What asking one service's /readyz and /status found. */
export interface ServiceProbe {
  url: string;
  /** Whether the service answered at all. */
  reachable: boolean;
  /** Whether /readyz answered 200. */
  ready: boolean;
  status: ServiceStatus | undefined;
  /** Why the service is down or its /status unusable. */
  error: string | undefined;
}

/** Asks the service at `baseUrl` for /readyz and /status. */
export async function probeService(baseUrl: string, timeoutMs = 2000): Promise<ServiceProbe> {
  const [readyz, status] = await Promise.all([fetchAnswer(`${baseUrl}/readyz`, timeoutMs), fetchAnswer(`${baseUrl}/status`, timeoutMs)]);
  if (!readyz.ok && !status.ok) return { url: baseUrl, reachable: false, ready: false, status: undefined, error: readyz.error };
  const ready = readyz.ok && readyz.status === 200;
  if (!status.ok) return { url: baseUrl, reachable: true, ready, status: undefined, error: `/status: ${status.error}` };
  if (status.status !== 200) return { url: baseUrl, reachable: true, ready, status: undefined, error: `/status answered HTTP ${status.status}` };
  const parsed = ServiceStatus.safeParse(status.json);
  if (!parsed.success)
    return { url: baseUrl, reachable: true, ready, status: undefined, error: `/status: unexpected answer: ${z.prettifyError(parsed.error)}` };
  return { url: baseUrl, reachable: true, ready, status: parsed.data, error: undefined };
}

type Answer = { ok: true; status: number; json: unknown } | { ok: false; error: string };

async function fetchAnswer(url: string, timeoutMs: number): Promise<Answer> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    return { ok: false, error: describeFetchError(error) };
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text; // Not JSON: the schema check reports it.
  }
  return { ok: true, status: response.status, json };
}

function describeFetchError(error: unknown): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) return "no answer in time";
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ConnectionRefused" || code === "ECONNREFUSED" ? "connection refused" : (error as Error).message;
}
