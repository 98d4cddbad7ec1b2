#!/usr/bin/env bun
// x0: the x0tta6bl4 command line. `x0 <command> [<subcommand>] [options]`; commands.ts is its table.
import pkg from "../package.json" with { type: "json" };
import { runAsk } from "./ask/command.ts";
import { runCerts } from "./certs/command.ts";
import { X0_SPEC } from "./commands.ts";
import { bashCompletion, zshCompletion } from "./completion.ts";
import { runConsole } from "./console/command.ts";
import { EXIT_FAILURE, EXIT_USAGE, isUsageError } from "./errors.ts";
import { runGov } from "./gov/command.ts";
import { runIncidents } from "./incidents/command.ts";
import { runKeys } from "./keys/command.ts";
import { runLab } from "./lab/command.ts";
import { describeError } from "./report-error.ts";
import { type CommandSpec, pathName, renderHelp, resolveCommand } from "./spec.ts";
import { type Output, runStatus } from "./status/command.ts";
import { runDown } from "./up/down.ts";
import { runUp } from "./up/stack.ts";

/** Usage text of `x0`. */
export const X0_USAGE = renderHelp(X0_SPEC, "x0");

type Runner = (argv: readonly string[], env: Record<string, string | undefined>, output: Output) => Promise<number>;

/** The commands that run code of their own (help, version and completion are answered here). */
export const RUNNERS: Record<string, Runner> = {
  status: runStatus,
  lab: runLab,
  incidents: runIncidents,
  ask: runAsk,
  certs: runCerts,
  gov: runGov,
  keys: runKeys,
  console: (argv, env, output) => runConsole(argv, env, output),
  up: (argv, env) => runUp(argv, env),
  down: runDown,
};

/** The help text of the command at the end of `path`. */
export function helpOf(path: readonly CommandSpec[]): string {
  return renderHelp(path.at(-1) as CommandSpec, pathName(path));
}

/**
 * Runs the x0 command line and returns its exit code: 0 done (help asked for included, on stdout); 1 failed; 2 a usage
 * error: no, or an unknown, command or subcommand, or a bad option (the message and the usage on stderr).
 */
export async function runX0(argv: readonly string[], env: Record<string, string | undefined>, output: Output): Promise<number> {
  const resolved = resolveCommand(X0_SPEC, argv);
  const name = pathName(resolved.path);
  switch (resolved.kind) {
    case "help":
      output.out(helpOf(resolved.path));
      return 0;
    case "unknown":
      output.err(`${name}: unknown command '${resolved.word}'\n\n${helpOf(resolved.path)}`);
      return EXIT_USAGE;
    case "bad-option":
      output.err(`${name}: unknown option '${resolved.option}'\nRun "${name} --help" for usage.`);
      return EXIT_USAGE;
    case "missing":
      if (resolved.path.length === 1 && argv.includes("--version")) return version(output);
      output.err(`${name}: no command given\n\n${helpOf(resolved.path)}`);
      return EXIT_USAGE;
  }
  const [, top, sub] = resolved.path;
  switch (top?.name) {
    case "version":
      return version(output);
    case "help": {
      const topic = resolveCommand(X0_SPEC, argv.slice(argv.indexOf("help") + 1));
      if (topic.kind === "unknown") return runX0([...topic.path.slice(1).map((command) => command.name), topic.word], env, output);
      output.out(helpOf(topic.path));
      return 0;
    }
    case "completion":
      output.out((sub?.name === "zsh" ? zshCompletion : bashCompletion)(X0_SPEC).trimEnd());
      return 0;
  }
  const run = RUNNERS[top?.name ?? ""];
  if (run === undefined) throw new Error(`x0: no runner for ${name}`); // the table test rules this out
  try {
    return await run(resolved.argv, env, output);
  } catch (error) {
    if (isUsageError(error)) {
      output.err(`x0 ${top?.name}: ${error.message}\nRun "${name} --help" for usage.`);
      return EXIT_USAGE;
    }
    output.err(`x0 ${top?.name}: ${describeError(error)}`);
    return EXIT_FAILURE;
  }
}

function version(output: Output): number {
  output.out(`x0 ${pkg.version} (bun ${Bun.version})`);
  return 0;
}

if (import.meta.main) {
  const output: Output = {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  };
  const code = await runX0(Bun.argv.slice(2), process.env, output);
  // up may leave handles (its signal handlers, a late timer) that would keep the process alive after the stack stopped.
  if (Bun.argv[2] === "up") process.exit(code);
  process.exitCode = code;
}
