// `x0 console` options: parsed with node:util parseArgs, then checked (port range, address, history size).
import { parseArgs } from "node:util";
import { DEFAULT_LAB_PREFIX, validatePrefix } from "@x0/lab";
import { UsageError } from "../errors.ts";

/** Usage text of `x0 console`. */
export const CONSOLE_USAGE = `Usage: x0 console [--port 9180] [--host 127.0.0.1] [--nats nats://host:port] [--lab [--prefix x0]] [--history 20000]

Serves the console: a live view of the mesh (links by health, cut and degraded while an incident is open, the paths a
repair moved traffic to), the incidents with their evidence, plans, signature checks and results, and the services.
It reads NATS as the read-only observer identity "console": X0_CONSOLE_TLS_CA/CERT/KEY, else the one \`bun run up\`
keeps in .x0/pki. NATS comes from --nats, else X0_NATS_SERVERS, else .x0/stack.json. X0_CONSOLE_JAEGER_URL links traces.

Options:
  --port <n>      HTTP port (default 9180; 0 picks a free one)
  --host <addr>   address to listen on (default 127.0.0.1)
  --nats <url>    NATS server URL(s), comma-separated
  --lab           show the lab's controls (cut or heal a link by clicking it); needs root and the admin identity
  --prefix <p>    the lab's prefix (default x0)
  --history <n>   how many of the latest X0_EVENTS messages to read at start and after a reconnect (default 20000)
  -h, --help      print this help`;

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
  let values: { port?: string; host?: string; nats?: string; lab?: boolean; prefix?: string; history?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        port: { type: "string" },
        host: { type: "string" },
        nats: { type: "string" },
        lab: { type: "boolean" },
        prefix: { type: "string" },
        history: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  const host = values.host ?? "127.0.0.1";
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(host)) throw new UsageError(`--host ${JSON.stringify(host)} is not an address or host name`);
  const prefix = values.prefix ?? DEFAULT_LAB_PREFIX;
  validatePrefix(prefix); // a LabSpecError, reported as a usage error
  return {
    help: values.help ?? false,
    port: integer("port", values.port, 9180, 0, 65535),
    host,
    nats: values.nats,
    lab: values.lab ?? false,
    prefix,
    history: integer("history", values.history, 20_000, 0, 1_000_000),
  };
}
