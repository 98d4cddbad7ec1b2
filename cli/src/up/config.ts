import { siteExecutorEnvironment } from "@x0/lab";
import { baseConfigShape, boolSchema, loadConfig, portSchema } from "@x0/shared";
import { z } from "zod";
import { DEFAULT_HTTP_PORT_BASE } from "./ports.ts";

/** The environment `up` reads (keys are the variable names). */
export const upConfigShape = {
  /** NATS client port of the server `up` starts or reuses. */
  X0_NATS_PORT: portSchema.min(1).default(4222),
  /** NATS monitoring port of the server `up` starts. */
  X0_NATS_MONITOR_PORT: portSchema.min(1).default(8222),
  /** true: as `--cluster`, a 3-server NATS cluster. */
  X0_NATS_CLUSTER: boolSchema.default(false),
  /** The first route port of the cluster (127.0.0.1; the others follow). */
  X0_NATS_CLUSTER_PORT: portSchema.min(1).default(6222),
  /** HTTP port of the first service; the others follow it (see ports.ts). */
  X0_HTTP_PORT_BASE: portSchema.min(1).default(DEFAULT_HTTP_PORT_BASE),
  /** HTTP port of the console (x0 console), on 127.0.0.1. */
  X0_CONSOLE_PORT: portSchema.min(1).default(9180),
  /** Node id given to every service: X0_NODE, else the hostname sanitised to [A-Za-z0-9_-]. */
  X0_NODE: baseConfigShape.X0_NODE,
  /** With --no-nats: the servers to use. */
  X0_NATS_SERVERS: z.string().optional(),
  /** nats-server executable (the test helpers read the same variable). */
  NATS_SERVER_BIN: z.string().min(1).default("nats-server"),
};

/** The parsed settings of `up`. */
export type UpConfig = z.infer<z.ZodObject<typeof upConfigShape>>;

/** Reads the settings of `up`; throws ConfigError naming the bad variable. */
export function loadUpConfig(env: Record<string, string | undefined>): UpConfig {
  return loadConfig(upConfigShape, { env });
}

/** The NATS URL services get under --no-nats: X0_NATS_SERVERS, else the local server on X0_NATS_PORT. */
export function externalNatsServers(config: UpConfig): string {
  const servers = config.X0_NATS_SERVERS?.trim();
  return servers ? servers : `nats://127.0.0.1:${config.X0_NATS_PORT}`;
}

/** The environment of a service process: the user's, with the NATS servers, the HTTP port and the node id set. */
export function serviceEnvironment(
  userEnv: Record<string, string | undefined>,
  { natsServers, httpPort, node }: { natsServers: string; httpPort: number; node: string },
): Record<string, string | undefined> {
  return { ...userEnv, X0_NATS_SERVERS: natsServers, X0_HTTP_PORT: String(httpPort), X0_NODE: node };
}

/** Defaults of a service the stack runs once for the whole machine; the user's environment overrides them. */
export function stackDefaults(name: string): Record<string, string> {
  // One swarm instance: its agent trains on the shipped lab traces of node n1, and a round of one participant publishes.
  return name === "swarm" ? { X0_SWARM_DATA_NODE: "n1", X0_SWARM_MIN_PARTICIPANTS: "1" } : {};
}

/**
 * What a root-namespace service needs on top of {@link serviceEnvironment} when the stack runs on a lab: the site executor
 * (`--executors site`) acts on every node (`{node}` is replaced by the executor per plan) inside the node's namespace and
 * on its monitor's pins, for real.
 */
export function labServiceEnvironment(name: string, prefix: string): Record<string, string> {
  return name === "executor" ? siteExecutorEnvironment(prefix) : {};
}
