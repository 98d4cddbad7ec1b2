// What `up` runs, decided before anything starts: the services and their ports, the lab's monitors, each process's
// command line and environment, and what to do with a lab a previous run left.
import { join } from "node:path";
import {
  EXECUTOR_HTTP_PORT,
  executorArgv,
  executorEnvironment,
  type LabPlan,
  type LabState,
  MONITOR_HTTP_PORT,
  monitorArgv,
  monitorEnvironment,
} from "@x0/lab";
import { isProcessAlive } from "@x0/shared";
import { StackStartError, UsageError } from "../errors.ts";
import { labServiceEnvironment, serviceEnvironment, stackDefaults } from "./config.ts";
import { assignPorts } from "./ports.ts";

/** One process `up` supervises: a service on this machine, or a lab node's monitor inside its namespace. */
export interface ProcessSpec {
  name: string;
  argv: string[];
  env: Record<string, string | undefined>;
  /** Where its HTTP server answers: 127.0.0.1, or the node's management address. */
  host: string;
  port: number;
}

/** What {@link selectServices} decides. */
export interface ServiceSelection {
  /** The services to start on this machine, in start order, with their HTTP ports. */
  ports: Map<string, number>;
  /** Whether the lab's nodes run the monitor, one each, instead of this machine. */
  labMonitors: boolean;
  /** Whether the lab's nodes run the executor, one each inside its namespace, instead of a site executor here. */
  labExecutors: boolean;
}

/** What {@link selectServices} chooses from. */
export interface SelectServicesOptions {
  /** Every service found, in start order (see discoverServices). */
  discovered: readonly string[];
  /** `--only`; undefined for every service. */
  only: readonly string[] | undefined;
  portBase: number;
  /** Whether the stack runs on a lab. */
  onLab: boolean;
  /** On a lab: one executor per node (`--executors node`) instead of the site executor here. */
  nodeExecutors?: boolean;
  isPortFree: (port: number) => boolean;
}

/** Picks the services and their ports; throws {@link UsageError} for an unknown `--only` name, {@link StackStartError} for a taken port. */
export function selectServices({ discovered, only, portBase, onLab, nodeExecutors = false, isPortFree }: SelectServicesOptions): ServiceSelection {
  const selected = only ?? discovered;
  const unknown = selected.filter((name) => !discovered.includes(name));
  if (unknown.length > 0) throw new UsageError(`--only: no such service: ${unknown.join(", ")} (services: ${discovered.join(", ")})`);
  // Ports are assigned over every discovered service so that --only does not move them.
  const all = assignPorts(discovered, portBase, isPortFree);
  const ports = new Map([...all].filter(([name]) => selected.includes(name)));
  // On a lab the monitors run inside the nodes' namespaces, one per node, instead of one on this machine.
  const labMonitors = onLab && ports.delete("monitor");
  const labExecutors = onLab && nodeExecutors && ports.delete("executor");
  const busy = [...ports].filter(([, port]) => !isPortFree(port));
  if (busy.length > 0) {
    const list = busy.map(([name, port]) => `${port} (${name})`).join(", ");
    throw new StackStartError(`HTTP port already in use: ${list}; stop what holds it, use --only, or set X0_HTTP_PORT_BASE`);
  }
  return { ports, labMonitors, labExecutors };
}

/** What every process of a stack is told. */
export interface StackEnvironment {
  /** The user's environment, passed on. */
  userEnv: Record<string, string | undefined>;
  natsUrl: string;
  node: string;
  /** The lab's prefix when the stack runs on one. */
  labPrefix?: string;
  /** The identity variables of the stack's PKI (mTLS), if any. */
  pkiEnv?: Record<string, string>;
  /** What the stack's NATS asks of every process (X0_JS_REPLICAS on a cluster). */
  natsEnv?: Record<string, string>;
}

/** A service on this machine: `bun services/<name>/src/main.ts` with the NATS URL, its port and the node set (and, on a lab, the executor's lab wiring). */
export function serviceProcess(name: string, port: number, { userEnv, natsUrl, node, labPrefix, pkiEnv, natsEnv }: StackEnvironment): ProcessSpec {
  const env = {
    ...stackDefaults(name),
    ...serviceEnvironment(userEnv, { natsServers: natsUrl, httpPort: port, node }),
    ...(labPrefix === undefined ? {} : labServiceEnvironment(name, labPrefix)),
    ...pkiEnv,
    ...natsEnv,
  };
  return { name, argv: [process.execPath, join("services", name, "src", "main.ts")], env, host: "127.0.0.1", port };
}

/** The supervisor name of a lab node's monitor: `monitor@<node>`. */
export function monitorNameOf(node: string): string {
  return `monitor@${node}`;
}

/** One monitor per lab node, inside the node's namespace, answering HTTP at the node's management address. */
export function labMonitorProcesses(plan: LabPlan, { userEnv, natsUrl, pkiEnv, natsEnv }: Omit<StackEnvironment, "node" | "labPrefix">): ProcessSpec[] {
  return plan.nodes.map((node) => ({
    name: monitorNameOf(node.name),
    argv: monitorArgv(node),
    env: monitorEnvironment(plan, node, natsUrl, { ...userEnv, ...pkiEnv, ...natsEnv }),
    host: node.mgmtAddress,
    port: MONITOR_HTTP_PORT,
  }));
}

/** The supervisor name of a lab node's executor: `executor@<node>`. */
export function executorNameOf(node: string): string {
  return `executor@${node}`;
}

/** One executor per lab node, inside the node's namespace (its own node only), answering HTTP at the node's management address. */
export function labExecutorProcesses(plan: LabPlan, { userEnv, natsUrl, pkiEnv, natsEnv }: Omit<StackEnvironment, "node" | "labPrefix">): ProcessSpec[] {
  return plan.nodes.map((node) => ({
    name: executorNameOf(node.name),
    argv: executorArgv(node),
    env: executorEnvironment(plan, node, natsUrl, { ...userEnv, ...pkiEnv, ...natsEnv }),
    host: node.mgmtAddress,
    port: EXECUTOR_HTTP_PORT,
  }));
}

/** What `up` does about the lab its prefix names before building it. */
export type LabLeftover = { kind: "none" } | { kind: "remove" } | { kind: "refuse"; by: string };

/**
 * A lab made by `x0 lab up`, or run by another live `up`, is refused; what a crashed `up` left (a state file whose owner is
 * gone, or namespaces without a state file) is removed; otherwise there is nothing to do.
 */
export function labLeftover(previous: LabState | undefined, namespacesLeft: boolean, isAlive: (pid: number) => boolean = isProcessAlive): LabLeftover {
  if (previous !== undefined && previous.owner === "lab") return { kind: "refuse", by: "x0 lab up" };
  if (previous !== undefined && isAlive(previous.owner_pid)) return { kind: "refuse", by: `another up (pid ${previous.owner_pid})` };
  return previous !== undefined || namespacesLeft ? { kind: "remove" } : { kind: "none" };
}
