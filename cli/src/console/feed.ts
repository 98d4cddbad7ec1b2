// The console's only NATS side: live subscriptions to the public subjects and x0_topology changes, and a resynchronisation
// from the bucket and X0_EVENTS (message gets only) at start and after every reconnect.
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import {
  Buckets,
  EVENTS_STREAM,
  KeyRecord,
  type Logger,
  MessageVerifier,
  type Plan,
  type PqBackend,
  Revocation,
  StoredReader,
  type VerifyingKey,
  verifyingKeyOf,
} from "@x0/shared";
import type { ConsoleModel } from "./model.ts";
import type { ConnectionView, SignatureCheck } from "./view.ts";

/** Options of {@link ConsoleFeed}. */
export interface ConsoleFeedOptions {
  nc: NatsConnection;
  model: ConsoleModel;
  logger: Logger;
  /** How many of the latest X0_EVENTS messages a resynchronisation reads. */
  historyEvents: number;
  /** Called after a resynchronisation and on connection changes. */
  onConnection?: (view: ConnectionView) => void;
  /** Checks the plans' signatures (selectBackend's choice). */
  backend: PqBackend;
}

const LIVE_SUBJECTS = ["x0.telemetry.*", "x0.anomaly.*", "x0.plan.*", "x0.action.*", `$KV.${Buckets.topology}.>`];
/** A subject no one consumes: publishing to it shows what the server lets this identity do. */
export const WRITE_CHECK_SUBJECT = "x0.console.write-check";

/** Feeds the model from NATS and keeps it in step across reconnects. */
export class ConsoleFeed {
  readonly #options: ConsoleFeedOptions;
  readonly #subscriptions: Subscription[] = [];
  readonly #verifier: MessageVerifier;
  readonly #checks = new Map<string, SignatureCheck>();
  #reader: StoredReader | undefined;
  #syncing: Promise<void> | undefined;
  /** Topology changes that arrive while the bucket is being read: applied after it, as they are newer. */
  #pendingKv: { key: string; value: Uint8Array | undefined }[] | undefined;
  readonly view: ConnectionView;

  constructor(options: ConsoleFeedOptions) {
    this.#options = options;
    this.view = { connected: true, server: options.nc.getServer(), syncs: 0, last_sync_at: null, history_events: 0, write_check: null };
    this.#verifier = new MessageVerifier({
      backend: options.backend,
      keys: { get: (keyId) => this.#key(keyId) },
      // Plans are checked long after they were signed: freshness and replay are the executor's checks, not the viewer's.
      maxAgeMs: Number.MAX_SAFE_INTEGER / 2,
    });
  }

  /** Subscribes, reads the history and follows reconnects. */
  async start(): Promise<void> {
    const { nc } = this.#options;
    for (const subject of LIVE_SUBJECTS) this.#subscriptions.push(nc.subscribe(subject, { callback: (error, message) => this.#onMessage(error, message) }));
    void this.#followStatus();
    this.#checkWrite();
    await this.resync();
  }

  /** Reads x0_topology and the latest X0_EVENTS again (after a reconnect, or at start). */
  resync(): Promise<void> {
    this.#syncing ??= this.#resync().finally(() => {
      this.#syncing = undefined;
    });
    return this.#syncing;
  }

  /** Checks a plan's signature against the keyring (cached per plan); `signed` is the plan as published. */
  async checkSignature(plan: Plan, signed: unknown): Promise<SignatureCheck> {
    const known = this.#checks.get(plan.plan_id);
    if (known) return known;
    const verdict = await this.#verifier.verify("plan", signed, { remember: false });
    const check: SignatureCheck = verdict.ok
      ? {
          plan_id: plan.plan_id,
          ok: true,
          key_id: verdict.key.keyId,
          alg: verdict.key.alg,
          detail: `valid ${verdict.key.alg} signature of ${verdict.key.service}`,
        }
      : {
          plan_id: plan.plan_id,
          ok: false,
          key_id: plan.signature?.key_id ?? null,
          alg: plan.signature?.alg ?? null,
          detail: `${verdict.reason}: ${verdict.detail}`,
        };
    // A missing key may still arrive; a verdict on a known key is final.
    if (verdict.ok || verdict.reason !== "unknown_key") this.#checks.set(plan.plan_id, check);
    return check;
  }

  /** Stops the subscriptions. */
  stop(): void {
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
  }

  async #resync(): Promise<void> {
    const { nc, model, logger, historyEvents } = this.#options;
    this.#reader ??= await StoredReader.open(nc);
    this.#pendingKv = [];
    try {
      model.clearRecords();
      for (const [key, entry] of await this.#reader.bucket(Buckets.topology)) model.applyTopologyKey(key, entry.value);
    } finally {
      const pending = this.#pendingKv;
      this.#pendingKv = undefined;
      for (const change of pending) model.applyTopologyKey(change.key, change.value);
    }
    const { first, last } = await this.#reader.bounds(EVENTS_STREAM);
    const events = last === 0 ? [] : await this.#reader.range(EVENTS_STREAM, Math.max(first, last - historyEvents + 1), last);
    for (const event of events) model.applyEvent(event.subject, event.data, event.headers.traceparent);
    this.view.syncs++;
    this.view.last_sync_at = Date.now();
    this.view.history_events = events.length;
    logger.info("console synchronised", { events: events.length, syncs: this.view.syncs });
    this.#options.onConnection?.(this.view);
  }

  /**
   * Publishes once to a subject no one reads: the server's refusal arrives on the status stream {@link #followStatus}
   * reads; no refusal within 2 s means the server let it through, and that is shown as plainly.
   */
  #checkWrite(): void {
    this.#options.nc.publish(WRITE_CHECK_SUBJECT, "");
    const timer = setTimeout(() => {
      if (this.view.write_check !== null) return;
      this.view.write_check = `accepted: the server let this identity publish to ${WRITE_CHECK_SUBJECT}`;
      this.#options.onConnection?.(this.view);
    }, 2000);
    timer.unref?.();
  }

  #onMessage(error: Error | null, message: Msg): void {
    const { model, logger } = this.#options;
    if (error) {
      logger.warn("console subscription error", { error });
      return;
    }
    const kvPrefix = `$KV.${Buckets.topology}.`;
    if (message.subject.startsWith(kvPrefix)) {
      const operation = message.headers?.get("KV-Operation");
      const change = { key: message.subject.slice(kvPrefix.length), value: operation === "DEL" || operation === "PURGE" ? undefined : message.data };
      if (this.#pendingKv) this.#pendingKv.push(change);
      else model.applyTopologyKey(change.key, change.value);
    } else if (message.subject.startsWith("x0.telemetry.")) model.applyTelemetry(message.data);
    else model.applyEvent(message.subject, message.data, message.headers?.get("traceparent"));
  }

  async #followStatus(): Promise<void> {
    const { nc, logger } = this.#options;
    for await (const status of nc.status()) {
      if (status.type === "error" && String(status.error).includes(WRITE_CHECK_SUBJECT)) {
        this.view.write_check = String(status.error);
        this.#options.onConnection?.(this.view);
      } else if (status.type === "disconnect") {
        this.view.connected = false;
        this.#options.onConnection?.(this.view);
      } else if (status.type === "reconnect") {
        this.view.connected = true;
        this.view.server = nc.getServer();
        // Messages published while the connection was down were missed: read them from the bucket and the stream.
        await this.resync().catch((error: unknown) => logger.error("console resynchronisation failed", { error }));
      }
    }
  }

  async #key(keyId: string): Promise<VerifyingKey | undefined> {
    const reader = this.#reader ?? (await StoredReader.open(this.#options.nc));
    const record = await reader.key(Buckets.keyring, `key.${keyId}`);
    if (!record) return undefined;
    const revoked = await reader.key(Buckets.keyring, `revoked.${keyId}`);
    const decode = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    return verifyingKeyOf(KeyRecord.parse(decode(record.value)), revoked ? Revocation.parse(decode(revoked.value)) : undefined);
  }
}
