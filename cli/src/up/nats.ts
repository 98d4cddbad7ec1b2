/** What the first line of a NATS server (its INFO) says about it. */
export interface NatsInfo {
  version: string | undefined;
  jetstream: boolean;
}

/** What answers on a TCP port: nothing, a NATS server, or something else. */
export type PortProbe = { kind: "none" } | { kind: "nats"; info: NatsInfo } | { kind: "other"; greeting: string };

/** Parses a NATS greeting (`INFO {json}`); undefined when the text is not one. */
export function parseNatsGreeting(text: string): NatsInfo | undefined {
  const match = /^INFO\s+(\{.*\})\s*$/m.exec(text);
  if (!match?.[1]) return undefined;
  let info: unknown;
  try {
    info = JSON.parse(match[1]);
  } catch {
    return undefined; // INFO followed by something that is not JSON: not a NATS server.
  }
  if (typeof info !== "object" || info === null || !("server_id" in info)) return undefined;
  const record = info as Record<string, unknown>;
  return { version: typeof record.version === "string" ? record.version : undefined, jetstream: record.jetstream === true };
}

/** Connects to `host:port` and reads its greeting to tell whether a NATS server answers there. */
export async function probePort(host: string, port: number, timeoutMs = 1500): Promise<PortProbe> {
  const { promise, resolve } = Promise.withResolvers<PortProbe>();
  let received = "";
  const classify = (): PortProbe => {
    const info = parseNatsGreeting(received);
    return info ? { kind: "nats", info } : { kind: "other", greeting: received.slice(0, 200) };
  };
  const timer = setTimeout(() => resolve(classify()), timeoutMs);
  try {
    const socket = await Bun.connect({
      hostname: host,
      port,
      socket: {
        data(_socket, data) {
          received += data.toString();
          if (received.includes("\n")) resolve(classify());
        },
        close() {
          resolve(classify());
        },
        error() {
          resolve(classify());
        },
      },
    });
    const probe = await promise;
    socket.end();
    return probe;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ECONNREFUSED") return { kind: "none" };
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** The nats-server command line `up` runs: JetStream on, bound to `host` (127.0.0.1, or a lab's bridge address), its store in `storeDir`. */
export function natsServerArgv(bin: string, port: number, monitorPort: number, storeDir: string, host = "127.0.0.1", configFile?: string): string[] {
  return [bin, "-a", host, "-p", String(port), "-m", String(monitorPort), "-js", "-sd", storeDir, ...(configFile ? ["-c", configFile] : [])];
}
