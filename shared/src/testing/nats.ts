// nats-server under test: a plain one, one with the generated mTLS configuration, and a cluster of them with replicated
// JetStream; each server can be killed and started again on its own ports and store.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { TlsFiles } from "../identity/source.ts";
import { collectLines, freePort, httpOk, waitFor } from "./process.ts";

/** A nats-server process under test. */
export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** The monitoring endpoint (`/healthz`, `/connz`, `/routez`, `/jsz`). */
  readonly monitorUrl: string;
  readonly storeDir: string;
  /** Whether the process runs (false between {@link stop} and {@link start}). */
  readonly running: boolean;
  /** The server's log lines (stderr) so far: tests assert the server's own refusals in it. */
  readonly log: string[];
  /** Stops the server (SIGTERM by default; SIGKILL simulates a crash). */
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Starts it again on the same port and store. */
  start(): Promise<void>;
  /** Stops it and removes its store. */
  dispose(): Promise<void>;
}

/** TLS settings of a test nats-server (PEM files); `verify` requires client certificates (mTLS). */
export interface TestTls {
  certFile: string;
  keyFile: string;
  caFile: string;
  verify: boolean;
}

/** Starts nats-server with JetStream on free ports, its store in a fresh temp folder. */
export async function startNatsServer({
  bin = process.env.NATS_SERVER_BIN ?? "nats-server",
  tls,
  host = "127.0.0.1",
  configText,
  scheme = "nats",
  readyTimeoutMs = 15_000,
}: {
  bin?: string;
  tls?: TestTls;
  /** Listen address (0.0.0.0 lets lab namespaces reach it over their management network). */
  host?: string;
  /** A whole nats-server configuration file's text (TLS, authorization, cluster); ports and store still come from flags. */
  configText?: string;
  /** The scheme of `url`: `tls` for a server that requires TLS from the first byte of the handshake on. */
  scheme?: "nats" | "tls";
  /** How long `/healthz` may take to answer ok (a cluster member's waits for a JetStream meta leader: a raft election). */
  readyTimeoutMs?: number;
} = {}): Promise<NatsServer> {
  let port = freePort();
  let monitorPort = freePort();
  const storeDir = mkdtempSync(join(tmpdir(), "x0-nats-"));
  const args = [bin, "-a", host, "-p", String(port), "-m", String(monitorPort), "-js", "-sd", storeDir];
  if (configText !== undefined) {
    const config = join(storeDir, "server.conf");
    writeFileSync(config, configText);
    args.push("-c", config);
  } else if (tls) {
    const config = join(storeDir, "tls.conf");
    writeFileSync(
      config,
      `tls {\n  cert_file: ${JSON.stringify(tls.certFile)}\n  key_file: ${JSON.stringify(tls.keyFile)}\n  ca_file: ${JSON.stringify(tls.caFile)}\n  verify: ${tls.verify}\n}\n`,
    );
    args.push("-c", config);
  }
  // The monitoring port listens on the client address.
  const localHost = host === "0.0.0.0" ? "127.0.0.1" : host;
  let monitorUrl = `http://${localHost}:${monitorPort}`;
  let process_: Subprocess | undefined;
  const log: string[] = [];
  const start = async () => {
    const child = Bun.spawn(args, { stdout: "ignore", stderr: "pipe" });
    process_ = child;
    let exited = false;
    void child.exited.then(() => {
      exited = true;
    });
    collectLines(child.stderr as ReadableStream<Uint8Array>, log);
    try {
      // A server that exits (a port taken meanwhile, a bad config) fails at once rather than at the timeout.
      await waitFor(
        `nats-server on ${port}`,
        async () => {
          if (exited) throw new Error(`nats-server on ${port} exited with ${child.exitCode}`);
          return httpOk(`${monitorUrl}/healthz`);
        },
        readyTimeoutMs,
      );
    } catch (error) {
      throw new Error(`nats-server on ${port} not healthy after ${readyTimeoutMs} ms; its last log lines:\n${log.slice(-15).join("\n")}`, { cause: error });
    }
  };
  const stop = async (signal: "SIGTERM" | "SIGKILL" = "SIGTERM") => {
    if (!process_) return;
    process_.kill(signal);
    await process_.exited;
    process_ = undefined;
  };
  // freePort cannot reserve a port: another process may bind it before the server does. Then two more tries on fresh ones.
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (error) {
      const taken = log.some((line) => line.includes("address already in use") && (line.includes(`:${port}`) || line.includes(`:${monitorPort}`)));
      if (!taken || attempt === 3) throw error;
      await stop("SIGKILL");
      port = freePort();
      monitorPort = freePort();
      args.splice(args.indexOf("-p") + 1, 1, String(port));
      args.splice(args.indexOf("-m") + 1, 1, String(monitorPort));
      monitorUrl = `http://${localHost}:${monitorPort}`;
      log.length = 0;
    }
  }
  return {
    url: `${scheme}://${localHost}:${port}`,
    port,
    monitorUrl,
    storeDir,
    get running() {
      return process_ !== undefined;
    },
    log,
    stop,
    start,
    dispose: async () => {
      await stop("SIGKILL");
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/** A nats-server that requires mTLS and maps SPIFFE ids to the permission matrix's users, with the CA that issues them. */
export interface SecureNats {
  nats: NatsServer;
  /** Folder of the development CA (ca.crt, ca.key): services given X0_DEV_CA_DIR issue their own SVIDs from it. */
  caDir: string;
  /** The environment a service needs to reach this server with its own identity. */
  serviceEnv: Record<string, string>;
  /** TLS files of an `admin` identity, for the test's own clients. */
  adminTls: TlsFiles;
  /** TLS files of the read-only observer `console` (…/x0/observer/console). */
  observerTls: TlsFiles;
  /** TLS files of the governance voter `alice` (…/x0/voter/alice). */
  voterTls: TlsFiles;
  dispose(): Promise<void>;
}

/** The observer every test server admits, with the identity {@link SecureNats.observerTls}. */
export const TEST_OBSERVER = "console";
/** The voter every test server admits, with the identity {@link SecureNats.voterTls}. */
export const TEST_VOTER = "alice";

/** Options shared by {@link startSecureNats} and {@link startSecureCluster}. */
export interface SecureNatsOptions {
  /** Nodes of the per-node identities (monitors, executors). */
  nodes: string[];
  /** Client listen address. */
  host?: string;
  trustDomain?: string;
  /** Seconds a client has to finish the TLS handshake (nats-server's 2 by default; a TCG VM needs more). */
  tlsTimeoutSeconds?: number;
}

/** A development CA in a temp folder with the client-facing server certificate and an admin identity. */
async function createTestPki(trustDomain: string, host: string) {
  // Imported here: most tests need no X.509 machinery.
  const identity = await import("../identity/mod.ts");
  const caDir = mkdtempSync(join(tmpdir(), "x0-pki-"));
  const ca = await identity.createDevCa({ trustDomain });
  const write = (name: string, text: string) => {
    writeFileSync(join(caDir, name), text, { mode: 0o600 });
    return join(caDir, name);
  };
  const caFile = write("ca.crt", ca.certPem);
  write("ca.key", ca.keyPem);
  const server = await identity.issueServerCertificate({ ca, ipAddresses: [...new Set(["127.0.0.1", host])] });
  const serverTls = { certFile: write("nats.crt", server.certPem), keyFile: write("nats.key", server.keyPem), caFile };
  const admin = await identity.issueSvid({ ca, role: "admin", ttlMs: 24 * 3_600_000 });
  const adminTls = { caFile, certFile: write("admin.crt", admin.certPem), keyFile: write("admin.key", admin.keyPem) };
  const observer = await identity.issueSvid({ ca, role: "observer", name: TEST_OBSERVER, ttlMs: 24 * 3_600_000 });
  const observerTls = { caFile, certFile: write("observer.crt", observer.certPem), keyFile: write("observer.key", observer.keyPem) };
  const voter = await identity.issueSvid({ ca, role: "voter", name: TEST_VOTER, ttlMs: 24 * 3_600_000 });
  const voterTls = { caFile, certFile: write("voter.crt", voter.certPem), keyFile: write("voter.key", voter.keyPem) };
  return { identity, ca, caDir, caFile, write, serverTls, adminTls, observerTls, voterTls };
}

/** Starts nats-server with the configuration generated from ops/nats/permissions.yaml for `nodes`, as `bun run up` does. */
export async function startSecureNats({
  nodes,
  host = "127.0.0.1",
  trustDomain = "x0tta6bl4.mesh",
  tlsTimeoutSeconds,
}: SecureNatsOptions): Promise<SecureNats> {
  const { identity, caDir, serverTls, adminTls, observerTls, voterTls } = await createTestPki(trustDomain, host);
  const configText = identity.renderNatsConfig(identity.loadPermissionMatrix(), {
    trustDomain,
    nodes,
    observers: [TEST_OBSERVER],
    voters: [TEST_VOTER],
    tls: serverTls,
    tlsTimeoutSeconds,
  });
  const nats = await startNatsServer({ host, configText, scheme: "tls" });
  return {
    nats,
    caDir,
    serviceEnv: { X0_NATS_SERVERS: nats.url, X0_DEV_CA_DIR: caDir, X0_TRUST_DOMAIN: trustDomain },
    adminTls,
    observerTls,
    voterTls,
    dispose: async () => {
      await nats.dispose();
      rmSync(caDir, { recursive: true, force: true });
    },
  };
}

/** A cluster of nats-servers with mTLS routes and JetStream on every server, with the CA that issues its identities. */
export interface SecureCluster {
  /** The servers, each stoppable (SIGKILL for a crash) and startable again on its own ports and store; `url` is `tls://`. */
  servers: NatsServer[];
  /** Every server's client URL, in the order of {@link servers}. */
  urls: string[];
  /** Every server's route URL (`nats://127.0.0.1:<port>`), in the same order. */
  routes: string[];
  /** Folder of the development CA (ca.crt, ca.key). */
  caDir: string;
  /** A service's environment: every URL in X0_NATS_SERVERS, its identity from the CA, X0_JS_REPLICAS the cluster's size. */
  serviceEnv: Record<string, string>;
  /** TLS files of an `admin` identity, for the test's own clients. */
  adminTls: TlsFiles;
  /** TLS files of the read-only observer `console`. */
  observerTls: TlsFiles;
  /** TLS files of the governance voter `alice`. */
  voterTls: TlsFiles;
  /** Waits until every running server routes to every other running one and JetStream has a meta leader. */
  waitFormed(timeoutMs?: number): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * Starts `size` nats-servers as one cluster (routes on 127.0.0.1 with a route certificate of the same CA), each with the
 * configuration generated from the permission matrix, and waits until the cluster has formed.
 */
export async function startSecureCluster({
  nodes,
  size = 3,
  host = "127.0.0.1",
  trustDomain = "x0tta6bl4.mesh",
  tlsTimeoutSeconds,
  name = "x0",
}: SecureNatsOptions & { size?: number; name?: string }): Promise<SecureCluster> {
  const { identity, ca, caDir, caFile, write, serverTls, adminTls, observerTls, voterTls } = await createTestPki(trustDomain, host);
  const route = await identity.issueServerCertificate({ ca, dnsNames: [identity.NATS_ROUTE_NAME], ipAddresses: ["127.0.0.1"] });
  const routeTls = { certFile: write("route.crt", route.certPem), keyFile: write("route.key", route.keyPem), caFile };
  const clusterPorts = Array.from({ length: size }, () => freePort());
  const routes = clusterPorts.map((port) => `nats://127.0.0.1:${port}`);
  const matrix = identity.loadPermissionMatrix();
  const started = await Promise.allSettled(
    clusterPorts.map((port, index) =>
      startNatsServer({
        host,
        scheme: "tls",
        configText: identity.renderNatsConfig(matrix, {
          trustDomain,
          nodes,
          observers: [TEST_OBSERVER],
          voters: [TEST_VOTER],
          tls: serverTls,
          tlsTimeoutSeconds,
          serverName: `${name}-${index + 1}`,
          cluster: { name, listen: `127.0.0.1:${port}`, routes, tls: routeTls },
        }),
        // Healthy once the three have elected a JetStream meta leader: nats-server 2.9 waits a randomised election timeout of
        // seconds, and a split vote on a loaded machine starts another round.
        readyTimeoutMs: 45_000,
      }),
    ),
  );
  const servers = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const dispose = async () => {
    await Promise.all(servers.map((server) => server.dispose()));
    rmSync(caDir, { recursive: true, force: true });
  };
  const failed = started.find((result) => result.status === "rejected");
  if (failed) {
    await dispose();
    throw failed.reason;
  }
  const urls = servers.map((server) => server.url);
  const waitFormed = (timeoutMs = 30_000) =>
    waitFor(
      "the NATS cluster to form",
      async () => {
        const running = servers.filter((server) => server.running);
        const views = await Promise.all(running.map((server) => clusterView(server.monitorUrl)));
        return views.every((view) => view !== undefined && view.routes >= running.length - 1 && view.metaLeader !== "");
      },
      timeoutMs,
      100,
    );
  try {
    await waitFormed();
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    servers,
    urls,
    routes,
    caDir,
    serviceEnv: { X0_NATS_SERVERS: urls.join(","), X0_DEV_CA_DIR: caDir, X0_TRUST_DOMAIN: trustDomain, X0_JS_REPLICAS: String(size) },
    adminTls,
    observerTls,
    voterTls,
    waitFormed,
    dispose,
  };
}

/** How many routes a server has and which server leads JetStream's meta group ("" when none), from its monitoring port. */
async function clusterView(monitorUrl: string): Promise<{ routes: number; metaLeader: string } | undefined> {
  try {
    const [routez, jsz] = await Promise.all(
      [`${monitorUrl}/routez`, `${monitorUrl}/jsz`].map(async (url) => (await fetch(url, { signal: AbortSignal.timeout(1000) })).json()),
    );
    return {
      routes: (routez as { num_routes?: number }).num_routes ?? 0,
      metaLeader: (jsz as { meta_cluster?: { leader?: string } }).meta_cluster?.leader ?? "",
    };
  } catch {
    return undefined; // not answering yet: the caller polls again
  }
}

/** The names of the clients connected to `server` (`service/instance` for x0 services), from its /connz. */
export async function connectionNames(server: NatsServer): Promise<string[]> {
  const response = await fetch(`${server.monitorUrl}/connz?limit=4096`, { signal: AbortSignal.timeout(2000) });
  const connz = (await response.json()) as { connections?: { name?: string }[] };
  return (connz.connections ?? []).map((connection) => connection.name ?? "");
}
