// The coordinator and agents in one process over a real nats-server's x0_models bucket: rounds of real agents on the
// shipped recordings, every kind of refused update, the adoption guard, too few participants, and a lost lease.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  Buckets,
  connectNats,
  createLogger,
  createNativeBackend,
  decodeFloat32,
  encodeFloat32,
  LINK_HEALTH_MODEL,
  MessageVerifier,
  type ModelVersion,
  openBucket,
  type SignedDomain,
  type SigningKey,
  type SwarmRound,
  type SwarmUpdate,
  signMessage,
  swarmServiceOf,
  type VerifyingKey,
} from "@x0/shared";
import { type NatsServer, startNatsServer } from "@x0/shared/testing";
import { Agent, type AgentOptions } from "../agent/agent.ts";
import { SHIPPED_TRAINING, SHIPPED_VALIDATION } from "../config.ts";
import { TrainingSet } from "../features/training-set.ts";
import { artefactVerifier, verifyModel } from "../models/artefact.ts";
import { ModelConflict, ModelStore } from "../models/store.ts";
import { epsilonAfter, PrivacyBudgetExhausted } from "../privacy/dp.ts";
import { Coordinator, type CoordinatorSettings, NotCoordinator } from "./coordinator.ts";

const backend = createNativeBackend();
const logger = createLogger({ service: "test", node: "c1", level: "error" });
const NODES = ["n1", "n2", "n3", "n4"];

/** A signing key of `service`, and the verifying key the keyring would hold. */
function keyOf(service: string): { key: SigningKey; verifying: VerifyingKey } {
  const pair = backend.sigKeypair();
  const keyId = `${service}-${crypto.randomUUID().slice(0, 8)}`;
  return {
    key: { keyId, alg: "ML-DSA-65", mldsaSecret: pair.secretKey },
    verifying: { keyId, service, alg: "ML-DSA-65", mldsaPublic: pair.publicKey, notBefore: Date.now() - 60_000, notAfter: Date.now() + 3_600_000 },
  };
}

const keys = new Map<string, VerifyingKey>();
const lookup = { get: (id: string) => keys.get(id) };
function identity(service: string): SigningKey {
  const { key, verifying } = keyOf(service);
  keys.set(key.keyId, verifying);
  return key;
}
const signer =
  (key: SigningKey) =>
  <T extends object>(domain: SignedDomain, message: T) =>
    signMessage(backend, domain, message, key);

const settings: CoordinatorSettings = {
  deadlineMs: 60_000,
  epochs: 3,
  learningRate: 0.05,
  batchSize: 32,
  maxUpdateNorm: 5,
  aggregator: "median",
  trim: 0.2,
  byzantine: 1,
  minParticipants: 3,
  expectedAgents: 0,
  hidden: [16],
  seed: 1,
  window: 5,
  baselineAlpha: 0.05,
};

let nats: NatsServer;
let nc: NatsConnection;
let store: ModelStore;
const validation = TrainingSet.read([SHIPPED_VALIDATION]);
const coordinatorKey = identity(swarmServiceOf("c1"));
let leader = true;

function newCoordinator(overrides: Partial<CoordinatorSettings> = {}, announced: SwarmRound[] = []): Coordinator {
  return new Coordinator({
    node: "c1",
    model: LINK_HEALTH_MODEL,
    settings: { ...settings, ...overrides },
    store,
    validation,
    verifier: new MessageVerifier({ backend, keys: lookup }),
    artefacts: artefactVerifier(backend, lookup),
    sign: signer(coordinatorKey),
    publishRound: (round) => announced.push(round),
    isLeader: () => leader,
    logger,
  });
}

function newAgent(node: string, sent: SwarmUpdate[], overrides: Partial<AgentOptions> = {}): Agent {
  return new Agent({
    node,
    model: LINK_HEALTH_MODEL,
    data: TrainingSet.read([SHIPPED_TRAINING], node),
    store,
    verifier: new MessageVerifier({ backend, keys: lookup }),
    artefacts: artefactVerifier(backend, lookup),
    sign: signer(identity(swarmServiceOf(node))),
    publish: (update) => sent.push(update),
    ...overrides,
  });
}

/** The adopted record (or one version's), as stored. */
async function storedRecord(version?: number): Promise<ModelVersion> {
  const stored = version === undefined ? await store.current() : await store.version(version);
  if (!stored) throw new Error(`no stored model ${version ?? "current"}`);
  return stored.raw as ModelVersion;
}

/** As received over NATS: JSON text parsed again. */
const wire = <T>(message: T): T => JSON.parse(JSON.stringify(message));

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connectNats({ servers: [nats.url], service: "swarm-test", instance: "main" });
});

beforeEach(async () => {
  // A fresh bucket per test: the tests do not see each other's versions.
  const kv = await openBucket(nc, Buckets.models);
  await kv.destroy();
  store = new ModelStore(await openBucket(nc, Buckets.models), LINK_HEALTH_MODEL);
  leader = true;
});

afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

/** Opens a round, lets every agent answer it, and returns the announcement and the updates sent. */
async function roundWithAgents(coordinator: Coordinator, agents: Agent[]): Promise<{ round: SwarmRound; updates: SwarmUpdate[] }> {
  const announced: SwarmRound[] = [];
  const round = await coordinator.open();
  announced.push(round);
  const updates: SwarmUpdate[] = [];
  for (const agent of agents) {
    const outcome = await agent.onRound(round, wire(round));
    if (outcome.kind === "submitted") updates.push(outcome.update);
  }
  return { round, updates };
}

describe("swarm coordinator", () => {
  test("coordinator - the initial model is written once, signed, and a second coordinator adopts it instead of writing another", async () => {
    const first = await newCoordinator().current();
    expect(first.model.record).toMatchObject({ version: 0, parent: null, status: "adopted", coordinator: "c1", classes: ["healthy", "degraded", "down"] });
    expect(first.model.record.validation.samples).toBe(validation.samples({ window: 5, baselineAlpha: 0.05 }).length);
    const again = await newCoordinator().current();
    expect(again.model.record.signature).toEqual(first.model.record.signature);
    expect(await store.highestVersion()).toBe(0);
    // The stored artefact verifies; a flipped parameter does not.
    const stored = await storedRecord();
    const artefacts = artefactVerifier(backend, lookup);
    expect((await verifyModel(artefacts, stored)).record.version).toBe(0);
    const params = decodeFloat32(stored.params) as Float32Array;
    params[0] = (params[0] as number) + 1;
    await expect(verifyModel(artefacts, { ...stored, params: encodeFloat32(params) })).rejects.toThrow(/bad_signature/);
    // Signed by another node's swarm identity than the coordinator it names: refused.
    const other = signMessage(backend, "swarm-model", { ...stored, coordinator: "n9" }, coordinatorKey);
    await expect(verifyModel(artefacts, wire(other))).rejects.toThrow(/not by its coordinator's identity swarm-n9/);
  });

  test("coordinator - four agents train on their own links, the median is adopted when it scores at least as well, and it learns", async () => {
    const coordinator = newCoordinator();
    const agents = NODES.map((node) => newAgent(node, []));
    const v0 = (await coordinator.current()).model.record;
    let latest = v0;
    for (let r = 1; r <= 3; r++) {
      const { round, updates } = await roundWithAgents(coordinator, agents);
      expect(updates.map((update) => update.node)).toEqual(NODES);
      for (const update of updates) expect(await coordinator.submit(update, wire(update), update.node)).toEqual({ accepted: true });
      const result = await coordinator.close();
      expect(result?.version).toMatchObject({
        version: r,
        parent: r - 1,
        round_id: round.round_id,
        status: "adopted",
        aggregator: "median",
        participants: NODES,
      });
      latest = result?.version as ModelVersion;
    }
    // Three rounds from a random start: the held-out macro F1 went up, and the adopted model is the last version.
    expect(latest.validation.macro_f1).toBeGreaterThan(v0.validation.macro_f1 + 0.3);
    expect((await storedRecord()).version).toBe(3);
    // Every agent's update names its own sample count, and each agent trained only on its node's links.
    expect(agents.map((agent) => agent.answered)).toEqual([3, 3, 3, 3]);
  });

  test("coordinator - unsigned, forged, foreign, replayed, stale-round, non-finite, oversized, misshapen and late updates are refused with the reason", async () => {
    const coordinator = newCoordinator({ deadlineMs: 60_000 });
    const agents = NODES.map((node) => newAgent(node, []));
    const previous = await roundWithAgents(coordinator, agents);
    for (const update of previous.updates) await coordinator.submit(update, wire(update), update.node);
    await coordinator.close();
    const { round, updates } = await roundWithAgents(coordinator, agents);
    const honest = updates[0] as SwarmUpdate;
    const { signature: _, ...unsigned } = honest;
    const n1Key = identity(swarmServiceOf("n1"));
    const strangerKey = keyOf(swarmServiceOf("n1")).key; // never put in the keyring
    const n5Key = identity(swarmServiceOf("n5"));
    const delta = decodeFloat32(honest.delta) as Float32Array;
    const resign = (fields: Partial<SwarmUpdate>, key = n1Key) => wire(signMessage(backend, "swarm-update", { ...unsigned, ...fields }, key));
    const cases: [string, SwarmUpdate, string, RegExp][] = [
      ["unsigned", unsigned as SwarmUpdate, "n1", /^unsigned/],
      ["forged", resign({}, strangerKey), "n1", /^unknown_key/],
      ["tampered", { ...wire(honest), samples: honest.samples + 1 }, "n1", /^bad_signature/],
      ["another node's key", resign({}, n5Key), "n1", /signed by swarm-n5, not by swarm-n1/],
      ["another node's subject", wire(honest), "n2", /published on node n2's subject/],
      ["an earlier round's update", wire(previous.updates[1] as SwarmUpdate), "n2", /the open round is/],
      ["non-finite", resign({ delta: encodeFloat32(delta.map((value, i) => (i === 3 ? Number.NaN : value))) }), "n1", /not finite|NaN/i],
      ["oversized", resign({ delta: encodeFloat32(delta.map((value) => value * 1e4)) }), "n1", /norm/],
      ["misshapen", resign({ delta: encodeFloat32(delta.slice(1)) }), "n1", /length|parameters|values/],
      ["not float32", resign({ delta: Buffer.from([1, 2, 3]).toString("base64") }), "n1", /whole number of float32/],
    ];
    for (const [name, update, subjectNode, reason] of cases) {
      const verdict = await coordinator.submit(update, update, subjectNode);
      expect(verdict.accepted, name).toBe(false);
      if (!verdict.accepted) expect(verdict.reason, name).toMatch(reason);
    }
    // The honest update is taken once; the same message again is a replay, a new one of the same node a duplicate.
    expect(await coordinator.submit(honest, wire(honest), "n1")).toEqual({ accepted: true });
    expect(await coordinator.submit(honest, wire(honest), "n1")).toMatchObject({
      accepted: false,
      kind: "signature",
      reason: expect.stringMatching(/^replayed/),
    });
    expect(await coordinator.submit(honest, resign({}), "n1")).toMatchObject({
      accepted: false,
      kind: "check",
      reason: expect.stringMatching(/already submitted/),
    });
    // After the deadline nothing is taken.
    const late = newCoordinator({ deadlineMs: 100 });
    const lateRound = await late.open();
    const lateUpdate = (await agents[1]?.onRound(lateRound, wire(lateRound))) as { kind: string; update: SwarmUpdate };
    await Bun.sleep(150);
    expect(await late.submit(lateUpdate.update, wire(lateUpdate.update), "n2")).toMatchObject({ accepted: false, reason: expect.stringMatching(/deadline/) });
    expect(round.round).toBe(2);
  });

  test("coordinator - a round whose aggregate scores below the adopted model is recorded as rejected and the adopted one stays", async () => {
    const coordinator = newCoordinator({ aggregator: "fedavg" });
    const agents = NODES.map((node) => newAgent(node, []));
    const good = await roundWithAgents(coordinator, agents);
    for (const update of good.updates) await coordinator.submit(update, wire(update), update.node);
    const adopted = (await coordinator.close())?.version as ModelVersion;
    expect(adopted.status).toBe("adopted");
    // Every agent is hostile this time: each sends its change reversed (within the norm bound), so FedAvg walks back.
    const bad = await roundWithAgents(coordinator, agents);
    for (const update of bad.updates) {
      const reversed = (decodeFloat32(update.delta) as Float32Array).map((value) => -3 * value);
      const { signature: _, ...fields } = update;
      const hostile = wire(signMessage(backend, "swarm-update", { ...fields, delta: encodeFloat32(reversed) }, identity(swarmServiceOf(update.node))));
      expect(await coordinator.submit(hostile, hostile, update.node)).toEqual({ accepted: true });
    }
    const rejected = (await coordinator.close())?.version as ModelVersion;
    expect(rejected).toMatchObject({ version: adopted.version + 1, parent: adopted.version, status: "rejected" });
    expect(rejected.validation.macro_f1).toBeLessThan(rejected.current_macro_f1 as number);
    expect(rejected.reason).toMatch(/below the adopted v1/);
    expect((await storedRecord()).version).toBe(adopted.version);
    expect((await storedRecord(rejected.version)).status).toBe("rejected");
    // The next round trains from the adopted version again and gets the next number.
    const next = await coordinator.open();
    expect(next.base_version).toBe(adopted.version);
  });

  test("coordinator - too few participants publish no model", async () => {
    const coordinator = newCoordinator({ minParticipants: 3 });
    const { updates } = await roundWithAgents(
      coordinator,
      NODES.slice(0, 2).map((node) => newAgent(node, [])),
    );
    for (const update of updates) await coordinator.submit(update, wire(update), update.node);
    const result = await coordinator.close();
    expect(result?.version).toBeUndefined();
    expect(result?.outcome).toMatchObject({ published: false, reason: "2 of the 3 participants needed" });
    expect(await store.highestVersion()).toBe(0);
  });

  test("coordinator - one that lost its lease mid-round writes nothing, and a version written by another first is a conflict", async () => {
    const coordinator = newCoordinator();
    const agents = NODES.map((node) => newAgent(node, []));
    const { updates } = await roundWithAgents(coordinator, agents);
    for (const update of updates) await coordinator.submit(update, wire(update), update.node);
    leader = false;
    await expect(coordinator.close()).rejects.toBeInstanceOf(NotCoordinator);
    expect(await store.highestVersion()).toBe(0);
    leader = true;
    const current = await storedRecord();
    const copy = signMessage(backend, "swarm-model", { ...current, version: 1, parent: 0 }, coordinatorKey);
    await store.publish(copy, (await store.current())?.revision as number);
    await expect(store.publish(copy, 1)).rejects.toBeInstanceOf(ModelConflict);
  });
});

describe("swarm coordinator with differential privacy", () => {
  test("dp rounds - announced with the sample rate, each version records the spent ε, and the round past the budget is not opened", async () => {
    // σ 1.0, every agent (q 1), 4 expected participants; the budget allows exactly two rounds.
    const base = { noiseMultiplier: 1.0, clipNorm: 1, sampleRate: 1, expectedParticipants: 4, delta: 1e-5 };
    const budget = (epsilonAfter(2, { ...base, epsilonBudget: 0 }) + epsilonAfter(3, { ...base, epsilonBudget: 0 })) / 2;
    const privacy = { ...base, epsilonBudget: budget };
    const coordinator = newCoordinator({ aggregator: "fedavg", privacy });
    const agents = NODES.map((node) => newAgent(node, []));
    const spent: number[] = [];
    for (let r = 1; r <= 2; r++) {
      const { round, updates } = await roundWithAgents(coordinator, agents);
      expect(round.sample_rate).toBe(1);
      for (const update of updates) await coordinator.submit(update, wire(update), update.node);
      const version = (await coordinator.close())?.version as ModelVersion;
      expect(version.privacy).toMatchObject({
        noise_multiplier: 1,
        clip_norm: 1,
        sample_rate: 1,
        expected_participants: 4,
        adjacency: "add-remove",
        rounds: r,
        delta: 1e-5,
      });
      spent.push(version.privacy?.epsilon as number);
    }
    expect(spent[0]).toBeCloseTo(epsilonAfter(1, privacy), 5);
    expect(spent[1]).toBeCloseTo(epsilonAfter(2, privacy), 5);
    // A restarted coordinator reads the spent rounds from the stored versions, and refuses the third.
    const restarted = newCoordinator({ aggregator: "fedavg", privacy });
    expect(await restarted.privateRoundsDone()).toBe(2);
    await expect(restarted.open()).rejects.toBeInstanceOf(PrivacyBudgetExhausted);
    expect(restarted.openRound).toBeUndefined();
  });

  test("dp rounds - agents take part with the announced rate, drawing on their own", async () => {
    const privacy = { noiseMultiplier: 1.0, clipNorm: 1, sampleRate: 0.5, expectedParticipants: 2, epsilonBudget: 100, delta: 1e-5 };
    const coordinator = newCoordinator({ aggregator: "fedavg", privacy });
    const round = await coordinator.open();
    const draws = [0.2, 0.7];
    const outcomes = [];
    for (const [i, node] of ["n1", "n2"].entries()) {
      const agent = newAgent(node, [], { draw: () => draws[i] as number });
      outcomes.push(await agent.onRound(round, wire(round)));
    }
    expect(outcomes[0]).toMatchObject({ kind: "submitted" });
    expect(outcomes[1]).toEqual({ kind: "skipped", reason: `not sampled for round ${round.round} (rate 0.5)` });
  });
});

describe("swarm agent", () => {
  test("agent - announcements that are unsigned, forged, signed by another than their coordinator, or past their deadline get no update", async () => {
    const coordinator = newCoordinator();
    const round = await coordinator.open();
    const sent: SwarmUpdate[] = [];
    const agent = newAgent("n2", sent);
    const { signature: _, ...unsigned } = round;
    expect(await agent.onRound(round, unsigned)).toMatchObject({ kind: "refused", reason: expect.stringMatching(/^announcement unsigned/) });
    const forged = wire(signMessage(backend, "swarm-round", unsigned, keyOf(swarmServiceOf("c1")).key));
    expect(await agent.onRound(forged, forged)).toMatchObject({ kind: "refused", reason: expect.stringMatching(/unknown_key/) });
    const byAgent = wire(signMessage(backend, "swarm-round", unsigned, identity(swarmServiceOf("n3"))));
    expect(await agent.onRound(byAgent, byAgent)).toMatchObject({ kind: "refused", reason: expect.stringMatching(/not by its coordinator c1/) });
    const past = wire(signMessage(backend, "swarm-round", { ...unsigned, deadline_at: Date.now() - 1 }, coordinatorKey));
    expect(await agent.onRound(past, past)).toMatchObject({ kind: "skipped" });
    expect(sent).toEqual([]);
    // The real one is answered once.
    expect(await agent.onRound(round, wire(round))).toMatchObject({ kind: "submitted" });
    expect(await agent.onRound(round, wire(round))).toMatchObject({ kind: "skipped" });
    expect(sent).toHaveLength(1);
  });

  test("agent - an agent with no samples of its own node takes no part", async () => {
    const coordinator = newCoordinator();
    const round = await coordinator.open();
    const agent = new Agent({
      node: "n7",
      model: LINK_HEALTH_MODEL,
      data: TrainingSet.read([SHIPPED_TRAINING], "n7"),
      store,
      verifier: new MessageVerifier({ backend, keys: lookup }),
      artefacts: artefactVerifier(backend, lookup),
      sign: signer(identity(swarmServiceOf("n7"))),
      publish: () => {
        throw new Error("must not publish");
      },
    });
    expect(await agent.onRound(round, wire(round))).toEqual({ kind: "skipped", reason: "no labelled samples of node n7" });
  });
});
