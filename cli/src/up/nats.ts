import { join } from "node:path";
/** What the first line of a NATS server (its INFO) says about it. */
export interface NatsInfo {
  version: string | undefined;
  jetstream: boolean;
}

/** What answers on a TCP port: nothing, a NATS server, or something else. */
export type PortProbe = { kind: "none" } | { kind: "nats"; info: NatsInfo } | { kind: "other"; greeting: string };

/** Parses a NATS greeting (`INFO {json}`); undefined when the text is not one. */
export function parseNatsGreeting(text: string): NatsInfo | undefined {
  const match = /^INFO\s+(\{.*\})\s*$/m.exec(text);
  if (!match?.[1]) return undefined;
  let info: unknown;
  try {
    info = JSON.parse(match[1]);
  } catch {
    return undefined; // INFO followed by something that is not JSON: not a NATS server.
  }
  if (typeof info !== "object" || info === null || !("server_id" in info)) return undefined;
  const record = info as Record<string, unknown>;
  return { version: typeof record.version === "string" ? record.version : undefined, jetstream: record.jetstream === true };
}

/** Connects to `host:port` and reads its greeting to tell whether a NATS server answers there. */
export async function probePort(host: string, port: number, timeoutMs = 1500): Promise<PortProbe> {
  const { promise, resolve } = Promise.withResolvers<PortProbe>();
  let received = "";
  const classify = (): PortProbe => {
    const info = parseNatsGreeting(received);
    return info ? { kind: "nats", info } : { kind: "other", greeting: received.slice(0, 200) };
  };
  const timer = setTimeout(() => resolve(classify()), timeoutMs);
  try {
    const socket = await Bun.connect({
      hostname: host,
      port,
      socket: {
        data(_socket, data) {
          received += data.toString();
          if (received.includes("\n")) resolve(classify());
        },
        close() {
          resolve(classify());
        },
        error() {
          resolve(classify());
        },
      },
    });
    const probe = await promise;
    socket.end();
    return probe;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ECONNREFUSED") return { kind: "none" };
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** The nats-server command line `up` runs: JetStream on, bound to `host` (127.0.0.1, or a lab's bridge address), its store in `storeDir`. */
export function natsServerArgv(bin: string, port: number, monitorPort: number, storeDir: string, host = "127.0.0.1", configFile?: string): string[] {
  return [bin, "-a", host, "-p", String(port), "-m", String(monitorPort), "-js", "-sd", storeDir, ...(configFile ? ["-c", configFile] : [])];
}

/** One nats-server `up` runs. */
export interface NatsServerPlan {
  /** Its name in up's output and supervisor: `nats`, or `nats-1` … on a cluster. */
  name: string;
  /** Its server_name in the cluster (`x0-1` …); undefined for a single server. */
  serverName: string | undefined;
  port: number;
  monitorPort: number;
  /** Its route port on 127.0.0.1 (cluster only). */
  clusterPort: number | undefined;
  storeDir: string;
  /** Its configuration file (written from the permission matrix when the stack has its PKI). */
  configFile: string;
}

/** The size of the cluster `up --cluster` runs: a quorum survives the loss of any one server. */
export const CLUSTER_SIZE = 3;

/** The name of the cluster `up --cluster` runs. */
export const CLUSTER_NAME = "x0";

/**
 * The nats-servers of the stack: one (`<state>/nats`, `<state>/nats.conf`), or with `cluster` {@link CLUSTER_SIZE} on
 * consecutive ports from the given ones, each with its own store (`<state>/nats-cluster/x0-N`) and configuration.
 */
export function planNatsServers({
  stateDir,
  port,
  monitorPort,
  clusterPort,
  cluster,
}: {
  stateDir: string;
  port: number;
  monitorPort: number;
  clusterPort: number;
  cluster: boolean;
}): NatsServerPlan[] {
  if (!cluster) {
    return [
      {
        name: "nats",
        serverName: undefined,
        port,
        monitorPort,
        clusterPort: undefined,
        storeDir: join(stateDir, "nats"),
        configFile: join(stateDir, "nats.conf"),
      },
    ];
  }
  return Array.from({ length: CLUSTER_SIZE }, (_, index) => {
    const serverName = `${CLUSTER_NAME}-${index + 1}`;
    return {
      name: `nats-${index + 1}`,
      serverName,
      port: port + index,
      monitorPort: monitorPort + index,
      clusterPort: clusterPort + index,
      storeDir: join(stateDir, "nats-cluster", serverName),
      configFile: join(stateDir, `nats-${serverName}.conf`),
    };
  });
}

/** The route URLs of a cluster's servers (routes listen on 127.0.0.1: every server runs on this machine). */
export function routeUrls(servers: readonly NatsServerPlan[]): string[] {
  return servers.flatMap((server) => (server.clusterPort === undefined ? [] : [`nats://127.0.0.1:${server.clusterPort}`]));
}
