// The nats-server configurations of docker-compose and Kubernetes, generated from the permission matrix
// (ops/nats/permissions.yaml) with the renderer the dev stack uses: `bun run docs:nats` writes them, `--check` exits 1
// when a committed one differs. Kubernetes' users are rendered by the NATS pod itself (`x0 certs k8s-users`).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  type ConfValue,
  DEFAULT_TRUST_DOMAIN,
  formatConf,
  K8S_USERS_FILE,
  loadPermissionMatrix,
  NATS_ROUTE_NAME,
  type NatsConfigOptions,
  type PermissionMatrix,
  renderNatsConfig,
  Verbatim,
} from "@x0/shared";

const REPO_ROOT = join(import.meta.dir, "..", "..");

/** The nats-server image of docker-compose and Kubernetes (one version everywhere; the configurations are written for it). */
export const NATS_IMAGE = "nats:2.10.22-alpine";
/** The nats-server version of {@link NATS_IMAGE}. */
export const NATS_VERSION = /^nats:(\d+\.\d+\.\d+)/.exec(NATS_IMAGE)?.[1] ?? "";

/** The nodes of docker-compose: one machine, node id n1 (X0_NODE of its monitor, executor and swarm). */
export const COMPOSE_NODES = ["n1"];

/** nats-server's pid file in the Kubernetes NATS pod: the SVID and users sidecars signal it to reload. */
export const K8S_PID_FILE = "/var/run/nats/nats.pid";
/** The SVID files spiffe-helper writes in the Kubernetes NATS pod (server certificate, key, SPIRE trust bundle). */
export const K8S_SVID = { certFile: "/etc/nats/svid/svid.pem", keyFile: "/etc/nats/svid/svid_key.pem", caFile: "/etc/nats/svid/svid_bundle.pem" };
const GENERATED = "Generated from ops/nats/permissions.yaml by scripts/docs/nats-config.ts (`bun run docs:nats`): do not edit.";

/** The rendered configuration (the renderer writes JSON) as an object to add the deployment's own settings to. */
function rendered(matrix: PermissionMatrix, options: NatsConfigOptions): { [key: string]: ConfValue } {
  return JSON.parse(renderNatsConfig(matrix, options)) as { [key: string]: ConfValue };
}

/** ops/nats/nats.conf: one member of docker-compose's 3-server cluster, users for {@link COMPOSE_NODES}. */
export function composeNatsConf(matrix: PermissionMatrix = loadPermissionMatrix()): string {
  const certs = (name: string) => ({ certFile: `/certs/${name}.crt`, keyFile: `/certs/${name}.key`, caFile: "/certs/ca.crt" });
  const routes = ["nats-1", "nats-2", "nats-3"].map((server) => `nats://${server}:6222`);
  const { tls, authorization, cluster } = rendered(matrix, {
    trustDomain: DEFAULT_TRUST_DOMAIN,
    nodes: COMPOSE_NODES,
    tls: certs("nats"),
    serverVersion: NATS_VERSION,
    cluster: { name: "x0", listen: "0.0.0.0:6222", routes, tls: certs("route") },
  });
  const { tls: routeTls, authorization: routeAuthorization, ...clusterSettings } = cluster as { [key: string]: ConfValue };
  return formatConf(
    {
      server_name: new Verbatim("$SERVER_NAME"),
      port: 4222,
      http: 8222,
      tls: tls as ConfValue,
      authorization: authorization as ConfValue,
      jetstream: { store_dir: "/data" },
      cluster: {
        ...clusterSettings,
        // Clients are given every server's URL (X0_NATS_SERVERS): no container address is advertised to them.
        no_advertise: true,
        tls: routeTls as ConfValue,
        // Only the route certificate (DNS name x0-nats-route) opens a route: a service's certificate cannot join as a server.
        authorization: routeAuthorization as ConfValue,
      },
    },
    [
      "NATS for docker-compose: one member of the 3-server cluster (nats-1, nats-2, nats-3; SERVER_NAME says which), JetStream,",
      "mTLS for every client and every route. Certificates are made by ops/certs/dev-certs.sh (the `certs` service) into the",
      "`certs` volume. Every client certificate's SPIFFE id (URI SAN) is its user (verify_and_map) with the permissions of its",
      `role; node-scoped roles (monitor, executor, swarm) for node ${COMPOSE_NODES.join(", ")}.`,
      GENERATED,
    ],
  );
}

/** One Kubernetes NATS configuration: the base's 3-server cluster or the dev overlay's single server. */
export interface K8sNatsVariant {
  /** The file, relative to the repository. */
  path: string;
  /** Servers of the StatefulSet: 1 (no cluster block) or 3. */
  servers: 1 | 3;
  /** JetStream's file store limit: below the PersistentVolumeClaim's size. */
  maxFileStore: string;
  comment: string;
}

/** The Kubernetes configurations: base (3 servers, 10Gi volumes), dev (1 server, 1Gi), prod (3 servers, 50Gi). */
export const K8S_VARIANTS: K8sNatsVariant[] = [
  { path: "k8s/base/nats.conf", servers: 3, maxFileStore: "8Gi", comment: "a 3-server JetStream cluster (10Gi volumes)" },
  { path: "k8s/overlays/dev/nats.conf", servers: 1, maxFileStore: "768Mi", comment: "the dev overlay's single JetStream server (1Gi volume)" },
  { path: "k8s/overlays/prod/nats.conf", servers: 3, maxFileStore: "40Gi", comment: "the prod overlay's 3-server JetStream cluster (50Gi volumes)" },
];

/** A Kubernetes NATS configuration: SVID from SPIRE for clients and routes, users included from {@link K8S_USERS_FILE}. */
export function k8sNatsConf(variant: K8sNatsVariant, matrix: PermissionMatrix = loadPermissionMatrix()): string {
  const routes = Array.from({ length: variant.servers }, (_, pod) => `nats://x0-nats-${pod}.x0-nats-headless:6222`);
  const { tls, cluster } = rendered(matrix, {
    trustDomain: DEFAULT_TRUST_DOMAIN,
    nodes: [],
    tls: K8S_SVID,
    serverVersion: NATS_VERSION,
    ...(variant.servers > 1 ? { cluster: { name: "x0", listen: "0.0.0.0:6222", routes, tls: K8S_SVID } } : {}),
  });
  const config: { [key: string]: ConfValue } = {
    server_name: new Verbatim("$POD_NAME"),
    port: 4222,
    // Monitoring only inside the pod: the prometheus-nats-exporter sidecar and the probes read it on 127.0.0.1.
    http: "127.0.0.1:8222",
    pid_file: K8S_PID_FILE,
    tls: tls as ConfValue,
    // The users, rendered by the pod itself for the nodes the node agent runs on (`x0 certs k8s-users`).
    include: `..${K8S_USERS_FILE.slice("/etc/nats".length)}`,
    jetstream: { store_dir: "/data", max_file_store: new Verbatim(variant.maxFileStore) },
  };
  if (cluster) {
    const { tls: routeTls, authorization: routeAuthorization, ...clusterSettings } = cluster as { [key: string]: ConfValue };
    config.cluster = { ...clusterSettings, no_advertise: true, tls: routeTls as ConfValue, authorization: routeAuthorization as ConfValue };
  }
  return formatConf(config, [
    `NATS on Kubernetes: ${variant.comment}, mTLS for every client and route.`,
    "The server's certificate, key and trust bundle are its SPIRE SVID and the SPIRE bundle, kept up to date by the",
    "spiffe-helper sidecar (which signals a reload); every client's SPIFFE id is its user (verify_and_map). A route opens",
    `only with an SVID naming ${NATS_ROUTE_NAME} (the NATS pods' registration), never with a workload's SVID.`,
    "The users are not in this file: nats-server has no wildcard users, so the pod renders one user per node-scoped",
    `identity for the nodes the node agent runs on into ${K8S_USERS_FILE} and reloads as they change.`,
    GENERATED,
  ]);
}

/** Every generated file and its content. */
export function generatedFiles(matrix: PermissionMatrix = loadPermissionMatrix()): { path: string; text: string }[] {
  return [
    { path: "ops/nats/nats.conf", text: composeNatsConf(matrix) },
    ...K8S_VARIANTS.map((variant) => ({ path: variant.path, text: k8sNatsConf(variant, matrix) })),
  ];
}

async function main(argv: string[]): Promise<number> {
  let check: boolean | undefined;
  try {
    check = parseArgs({ args: argv, options: { check: { type: "boolean" } } }).values.check;
  } catch (error) {
    console.error(`${(error as Error).message}\nusage: bun run docs:nats [--check]`);
    return 2;
  }
  let stale = 0;
  for (const file of generatedFiles()) {
    const path = join(REPO_ROOT, file.path);
    const current = existsSync(path) ? readFileSync(path, "utf8") : undefined;
    if (current === file.text) continue;
    if (check) {
      console.error(`${file.path} is not what bun run docs:nats writes`);
      stale += 1;
    } else {
      writeFileSync(path, file.text);
      console.log(`wrote ${file.path}`);
    }
  }
  return stale > 0 ? 1 : 0;
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
