// `x0 certs`: the development CA (trust bundle, NATS server certificate), client certificates for outside subscribers,
// the nats-server configuration generated from the permission matrix, and the Kubernetes NATS pod's users.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  createDevCa,
  DEFAULT_TRUST_DOMAIN,
  issueServerCertificate,
  issueSvid,
  loadDevCa,
  loadPermissionMatrix,
  NATS_ROUTE_NAME,
  renderNatsConfig,
} from "@x0/shared";
import { UsageError } from "../errors.ts";
import { stateDirOf } from "../paths.ts";
import { type CommandSpec, parseCommandArgs } from "../spec.ts";
import type { Output } from "../status/command.ts";
import { changeNamed, isStackPki, reloadNatsServers, renderStackNats } from "../up/named.ts";
import { CONSOLE_OBSERVER } from "../up/pki.ts";
import { K8S_USERS_SPEC, type K8sUsersValues, runK8sUsers } from "./k8s-users.ts";

const DIR = { type: "string", value: "path", path: true, help: "PKI folder (default <X0_STATE_DIR or .x0>/pki)" } as const;
const TRUST_DOMAIN = { type: "string", value: "td", help: `SPIFFE trust domain (default X0_TRUST_DOMAIN, else ${DEFAULT_TRUST_DOMAIN})` } as const;
const NAMED_ROLE = { type: "string", value: "role", choices: ["observer", "voter"], help: "observer or voter" } as const;

/** `x0 certs` in the command table. */
export const CERTS_SPEC = {
  name: "certs",
  summary: "development CA, client certificates, NATS permissions",
  description:
    "The development CA (trust bundle, NATS server and route certificates), client certificates (X.509-SVIDs) and the nats-server configuration generated from the permission matrix (ops/nats/permissions.yaml), and the users the Kubernetes NATS pod renders for itself.",
  commands: [
    {
      name: "init",
      summary: "create the development CA, the NATS server certificate and the route certificate of a cluster",
      description:
        "Creates the development CA (kept when it exists, unless --force), the NATS server certificate and the route certificate the servers of a cluster present to each other.",
      flags: {
        dir: DIR,
        "trust-domain": TRUST_DOMAIN,
        dns: { type: "string", multiple: true, value: "name", help: "a DNS name of the NATS server (default localhost, nats)" },
        ip: { type: "string", multiple: true, value: "address", help: "an IP address of the NATS server (default 127.0.0.1)" },
        force: { type: "boolean", help: "replace an existing CA (every certificate it issued stops verifying)" },
      },
    },
    {
      name: "issue",
      summary: "mint a client certificate (X.509-SVID), e.g. for an outside subscriber",
      description:
        "Mints a client certificate (X.509-SVID) for a role of the permission matrix. The observer role may subscribe to x0.telemetry/overdue/anomaly/plan/action and publish nothing. On a stack that x0 up runs, an observer or voter is admitted at once (NATS reloaded, no restart).",
      flags: {
        dir: DIR,
        "trust-domain": TRUST_DOMAIN,
        role: { type: "string", value: "role", help: "a role of the permission matrix (observer, voter, monitor, analyzer, ...)" },
        id: { type: "string", value: "name", help: "the observer's or voter's name, or the node of a per-node role" },
        ttl: { type: "string", value: "duration", help: "lifetime, e.g. 1h, 30d (default 24h for observers, 1h otherwise)" },
        out: { type: "string", value: "path", path: true, help: "folder for <role>[-<id>].crt/.key (default the PKI folder)" },
      },
      notes: "Example:\n  x0 certs issue --role observer --id grafana",
    },
    {
      name: "revoke",
      summary: "a stack's observer or voter is no longer admitted",
      description: "A stack's observer or voter is no longer admitted by its NATS (the servers are reloaded).",
      flags: { dir: DIR, role: NAMED_ROLE, id: { type: "string", value: "name", help: "the observer's or voter's name" } },
      notes: "Example:\n  x0 certs revoke --role observer --id grafana",
    },
    {
      name: "nats-config",
      summary: "print the nats-server configuration for the permission matrix",
      description:
        "Prints the nats-server configuration for the permission matrix (ops/nats/permissions.yaml); with --routes, a cluster member's (routes with mTLS: only the route certificate may join).",
      flags: {
        dir: DIR,
        "trust-domain": TRUST_DOMAIN,
        nodes: { type: "string", value: "a,b", help: "node ids (one monitor identity each)" },
        observers: { type: "string", value: "a,b", help: "observer names" },
        voters: { type: "string", value: "a,b", help: "governance members' voter identities (x0 certs issue --role voter --id alice)" },
        "server-version": { type: "string", value: "v", help: "nats-server version (default: asked from nats-server --version)" },
        "server-name": { type: "string", value: "name", help: "this server's name, unique in its cluster (needed with --routes)" },
        routes: { type: "string", value: "a,b,c", help: "route URLs of every server of the cluster (its own included)" },
        "cluster-listen": { type: "string", value: "host:port", help: "where this server accepts routes (default 0.0.0.0:6222)" },
        "cluster-name": { type: "string", value: "name", help: "the cluster's name (default x0)" },
      },
      notes: `Examples:
  x0 certs nats-config --nodes n1,n2 --observers grafana --voters alice,bob
  x0 certs nats-config --nodes n1 --server-name x0-1 \\
    --routes nats://a:6222,nats://b:6222,nats://c:6222`,
    },
    K8S_USERS_SPEC,
  ],
} as const satisfies CommandSpec;

/** What `x0 certs` options hold. */
interface Values extends K8sUsersValues {
  dir?: string;
  "trust-domain"?: string;
  dns?: string[];
  ip?: string[];
  force?: boolean;
  role?: string;
  id?: string;
  ttl?: string;
  out?: string;
  nodes?: string;
  observers?: string;
  voters?: string;
  "server-version"?: string;
  "server-name"?: string;
  routes?: string;
  "cluster-listen"?: string;
  "cluster-name"?: string;
}

const DURATION = /^(\d+)(s|m|h|d)$/;

/** Parses 90s, 15m, 1h or 30d into milliseconds. */
export function parseTtl(text: string): number {
  const match = DURATION.exec(text);
  if (!match) throw new UsageError(`--ttl ${JSON.stringify(text)} is not a duration like 15m, 1h or 30d`);
  return Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "s" | "m" | "h" | "d"];
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const list = (text: string | undefined) =>
  (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
}

function installedServerVersion(): string | undefined {
  const result = Bun.spawnSync(["nats-server", "--version"], { stdout: "pipe", stderr: "ignore" });
  return /v?(\d+\.\d+\.\d+)/.exec(result.stdout.toString())?.[1];
}

/** Runs `x0 certs`; 0 on success. */
export async function runCerts(argv: readonly string[], env: Record<string, string | undefined>, output: Output): Promise<number> {
  const { values, positionals } = parseCommandArgs<Values>(CERTS_SPEC, argv);
  const [command, ...extra] = positionals;
  if (command === undefined) throw new UsageError("certs needs a command: init, issue, revoke, nats-config or k8s-users");
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  const dir = resolve(values.dir ?? join(stateDirOf(env), "pki"));
  const trustDomain = values["trust-domain"] ?? env.X0_TRUST_DOMAIN ?? DEFAULT_TRUST_DOMAIN;
  const caFiles = { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };

  if (command === "init") {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (existsSync(caFiles.cert) && !values.force) {
      output.out(`CA kept: ${caFiles.cert} (use --force to replace it)`);
    } else {
      const ca = await createDevCa({ trustDomain });
      writeFileSync(caFiles.cert, ca.certPem);
      writeSecret(caFiles.key, ca.keyPem);
      output.out(`CA created: ${caFiles.cert} (trust domain ${trustDomain})`);
    }
    const ca = await loadDevCa({ trustDomain, certPem: readFileSync(caFiles.cert, "utf8"), keyPem: readFileSync(caFiles.key, "utf8") });
    const dnsNames = values.dns ?? ["localhost", "nats"];
    const ipAddresses = values.ip ?? ["127.0.0.1"];
    const server = await issueServerCertificate({ ca, dnsNames, ipAddresses });
    writeFileSync(join(dir, "nats.crt"), server.certPem);
    writeSecret(join(dir, "nats.key"), server.keyPem);
    output.out(`NATS server certificate: ${join(dir, "nats.crt")} (valid until ${server.notAfter.toISOString()})`);
    // Routes dial the servers by the same names; the route name is what the servers map a route's certificate to.
    const route = await issueServerCertificate({ ca, dnsNames: [NATS_ROUTE_NAME, ...dnsNames], ipAddresses });
    writeFileSync(join(dir, "route.crt"), route.certPem);
    writeSecret(join(dir, "route.key"), route.keyPem);
    output.out(`NATS route certificate (${NATS_ROUTE_NAME}): ${join(dir, "route.crt")} (valid until ${route.notAfter.toISOString()})`);
    return 0;
  }

  if (command === "revoke") {
    const role = values.role;
    if (role !== "observer" && role !== "voter") throw new UsageError("revoke takes --role observer or --role voter (per-name identities)");
    if (!values.id || !NAME.test(values.id)) throw new UsageError("revoke needs --id <name>");
    if (!isStackPki(dir)) throw new UsageError(`${dir} is not a stack's PKI (bun run up makes one): edit --observers/--voters of x0 certs nats-config instead`);
    admitNamed(dir, role, values.id, false, output);
    return 0;
  }

  if (command === "issue") {
    const role = values.role;
    const matrix = loadPermissionMatrix();
    if (!role || !matrix.roles[role]) throw new UsageError(`--role must be one of ${Object.keys(matrix.roles).join(", ")}`);
    const permissions = matrix.roles[role];
    const id = values.id;
    if ((permissions?.per_node || permissions?.per_name) && !id) throw new UsageError(`--id is required for role ${role}`);
    if (id !== undefined && !NAME.test(id)) throw new UsageError(`--id ${JSON.stringify(id)} must be 1-64 of [A-Za-z0-9_-]`);
    if (!existsSync(caFiles.cert)) throw new UsageError(`no CA in ${dir}: run "x0 certs init" first`);
    const ca = await loadDevCa({ trustDomain, certPem: readFileSync(caFiles.cert, "utf8"), keyPem: readFileSync(caFiles.key, "utf8") });
    const ttlMs = parseTtl(values.ttl ?? (role === "observer" ? "24h" : "1h"));
    const issued = await issueSvid({ ca, role, name: permissions?.per_node || permissions?.per_name ? id : undefined, ttlMs });
    const out = resolve(values.out ?? dir);
    mkdirSync(out, { recursive: true, mode: 0o700 });
    const base = join(out, id ? `${role}-${id}` : role);
    writeFileSync(`${base}.crt`, issued.certPem);
    writeSecret(`${base}.key`, issued.keyPem);
    output.out(`${issued.spiffeId}: ${base}.crt and ${base}.key (CA ${caFiles.cert}), valid until ${issued.notAfter.toISOString()}`);
    // A named identity on a stack `up` runs is admitted at once: its servers' configurations are rendered and reloaded.
    if ((role === "observer" || role === "voter") && id && isStackPki(dir)) admitNamed(dir, role, id, true, output);
    return 0;
  }

  if (command === "nats-config") {
    const nodes = list(values.nodes);
    const observers = list(values.observers);
    const voters = list(values.voters);
    for (const name of [...nodes, ...observers, ...voters]) {
      if (!NAME.test(name)) throw new UsageError(`${JSON.stringify(name)} is not a valid node, observer or voter name`);
    }
    const serverName = values["server-name"];
    if (serverName !== undefined && !NAME.test(serverName)) throw new UsageError(`--server-name ${JSON.stringify(serverName)} must be 1-64 of [A-Za-z0-9_-]`);
    const routes = list(values.routes);
    const clusterName = values["cluster-name"] ?? "x0";
    if (!NAME.test(clusterName)) throw new UsageError(`--cluster-name ${JSON.stringify(clusterName)} must be 1-64 of [A-Za-z0-9_-]`);
    if (routes.length > 0 && serverName === undefined)
      throw new UsageError("--routes needs --server-name: every server of a JetStream cluster has its own name");
    for (const route of routes) if (!/^nats:\/\/[^\s/]+:\d+$/.test(route)) throw new UsageError(`--routes: ${JSON.stringify(route)} is not nats://host:port`);
    const listen = values["cluster-listen"] ?? "0.0.0.0:6222";
    if (!/^[^\s/]+:\d+$/.test(listen)) throw new UsageError(`--cluster-listen ${JSON.stringify(listen)} is not host:port`);
    const cluster =
      routes.length > 0
        ? { name: clusterName, listen, routes, tls: { certFile: join(dir, "route.crt"), keyFile: join(dir, "route.key"), caFile: caFiles.cert } }
        : undefined;
    output.out(
      renderNatsConfig(loadPermissionMatrix(), {
        trustDomain,
        nodes,
        observers,
        voters,
        tls: { certFile: join(dir, "nats.crt"), keyFile: join(dir, "nats.key"), caFile: caFiles.cert },
        serverVersion: values["server-version"] ?? installedServerVersion(),
        serverName,
        cluster,
      }).trimEnd(),
    );
    return 0;
  }
  if (command === "k8s-users") return runK8sUsers(values, env, output);
  throw new UsageError(`unknown certs command ${JSON.stringify(command)}; expected init, issue, revoke, nats-config or k8s-users`);
}

/** Adds (or drops) a named identity of a stack's NATS, renders the servers' configurations and reloads them. */
function admitNamed(pki: string, role: "observer" | "voter", name: string, admit: boolean, output: Output): void {
  const changed = changeNamed(pki, role === "observer" ? "observers" : "voters", name, admit);
  const files = renderStackNats(pki, CONSOLE_OBSERVER);
  const reloaded = reloadNatsServers(files);
  const what = admit ? (changed ? "admitted" : "already admitted") : changed ? "no longer admitted" : "was not admitted";
  output.out(`${role} ${name} ${what} by the stack's NATS (${reloaded} running server(s) reloaded)`);
}
