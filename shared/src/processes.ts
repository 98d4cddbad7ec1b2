// Processes by pid: whether one is alive (zombies count as gone), and signals to a whole process group.
import { readFileSync } from "node:fs";

/** Whether `pid` names a live process (zombies count as gone). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    if ((error as NodeJS.ErrnoException).code !== "EPERM") throw error;
  }
  return !isZombie(pid);
}

/** Whether `pid` is a zombie: exited but not reaped (Linux /proc; elsewhere false). */
export function isZombie(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch (error) {
    // No /proc (not Linux) or the process vanished meanwhile: either way it is not a zombie we can see.
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
  return processStateOf(stat) === "Z";
}

/** The state letter of a /proc/<pid>/stat line (the field after the parenthesised command name). */
export function processStateOf(statLine: string): string | undefined {
  const end = statLine.lastIndexOf(")");
  return end === -1 ? undefined : statLine.slice(end + 2, end + 3);
}

/** Sends `signal` to the process group led by `pid`; returns false when the group no longer exists. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}
