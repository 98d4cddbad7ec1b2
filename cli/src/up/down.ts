// `x0 down`: stops the stack `x0 up` (or `bun run up`) runs in this state folder, by sending its up process the SIGTERM
// that Ctrl-C would: up stops the services, then NATS, removes its lab and its stack file, and exits.
import { isProcessAlive, processStartedAt } from "@x0/shared";
import { StackStopError, UsageError } from "../errors.ts";
import { stackFileOf, stateDirOf } from "../paths.ts";
import { type CommandSpec, parseCommandArgs } from "../spec.ts";
import { readStackFile, removeStackFile } from "../stack-file.ts";
import type { Output } from "../status/command.ts";

/** How long `x0 down` waits for up by default: up gives each process 10 s, services first, then NATS, then the lab. */
const DEFAULT_TIMEOUT_S = 60;

/** Up writes its stack file after it started; a clock tick and /proc rounding are allowed for. */
const PID_START_SLACK_MS = 5000;

/** `x0 down` in the command table. */
export const DOWN_SPEC = {
  name: "down",
  summary: "stop the stack x0 up runs (as Ctrl-C in its terminal would)",
  description: `Asks the "x0 up" (or "bun run up") of this state folder (.x0, or X0_STATE_DIR) to stop, as Ctrl-C
would: it stops the services, then NATS, removes its lab and its stack file, and exits. Waits until it has.`,
  flags: {
    "timeout-s": { type: "string", value: "s", help: `how long to wait for up to stop (default ${DEFAULT_TIMEOUT_S})` },
    force: { type: "boolean", help: "if up has not stopped by then, kill it: its reaper then stops what it started" },
  },
  notes: "Exit code: 0 once no stack runs (also when none did), 1 when up is still running after the wait.",
} as const satisfies CommandSpec;

/** Runs `x0 down`: 0 once the stack is stopped or none runs. */
export async function runDown(argv: readonly string[], env: Record<string, string | undefined>, output: Output): Promise<number> {
  const { values } = parseCommandArgs<{ "timeout-s"?: string; force?: boolean }>(DOWN_SPEC, argv, false);
  const timeoutS = values["timeout-s"] === undefined ? DEFAULT_TIMEOUT_S : Number(values["timeout-s"]);
  if (!Number.isInteger(timeoutS) || timeoutS < 0 || timeoutS > 3600)
    throw new UsageError(`--timeout-s ${JSON.stringify(values["timeout-s"])} must be a whole number of seconds from 0 to 3600`);
  const stackFile = stackFileOf(stateDirOf(env));
  const stack = readStackFile(stackFile);
  if (stack === undefined) {
    output.out(`no stack runs here (no ${stackFile})`);
    return 0;
  }
  // A pid that started after up wrote its file is not up (up crashed and the pid was reused): never signal it.
  const startedAt = isProcessAlive(stack.pid) ? processStartedAt(stack.pid) : undefined;
  if (startedAt !== undefined && startedAt.getTime() > Date.parse(stack.started_at) + PID_START_SLACK_MS) {
    removeStackFile(stackFile, stack.pid);
    output.out(`no stack runs here: ${stackFile} names pid ${stack.pid}, now another process (started ${startedAt.toISOString()}); removed it`);
    return 0;
  }
  if (!isProcessAlive(stack.pid)) {
    // Its reaper stopped what it left; only the file remains.
    removeStackFile(stackFile, stack.pid);
    output.out(`no stack runs here: ${stackFile} was left by up (pid ${stack.pid}), which has ended; removed it`);
    return 0;
  }
  output.out(`stopping the stack of up (pid ${stack.pid}, NATS ${stack.nats.url}, ${stack.services.length} service(s))`);
  signal(stack.pid, "SIGTERM");
  if (await ended(stack.pid, timeoutS * 1000)) {
    output.out("stack stopped");
    return 0;
  }
  if (!values.force) {
    throw new StackStopError(`up (pid ${stack.pid}) is still stopping after ${timeoutS} s; wait, or run "x0 down --force" to kill it`);
  }
  signal(stack.pid, "SIGKILL");
  if (!(await ended(stack.pid, 5000))) throw new StackStopError(`up (pid ${stack.pid}) did not die from SIGKILL`);
  output.out(`killed up (pid ${stack.pid}); its reaper stops the processes it left and removes its lab`);
  return 0;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    // Gone meanwhile is what was wanted; anything else (EPERM: another user's stack) is not.
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw new StackStopError(`cannot send ${name} to up (pid ${pid})`, { cause: error });
  }
}

/** Whether `pid` is gone within `timeoutMs`. */
async function ended(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await Bun.sleep(100);
  }
  return true;
}
