// A service's command line: its configuration is its environment, so it takes no arguments but -h/--help (the variables,
// described) and --print-config (the same, as JSON); anything else is refused before the service starts.
import { parseArgs } from "node:util";
import { z } from "zod";
import { type ConfigShape, describeConfig } from "./config.ts";

/** A service run with this flag prints its configuration variables as JSON and exits. */
export const PRINT_CONFIG_FLAG = "--print-config";

/** Exit code of a command line that is not valid (as `x0`'s). */
export const EXIT_USAGE = 2;

/** Help text lines are at most this wide. */
const WIDTH = 100;

/** What a service's command line asks for. */
export type ServiceArgs = { kind: "run" } | { kind: "help" } | { kind: "print-config" } | { kind: "invalid"; message: string };

/** Reads a service's arguments (without the runtime and script paths): -h/--help, --print-config, or nothing. */
export function parseServiceArgs(argv: readonly string[]): ServiceArgs {
  let values: { help?: boolean; "print-config"?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { help: { type: "boolean", short: "h" }, "print-config": { type: "boolean" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    // node's messages end with advice about "--" that does not apply here.
    return { kind: "invalid", message: (error as Error).message.replace(/\. To specify a positional argument.*$/s, "") };
  }
  if (values.help) return { kind: "help" };
  return values["print-config"] ? { kind: "print-config" } : { kind: "run" };
}

/** How a variable is written: its allowed values, or its kind and range (read from the schema's input side). */
export function variableType(schema: z.ZodType): string {
  let json: Record<string, unknown>;
  try {
    json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  } catch {
    return "string";
  }
  if (Array.isArray(json.enum)) {
    const values = json.enum.map(String);
    // A long list wraps between values, not inside one.
    return values.join("|").length <= 40 ? values.join("|") : `one of ${values.join(", ")}`;
  }
  if (json.type === "integer" || json.type === "number") {
    // z.int() bounds itself by the safe integers: not worth saying.
    const bound = (value: unknown) => (typeof value === "number" && Math.abs(value) < Number.MAX_SAFE_INTEGER ? value : undefined);
    const [min, max] = [bound(json.minimum ?? json.exclusiveMinimum), bound(json.maximum ?? json.exclusiveMaximum)];
    const kind = json.type === "integer" ? "integer" : "number";
    if (min !== undefined && max !== undefined) return `${kind} ${min}..${max}`;
    if (min !== undefined) return `${kind} ${json.exclusiveMinimum === undefined ? ">=" : ">"} ${min}`;
    if (max !== undefined) return `${kind} ${json.exclusiveMaximum === undefined ? "<=" : "<"} ${max}`;
    return kind;
  }
  if (json.format === "uri") return "URL";
  return "string";
}

/** What the variable is when unset: its default as it would be written, "required", or "unset". */
function variableDefault(name: string, schema: z.ZodType, defaultValue: unknown, required: boolean): string {
  if (required) return "required";
  // Built from the machine: named rather than shown as this machine's value.
  if (name === "X0_NODE") return "default the host name";
  if (name === "X0_INSTANCE") return "default <X0_NODE>-<pid>";
  let input: unknown;
  try {
    input = (z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as { default?: unknown }).default;
  } catch {
    input = undefined;
  }
  const shown = input ?? defaultValue;
  if (shown === undefined) return "unset by default";
  const text = Array.isArray(shown) ? shown.join(",") : String(shown);
  return text === "" ? 'default ""' : `default ${text}`;
}

/** Wraps `text` to the help width: the first line indented by `indent`, the others by `hang`. */
function wrap(text: string, indent: string, hang = indent): string {
  return Bun.wrapAnsi(text.replace(/\s*\n\s*/g, " ").trim(), WIDTH - hang.length, { hard: true })
    .split("\n")
    .map((line, index) => `${index === 0 ? indent : hang}${line}`)
    .join("\n");
}

/** The `--help` text of service `name` run as `command`: its usage, then each variable with its type, default and description. */
export function renderServiceHelp({ name, version, command, shape }: { name: string; version: string; command: string; shape: ConfigShape }): string {
  const described = new Map(describeConfig(shape).map((variable) => [variable.name, variable]));
  const variables = Object.entries(shape).map(([variable, schema]) => {
    const info = described.get(variable);
    const head = `${variable}  ${variableType(schema as z.ZodType)}, ${variableDefault(variable, schema as z.ZodType, info?.default, info?.required ?? false)}`;
    const description = (schema as z.ZodType).description;
    return [wrap(head, "  ", "        "), description === undefined ? undefined : wrap(description, "      ")].filter((line) => line !== undefined).join("\n");
  });
  return [
    `Usage: ${command} [-h | --help | ${PRINT_CONFIG_FLAG}]`,
    wrap(
      `x0-${name} ${version} takes its configuration from environment variables, or from the YAML or JSON file X0_CONFIG_FILE names (keys are the variable names; the environment wins). It takes no arguments.`,
      "",
    ),
    [
      "Options:",
      "  -h, --help          print this help",
      `      ${PRINT_CONFIG_FLAG}  print the variables, whether each is required and its default, as JSON`,
    ].join("\n"),
    ["Variables:", ...variables].join("\n"),
    "Exit codes: 78 when a variable is not valid (named on stderr), 2 for an argument it does not take.",
  ].join("\n\n");
}
