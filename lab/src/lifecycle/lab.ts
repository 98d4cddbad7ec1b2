// A lab's lifecycle as `x0 lab` and `bun run up --lab` use it: build from a plan and record it, find it again from its
// state file, start its monitors, wait for their data planes, describe it.
import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { isProcessAlive } from "@x0/shared";
import { LabError, LabExistsError } from "../errors.ts";
import { type ActiveFault, activeFaults, labMacs } from "../faults/faults.ts";
import { executorArgv, executorEnvironment, executorUrl, monitorArgv, monitorEnvironment, monitorUrl, siteExecutorEnvironment } from "../kernel/commands.ts";
import { buildLab, readLinks, teardownLab } from "../kernel/kernel.ts";
import { REPO_ROOT } from "../paths.ts";
import { mgmtSubnetText, parseMgmtSubnet } from "../plan/addressing.ts";
import { logDirOf, stateFileOf } from "../plan/names.ts";
import { type LabNode, type LabPlan, planLab } from "../plan/plan.ts";
import { parseTopology } from "../plan/topology.ts";
import { type LabProcess, type LabState, readLabState, writeLabState } from "./state.ts";

/** The role of a node's monitor in the state file. */
export const MONITOR_ROLE = "monitor";
/** The role of an executor in the state file: a node's, or the site executor (node `site`). */
export const EXECUTOR_ROLE = "executor";

/** The plan of a recorded lab. */
export function planOfState(state: LabState): LabPlan {
  return planLab(parseTopology(state.topology), state.prefix, parseMgmtSubnet(state.mgmt_subnet), state.routing, state.link_costs);
}

/** Reads the state and plan of the lab with `prefix`; throws {@link LabError} when there is none. */
export function loadLab(stateDir: string, prefix: string): { state: LabState; plan: LabPlan; stateFile: string } {
  const stateFile = stateFileOf(stateDir, prefix);
  const state = readLabState(stateFile);
  if (state === undefined) throw new LabError(`no lab "${prefix}": ${stateFile} does not exist (start one with "x0 lab up" or "bun run up --lab")`);
  return { state, plan: planOfState(state), stateFile };
}

/** Where the lab's monitors find NATS: a URL, a port on the bridge address, or no monitors at all. */
export type NatsChoice = { kind: "none" } | { kind: "url"; url: string } | { kind: "bridge-port"; port: number };

/** The NATS URL lab processes use for a choice, or null for none. */
export function natsUrlOf(choice: NatsChoice, plan: LabPlan): string | null {
  if (choice.kind === "url") return choice.url;
  if (choice.kind === "bridge-port") return `nats://${plan.bridgeAddress}:${choice.port}`;
  return null;
}

/** Options of {@link createLab}. */
export interface CreateLabOptions {
  stateDir: string;
  natsUrl: string | null;
  owner: LabState["owner"];
}

/** Builds a lab and writes its state file; refuses when the prefix has a state file; removes what it built when building fails. */
export async function createLab(plan: LabPlan, { stateDir, natsUrl, owner }: CreateLabOptions): Promise<LabState> {
  const stateFile = stateFileOf(stateDir, plan.prefix);
  if (existsSync(stateFile)) throw new LabExistsError(`lab ${plan.prefix} exists (${stateFile}); run "x0 lab down --prefix ${plan.prefix}" first`);
  try {
    buildLab(plan);
  } catch (error) {
    // Leftovers found before anything was built are not ours to remove; a half-built lab is.
    if (!(error instanceof LabExistsError)) await teardownLab(plan.prefix, { stateDir, graceMs: 0 });
    throw error;
  }
  const state: LabState = {
    v: 1,
    prefix: plan.prefix,
    topology: plan.topology.spec,
    routing: plan.routing,
    link_costs: plan.linkCosts,
    mgmt_subnet: mgmtSubnetText(plan.mgmt),
    nats: natsUrl,
    owner,
    owner_pid: process.pid,
    processes: [],
    faults: [],
    created_at: new Date().toISOString(),
  };
  writeLabState(stateFile, state);
  return state;
}

/** Starts a lab process detached from this process, its output appended to `<state>/lab-<prefix>-logs/<log>.log`; its pid. */
function startDetached(plan: LabPlan, stateDir: string, log: string, argv: string[], env: Record<string, string | undefined>): number {
  const logDir = logDirOf(stateDir, plan.prefix);
  mkdirSync(logDir, { recursive: true });
  const fd = openSync(join(logDir, `${log}.log`), "a");
  try {
    const child = Bun.spawn(argv, { cwd: REPO_ROOT, env, stdin: "ignore", stdout: fd, stderr: fd, detached: true });
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Starts a node's monitor detached from this process (for `x0 lab up`), its output appended to `<state>/lab-<prefix>-logs/<node>.log`. */
export function startDetachedMonitor(plan: LabPlan, node: LabNode, natsUrl: string, stateDir: string, env: Record<string, string | undefined>): LabProcess {
  const pid = startDetached(plan, stateDir, node.name, monitorArgv(node), monitorEnvironment(plan, node, natsUrl, env));
  return { node: node.name, role: MONITOR_ROLE, pid };
}

/**
 * Starts an executor detached from this process (for `x0 lab up`): a node's inside its namespace, or with no node the site
 * executor in the root namespace (HTTP on 127.0.0.1:9104); output in `<state>/lab-<prefix>-logs/executor-<node|site>.log`.
 */
export function startDetachedExecutor(
  plan: LabPlan,
  node: LabNode | undefined,
  natsUrl: string,
  stateDir: string,
  env: Record<string, string | undefined>,
): LabProcess {
  if (node) {
    const pid = startDetached(plan, stateDir, `executor-${node.name}`, executorArgv(node), executorEnvironment(plan, node, natsUrl, env));
    return { node: node.name, role: EXECUTOR_ROLE, pid };
  }
  const argv = [process.execPath, join(REPO_ROOT, "services", "executor", "src", "main.ts")];
  const site = { ...env, X0_NODE: "site", X0_NATS_SERVERS: natsUrl, X0_HTTP_PORT: "9104", ...siteExecutorEnvironment(plan.prefix) };
  return { node: "site", role: EXECUTOR_ROLE, pid: startDetached(plan, stateDir, "executor-site", argv, site) };
}

/** Waits until every node's monitor has pinned the fault map of each of its links; returns the interfaces still without one. */
export async function waitForDataplanes(plan: LabPlan, timeoutMs: number, signal?: AbortSignal): Promise<string[]> {
  const missing = () =>
    plan.nodes.flatMap((node) => node.interfaces.filter((iface) => !existsSync(join(node.pinRoot, iface, "fault"))).map((iface) => `${node.name}:${iface}`));
  const deadline = Date.now() + timeoutMs;
  let left = missing();
  while (left.length > 0 && Date.now() < deadline && !signal?.aborted) {
    await Bun.sleep(200);
    left = missing();
  }
  return left;
}

/** One node in {@link LabStatus}. */
export interface NodeStatus {
  node: string;
  netns: string;
  service_address: string;
  mgmt_address: string;
  monitor_pid: number | null;
  monitor_alive: boolean;
  /** null when not asked (no monitor), else whether /healthz answers. */
  monitor_healthy: boolean | null;
  /** The node's own executor (`--executors node`), if the lab started one. */
  executor_pid: number | null;
  executor_alive: boolean;
  /** null when not asked (no executor of the node), else whether its /readyz answers. */
  executor_ready: boolean | null;
}

/** One link in {@link LabStatus}. */
export interface LinkStatus {
  link: string;
  a: string;
  b: string;
  a_address: string;
  b_address: string;
  /** Each end: `up`, `down` (administratively) or `no-carrier`. */
  a_state: string;
  b_state: string;
}

/** What `x0 lab status` reports. */
export interface LabStatus {
  prefix: string;
  topology: string;
  mgmt_subnet: string;
  nats: string | null;
  owner: string;
  owner_pid: number;
  owner_alive: boolean;
  nodes: NodeStatus[];
  links: LinkStatus[];
  faults: ActiveFault[];
}

/** Reads the lab's state from the kernel: link states, fault maps, monitor processes, and health (`answersOk(url)`, true on HTTP 200). */
export async function labStatus(state: LabState, plan: LabPlan, answersOk: (url: string) => Promise<boolean>): Promise<LabStatus> {
  const links = new Map<string, string>();
  for (const node of plan.nodes) {
    for (const info of readLinks(node.netns)) {
      links.set(`${node.name}/${info.name}`, !info.adminUp ? "down" : info.operstate === "UP" ? "up" : "no-carrier");
    }
  }
  const nodes = await Promise.all(
    plan.nodes.map(async (node): Promise<NodeStatus> => {
      const pid = state.processes.find((entry) => entry.node === node.name && entry.role === MONITOR_ROLE)?.pid ?? null;
      const alive = pid !== null && isProcessAlive(pid);
      const executor = state.processes.find((entry) => entry.node === node.name && entry.role === EXECUTOR_ROLE)?.pid ?? null;
      const executorAlive = executor !== null && isProcessAlive(executor);
      return {
        node: node.name,
        netns: node.netns,
        service_address: node.serviceAddress,
        mgmt_address: node.mgmtAddress,
        monitor_pid: pid,
        monitor_alive: alive,
        monitor_healthy: alive ? await answersOk(`${monitorUrl(node)}/healthz`) : null,
        executor_pid: executor,
        executor_alive: executorAlive,
        executor_ready: executorAlive ? await answersOk(`${executorUrl(node)}/readyz`) : null,
      };
    }),
  );
  return {
    prefix: state.prefix,
    topology: state.topology,
    mgmt_subnet: state.mgmt_subnet,
    nats: state.nats,
    owner: state.owner,
    owner_pid: state.owner_pid,
    owner_alive: isProcessAlive(state.owner_pid),
    nodes,
    links: plan.links.map(({ id, a, b }) => ({
      link: id,
      a: a.interface,
      b: b.interface,
      a_address: a.address,
      b_address: b.address,
      a_state: links.get(`${a.node}/${a.interface}`) ?? "missing",
      b_state: links.get(`${b.node}/${b.interface}`) ?? "missing",
    })),
    faults: activeFaults(plan, labMacs(plan)),
  };
}
