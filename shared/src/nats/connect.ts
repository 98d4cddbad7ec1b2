import { connect, type NatsConnection, type TlsOptions } from "@nats-io/transport-node";
import { NatsSetupError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";

/** Options of {@link connectNats}. */
export interface ConnectOptions {
  servers: string[];
  service: string;
  instance: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  logger?: Logger;
  /** Called with true on (re)connect and false on disconnect. */
  onConnectionChange?: (connected: boolean) => void;
  /** Stops the first-connection retries (e.g. on shutdown). */
  signal?: AbortSignal;
  /** Gives up after this many failed first attempts (default: never). */
  attempts?: number;
  /** Where replies to its requests come (an observer may subscribe only to `_INBOX.observer.<name>.>`). */
  inboxPrefix?: string;
}

/**
 * Connects to NATS as `<service>/<instance>`: reconnects forever with jitter,
 * keeps trying the first connection too (the server may start after us), and uses mTLS when configured.
 */
export async function connectNats({
  servers,
  service,
  instance,
  tls,
  logger,
  onConnectionChange,
  signal,
  attempts,
  inboxPrefix,
}: ConnectOptions): Promise<NatsConnection> {
  const tlsOptions: TlsOptions | undefined =
    tls && (tls.caFile || tls.certFile) ? { caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile } : undefined;
  let attempt = 0;
  let lastError: Error | undefined;
  // Say where and why: a dead server, a refused certificate and a wrong address read differently.
  const gaveUp = () =>
    new NatsSetupError(`cannot connect to NATS at ${servers.join(", ")} (${attempt} attempt(s))${lastError ? `: ${lastError.message}` : ""}`, {
      cause: lastError,
    });
  for (;;) {
    if (signal?.aborted) throw gaveUp();
    try {
      const nc = await connect({
        servers,
        name: `${service}/${instance}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        reconnectJitter: 100,
        reconnectJitterTLS: 1000,
        waitOnFirstConnect: false,
        pingInterval: 10_000,
        // A refused TLS handshake can leave the attempt hanging; give up on it and try again.
        timeout: 3000,
        tls: tlsOptions,
        ...(inboxPrefix ? { inboxPrefix } : {}),
      });
      watchStatus(nc, logger, onConnectionChange);
      onConnectionChange?.(true);
      logger?.info("nats connected", { server: nc.getServer() });
      return nc;
    } catch (error) {
      attempt += 1;
      lastError = error as Error;
      if (signal?.aborted) throw gaveUp();
      if (attempts !== undefined && attempt >= attempts) throw gaveUp();
      if (attempt === 1 || attempt % 20 === 0) {
        logger?.warn("nats not reachable yet, retrying", { servers, attempt, error });
      }
      await Bun.sleep(250 + Math.random() * 250);
    }
  }
}

function watchStatus(nc: NatsConnection, logger: Logger | undefined, onChange?: (connected: boolean) => void): void {
  void (async () => {
    for await (const status of nc.status()) {
      switch (status.type) {
        case "disconnect":
          logger?.warn("nats disconnected", { server: status.server });
          onChange?.(false);
          break;
        case "reconnect":
          logger?.info("nats reconnected", { server: status.server });
          onChange?.(true);
          break;
        case "error":
          logger?.error("nats error", { error: status.error });
          break;
        default:
          break;
      }
    }
  })();
}
