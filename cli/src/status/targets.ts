import type { StackFile } from "../stack-file.ts";
import { KNOWN_SERVICE_OFFSETS } from "../up/ports.ts";

/** A service `x0 status` asks: its name when known beforehand, and its base URL. */
export interface Target {
  name: string | undefined;
  url: string;
}

/** The services to ask: the `--url`s when given, else those of the stack file, else the default ports from `base`. */
export function resolveTargets(urls: readonly string[], stack: StackFile | undefined, base: number): Target[] {
  if (urls.length > 0) return urls.map((url) => ({ name: undefined, url }));
  if (stack !== undefined) return stack.services.map(({ name, host = "127.0.0.1", port }) => ({ name, url: `http://${host}:${port}` }));
  return Object.entries(KNOWN_SERVICE_OFFSETS)
    .sort(([, left], [, right]) => left - right)
    .map(([name, offset]) => ({ name, url: `http://127.0.0.1:${base + offset}` }));
}
