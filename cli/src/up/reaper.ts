// The reaper, started by `up` in its own session and told over stdin what runs: when stdin ends with something still
// watched (up died, even by SIGKILL), it stops that, services before NATS, clears the stack file and removes up's lab.
import { dirname } from "node:path";
import { teardownLab } from "@x0/lab";
import { isProcessAlive, signalGroup } from "@x0/shared";
import { removeStackFile } from "../stack-file.ts";
import { LineSplitter } from "./log-prefix.ts";
import { parseReaperCommand, WatchList } from "./reaper-protocol.ts";

/** How long orphans get to stop after SIGTERM before SIGKILL. */
const GRACE_MS = 10_000;

const [upPidText, stackFile] = Bun.argv.slice(2);
const upPid = Number(upPidText);
if (!Number.isSafeInteger(upPid) || stackFile === undefined) {
  process.stderr.write("usage: bun cli/src/up/reaper.ts <up pid> <stack file>\n");
  process.exit(2);
}

// The terminal's Ctrl-C and a TERM to `up`'s group are for `up`; the reaper leaves only when its stdin ends.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => {});

const watched = new WatchList();
const splitter = new LineSplitter();
const decoder = new TextDecoder();
const apply = (line: string) => {
  if (line.trim() === "") return;
  try {
    watched.apply(parseReaperCommand(line));
  } catch (error) {
    process.stderr.write(`x0 reaper: ${(error as Error).message}\n`);
  }
};
for await (const chunk of Bun.stdin.stream()) for (const line of splitter.push(decoder.decode(chunk, { stream: true }))) apply(line);
for (const line of splitter.flush()) apply(line);

const phases = watched.stopOrder();
if (phases.length > 0) {
  process.stderr.write(`x0 reaper: up (pid ${upPid}) ended without stopping its processes; stopping ${phases.flat().join(", ")}\n`);
  const signal = (pid: number, name: NodeJS.Signals) => {
    try {
      signalGroup(pid, name);
    } catch (error) {
      process.stderr.write(`x0 reaper: cannot send ${name} to process group ${pid}: ${(error as Error).message}\n`);
    }
  };
  for (const pids of phases) {
    for (const pid of pids) signal(pid, "SIGTERM");
    const deadline = Date.now() + GRACE_MS;
    while (Date.now() < deadline && pids.some(isProcessAlive)) await Bun.sleep(50);
    for (const pid of pids.filter(isProcessAlive)) signal(pid, "SIGKILL");
  }
  removeStackFile(stackFile, upPid);
}

for (const prefix of watched.labs()) {
  process.stderr.write(`x0 reaper: up (pid ${upPid}) ended without removing lab ${prefix}; removing it\n`);
  try {
    await teardownLab(prefix, { stateDir: dirname(stackFile) });
  } catch (error) {
    process.stderr.write(`x0 reaper: cannot remove lab ${prefix} (${(error as Error).message}); run "x0 lab down --prefix ${prefix}"\n`);
  }
}
