import { type JetStreamManager, jetstream, jetstreamManager, RetentionPolicy, StorageType, type StreamConfig } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { DLQ_STREAM, DLQ_SUBJECTS, EVENTS_STREAM, EVENTS_SUBJECTS } from "../contracts/subjects.ts";
import { NatsSetupError } from "../errors.ts";
import { isTransient, retryTransient, retryUnansweredPublishes } from "../nats/jetstream-retry.ts";

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
  /** Leader leases of the services that run as one active instance and standbys (planner, analyzer). */
  leases: "x0_leases",
  /** The swarm's signed model versions (adopted and rejected) and the adopted one of each model. */
  models: "x0_models",
  /** Governance: member set versions, proposals, signed votes, tallies and the adopted policy. */
  gov: "x0_gov",
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

let jetStreamReplicas = 1;

/** Sets the replicas of the streams and buckets this process creates (X0_JS_REPLICAS, set once at service start). */
export function setJetStreamReplicas(replicas: number): void {
  jetStreamReplicas = replicas;
}

/** A KV bucket has fewer replicas than X0_JS_REPLICAS asks for; only an admin may change a bucket's replicas. */
export class BucketReplicasError extends NatsSetupError {}

/** A JetStream manager whose API requests wait X0_NATS_JS_TIMEOUT_MS. */
export function jetStreamManagerOf(nc: NatsConnection): Promise<JetStreamManager> {
  return jetstreamManager(nc, { timeout: jetStreamTimeoutMs });
}

/**
 * Creates (or updates to the wanted config) X0_EVENTS and X0_DLQ with X0_JS_REPLICAS replicas; safe to call from every
 * service. An existing stream's replicas are raised to the wanted number, never lowered.
 */
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
      num_replicas: jetStreamReplicas,
    };
    // Every service does this at start, at once: on a cluster a concurrent create may time out while the stream is placed.
    await retryTransient(() => addOrAlignStream(jsm, config));
  }
  return jsm;
}

async function addOrAlignStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string; num_replicas: number }): Promise<void> {
  try {
    await jsm.streams.add(config);
  } catch (addError) {
    // Already there (perhaps from another service with the same config): align limits, keep any higher replica count.
    try {
      const current = (await jsm.streams.info(config.name)).config;
      const wanted = { ...config, num_replicas: Math.max(current.num_replicas, config.num_replicas) };
      // Only a real change is proposed: a stream whose replicas are still being placed may not answer an update in time.
      if (!hasSettings(current, wanted)) await jsm.streams.update(config.name, wanted);
    } catch (updateError) {
      // Both reasons in the message: an AggregateError's own message is empty in logs.
      throw new NatsSetupError(
        `cannot create or update stream ${config.name} with ${config.num_replicas} replica(s) (X0_JS_REPLICAS): add: ${(addError as Error).message}; update: ${(updateError as Error).message}`,
        { cause: new AggregateError([addError, updateError]) },
      );
    }
  }
}

/** Whether a stream's configuration already has every setting of `wanted`. */
function hasSettings(current: StreamConfig, wanted: Partial<StreamConfig>): boolean {
  return Object.entries(wanted).every(([key, value]) => JSON.stringify(current[key as keyof StreamConfig]) === JSON.stringify(value));
}

/** How every knowledge bucket is made: file storage, one history entry, X0_JS_REPLICAS replicas. */
function bucketOptions() {
  return { history: 1, storage: StorageType.File, replicas: jetStreamReplicas };
}

/**
 * Opens a knowledge bucket, creating it when absent (file storage, one history entry, X0_JS_REPLICAS replicas); throws
 * {@link BucketReplicasError} when it exists with fewer replicas.
 */
export async function openBucket(nc: NatsConnection, bucket: Bucket): Promise<KV> {
  let kv: KV;
  // A replicated bucket has moments without a leader (just created, or its server died): writes wait them out.
  const js = retryUnansweredPublishes(jetstream(nc, { timeout: jetStreamTimeoutMs }), jetStreamTimeoutMs);
  try {
    kv = await retryTransient(() => new Kvm(js).create(bucket, bucketOptions()));
  } catch (error) {
    throw new NatsSetupError(`cannot open KV bucket ${bucket} with ${jetStreamReplicas} replica(s) (X0_JS_REPLICAS)`, { cause: error });
  }
  if (jetStreamReplicas > 1) {
    const { replicas } = await retryTransient(() => kv.status());
    if (replicas < jetStreamReplicas) {
      // Services hold no update right on bucket streams (it would let one rewrite a bucket's limits).
      throw new BucketReplicasError(
        `KV bucket ${bucket} has ${replicas} replica(s) but X0_JS_REPLICAS is ${jetStreamReplicas}: an admin raises them ` +
          `(nats stream edit KV_${bucket} --replicas ${jetStreamReplicas}, see docs/operating.md#nats-cluster) or X0_JS_REPLICAS is set to ${replicas}`,
      );
    }
    await waitUntilReadable(nc, bucket);
  }
  return kv;
}

/** The key a readiness probe asks for: never written, so its answer is "no such key". */
const PROBE_KEY = "_x0_probe";

/**
 * Waits until a get through this connection is answered: a replicated bucket that another service is creating at the same
 * moment lets the first gets go unanswered until its peers are in place.
 */
async function waitUntilReadable(nc: NatsConnection, bucket: Bucket): Promise<void> {
  // Opened as the bucket itself is (reads through direct get), only with short requests.
  const probe = await new Kvm(jetstream(nc, { timeout: 500 })).create(bucket, bucketOptions());
  const deadline = Date.now() + jetStreamTimeoutMs;
  for (;;) {
    try {
      await probe.get(PROBE_KEY);
      return;
    } catch (error) {
      if (!isTransient(error) || Date.now() >= deadline) {
        throw new NatsSetupError(`KV bucket ${bucket} answers no read within ${jetStreamTimeoutMs} ms (X0_NATS_JS_TIMEOUT_MS)`, { cause: error });
      }
      await Bun.sleep(50);
    }
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
