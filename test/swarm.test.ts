// The swarm as four processes on a real nats-server with mTLS and the permission matrix: full rounds with signed model
// versions, forged and malformed updates dead-lettered, the coordinator killed mid-round and taken over, an agent
// restarted and back in the next round.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  Buckets,
  createLogger,
  createNativeBackend,
  DeadLetter,
  Keyring,
  LeaderLease,
  LINK_HEALTH_MODEL,
  leaderKey,
  ModelVersion,
  SwarmRound,
} from "@x0/shared";
import { type SecureNats, type ServiceProcess, startSecureNats, startServiceProcess, waitFor } from "@x0/shared/testing";
import { artefactVerifier, verifyModel } from "@x0/swarm";
import { testClient } from "./helpers.ts";

const NODES = ["n1", "n2", "n3", "n4"];
let secure: SecureNats;
let nc: NatsConnection;
const swarm = new Map<string, ServiceProcess>();
const started: ServiceProcess[] = [];
const rounds: SwarmRound[] = [];
const deadLetters: DeadLetter[] = [];

function startSwarm(node: string): ServiceProcess {
  const service = startServiceProcess("swarm", {
    ...secure.serviceEnv,
    X0_NODE: node,
    X0_INSTANCE: `swarm-${node}`,
    X0_LOG_LEVEL: "info",
    X0_SWARM_DATA_NODE: node,
    X0_SWARM_ROUND_INTERVAL_MS: "200",
    X0_SWARM_ROUND_DEADLINE_MS: "2500",
    X0_SWARM_MIN_PARTICIPANTS: "3",
    X0_SWARM_LEASE_MS: "1500",
    X0_SWARM_LEASE_SKEW_MS: "100",
  });
  swarm.set(node, service);
  started.push(service);
  return service;
}

async function models() {
  return new Kvm(nc).open(Buckets.models);
}

/** Every stored version record (adopted and rejected). */
async function versions(): Promise<ModelVersion[]> {
  const kv = await models();
  const records: ModelVersion[] = [];
  for await (const key of await kv.keys(`${LINK_HEALTH_MODEL}.*`)) {
    if (key.endsWith(".current")) continue;
    const entry = await kv.get(key);
    if (entry?.operation === "PUT") records.push(ModelVersion.parse(entry.json()));
  }
  return records.sort((a, b) => a.version - b.version);
}

async function current(): Promise<{ raw: unknown; record: ModelVersion } | undefined> {
  const entry = await (await models()).get(`${LINK_HEALTH_MODEL}.current`);
  if (entry?.operation !== "PUT") return undefined;
  const raw = entry.json();
  return { raw, record: ModelVersion.parse(raw) };
}

async function leaseHolder(): Promise<string | undefined> {
  const entry = await (await new Kvm(nc).open(Buckets.leases)).get(leaderKey("swarm"));
  return entry?.operation === "PUT" ? LeaderLease.parse(entry.json()).holder : undefined;
}

async function metric(service: ServiceProcess, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

beforeAll(async () => {
  secure = await startSecureNats({ nodes: NODES });
  nc = await testClient(secure.nats.url, secure.adminTls);
  nc.subscribe("x0.swarm.round.*", {
    callback: (error, msg) => {
      if (!error) rounds.push(SwarmRound.parse(msg.json()));
    },
  });
  nc.subscribe("x0.dlq.swarm", {
    callback: (error, msg) => {
      if (!error) deadLetters.push(DeadLetter.parse(msg.json()));
    },
  });
  for (const node of NODES) startSwarm(node);
  await Promise.all([...swarm.values()].map((service) => service.waitReady(30_000)));
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await Promise.all(started.map((service) => service.stop()));
  await secure?.dispose();
});

describe("swarm over NATS", () => {
  test("swarm - four agents' rounds produce signed versions that verify, with every node a participant", async () => {
    // The first round may open before every agent has subscribed (the instances start one after another): wait for an
    // adopted version that all four trained.
    await waitFor(
      "an adopted version trained by the four agents",
      async () => ((await current())?.record.version ?? 0) >= 1 && (await current())?.record.participants.length === NODES.length,
      30_000,
    );
    const adopted = await current();
    expect(adopted?.record).toMatchObject({ status: "adopted", parent: expect.any(Number), aggregator: "median" });
    expect([...(adopted?.record.participants ?? [])].sort()).toEqual(NODES);
    // The test verifies it as the analyzer would: through the keyring, with the coordinator's own swarm identity.
    const keyring = await Keyring.open(nc, createLogger({ service: "test", node: "t", level: "error" }));
    try {
      const verifier = artefactVerifier(createNativeBackend(), keyring);
      const loaded = await verifyModel(verifier, adopted?.raw);
      expect(loaded.record.version).toBe(adopted?.record.version as number);
      expect(NODES).toContain(loaded.record.coordinator);
    } finally {
      keyring.stop();
    }
    // The version names the round it came from, announced by the lease holder.
    const round = rounds.find((r) => r.round_id === adopted?.record.round_id);
    expect(round?.coordinator).toBe(adopted?.record.coordinator as string);
    expect(await leaseHolder()).toStartWith(`swarm-${adopted?.record.coordinator}`);
  }, 40_000);

  test("swarm - a malformed, an unsigned and a wrongly signed update are dead-lettered with the reason, and the round goes on", async () => {
    const before = rounds.length;
    await waitFor("a round announced", () => rounds.length > before, 10_000);
    const round = rounds.at(-1) as SwarmRound;
    const leader = swarm.get(round.coordinator) as ServiceProcess;
    nc.publish("x0.swarm.update.n1", "{not json");
    const unsigned = {
      v: 1,
      model: round.model,
      round_id: round.round_id,
      round: round.round,
      base_version: round.base_version,
      node: "n1",
      samples: 10,
      delta: "AAAAAA==",
    };
    nc.publish("x0.swarm.update.n1", JSON.stringify(unsigned));
    const forged = { ...unsigned, signature: { key_id: "swarm-n1-forged", alg: "ML-DSA-65", nonce: "A".repeat(22), signed_at: Date.now(), value: "AAAA" } };
    nc.publish("x0.swarm.update.n1", JSON.stringify(forged));
    await waitFor("three dead letters", () => deadLetters.filter((letter) => letter.subject === "x0.swarm.update.n1").length >= 3, 5000);
    await Bun.sleep(300);
    const errors = deadLetters.filter((letter) => letter.subject === "x0.swarm.update.n1").map((letter) => letter.error);
    // Only the coordinator reads updates: each is dead-lettered once, by it.
    expect(errors).toHaveLength(3);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/JSON/i),
        expect.stringMatching(/expected object.*\n?.*at signature/),
        expect.stringMatching(/^refused \(signature\): unknown_key/),
      ]),
    );
    expect(await metric(leader, "x0_swarm_updates_total", 'outcome="signature"')).toBeGreaterThanOrEqual(1);
    // The honest agents' updates of that round still made it.
    await waitFor("that round's version", async () => (await versions()).some((v) => v.round_id === round.round_id), 10_000);
    const version = (await versions()).find((v) => v.round_id === round.round_id);
    expect([...(version?.participants ?? [])].sort()).toEqual(NODES);
  }, 30_000);

  test("swarm - a coordinator killed mid-round leaves no version of its round; another takes over, and the restarted agent rejoins", async () => {
    const before = rounds.length;
    await waitFor("a round announced", () => rounds.length > before, 10_000);
    const killedRound = rounds.at(-1) as SwarmRound;
    const victim = swarm.get(killedRound.coordinator) as ServiceProcess;
    victim.process.kill("SIGKILL");
    await victim.exited;
    const highest = Math.max(...(await versions()).map((v) => v.version));
    await waitFor(
      "a version from a new coordinator",
      async () => (await versions()).some((v) => v.version > highest && v.coordinator !== killedRound.coordinator),
      30_000,
    );
    expect((await versions()).filter((v) => v.round_id === killedRound.round_id)).toEqual([]);
    const takeover = rounds.find((r) => r.coordinator !== killedRound.coordinator && r.opened_at > killedRound.opened_at);
    expect(takeover?.round).toBeGreaterThan(killedRound.round);
    expect(await leaseHolder()).not.toStartWith(`swarm-${killedRound.coordinator}`);
    // The killed node's agent comes back and takes part in a later round.
    const restarted = startSwarm(killedRound.coordinator);
    await restarted.waitReady(30_000);
    const restartedAt = Date.now();
    await waitFor(
      "a version with the restarted agent",
      async () => (await versions()).some((v) => v.created_at > restartedAt && v.participants.includes(killedRound.coordinator)),
      30_000,
    );
  }, 90_000);

  test("swarm - the analyzer loads the adopted version only when its signature verifies, and keeps it when a forged one appears", async () => {
    const analyzer = startServiceProcess("analyzer", { ...secure.serviceEnv, X0_NODE: "a1", X0_ANALYZER_MODEL: "shadow" });
    started.push(analyzer);
    await analyzer.waitReady(30_000);
    const status = async () =>
      ((await (await fetch(`http://127.0.0.1:${analyzer.port}/status`)).json()) as { details: { model: { mode: string; version: number | null } } }).details
        .model;
    await waitFor("the analyzer has the adopted version", async () => (await status()).version === (await current())?.record.version, 15_000);
    expect((await status()).mode).toBe("shadow");
    const loaded = (await status()).version as number;
    expect(await metric(analyzer, "x0_analyzer_model_version")).toBe(loaded);
    // The swarm is stopped first, so no coordinator moves the adopted version meanwhile; then a forged one is put in.
    await Promise.all([...swarm.values()].map((service) => service.stop()));
    const adopted = (await current())?.raw as ModelVersion;
    const forged = { ...adopted, version: adopted.version + 1000, validation: { ...adopted.validation, macro_f1: 1 } };
    await (await models()).put(`${LINK_HEALTH_MODEL}.current`, JSON.stringify(forged));
    await waitFor("the forged version refused", async () => (await metric(analyzer, "x0_analyzer_model_loads_total", 'outcome="refused"')) >= 1, 10_000);
    expect((await status()).version).toBe(loaded);
    expect(analyzer.output.join("\n")).toContain("bad_signature");
  }, 60_000);
});
