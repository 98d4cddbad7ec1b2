import { parseArgs } from "node:util";
import { UsageError } from "../errors.ts";

/** What `x0 status` was asked to do. */
export interface StatusOptions {
  json: boolean;
  /** Base URLs of services to ask instead of the stack file or the default ports. */
  urls: string[];
  help: boolean;
}

/** Usage text of `x0 status`. */
export const STATUS_USAGE = `Usage: x0 status [--json] [--url http://host:port ...]

Asks every service of the stack for /readyz and /status and prints readiness,
version, node, NATS connection and the loop counters (anomalies, plans, actions, dlq).
Services come from .x0/stack.json (written by \`bun run up\`), else the default
ports 127.0.0.1:9101-9104 (shifted by X0_HTTP_PORT_BASE).

Options:
  --json              print the report as JSON
  --url <url>         ask this service (repeatable); replaces the stack file
  -h, --help          print this help

Exit code: 0 when every service is ready, 1 otherwise, 2 on a usage error.`;

/** Parses the arguments of `x0 status`; throws {@link UsageError}. */
export function parseStatusArgs(argv: readonly string[]): StatusOptions {
  let values: { json?: boolean; url?: string[]; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { json: { type: "boolean" }, url: { type: "string", multiple: true }, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  return { json: values.json ?? false, urls: (values.url ?? []).map(normaliseServiceUrl), help: values.help ?? false };
}

/** Checks a service base URL (http or https) and drops trailing slashes. */
export function normaliseServiceUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new UsageError(`--url ${JSON.stringify(text)} is not a URL; expected e.g. http://127.0.0.1:9102`, { cause: error });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`--url ${JSON.stringify(text)} must be http:// or https://`);
  return url.href.replace(/\/+$/, "");
}
