#!/usr/bin/env bun
// x0: the x0tta6bl4 command line. `x0 <command> [options]`.
import { ConfigError, EXIT_CONFIG } from "@x0/shared";
import pkg from "../package.json" with { type: "json" };
import { runAsk } from "./ask/command.ts";
import { runCerts } from "./certs/command.ts";
import { runConsole } from "./console/command.ts";
import { EXIT_USAGE, isUsageError } from "./errors.ts";
import { runGov } from "./gov/command.ts";
import { runIncidents } from "./incidents/command.ts";
import { runKeys } from "./keys/command.ts";
import { runLab } from "./lab/command.ts";
import { describeError } from "./report-error.ts";
import { type Output, runStatus } from "./status/command.ts";

/** Usage text of `x0`. */
export const X0_USAGE = `Usage: x0 <command> [options]

Commands:
  status [--json] [--url <url> ...]   readiness, versions and loop counters of the running services
  lab <up|down|status|fault|heal|probe>  the network-namespace mesh lab (root)
  console [--port 9180] [--lab]       a live web view of the mesh, its incidents and services (read-only)
  incidents [--since 1h] [--json]     recent incidents with their time to detect (MTTD) and to repair (MTTR)
  ask "<question>" | --incident <id>  past incidents and runbook sections like it, with citations (the rag)
  gov <propose|vote|status|verify|members>  governance: members' EIP-712 signed votes on plans and changes
  certs <init|issue|nats-config>      development CA, client certificates, NATS permissions
  keys <hsm init|rewrap --to pkcs11>  the key-encryption key in a PKCS#11 token
  help [command]                      print this help, or a command's
  version                             print x0's version (also --version)

Run "x0 <command> --help" for a command's options. Start the stack with "bun run up".`;

const commands: Record<string, (argv: readonly string[], env: Record<string, string | undefined>, output: Output) => Promise<number>> = {
  status: runStatus,
  lab: runLab,
  incidents: runIncidents,
  ask: runAsk,
  certs: runCerts,
  gov: runGov,
  keys: runKeys,
  console: (argv, env, output) => runConsole(argv, env, output),
};

/** Runs the x0 command line and returns its exit code. */
export async function runX0(argv: readonly string[], env: Record<string, string | undefined>, output: Output): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "version" || command === "--version") {
    output.out(`x0 ${pkg.version} (bun ${Bun.version})`);
    return 0;
  }
  if (command === "help" || command === "--help" || command === "-h") {
    const topic = command === "help" ? rest[0] : undefined;
    const run = topic === undefined ? undefined : commands[topic];
    if (run) return run(["--help"], env, output);
    output.out(X0_USAGE);
    return topic === undefined ? 0 : EXIT_USAGE;
  }
  const run = command === undefined ? undefined : commands[command];
  if (run === undefined) {
    output.err(command === undefined ? "x0: no command given" : `x0: unknown command ${JSON.stringify(command)}`);
    output.err(X0_USAGE);
    return EXIT_USAGE;
  }
  try {
    return await run(rest, env, output);
  } catch (error) {
    if (isUsageError(error)) {
      output.err(`x0 ${command}: ${error.message}\nRun "x0 ${command} --help" for usage.`);
      return EXIT_USAGE;
    }
    output.err(`x0 ${command}: ${describeError(error)}`);
    return error instanceof ConfigError ? EXIT_CONFIG : 1;
  }
}

if (import.meta.main) {
  const output: Output = {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  };
  process.exitCode = await runX0(Bun.argv.slice(2), process.env, output);
}
