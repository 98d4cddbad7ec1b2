// `x0 certs k8s-users`: the Kubernetes NATS pod's users. nats-server has no wildcard users, so the pod renders one user
// per node-scoped identity for the nodes the node agent runs on (read from the Kubernetes API), plus the observers and
// voters named in X0_NATS_OBSERVERS and X0_NATS_VOTERS, and re-renders and reloads nats-server as nodes come and go.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  ConfigError,
  type ConfValue,
  DEFAULT_TRUST_DOMAIN,
  formatConf,
  K8S_USERS_FILE,
  loadPermissionMatrix,
  natsUsers,
  type PermissionMatrix,
} from "@x0/shared";
import { KubeApiError, UsageError } from "../errors.ts";
import { describeError } from "../report-error.ts";
import type { CommandSpec } from "../spec.ts";
import type { Output } from "../status/command.ts";

/** `x0 certs k8s-users` in the command table. */
export const K8S_USERS_SPEC = {
  name: "k8s-users",
  summary: "render the Kubernetes NATS pod's users for the nodes the node agent runs on",
  description: `Run by the Kubernetes NATS pod (k8s/base/nats.yaml). nats-server has no wildcard users, so this renders one
user per node-scoped identity (monitor, executor, swarm) for the nodes the node agent's pods are scheduled on, listed
from the Kubernetes API with the pod's service account, and one per observer and voter named in X0_NATS_OBSERVERS and
X0_NATS_VOTERS (comma-separated). The file is replaced in one step and only when it changes; then nats-server is sent
SIGHUP (reload) through --pid-file. With --watch it keeps doing so, answering /healthz (the loop runs) and /readyz
(the last look at the nodes succeeded) on --health-port.`,
  flags: {
    out: { type: "string", value: "path", path: true, help: `the users file (default ${K8S_USERS_FILE})` },
    "trust-domain": { type: "string", value: "td", help: `SPIFFE trust domain (default X0_TRUST_DOMAIN, else ${DEFAULT_TRUST_DOMAIN})` },
    "pid-file": { type: "string", value: "path", path: true, help: "nats-server's pid file: it is sent SIGHUP when the users change" },
    watch: { type: "boolean", help: "keep the users in step with the nodes until stopped" },
    "interval-s": { type: "string", value: "n", help: "with --watch: seconds between two looks at the nodes (default 15)" },
    "health-port": { type: "string", value: "port", help: "with --watch: serve /healthz and /readyz on this port" },
  },
  notes: `Example (the NATS pod's sidecar):
  x0 certs k8s-users --watch --pid-file=/var/run/nats/nats.pid --health-port=8090`,
} as const satisfies CommandSpec;

/** What `x0 certs k8s-users` options hold. */
export interface K8sUsersValues {
  out?: string;
  "trust-domain"?: string;
  "pid-file"?: string;
  watch?: boolean;
  "interval-s"?: string;
  "health-port"?: string;
}

/** The label of the node agent's pods: each one's node gets its node-scoped users. */
export const NODE_AGENT_SELECTOR = "app.kubernetes.io/name=x0-node-agent";

/** A node id as the x0 services accept it (X0_NODE, the last token of their subjects); observer and voter names too. */
const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Who, besides the workloads, may connect: observers (console, dashboards, SIEM) and governance voters, by name. */
export interface NamedIdentities {
  observers?: string[];
  voters?: string[];
}

/** The users file of the Kubernetes NATS pod for these nodes, observers and voters (nats-server syntax). */
export function k8sUsersConf({
  matrix,
  trustDomain,
  nodes,
  observers = [],
  voters = [],
}: { matrix: PermissionMatrix; trustDomain: string; nodes: string[] } & NamedIdentities): string {
  const named = [...observers.map((name) => `observer/${name}`), ...voters.map((name) => `voter/${name}`)];
  const users = natsUsers(matrix, { trustDomain, nodes, observers, voters });
  return formatConf({ authorization: { users: users as unknown as ConfValue[] } }, [
    `Users for nodes: ${nodes.length > 0 ? nodes.join(", ") : "(none yet)"}${named.length > 0 ? `; ${named.join(", ")}` : ""}.`,
    "Rendered by x0 certs k8s-users.",
  ]);
}

/** The observers and voters named in X0_NATS_OBSERVERS and X0_NATS_VOTERS (comma-separated, from the x0-nats-identities ConfigMap). */
export function namedIdentitiesOf(env: Record<string, string | undefined>): Required<NamedIdentities> {
  const names = (variable: string) => {
    const list = (env[variable] ?? "")
      .split(",")
      .map((name) => name.trim())
      .filter(Boolean);
    const bad = list.filter((name) => !NAME.test(name));
    if (bad.length > 0) throw new ConfigError(variable, `comma-separated names of 1-64 [A-Za-z0-9_-], not ${bad.join(", ")}`);
    return list;
  };
  return { observers: names("X0_NATS_OBSERVERS"), voters: names("X0_NATS_VOTERS") };
}

/** How to reach the Kubernetes API: in the pod, its service account. */
export interface KubeApi {
  url: string;
  namespace: string;
  /** The bearer token (re-read for each request: bound tokens rotate). */
  token(): string;
  /** The cluster CA (PEM), when the URL is https. */
  ca?: string;
}

/** Where Kubernetes mounts a pod's service account (token, namespace, cluster CA). */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The in-cluster API of the pod's service account. */
export function inClusterApi(env: Record<string, string | undefined>, dir = SERVICE_ACCOUNT_DIR): KubeApi {
  const host = env.KUBERNETES_SERVICE_HOST;
  if (!host) throw new ConfigError("KUBERNETES_SERVICE_HOST", "set (x0 certs k8s-users runs inside a pod)");
  const read = (file: string) => {
    try {
      return readFileSync(join(dir, file), "utf8");
    } catch (error) {
      throw new KubeApiError(`cannot read the pod's service account ${file} in ${dir}`, { cause: error });
    }
  };
  return {
    url: `https://${host.includes(":") ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT ?? "443"}`,
    namespace: read("namespace").trim(),
    token: () => read("token").trim(),
    ca: read("ca.crt"),
  };
}

/** The nodes the node agent's pods are scheduled on (`usable`), and node names that cannot be node ids (`unusable`). */
export async function nodeAgentNodes(api: KubeApi, selector = NODE_AGENT_SELECTOR): Promise<{ usable: string[]; unusable: string[] }> {
  const url = `${api.url}/api/v1/namespaces/${encodeURIComponent(api.namespace)}/pods?labelSelector=${encodeURIComponent(selector)}`;
  let list: { items?: { spec?: { nodeName?: string } }[] };
  try {
    const response = await fetch(url, {
      headers: { authorization: `Bearer ${api.token()}`, accept: "application/json" },
      ...(api.ca ? { tls: { ca: api.ca } } : {}),
    });
    if (!response.ok) throw new KubeApiError(`GET ${url}: ${response.status} ${(await response.text()).slice(0, 200)}`);
    list = (await response.json()) as typeof list;
  } catch (error) {
    throw error instanceof KubeApiError ? error : new KubeApiError(`GET ${url} failed`, { cause: error });
  }
  const names = [...new Set((list.items ?? []).flatMap((pod) => (pod.spec?.nodeName ? [pod.spec.nodeName] : [])))].sort();
  return { usable: names.filter((name) => NAME.test(name)), unusable: names.filter((name) => !NAME.test(name)) };
}

/** Writes one log line. */
export type SyncLog = (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;

/** A {@link SyncLog} writing JSON lines (service nats-users) to `write`. */
export function jsonLog(write: (line: string) => void): SyncLog {
  return (level, msg, fields = {}) => write(JSON.stringify({ time: new Date().toISOString(), level, service: "nats-users", msg, ...fields }));
}

/** Settings of one synchronisation. */
export interface SyncOptions {
  api: KubeApi;
  out: string;
  /** nats-server's pid file: when the users change and it exists, nats-server is sent SIGHUP (reload). */
  pidFile?: string;
  trustDomain: string;
  matrix: PermissionMatrix;
  /** Observers and voters admitted besides the workloads. */
  named?: NamedIdentities;
  selector?: string;
  log: SyncLog;
}

/** Renders the users for the node agent's current nodes; writes and reloads only when they changed. Returns whether they did. */
export async function syncUsers(options: SyncOptions): Promise<{ changed: boolean; nodes: string[] }> {
  const { log } = options;
  const { usable, unusable } = await nodeAgentNodes(options.api, options.selector);
  if (unusable.length > 0) {
    log("warn", "node names that are not x0 node ids ([A-Za-z0-9_-]{1,64}) get no users: their node agents cannot connect", { nodes: unusable });
  }
  const text = k8sUsersConf({ matrix: options.matrix, trustDomain: options.trustDomain, nodes: usable, ...options.named });
  if (existsSync(options.out) && readFileSync(options.out, "utf8") === text) return { changed: false, nodes: usable };
  mkdirSync(dirname(options.out), { recursive: true });
  // Write then rename: a reload in between reads the old or the new file, never half of one.
  writeFileSync(`${options.out}.tmp`, text);
  renameSync(`${options.out}.tmp`, options.out);
  const reloaded = options.pidFile !== undefined && existsSync(options.pidFile);
  if (reloaded) {
    const pid = Number(readFileSync(options.pidFile as string, "utf8").trim());
    if (Number.isInteger(pid) && pid > 0) process.kill(pid, "SIGHUP");
  }
  log("info", "NATS users written", { nodes: usable, reloaded });
  return { changed: true, nodes: usable };
}

/** Settings of {@link watchUsers}. */
export interface WatchOptions extends SyncOptions {
  intervalMs: number;
  /** Serves `/healthz` (the loop ran lately) and `/readyz` (a synchronisation succeeded lately) on 0.0.0.0:`healthPort`. */
  healthPort?: number;
  /** Ends the loop (and the health server). */
  signal?: AbortSignal;
}

/** Keeps the users file in step with the nodes every `intervalMs` until `signal` aborts; a failed look keeps the users as they are. */
export async function watchUsers(options: WatchOptions): Promise<void> {
  const { intervalMs, signal, log } = options;
  let lastLoop = Date.now();
  let lastSuccess = 0;
  const status = (since: number) => (Date.now() - since < 3 * intervalMs + 10_000 ? 200 : 503);
  const server =
    options.healthPort === undefined
      ? undefined
      : Bun.serve({
          hostname: "0.0.0.0",
          port: options.healthPort,
          fetch(request) {
            const path = new URL(request.url).pathname;
            if (path === "/healthz") return new Response(null, { status: status(lastLoop) });
            if (path === "/readyz") return new Response(null, { status: status(lastSuccess) });
            return new Response(null, { status: 404 });
          },
        });
  try {
    while (!signal?.aborted) {
      try {
        await syncUsers(options);
        lastSuccess = Date.now();
      } catch (error) {
        log("error", "cannot read the node agent's pods; keeping the users as they are", { error: describeError(error) });
      }
      lastLoop = Date.now();
      await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    await server?.stop(true);
  }
}

/** A whole number of at least `min` from an option, else a {@link UsageError}. */
function whole(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new UsageError(`--${flag} ${JSON.stringify(text)} must be a whole number from ${min} to ${max}`);
  return value;
}

/** Runs `x0 certs k8s-users` with the in-cluster API (or `api`); with --watch it returns only when `signal` aborts. */
export async function runK8sUsers(
  values: K8sUsersValues,
  env: Record<string, string | undefined>,
  output: Output,
  { api, signal }: { api?: KubeApi; signal?: AbortSignal } = {},
): Promise<number> {
  if (!values.watch && (values["interval-s"] !== undefined || values["health-port"] !== undefined)) {
    throw new UsageError("--interval-s and --health-port go with --watch");
  }
  const intervalS = whole("interval-s", values["interval-s"] ?? "15", 1, 86_400);
  const healthPort = values["health-port"] === undefined ? undefined : whole("health-port", values["health-port"], 1, 65_535);
  const options: SyncOptions = {
    api: api ?? inClusterApi(env),
    out: resolve(values.out ?? K8S_USERS_FILE),
    ...(values["pid-file"] ? { pidFile: resolve(values["pid-file"]) } : {}),
    trustDomain: values["trust-domain"] ?? env.X0_TRUST_DOMAIN ?? DEFAULT_TRUST_DOMAIN,
    matrix: loadPermissionMatrix(),
    named: namedIdentitiesOf(env),
    log: jsonLog(output.out),
  };
  if (!values.watch) {
    await syncUsers(options);
    return 0;
  }
  await watchUsers({ ...options, intervalMs: intervalS * 1000, ...(healthPort === undefined ? {} : { healthPort }), ...(signal ? { signal } : {}) });
  return 0;
}
