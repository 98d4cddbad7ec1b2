// The command table's shape: commands, their subcommands and options. x0 resolves a command line against it, and its
// help texts and shell completions are rendered from it, so the three never disagree.
import { parseArgs } from "node:util";
import { UsageError } from "./errors.ts";

/** One option of a command: what node:util parseArgs needs, and what help and completion show. */
export interface FlagSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
  readonly multiple?: boolean;
  /** The value's name in help (`--server <url>`); default the choices joined by `|`, else `value`. */
  readonly value?: string;
  /** The values it takes: completion offers them. */
  readonly choices?: readonly string[];
  /** The value is a path: completion offers files. */
  readonly path?: boolean;
  /** One line (wrapped in help) saying what it does; `(repeatable)` is added to a multiple one. */
  readonly help: string;
}

/** Options by long name (without the dashes). */
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** A command: a leaf that runs, or a group of subcommands (that may run alone too). */
export interface CommandSpec {
  readonly name: string;
  /** One line in the parent's list of commands. */
  readonly summary: string;
  /** What follows the command in its usage line: `<a> <b>`, `[<proposal-id>]`. */
  readonly args?: string;
  /** Paragraphs under the usage line (wrapped); the summary when absent. */
  readonly description?: string;
  /** Its options (-h/--help is every command's). */
  readonly flags?: FlagSpecs;
  readonly commands?: readonly CommandSpec[];
  /** With subcommands: whether it runs without one too (`x0 gov members` lists the members). */
  readonly runsAlone?: boolean;
  /** Text after the options, kept as written: examples, environment variables. */
  readonly notes?: string;
}

/** -h/--help, which every command takes. */
export const HELP_FLAG: FlagSpec = { type: "boolean", short: "h", help: "print this help" };

/** Help texts are at most this wide (a test renders every one). */
export const HELP_WIDTH = 100;

/** A command's options with -h/--help. */
export function flagsOf(command: CommandSpec): FlagSpecs {
  return { ...command.flags, help: HELP_FLAG };
}

/** The options of `command` and of every command under it, with -h/--help. */
export function subtreeFlagsOf(command: CommandSpec): FlagSpecs {
  return Object.assign({}, flagsOf(command), ...(command.commands ?? []).map(subtreeFlagsOf)) as FlagSpecs;
}

/** Parser options (node:util parseArgs) for `flags`. */
export function parseOptionsOf(flags: FlagSpecs): Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> {
  return Object.fromEntries(
    Object.entries(flags).map(([name, { type, short, multiple }]) => [
      name,
      { type, ...(short === undefined ? {} : { short }), ...(multiple === undefined ? {} : { multiple }) },
    ]),
  );
}

/**
 * Parses a command's arguments with the options of `command` and of every command under it (strict: an unknown option
 * or a missing value is a {@link UsageError}); `Values` is the caller's view of the values.
 */
export function parseCommandArgs<Values>(command: CommandSpec, argv: readonly string[], allowPositionals = true): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options: parseOptionsOf(subtreeFlagsOf(command)), strict: true, allowPositionals });
    return { values: values as Values, positionals };
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
}

/** What a command line asks for, resolved against the table. */
export type Resolution =
  /** Run the command at the end of `path` (path[0] is the root); `argv` is the command line without the top-level command's name. */
  | { kind: "run"; path: CommandSpec[]; argv: string[] }
  | { kind: "help"; path: CommandSpec[] }
  /** A group that needs one of its subcommands got none. */
  | { kind: "missing"; path: CommandSpec[] }
  /** `word` is not a subcommand of the end of `path`. */
  | { kind: "unknown"; path: CommandSpec[]; word: string }
  /** An option the command at the end of `path` does not take (`option` as written). */
  | { kind: "bad-option"; path: CommandSpec[]; option: string };

/** The tokens of `args` as parsed with `flags` (not strict: unknown options are tokens too, to be reported by name). */
function tokensOf(args: readonly string[], flags: FlagSpecs) {
  return parseArgs({ args: [...args], options: parseOptionsOf(flags), strict: false, allowPositionals: true, tokens: true }).tokens;
}

/**
 * Resolves `argv` against the table under `root`: the leading words that name subcommands make the path; options may
 * stand anywhere (before `--`). An unknown word where a subcommand is needed wins over --help, which wins over an option
 * the command does not take. Option values and types are the command's own parser's to check.
 */
export function resolveCommand(root: CommandSpec, argv: readonly string[]): Resolution {
  const path = [root];
  const words: number[] = [];
  let start = 0;
  let wanting = false;
  for (;;) {
    const node = path.at(-1) as CommandSpec;
    if (node.commands === undefined) break;
    // Each level reads its options with its own subtree's: an option's value is never taken for a subcommand.
    const word = tokensOf(argv.slice(start), subtreeFlagsOf(node)).find((token) => token.kind === "positional" || token.kind === "option-terminator");
    if (word?.kind !== "positional") {
      wanting = !node.runsAlone;
      break;
    }
    const next = node.commands.find((command) => command.name === word.value);
    if (next === undefined) {
      if (node.runsAlone) break;
      return { kind: "unknown", path, word: word.value };
    }
    path.push(next);
    words.push(start + word.index);
    start += word.index + 1;
  }
  const end = path.at(-1) as CommandSpec;
  // A group's options agree in type across its commands (the table test checks), so one reading of them all will do.
  const rest = argv.filter((_, index) => !words.includes(index));
  const tokens = tokensOf(rest, subtreeFlagsOf(path[1] ?? root));
  const terminator = tokens.findIndex((token) => token.kind === "option-terminator");
  const options = tokens.slice(0, terminator === -1 ? undefined : terminator).flatMap((token) => (token.kind === "option" ? [token] : []));
  if (options.some((token) => token.name === "help")) return { kind: "help", path };
  const allowed = flagsOf(end);
  const bad = options.find((token) => !(token.name in allowed));
  if (bad) return { kind: "bad-option", path, option: bad.rawName };
  if (wanting) return { kind: "missing", path };
  return { kind: "run", path, argv: argv.filter((_, index) => index !== words[0]) };
}

/** `x0 lab fault`: the names along a path. */
export function pathName(path: readonly CommandSpec[]): string {
  return path.map((command) => command.name).join(" ");
}

/** Every command under `root` with its path (root first, depth first). */
export function walkCommands(root: CommandSpec, path: CommandSpec[] = [root]): CommandSpec[][] {
  return [path, ...(root.commands ?? []).flatMap((command) => walkCommands(command, [...path, command]))];
}

/** The label of an option in help: `-s, --server <url>`, `    --json`. */
export function flagLabel(name: string, flag: FlagSpec): string {
  const value = flag.type === "string" ? ` <${flag.value ?? flag.choices?.join("|") ?? "value"}>` : "";
  return `${flag.short === undefined ? "    " : `-${flag.short}, `}--${name}${value}`;
}

/** `rows` as two columns: the first padded (at most `maxLeft` wide, else the text starts on the next line), the second wrapped. */
function columns(rows: readonly (readonly [string, string])[], maxLeft: number): string[] {
  const left = Math.min(maxLeft, Math.max(...rows.map(([label]) => label.length)));
  const indent = 2 + left + 2;
  return rows.flatMap(([label, text]) => {
    const wrapped = Bun.wrapAnsi(text.replace(/\s*\n\s*/g, " "), HELP_WIDTH - indent, { hard: true }).split("\n");
    const pad = " ".repeat(indent);
    const first = label.length <= left ? [`  ${label.padEnd(left)}  ${wrapped[0] ?? ""}`.trimEnd()] : [`  ${label}`, `${pad}${wrapped[0]}`];
    return [...first, ...wrapped.slice(1).map((line) => `${pad}${line}`)];
  });
}

/** Wraps paragraphs (separated by blank lines) to the help width. */
function paragraphs(text: string): string {
  return text
    .split(/\n\s*\n/)
    .map((paragraph) => Bun.wrapAnsi(paragraph.replace(/\s*\n\s*/g, " ").trim(), HELP_WIDTH, { hard: true }))
    .join("\n\n");
}

/** A summary as a sentence: capitalised, with a full stop. */
function sentence(summary: string): string {
  return `${summary.charAt(0).toUpperCase()}${summary.slice(1)}${/[.!?]$/.test(summary) ? "" : "."}`;
}

/** The usage line of `command` called `name` (`x0 lab fault`). */
export function usageLine(command: CommandSpec, name: string): string {
  const sub = command.commands === undefined ? "" : command.runsAlone ? " [<command>]" : " <command>";
  // Options go before a `--` that ends them.
  if (command.args?.startsWith("--")) return `Usage: ${name}${sub} [options] ${command.args}`;
  return `Usage: ${name}${sub}${command.args === undefined ? "" : ` ${command.args}`} [options]`;
}

/** The help text of `command`, named `name` (its path, `x0 lab fault`). */
export function renderHelp(command: CommandSpec, name: string): string {
  const sections = [usageLine(command, name), paragraphs(command.description ?? sentence(command.summary))];
  if (command.commands !== undefined) {
    sections.push(
      [
        "Commands:",
        ...columns(
          command.commands.map((sub) => [sub.name, sub.summary] as const),
          16,
        ),
      ].join("\n"),
    );
  }
  const flags = Object.entries(flagsOf(command)).map(
    ([flagName, flag]) => [flagLabel(flagName, flag), flag.multiple ? `${flag.help} (repeatable)` : flag.help] as const,
  );
  sections.push(["Options:", ...columns(flags, 30)].join("\n"));
  if (command.notes !== undefined) sections.push(command.notes);
  if (command.commands !== undefined) sections.push(`Run "${name} <command> --help" for a command's options.`);
  return sections.join("\n\n");
}
