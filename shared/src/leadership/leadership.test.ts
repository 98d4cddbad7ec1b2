// The leadership against a real nats-server: create, renew, no takeover before expiry, takeover after it, release.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { LeaderLease, leaderKey } from "../contracts/records.ts";
import { Buckets, openBucket } from "../knowledge/knowledge.ts";
import { connectNats } from "../nats/connect.ts";
import { createLogger } from "../observability/logger.ts";
import { type NatsServer, startNatsServer, waitFor } from "../testing/mod.ts";
import { Leadership, type LeadershipOptions } from "./leadership.ts";
import { holderName } from "./lease.ts";

const TTL_MS = 600;
const SKEW_MS = 100;
const logger = createLogger({ service: "test", node: "n1", level: "error" });

let nats: NatsServer;
let nc: NatsConnection;
let kv: Awaited<ReturnType<typeof openBucket>>;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connectNats({ servers: [nats.url], service: "leadership-test", instance: "main" });
  kv = await openBucket(nc, Buckets.leases);
});

afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

/** An instance of `service` that records its transitions. */
async function instance(service: string, name: string, overrides: Partial<LeadershipOptions> = {}) {
  const events: string[] = [];
  const leadership = await Leadership.start({
    kv,
    service,
    holder: holderName(name),
    ttlMs: TTL_MS,
    skewMs: SKEW_MS,
    logger,
    onElected: ({ term }) => {
      events.push(`elected ${term}`);
    },
    onDemoted: (reason) => {
      events.push(`demoted: ${reason}`);
    },
    ...overrides,
  });
  return { leadership, events };
}

const stored = async (service: string) => LeaderLease.parse((await kv.get(leaderKey(service)))?.json());

describe("leadership", () => {
  test("leadership - the first instance creates the lease and renews it every third of the ttl", async () => {
    const a = await instance("create", "a");
    expect(a.leadership.isLeader()).toBe(true);
    expect(a.events).toEqual(["elected 1"]);
    const first = await stored("create");
    expect(first).toMatchObject({ holder: a.leadership.status().holder, term: 1 });
    expect(first.expires_at - first.acquired_at).toBe(TTL_MS);
    await Bun.sleep(3 * TTL_MS);
    const renewed = await stored("create");
    expect(renewed.expires_at).toBeGreaterThan(first.expires_at + 2 * TTL_MS);
    expect(renewed).toMatchObject({ holder: first.holder, term: 1, acquired_at: first.acquired_at });
    expect(a.leadership.isLeader()).toBe(true);
    await a.leadership.stop();
  });

  test("leadership - a second instance stays standby while the lease is renewed, and no instance is leader twice", async () => {
    const a = await instance("valid", "a");
    const b = await instance("valid", "b");
    const overlaps: number[] = [];
    const deadline = Date.now() + 4 * TTL_MS;
    while (Date.now() < deadline) {
      if (a.leadership.isLeader() && b.leadership.isLeader()) overlaps.push(Date.now());
      expect(b.leadership.isLeader()).toBe(false);
      await Bun.sleep(20);
    }
    expect(overlaps).toEqual([]);
    expect(b.events).toEqual([]);
    expect(b.leadership.status()).toMatchObject({ role: "standby", leader: a.leadership.status().holder, term: 1 });
    await b.leadership.stop();
    await a.leadership.stop();
  });

  test("leadership - a lease whose holder stopped renewing is taken over after expiry plus skew, as the next term", async () => {
    // A holder that vanished without releasing: its lease is written directly, as a killed process leaves it.
    const now = Date.now();
    await kv.create(leaderKey("expiry"), JSON.stringify({ holder: "dead:0", expires_at: now + TTL_MS, acquired_at: now, term: 4 }));
    const b = await instance("expiry", "b");
    expect(b.leadership.isLeader()).toBe(false);
    await waitFor("b elected", () => b.leadership.isLeader(), 5 * TTL_MS, 5);
    const tookOverAt = Date.now();
    expect(tookOverAt).toBeGreaterThan(now + TTL_MS + SKEW_MS);
    expect(tookOverAt).toBeLessThan(now + TTL_MS + SKEW_MS + 500);
    expect(b.events).toEqual(["elected 5"]);
    expect(await stored("expiry")).toMatchObject({ holder: b.leadership.status().holder, term: 5 });
    await b.leadership.stop();
  });

  test("leadership - a holder that cannot renew stops being leader by its own clock and is demoted", async () => {
    let failing = false;
    const flaky = {
      get: (key: string) => kv.get(key),
      create: (key: string, data: string) => kv.create(key, data),
      update: (key: string, data: string, version: number) => (failing ? Promise.reject(new Error("no responders")) : kv.update(key, data, version)),
      watch: (options: { key: string }) => kv.watch(options),
    };
    const a = await instance("cut", "a", { kv: flaky });
    expect(a.leadership.isLeader()).toBe(true);
    failing = true;
    const cutAt = Date.now();
    await waitFor("a no longer leader", () => !a.leadership.isLeader(), 3 * TTL_MS, 5);
    // The last successful renewal was at most a third of the ttl before the cut.
    expect(Date.now() - cutAt).toBeLessThanOrEqual(TTL_MS + 20);
    await waitFor("a demoted", () => a.events.length === 2, TTL_MS);
    expect(a.events[1]).toContain("ran out");
    expect(a.leadership.signal.aborted).toBe(true);
    // NATS answers again and nobody took the lease: the same holder takes it again by compare-and-set.
    failing = false;
    await waitFor("a leader again", () => a.leadership.isLeader(), 3 * TTL_MS, 5);
    await a.leadership.stop();
  });

  test("leadership - a clean stop releases the lease and a standby takes over at once", async () => {
    const a = await instance("release", "a");
    const b = await instance("release", "b");
    const stoppedAt = Date.now();
    await a.leadership.stop();
    expect(a.events).toEqual(["elected 1", "demoted: stopping"]);
    expect((await stored("release")).expires_at).toBe(0);
    await waitFor("b elected", () => b.leadership.isLeader(), TTL_MS, 2);
    // Seen through the watch, not at the lease's expiry (at least a ttl and the skew margin after its last renewal).
    expect(Date.now() - stoppedAt).toBeLessThan(TTL_MS);
    expect(b.events).toEqual(["elected 2"]);
    await b.leadership.stop();
  });

  test("leadership - a leader whose work cannot start resigns, and another instance leads", async () => {
    const a = await instance("resign", "a", {
      onElected: () => {
        throw new Error("restore failed");
      },
    });
    const b = await instance("resign", "b");
    await waitFor("b elected", () => b.leadership.isLeader(), 3 * TTL_MS, 5);
    expect(a.leadership.isLeader()).toBe(false);
    await b.leadership.stop();
    await a.leadership.stop();
  });
});
