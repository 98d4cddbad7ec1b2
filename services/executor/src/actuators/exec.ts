// Running external commands for actuators: argv arrays only (never a shell), with a timeout and captured output.
import { CommandFailed } from "../errors.ts";

/** What a finished command left. */
export interface CommandOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `argv` (no shell) with optional stdin; resolves whatever the exit code, rejects with {@link CommandFailed} only on spawn failure or timeout. */
export async function runCommand(argv: readonly string[], { stdin, timeoutMs = 5000 }: { stdin?: string; timeoutMs?: number } = {}): Promise<CommandOutput> {
  let child: Bun.Subprocess<"pipe" | "ignore", "pipe", "pipe">;
  try {
    child = Bun.spawn([...argv], { stdin: stdin === undefined ? "ignore" : "pipe", stdout: "pipe", stderr: "pipe" });
  } catch (error) {
    throw new CommandFailed(argv, null, "", { cause: error });
  }
  if (stdin !== undefined && child.stdin && typeof child.stdin !== "number") {
    child.stdin.write(stdin);
    await child.stdin.end();
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  clearTimeout(timer);
  if (timedOut) throw new CommandFailed(argv, null, `timed out after ${timeoutMs} ms`);
  return { exitCode, stdout, stderr };
}

/** Runs `argv` and returns stdout; rejects with {@link CommandFailed} when it exits non-zero. */
export async function runChecked(argv: readonly string[], options?: { stdin?: string; timeoutMs?: number }): Promise<string> {
  const output = await runCommand(argv, options);
  if (output.exitCode !== 0) throw new CommandFailed(argv, output.exitCode, output.stderr);
  return output.stdout;
}
