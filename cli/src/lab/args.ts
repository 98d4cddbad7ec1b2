// `x0 lab` in the command table, and its arguments parsed (node:util parseArgs) into typed requests.
import {
  DEFAULT_LAB_PREFIX,
  defaultMgmtSubnet,
  LAB_EXECUTORS,
  LAB_LINK_COSTS,
  LAB_ROUTINGS,
  type LabExecutors,
  type LabLinkCosts,
  type LabRouting,
  type LabTopology,
  type MgmtSubnet,
  type NatsChoice,
  parseMgmtSubnet,
  parseTopology,
  validateNodeName,
  validatePrefix,
} from "@x0/lab";
import { UsageError } from "../errors.ts";
import { NATS_FLAGS, type NatsFlags } from "../nats-client.ts";
import { type CommandSpec, type FlagSpecs, parseCommandArgs } from "../spec.ts";
import { type BackgroundLoss, parseBackground, parseSchedule, type ScheduledFault } from "./record.ts";

const PREFIX = {
  prefix: {
    type: "string",
    value: "p",
    help: `the lab's prefix: namespaces <p>-n1…, bridge <p>-mgmt, state <state>/lab-<p>.json (default ${DEFAULT_LAB_PREFIX})`,
  },
} as const satisfies FlagSpecs;
/** The lab's NATS server: -s/--server as everywhere, --nats kept as its old spelling. */
const LAB_NATS = {
  server: { type: "string", short: "s", value: "url", help: "the NATS server the lab's monitors and executors use (nats://<host>:<port>)" },
  nats: { type: "string", value: "url", help: "the same as --server (deprecated: kept for scripts that use it)" },
} as const satisfies FlagSpecs;
const TWO_NODES = "<a> <b>";

/** `x0 lab` in the command table. */
export const LAB_SPEC = {
  name: "lab",
  summary: "the network-namespace mesh lab (root)",
  description: `A mesh of network namespaces on this machine (root only): one namespace per node, veth links,
shortest-path routes. Faults and probes need the monitors (they own the XDP fault maps and answer hellos).`,
  commands: [
    {
      name: "up",
      summary: "build the lab; with NATS, start one monitor and one executor per node",
      description: `Builds the lab. With NATS (--server or --nats-port), starts one monitor per node (detached, logs in
<state>/lab-<prefix>-logs) and the executors: --executors node (default) one per node inside its namespace, acting on
that node only and carrying out multi-node plans together; site: one for every node, here.

--routing batman: batman-adv on every node (bat0 over the links, service addresses on bat0, no static routes); needs
the batman-adv module, else run it inside "x0 lab vm". --link-costs distinct (batman only): link k gets hop penalty
2 + 2·(k mod 16) on both ends, so no two paths tie and batman-adv's best path is the same in every run.`,
      flags: {
        topology: { type: "string", value: "grid:RxC|ring:N|line:N|random:N:SEED", help: "the mesh to build" },
        routing: { type: "string", choices: LAB_ROUTINGS, help: "static routes (default) or batman-adv" },
        ...LAB_NATS,
        "nats-port": { type: "string", value: "port", help: "NATS on the lab's management bridge at this port (instead of --server)" },
        "mgmt-subnet": { type: "string", value: "10.N.0.0/16", help: "the management network (default from the prefix)" },
        "link-costs": { type: "string", choices: LAB_LINK_COSTS, help: "equal (default) or distinct hop penalties (batman only)" },
        executors: { type: "string", choices: LAB_EXECUTORS, help: "one executor per node (default) or one here for every node" },
        ...PREFIX,
      },
    },
    {
      name: "vm",
      summary: "run a command inside a QEMU VM with Debian's kernel (which has batman-adv)",
      args: "-- <command…>",
      description: `Runs a command inside a QEMU VM with Debian's kernel (which has batman-adv), the host's root read-only
over 9p, in this folder; its output streams here and its exit code is returned.`,
      flags: {
        smp: { type: "string", value: "n", help: "CPUs (default 2)" },
        "memory-mb": { type: "string", value: "m", help: "memory in MiB (default 3072)" },
        "timeout-s": { type: "string", value: "s", help: "the VM is stopped after this long (default 1800)" },
        env: { type: "string", multiple: true, value: "K=V", help: "an environment variable of the command" },
      },
    },
    { name: "down", summary: "remove the lab: processes, namespaces, bridge, mounts, pins (also after a crash)", flags: PREFIX },
    { name: "status", summary: "nodes, links, faults in effect, monitor pids", flags: { json: { type: "boolean", help: "print JSON" }, ...PREFIX } },
    {
      name: "fault",
      summary: "break the lab: cut, loss, link-down, node-down, flap",
      flags: PREFIX,
      commands: [
        { name: "cut", summary: "drop every frame on link A-B, both ways (the interfaces stay up)", args: TWO_NODES, flags: PREFIX },
        { name: "loss", summary: "drop P% of the frames on link A-B, both ways", args: `${TWO_NODES} <percent>`, flags: PREFIX },
        { name: "link-down", summary: "set A's end of link A-B administratively down", args: TWO_NODES, flags: PREFIX },
        { name: "node-down", summary: "cut every link of A", args: "<a>", flags: PREFIX },
        {
          name: "flap",
          summary: "cut and restore link A-B, period-ms each, count times",
          args: TWO_NODES,
          flags: {
            "period-ms": { type: "string", value: "ms", help: "how long each cut and each restore lasts (default 500)" },
            count: { type: "string", value: "n", help: "how many times (default 6)" },
            ...PREFIX,
          },
        },
      ],
    },
    { name: "heal", summary: "undo every fault", flags: PREFIX },
    {
      name: "probe",
      summary: "hellos from A to B's service address; one line per outage and restoration",
      args: TWO_NODES,
      flags: {
        "interval-ms": { type: "string", value: "ms", help: "between hellos (default 10)" },
        "summary-ms": { type: "string", value: "ms", help: "between summary lines (default 1000)" },
        "duration-ms": { type: "string", value: "ms", help: "stop after this long (default: at Ctrl-C)" },
        json: { type: "boolean", help: "print JSON lines" },
        ...PREFIX,
      },
    },
    {
      name: "record",
      summary: "run faults one after another and record every node's telemetry: the swarm's training data",
      description: `Runs the faults one after another (healthy time before the first and after each) and records every
node's telemetry with the faults' times: training data for the swarm's model.`,
      flags: {
        faults: { type: "string", value: "schedule", help: "e.g. cut:n1-n2:5s,loss30:n2-n3:8s,node-down:n4:5s (lossNN drops NN % both ways)" },
        out: { type: "string", value: "dir", path: true, help: "where to write the recording" },
        background: {
          type: "string",
          value: "losses",
          help: "loss10:n1-n2,... keeps standing losses the whole time (a site's normal, labelled healthy)",
        },
        "lead-s": { type: "string", value: "s", help: "healthy time before the first fault (default 10)" },
        "gap-s": { type: "string", value: "s", help: "healthy time after each fault (default 10)" },
        "hello-ms": { type: "string", value: "ms", help: "between the monitors' hellos (default 20)" },
        ...NATS_FLAGS,
        ...PREFIX,
      },
    },
  ],
} as const satisfies CommandSpec;

/** A parsed `x0 lab` request. */
export type LabRequest =
  | {
      command: "up";
      prefix: string;
      topology: LabTopology;
      routing: LabRouting;
      linkCosts: LabLinkCosts;
      mgmt: MgmtSubnet;
      nats: NatsChoice;
      executors: LabExecutors;
    }
  | { command: "down"; prefix: string }
  | { command: "vm"; argv: string[]; cpus: number; memoryMb: number; timeoutMs: number; env: Record<string, string> }
  | { command: "status"; prefix: string; json: boolean }
  | { command: "heal"; prefix: string }
  | { command: "fault"; prefix: string; fault: FaultRequest }
  | { command: "probe"; prefix: string; from: string; to: string; intervalMs: number; summaryMs: number; durationMs: number | undefined; json: boolean }
  | {
      command: "record";
      prefix: string;
      schedule: ScheduledFault[];
      out: string;
      leadMs: number;
      gapMs: number;
      helloIntervalMs: number;
      nats?: NatsFlags;
      background?: BackgroundLoss[];
    };

/** A fault to apply. */
export type FaultRequest =
  | { kind: "cut"; a: string; b: string }
  | { kind: "link-down"; a: string; b: string }
  | { kind: "loss"; a: string; b: string; probability: number }
  | { kind: "node-down"; a: string }
  | { kind: "flap"; a: string; b: string; periodMs: number; count: number };

type Values = Record<string, string | boolean | string[] | undefined>;

/** Parses the arguments after `x0 lab`; throws {@link UsageError} (or the lab's LabSpecError) saying what is wrong. */
export function parseLabArgs(argv: readonly string[]): LabRequest {
  const [command, ...rest] = argv;
  const spec = LAB_SPEC.commands.find((sub) => sub.name === command);
  if (spec === undefined) {
    const known = LAB_SPEC.commands.map((sub) => sub.name).join(", ");
    throw new UsageError(command === undefined ? `lab needs a command: ${known}` : `unknown lab command ${JSON.stringify(command)} (${known})`);
  }
  if (spec.name === "vm") return vmRequest(spec, rest);
  const { values, positionals } = parseCommandArgs<Values>(spec, rest);
  switch (spec.name) {
    case "up": {
      noPositionals(positionals, spec.name);
      const prefix = prefixOf(values.prefix);
      if (typeof values.topology !== "string") throw new UsageError("lab up needs --topology, e.g. --topology grid:3x3");
      const mgmt = typeof values["mgmt-subnet"] === "string" ? parseMgmtSubnet(values["mgmt-subnet"]) : defaultMgmtSubnet(prefix);
      const routing = values.routing ?? "static";
      if (!LAB_ROUTINGS.includes(routing as LabRouting)) throw new UsageError(`--routing ${JSON.stringify(routing)} is not ${LAB_ROUTINGS.join(" or ")}`);
      const linkCosts = values["link-costs"] ?? "equal";
      if (!LAB_LINK_COSTS.includes(linkCosts as LabLinkCosts))
        throw new UsageError(`--link-costs ${JSON.stringify(linkCosts)} is not ${LAB_LINK_COSTS.join(" or ")}`);
      if (linkCosts !== "equal" && routing !== "batman")
        throw new UsageError(`--link-costs ${linkCosts} needs --routing batman (static routes follow hop counts)`);
      const executors = values.executors ?? "node";
      if (!LAB_EXECUTORS.includes(executors as LabExecutors))
        throw new UsageError(`--executors ${JSON.stringify(executors)} is not ${LAB_EXECUTORS.join(" or ")}`);
      if (values.server !== undefined && values.nats !== undefined) throw new UsageError("give --server once (--nats is its old spelling)");
      return {
        command: spec.name,
        prefix,
        topology: parseTopology(values.topology),
        routing: routing as LabRouting,
        linkCosts: linkCosts as LabLinkCosts,
        mgmt,
        nats: natsChoice(values.server ?? values.nats, values["nats-port"]),
        executors: executors as LabExecutors,
      };
    }
    case "down":
    case "heal":
      noPositionals(positionals, spec.name);
      return { command: spec.name, prefix: prefixOf(values.prefix) };
    case "status":
      noPositionals(positionals, spec.name);
      return { command: spec.name, prefix: prefixOf(values.prefix), json: values.json === true };
    case "fault":
      return { command: spec.name, prefix: prefixOf(values.prefix), fault: faultOf(positionals, values["period-ms"], values.count) };
    case "probe": {
      const [from, to, ...extra] = positionals;
      if (from === undefined || to === undefined || extra.length > 0) throw new UsageError("lab probe takes two nodes: x0 lab probe <from> <to>");
      if (from === to) throw new UsageError("lab probe needs two different nodes");
      return {
        command: spec.name,
        prefix: prefixOf(values.prefix),
        from: validateNodeName(from),
        to: validateNodeName(to),
        intervalMs: integerOption(values["interval-ms"], "--interval-ms", 10, 1, 60_000),
        summaryMs: integerOption(values["summary-ms"], "--summary-ms", 1000, 10, 3_600_000),
        durationMs: values["duration-ms"] === undefined ? undefined : integerOption(values["duration-ms"], "--duration-ms", 0, 1, 86_400_000),
        json: values.json === true,
      };
    }
    case "record": {
      noPositionals(positionals, spec.name);
      if (typeof values.faults !== "string") throw new UsageError("lab record needs --faults <schedule>, e.g. cut:n1-n2:5s,loss30:n2-n3:8s");
      if (typeof values.out !== "string") throw new UsageError("lab record needs --out <dir>");
      let schedule: ScheduledFault[];
      try {
        schedule = parseSchedule(values.faults);
      } catch (error) {
        throw new UsageError(`--faults: ${(error as Error).message}`, { cause: error });
      }
      let background: BackgroundLoss[] = [];
      try {
        if (typeof values.background === "string") background = parseBackground(values.background);
      } catch (error) {
        throw new UsageError(`--background: ${(error as Error).message}`, { cause: error });
      }
      const nats: NatsFlags = Object.fromEntries(Object.keys(NATS_FLAGS).flatMap((name) => (typeof values[name] === "string" ? [[name, values[name]]] : [])));
      return {
        command: spec.name,
        prefix: prefixOf(values.prefix),
        schedule,
        out: values.out,
        leadMs: integerOption(values["lead-s"], "--lead-s", 10, 0, 3600) * 1000,
        gapMs: integerOption(values["gap-s"], "--gap-s", 10, 0, 3600) * 1000,
        helloIntervalMs: integerOption(values["hello-ms"], "--hello-ms", 20, 1, 60_000),
        ...(Object.keys(nats).length > 0 ? { nats } : {}),
        ...(background.length > 0 ? { background } : {}),
      };
    }
  }
}

function vmRequest(spec: CommandSpec, args: readonly string[]): LabRequest {
  const { values, positionals } = parseCommandArgs<{ smp?: string; "memory-mb"?: string; "timeout-s"?: string; env?: string[] }>(spec, args);
  if (positionals.length === 0) throw new UsageError("lab vm needs a command to run in the VM: x0 lab vm -- <command…>");
  const env: Record<string, string> = {};
  for (const pair of values.env ?? []) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(pair);
    if (!match?.[1]) throw new UsageError(`--env ${JSON.stringify(pair)} is not NAME=value`);
    env[match[1]] = match[2] ?? "";
  }
  return {
    command: "vm",
    argv: positionals,
    cpus: integerOption(values.smp, "--smp", 2, 1, 64),
    memoryMb: integerOption(values["memory-mb"], "--memory-mb", 3072, 256, 65536),
    timeoutMs: integerOption(values["timeout-s"], "--timeout-s", 1800, 10, 86_400) * 1000,
    env,
  };
}

function prefixOf(value: Values[string]): string {
  return validatePrefix(typeof value === "string" ? value : DEFAULT_LAB_PREFIX);
}

function noPositionals(positionals: string[], command: string): void {
  if (positionals.length > 0) throw new UsageError(`lab ${command} takes no arguments, got ${JSON.stringify(positionals.join(" "))}`);
}

/** A whole-number option in [min, max], or `fallback` when absent. */
function integerOption(value: Values[string], name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const number = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(number >= min && number <= max)) throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return number;
}

function natsChoice(url: Values[string], port: Values[string]): NatsChoice {
  if (url !== undefined && port !== undefined) throw new UsageError("give --server or --nats-port, not both");
  if (typeof url === "string") {
    if (!/^(nats|tls):\/\/[A-Za-z0-9.-]+:\d{1,5}$/.test(url)) throw new UsageError(`--server ${JSON.stringify(url)} is not nats://<host>:<port>`);
    return { kind: "url", url };
  }
  if (port !== undefined) return { kind: "bridge-port", port: integerOption(port, "--nats-port", 4222, 1, 65535) };
  return { kind: "none" };
}

/** Parses a drop share: `30%` or a fraction such as `0.3`. */
export function parseLoss(text: string): number {
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  const value = percent?.[1] !== undefined ? Number(percent[1]) / 100 : /^(0(?:\.\d+)?|1(?:\.0+)?)$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= 0 && value <= 1)) throw new UsageError(`loss ${JSON.stringify(text)} is not a percentage (30%) or a fraction from 0 to 1 (0.3)`);
  return value;
}

function faultOf(positionals: string[], periodMs: Values[string], count: Values[string]): FaultRequest {
  const [kind, ...args] = positionals;
  const nodes = (wanted: number, usage: string): string[] => {
    if (args.length !== wanted) throw new UsageError(`usage: x0 lab fault ${usage}`);
    return args.map(validateNodeName);
  };
  if (kind !== "flap" && (periodMs !== undefined || count !== undefined)) throw new UsageError("--period-ms and --count belong to fault flap");
  switch (kind) {
    case "cut":
    case "link-down": {
      const [a, b] = nodes(2, `${kind} <a> <b>`) as [string, string];
      return { kind, a, b };
    }
    case "loss": {
      if (args.length !== 3) throw new UsageError("usage: x0 lab fault loss <a> <b> <percent>, e.g. loss n1 n2 30%");
      return { kind, a: validateNodeName(args[0] as string), b: validateNodeName(args[1] as string), probability: parseLoss(args[2] as string) };
    }
    case "node-down": {
      const [a] = nodes(1, "node-down <node>") as [string];
      return { kind, a };
    }
    case "flap": {
      const [a, b] = nodes(2, "flap <a> <b> [--period-ms 500] [--count 6]") as [string, string];
      return { kind, a, b, periodMs: integerOption(periodMs, "--period-ms", 500, 10, 600_000), count: integerOption(count, "--count", 6, 1, 10_000) };
    }
    default:
      throw new UsageError(`unknown fault ${JSON.stringify(kind ?? "")} (cut, link-down, loss, node-down, flap)`);
  }
}
