// How the command line reaches NATS: the server from -s/--server, X0_NATS_SERVERS, NATS_URL or the running stack's file,
// and the operator's certificate from --tlscert/--tlskey/--tlsca, X0_NATS_TLS_* or the stack's own PKI.
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { connectNats } from "@x0/shared";
import { UsageError } from "./errors.ts";
import { stackFileOf, stateDirOf } from "./paths.ts";
import type { FlagSpecs } from "./spec.ts";
import { readStackFile } from "./stack-file.ts";

/** The NATS options of the commands that talk to NATS, spelled as the nats CLI spells them (and --nats, kept). */
export const NATS_FLAGS = {
  server: {
    type: "string",
    short: "s",
    value: "url",
    help: "NATS server URL(s), comma-separated; else X0_NATS_SERVERS, NATS_URL, the running stack's, nats://127.0.0.1:4222",
  },
  nats: { type: "string", value: "url", help: "the same as --server (deprecated: kept for scripts that use it)" },
  tlscert: {
    type: "string",
    value: "file",
    path: true,
    help: "client certificate (PEM), with --tlskey and --tlsca; else X0_NATS_TLS_*, else the stack's admin",
  },
  tlskey: { type: "string", value: "file", path: true, help: "the client certificate's key (PEM)" },
  tlsca: { type: "string", value: "file", path: true, help: "the CA that signed the server's certificate (PEM)" },
} as const satisfies FlagSpecs;

/** What a command line said about NATS. */
export interface NatsFlags {
  server?: string | undefined;
  nats?: string | undefined;
  tlscert?: string | undefined;
  tlskey?: string | undefined;
  tlsca?: string | undefined;
}

/** The CLI's TLS identity: --tlscert/--tlskey/--tlsca, else X0_NATS_TLS_*, else the admin certificate of the local stack's PKI, else none. */
export function cliTls(env: Record<string, string | undefined>, flags: NatsFlags = {}): { caFile: string; certFile: string; keyFile: string } | undefined {
  if (flags.tlscert || flags.tlskey || flags.tlsca) {
    if (!(flags.tlscert && flags.tlskey && flags.tlsca)) throw new UsageError("--tlscert, --tlskey and --tlsca go together");
    return { caFile: flags.tlsca, certFile: flags.tlscert, keyFile: flags.tlskey };
  }
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

/**
 * Connects as `x0-cli/<pid>` to `-s/--server` (or `--nats`), else X0_NATS_SERVERS, else NATS_URL, else the stack
 * `bun run up` runs, else localhost; `timeoutMs` (5 s) or `attempts` at most, then an error naming the server and the cause.
 */
export function connectCli(
  flags: NatsFlags | string | undefined,
  env: Record<string, string | undefined>,
  { timeoutMs = 5000, attempts }: { timeoutMs?: number; attempts?: number } = {},
): ReturnType<typeof connectNats> {
  const given: NatsFlags = typeof flags === "string" ? { nats: flags } : (flags ?? {});
  const servers =
    given.server ?? given.nats ?? env.X0_NATS_SERVERS ?? env.NATS_URL ?? readStackFile(stackFileOf(stateDirOf(env)))?.nats.url ?? "nats://127.0.0.1:4222";
  const tls = cliTls(env, given);
  const inboxPrefix = tls ? inboxPrefixOf(readFileSync(tls.certFile, "utf8")) : undefined;
  return connectNats({
    servers: servers.split(","),
    service: "x0-cli",
    instance: String(process.pid),
    tls,
    signal: AbortSignal.timeout(timeoutMs),
    ...(attempts === undefined ? {} : { attempts }),
    ...(inboxPrefix ? { inboxPrefix } : {}),
  });
}
