#!/usr/bin/env bun
// `bun run up`: the whole x0 stack on this machine (see up/stack.ts and `bun run up --help`).
import { describeError } from "./report-error.ts";
import { runUp } from "./up/stack.ts";

let exitCode: number;
try {
  exitCode = await runUp(Bun.argv.slice(2), process.env);
} catch (error) {
  process.stderr.write(`up: ${describeError(error)}\n`);
  exitCode = 1;
}
process.exit(exitCode);
