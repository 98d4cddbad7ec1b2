// The local stack's identities: `bun run up` keeps a development CA in <state>/pki (made once, like `x0 certs init`),
// renews the NATS server's (and on a cluster the routes') certificate, keeps an admin identity for its own tools, and
// writes each nats-server's configuration generated from the permission matrix: TLS required, SPIFFE ids mapped to users.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createDevCa, DEFAULT_TRUST_DOMAIN, issueServerCertificate, issueSvid, loadDevCa, NATS_ROUTE_NAME } from "@x0/shared";
import { writeStackNatsConfigs } from "./named.ts";
import { CLUSTER_NAME, type NatsServerPlan, routeUrls } from "./nats.ts";

/** What the stack needs to run with mTLS. */
export interface StackPki {
  dir: string;
  /** The environment that gives a service its identity (it issues its own SVID from the CA). */
  serviceEnv: Record<string, string>;
  /** TLS files of the admin identity (up's own connections, x0 incidents). */
  adminTls: { caFile: string; certFile: string; keyFile: string };
  /** TLS files of the console's read-only identity (observer "console"). */
  consoleTls: { caFile: string; certFile: string; keyFile: string };
}

/** The observer name of the console `up` runs: its identity is …/x0/observer/console. */
export const CONSOLE_OBSERVER = "console";

function writePrivate(path: string, text: string): string {
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

/**
 * Prepares the PKI and writes each server's configuration file for `nodes` (the per-node identities: monitors, executors);
 * more than one server makes them a cluster whose routes use a route certificate of the same CA.
 */
export async function prepareStackPki({
  stateDir,
  servers,
  nodes,
  addresses,
  trustDomain = DEFAULT_TRUST_DOMAIN,
  serverVersion,
}: {
  stateDir: string;
  servers: readonly NatsServerPlan[];
  nodes: string[];
  /** IP addresses the server is reached at (its certificate names them). */
  addresses: string[];
  trustDomain?: string;
  serverVersion?: string;
}): Promise<StackPki & { created: boolean }> {
  const dir = join(stateDir, "pki");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caFile = join(dir, "ca.crt");
  const keyFile = join(dir, "ca.key");
  const created = !existsSync(caFile) || !existsSync(keyFile);
  if (created) {
    const ca = await createDevCa({ trustDomain });
    writeFileSync(caFile, ca.certPem);
    writePrivate(keyFile, ca.keyPem);
  }
  const ca = await loadDevCa({ trustDomain, certPem: readFileSync(caFile, "utf8"), keyPem: readFileSync(keyFile, "utf8") });
  // Short-lived leaves are issued afresh on every start: nothing to renew while the stack is down.
  const server = await issueServerCertificate({ ca, ipAddresses: [...new Set(["127.0.0.1", ...addresses])] });
  const tls = { certFile: join(dir, "nats.crt"), keyFile: writePrivate(join(dir, "nats.key"), server.keyPem), caFile };
  writeFileSync(tls.certFile, server.certPem);
  const admin = await issueSvid({ ca, role: "admin", ttlMs: 7 * 86_400_000 });
  writeFileSync(join(dir, "admin.crt"), admin.certPem);
  const adminTls = { caFile, certFile: join(dir, "admin.crt"), keyFile: writePrivate(join(dir, "admin.key"), admin.keyPem) };
  const observer = await issueSvid({ ca, role: "observer", name: CONSOLE_OBSERVER, ttlMs: 7 * 86_400_000 });
  writeFileSync(join(dir, `observer-${CONSOLE_OBSERVER}.crt`), observer.certPem);
  const consoleTls = {
    caFile,
    certFile: join(dir, `observer-${CONSOLE_OBSERVER}.crt`),
    keyFile: writePrivate(join(dir, `observer-${CONSOLE_OBSERVER}.key`), observer.keyPem),
  };
  const routes = routeUrls(servers);
  let routeTls: { certFile: string; keyFile: string; caFile: string } | undefined;
  if (routes.length > 0) {
    // Only this certificate opens a route: a workload's SVID or the client-facing certificate cannot join as a server.
    const route = await issueServerCertificate({ ca, dnsNames: [NATS_ROUTE_NAME], ipAddresses: ["127.0.0.1"] });
    routeTls = { certFile: join(dir, "route.crt"), keyFile: writePrivate(join(dir, "route.key"), route.keyPem), caFile };
    writeFileSync(routeTls.certFile, route.certPem);
  }
  // Rendered from a plan kept beside the PKI, so `x0 certs issue|revoke` can add or drop observers and voters later.
  writeStackNatsConfigs(
    dir,
    servers.map((server) => {
      const cluster =
        routeTls && server.clusterPort !== undefined ? { name: CLUSTER_NAME, listen: `127.0.0.1:${server.clusterPort}`, routes, tls: routeTls } : undefined;
      return { configFile: server.configFile, options: { trustDomain, nodes, tls, serverVersion, serverName: server.serverName, cluster } };
    }),
    CONSOLE_OBSERVER,
  );
  return { dir, serviceEnv: { X0_DEV_CA_DIR: dir, X0_TRUST_DOMAIN: trustDomain }, adminTls, consoleTls, created };
}
