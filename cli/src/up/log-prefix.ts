/** ANSI foreground colours given to processes in turn. */
const PALETTE = [36, 35, 33, 32, 34, 96, 95, 93, 92, 94] as const;
const RESET = "\u001b[0m";
const LEVEL_COLOURS: Readonly<Record<string, number>> = { debug: 2, warn: 33, error: 31 };
/** Fields every service log line has that the prefix already shows or that only add noise on a terminal. */
const HIDDEN_FIELDS = new Set(["ts", "level", "msg", "service", "node"]);

/** Whether to colour output: only on a terminal, and never when NO_COLOR is set to something. */
export function shouldUseColour(env: Record<string, string | undefined>, isTTY: boolean | undefined): boolean {
  const noColour = env.NO_COLOR;
  return isTTY === true && (noColour === undefined || noColour === "");
}

/** Wraps `text` in an ANSI SGR code. */
export function paint(text: string, code: number): string {
  return `\u001b[${code}m${text}${RESET}`;
}

/** Makes the `name | ` prefixes of a set of processes: names padded to the longest, one colour each. */
export class Prefixer {
  readonly #width: number;
  readonly #colours = new Map<string, number>();

  constructor(
    names: readonly string[],
    private readonly colour: boolean,
  ) {
    this.#width = Math.max(0, ...names.map((name) => name.length));
    names.forEach((name, index) => {
      this.#colours.set(name, PALETTE[index % PALETTE.length] ?? 0);
    });
  }

  /** The prefix of `name`'s lines. */
  prefix(name: string): string {
    const padded = `${name.padEnd(this.#width)} |`;
    const code = this.#colours.get(name);
    return this.colour && code !== undefined ? paint(padded, code) : padded;
  }

  /** One output line of `name`, prefixed; JSON log lines are shown compactly. */
  line(name: string, text: string): string {
    return `${this.prefix(name)} ${compactLogLine(text, this.colour)}`;
  }
}

/**
 * Shortens a JSON log line to `level msg key=value…` (ts, service and node dropped);
 * anything that is not a JSON object with a msg is returned unchanged.
 */
export function compactLogLine(text: string, colour = false): string {
  if (!text.startsWith("{")) return text;
  let fields: unknown;
  try {
    fields = JSON.parse(text);
  } catch {
    return text; // Not JSON after all: show the line as the process wrote it.
  }
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) return text;
  const record = fields as Record<string, unknown>;
  if (typeof record.msg !== "string") return text;
  const level = typeof record.level === "string" ? record.level : "info";
  const levelCode = LEVEL_COLOURS[level];
  const shownLevel = colour && levelCode !== undefined ? paint(level.padEnd(5), levelCode) : level.padEnd(5);
  const rest = Object.entries(record)
    .filter(([key]) => !HIDDEN_FIELDS.has(key))
    .map(([key, value]) => `${key}=${formatValue(value)}`);
  return [shownLevel, record.msg, ...rest].join(" ");
}

function formatValue(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/** Splits a stream of text chunks into whole lines. */
export class LineSplitter {
  #rest = "";

  /** The lines completed by `chunk` (without their newline). */
  push(chunk: string): string[] {
    const lines = (this.#rest + chunk).split("\n");
    this.#rest = lines.pop() ?? "";
    return lines.map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
  }

  /** The unterminated last line, if any, at the end of the stream. */
  flush(): string[] {
    const rest = this.#rest;
    this.#rest = "";
    return rest === "" ? [] : [rest];
  }
}
