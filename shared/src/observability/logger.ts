import { trace } from "@opentelemetry/api";

/** Log levels in increasing severity. */
export const LogLevel = { debug: 10, info: 20, warn: 30, error: 40 } as const;
/** A log level name. */
export type LogLevel = keyof typeof LogLevel;

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** A JSON-lines logger bound to a service and node. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  service: string;
  node: string;
  level?: LogLevel;
  /** Where lines go; defaults to stdout. */
  write?: (line: string) => void;
}

/** Creates a logger writing one JSON object per line, with the active trace id when there is one. */
export function createLogger({ service, node, level = "info", write = defaultWrite }: LoggerOptions): Logger {
  const minimum = LogLevel[level];
  const make = (bound: LogFields): Logger => {
    const emit = (lineLevel: LogLevel, msg: string, fields?: LogFields) => {
      if (LogLevel[lineLevel] < minimum) return;
      const spanContext = trace.getActiveSpan()?.spanContext();
      const line: LogFields = { ts: new Date().toISOString(), level: lineLevel, service, node, msg, ...bound, ...fields };
      if (spanContext && line.trace_id === undefined) line.trace_id = spanContext.traceId;
      write(JSON.stringify(line, errorReplacer));
    };
    return {
      debug: (msg, fields) => emit("debug", msg, fields),
      info: (msg, fields) => emit("info", msg, fields),
      warn: (msg, fields) => emit("warn", msg, fields),
      error: (msg, fields) => emit("error", msg, fields),
      child: (fields) => make({ ...bound, ...fields }),
    };
  };
  return make({});
}

function defaultWrite(line: string): void {
  process.stdout.write(`${line}\n`);
}

// Errors stringify to {} by default; keep name, message and the cause chain.
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, cause: value.cause };
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** Lets at most `perInterval` events per key through in each `intervalMs`, and counts the rest. */
export class RateLimiter {
  readonly #windows = new Map<string, { start: number; count: number; suppressed: number }>();

  constructor(
    private readonly perInterval = 5,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns how many events were suppressed since the last allowed one, or -1 when this one is suppressed. */
  take(key: string): number {
    const now = this.now();
    let window = this.#windows.get(key);
    if (!window || now - window.start >= this.intervalMs) {
      const suppressed = window?.suppressed ?? 0;
      window = { start: now, count: 0, suppressed: 0 };
      this.#windows.set(key, window);
      window.count = 1;
      return suppressed;
    }
    if (window.count < this.perInterval) {
      window.count += 1;
      return 0;
    }
    window.suppressed += 1;
    return -1;
  }
}
