// `x0 console`: connects as the read-only observer, feeds the model, serves the page until SIGINT or SIGTERM.
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, connectNats, createLogger, isProcessAlive, loadConfig, portSchema, selectBackend } from "@x0/shared";
import { UsageError } from "../errors.ts";
import { cliTls } from "../nats-client.ts";
import { stackFileOf, stateDirOf } from "../paths.ts";
import { renderHelp } from "../spec.ts";
import { readStackFile } from "../stack-file.ts";
import type { Output } from "../status/command.ts";
import { probeService } from "../status/probe.ts";
import { buildStatusReport, type StatusReport } from "../status/report.ts";
import { resolveTargets } from "../status/targets.ts";
import { DEFAULT_HTTP_PORT_BASE } from "../up/ports.ts";
import { CONSOLE_SPEC, parseConsoleArgs } from "./args.ts";
import { ConsoleFeed } from "./feed.ts";
import { labControls } from "./lab-controls.ts";
import { ConsoleModel } from "./model.ts";
import { startConsoleServer } from "./server.ts";

/** How often the services' readiness is asked, as `x0 status` does. */
const SERVICES_EVERY_MS = 2000;

/** The console's TLS identity: X0_CONSOLE_TLS_*, else the observer identity `bun run up` keeps in .x0/pki. */
export function consoleTls(env: Record<string, string | undefined>): { caFile: string; certFile: string; keyFile: string } {
  if (env.X0_CONSOLE_TLS_CERT || env.X0_CONSOLE_TLS_KEY || env.X0_CONSOLE_TLS_CA) {
    const files = { caFile: env.X0_CONSOLE_TLS_CA, certFile: env.X0_CONSOLE_TLS_CERT, keyFile: env.X0_CONSOLE_TLS_KEY };
    const missing = Object.entries({ X0_CONSOLE_TLS_CA: files.caFile, X0_CONSOLE_TLS_CERT: files.certFile, X0_CONSOLE_TLS_KEY: files.keyFile }).filter(
      ([, v]) => !v,
    );
    if (missing.length > 0) throw new ConfigError(missing.map(([name]) => name).join(", "), "must be set together with the other X0_CONSOLE_TLS_* variables");
    return files as { caFile: string; certFile: string; keyFile: string };
  }
  const pki = join(stateDirOf(env), "pki");
  const files = { caFile: join(pki, "ca.crt"), certFile: join(pki, "observer-console.crt"), keyFile: join(pki, "observer-console.key") };
  if (!Object.values(files).every((file) => existsSync(file)))
    throw new ConfigError(
      "X0_CONSOLE_TLS_CERT",
      `the observer identity's certificate (with X0_CONSOLE_TLS_KEY and X0_CONSOLE_TLS_CA); or start the stack with "bun run up", which writes ${files.certFile}`,
    );
  return files;
}

/** The SPIFFE id in a certificate's URI SAN, and the observer name it gives (the last path segment). */
export function observerOf(certPem: string): { spiffeId: string; name: string } {
  const san = new X509Certificate(certPem).subjectAltName ?? "";
  const uri = /URI:(spiffe:\/\/[^,\s]+)/.exec(san)?.[1];
  const match = uri ? /\/x0\/observer\/([A-Za-z0-9_-]{1,64})$/.exec(uri) : null;
  if (!uri || !match?.[1])
    throw new ConfigError("X0_CONSOLE_TLS_CERT", `an observer identity (URI SAN …/x0/observer/<name>), not ${uri ?? "a certificate without one"}`);
  return { spiffeId: uri, name: match[1] };
}

/** Runs `x0 console` until `signal` aborts or SIGINT/SIGTERM; 0 on a clean stop. */
export async function runConsole(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  output: Output,
  signal: AbortSignal = processSignal(),
): Promise<number> {
  const options = parseConsoleArgs(argv);
  if (options.help) {
    output.out(renderHelp(CONSOLE_SPEC, "x0 console"));
    return 0;
  }
  const stateDir = stateDirOf(env);
  if (options.lab) {
    if (process.getuid?.() !== 0) throw new UsageError("--lab needs root: the lab's controls open its pinned BPF fault maps");
    if (!cliTls(env)) throw new UsageError("--lab needs the admin identity (X0_NATS_TLS_* or .x0/pki/admin.crt from bun run up)");
  }
  const tls = consoleTls(env);
  const identity = observerOf(readFileSync(tls.certFile, "utf8"));
  const stackFile = stackFileOf(stateDir);
  const servers = options.nats ?? env.X0_NATS_SERVERS ?? env.NATS_URL ?? readStackFile(stackFile)?.nats.url ?? "nats://127.0.0.1:4222";
  const logger = createLogger({ service: "x0-console", node: "-", level: env.X0_LOG_LEVEL === "debug" ? "debug" : "info" });
  const nc = await connectNats({
    servers: servers.split(","),
    service: "x0-console",
    instance: String(process.pid),
    tls,
    logger,
    signal,
    inboxPrefix: `_INBOX.observer.${identity.name}`,
  });
  const model = new ConsoleModel();
  let services: StatusReport | null = null;
  const { X0_HTTP_PORT_BASE: base } = loadConfig({ X0_HTTP_PORT_BASE: portSchema.min(1).default(DEFAULT_HTTP_PORT_BASE) }, { env });
  const feed = new ConsoleFeed({
    nc,
    model,
    logger,
    backend: await selectBackend({ logger }),
    historyEvents: options.history,
    onConnection: (view) => server?.notify("connection", view),
  });
  let server: ReturnType<typeof startConsoleServer> | undefined;
  server = startConsoleServer({
    hostname: options.host,
    port: options.port,
    model,
    meta: { identity: identity.spiffeId, lab: options.lab, jaeger_url: env.X0_CONSOLE_JAEGER_URL || null },
    connection: () => feed.view,
    services: () => services,
    checkSignature: (plan) => feed.checkSignature(plan, model.signedPlan(plan.plan_id)),
    lab: options.lab ? labControls(stateDir, options.prefix) : undefined,
  });
  const pollServices = async () => {
    const stack = readStackFile(stackFile);
    const targets = resolveTargets([], stack && isProcessAlive(stack.pid) ? stack : undefined, base);
    services = buildStatusReport(targets, await Promise.all(targets.map((target) => probeService(target.url))));
    server?.notify("services", services);
  };
  const poller = setInterval(() => void pollServices().catch((error: unknown) => logger.warn("cannot ask the services", { error })), SERVICES_EVERY_MS);
  try {
    await feed.start();
    await pollServices();
    output.out(`console: ${server.url} (NATS ${nc.getServer()} as ${identity.spiffeId}${options.lab ? `, lab ${options.prefix} controls on` : ""})`);
    if (!signal.aborted) await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    return 0;
  } finally {
    clearInterval(poller);
    feed.stop();
    await server.stop();
    await nc.close();
  }
}

function processSignal(): AbortSignal {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return controller.signal;
}
