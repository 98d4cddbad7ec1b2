// This workload's identity for NATS: an X.509-SVID from SPIRE, the development CA or files, kept in files the NATS client
// re-reads on every (re)connect, and renewed before expiry (a renewal asks the caller to reconnect).
import { chmodSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BaseConfig } from "../config/config.ts";
import { ConfigError, X0Error } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { issueSvid, loadDevCa } from "./dev-ca.ts";
import { loadPermissionMatrix } from "./permissions.ts";
import { checkSvid } from "./svid.ts";
import { type SvidMaterial, WorkloadApiClient, type WorkloadApiError } from "./workload-api.ts";

/** The SVID could not be obtained or does not check. */
export class IdentityError extends X0Error {}

/** Files the NATS client reads its TLS material from. */
export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** The identity of a running workload. */
export interface WorkloadIdentity {
  /** Where it came from. */
  source: "workload-api" | "dev-ca" | "files" | "none";
  /** TLS files for the NATS connection; undefined for `none`. */
  tls?: TlsFiles;
  spiffeId(): string | undefined;
  notAfter(): Date | undefined;
  /** Resolves once the first SVID is in place. */
  ready: Promise<void>;
  /** Called after each renewal (the caller reconnects to present the new certificate). */
  onRenew(callback: () => void): void;
  stop(): void;
}

/** The SVID source `auto` resolves to, or a ConfigError naming what is missing. */
export function resolveSvidSource(config: BaseConfig): WorkloadIdentity["source"] {
  const wanted = config.X0_SVID_SOURCE;
  if (wanted !== "auto") {
    const missing =
      wanted === "workload-api" && !config.SPIFFE_ENDPOINT_SOCKET
        ? "SPIFFE_ENDPOINT_SOCKET"
        : wanted === "dev-ca" && !config.X0_DEV_CA_DIR
          ? "X0_DEV_CA_DIR"
          : wanted === "files" && !(config.X0_NATS_TLS_CERT && config.X0_NATS_TLS_KEY && config.X0_NATS_TLS_CA)
            ? "X0_NATS_TLS_CA, X0_NATS_TLS_CERT and X0_NATS_TLS_KEY"
            : undefined;
    if (missing) throw new ConfigError("X0_SVID_SOURCE", `${wanted} needs ${missing}`);
    return wanted;
  }
  if (config.SPIFFE_ENDPOINT_SOCKET) return "workload-api";
  if (config.X0_DEV_CA_DIR) return "dev-ca";
  if (config.X0_NATS_TLS_CERT || config.X0_NATS_TLS_CA || config.X0_NATS_TLS_KEY) {
    // TLS without a client certificate would be a workload without an identity: refused at start, never attempted.
    const missing = (["X0_NATS_TLS_CA", "X0_NATS_TLS_CERT", "X0_NATS_TLS_KEY"] as const).filter((name) => !config[name]);
    if (missing.length > 0)
      throw new ConfigError(missing[0] as string, `needed with the other X0_NATS_TLS_* files: a workload connects only with its own certificate and key`);
    return "files";
  }
  return "none";
}

/** The SPIFFE role name of a service and whether its identity is per node (from the permission matrix). */
function identityName(service: string, node: string): string | undefined {
  try {
    return loadPermissionMatrix().roles[service]?.per_node ? node : undefined;
  } catch {
    return undefined; // no matrix (e.g. a trimmed image): role-only ids
  }
}

function writePrivate(path: string, text: string): void {
  // Write then rename: a reconnect in between reads the old or the new file, never half of one.
  writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/** Opens the identity the config names; renewals happen in the background until stop(). */
export function openIdentity({ config, service, logger }: { config: BaseConfig; service: string; logger: Logger }): WorkloadIdentity {
  const source = resolveSvidSource(config);
  const renewCallbacks: (() => void)[] = [];
  const renewed = () => {
    for (const callback of renewCallbacks) callback();
  };
  if (source === "none") {
    if (config.X0_NATS_INSECURE_DEV !== "true") {
      throw new ConfigError(
        "X0_SVID_SOURCE",
        "no workload identity: set SPIFFE_ENDPOINT_SOCKET (SPIRE), X0_DEV_CA_DIR (x0 certs init) or X0_NATS_TLS_CA/CERT/KEY; X0_NATS_INSECURE_DEV=true allows a plain development connection",
      );
    }
    logger.warn("NATS without TLS or identity (X0_NATS_INSECURE_DEV=true): for development only, never in production");
    return { source, spiffeId: () => undefined, notAfter: () => undefined, ready: Promise.resolve(), onRenew: () => {}, stop: () => {} };
  }

  if (source === "files") {
    const tls = { caFile: config.X0_NATS_TLS_CA ?? "", certFile: config.X0_NATS_TLS_CERT ?? "", keyFile: config.X0_NATS_TLS_KEY ?? "" };
    let spiffeId: string | undefined;
    let notAfter: Date | undefined;
    let mtime = 0;
    const check = async () => {
      const checked = await checkSvid({
        certPem: readFileSync(tls.certFile, "utf8"),
        bundlePem: readFileSync(tls.caFile, "utf8"),
        trustDomain: config.X0_TRUST_DOMAIN,
      });
      spiffeId = checked.spiffeId;
      notAfter = checked.notAfter;
    };
    // A malformed or missing file is reported and re-read with backoff (an operator or cert-manager may be writing it);
    // the service waits, unauthenticated connections are never tried.
    let stopped = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const ready = new Promise<void>((resolve) => {
      let backoffMs = 500;
      const attempt = () => {
        check().then(resolve, (error) => {
          if (stopped) return;
          const problem = new IdentityError(`X0_NATS_TLS_CERT ${tls.certFile} is not a usable SVID: ${(error as Error).message}`, { cause: error });
          logger.error("no usable SVID in the X0_NATS_TLS_* files; retrying", { error: problem, retry_ms: backoffMs });
          retry = setTimeout(attempt, backoffMs);
          backoffMs = Math.min(backoffMs * 2, 30_000);
        });
      };
      attempt();
    });
    // Files managed outside (cert-manager, an operator): a changed certificate is picked up and presented on a reconnect.
    const timer = setInterval(() => {
      let changed = 0;
      try {
        changed = statSync(tls.certFile).mtimeMs;
      } catch (error) {
        logger.warn("cannot read X0_NATS_TLS_CERT", { error });
        return;
      }
      if (mtime !== 0 && changed !== mtime)
        check().then(renewed, (error) => logger.error("the replaced X0_NATS_TLS_CERT does not check; keeping the connection", { error }));
      mtime = changed;
    }, 30_000);
    return {
      source,
      tls,
      spiffeId: () => spiffeId,
      notAfter: () => notAfter,
      ready,
      onRenew: (cb) => renewCallbacks.push(cb),
      stop: () => {
        stopped = true;
        clearTimeout(retry);
        clearInterval(timer);
      },
    };
  }

  const dir = mkdtempSync(join(tmpdir(), `x0-svid-${service}-`));
  chmodSync(dir, 0o700);
  const tls: TlsFiles = { caFile: join(dir, "bundle.crt"), certFile: join(dir, "svid.crt"), keyFile: join(dir, "svid.key") };
  let current: SvidMaterial | undefined;
  let resolveReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    resolveReady = resolve;
  });
  const install = (material: SvidMaterial) => {
    writePrivate(tls.keyFile, material.keyPem);
    writePrivate(tls.certFile, material.certPem);
    writePrivate(tls.caFile, material.bundlePem);
    const first = current === undefined;
    current = material;
    logger.info(first ? "SVID installed" : "SVID renewed", { spiffe_id: material.spiffeId, not_after: material.notAfter.toISOString(), source });
    if (first) resolveReady();
    else renewed();
  };
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  /** The identity kept in `dir`, whose source stops with `stopSource`. */
  const issued = (stopSource: () => void): WorkloadIdentity => ({
    source,
    tls,
    spiffeId: () => current?.spiffeId,
    notAfter: () => current?.notAfter,
    ready,
    onRenew: (cb) => renewCallbacks.push(cb),
    stop: () => {
      stopSource();
      cleanup();
    },
  });

  if (source === "workload-api") {
    const client = new WorkloadApiClient({
      endpoint: config.SPIFFE_ENDPOINT_SOCKET ?? "",
      trustDomain: config.X0_TRUST_DOMAIN,
      onUpdate: install,
      onError: (error: WorkloadApiError) => logger.warn("Workload API", { error }),
    });
    client.start();
    return issued(() => client.stop());
  }

  // dev-ca: this process is its own issuer, like a local agent; a bad CA folder is retried with backoff, never skipped.
  const caDir = config.X0_DEV_CA_DIR ?? "";
  const ttlMs = config.X0_SVID_TTL_S * 1000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let backoffMs = 500;
  const renew = async () => {
    try {
      const ca = await loadDevCa({
        trustDomain: config.X0_TRUST_DOMAIN,
        certPem: readFileSync(join(caDir, "ca.crt"), "utf8"),
        keyPem: readFileSync(join(caDir, "ca.key"), "utf8"),
      });
      const svid = await issueSvid({ ca, role: service, name: identityName(service, config.X0_NODE), ttlMs });
      const checked = await checkSvid({ certPem: svid.certPem, bundlePem: ca.certPem, trustDomain: config.X0_TRUST_DOMAIN });
      if (stopped) return;
      install({ spiffeId: checked.spiffeId, certPem: svid.certPem, keyPem: svid.keyPem, bundlePem: ca.certPem, notAfter: checked.notAfter });
      backoffMs = 500;
      timer = setTimeout(renew, Math.max(1000, ttlMs / 2));
    } catch (error) {
      logger.error("cannot issue an SVID from the development CA; retrying", { dir: caDir, error, retry_ms: backoffMs });
      if (stopped) return;
      timer = setTimeout(renew, backoffMs);
      backoffMs = Math.min(backoffMs * 2, 30_000);
    }
  };
  void renew();
  return issued(() => {
    stopped = true;
    clearTimeout(timer);
  });
}
