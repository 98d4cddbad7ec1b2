// One NATS subscription, many pages: server-sent events encoded once and shared by every client, each client with a
// bounded queue. A client that falls that far behind is closed; its browser reconnects and starts from a fresh snapshot.

/** Options of {@link EventFanout}. */
export interface FanoutOptions {
  /** Clients served at once; more get 503. */
  maxClients?: number;
  /** Bytes queued for one client before it is dropped. */
  maxQueuedBytes?: number;
  /** A comment line this often keeps proxies from closing a quiet stream. */
  heartbeatMs?: number;
}

interface Client {
  controller: ReadableStreamDefaultController<Uint8Array>;
}

const encoder = new TextEncoder();

/** The bytes of one server-sent event. */
export function encodeEvent(event: string, data: unknown): Uint8Array {
  return encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** Server-sent event fan-out with a bounded queue per client. */
export class EventFanout {
  readonly #clients = new Set<Client>();
  readonly #maxClients: number;
  readonly #maxQueuedBytes: number;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  #dropped = 0;

  constructor({ maxClients = 5000, maxQueuedBytes = 4 * 1024 * 1024, heartbeatMs = 15_000 }: FanoutOptions = {}) {
    this.#maxClients = maxClients;
    this.#maxQueuedBytes = maxQueuedBytes;
    this.#heartbeat = setInterval(() => this.#send(encoder.encode(": keep-alive\n\n")), heartbeatMs);
    this.#heartbeat.unref?.();
  }

  /** Clients connected now. */
  get clients(): number {
    return this.#clients.size;
  }

  /** Clients closed because they fell behind, since start. */
  get dropped(): number {
    return this.#dropped;
  }

  /** A response streaming `first` and then every broadcast; 503 when full. */
  connect(first: Uint8Array, signal: AbortSignal): Response {
    if (this.#clients.size >= this.#maxClients) {
      return Response.json({ error: `the console serves ${this.#maxClients} event streams at most` }, { status: 503 });
    }
    let client: Client | undefined;
    const stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          client = { controller };
          this.#clients.add(client);
          controller.enqueue(first);
        },
        cancel: () => {
          if (client) this.#clients.delete(client);
        },
      },
      // The queue is measured in bytes: desiredSize says how far behind the reader is.
      new ByteLengthQueuingStrategy({ highWaterMark: this.#maxQueuedBytes }),
    );
    signal.addEventListener("abort", () => client && this.#drop(client, false), { once: true });
    return new Response(stream, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-store", "x-accel-buffering": "no" },
    });
  }

  /** Sends one event to every client. */
  broadcast(event: string, data: unknown): void {
    if (this.#clients.size > 0) this.#send(encodeEvent(event, data));
  }

  /** Closes every stream. */
  close(): void {
    clearInterval(this.#heartbeat);
    for (const client of [...this.#clients]) this.#drop(client, false);
  }

  #send(bytes: Uint8Array): void {
    for (const client of this.#clients) {
      const desired = client.controller.desiredSize;
      if (desired !== null && desired <= 0) {
        this.#drop(client, true);
        continue;
      }
      try {
        client.controller.enqueue(bytes);
      } catch {
        this.#drop(client, false); // the stream is already closed: the browser went away between two sends
      }
    }
  }

  #drop(client: Client, slow: boolean): void {
    if (!this.#clients.delete(client)) return;
    if (slow) this.#dropped++;
    try {
      client.controller.close();
    } catch {
      // already closed by the reader's side: nothing left to release
    }
  }
}
