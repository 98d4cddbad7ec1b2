// What touches the kernel: running lab commands, building a planned lab, and tearing a lab down (also after a crash).
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { isProcessAlive } from "@x0/shared";
import { LabCommandError, LabExistsError } from "../errors.ts";
import { readLabState, removeLabState } from "../lifecycle/state.ts";
import {
  bridgeOf,
  isLabMgmtInterface,
  isLabNamespace,
  LAB_MARK_VARIABLE,
  labRunDirOf,
  logDirOf,
  NETNS_RUN_DIR,
  pinParentOf,
  stateFileOf,
  validatePrefix,
} from "../plan/names.ts";
import type { LabPlan } from "../plan/plan.ts";
import { buildCommands, ipBatch, type LabCommand, showLink } from "./commands.ts";

/** Runs a lab command (argv, optional stdin) and returns its stdout; throws {@link LabCommandError} with its stderr. */
export function runCommand({ argv, stdin }: LabCommand): string {
  let result: ReturnType<typeof Bun.spawnSync>;
  try {
    result = Bun.spawnSync(argv, { stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe" });
  } catch (error) {
    throw new LabCommandError(`cannot run ${argv[0]} (is it installed?)`, { cause: error });
  }
  if (result.exitCode !== 0) {
    const detail = result.stderr?.toString().trim() || `exit code ${result.exitCode}`;
    throw new LabCommandError(`${argv.join(" ")} failed: ${detail}`);
  }
  return result.stdout?.toString() ?? "";
}

/** Lab namespaces of `prefix` that exist now. */
export function existingNamespaces(prefix: string): string[] {
  return existsSync(NETNS_RUN_DIR) ? readdirSync(NETNS_RUN_DIR).filter((name) => isLabNamespace(prefix, name)) : [];
}

/** Whether a root-namespace interface exists. */
export function interfaceExists(name: string): boolean {
  return existsSync(join("/sys/class/net", name));
}

/** Builds a planned lab; throws {@link LabExistsError} when any of its namespaces or its bridge already exist. */
export function buildLab(plan: LabPlan): void {
  const leftovers = [...existingNamespaces(plan.prefix), ...(interfaceExists(plan.bridge) ? [plan.bridge] : [])];
  if (leftovers.length > 0) {
    throw new LabExistsError(
      `lab ${plan.prefix} already exists (${leftovers.slice(0, 4).join(", ")}${leftovers.length > 4 ? ", …" : ""}); run "x0 lab down --prefix ${plan.prefix}" first`,
    );
  }
  for (const node of plan.nodes) mkdirSync(node.sysfsDir, { recursive: true });
  for (const command of buildCommands(plan)) runCommand(command);
}

/** One interface as `ip -j link show` reports it. */
export interface LinkInfo {
  name: string;
  mac: string;
  /** Administratively up. */
  adminUp: boolean;
  operstate: string;
}

/** The interfaces of a namespace (or one of them), with MAC and state. */
export function readLinks(netns: string, iface?: string): LinkInfo[] {
  const parsed = JSON.parse(runCommand(showLink(netns, iface))) as { ifname: string; address?: string; flags?: string[]; operstate?: string }[];
  return parsed.map((link) => ({
    name: link.ifname,
    mac: link.address ?? "",
    adminUp: link.flags?.includes("UP") ?? false,
    operstate: link.operstate ?? "UNKNOWN",
  }));
}

/** The inode of a network namespace handle, as /proc/<pid>/ns/net names it (`net:[<inode>]`). */
function namespaceInode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Pids of processes that belong to a lab: inside one of its namespaces, or started with its mark in their environment. */
export function findLabProcesses(prefix: string): number[] {
  const inodes = new Set(existingNamespaces(prefix).flatMap((name) => namespaceInode(join(NETNS_RUN_DIR, name)) ?? []));
  const mark = `${LAB_MARK_VARIABLE}=${prefix}`;
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const netns = /^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/net`))?.[1];
      const inLab = netns !== undefined && inodes.has(Number(netns));
      if (inLab || readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(mark)) found.push(pid);
    } catch {
      // The process ended while being looked at, or is a kernel thread without these files: not ours to stop.
    }
  }
  return found;
}

/** Stops processes: SIGTERM, then SIGKILL for those still alive after `graceMs`. */
export async function stopProcesses(pids: readonly number[], graceMs: number): Promise<void> {
  const signal = (pid: number, name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
  };
  for (const pid of pids) signal(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && pids.some(isProcessAlive)) await Bun.sleep(50);
  for (const pid of pids.filter(isProcessAlive)) signal(pid, "SIGKILL");
}

/** Mount points under the lab's run folder, deepest first. */
export function labMounts(prefix: string): string[] {
  const root = `${labRunDirOf(prefix)}/`;
  return readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((mountPoint) => mountPoint.startsWith(root))
    .sort((x, y) => y.length - x.length);
}

/** What {@link teardownLab} removed. */
export interface TeardownReport {
  processes: number[];
  mounts: string[];
  namespaces: string[];
  interfaces: string[];
  paths: string[];
}

/** Options of {@link teardownLab}. */
export interface TeardownOptions {
  stateDir: string;
  /** How long lab processes get between SIGTERM and SIGKILL (0 kills at once). */
  graceMs?: number;
}

/**
 * Removes everything a lab with `prefix` made, whether it stopped cleanly or crashed: its processes, sysfs mounts, namespaces
 * (only `<prefix>-n<digits>`), bridge and management veths, pin folder, run folder and state file. Idempotent.
 */
export async function teardownLab(prefix: string, { stateDir, graceMs = 5000 }: TeardownOptions): Promise<TeardownReport> {
  validatePrefix(prefix);
  const stateFile = stateFileOf(stateDir, prefix);
  let recorded: number[] = [];
  try {
    recorded = (readLabState(stateFile)?.processes ?? []).map((entry) => entry.pid);
  } catch {
    // A corrupt state file cannot name processes; the /proc scan still finds them.
  }
  const pids = [...new Set([...recorded.filter((pid) => pid !== process.pid && isLabProcess(pid, prefix)), ...findLabProcesses(prefix)])];
  await stopProcesses(pids, graceMs);
  const report: TeardownReport = { processes: pids, mounts: [], namespaces: [], interfaces: [], paths: [] };
  for (const mountPoint of labMounts(prefix)) {
    // Lazy: a mount still held open by a process that is just dying must not keep the lab half-removed.
    runCommand({ argv: ["umount", "-l", mountPoint] });
    report.mounts.push(mountPoint);
  }
  const namespaces = existingNamespaces(prefix);
  if (namespaces.length > 0) {
    // -force: one namespace that vanished meanwhile must not stop the others from going.
    runCommand({ ...ipBatch(namespaces.map((name) => `netns delete ${name}`)), argv: ["ip", "-force", "-batch", "-"] });
    report.namespaces.push(...namespaces);
  }
  // Deleting a namespace deletes the veths in it and their peers; what is left in the root is the bridge and stray mgmt ends.
  const rootLinks = readdirSync("/sys/class/net").filter((name) => name === bridgeOf(prefix) || isLabMgmtInterface(prefix, name));
  for (const name of rootLinks) {
    try {
      runCommand({ argv: ["ip", "link", "delete", "dev", name] });
      report.interfaces.push(name);
    } catch (error) {
      if (interfaceExists(name)) throw error;
    }
  }
  for (const path of [pinParentOf(prefix), labRunDirOf(prefix), logDirOf(stateDir, prefix)]) {
    if (!existsSync(path)) continue;
    rmSync(path, { recursive: true, force: true });
    report.paths.push(path);
  }
  removeLabState(stateFile);
  return report;
}

/** Whether a recorded pid still runs a process of this lab (a recycled pid running something else is left alone). */
function isLabProcess(pid: number, prefix: string): boolean {
  if (!isProcessAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(`${LAB_MARK_VARIABLE}=${prefix}`);
  } catch {
    return false;
  }
}
