// `x0 console` options: declared in the command table, parsed with node:util parseArgs, then checked (port range, address, history size).
import { DEFAULT_LAB_PREFIX, validatePrefix } from "@x0/lab";
import { UsageError } from "../errors.ts";
import { type CommandSpec, parseCommandArgs } from "../spec.ts";

/** `x0 console`: its entry in the command table (help, completion and option checks come from it). */
export const CONSOLE_SPEC = {
  name: "console",
  summary: "a live web view of the mesh, its incidents and services (read-only)",
  description: `Serves the console: a live view of the mesh (links by health, cut and degraded while an incident is
open, the paths a repair moved traffic to), the incidents with their evidence, plans, signature checks and results, and
the services. It reads NATS as the read-only observer identity "console": X0_CONSOLE_TLS_CA/CERT/KEY, else the one
"x0 up" keeps in .x0/pki. NATS comes from -s/--server, else X0_NATS_SERVERS, else NATS_URL, else .x0/stack.json.
X0_CONSOLE_JAEGER_URL links traces.`,
  flags: {
    port: { type: "string", value: "n", help: "HTTP port (default 9180; 0 picks a free one)" },
    host: { type: "string", value: "addr", help: "address to listen on (default 127.0.0.1)" },
    server: { type: "string", short: "s", value: "url", help: "NATS server URL(s), comma-separated" },
    nats: { type: "string", value: "url", help: "the same as --server (deprecated: kept for scripts that use it)" },
    lab: { type: "boolean", help: "show the lab's controls (cut or heal a link by clicking it); needs root and the admin identity" },
    prefix: { type: "string", value: "p", help: "the lab's prefix (default x0)" },
    history: { type: "string", value: "n", help: "how many of the latest X0_EVENTS messages to read at start and after a reconnect (default 20000)" },
  },
} as const satisfies CommandSpec;

/** Parsed `x0 console` options. */
export interface ConsoleOptions {
  help: boolean;
  port: number;
  host: string;
  nats: string | undefined;
  lab: boolean;
  prefix: string;
  history: number;
}

function integer(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new UsageError(`--${name} ${JSON.stringify(text)} must be a whole number in ${min}…${max}`);
  return value;
}

/** Parses the arguments of `x0 console`. */
export function parseConsoleArgs(argv: readonly string[]): ConsoleOptions {
  const { values } = parseCommandArgs<{
    port?: string;
    host?: string;
    server?: string;
    nats?: string;
    lab?: boolean;
    prefix?: string;
    history?: string;
    help?: boolean;
  }>(CONSOLE_SPEC, argv, false);
  if (values.server !== undefined && values.nats !== undefined) throw new UsageError("give --server once (--nats is its old spelling)");
  const host = values.host ?? "127.0.0.1";
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(host)) throw new UsageError(`--host ${JSON.stringify(host)} is not an address or host name`);
  const prefix = values.prefix ?? DEFAULT_LAB_PREFIX;
  validatePrefix(prefix); // a LabSpecError, reported as a usage error
  return {
    help: values.help ?? false,
    port: integer("port", values.port, 9180, 0, 65535),
    host,
    nats: values.server ?? values.nats,
    lab: values.lab ?? false,
    prefix,
    history: integer("history", values.history, 20_000, 0, 1_000_000),
  };
}
