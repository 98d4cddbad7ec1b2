import { DEFAULT_LAB_PREFIX, LAB_EXECUTORS, type LabExecutors, type LabTopology, parseTopology, validatePrefix } from "@x0/lab";
import { UsageError } from "../errors.ts";
import { type CommandSpec, parseCommandArgs, renderHelp } from "../spec.ts";

/** The lab `up` builds when run as root without --lab, --no-lab or X0_LAB. */
export const DEFAULT_UP_LAB = "grid:3x3";

/** What `bun run up` was asked to do. */
export interface UpOptions {
  /** Start (or reuse) nats-server; false with `--no-nats`. */
  startNats: boolean;
  /** `--cluster`: start a 3-server NATS cluster (routes with mTLS, JetStream replicas 3) instead of one server. */
  cluster: boolean;
  /** Services to start; undefined means every discovered service. */
  only: string[] | undefined;
  /** `--lab <topology>`: run the stack on a lab of this topology. */
  lab: LabTopology | undefined;
  /** `--no-lab`: monitor this machine's interfaces even as root. */
  noLab: boolean;
  /** `--no-console`: do not serve the console (x0 console). */
  noConsole: boolean;
  /** `--lab-prefix`: the lab's namespace prefix. */
  labPrefix: string;
  /** `--executors`: on a lab, one executor per node (`node`, also when absent) or one here for every node (`site`). */
  executors?: LabExecutors;
  help: boolean;
}

/** `x0 up` (also `bun run up`) in the command table. */
export const UP_SPEC = {
  name: "up",
  summary: "start the whole stack here: NATS, every service, the console (Ctrl-C or x0 down stops it)",
  description: `Starts nats-server (JetStream) and every service under services/*/src/main.ts, prefixes their logs,
restarts crashed services and stops everything on Ctrl-C, SIGTERM or "x0 down". "bun run up" is the same command.`,
  flags: {
    "no-nats": { type: "boolean", help: "do not start nats-server; use X0_NATS_SERVERS (default nats://127.0.0.1:$X0_NATS_PORT)" },
    cluster: {
      type: "boolean",
      help: `start a 3-server NATS cluster instead of one server: clients on $X0_NATS_PORT..+2, monitoring on
$X0_NATS_MONITOR_PORT..+2, routes (mTLS) on 127.0.0.1:$X0_NATS_CLUSTER_PORT..+2, and X0_EVENTS, X0_DLQ and the KV
buckets with 3 replicas (X0_JS_REPLICAS=3 for every process)`,
    },
    only: { type: "string", multiple: true, value: "a,b", help: "start only these services" },
    lab: {
      type: "string",
      value: "topology",
      help: `run on a network-namespace mesh lab (root): grid:RxC, ring:N, line:N or random:N:SEED. One monitor and one
executor per lab node inside its namespace, the other services here, NATS on the lab's management bridge; the lab is
removed when up stops. Default as root: ${DEFAULT_UP_LAB}`,
    },
    "no-lab": { type: "boolean", help: "monitor this machine's interfaces instead, even as root" },
    "no-console": { type: "boolean", help: "do not serve the console (it runs as x0 console on X0_CONSOLE_PORT, with the lab's controls on a lab)" },
    "lab-prefix": { type: "string", value: "p", help: `the lab's namespace prefix (default ${DEFAULT_LAB_PREFIX}: namespaces ${DEFAULT_LAB_PREFIX}-n1 …)` },
    executors: {
      type: "string",
      choices: LAB_EXECUTORS,
      help: `on a lab: node (default) one executor per node inside its namespace (executor@n1 …, port 9104 at the node's
management address), carrying out multi-node plans together; site: one here for all`,
    },
  },
  notes: `Environment:
  X0_NATS_PORT           NATS client port (default 4222)
  X0_NATS_MONITOR_PORT   NATS monitoring port (default 8222)
  X0_NATS_CLUSTER        true: as --cluster (default false)
  X0_NATS_CLUSTER_PORT   first route port of --cluster (default 6222)
  X0_HTTP_PORT_BASE      first service HTTP port (default 9101: monitor 9101, analyzer 9102,
                         planner 9103, executor 9104, other services from 9105 up)
  X0_NODE                node id passed to the services (default: the hostname, sanitised)
  X0_STATE_DIR           folder of stack.json, the NATS store and the lab state (default <repo>/.x0)
  X0_CONSOLE_PORT        the console's HTTP port (default 9180)
  X0_LAB                 off (as --no-lab) or a topology (as --lab), when neither option is given
  NATS_SERVER_BIN        nats-server executable (default nats-server from PATH)
  NO_COLOR               disable coloured prefixes`,
} as const satisfies CommandSpec;

/** Usage text of `x0 up` and `bun run up`. */
export const UP_USAGE = renderHelp(UP_SPEC, "x0 up");

/** Parses the arguments of `bun run up`; throws {@link UsageError} (a bad topology or prefix included). */
export function parseUpArgs(argv: readonly string[]): UpOptions {
  const { values } = parseCommandArgs<{
    "no-nats"?: boolean;
    cluster?: boolean;
    only?: string[];
    lab?: string;
    "no-lab"?: boolean;
    "no-console"?: boolean;
    "lab-prefix"?: string;
    executors?: string;
    help?: boolean;
  }>(UP_SPEC, argv, false);
  let only: string[] | undefined;
  if (values.only !== undefined) {
    only = [...new Set(values.only.flatMap((list) => list.split(",")).map((name) => name.trim()))].filter(Boolean);
    if (only.length === 0) throw new UsageError("--only needs at least one service name, e.g. --only monitor,analyzer");
  }
  if (values.lab !== undefined && values["no-lab"]) throw new UsageError("give --lab or --no-lab, not both");
  if (values.cluster && values["no-nats"]) throw new UsageError("--cluster starts the NATS servers, --no-nats uses others: give one of them");
  return {
    startNats: !values["no-nats"],
    cluster: values.cluster ?? false,
    only,
    lab: values.lab === undefined ? undefined : parseTopology(values.lab),
    noLab: values["no-lab"] ?? false,
    noConsole: values["no-console"] ?? false,
    labPrefix: validatePrefix(values["lab-prefix"] ?? DEFAULT_LAB_PREFIX),
    ...(values.executors === undefined ? {} : { executors: labExecutorsOf(values.executors) }),
    help: values.help ?? false,
  };
}

/**
 * The lab `up` runs on: --lab; none with --no-lab; else X0_LAB (`off` or a topology); else, as root, {@link DEFAULT_UP_LAB};
 * else none (the stack monitors this machine's interfaces).
 */
export function resolveLab(options: Pick<UpOptions, "lab" | "noLab">, env: Record<string, string | undefined>, isRoot: boolean): LabTopology | undefined {
  if (options.lab !== undefined) return options.lab;
  if (options.noLab) return undefined;
  const fromEnv = env.X0_LAB?.trim();
  if (fromEnv === "off") return undefined;
  if (fromEnv) return parseTopology(fromEnv);
  return isRoot ? parseTopology(DEFAULT_UP_LAB) : undefined;
}

/** `--executors`: node or site. */
function labExecutorsOf(value: string): LabExecutors {
  if (!LAB_EXECUTORS.includes(value as LabExecutors)) throw new UsageError(`--executors ${JSON.stringify(value)} is not ${LAB_EXECUTORS.join(" or ")}`);
  return value as LabExecutors;
}
