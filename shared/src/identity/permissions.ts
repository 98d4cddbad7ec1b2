// The permission matrix (ops/nats/permissions.yaml) and the nats-server configuration generated from it: TLS required,
// verify_and_map (the certificate's SPIFFE id is the user), least-privilege subjects per identity.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { X0Error } from "../errors.ts";
import { spiffeIdOf } from "./spiffe.ts";

/** The matrix file is unreadable or invalid. */
export class PermissionMatrixError extends X0Error {}

const Subject = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[$A-Za-z0-9_{}*>.-]+$/, "a subject is dot-separated tokens of [$A-Za-z0-9_-], wildcards * and >, and {node}");

/** One role's permissions. */
export const RolePermissions = z.object({
  description: z.string().max(512),
  /** A service's identity (true), or operators' tools and outside subscribers (false), whose rights no contract lists. */
  workload: z.boolean().default(true),
  /** One identity per node (`…/x0/<role>/<node>`), with {node} filled in. */
  per_node: z.boolean().default(false),
  /** One identity per name (`…/x0/observer/<name>`, `…/x0/voter/<name>`), for outside subscribers and members' tools. */
  per_name: z.boolean().default(false),
  publish: z.array(Subject).max(256),
  subscribe: z.array(Subject).max(256),
  /** May reply to requests it received (services answering x0.probe / x0.crypto). */
  allow_responses: z.boolean().default(false),
  /** JetStream streams it manages and its durable consumers, per stream. */
  jetstream: z
    .object({
      streams: z.array(z.string().regex(/^[A-Za-z0-9_-]+$/)).default([]),
      consumers: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), z.array(z.string().regex(/^[A-Za-z0-9_{}-]+$/))).default({}),
    })
    .optional(),
  /** KV buckets it uses, with the keys it may write (reading any key of a listed bucket is allowed). */
  kv: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), z.array(Subject)).optional(),
  /** Streams and buckets it may only read: message gets and stream info, no consumer; a bucket's changes arrive live on `$KV.<bucket>.>`. */
  read: z
    .object({
      streams: z.array(z.string().regex(/^[A-Za-z0-9_-]+$/)).default([]),
      kv: z.array(z.string().regex(/^[A-Za-z0-9_-]+$/)).default([]),
    })
    .optional(),
});
/** Permissions of a role. */
export type RolePermissions = z.infer<typeof RolePermissions>;

/** ops/nats/permissions.yaml. */
export const PermissionMatrix = z.object({ version: z.literal(1), roles: z.record(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/), RolePermissions) });
/** The permission matrix. */
export type PermissionMatrix = z.infer<typeof PermissionMatrix>;

/** Where the matrix lives in the repository. */
export const PERMISSION_MATRIX_PATH = join(import.meta.dir, "..", "..", "..", "ops", "nats", "permissions.yaml");

/** Reads and validates the matrix. */
export function loadPermissionMatrix(path = PERMISSION_MATRIX_PATH): PermissionMatrix {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, "utf8"));
  } catch (error) {
    throw new PermissionMatrixError(`cannot read the permission matrix ${path}`, { cause: error });
  }
  const parsed = PermissionMatrix.safeParse(raw);
  if (!parsed.success) throw new PermissionMatrixError(`invalid permission matrix ${path}: ${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  return parsed.data;
}

/** One NATS user: a SPIFFE id with its permissions. */
export interface NatsUser {
  user: string;
  permissions: {
    publish: { allow: string[] } | { deny: string[] };
    subscribe: { allow: string[] } | { deny: string[] };
    allow_responses?: boolean;
  };
}

/**
 * The JetStream API subjects a role's `jetstream` and `kv` entries stand for (as nats.js v3 and nats-server 2.9+ use
 * them): stream management of its own streams; create, info, fetch, ack and delete of its own durable consumers; for each bucket
 * the reads (direct and message get, ordered consumers for keys and watch, with their flow control) and writes of its keys.
 */
export function jetStreamSubjects(role: RolePermissions): string[] {
  const subjects: string[] = [];
  const streams = role.jetstream?.streams ?? [];
  const consumers = Object.entries(role.jetstream?.consumers ?? {});
  const buckets = Object.entries(role.kv ?? {});
  if (streams.length + consumers.length + buckets.length === 0) return subjects;
  subjects.push("$JS.API.INFO");
  for (const stream of streams) subjects.push(`$JS.API.STREAM.INFO.${stream}`, `$JS.API.STREAM.CREATE.${stream}`, `$JS.API.STREAM.UPDATE.${stream}`);
  for (const [stream, durables] of consumers) {
    for (const durable of durables) {
      subjects.push(
        `$JS.API.CONSUMER.CREATE.${stream}.${durable}`,
        `$JS.API.CONSUMER.CREATE.${stream}.${durable}.>`,
        `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.${durable}`,
        `$JS.API.CONSUMER.INFO.${stream}.${durable}`,
        `$JS.API.CONSUMER.DELETE.${stream}.${durable}`,
        `$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`,
        `$JS.ACK.${stream}.${durable}.>`,
      );
    }
  }
  for (const [bucket, keys] of buckets) {
    const stream = `KV_${bucket}`;
    subjects.push(
      `$JS.API.STREAM.INFO.${stream}`,
      `$JS.API.STREAM.CREATE.${stream}`,
      `$JS.API.STREAM.MSG.GET.${stream}`,
      `$JS.API.DIRECT.GET.${stream}.>`,
      `$JS.API.CONSUMER.CREATE.${stream}.>`,
      `$JS.API.CONSUMER.DELETE.${stream}.>`,
      `$JS.API.CONSUMER.INFO.${stream}.>`,
      `$JS.FC.${stream}.>`,
      ...keys.map((key) => `$KV.${bucket}.${key}`),
    );
  }
  return subjects;
}

/**
 * The subjects a role's `read` entry stands for. Reading goes through message gets only: creating even an ephemeral
 * consumer is not granted, because nats-server 2.9 lets a create request that names an existing durable rewrite it.
 */
export function readSubjects(role: RolePermissions): { publish: string[]; subscribe: string[] } {
  const streams = [...(role.read?.streams ?? []), ...(role.read?.kv ?? []).map((bucket) => `KV_${bucket}`)];
  return {
    publish: streams.flatMap((stream) => [
      `$JS.API.STREAM.INFO.${stream}`,
      `$JS.API.STREAM.MSG.GET.${stream}`,
      `$JS.API.DIRECT.GET.${stream}`,
      `$JS.API.DIRECT.GET.${stream}.>`,
    ]),
    subscribe: (role.read?.kv ?? []).map((bucket) => `$KV.${bucket}.>`),
  };
}

/** The users of a deployment: every role, once per node for per-node roles, once per name for the observer and voter roles. */
export function natsUsers(
  matrix: PermissionMatrix,
  { trustDomain, nodes, observers = [], voters = [] }: { trustDomain: string; nodes: string[]; observers?: string[]; voters?: string[] },
): NatsUser[] {
  const users: NatsUser[] = [];
  const named: Record<string, string[]> = { observer: observers, voter: voters };
  for (const [role, permissions] of Object.entries(matrix.roles)) {
    const names = permissions.per_node ? nodes : permissions.per_name ? (named[role] ?? []) : [undefined];
    for (const name of names) {
      const fill = (subjects: string[]) => subjects.map((subject) => subject.replaceAll("{node}", name ?? ""));
      const reads = readSubjects(permissions);
      const publish = fill([...permissions.publish, ...jetStreamSubjects(permissions), ...reads.publish]);
      const subscribe = fill([...permissions.subscribe, ...reads.subscribe]);
      users.push({
        user: spiffeIdOf(trustDomain, role, name),
        permissions: {
          // An empty allow list would allow everything in nats-server: nothing allowed is an explicit deny of ">".
          publish: publish.length > 0 ? { allow: publish } : { deny: [">"] },
          subscribe: subscribe.length > 0 ? { allow: subscribe } : { deny: [">"] },
          ...(permissions.allow_responses ? { allow_responses: true } : {}),
        },
      });
    }
  }
  return users;
}

/** Settings of the generated server configuration. */
export interface NatsConfigOptions {
  trustDomain: string;
  nodes: string[];
  observers?: string[];
  /** Names of governance members' voter identities. */
  voters?: string[];
  tls: { certFile: string; keyFile: string; caFile: string };
  /** nats-server version ("2.9.10"); from 2.10 the TLS 1.2 minimum is also written explicitly (earlier servers reject the field). */
  serverVersion?: string;
  /** Seconds a client has to finish the TLS handshake (2; a TCG VM needs more). */
  tlsTimeoutSeconds?: number;
  /** This server's name: unique within a cluster (JetStream's peers are named by it). */
  serverName?: string;
  /** Membership of a cluster: routes to the other servers over mTLS. */
  cluster?: NatsClusterOptions;
}

/** The name a route certificate carries as a DNS SAN: the only identity a route connection is accepted as. */
export const NATS_ROUTE_NAME = "x0-nats-route";

/** A server's cluster settings (see {@link renderNatsConfig}). */
export interface NatsClusterOptions {
  /** The cluster's name, the same on every server. */
  name: string;
  /** Where this server accepts routes, `host:port`. */
  listen: string;
  /** Route URLs of every server of the cluster (`nats://host:port`; its own is ignored by the server). */
  routes: string[];
  /** The route certificate (serverAuth and clientAuth, DNS SAN {@link NATS_ROUTE_NAME}), its key and the CA. */
  tls: { certFile: string; keyFile: string; caFile: string };
}

/** Whether nats-server `version` knows the tls `min_version` field (2.10 and later). */
export function supportsTlsMinVersion(version: string): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major > 2 || (major === 2 && minor >= 10);
}

/**
 * The nats-server configuration (JSON, which nats-server reads) for the matrix: TLS 1.2+, client certificates required and
 * mapped to users. With `cluster`, routes require mTLS too, and a route is accepted only with a certificate that maps to
 * {@link NATS_ROUTE_NAME}: a workload's SVID or the client-facing certificate cannot join as a server.
 */
export function renderNatsConfig(matrix: PermissionMatrix, options: NatsConfigOptions): string {
  // nats-server requires TLS 1.2 by default; servers that know the field get it explicitly as well.
  const minVersion = options.serverVersion && supportsTlsMinVersion(options.serverVersion) ? { min_version: "1.2" } : {};
  const timeout = options.tlsTimeoutSeconds ?? 2;
  const tlsFiles = (files: NatsConfigOptions["tls"]) => ({ cert_file: files.certFile, key_file: files.keyFile, ca_file: files.caFile });
  const { cluster } = options;
  const config = {
    ...(options.serverName ? { server_name: options.serverName } : {}),
    tls: { ...tlsFiles(options.tls), verify_and_map: true, ...minVersion, timeout },
    authorization: { users: natsUsers(matrix, options) },
    ...(cluster
      ? {
          cluster: {
            name: cluster.name,
            listen: cluster.listen,
            routes: cluster.routes,
            tls: { ...tlsFiles(cluster.tls), verify_and_map: true, ...minVersion, timeout },
            authorization: { user: NATS_ROUTE_NAME },
          },
        }
      : {}),
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
