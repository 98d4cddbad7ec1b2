// `x0 incidents`: recent incidents with their time to detect and to repair, rebuilt from the X0_EVENTS stream.
import { readEventHistory } from "@x0/shared";
import { UsageError } from "../errors.ts";
import { connectCli, NATS_FLAGS, type NatsFlags } from "../nats-client.ts";
import { type CommandSpec, parseCommandArgs } from "../spec.ts";
import type { Output } from "../status/command.ts";
import { renderIncidents, summarizeIncidents } from "./summarize.ts";

/** `x0 incidents` in the command table. */
export const INCIDENTS_SPEC = {
  name: "incidents",
  summary: "recent incidents with their time to detect (MTTD) and to repair (MTTR)",
  description: `Lists recent incidents (anomaly → plans → results) from the X0_EVENTS stream, newest first, with MTTD
(fault onset → detection) and MTTR (fault onset → a repair whose effect was observed).

NATS comes from -s/--server, else X0_NATS_SERVERS, else NATS_URL, else .x0/stack.json (written by "x0 up"). The client
certificate comes from --tlscert/--tlskey/--tlsca, else X0_NATS_TLS_CA/CERT/KEY, else the admin identity "x0 up"
keeps in .x0/pki.`,
  flags: {
    since: { type: "string", value: "duration", help: "how far back: e.g. 90s, 15m, 1h, 2d (default 1h)" },
    ...NATS_FLAGS,
    json: { type: "boolean", help: "print JSON" },
  },
} as const satisfies CommandSpec;

/** Parses "90s", "15m", "1h" or "2d" into milliseconds. */
export function parseSince(text: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(text);
  if (!match) throw new UsageError(`--since ${JSON.stringify(text)} is not a duration like 90s, 15m, 1h or 2d`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "s" | "m" | "h" | "d"];
  return Number(match[1]) * unit;
}

/** Runs `x0 incidents`; 0 on success. */
export async function runIncidents(argv: readonly string[], env: Record<string, string | undefined>, output: Output): Promise<number> {
  const { values } = parseCommandArgs<{ since?: string; json?: boolean } & NatsFlags>(INCIDENTS_SPEC, argv, false);
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
