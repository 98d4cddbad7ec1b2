import { parseArgs } from "node:util";
import { LabUnavailableError, UsageError } from "../errors.ts";

/** What `bun run up` was asked to do. */
export interface UpOptions {
  /** Start (or reuse) nats-server; false with `--no-nats`. */
  startNats: boolean;
  /** Services to start; undefined means every discovered service. */
  only: string[] | undefined;
  help: boolean;
}

/** Usage text of `bun run up`. */
export const UP_USAGE = `Usage: bun run up [options]

Starts nats-server (JetStream) and every service under services/*/src/main.ts,
prefixes their logs, restarts crashed services and stops everything on Ctrl-C.

Options:
  --no-nats        do not start nats-server; use X0_NATS_SERVERS (default nats://127.0.0.1:$X0_NATS_PORT)
  --only a,b       start only these services (repeatable)
  -h, --help       print this help

Environment:
  X0_NATS_PORT           NATS client port (default 4222)
  X0_NATS_MONITOR_PORT   NATS monitoring port (default 8222)
  X0_HTTP_PORT_BASE      first service HTTP port (default 9101: monitor 9101, analyzer 9102,
                         planner 9103, executor 9104, other services from 9105 up)
  X0_NODE                node id passed to the services (default: the hostname, sanitised)
  X0_STATE_DIR           state folder for stack.json and the NATS store (default <repo>/.x0)
  NATS_SERVER_BIN        nats-server executable (default nats-server from PATH)
  NO_COLOR               disable coloured prefixes`;

/** Parses the arguments of `bun run up`; throws {@link UsageError} (or {@link LabUnavailableError} for `--lab`). */
export function parseUpArgs(argv: readonly string[]): UpOptions {
  // Checked before parsing so that `--lab` without a topology gets the same clear answer.
  if (argv.some((arg) => arg === "--lab" || arg.startsWith("--lab="))) {
    throw new LabUnavailableError("--lab is not available in this version: the lab arrives with the self-healing lab work");
  }
  let values: { "no-nats"?: boolean; only?: string[]; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        "no-nats": { type: "boolean" },
        only: { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  let only: string[] | undefined;
  if (values.only !== undefined) {
    only = [...new Set(values.only.flatMap((list) => list.split(",")).map((name) => name.trim()))].filter(Boolean);
    if (only.length === 0) throw new UsageError("--only needs at least one service name, e.g. --only monitor,analyzer");
  }
  return { startNats: !values["no-nats"], only, help: values.help ?? false };
}
