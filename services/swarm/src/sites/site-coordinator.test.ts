// A site's adapter rounds in one process over a real nats-server's x0_models bucket: members train only B on the
// shipped lossy-site recording, the averaged adapter is signed and adopted under the site's held-out guard, and every
// kind of refused update, a worse adapter, a missing base and a lost lease are handled.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  type AdapterRound,
  type AdapterUpdate,
  type AdapterVersion,
  Buckets,
  connectNats,
  createLogger,
  createNativeBackend,
  decodeFloat32,
  encodeFloat32,
  LINK_HEALTH_MODEL,
  MessageVerifier,
  openBucket,
  type SignedDomain,
  type SigningKey,
  signMessage,
  swarmServiceOf,
  type VerifyingKey,
} from "@x0/shared";
import { type NatsServer, startNatsServer } from "@x0/shared/testing";
import { classWeightsOf } from "../agent/local-update.ts";
import { SHIPPED_SITE_TRAINING, SHIPPED_SITE_VALIDATION, SHIPPED_TRAINING } from "../config.ts";
import { LINK_CLASSES } from "../features/labels.ts";
import { FEATURE_COUNT, LINK_FEATURES } from "../features/link-features.ts";
import { TrainingSet } from "../features/training-set.ts";
import { evaluate } from "../model/evaluate.ts";
import { adapterParameterCount } from "../model/lora.ts";
import { Mlp, seededRandom, train } from "../model/mlp.ts";
import { adaptedModel, verifyAdapter } from "../models/adapter.ts";
import { artefactVerifier, modelRecord, validationOf, verifyModel } from "../models/artefact.ts";
import { AdapterStore, ModelStore } from "../models/store.ts";
import { SiteAgent } from "./site-agent.ts";
import { NoBaseModel, SiteCoordinator, SiteNotCoordinator, type SiteSettings } from "./site-coordinator.ts";

const backend = createNativeBackend();
const logger = createLogger({ service: "test", node: "n1", level: "error" });
const MEMBERS = ["n1", "n2", "n3", "n4"];
const SITE = "lossy";
const window = { window: 5, baselineAlpha: 0.05 };

const keys = new Map<string, VerifyingKey>();
const lookup = { get: (id: string) => keys.get(id) };
function identity(service: string): SigningKey {
  const pair = backend.sigKeypair();
  const keyId = `${service}-${crypto.randomUUID().slice(0, 8)}`;
  keys.set(keyId, { keyId, service, alg: "ML-DSA-65", mldsaPublic: pair.publicKey, notBefore: Date.now() - 60_000, notAfter: Date.now() + 3_600_000 });
  return { keyId, alg: "ML-DSA-65", mldsaSecret: pair.secretKey };
}
const signer =
  (key: SigningKey) =>
  <T extends object>(domain: SignedDomain, message: T) =>
    signMessage(backend, domain, message, key);
const wire = <T>(message: T): T => JSON.parse(JSON.stringify(message));

const settings: SiteSettings = {
  adapter: { rank: 4, alpha: 8, seed: 7 },
  deadlineMs: 60_000,
  epochs: 3,
  learningRate: 0.05,
  batchSize: 32,
  maxUpdateNorm: 5,
  aggregator: "fedavg",
  trim: 0.2,
  byzantine: 1,
  minParticipants: 2,
  expectedAgents: 0,
};

const siteValidation = TrainingSet.read([SHIPPED_SITE_VALIDATION]);
const coordinatorKey = identity(swarmServiceOf("n1"));
let nats: NatsServer;
let nc: NatsConnection;
let models: ModelStore;
let adapters: AdapterStore;
let leader = true;

/** The base: a model trained centrally on the shipped grid recording (no 10 % standing loss), stored signed as v0. */
async function storeBase(): Promise<void> {
  const data = TrainingSet.read([SHIPPED_TRAINING]).samples(window);
  const mlp = Mlp.init({ inputs: FEATURE_COUNT, hidden: [16], outputs: LINK_CLASSES.length }, seededRandom(1));
  train(mlp, data, { epochs: 30, learningRate: 0.05, batchSize: 32, random: seededRandom(2), classWeights: classWeightsOf(data, LINK_CLASSES.length) });
  const record = signer(coordinatorKey)(
    "swarm-model",
    modelRecord({
      model: LINK_HEALTH_MODEL,
      version: 0,
      parent: null,
      round_id: null,
      mlp,
      classes: [...LINK_CLASSES],
      features: [...LINK_FEATURES],
      window: { ...window, helloIntervalMs: 20 },
      aggregator: null,
      participants: [],
      used: [],
      refused: 0,
      validation: validationOf(evaluate(mlp, data), LINK_CLASSES),
      current_macro_f1: null,
      status: "adopted",
      coordinator: "n1",
      created_at: Date.now(),
    }),
  );
  await models.publish(record, 0);
}

function newCoordinator(overrides: Partial<SiteSettings> = {}, announced: AdapterRound[] = []): SiteCoordinator {
  return new SiteCoordinator({
    node: "n1",
    site: SITE,
    model: LINK_HEALTH_MODEL,
    settings: { ...settings, ...overrides },
    models,
    adapters,
    validation: siteValidation,
    verifier: new MessageVerifier({ backend, keys: lookup }),
    artefacts: artefactVerifier(backend, lookup),
    sign: signer(coordinatorKey),
    publishRound: (round) => announced.push(round),
    isLeader: () => leader,
    logger,
  });
}

function newMember(node: string, key = identity(swarmServiceOf(node))): SiteAgent {
  return new SiteAgent({
    node,
    site: SITE,
    model: LINK_HEALTH_MODEL,
    data: TrainingSet.read([SHIPPED_SITE_TRAINING], node),
    models,
    adapters,
    verifier: new MessageVerifier({ backend, keys: lookup }),
    artefacts: artefactVerifier(backend, lookup),
    sign: signer(key),
    publish: () => {},
  });
}

/** Opens a round and lets each member answer; the announcement and the updates. */
async function roundWith(coordinator: SiteCoordinator, members: SiteAgent[]): Promise<{ round: AdapterRound; updates: AdapterUpdate[] }> {
  const round = await coordinator.open();
  const updates: AdapterUpdate[] = [];
  for (const member of members) {
    const outcome = await member.onRound(round, wire(round));
    if (outcome.kind === "submitted") updates.push(outcome.update);
  }
  return { round, updates };
}

/** Share of the site's healthy held-out samples a model calls faulty. */
function falseAlarmRate(mlp: Mlp): number {
  const healthy = siteValidation.samples(window).filter((sample) => sample.y === 0);
  const alarms = healthy.filter((sample) => {
    const p = mlp.predict(sample.x);
    return (p[0] as number) < Math.max(p[1] as number, p[2] as number);
  });
  return alarms.length / healthy.length;
}

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connectNats({ servers: [nats.url], service: "swarm-site-test", instance: "main" });
});

beforeEach(async () => {
  await (await openBucket(nc, Buckets.models)).destroy();
  const kv = await openBucket(nc, Buckets.models);
  models = new ModelStore(kv, LINK_HEALTH_MODEL);
  adapters = new AdapterStore(kv, LINK_HEALTH_MODEL, SITE);
  leader = true;
});

afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

describe("swarm site adapters", () => {
  test("site - members send only B, the mean adapter is adopted on the site's held-out set, and it adapts", async () => {
    await storeBase();
    const coordinator = newCoordinator();
    const members = MEMBERS.map((node) => newMember(node));
    const base = await verifyModel(artefactVerifier(backend, lookup), (await models.current())?.raw);
    const bCount = adapterParameterCount(base.mlp, settings.adapter.rank);
    expect(bCount).toBe(16 * 4 + 3 * 4);
    let adopted: number | null = null;
    for (let r = 1; r <= 3; r++) {
      const { round, updates } = await roundWith(coordinator, members);
      // Each round starts from the site's adopted adapter (none at first: B = 0, the base unchanged).
      expect(round).toMatchObject({ site: SITE, base_version: 0, adapter_version: adopted, adapter: settings.adapter });
      expect(updates.map((update) => update.node)).toEqual(MEMBERS);
      // Only the adapter travels: B's 76 values, not the model's 227.
      for (const update of updates) expect(decodeFloat32(update.delta)?.length).toBe(bCount);
      for (const update of updates) expect(await coordinator.submit(update, wire(update), update.node)).toEqual({ accepted: true });
      const version = (await coordinator.close())?.version as AdapterVersion;
      expect(version).toMatchObject({ version: r - 1, parent: adopted, base_version: 0, participants: MEMBERS });
      // The guard: adopted exactly when it scores at least what the site ran (the base alone before the first).
      expect(version.status).toBe(version.validation.macro_f1 >= version.current_macro_f1 ? "adopted" : "rejected");
      if (r === 1) expect(version).toMatchObject({ status: "adopted", current_macro_f1: version.base_macro_f1 });
      if (version.status === "adopted") adopted = version.version;
    }
    const stored = await adapters.current();
    const loaded = await verifyAdapter(artefactVerifier(backend, lookup), stored?.raw);
    expect(loaded.record.version).toBe(adopted as number);
    // Base alone calls nearly every healthy sample of the lossy site faulty; base + adapter few of them.
    const adapted = adaptedModel(base, loaded);
    expect(adapted.adapter).toEqual({ site: SITE, version: adopted as number });
    expect(falseAlarmRate(base.mlp)).toBeGreaterThan(0.9);
    expect(falseAlarmRate(adapted.mlp)).toBeLessThan(0.05);
    expect(loaded.record.validation.macro_f1).toBeGreaterThan(loaded.record.base_macro_f1 + 0.4);
    // The base stayed frozen: its stored version is unchanged.
    expect((await models.highestVersion()) as number).toBe(0);
  });

  test("site - forged, foreign, misrouted, stale and oversized updates are refused with their reason", async () => {
    await storeBase();
    const coordinator = newCoordinator();
    const { updates } = await roundWith(coordinator, [newMember("n2"), newMember("n3")]);
    const [good, other] = updates as [AdapterUpdate, AdapterUpdate];
    const tampered = { ...good, samples: good.samples + 1 };
    expect(await coordinator.submit(tampered, wire(tampered), "n2")).toMatchObject({ accepted: false, kind: "signature" });
    expect(await coordinator.submit(good, wire(good), "n3")).toMatchObject({ accepted: false, kind: "identity" });
    // Signed by n3's identity but claiming to be n2.
    const impostor = signer(identity(swarmServiceOf("n3")))("swarm-adapter-update", { ...good, signature: undefined });
    expect(await coordinator.submit(impostor as AdapterUpdate, wire(impostor), "n2")).toMatchObject({ accepted: false, kind: "identity" });
    const stale = signer(identity(swarmServiceOf("n2")))("swarm-adapter-update", { ...good, round_id: crypto.randomUUID(), signature: undefined });
    expect(await coordinator.submit(stale as AdapterUpdate, wire(stale), "n2")).toMatchObject({ accepted: false, kind: "round" });
    const huge = signer(identity(swarmServiceOf("n2")))("swarm-adapter-update", {
      ...good,
      delta: encodeFloat32(new Float32Array(76).fill(10)),
      signature: undefined,
    });
    expect(await coordinator.submit(huge as AdapterUpdate, wire(huge), "n2")).toMatchObject({ accepted: false, kind: "check" });
    // A model update's signature does not make an adapter update (domain separation).
    const crossDomain = signer(identity(swarmServiceOf("n2")))("swarm-update", { ...good, signature: undefined });
    expect(await coordinator.submit(crossDomain as AdapterUpdate, wire(crossDomain), "n2")).toMatchObject({ accepted: false, kind: "signature" });
    expect(await coordinator.submit(good, wire(good), "n2")).toEqual({ accepted: true });
    expect(await coordinator.submit(other, wire(other), "n3")).toEqual({ accepted: true });
    expect((await coordinator.close())?.version?.status).toBe("adopted");
  });

  test("site - an adapter that scores below what the site runs is written rejected and the adopted one stays", async () => {
    await storeBase();
    const coordinator = newCoordinator();
    const members = MEMBERS.map((node) => newMember(node));
    const first = await roundWith(coordinator, members);
    for (const update of first.updates) await coordinator.submit(update, wire(update), update.node);
    const adopted = (await coordinator.close())?.version as AdapterVersion;
    // A second round where two members send a change that undoes the adapter and flips half of it (within the norm bound).
    const { round } = await roundWith(coordinator, []);
    const undo = (decodeFloat32(adopted.params) as Float32Array).map((value) => -1.5 * value);
    for (const node of ["n2", "n3"]) {
      const update = signer(identity(swarmServiceOf(node)))("swarm-adapter-update", {
        v: 1 as const,
        model: LINK_HEALTH_MODEL,
        site: SITE,
        round_id: round.round_id,
        round: round.round,
        base_version: round.base_version,
        adapter_version: round.adapter_version,
        node,
        samples: 100,
        delta: encodeFloat32(undo),
      });
      expect(await coordinator.submit(update, wire(update), node)).toEqual({ accepted: true });
    }
    const result = await coordinator.close();
    expect(result?.version).toMatchObject({ version: 1, parent: 0, status: "rejected" });
    expect(result?.version?.reason).toMatch(/below base v0 \+ adapter v0's/);
    expect(((await adapters.current())?.raw as AdapterVersion | undefined)?.version).toBe(0);
  });

  test("site - stored adapters are verified: tampered, another identity, another base version", async () => {
    await storeBase();
    const coordinator = newCoordinator();
    const { updates } = await roundWith(coordinator, [newMember("n1"), newMember("n4")]);
    for (const update of updates) await coordinator.submit(update, wire(update), update.node);
    await coordinator.close();
    const artefacts = artefactVerifier(backend, lookup);
    const stored = (await adapters.current())?.raw as AdapterVersion;
    const b = decodeFloat32(stored.params) as Float32Array;
    b[0] = (b[0] as number) + 1;
    await expect(verifyAdapter(artefacts, { ...stored, params: encodeFloat32(b) })).rejects.toThrow(/bad_signature/);
    const otherCoordinator = signMessage(backend, "swarm-adapter", { ...stored, coordinator: "n9", signature: undefined }, coordinatorKey);
    await expect(verifyAdapter(artefacts, wire(otherCoordinator))).rejects.toThrow(/not by its coordinator's identity swarm-n9/);
    // Signed as a model, it is no adapter.
    const asModel = signMessage(backend, "swarm-model", { ...stored, signature: undefined }, coordinatorKey);
    await expect(verifyAdapter(artefacts, wire(asModel))).rejects.toThrow(/bad_signature|domain/);
    const base = await verifyModel(artefacts, (await models.current())?.raw);
    const loaded = await verifyAdapter(artefacts, stored);
    expect(() => adaptedModel({ ...base, record: { ...base.record, version: 5 } }, loaded)).toThrow(/adapts v0, not the loaded v5/);
  });

  test("site - no adopted model: no round; a lost lease writes nothing", async () => {
    await expect(newCoordinator().open()).rejects.toBeInstanceOf(NoBaseModel);
    await storeBase();
    const coordinator = newCoordinator();
    const { updates } = await roundWith(coordinator, [newMember("n1"), newMember("n2")]);
    for (const update of updates) await coordinator.submit(update, wire(update), update.node);
    leader = false;
    await expect(coordinator.close()).rejects.toBeInstanceOf(SiteNotCoordinator);
    expect(await adapters.highestVersion()).toBe(-1);
  });
});
