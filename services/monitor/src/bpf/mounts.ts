// bpffs (for pins) and tracefs (for tracepoint ids) are mounted by the monitor when the host has not done it.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { X0Error } from "@x0/shared";

/** A filesystem the data plane needs is not mounted and could not be mounted. */
export class MountError extends X0Error {}

/** Whether a filesystem of `fstype` is mounted at `target`, according to `mounts` (/proc/mounts text). */
export function isMounted(mounts: string, target: string, fstype: string): boolean {
  return mounts.split("\n").some((line) => {
    const [, mountPoint, type] = line.split(" ");
    return mountPoint === target && type === fstype;
  });
}

/** Mounts `fstype` at `target` unless it already is (idempotent). */
export function ensureMounted(target: string, fstype: "bpf" | "tracefs"): void {
  if (isMounted(readFileSync("/proc/mounts", "utf8"), target, fstype)) return;
  if (!existsSync(target)) mkdirSync(target, { recursive: true });
  const result = Bun.spawnSync(["mount", "-t", fstype, fstype, target], { stdout: "ignore", stderr: "pipe" });
  if (result.exitCode !== 0) {
    throw new MountError(`cannot mount ${fstype} at ${target}: ${result.stderr.toString().trim() || `mount exited ${result.exitCode}`}`);
  }
}
