// runService: what every service shares around its own start hook (config, logs, metrics, tracing, identity, NATS, the
// /healthz /readyz /metrics /status endpoints, and a clean drain on SIGTERM).
import { hostname } from "node:os";
import { relative } from "node:path";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Tracer } from "@opentelemetry/api";
import type { SpanExporter } from "@opentelemetry/sdk-trace";
import type { z } from "zod";
import { EXIT_USAGE, parseServiceArgs, renderServiceHelp } from "../config/cli.ts";
import { type BaseConfig, baseConfigShape, type ConfigShape, describeConfig, loadConfig, portSchema } from "../config/config.ts";
import { Bus, type Live } from "../contracts/bus.ts";
import { ConfigError, X0Error } from "../errors.ts";
import { openIdentity, type WorkloadIdentity } from "../identity/source.ts";
import { ensureStreams, jetStreamManagerOf, setJetStreamReplicas, setJetStreamTimeout } from "../knowledge/knowledge.ts";
import { connectNats } from "../nats/connect.ts";
import { createLogger, type Logger } from "../observability/logger.ts";
import { createServiceMetrics, metricsCatalogue, type ServiceMetrics } from "../observability/metrics.ts";
import { startTracing, type Tracing } from "../observability/tracing.ts";
import { RenewalBridge } from "./renewal.ts";

export { PRINT_CONFIG_FLAG } from "../config/cli.ts";

/** Exit code of a service whose configuration is invalid (sysexits EX_CONFIG). */
export const EXIT_CONFIG = 78;

/** What a service's `start` gets: its config and the wired-up plumbing. */
export interface Runtime<Config> {
  config: Config & BaseConfig;
  logger: Logger;
  metrics: ServiceMetrics;
  tracer: Tracer;
  nc: NatsConnection;
  bus: Bus;
  /** The JetStream manager (created on first use). */
  jsm(): Promise<JetStreamManager>;
  /** Creates or updates X0_EVENTS and X0_DLQ with the configured retention limits. */
  ensureStreams(): Promise<JetStreamManager>;
  /** Registers a subscription or consumer that must be live for the service to be ready. */
  track(live: Live): void;
  /** Registers work to do at shutdown, after subscriptions drained and before NATS closes. */
  onStop(stop: () => void | Promise<void>): void;
  /** Loop counters shown by /status and `x0 status`. */
  counters: Record<string, number>;
  /** Service-specific state shown under `details` in /status (e.g. the monitor's eBPF attach modes). */
  details: Record<string, unknown>;
  /**
   * What a service registered with the services API puts in its metadata so that `x0 status` finds it through $SRV.PING:
   * `node`, `instance` and `http_url`, where its /readyz and /status answer.
   */
  discovery: Record<string, string>;
}

/** The declaration of a service: its name, version, config schema and start hook. */
export interface ServiceDefinition<Shape extends ConfigShape> {
  name: string;
  version: string;
  /** Service-specific config (keys are environment variable names); base settings are added. */
  config: Shape;
  /** Default HTTP port of this service. */
  httpPort: number;
  /** Checks that span variables, right after loading: throws ConfigError naming the variable (the service exits 78). */
  checkConfig?(config: z.infer<z.ZodObject<Shape>>): void;
  /** Wires handlers; resolves when the service is ready to work. */
  start(runtime: Runtime<z.infer<z.ZodObject<Shape>>>): Promise<void>;
}

/** Options that tests use to run a service in-process. */
export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** A span exporter used instead of the OTEL_* configured SDK (e.g. an in-memory one). */
  exporter?: SpanExporter;
  /** Install SIGTERM/SIGINT handlers that stop and exit (default true). */
  handleSignals?: boolean;
  /** Command-line arguments after the script's path (default: this process's). */
  argv?: string[];
}

/** A running service. */
export interface RunningService {
  readonly port: number;
  isReady(): boolean;
  stop(): Promise<void>;
}

/**
 * Runs a service: config (exits with {@link EXIT_CONFIG} naming the variable when invalid),
 * logs, metrics, tracing, NATS, /healthz /readyz /metrics /status, and a clean drain on SIGTERM/SIGINT.
 */
export async function runService<Shape extends ConfigShape>(
  definition: ServiceDefinition<Shape>,
  { env = process.env, exporter, handleSignals = true, argv = process.argv.slice(2) }: RunOptions = {},
): Promise<RunningService> {
  const shape = {
    ...baseConfigShape,
    X0_HTTP_PORT: portSchema.default(definition.httpPort).describe(baseConfigShape.X0_HTTP_PORT.description ?? ""),
    ...definition.config,
  };
  // The configuration is the environment: -h/--help and --print-config describe it, any other argument is refused.
  const args = parseServiceArgs(argv);
  const command = `bun ${relative(process.cwd(), Bun.main)}`;
  if (args.kind === "invalid") {
    process.stderr.write(`x0-${definition.name}: ${args.message}\nRun "${command} --help" for its variables.\n`);
    process.exit(EXIT_USAGE);
  }
  if (args.kind === "help") {
    process.stdout.write(`${renderServiceHelp({ name: definition.name, version: definition.version, command, shape })}\n`);
    process.exit(0);
  }
  if (args.kind === "print-config") {
    process.stdout.write(`${JSON.stringify(describeConfig(shape), null, 2)}\n`);
    process.exit(0);
  }
  let config: z.infer<z.ZodObject<Shape>> & BaseConfig;
  try {
    config = loadConfig(shape, { env }) as typeof config;
    definition.checkConfig?.(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`x0-${definition.name}: ${error.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw error;
  }
  setJetStreamTimeout(config.X0_NATS_JS_TIMEOUT_MS);
  setJetStreamReplicas(config.X0_JS_REPLICAS);
  const logger = createLogger({ service: definition.name, node: config.X0_NODE, level: config.X0_LOG_LEVEL });
  const metrics = createServiceMetrics(definition.name);
  const tracing: Tracing = await startTracing({
    service: definition.name,
    version: definition.version,
    instance: config.X0_INSTANCE,
    node: config.X0_NODE,
    config,
    exporter,
  });

  const lives: Live[] = [];
  const stops: (() => void | Promise<void>)[] = [];
  const counters: Record<string, number> = {};
  const details: Record<string, unknown> = {};
  const startedAt = Date.now();
  let connected = false;
  let started = false;
  let stopping = false;
  let natsServer: () => string | null = () => null;
  const isReady = () => started && !stopping && connected && lives.every((live) => live.isLive());

  const server = Bun.serve({
    hostname: config.X0_HTTP_HOST,
    port: config.X0_HTTP_PORT,
    fetch: async (request) => {
      const { pathname } = new URL(request.url);
      switch (pathname) {
        case "/healthz":
          return Response.json({ status: "ok" });
        case "/readyz": {
          const ready = isReady();
          metrics.ready.set(ready ? 1 : 0);
          const notLive = lives.filter((live) => !live.isLive()).map((live) => live.name);
          return Response.json({ ready, nats: connected, not_live: notLive }, { status: ready ? 200 : 503 });
        }
        case "/metrics":
          metrics.ready.set(isReady() ? 1 : 0);
          return new Response(await metrics.registry.metrics(), { headers: { "content-type": metrics.registry.contentType } });
        case "/metrics/catalogue":
          return Response.json(await metricsCatalogue(metrics.registry));
        case "/status": {
          const deadLetters = (await metrics.deadLetters.get()).values.reduce((sum, value) => sum + value.value, 0);
          return Response.json({
            service: definition.name,
            version: definition.version,
            node: config.X0_NODE,
            instance: config.X0_INSTANCE,
            ready: isReady(),
            nats: { connected, server: connected ? natsServer() : null },
            started_at: new Date(startedAt).toISOString(),
            counters: { ...counters, dlq: deadLetters },
            details,
          });
        }
        default:
          return new Response("not found\n", { status: 404 });
      }
    },
  });
  logger.info("http listening", { port: server.port, host: config.X0_HTTP_HOST });

  // Signals are handled from here on, so a service still waiting for NATS also stops cleanly.
  const connecting = new AbortController();
  let stopHooks: (() => Promise<void>) | undefined;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    connecting.abort();
    logger.info("stopping");
    await stopHooks?.();
    await tracing.shutdown().catch((error) => logger.error("tracing shutdown failed", { error }));
    server.stop(true);
    logger.info("stopped");
  };
  if (handleSignals) {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      process.once(signal, () => {
        void stop().then(() => process.exit(0));
      });
    }
  }

  // The workload's identity (X.509-SVID) comes first: without one the service does not talk to NATS at all.
  let identity: WorkloadIdentity;
  try {
    identity = openIdentity({ config, service: definition.name, logger });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`x0-${definition.name}: ${error.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw error;
  }
  stops.push(() => identity.stop());
  details.identity = { source: identity.source };
  metrics.svidExpiry.collectFrom(() => identity.notAfter());
  const waiting = setTimeout(() => logger.warn("waiting for this workload's SVID before connecting to NATS", { source: identity.source }), 2000);
  try {
    await Promise.race([
      identity.ready,
      new Promise((_, reject) => connecting.signal.addEventListener("abort", () => reject(new X0Error("stopped while waiting for an SVID")))),
    ]);
  } catch (error) {
    if (stopping) {
      identity.stop();
      return { port: server.port ?? config.X0_HTTP_PORT, isReady, stop };
    }
    throw error;
  } finally {
    clearTimeout(waiting);
  }
  details.identity = { source: identity.source, spiffe_id: identity.spiffeId(), not_after: identity.notAfter()?.toISOString() };

  let nc: NatsConnection;
  try {
    nc = await connectNats({
      servers: config.X0_NATS_SERVERS,
      service: definition.name,
      instance: config.X0_INSTANCE,
      tls: identity.tls,
      logger,
      signal: connecting.signal,
      onConnectionChange: (isConnected) => {
        connected = isConnected;
        metrics.ready.set(isReady() ? 1 : 0);
      },
    });
  } catch (error) {
    if (stopping) return { port: server.port ?? config.X0_HTTP_PORT, isReady, stop };
    throw error;
  }
  natsServer = () => nc.getServer();
  // A renewed SVID is presented by reconnecting: the client re-reads the files, JetStream consumers resume, and the
  // bridge keeps the core subscriptions fed through a second connection meanwhile (renewal.ts).
  const bridge = new RenewalBridge(nc);
  identity.onRenew(() => {
    metrics.svidRenewals.inc();
    details.identity = { source: identity.source, spiffe_id: identity.spiffeId(), not_after: identity.notAfter()?.toISOString() };
    // Disconnected, the client's own reconnect loop presents the new certificate: there is nothing to bridge.
    if (!connected) return;
    const second = () =>
      connectNats({ servers: config.X0_NATS_SERVERS, service: definition.name, instance: `${config.X0_INSTANCE}-renewal`, tls: identity.tls, attempts: 1 });
    bridge.renew(second, { logger }).then(
      () => logger.info("reconnected with the renewed SVID", { bridged_subjects: bridge.subjects.length }),
      (error) => logger.error("reconnect with the renewed SVID failed", { error }),
    );
  });
  const bus = new Bus({ nc, service: definition.name, logger, metrics, tracing });
  let jsmPromise: Promise<JetStreamManager> | undefined;
  const runtime: Runtime<z.infer<z.ZodObject<Shape>>> = {
    config,
    logger,
    metrics,
    tracer: tracing.tracer,
    nc,
    bus,
    jsm: () => {
      jsmPromise ??= jetStreamManagerOf(nc);
      return jsmPromise;
    },
    ensureStreams: () => ensureStreams(nc, { maxAgeMs: config.X0_EVENTS_MAX_AGE_S * 1000, maxBytes: config.X0_EVENTS_MAX_BYTES }),
    track: (live) => lives.push(live),
    onStop: (hook) => stops.push(hook),
    counters,
    details,
    discovery: { node: config.X0_NODE, instance: config.X0_INSTANCE, http_url: httpUrlOf(config.X0_HTTP_HOST, server.port ?? config.X0_HTTP_PORT) },
  };
  stopHooks = async () => {
    for (const live of lives) await live.stop().catch((error) => logger.error("stop failed", { name: live.name, error }));
    for (const hook of stops) await Promise.resolve(hook()).catch((error) => logger.error("stop hook failed", { error }));
    await nc.drain().catch((error) => logger.error("nats drain failed", { error }));
  };

  try {
    await definition.start(runtime);
  } catch (error) {
    logger.error("start failed", { error });
    // What started before the failure (subscriptions, the NATS connection, the HTTP server) is stopped, not left open.
    await stop();
    // A setting found invalid only once NATS could be read (a genesis file whose signatures do not hold) is still config.
    if (error instanceof ConfigError) {
      process.stderr.write(`x0-${definition.name}: ${error.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw new X0Error(`x0-${definition.name} failed to start`, { cause: error });
  }
  started = true;
  metrics.ready.set(isReady() ? 1 : 0);
  logger.info("ready", { version: definition.version });
  return { port: server.port ?? config.X0_HTTP_PORT, isReady, stop };
}

/** The base URL of a service's HTTP endpoints as others reach it: a wildcard address is this host's name. */
export function httpUrlOf(host: string, port: number): string {
  const reachable = host === "0.0.0.0" || host === "::" ? hostname() : host;
  return `http://${reachable.includes(":") ? `[${reachable}]` : reachable}:${port}`;
}
