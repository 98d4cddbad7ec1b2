// Signed control plane across real processes: crypto service, planner and executor on a real nats-server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  CRYPTO_GROUP,
  type CryptoEndpoint,
  createLogger,
  createNativeBackend,
  createNobleBackend,
  createXWing,
  fileKek,
  fromBase64,
  Keyring,
  type Plan,
  SigningIdentity,
  signMessage,
  toBase64,
} from "@x0/shared";
import {
  anomalyFixture,
  type EventRecorder,
  recordEvents,
  type SecureNats,
  type ServiceProcess,
  startSecureNats,
  startServiceProcess,
  waitFor,
} from "@x0/shared/testing";
import { testClient } from "./helpers.ts";

const NODE = "pq1";
const backend = createNativeBackend();
const logger = createLogger({ service: "test", node: NODE, level: "error" });
let secure: SecureNats;
let nats: SecureNats["nats"];
let nc: NatsConnection;
let recorder: EventRecorder;
let keyring: Keyring;
let tester: SigningIdentity;
let intruder: SigningIdentity;
let keyDir: string;
const kekBytes = crypto.getRandomValues(new Uint8Array(32));
const kek = fileKek(kekBytes, "X0_KEK");
const services: ServiceProcess[] = [];
const service = (name: string) => services.find((s) => s.name === name) as ServiceProcess;

beforeAll(async () => {
  secure = await startSecureNats({ nodes: [NODE] });
  nats = secure.nats;
  keyDir = mkdtempSync(join(tmpdir(), "x0-keys-"));
  // Test keys are generated here, at test time; nothing secret is in the repository.
  const common = { ...secure.serviceEnv, X0_NODE: NODE, X0_LOG_LEVEL: "warn", X0_KEK: toBase64(kekBytes), X0_KEY_DIR: keyDir };
  services.push(
    startServiceProcess("crypto", common),
    startServiceProcess("planner", { ...common, X0_KEY_ROTATE_INTERVAL_MS: "4000", X0_KEY_OVERLAP_MS: "60000" }),
    startServiceProcess("executor", { ...common, X0_EXECUTOR_PLAN_SIGNERS: "planner,tester" }),
  );
  await Promise.all(services.map((s) => s.waitReady()));
  nc = await testClient(nats.url, secure.adminTls);
  recorder = await recordEvents(nc);
  keyring = await Keyring.open(nc, logger);
  const identity = (name: string) =>
    SigningIdentity.open({ service: name, backend, keyring, kek, dir: keyDir, alg: "ML-DSA-65", rotateIntervalMs: 3_600_000, overlapMs: 60_000, logger });
  tester = await identity("tester");
  intruder = await identity("intruder");
}, 60_000);

afterAll(async () => {
  tester?.stop();
  intruder?.stop();
  keyring?.stop();
  await nc?.close();
  await Promise.all(services.map((s) => s.stop()));
  await secure?.dispose();
  rmSync(keyDir, { recursive: true, force: true });
});

/** A request to the crypto service: the reply body, or the ADR-32 error code and description. */
async function call(endpoint: CryptoEndpoint | string, body: unknown): Promise<{ data?: Record<string, unknown>; code?: string; error?: string }> {
  const payload = typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
  const reply = await nc.request(`${CRYPTO_GROUP}.${endpoint}`, payload, { timeout: 5000 });
  const code = reply.headers?.get("Nats-Service-Error-Code");
  if (code) return { code, error: reply.headers?.get("Nats-Service-Error") };
  return { data: reply.json() };
}

function plan(overrides: Partial<Plan> = {}): Plan {
  return {
    v: 1,
    plan_id: crypto.randomUUID(),
    incident_id: crypto.randomUUID(),
    node: NODE,
    kind: "link_degraded",
    rule: "test-rule",
    approval: "auto",
    actions: [{ type: "raise_link_cost", params: { interface: "mesh0", cost: 10 }, reason: "test" }],
    created_at: Date.now(),
    ...overrides,
  };
}

async function publishPlan(body: unknown): Promise<void> {
  await jetstream(nc).publish(`x0.plan.${NODE}`, JSON.stringify(body), { msgID: crypto.randomUUID() });
}

const executedIds = () => recorder.results.map((r) => r.message.plan_id);
const letters = () => recorder.deadLetters.filter((d) => d.subject === "x0.dlq.executor").map((d) => d.message);

async function rejections(): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${service("executor").port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const match of text.matchAll(/^x0_plan_rejections_total\{reason="(\w+)"[^}]*\} (\d+)/gm)) out[match[1] as string] = Number(match[2]);
  return out;
}

async function expectRejected(body: Plan, reason: string): Promise<void> {
  const before = letters().length;
  const count = (await rejections())[reason] ?? 0;
  await publishPlan(body);
  await waitFor(`dead letter (${reason})`, () => letters().length > before, 10_000);
  const letter = letters().find((l) => JSON.parse(l.payload).plan_id === body.plan_id);
  expect(letter?.error).toContain(`plan rejected: ${reason}`);
  expect(letter?.subject).toBe(`x0.plan.${NODE}`);
  expect(JSON.parse(letter?.payload ?? "{}")).toEqual(JSON.parse(JSON.stringify(body)));
  expect((await rejections())[reason]).toBe(count + 1);
  expect(executedIds()).not.toContain(body.plan_id);
}

describe("crypto service", () => {
  test("crypto - is discoverable through $SRV.INFO with every endpoint in group x0.crypto and reports its backend", async () => {
    const info = (await nc.request("$SRV.INFO.x0-crypto", "", { timeout: 5000 })).json<{
      endpoints: { subject: string }[];
      metadata: Record<string, string>;
    }>();
    const subjects = info.endpoints.map((e) => e.subject).sort();
    expect(subjects).toContain("x0.crypto.kem.keypair");
    expect(subjects).toContain("x0.crypto.hybrid.decaps");
    expect(subjects).toContain("x0.crypto.keys.list");
    expect(subjects).toHaveLength(13);
    expect(info.metadata.backend).toBe("native");
    const health = await call("health", {});
    expect(health.data?.backend).toBe("native");
    expect(health.data?.hybrid).toBe("X-Wing");
    expect(health.data?.kek_source).toBe("X0_KEK");
    const metrics = await (await fetch(`http://127.0.0.1:${service("crypto").port}/metrics`)).text();
    expect(metrics).toMatch(/x0_crypto_backend_info\{backend="native",version="bun [^"]+"[^}]*\} 1/);
  });

  test("crypto - KEM, signature and X-Wing endpoints interoperate with the independent noble implementation", async () => {
    const noble = createNobleBackend();
    const kem = (await call("kem.keypair", {})).data as { public_key: string; secret_key: string };
    const enc = (await call("kem.encaps", { public_key: kem.public_key })).data as { ciphertext: string; shared_secret: string };
    expect(toBase64(await noble.kemDecaps(fromBase64(kem.secret_key, "sk"), fromBase64(enc.ciphertext, "ct")))).toBe(enc.shared_secret);
    expect((await call("kem.decaps", { secret_key: kem.secret_key, ciphertext: enc.ciphertext })).data?.shared_secret).toBe(enc.shared_secret);

    const sig = (await call("sig.keypair", {})).data as { public_key: string; secret_key: string };
    const message = toBase64(new TextEncoder().encode("hello mesh"));
    const signed = (await call("sig.sign", { secret_key: sig.secret_key, message })).data as { signature: string };
    expect(noble.sigVerify(fromBase64(sig.public_key, "pk"), fromBase64(message, "m"), fromBase64(signed.signature, "s"))).toBe(true);
    expect((await call("sig.verify", { public_key: sig.public_key, message, signature: signed.signature })).data?.valid).toBe(true);
    const other = toBase64(new TextEncoder().encode("hello mash"));
    expect((await call("sig.verify", { public_key: sig.public_key, message: other, signature: signed.signature })).data?.valid).toBe(false);

    const hybrid = (await call("hybrid.keypair", {})).data as { public_key: string; secret_key: string };
    const henc = (await call("hybrid.encaps", { public_key: hybrid.public_key })).data as { ciphertext: string; shared_secret: string };
    const local = await createXWing(noble).decaps(fromBase64(hybrid.secret_key, "sk"), fromBase64(henc.ciphertext, "ct"));
    expect(toBase64(local)).toBe(henc.shared_secret);
    expect((await call("hybrid.decaps", { secret_key: hybrid.secret_key, ciphertext: henc.ciphertext })).data?.shared_secret).toBe(henc.shared_secret);
  });

  test("crypto - wrong lengths and forms get a clear 400 in the Nats-Service-Error headers", async () => {
    const kem = (await call("kem.keypair", {})).data as { public_key: string; secret_key: string };
    const short = await call("kem.encaps", { public_key: toBase64(fromBase64(kem.public_key, "pk").subarray(1)) });
    expect(short.code).toBe("400");
    expect(short.error).toContain("ML-KEM-768 public key must be 1184 bytes, got 1183");
    const badSig = await call("sig.verify", { public_key: kem.public_key, message: "", signature: "AAAA" });
    expect(badSig.code).toBe("400");
    expect((await call("kem.decaps", { secret_key: "not base64!", ciphertext: "" })).error).toContain("secret_key is not valid base64");
    expect((await call("kem.encaps", "{not json")).error).toContain("invalid JSON");
    expect((await call("kem.encaps", { public_key: 5 })).code).toBe("400");
    expect((await call("keys.revoke", { key_id: "nobody-0000", reason: "x" })).error).toContain("unknown key");
  });

  test("crypto - every endpoint survives random and truncated input with an error reply, and the service stays ready", async () => {
    const endpoints: CryptoEndpoint[] = [
      "kem.encaps",
      "kem.decaps",
      "sig.sign",
      "sig.verify",
      "hybrid.encaps",
      "hybrid.decaps",
      "keys.rotate",
      "keys.revoke",
      "keys.list",
    ];
    const valid = {
      "kem.encaps": (await call("kem.keypair", {})).data,
      "hybrid.encaps": (await call("hybrid.keypair", {})).data,
    };
    const randomBase64 = (n: number) => toBase64(crypto.getRandomValues(new Uint8Array(n)));
    const fields = ["public_key", "secret_key", "ciphertext", "message", "signature", "key_id", "service", "reason"];
    let replies = 0;
    for (const endpoint of endpoints) {
      const inputs: (string | Uint8Array | Record<string, unknown>)[] = [
        crypto.getRandomValues(new Uint8Array(64)),
        JSON.stringify(valid["kem.encaps"]).slice(0, 50),
        "[]",
        "null",
        { extra: 1 },
      ];
      for (let i = 0; i < 12; i++) {
        const body: Record<string, unknown> = {};
        for (const field of fields)
          if (Math.random() < 0.6) body[field] = Math.random() < 0.5 ? randomBase64(Math.floor(Math.random() * 4000)) : randomBase64(3).slice(0, 3);
        inputs.push(body);
      }
      for (const input of inputs) {
        const reply = await call(endpoint, input);
        replies += 1;
        // Either a well-formed answer (e.g. sig.verify false) or a client error; never a timeout or a 500.
        if (reply.code) expect(["400", "501"]).toContain(reply.code);
      }
    }
    expect(replies).toBeGreaterThan(100);
    expect(await service("crypto").ready()).toBe(true);
    expect((await call("health", {})).data?.status).toBe("ok");
  }, 60_000);
});

describe("signed plans", () => {
  test("signed plans - the real planner's plans carry a signature the executor accepts, and results are signed", async () => {
    const anomaly = anomalyFixture({ node: NODE });
    await jetstream(nc).publish(`x0.anomaly.${NODE}`, JSON.stringify(anomaly));
    await waitFor("result", () => recorder.results.some((r) => r.message.incident_id === anomaly.incident_id), 10_000);
    const signature = recorder.plans.find((p) => p.message.incident_id === anomaly.incident_id)?.message.signature;
    expect(signature?.key_id).toMatch(/^planner-[0-9a-f]{16}$/);
    expect(signature?.alg).toBe("ML-DSA-65");
    const result = recorder.results.find((r) => r.message.incident_id === anomaly.incident_id);
    expect(result?.message.signature?.key_id).toMatch(/^executor-[0-9a-f]{16}$/);
  });

  test("signed plans - a plan signed by an allowed key is executed", async () => {
    const body = signMessage(backend, "plan", plan(), tester.current());
    await publishPlan(body);
    await waitFor("executed", () => executedIds().includes(body.plan_id), 10_000);
  });

  test("signed plans - an unsigned plan is rejected, dead-lettered and counted", async () => {
    await expectRejected(plan(), "unsigned");
  });

  test("signed plans - a forged plan (changed after signing) is rejected", async () => {
    const signed = signMessage(backend, "plan", plan(), tester.current());
    await expectRejected({ ...signed, actions: [{ type: "quarantine_neighbour", params: { neighbour: "aa:bb" }, reason: "forged" }] }, "bad_signature");
    const garbage = signMessage(backend, "plan", plan(), tester.current());
    await expectRejected({ ...garbage, signature: { ...garbage.signature, value: toBase64(crypto.getRandomValues(new Uint8Array(3309))) } }, "bad_signature");
  });

  test("signed plans - a result signature cannot pass as a plan signature (domain separation)", async () => {
    const asResult = signMessage(backend, "action", plan(), tester.current());
    await expectRejected(asResult, "bad_signature");
  });

  test("signed plans - a replayed plan (same signed message again) is rejected", async () => {
    const body = signMessage(backend, "plan", plan(), tester.current());
    await publishPlan(body);
    await waitFor("first executed", () => executedIds().includes(body.plan_id), 10_000);
    const before = letters().length;
    await publishPlan(body);
    await waitFor("replay dead-lettered", () => letters().length > before, 10_000);
    expect(letters().at(-1)?.error).toContain("plan rejected: replayed");
    expect(executedIds().filter((id) => id === body.plan_id)).toHaveLength(1);
  });

  test("signed plans - stale plans, unknown keys and keys of services not allowed to plan are rejected", async () => {
    await expectRejected(signMessage(backend, "plan", plan(), tester.current(), Date.now() - 10 * 60_000), "stale");
    const unknown = { keyId: "ghost-0123456789abcdef", alg: "ML-DSA-65" as const, mldsaSecret: backend.sigKeypair().secretKey };
    await expectRejected(signMessage(backend, "plan", plan(), unknown), "unknown_key");
    await expectRejected(signMessage(backend, "plan", plan(), intruder.current()), "unauthorized_signer");
  });

  test("signed plans - a plan signed with a key revoked through the crypto service is rejected", async () => {
    const revokedKey = tester.current();
    const revoked = await call("keys.revoke", { key_id: revokedKey.keyId, reason: "test compromise" });
    expect(revoked.data?.key_id).toBe(revokedKey.keyId);
    await expectRejected(signMessage(backend, "plan", plan(), revokedKey), "revoked_key");
    const listed = (await call("keys.list", { service: "tester" })).data?.keys as { key_id: string; revoked_at?: number }[];
    expect(listed.find((k) => k.key_id === revokedKey.keyId)?.revoked_at).toBeGreaterThan(0);
    // The holder sees its key revoked and rotates to a new one, which verifies.
    await waitFor("tester rotated", () => tester.current().keyId !== revokedKey.keyId, 10_000);
    const body = signMessage(backend, "plan", plan(), tester.current());
    await publishPlan(body);
    await waitFor("executed with the new key", () => executedIds().includes(body.plan_id), 10_000);
  });

  test("signed plans - verification keeps working across scheduled and ordered rotations of the planner's key", async () => {
    const js = jetstream(nc);
    const incidents: string[] = [];
    const keyIds = new Set<string>();
    const rejectedBefore = Object.values(await rejections()).reduce((a, b) => a + b, 0);
    const ordered = await call("keys.rotate", { service: "planner", reason: "test" });
    expect(ordered.data?.order).toBeDefined();
    // ~10 s of plans: the planner rotates every 4 s and once more on the order above.
    for (let i = 0; i < 50; i++) {
      const incident = crypto.randomUUID();
      incidents.push(incident);
      await js.publish(`x0.anomaly.${NODE}`, JSON.stringify(anomalyFixture({ node: NODE, incident_id: incident })));
      await Bun.sleep(200);
    }
    await waitFor("every plan executed", () => incidents.every((id) => recorder.results.some((r) => r.message.incident_id === id)), 20_000);
    for (const { message } of recorder.plans) if (incidents.includes(message.incident_id)) keyIds.add(message.signature?.key_id ?? "unsigned");
    expect(keyIds.size).toBeGreaterThanOrEqual(3);
    expect(Object.values(await rejections()).reduce((a, b) => a + b, 0)).toBe(rejectedBefore);
    const plannerKeys = (await call("keys.list", { service: "planner" })).data?.keys as { key_id: string }[];
    for (const id of keyIds) expect(plannerKeys.map((k) => k.key_id)).toContain(id);
  }, 60_000);
});

describe("crypto config", () => {
  test("crypto config - a bad KEK, a missing OQS_LIB or an unknown signing algorithm stops the service with 78 naming the variable", async () => {
    const cases: [string, Record<string, string>, string][] = [
      ["crypto", { X0_KEK: toBase64(new Uint8Array(16)) }, "X0_KEK"],
      ["executor", { OQS_LIB: "/nonexistent/liboqs.so" }, "OQS_LIB"],
      ["planner", { X0_SIGNING_ALG: "rsa" }, "X0_SIGNING_ALG"],
    ];
    for (const [name, env, variable] of cases) {
      const child = startServiceProcess(name, { ...secure.serviceEnv, X0_LOG_LEVEL: "warn", ...env });
      expect(await child.exited).toBe(78);
      await Bun.sleep(50);
      expect(child.output.join("\n")).toContain(variable);
    }
  });
});
