import type { StackFile } from "../stack-file.ts";
import { KNOWN_SERVICE_OFFSETS } from "../up/ports.ts";
import type { FoundService } from "./discover.ts";

/** How `x0 status` came to ask a service. */
export type FoundBy = "url" | "stack" | "nats" | "port";

/** A service `x0 status` asks: its name when known beforehand, its base URL, and how it was found. */
export interface Target {
  name: string | undefined;
  url: string;
  found_by: FoundBy;
}

/**
 * Offsets from X0_HTTP_PORT_BASE of the seven services' HTTP ports: what `up` gives them when they all run (the loop's
 * fixed ones, then the others by name), which are also their own defaults (httpPort in services/<name>/src/main.ts).
 */
export const STACK_SERVICE_OFFSETS: Readonly<Record<string, number>> = { ...KNOWN_SERVICE_OFFSETS, crypto: 4, rag: 5, swarm: 6 };

/**
 * The services to ask: the `--url`s when given; else those of the stack file; else the services NATS discovery found
 * (by the HTTP address they announce) and every other service at its default port from `base`.
 */
export function resolveTargets(urls: readonly string[], stack: StackFile | undefined, base: number, found: readonly FoundService[] = []): Target[] {
  if (urls.length > 0) return urls.map((url) => ({ name: undefined, url, found_by: "url" }));
  if (stack !== undefined) return stack.services.map(({ name, host = "127.0.0.1", port }) => ({ name, url: `http://${host}:${port}`, found_by: "stack" }));
  const discovered = found.flatMap(({ name, url }): Target[] => (url === undefined ? [] : [{ name: name.replace(/^x0-/, ""), url, found_by: "nats" }]));
  const named = new Set(discovered.map((target) => target.name));
  const defaults = Object.entries(STACK_SERVICE_OFFSETS)
    .sort(([, left], [, right]) => left - right)
    .filter(([name]) => !named.has(name))
    .map(([name, offset]): Target => ({ name, url: `http://127.0.0.1:${base + offset}`, found_by: "port" }));
  const byUrl = new Map<string, Target>();
  for (const target of [...defaults, ...discovered]) if (!byUrl.has(target.url)) byUrl.set(target.url, target);
  return [...byUrl.values()].sort((left, right) => rank(left.name) - rank(right.name) || (left.name ?? "").localeCompare(right.name ?? ""));
}

/** The stack's order: the loop services, the others by offset, then services only discovery knows. */
function rank(name: string | undefined): number {
  return (name === undefined ? undefined : STACK_SERVICE_OFFSETS[name]) ?? Number.MAX_SAFE_INTEGER;
}
