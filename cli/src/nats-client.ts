// How the command line reaches NATS: the server from --nats, X0_NATS_SERVERS or the running stack's file, and the
// operator's certificate from X0_NATS_TLS_* or the stack's own PKI.
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { connectNats } from "@x0/shared";
import { stackFileOf, stateDirOf } from "./paths.ts";
import { readStackFile } from "./stack-file.ts";

/** The CLI's TLS identity: X0_NATS_TLS_* when set, else the admin certificate of the local stack's PKI, else none. */
export function cliTls(env: Record<string, string | undefined>): { caFile: string; certFile: string; keyFile: string } | undefined {
  if (env.X0_NATS_TLS_CERT && env.X0_NATS_TLS_KEY && env.X0_NATS_TLS_CA)
    return { caFile: env.X0_NATS_TLS_CA, certFile: env.X0_NATS_TLS_CERT, keyFile: env.X0_NATS_TLS_KEY };
  const pki = join(stateDirOf(env), "pki");
  const files = { caFile: join(pki, "ca.crt"), certFile: join(pki, "admin.crt"), keyFile: join(pki, "admin.key") };
  return Object.values(files).every((file) => existsSync(file)) ? files : undefined;
}

/**
 * The inbox prefix a named identity's replies must come to (`_INBOX.observer.<name>`, `_INBOX.voter.<name>`: the only
 * inbox the permission matrix lets it subscribe to), or undefined for other identities.
 */
export function inboxPrefixOf(certPem: string): string | undefined {
  const san = new X509Certificate(certPem).subjectAltName ?? "";
  const match = /URI:spiffe:\/\/[^,\s]*\/x0\/(observer|voter)\/([A-Za-z0-9_-]{1,64})(?:[,\s]|$)/.exec(san);
  return match ? `_INBOX.${match[1]}.${match[2]}` : undefined;
}

/** Connects as `x0-cli/<pid>` to `--nats`, else X0_NATS_SERVERS, else the stack `bun run up` runs, else localhost; 5 s at most. */
export function connectCli(nats: string | undefined, env: Record<string, string | undefined>): ReturnType<typeof connectNats> {
  const servers = nats ?? env.X0_NATS_SERVERS ?? readStackFile(stackFileOf(stateDirOf(env)))?.nats.url ?? "nats://127.0.0.1:4222";
  const tls = cliTls(env);
  const inboxPrefix = tls ? inboxPrefixOf(readFileSync(tls.certFile, "utf8")) : undefined;
  return connectNats({
    servers: servers.split(","),
    service: "x0-cli",
    instance: String(process.pid),
    tls,
    signal: AbortSignal.timeout(5000),
    ...(inboxPrefix ? { inboxPrefix } : {}),
  });
}
