import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "../errors.ts";
import { otelConfigShape } from "../observability/otel-config.ts";

/** The environment variable that names an optional YAML/JSON config file. */
export const CONFIG_FILE_VARIABLE = "X0_CONFIG_FILE";

/** A config schema: an object whose keys are the environment variable names. */
export type ConfigShape = z.ZodRawShape;

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Environment to read; defaults to `process.env`. */
  env?: Record<string, string | undefined>;
}

/**
 * Reads a service's configuration: the optional file named by `X0_CONFIG_FILE`
 * (keys are the variable names), overridden by the environment, validated by zod.
 * Throws {@link ConfigError} naming the first bad variable and what it expects.
 *
 * @example
 * const cfg = loadConfig({ X0_NODE: z.string() });
 */
export function loadConfig<Shape extends ConfigShape>(shape: Shape, { env = process.env }: LoadConfigOptions = {}): z.infer<z.ZodObject<Shape>> {
  const fromFile = readConfigFile(env[CONFIG_FILE_VARIABLE]);
  const input: Record<string, unknown> = {};
  for (const key of Object.keys(shape)) {
    const fromEnv = env[key];
    // An empty variable counts as unset, as shells and compose files often leave them.
    const value = fromEnv !== undefined && fromEnv !== "" ? fromEnv : fromFile[key];
    if (value !== undefined) input[key] = typeof value === "number" || typeof value === "boolean" ? String(value) : value;
  }
  const result = z.object(shape).safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    const variable = String(issue?.path[0] ?? "(unknown)");
    const given = input[variable];
    // Values that may hold credentials (OTLP headers carry API tokens) are never echoed to logs.
    const shown = given === undefined ? "it is not set" : SECRET_VARIABLE.test(variable) ? "value withheld" : `got ${JSON.stringify(given)}`;
    throw new ConfigError(variable, `${issue?.message ?? "invalid"} (${shown})`, { cause: result.error });
  }
  return result.data;
}

/** Names of variables whose values are not repeated in error messages. */
const SECRET_VARIABLE = /HEADERS|PIN|SECRET|TOKEN|PASSWORD|CREDENTIAL/;

/** One configuration variable as listed by `--print-config`. */
export interface ConfigVariable {
  name: string;
  /** Whether the service refuses to start without it. */
  required: boolean;
  /** The default, when there is one and it does not depend on the machine. */
  default?: unknown;
}

/** The variables of a config shape, with whether each is required and its default. */
export function describeConfig(shape: ConfigShape): ConfigVariable[] {
  return Object.entries(shape).map(([name, schema]) => {
    const result = (schema as z.ZodType).safeParse(undefined);
    // Defaults built from the machine (hostname, pid) are not part of the contract.
    const machineDependent = name === "X0_NODE" || name === "X0_INSTANCE";
    const variable: ConfigVariable = { name, required: !result.success };
    const printable = (value: unknown) =>
      value === null || typeof value !== "object" || (Array.isArray(value) && value.every((item) => typeof item !== "object"));
    if (result.success && result.data !== undefined && !machineDependent && printable(result.data)) variable.default = result.data;
    return variable;
  });
}

function readConfigFile(path: string | undefined): Record<string, unknown> {
  if (path === undefined || path === "") return {};
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(CONFIG_FILE_VARIABLE, `cannot read config file ${path}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text); // YAML is a superset of JSON, so one parser reads both
  } catch (error) {
    throw new ConfigError(CONFIG_FILE_VARIABLE, `config file ${path} is not valid YAML/JSON`, { cause: error });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError(CONFIG_FILE_VARIABLE, `config file ${path} must hold a mapping of variable names to values`);
  }
  return parsed as Record<string, unknown>;
}

/** A NATS subject token: letters, digits, '-' and '_' (no dots, wildcards or spaces). */
export const tokenSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "expected 1-64 of [A-Za-z0-9_-]");

/** A TCP port, from a string. */
export const portSchema = z.coerce.number().int().min(0).max(65535);

/** A boolean from "true"/"false"/"1"/"0". */
export const boolSchema = z.enum(["true", "false", "1", "0"]).transform((value) => value === "true" || value === "1");

/** A comma-separated list of non-empty, trimmed items (empty string: empty list). */
export const commaListSchema = z.string().transform((list) =>
  list
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean),
);

/** The settings every service shares; service schemas spread this in. */
export const baseConfigShape = {
  X0_NATS_SERVERS: commaListSchema
    .default(["nats://127.0.0.1:4222"])
    .pipe(z.array(z.string().min(1)).min(1, "expected at least one server URL"))
    .describe("Comma-separated NATS server URLs."),
  X0_NODE: tokenSchema.default(defaultNodeId()).describe("This node's id: the last token of the node's subjects."),
  X0_INSTANCE: tokenSchema.default(`${defaultNodeId()}-${process.pid}`).describe("This process's instance name, used in the NATS connection name."),
  X0_HTTP_PORT: portSchema.default(0).describe("Port of the /healthz, /readyz, /metrics and /status server (0 = any free port)."),
  X0_NATS_JS_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(500)
    .max(300_000)
    .default(5000)
    .describe("How long a JetStream API request (stream, consumer, KV bucket setup) may take: raise it on slow machines (a TCG VM)."),
  X0_JS_REPLICAS: z.coerce
    .number()
    .int()
    .refine((replicas) => replicas === 1 || replicas === 3 || replicas === 5, "JetStream replicas are 1, 3 or 5 (an odd quorum, at most 5)")
    .default(1)
    .describe(
      "Replicas of X0_EVENTS, X0_DLQ and the KV buckets this service creates: 1 on one nats-server, 3 on a 3-server cluster (set the same in every service; an existing stream is raised to it, never lowered).",
    ),
  X0_HTTP_HOST: z.string().min(1).default("127.0.0.1").describe("Address the HTTP server binds to."),
  X0_LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info").describe("Minimum log level."),
  X0_NATS_TLS_CA: z.string().optional().describe("CA bundle for TLS to NATS (PEM file); enables TLS when set."),
  X0_NATS_TLS_CERT: z.string().optional().describe("Client certificate for mTLS to NATS (PEM file)."),
  X0_NATS_TLS_KEY: z.string().optional().describe("Client key for mTLS to NATS (PEM file)."),
  X0_SVID_SOURCE: z
    .enum(["auto", "workload-api", "dev-ca", "files", "none"])
    .default("auto")
    .describe(
      "Where this workload's X.509-SVID comes from: `workload-api` (SPIRE, SPIFFE_ENDPOINT_SOCKET), `dev-ca` (the development CA in X0_DEV_CA_DIR, made by `x0 certs init`), `files` (X0_NATS_TLS_*), `none` (plain NATS: development only, with X0_NATS_INSECURE_DEV=true). `auto` picks the first one configured, in that order.",
    ),
  X0_TRUST_DOMAIN: z
    .string()
    .regex(/^[a-z0-9._-]{1,255}$/, "a trust domain is lower-case letters, digits, '.', '-' and '_'")
    .default("x0tta6bl4.mesh")
    .describe("SPIFFE trust domain of this deployment."),
  SPIFFE_ENDPOINT_SOCKET: z.string().optional().describe("The SPIRE agent's Workload API socket, unix:///path (SPIFFE's standard variable)."),
  X0_DEV_CA_DIR: z.string().optional().describe("Folder of the development CA (ca.crt, ca.key), for X0_SVID_SOURCE=dev-ca."),
  X0_SVID_TTL_S: z.coerce
    .number()
    .int()
    .min(2)
    .max(30 * 86_400)
    .default(3600)
    .describe("Lifetime of SVIDs issued by the development CA, in seconds; they are renewed at half of it."),
  X0_NATS_INSECURE_DEV: z
    .enum(["true", "false"])
    .default("false")
    .describe("Allows a plain (unauthenticated) NATS connection when no SVID source is configured: development only."),
  X0_EVENTS_MAX_AGE_S: z.coerce
    .number()
    .int()
    .positive()
    .default(7 * 24 * 3600)
    .describe("How long X0_EVENTS and X0_DLQ keep messages, in seconds (set the same in every service)."),
  X0_EVENTS_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 ** 3)
    .describe("How many bytes X0_EVENTS and X0_DLQ keep at most each (set the same in every service)."),
  /** The standard OTEL_* tracing variables (observability/otel-config.ts): exporter, sampler, resource attributes. */
  ...otelConfigShape,
} satisfies ConfigShape;

/** The parsed base settings. */
export type BaseConfig = z.infer<z.ZodObject<typeof baseConfigShape>>;

function defaultNodeId(): string {
  const host = process.env.HOSTNAME ?? hostname();
  const token = host.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 64);
  return token === "" ? "node" : token;
}
