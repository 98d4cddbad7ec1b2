import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { DLQ_STREAM, EVENTS_STREAM } from "../contracts/subjects.ts";
import { type SecureCluster, startSecureCluster } from "../testing/mod.ts";
import { BucketReplicasError, Buckets, ensureStreams, openBucket, setJetStreamReplicas } from "./knowledge.ts";

let cluster: SecureCluster;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  cluster = await startSecureCluster({ nodes: ["n1"] });
  nc = await connect({ servers: cluster.urls, tls: cluster.adminTls });
  jsm = await jetstreamManager(nc);
}, 60_000);

afterAll(async () => {
  setJetStreamReplicas(1);
  await nc?.close();
  await cluster?.dispose();
});

/** A stream's configured replicas and how many servers hold it (its leader and its replicas). */
async function replicasOf(stream: string): Promise<{ configured: number; peers: number }> {
  const { config, cluster: placement } = await jsm.streams.info(stream);
  const peers = new Set([placement?.leader, ...(placement?.replicas ?? []).map((replica) => replica.name)].filter(Boolean));
  return { configured: config.num_replicas, peers: peers.size };
}

describe("knowledge on a cluster", () => {
  test("knowledge - an existing stream is raised to X0_JS_REPLICAS and never lowered", async () => {
    setJetStreamReplicas(1);
    await ensureStreams(nc);
    expect(await replicasOf(EVENTS_STREAM)).toEqual({ configured: 1, peers: 1 });
    setJetStreamReplicas(3);
    await ensureStreams(nc);
    expect(await replicasOf(EVENTS_STREAM)).toEqual({ configured: 3, peers: 3 });
    expect(await replicasOf(DLQ_STREAM)).toEqual({ configured: 3, peers: 3 });
    // A service left at the default does not take the redundancy away.
    setJetStreamReplicas(1);
    await ensureStreams(nc);
    expect(await replicasOf(EVENTS_STREAM)).toEqual({ configured: 3, peers: 3 });
  }, 30_000);

  test("knowledge - every bucket is created with X0_JS_REPLICAS replicas", async () => {
    setJetStreamReplicas(3);
    for (const bucket of Object.values(Buckets)) {
      const kv = await openBucket(nc, bucket);
      expect((await kv.status()).replicas, bucket).toBe(3);
      expect(await replicasOf(`KV_${bucket}`), bucket).toEqual({ configured: 3, peers: 3 });
    }
  }, 30_000);

  test("knowledge - services opening a bucket at once through different servers can all read and write it at once", async () => {
    setJetStreamReplicas(3);
    const clients = await Promise.all(cluster.urls.map((url) => connect({ servers: url, tls: cluster.adminTls })));
    try {
      for (let round = 0; round < 3; round += 1) {
        await jsm.streams.delete(`KV_${Buckets.baselines}`).catch(() => false);
        const revisions = await Promise.all(
          clients.map(async (client, index) => {
            const kv = await openBucket(client, Buckets.baselines);
            expect(await kv.get(`series.${index}`)).toBeNull();
            return kv.put(`series.${index}`, `round ${round}`);
          }),
        );
        expect(revisions.sort()).toEqual([1, 2, 3]);
      }
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  }, 60_000);

  test("knowledge - a bucket with fewer replicas is refused, saying what an admin does, and opens once raised", async () => {
    await jsm.streams.delete(`KV_${Buckets.outcomes}`);
    setJetStreamReplicas(1);
    await openBucket(nc, Buckets.outcomes);
    setJetStreamReplicas(3);
    const refused = openBucket(nc, Buckets.outcomes);
    await expect(refused).rejects.toThrow(BucketReplicasError);
    await expect(refused).rejects.toThrow(`nats stream edit KV_${Buckets.outcomes} --replicas 3`);
    // What the message tells the operator to do, done with the admin identity.
    const { config } = await jsm.streams.info(`KV_${Buckets.outcomes}`);
    await jsm.streams.update(`KV_${Buckets.outcomes}`, { ...config, num_replicas: 3 });
    expect((await (await openBucket(nc, Buckets.outcomes)).status()).replicas).toBe(3);
  }, 30_000);
});
