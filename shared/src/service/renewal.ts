// A renewed SVID is presented by reconnecting, and core messages sent while a subscriber reconnects never reach it. So a
// renewal first opens a second connection with the new certificate, subscribes it to the same public core subjects,
// reconnects the first, and lets the second go once the first is back; a message delivered twice is delivered once.
// A queue subscription is handed over instead (drained here, resubscribed after): the server routes each message once.
import type { Msg, NatsConnection, Subscription, SubscriptionOptions } from "@nats-io/transport-node";
import { X0Error } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";

/** A renewal could not bridge: the connection was reconnected without it, or not at all. */
export class RenewalError extends X0Error {}

/** Only the public subjects are bridged: inboxes, JetStream and KV subscriptions resume on their own. */
const BRIDGED = /^x0\./;
/** After the bridge is gone, copies still in flight on the first connection are recognised this long. */
const DEDUP_GRACE_MS = 2000;

type Callback = (error: Error | null, msg: Msg) => void;

interface Recorded {
  subject: string;
  queue: string | undefined;
  callback: Callback;
  /** The subscription now: a queue subscription is replaced by a new one at each renewal. */
  subscription: Subscription;
  /** Set while a renewal hands the queue subscription over (its drain is not the caller's). */
  handingOver?: boolean;
}

/** The core subscriptions of one connection, and how to carry them over a reconnect. */
export class RenewalBridge {
  readonly #recorded: Recorded[] = [];
  #seen: Set<string> | undefined;
  #grace: ReturnType<typeof setTimeout> | undefined;
  /** Messages that arrived on both connections and were delivered once. */
  duplicatesDropped = 0;
  /** Messages delivered through the second connection. */
  bridgedDeliveries = 0;

  readonly #subscribe: NatsConnection["subscribe"];

  /** Records `nc`'s callback subscriptions to public subjects from now on (an iterator subscription is not bridged). */
  constructor(readonly nc: NatsConnection) {
    const subscribe = nc.subscribe.bind(nc);
    this.#subscribe = subscribe;
    nc.subscribe = (subject: string, options?: SubscriptionOptions): Subscription => {
      const callback = options?.callback;
      if (!BRIDGED.test(subject) || !callback) return subscribe(subject, options);
      const once = this.#once(callback);
      const entry: Recorded = { subject, queue: options?.queue, callback: once, subscription: subscribe(subject, { ...options, callback: once }) };
      this.#recorded.push(entry);
      // The caller keeps one object for the subscription whichever one serves it now.
      return entry.queue ? currentOf(entry) : entry.subscription;
    };
  }

  /** A handed-over queue subscription back on the first connection. */
  #resubscribe(entry: Recorded): void {
    entry.subscription = this.#subscribe(entry.subject, { ...(entry.queue ? { queue: entry.queue } : {}), callback: entry.callback });
  }

  /** Subjects bridged at the next renewal. */
  get subjects(): string[] {
    return this.#live().map((entry) => entry.subject);
  }

  /**
   * Reconnects `nc` to present a renewed certificate without losing core messages: `openSecond` connects with the new
   * certificate (it also proves the certificate works before the old connection is dropped). Without a second
   * connection, nothing is reconnected and {@link RenewalError} says why.
   */
  async renew(openSecond: () => Promise<NatsConnection>, { logger, timeoutMs = 30_000 }: { logger: Logger; timeoutMs?: number }): Promise<void> {
    let second: NatsConnection;
    try {
      second = await openSecond();
    } catch (error) {
      throw new RenewalError("the renewed certificate did not connect: the connection keeps the previous one", { cause: error });
    }
    clearTimeout(this.#grace);
    this.#seen ??= new Set();
    const bridged: Subscription[] = [];
    const live = this.#live();
    const queued = live.filter((entry) => entry.queue);
    try {
      for (const entry of live) {
        bridged.push(
          second.subscribe(entry.subject, {
            ...(entry.queue ? { queue: entry.queue } : {}),
            callback: (error, msg) => {
              if (!error) this.bridgedDeliveries++;
              entry.callback(error, msg);
            },
          }),
        );
      }
      await second.flush();
      // The second connection is in every queue group: the first leaves them, handling what was already routed to it.
      for (const entry of queued) entry.handingOver = true;
      await Promise.all(queued.map((entry) => entry.subscription.drain()));
      // What was routed to the first connection before the second subscribed precedes this pong: handled before the
      // reconnect drops what the client has not read yet. Everything later reaches the second connection as well.
      await this.nc.flush();
      const back = reconnected(this.nc, timeoutMs);
      await this.nc.reconnect();
      await back;
      for (const entry of queued) this.#resubscribe(entry);
      // The first connection's subscriptions are on the server again once it answers a ping sent after them.
      await this.nc.flush();
    } catch (error) {
      logger.warn("renewal bridge incomplete: the first connection is not back yet", { error });
      for (const entry of queued) if (entry.subscription.isClosed()) this.#resubscribe(entry);
    } finally {
      for (const entry of queued) entry.handingOver = false;
      // Everything routed to the second connection before the first's subscriptions were back precedes this pong:
      // handled before the bridge goes (an unsubscribe drops what the client has read but not yet handled).
      await second.flush().catch((error) => logger.warn("renewal's second connection did not answer", { error }));
      // Queue messages routed to the second are its only copy: drained, not dropped.
      await Promise.all(bridged.map((subscription, i) => (live[i]?.queue ? subscription.drain() : subscription.unsubscribe())));
      await second.close().catch((error) => logger.warn("could not close the renewal's second connection", { error }));
      this.#grace = setTimeout(() => {
        this.#seen = undefined;
      }, DEDUP_GRACE_MS);
    }
  }

  #live(): Recorded[] {
    for (let i = this.#recorded.length - 1; i >= 0; i--) {
      const entry = this.#recorded[i] as Recorded;
      if (entry.subscription.isClosed() && !entry.handingOver) this.#recorded.splice(i, 1);
    }
    return [...this.#recorded];
  }

  /** The callback, delivering a message seen on both connections during a renewal once. */
  #once(callback: Callback): Callback {
    return (error, msg) => {
      const seen = this.#seen;
      if (!error && seen) {
        const key = `${msg.subject}\u0000${msg.reply ?? ""}\u0000${Bun.hash(msg.data)}`;
        if (seen.has(key)) {
          this.duplicatesDropped++;
          return;
        }
        seen.add(key);
      }
      callback(error, msg);
    };
  }
}

/** A subscription object that always acts on the entry's current subscription. */
function currentOf(entry: Recorded): Subscription {
  return new Proxy(entry.subscription, {
    get(_target, property) {
      const current = entry.subscription as unknown as Record<PropertyKey, unknown>;
      const value = current[property];
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(current) : value;
    },
  });
}

/** Resolves at `nc`'s next reconnect; rejects after `timeoutMs`. */
function reconnected(nc: NatsConnection, timeoutMs: number): Promise<void> {
  const iterable = nc.status();
  const statuses = iterable[Symbol.asyncIterator]();
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    (async () => {
      for (;;) {
        const next = await statuses.next();
        if (next.done || next.value.type === "reconnect") return;
      }
    })(),
    new Promise<void>((_, reject) => {
      timer = setTimeout(() => reject(new RenewalError(`no reconnect within ${timeoutMs} ms`)), timeoutMs);
    }),
  ]).finally(() => {
    clearTimeout(timer);
    // nats.js removes a status listener when its iterator is stopped (its type does not say so).
    (iterable as unknown as { stop?: () => void }).stop?.();
  });
}
