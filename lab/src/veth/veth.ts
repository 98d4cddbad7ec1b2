// Veth labs for tests and benchmarks: one veth pair between the root namespace and a peer namespace.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { isProcessAlive } from "@x0/shared";
import { LabError } from "../errors.ts";
import { runCommand } from "../kernel/kernel.ts";

/** Runs `argv` (no shell) and returns its stdout; throws LabCommandError with its stderr when it fails. */
export function run(argv: string[]): string {
  return runCommand({ argv });
}

/** The argv that runs `argv` inside network namespace `ns`. */
export function inNetns(ns: string, argv: string[]): string[] {
  return ["ip", "netns", "exec", ns, ...argv];
}

/** A veth pair: `hostIf` in the root namespace, `peerIf` in namespace `ns`, on a /30. */
export interface VethLab {
  ns: string;
  hostIf: string;
  peerIf: string;
  hostIp: string;
  peerIp: string;
  hostMac: string;
  peerMac: string;
  /** Deletes the namespace (which deletes the pair). */
  destroy(): void;
}

/** The prefix of every lab namespace, link and pin folder, so leftovers of a crashed run can be found. */
export const LAB_PREFIX = "x0t";

/** Name stem for one process's lab objects: x0t<pid><tag> (links must fit in 15 characters). */
function labStem(tag: string, pid = process.pid): string {
  return `${LAB_PREFIX}${pid}${tag}`;
}

function macOf(argv: string[]): string {
  const match = /link\/ether ([0-9a-f:]{17})/.exec(run(argv));
  if (!match?.[1]) throw new LabError(`no MAC address in ${argv.join(" ")}`);
  return match[1];
}

/** Creates namespace `x0t-<pid>-<tag>` and a veth pair to it; `subnet` is the third octet of 10.213.<subnet>.0/30. */
export function createVethLab(tag: string, subnet: number): VethLab {
  const stem = labStem(tag);
  const ns = `${LAB_PREFIX}-${process.pid}-${tag}`;
  const hostIf = `${stem}h`;
  const peerIf = `${stem}p`;
  const hostIp = `10.213.${subnet}.1`;
  const peerIp = `10.213.${subnet}.2`;
  run(["ip", "netns", "add", ns]);
  const destroy = () => {
    if (existsSync(join("/run/netns", ns))) run(["ip", "netns", "delete", ns]);
  };
  try {
    run(["ip", "link", "add", hostIf, "type", "veth", "peer", "name", peerIf, "netns", ns]);
    // IPv6 off: no router solicitations or DAD frames in the counters the tests compare exactly.
    run(["sysctl", "-q", "-w", `net.ipv6.conf.${hostIf}.disable_ipv6=1`]);
    run(inNetns(ns, ["sysctl", "-q", "-w", `net.ipv6.conf.${peerIf}.disable_ipv6=1`]));
    run(["ip", "addr", "add", `${hostIp}/30`, "dev", hostIf]);
    run(["ip", "-n", ns, "addr", "add", `${peerIp}/30`, "dev", peerIf]);
    run(["ip", "link", "set", hostIf, "up"]);
    run(["ip", "-n", ns, "link", "set", peerIf, "up"]);
    run(["ip", "-n", ns, "link", "set", "lo", "up"]);
    return {
      ns,
      hostIf,
      peerIf,
      hostIp,
      peerIp,
      hostMac: macOf(["ip", "link", "show", hostIf]),
      peerMac: macOf(["ip", "-n", ns, "link", "show", peerIf]),
      destroy,
    };
  } catch (error) {
    destroy();
    throw error;
  }
}

/** Deletes lab namespaces, links and pin folders left by earlier runs whose process is gone. */
export function cleanStaleLabs(pinParent = "/sys/fs/bpf"): string[] {
  const removed: string[] = [];
  const stale = (name: string) => {
    const match = new RegExp(`^${LAB_PREFIX}-?(\\d+)`).exec(name);
    return match?.[1] !== undefined && !isProcessAlive(Number(match[1]));
  };
  for (const ns of existsSync("/run/netns") ? readdirSync("/run/netns") : []) {
    if (!stale(ns)) continue;
    run(["ip", "netns", "delete", ns]);
    removed.push(`netns ${ns}`);
  }
  for (const link of readdirSync("/sys/class/net")) {
    if (!stale(link)) continue;
    run(["ip", "link", "delete", link]);
    removed.push(`link ${link}`);
  }
  for (const dir of existsSync(pinParent) ? readdirSync(pinParent) : []) {
    if (!stale(dir)) continue;
    rmSync(join(pinParent, dir), { recursive: true, force: true });
    removed.push(`pins ${dir}`);
  }
  return removed;
}
