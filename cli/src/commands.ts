// The x0 command table: every command, subcommand and option. x0 resolves its command line against it and renders its
// help and its shell completions from it; each command group keeps its own part beside its code.
import { ASK_SPEC } from "./ask/command.ts";
import { CERTS_SPEC } from "./certs/command.ts";
import { CONSOLE_SPEC } from "./console/args.ts";
import { GOV_SPEC } from "./gov/command.ts";
import { INCIDENTS_SPEC } from "./incidents/command.ts";
import { KEYS_SPEC } from "./keys/command.ts";
import { LAB_SPEC } from "./lab/args.ts";
import type { CommandSpec } from "./spec.ts";
import { STATUS_SPEC } from "./status/args.ts";
import { UP_SPEC } from "./up/args.ts";
import { DOWN_SPEC } from "./up/down.ts";

/** `x0 completion`. */
export const COMPLETION_SPEC = {
  name: "completion",
  summary: "print the shell completion script for bash or zsh",
  description: "Prints a script that completes x0's commands, subcommands and options (and the values of options that have a fixed set).",
  commands: [
    {
      name: "bash",
      summary: "the bash completion script",
      notes: `Load it in the current shell, or for every new one:
  source <(x0 completion bash)
  x0 completion bash > ~/.local/share/bash-completion/completions/x0`,
    },
    {
      name: "zsh",
      summary: "the zsh completion script",
      notes: `Load it in the current shell (after compinit), or for every new one:
  source <(x0 completion zsh)
  x0 completion zsh > "\${fpath[1]}/_x0"`,
    },
  ],
} as const satisfies CommandSpec;

/** `x0` and every command under it. */
export const X0_SPEC = {
  name: "x0",
  summary: "the x0tta6bl4 command line",
  description: "The x0tta6bl4 command line: the stack on this machine, its services, the mesh lab, governance and keys.",
  flags: { version: { type: "boolean", help: "print x0's version" } },
  commands: [
    STATUS_SPEC,
    LAB_SPEC,
    CONSOLE_SPEC,
    INCIDENTS_SPEC,
    ASK_SPEC,
    GOV_SPEC,
    CERTS_SPEC,
    KEYS_SPEC,
    UP_SPEC,
    DOWN_SPEC,
    COMPLETION_SPEC,
    { name: "help", summary: "print this help, or a command's", args: "[<command>...]" },
    { name: "version", summary: "print x0's version (also --version)" },
  ],
  notes: `Start the stack with "x0 up" (the same as "bun run up"); "x0 down" stops it.`,
} as const satisfies CommandSpec;
