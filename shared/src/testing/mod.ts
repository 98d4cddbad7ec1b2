// Test helpers: real nats-server and real service processes on free ports, and a recorder of the loop's messages.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { Anomaly } from "../contracts/schemas.ts";

export { type Arrival, EventRecorder, type RecordOptions, type Rejected, recordEvents } from "./recorder.ts";

/** A valid `opened` link_down anomaly for tests, with a fresh incident id; `overrides` replace fields. */
export function anomalyFixture(overrides: Partial<Anomaly> = {}): Anomaly {
  const now = Date.now();
  return {
    v: 1,
    incident_id: crypto.randomUUID(),
    state: "opened",
    update: 0,
    kind: "link_down",
    severity: "critical",
    node: "n1",
    interface: "mesh1",
    metric: "operstate",
    observed: 0,
    baseline_mean: 1,
    baseline_stddev: 0,
    score: 1e9,
    opened_at: now,
    ts: now,
    ...overrides,
  };
}

/** The repository root. */
export const REPO_ROOT = join(import.meta.dir, "..", "..", "..");

/** A TCP port that was free a moment ago. */
export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = listener;
  listener.stop(true);
  return port;
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return response.ok;
  } catch {
    return false;
  }
}

/** A nats-server process under test. */
export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
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
}: {
  bin?: string;
  tls?: TestTls;
  /** Listen address (0.0.0.0 lets lab namespaces reach it over their management network). */
  host?: string;
  /** A whole nats-server configuration file's text (TLS, authorization); ports and store still come from flags. */
  configText?: string;
} = {}): Promise<NatsServer> {
  const port = freePort();
  const monitorPort = freePort();
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
  let process_: Subprocess | undefined;
  const log: string[] = [];
  const start = async () => {
    process_ = Bun.spawn(args, { stdout: "ignore", stderr: "pipe" });
    collectLines(process_.stderr as ReadableStream<Uint8Array>, log);
    // The monitoring port listens on the client address.
    await waitFor(`nats-server on ${port}`, () => httpOk(`http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${monitorPort}/healthz`), 15_000);
  };
  const stop = async (signal: "SIGTERM" | "SIGKILL" = "SIGTERM") => {
    if (!process_) return;
    process_.kill(signal);
    await process_.exited;
    process_ = undefined;
  };
  await start();
  return {
    url: `nats://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`,
    port,
    storeDir,
    log,
    stop,
    start,
    dispose: async () => {
      await stop("SIGKILL");
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/** Appends each line of `stream` to `into` as it arrives (in the background). */
export function collectLines(stream: ReadableStream<Uint8Array>, into: string[]): void {
  void (async () => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of stream) {
      rest += decoder.decode(chunk, { stream: true });
      const lines = rest.split("\n");
      rest = lines.pop() ?? "";
      into.push(...lines);
    }
    if (rest) into.push(rest);
  })();
}

/** A service process under test. */
export interface ServiceProcess {
  readonly name: string;
  readonly port: number;
  readonly process: Subprocess<"ignore", "pipe", "pipe">;
  /** Lines written to stdout and stderr so far. */
  readonly output: string[];
  readonly exited: Promise<number>;
  ready(): Promise<boolean>;
  waitReady(timeoutMs?: number): Promise<void>;
  stop(): Promise<number>;
}

/** Starts `services/<name>/src/main.ts` as its own Bun process with `env` on top of a minimal environment. */
export function startServiceProcess(name: string, env: Record<string, string>): ServiceProcess {
  const port = env.X0_HTTP_PORT ? Number(env.X0_HTTP_PORT) : freePort();
  // Signing keys (and a development KEK) go to a folder of this process unless the test shares one.
  const keyDir = env.X0_KEY_DIR ? undefined : mkdtempSync(join(tmpdir(), `x0-keys-${name}-`));
  const child = Bun.spawn([process.execPath, join(REPO_ROOT, "services", name, "src", "main.ts")], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/root",
      X0_HTTP_PORT: String(port),
      ...(keyDir ? { X0_KEY_DIR: keyDir } : {}),
      // A test that gives no identity talks plain NATS to its own local server: the development flag says so.
      ...(env.X0_DEV_CA_DIR || env.X0_NATS_TLS_CERT || env.SPIFFE_ENDPOINT_SOCKET || env.X0_SVID_SOURCE ? {} : { X0_NATS_INSECURE_DEV: "true" }),
      ...env,
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  void child.exited.then(() => {
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  });
  const output: string[] = [];
  collectLines(child.stdout, output);
  collectLines(child.stderr, output);
  const ready = () => httpOk(`http://127.0.0.1:${port}/readyz`);
  return {
    name,
    port,
    process: child,
    output,
    exited: child.exited,
    ready,
    waitReady: async (timeoutMs = 20_000) => {
      try {
        await waitFor(
          `${name} ready`,
          async () => {
            if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${output.join("\n")}`);
            return ready();
          },
          timeoutMs,
          50,
        );
      } catch (error) {
        throw new Error(`${(error as Error).message}\n--- ${name} output ---\n${output.slice(-40).join("\n")}`);
      }
    },
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      const code = await child.exited;
      clearTimeout(timer);
      return code;
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
  adminTls: { caFile: string; certFile: string; keyFile: string };
  dispose(): Promise<void>;
}

/** Starts nats-server with the configuration generated from ops/nats/permissions.yaml for `nodes`, as `bun run up` does. */
export async function startSecureNats({
  nodes,
  host = "127.0.0.1",
  trustDomain = "x0tta6bl4.mesh",
  tlsTimeoutSeconds,
}: {
  nodes: string[];
  host?: string;
  trustDomain?: string;
  /** Seconds a client has to finish the TLS handshake (nats-server's 2 by default; a TCG VM needs more). */
  tlsTimeoutSeconds?: number;
}): Promise<SecureNats> {
  // Imported here: most tests need no X.509 machinery.
  const { createDevCa, issueServerCertificate, issueSvid, loadPermissionMatrix, renderNatsConfig } = await import("../identity/mod.ts");
  const caDir = mkdtempSync(join(tmpdir(), "x0-pki-"));
  const ca = await createDevCa({ trustDomain });
  const write = (name: string, text: string) => {
    writeFileSync(join(caDir, name), text, { mode: 0o600 });
    return join(caDir, name);
  };
  const caFile = write("ca.crt", ca.certPem);
  write("ca.key", ca.keyPem);
  const server = await issueServerCertificate({ ca, ipAddresses: [...new Set(["127.0.0.1", host])] });
  const serverFiles = { certFile: write("nats.crt", server.certPem), keyFile: write("nats.key", server.keyPem), caFile };
  const admin = await issueSvid({ ca, role: "admin", ttlMs: 24 * 3_600_000 });
  const adminTls = { caFile, certFile: write("admin.crt", admin.certPem), keyFile: write("admin.key", admin.keyPem) };
  const configText = renderNatsConfig(loadPermissionMatrix(), { trustDomain, nodes, tls: serverFiles, tlsTimeoutSeconds });
  const nats = await startNatsServer({ host, configText });
  const url = `tls://${host === "0.0.0.0" ? "127.0.0.1" : host}:${nats.port}`;
  return {
    nats: { ...nats, url },
    caDir,
    serviceEnv: { X0_NATS_SERVERS: url, X0_DEV_CA_DIR: caDir, X0_TRUST_DOMAIN: trustDomain },
    adminTls,
    dispose: async () => {
      await nats.dispose();
      rmSync(caDir, { recursive: true, force: true });
    },
  };
}
