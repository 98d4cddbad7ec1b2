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

/** When `pid` started (Linux /proc: boot time plus its start tick); undefined when it cannot be read. */
export function processStartedAt(pid: number): Date | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime, in clock ticks since boot) counts from the field after the command name.
    const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    const bootS = Number(/^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1]);
    // USER_HZ is 100 on every Linux ABI Bun runs on (x86-64, arm64).
    if (!Number.isFinite(ticks) || !Number.isFinite(bootS)) return undefined;
    return new Date(bootS * 1000 + ticks * 10);
  } catch {
    return undefined;
  }
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
