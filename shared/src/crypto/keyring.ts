// The keyring: public signing keys with validity windows, revocations and rotation orders in the x0_keyring KV bucket.
import type { KV, KvEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { KeyId, KeyRecord, Revocation, RotationOrder } from "../contracts/keyring.ts";
import { Buckets, openBucket } from "../knowledge/knowledge.ts";
import type { Logger } from "../observability/logger.ts";
import { fromBase64 } from "./bytes.ts";
import { KeyStoreError } from "./errors.ts";
import type { KeyLookup, VerifyingKey } from "./signing.ts";

/** What changed in the keyring, for watchers. */
export type KeyringEvent = { type: "key"; record: KeyRecord } | { type: "revoked"; revocation: Revocation } | { type: "rotate"; order: RotationOrder };

/** The verifier's view of a record. */
export function verifyingKeyOf(record: KeyRecord, revocation?: Revocation): VerifyingKey {
  return {
    keyId: record.key_id,
    service: record.service,
    alg: record.alg,
    mldsaPublic: fromBase64(record.mldsa_public, "mldsa_public"),
    ed25519Public: record.ed25519_public === undefined ? undefined : fromBase64(record.ed25519_public, "ed25519_public"),
    notBefore: record.not_before,
    notAfter: record.not_after,
    revokedAt: revocation?.revoked_at,
  };
}

/** The keyring bucket with an in-memory copy kept current by a KV watch: lookups on the hot path cost no round trip. */
export class Keyring implements KeyLookup {
  readonly kv: KV;
  readonly #logger: Logger;
  readonly #records = new Map<string, KeyRecord>();
  readonly #revocations = new Map<string, Revocation>();
  readonly #verifying = new Map<string, VerifyingKey>();
  readonly #listeners = new Set<(event: KeyringEvent) => void>();
  #stopWatch: (() => void) | undefined;

  private constructor(kv: KV, logger: Logger) {
    this.kv = kv;
    this.#logger = logger;
  }

  /** Opens (creating when absent) the x0_keyring bucket and starts watching it. */
  static async open(nc: NatsConnection, logger: Logger): Promise<Keyring> {
    const keyring = new Keyring(await openBucket(nc, Buckets.keyring), logger);
    const watcher = await keyring.kv.watch({ key: ">" });
    keyring.#stopWatch = () => watcher.stop();
    void (async () => {
      for await (const entry of watcher) keyring.#apply(entry);
    })().catch((error) => logger.error("keyring watch ended", { error }));
    return keyring;
  }

  /** The verifying key of `keyId`: from memory, else from the bucket (a key published a moment ago). */
  get(keyId: string): VerifyingKey | Promise<VerifyingKey | undefined> {
    const known = this.#verifying.get(keyId);
    if (known) return known;
    return this.#fetch(keyId);
  }

  /** Every known key record with its revocation, newest first. */
  list(): { record: KeyRecord; revocation?: Revocation }[] {
    return [...this.#records.values()]
      .sort((a, b) => b.created_at - a.created_at)
      .map((record) => ({ record, revocation: this.#revocations.get(record.key_id) }));
  }

  /** Publishes (or updates) a key record. */
  async publish(record: KeyRecord): Promise<void> {
    await this.kv.put(`key.${record.key_id}`, JSON.stringify(KeyRecord.parse(record)));
    this.#setRecord(record);
  }

  /** Revokes a key (key authority only). */
  async revoke(keyId: string, reason: string, now = Date.now()): Promise<Revocation> {
    const revocation: Revocation = { v: 1, key_id: keyId, revoked_at: now, reason };
    await this.kv.put(`revoked.${keyId}`, JSON.stringify(revocation));
    this.#setRevocation(revocation);
    return revocation;
  }

  /** Orders `service` to rotate its signing key (key authority only). */
  async orderRotation(service: string, reason: string, now = Date.now()): Promise<RotationOrder> {
    const order: RotationOrder = { v: 1, service, requested_at: now, reason };
    await this.kv.put(`rotate.${service}`, JSON.stringify(order));
    return order;
  }

  /** Calls `listener` for every change seen by the watch; returns an unsubscribe function. */
  onChange(listener: (event: KeyringEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops the watch. */
  stop(): void {
    this.#stopWatch?.();
  }

  async #fetch(keyId: string): Promise<VerifyingKey | undefined> {
    if (!KeyId.safeParse(keyId).success) return undefined;
    const [key, revoked] = await Promise.all([this.kv.get(`key.${keyId}`), this.kv.get(`revoked.${keyId}`)]);
    if (revoked?.operation === "PUT") this.#apply(revoked, false);
    if (key?.operation === "PUT") this.#apply(key, false);
    return this.#verifying.get(keyId);
  }

  #apply(entry: KvEntry, notify = true): void {
    if (entry.operation !== "PUT") return;
    try {
      const value = entry.json();
      if (entry.key.startsWith("key.")) {
        const record = KeyRecord.parse(value);
        this.#setRecord(record);
        if (notify) this.#emit({ type: "key", record });
      } else if (entry.key.startsWith("revoked.")) {
        const revocation = Revocation.parse(value);
        this.#setRevocation(revocation);
        if (notify) this.#emit({ type: "revoked", revocation });
      } else if (entry.key.startsWith("rotate.")) {
        if (notify) this.#emit({ type: "rotate", order: RotationOrder.parse(value) });
      }
    } catch (error) {
      // An invalid entry is skipped (verification then fails closed for its key), never trusted.
      this.#logger.warn("invalid keyring entry ignored", { key: entry.key, error: new KeyStoreError(`invalid keyring entry ${entry.key}`, { cause: error }) });
    }
  }

  #setRecord(record: KeyRecord): void {
    this.#records.set(record.key_id, record);
    this.#verifying.set(record.key_id, verifyingKeyOf(record, this.#revocations.get(record.key_id)));
  }

  #setRevocation(revocation: Revocation): void {
    this.#revocations.set(revocation.key_id, revocation);
    const record = this.#records.get(revocation.key_id);
    if (record) this.#verifying.set(record.key_id, verifyingKeyOf(record, revocation));
  }

  #emit(event: KeyringEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
