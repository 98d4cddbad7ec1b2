// `x0 incidents`: recent incidents with their time to detect and to repair, rebuilt from the X0_EVENTS stream.
import { parseArgs } from "node:util";
import { readEventHistory } from "@x0/shared";
import { UsageError } from "../errors.ts";
import { connectCli, NATS_CLI_HELP, NATS_CLI_OPTIONS, type NatsFlags } from "../nats-client.ts";
import type { Output } from "../status/command.ts";
import { renderIncidents, summarizeIncidents } from "./summarize.ts";

/** Usage text of `x0 incidents`. */
export const INCIDENTS_USAGE = `Usage: x0 incidents [--since 1h] [-s nats://host:port] [--json]

Lists recent incidents (anomaly → plans → results) from the X0_EVENTS stream, newest first,
with MTTD (fault onset → detection) and MTTR (fault onset → a repair whose effect was observed).
NATS comes from -s/--server, else X0_NATS_SERVERS, else NATS_URL, else .x0/stack.json (written by \`bun run up\`).
The client certificate comes from --tlscert/--tlskey/--tlsca, else X0_NATS_TLS_CA/CERT/KEY, else the admin identity
\`bun run up\` keeps in .x0/pki.

Options:
  --since <d>     how far back: e.g. 90s, 15m, 1h, 2d (default 1h)
${NATS_CLI_HELP}
  --json          print JSON
  -h, --help      print this help`;

/** Parses "90s", "15m", "1h" or "2d" into milliseconds. */
export function parseSince(text: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(text);
  if (!match) throw new UsageError(`--since ${JSON.stringify(text)} is not a duration like 90s, 15m, 1h or 2d`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "s" | "m" | "h" | "d"];
  return Number(match[1]) * unit;
}

/** Runs `x0 incidents`; 0 on success. */
export async function runIncidents(argv: readonly string[], env: Record<string, string | undefined>, output: Output): Promise<number> {
  let values: { since?: string; json?: boolean; help?: boolean } & NatsFlags;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { since: { type: "string" }, ...NATS_CLI_OPTIONS, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  if (values.help) {
    output.out(INCIDENTS_USAGE);
    return 0;
  }
  const windowMs = parseSince(values.since ?? "1h");
  const nc = await connectCli(values, env);
  try {
    const history = await readEventHistory(nc, { sinceMs: Date.now() - windowMs });
    const incidents = summarizeIncidents(history);
    output.out(values.json ? JSON.stringify({ incidents, invalid_messages: history.invalid }, null, 2) : renderIncidents(incidents));
    return 0;
  } finally {
    await nc.close();
  }
}
