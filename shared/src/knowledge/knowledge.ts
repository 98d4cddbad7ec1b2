import { type JetStreamManager, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { DLQ_STREAM, DLQ_SUBJECTS, EVENTS_STREAM, EVENTS_SUBJECTS } from "../contracts/subjects.ts";
import { NatsSetupError } from "../errors.ts";

/** KV buckets of the knowledge base (the K of MAPE-K); their records are in shared/src/contracts/records.ts. */
export const Buckets = {
  /** Node announcements, link state, and the routes and batman-adv settings the planner installed. */
  topology: "x0_topology",
  /** Analyzer baselines per series, so a restart keeps what was learnt. */
  baselines: "x0_baselines",
  /** Plan outcomes, leases and journals (exactly-once execution), and the planner's outcome statistics. */
  outcomes: "x0_outcomes",
  /** Signing public keys with validity windows, revocations and rotation orders. */
  keyring: "x0_keyring",
} as const;
/** A bucket name. */
export type Bucket = (typeof Buckets)[keyof typeof Buckets];

/** Retention limits of the streams. */
export interface StreamLimits {
  maxAgeMs: number;
  maxBytes: number;
}

/** Defaults: a week of events, at most 1 GiB. */
export const DEFAULT_STREAM_LIMITS: StreamLimits = { maxAgeMs: 7 * 24 * 3600_000, maxBytes: 1024 ** 3 };

const DUPLICATE_WINDOW_NS = 2 * 60 * 1e9;

let jetStreamTimeoutMs = 5000;

/** Sets how long this process's JetStream API requests may take (X0_NATS_JS_TIMEOUT_MS, set once at service start). */
export function setJetStreamTimeout(timeoutMs: number): void {
  jetStreamTimeoutMs = timeoutMs;
}

/** A JetStream manager whose API requests wait X0_NATS_JS_TIMEOUT_MS. */
export function jetStreamManagerOf(nc: NatsConnection): Promise<JetStreamManager> {
  return jetstreamManager(nc, { timeout: jetStreamTimeoutMs });
}

/** Creates (or updates to the wanted config) X0_EVENTS and X0_DLQ; safe to call from every service. */
export async function ensureStreams(nc: NatsConnection, limits: StreamLimits = DEFAULT_STREAM_LIMITS): Promise<JetStreamManager> {
  const jsm = await jetStreamManagerOf(nc);
  for (const [name, subjects] of [
    [EVENTS_STREAM, EVENTS_SUBJECTS],
    [DLQ_STREAM, DLQ_SUBJECTS],
  ] as const) {
    const config = {
      name,
      subjects: [...subjects],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_age: limits.maxAgeMs * 1e6,
      max_bytes: limits.maxBytes,
      // Publishers set Nats-Msg-Id; retries within this window are stored once.
      duplicate_window: DUPLICATE_WINDOW_NS,
    };
    try {
      await jsm.streams.add(config);
    } catch (addError) {
      // Already there (perhaps from another service with the same config): align limits.
      try {
        await jsm.streams.update(name, config);
      } catch (updateError) {
        // Both reasons in the message: an AggregateError's own message is empty in logs.
        throw new NatsSetupError(`cannot create or update stream ${name}: add: ${(addError as Error).message}; update: ${(updateError as Error).message}`, {
          cause: new AggregateError([addError, updateError]),
        });
      }
    }
  }
  return jsm;
}

/** Opens a knowledge bucket, creating it when absent (file storage, one history entry). */
export async function openBucket(nc: NatsConnection, bucket: Bucket): Promise<KV> {
  try {
    return await new Kvm(jetstream(nc, { timeout: jetStreamTimeoutMs })).create(bucket, { history: 1, storage: StorageType.File });
  } catch (error) {
    throw new NatsSetupError(`cannot open KV bucket ${bucket}`, { cause: error });
  }
}

/** Deletes a knowledge bucket and everything in it, when it exists (a fresh lab's topology replaces the old one's). */
export async function forgetBucket(nc: NatsConnection, bucket: Bucket): Promise<boolean> {
  const jsm = await jetStreamManagerOf(nc);
  try {
    await jsm.streams.info(`KV_${bucket}`);
  } catch {
    return false; // absent: nothing to forget
  }
  try {
    return await jsm.streams.delete(`KV_${bucket}`);
  } catch (error) {
    throw new NatsSetupError(`cannot delete KV bucket ${bucket}`, { cause: error });
  }
}
