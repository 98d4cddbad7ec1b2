// Arguments of `x0 lab <command>`, parsed with node:util parseArgs into typed requests.
import { parseArgs } from "node:util";
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
import { type BackgroundLoss, parseBackground, parseSchedule, type ScheduledFault } from "./record.ts";

/** Usage text of `x0 lab`. */
export const LAB_USAGE = `Usage: x0 lab <command> [options]

A mesh of network namespaces on this machine (root only): one namespace per node, veth links, shortest-path routes.

Commands:
  up --topology <grid:RxC|ring:N|line:N|random:N:SEED> [--routing static|batman] [--nats <url> | --nats-port <port>]
     [--mgmt-subnet 10.N.0.0/16] [--link-costs equal|distinct] [--executors node|site]
                        build the lab; with NATS, start one monitor per node (detached, logs in <state>/lab-<prefix>-logs)
                        and the executors: --executors node (default) one per node inside its namespace, acting on
                        that node only and carrying out multi-node plans together; site: one for every node, here.
                        --routing batman: batman-adv on every node (bat0 over the links, service addresses on bat0, no
                        static routes); needs the batman-adv module, else run it inside "x0 lab vm"
                        --link-costs distinct (batman only): link k gets hop penalty 2 + 2·(k mod 16) on both ends, so no
                        two paths tie and batman-adv's best path is the same in every run
  vm [--smp N] [--memory-mb M] [--timeout-s S] [--env K=V]… -- <command…>
                        run a command inside a QEMU VM with Debian's kernel (which has batman-adv), the host's root
                        read-only over 9p, in this folder; its output streams here and its exit code is returned
  down                  remove the lab: processes, namespaces, bridge, mounts, pins (also after a crash)
  status [--json]       nodes, links, faults in effect, monitor pids
  fault cut A B         drop every frame on link A-B, both ways (the interfaces stay up)
  fault loss A B <P%>   drop P% of the frames on link A-B, both ways
  fault link-down A B   set A's end of link A-B administratively down
  fault node-down A     cut every link of A
  fault flap A B [--period-ms 500] [--count 6]
                        cut and restore link A-B, period-ms each, count times
  heal                  undo every fault
  probe A B [--interval-ms 10] [--summary-ms 1000] [--duration-ms N] [--json]
                        hellos from A to B's service address; one line per outage and restoration
  record --faults <schedule> --out <dir> [--background <losses>] [--lead-s 10] [--gap-s 10] [--hello-ms 20] [--nats <url>]
                        run the faults one after another (healthy time before the first and after each) and record every
                        node's telemetry with the faults' times: training data for the swarm's model. Schedule:
                        cut:n1-n2:5s,loss30:n2-n3:8s,node-down:n4:5s (lossNN drops NN % both ways). --background
                        loss10:n1-n2,... keeps standing losses the whole time (a site's normal, labelled healthy)

Every command takes --prefix <p> (default ${DEFAULT_LAB_PREFIX}): namespaces <p>-n1…, bridge <p>-mgmt, state <state>/lab-<p>.json.
Faults and probes need the monitors (they own the XDP fault maps and answer hellos).`;

/** A parsed `x0 lab` request. */
export type LabRequest =
  | { command: "help" }
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
      nats?: string;
      background?: BackgroundLoss[];
    };

/** A fault to apply. */
export type FaultRequest =
  | { kind: "cut"; a: string; b: string }
  | { kind: "link-down"; a: string; b: string }
  | { kind: "loss"; a: string; b: string; probability: number }
  | { kind: "node-down"; a: string }
  | { kind: "flap"; a: string; b: string; periodMs: number; count: number };

/** Parses the arguments after `x0 lab`; throws {@link UsageError} (or the lab's LabSpecError) saying what is wrong. */
export function parseLabArgs(argv: readonly string[]): LabRequest {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") return { command: "help" };
  const parse = (options: Record<string, { type: "string" | "boolean" }>): { values: Record<string, string | boolean | undefined>; positionals: string[] } => {
    try {
      return parseArgs({
        args: rest,
        options: { prefix: { type: "string" }, help: { type: "boolean", short: "h" }, ...options },
        strict: true,
        allowPositionals: true,
      });
    } catch (error) {
      throw new UsageError((error as Error).message, { cause: error });
    }
  };
  switch (command) {
    case "vm":
      return vmRequest(rest);
    case "up": {
      const { values, positionals } = parse({
        topology: { type: "string" },
        nats: { type: "string" },
        "nats-port": { type: "string" },
        "mgmt-subnet": { type: "string" },
        routing: { type: "string" },
        "link-costs": { type: "string" },
        executors: { type: "string" },
      });
      if (values.help) return { command: "help" };
      noPositionals(positionals, command);
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
      return {
        command,
        prefix,
        topology: parseTopology(values.topology),
        routing: routing as LabRouting,
        linkCosts: linkCosts as LabLinkCosts,
        mgmt,
        nats: natsChoice(values.nats, values["nats-port"]),
        executors: executors as LabExecutors,
      };
    }
    case "down":
    case "heal": {
      const { values, positionals } = parse({});
      if (values.help) return { command: "help" };
      noPositionals(positionals, command);
      return { command, prefix: prefixOf(values.prefix) };
    }
    case "status": {
      const { values, positionals } = parse({ json: { type: "boolean" } });
      if (values.help) return { command: "help" };
      noPositionals(positionals, command);
      return { command, prefix: prefixOf(values.prefix), json: values.json === true };
    }
    case "fault": {
      const { values, positionals } = parse({ "period-ms": { type: "string" }, count: { type: "string" } });
      if (values.help) return { command: "help" };
      return { command, prefix: prefixOf(values.prefix), fault: faultOf(positionals, values["period-ms"], values.count) };
    }
    case "probe": {
      const { values, positionals } = parse({
        "interval-ms": { type: "string" },
        "summary-ms": { type: "string" },
        "duration-ms": { type: "string" },
        json: { type: "boolean" },
      });
      if (values.help) return { command: "help" };
      const [from, to, ...extra] = positionals;
      if (from === undefined || to === undefined || extra.length > 0) throw new UsageError("lab probe takes two nodes: x0 lab probe <from> <to>");
      if (from === to) throw new UsageError("lab probe needs two different nodes");
      return {
        command,
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
      const { values, positionals } = parse({
        faults: { type: "string" },
        background: { type: "string" },
        out: { type: "string" },
        "lead-s": { type: "string" },
        "gap-s": { type: "string" },
        "hello-ms": { type: "string" },
        nats: { type: "string" },
      });
      if (values.help) return { command: "help" };
      noPositionals(positionals, command);
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
      return {
        command,
        prefix: prefixOf(values.prefix),
        schedule,
        out: values.out,
        leadMs: integerOption(values["lead-s"], "--lead-s", 10, 0, 3600) * 1000,
        gapMs: integerOption(values["gap-s"], "--gap-s", 10, 0, 3600) * 1000,
        helloIntervalMs: integerOption(values["hello-ms"], "--hello-ms", 20, 1, 60_000),
        ...(typeof values.nats === "string" ? { nats: values.nats } : {}),
        ...(background.length > 0 ? { background } : {}),
      };
    }
    default:
      throw new UsageError(`unknown lab command ${JSON.stringify(command)} (up, down, status, fault, heal, probe, record, vm)`);
  }
}

function vmRequest(args: readonly string[]): LabRequest {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof VM_OPTIONS; strict: true; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...args], options: VM_OPTIONS, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: "help" };
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

const VM_OPTIONS = {
  smp: { type: "string" },
  "memory-mb": { type: "string" },
  "timeout-s": { type: "string" },
  env: { type: "string", multiple: true },
  help: { type: "boolean", short: "h" },
} as const;

function prefixOf(value: string | boolean | undefined): string {
  return validatePrefix(typeof value === "string" ? value : DEFAULT_LAB_PREFIX);
}

function noPositionals(positionals: string[], command: string): void {
  if (positionals.length > 0) throw new UsageError(`lab ${command} takes no arguments, got ${JSON.stringify(positionals.join(" "))}`);
}

/** A whole-number option in [min, max], or `fallback` when absent. */
function integerOption(value: string | boolean | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const number = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(number >= min && number <= max)) throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return number;
}

function natsChoice(url: string | boolean | undefined, port: string | boolean | undefined): NatsChoice {
  if (url !== undefined && port !== undefined) throw new UsageError("give --nats or --nats-port, not both");
  if (typeof url === "string") {
    if (!/^(nats|tls):\/\/[A-Za-z0-9.-]+:\d{1,5}$/.test(url)) throw new UsageError(`--nats ${JSON.stringify(url)} is not nats://<host>:<port>`);
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

function faultOf(positionals: string[], periodMs: string | boolean | undefined, count: string | boolean | undefined): FaultRequest {
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
