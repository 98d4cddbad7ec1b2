// nats-server's own configuration syntax (comments, `include`, unquoted names and sizes), which the renderer's JSON
// cannot express, and where the Kubernetes NATS pod keeps the users file it renders for itself.

/** Where the Kubernetes NATS pod keeps the users file it renders (beside /etc/nats/config, where nats.conf is mounted). */
export const K8S_USERS_FILE = "/etc/nats/auth/authorization.conf";

/** A value written as it is: a variable reference (`$POD_NAME`) or a size (`8Gi`). */
export class Verbatim {
  constructor(readonly text: string) {}
}

/** A nats-server configuration value. */
export type ConfValue = string | number | boolean | Verbatim | ConfValue[] | { [key: string]: ConfValue };

// Unquoted only where nats-server reads the text back unchanged: names and absolute paths (no `//`, `#`, `$`, wildcards).
const BARE = /^(?:[A-Za-z_][A-Za-z0-9_.-]*|(?:\/[A-Za-z0-9_.-]+)+)$/;
const KEYWORDS = new Set(["true", "false", "yes", "no", "on", "off", "include"]);

function scalar(value: Exclude<ConfValue, ConfValue[] | { [key: string]: ConfValue }>): string {
  if (value instanceof Verbatim) return value.text;
  if (typeof value === "string") return BARE.test(value) && !KEYWORDS.has(value.toLowerCase()) ? value : JSON.stringify(value);
  return String(value);
}

const isMap = (value: ConfValue): value is { [key: string]: ConfValue } => typeof value === "object" && !Array.isArray(value) && !(value instanceof Verbatim);

function block(entries: { [key: string]: ConfValue }, depth: number): string[] {
  const pad = "  ".repeat(depth);
  const out: string[] = [];
  for (const [key, value] of Object.entries(entries)) {
    // `include <file>` reads another file in place (its path is relative to this file's folder).
    if (key === "include") out.push(`${pad}include ${scalar(value as string)}`);
    else if (isMap(value)) out.push(`${pad}${key} {`, ...block(value, depth + 1), `${pad}}`);
    else if (Array.isArray(value)) out.push(`${pad}${key}: [`, ...value.flatMap((item) => element(item, depth + 1)), `${pad}]`);
    else out.push(`${pad}${key}: ${scalar(value)}`);
  }
  return out;
}

function element(value: ConfValue, depth: number): string[] {
  const pad = "  ".repeat(depth);
  if (isMap(value)) return [`${pad}{`, ...block(value, depth + 1), `${pad}}`];
  if (Array.isArray(value)) return [`${pad}[`, ...value.flatMap((item) => element(item, depth + 1)), `${pad}]`];
  return [`${pad}${scalar(value)}`];
}

/**
 * Writes a configuration in nats-server's own syntax, after `#` comment lines.
 * @example formatConf({ port: 4222, jetstream: { max_file_store: new Verbatim("8Gi") } }, ["NATS"])
 */
export function formatConf(config: { [key: string]: ConfValue }, comments: string[] = []): string {
  const lines = [...comments.map((line) => (line ? `# ${line}` : "#")), ...block(config, 0)];
  return `${lines.join("\n")}\n`;
}
