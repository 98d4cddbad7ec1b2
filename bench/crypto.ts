// bun run bench:crypto: post-quantum operations per second on every backend present, the crypto service's NATS round
// trip, and what signing and verifying one plan adds to the loop. Writes bench/results/crypto.json. Method and knobs:
// bench/README.md.

import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import {
  aadOf,
  createHsmKey,
  createLiboqsBackend,
  createLiboqsWasmBackend,
  createLogger,
  createNativeBackend,
  createNobleBackend,
  createXWing,
  fileKek,
  HedgedSigner,
  HsmKek,
  MessageVerifier,
  openEnvelope,
  type Plan,
  type PqBackend,
  sealEnvelope,
  signedBytes,
  signMessage,
  toBase64,
  type VerifyingKey,
  withHedgedSigning,
} from "@x0/shared";
import { setNativeEnv, softhsmAvailable, softhsmToken, startNatsServer, startServiceProcess } from "@x0/shared/testing";

const RUN_MS = Number(process.env.X0_BENCH_RUN_MS ?? 1500);
const WARM_UP_RUNS = 50;
// The machine is shared: the load when the run starts and ends goes into the results.
const loadAtStart = Number(loadavg()[0]?.toFixed(2));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Runs `op` for RUN_MS (after a short warm-up) and returns operations per second. */
async function opsPerSecond(op: () => unknown): Promise<number> {
  for (let i = 0; i < 20; i++) await op();
  let count = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < RUN_MS) {
    for (let i = 0; i < 10; i++) await op();
    count += 10;
    elapsed = performance.now() - start;
  }
  return Math.round((count / elapsed) * 1000);
}

type Latency = { n: number; p50_ms: number; p99_ms: number; max_ms: number };

/** Latencies of `count` runs of `op`, in ms: p50, p99, max. */
async function latency(count: number, op: () => unknown): Promise<Latency> {
  return (await interleavedLatency(count, { op })).op as Latency;
}

/**
 * Latencies of `count` runs of each operation, in ms, run in alternating chunks of 50 so that every operation sees the
 * same machine (another process loading the CPUs shifts all of them, not one).
 */
async function interleavedLatency<K extends string>(count: number, ops: Record<K, () => unknown>, { idleMs = 0 } = {}): Promise<Record<K, Latency>> {
  const names = Object.keys(ops) as K[];
  const times = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>;
  for (const name of names) for (let i = 0; i < WARM_UP_RUNS; i++) await ops[name]();
  const timed = async (name: K) => {
    const start = performance.now();
    await ops[name]();
    times[name].push(performance.now() - start);
  };
  if (idleMs > 0) {
    // Every run waits `idleMs` first (the operations take turns), as a service waits between plans.
    for (let done = 0; done < count; done++) {
      for (const name of names) {
        await Bun.sleep(idleMs);
        await timed(name);
      }
    }
  } else {
    for (let done = 0; done < count; done += 50) {
      // Back to the event loop between chunks, as a service is between messages (timers and setImmediate run).
      await new Promise((resolve) => setImmediate(resolve));
      for (const name of names) for (let i = 0; i < Math.min(50, count - done); i++) await timed(name);
    }
  }
  const round = (x: number) => Number(x.toFixed(4));
  const summary = (sorted: number[]): Latency => ({
    n: sorted.length,
    p50_ms: round(percentile(sorted, 50)),
    p99_ms: round(percentile(sorted, 99)),
    max_ms: round(sorted.at(-1) ?? 0),
  });
  return Object.fromEntries(names.map((name) => [name, summary(times[name].sort((a, b) => a - b))])) as Record<K, Latency>;
}

const plan: Plan = {
  v: 1,
  plan_id: crypto.randomUUID(),
  incident_id: crypto.randomUUID(),
  node: "bench",
  kind: "link_degraded",
  rule: "degraded-link-cost",
  approval: "auto",
  actions: [{ type: "raise_link_cost", params: { interface: "mesh0", cost: 10 }, reason: "rx_errors_per_s 5000 is 40 deviations above its baseline" }],
  created_at: Date.now(),
};

const backends: PqBackend[] = [];
if (process.env.OQS_LIB) backends.push(createLiboqsBackend(process.env.OQS_LIB));
else process.stderr.write("bench:crypto: OQS_LIB not set, liboqs not measured\n");
backends.push(createNativeBackend(), await createLiboqsWasmBackend(), createNobleBackend());

const operations: Record<string, Record<string, number>> = {};
const message = new TextEncoder().encode(JSON.stringify(plan));
for (const backend of backends) {
  const xwing = createXWing(backend);
  const kem = await backend.kemKeypair();
  const enc = await backend.kemEncaps(kem.publicKey);
  const sig = backend.sigKeypair();
  const signature = backend.sigSign(sig.secretKey, message);
  const hybrid = await xwing.keypair();
  const henc = await xwing.encaps(hybrid.publicKey);
  const envelope = await sealEnvelope(backend, kem.publicKey, message, "bench");
  const results: Record<string, number> = {};
  const ops: [string, () => unknown][] = [
    ["kem.keypair", () => backend.kemKeypair()],
    ["kem.encaps", () => backend.kemEncaps(kem.publicKey)],
    ["kem.decaps", () => backend.kemDecaps(kem.secretKey, enc.ciphertext)],
    ["sig.keypair", () => backend.sigKeypair()],
    ["sig.sign", () => backend.sigSign(sig.secretKey, message)],
    ["sig.verify", () => backend.sigVerify(sig.publicKey, message, signature)],
    ["hybrid.keypair", () => xwing.keypair()],
    ["hybrid.encaps", () => xwing.encaps(hybrid.publicKey)],
    ["hybrid.decaps", () => xwing.decaps(hybrid.secretKey, henc.ciphertext)],
    ["envelope.seal", () => sealEnvelope(backend, kem.publicKey, message, "bench")],
    ["envelope.open", () => openEnvelope(backend, kem, envelope)],
  ];
  for (const [name, op] of ops) {
    results[name] = await opsPerSecond(op);
    process.stderr.write(`${backend.name} ${name}: ${results[name]} ops/s\n`);
  }
  operations[`${backend.name} (${backend.version})`] = results;
}

// The native backend as signing services use it by default (X0_SIGN_HEDGE_THREADS=0: signed on the service's thread),
// and hedged: two threads race to sign and the first signature wins. The hedged variant races whatever the load here
// (minSpareCpus 0), to measure the technique itself; the threads start on first use, so wait until they are up.
const native = createNativeBackend();
const HEDGE_THREADS = 2;
const hedger = new HedgedSigner({ threads: HEDGE_THREADS, minSpareCpus: 0, onError: (error) => process.stderr.write(`bench:crypto: ${error.message}\n`) });
const hedged = withHedgedSigning(native, hedger);
hedger.start();
while (!hedger.active) await Bun.sleep(5);

// In-process helper (canonical encoding + signature metadata + nonce/replay bookkeeping) against the raw backend call.
const pair = native.sigKeypair();
const key = { keyId: "bench-0000000000000000", alg: "ML-DSA-65" as const, mldsaSecret: pair.secretKey };
const verifying: VerifyingKey = {
  keyId: key.keyId,
  service: "planner",
  alg: "ML-DSA-65",
  mldsaPublic: pair.publicKey,
  notBefore: 0,
  notAfter: Date.now() + 3_600_000,
};
const verifier = new MessageVerifier({ backend: native, keys: { get: () => verifying } });
const signed = signMessage(native, "plan", plan, key);
const bytes = signedBytes("plan", signed, signed.signature);
const rawSignature = Buffer.from(signed.signature.value, "base64");
async function helperRatios(backend: PqBackend) {
  const measured = {
    raw_sign_ops_per_s: await opsPerSecond(() => backend.sigSign(key.mldsaSecret, bytes)),
    helper_sign_ops_per_s: await opsPerSecond(() => signMessage(backend, "plan", plan, key)),
    raw_verify_ops_per_s: await opsPerSecond(() => native.sigVerify(pair.publicKey, bytes, rawSignature)),
    // Redelivered: the same plan is verified again without tripping the replay check.
    helper_verify_ops_per_s: await opsPerSecond(() => verifier.verify("plan", signed, { redelivered: true })),
  };
  const sign = measured.raw_sign_ops_per_s / measured.helper_sign_ops_per_s;
  const verify = measured.raw_verify_ops_per_s / measured.helper_verify_ops_per_s;
  return { ...measured, sign_slowdown: Number(sign.toFixed(3)), verify_slowdown: Number(verify.toFixed(3)) };
}
const helper = await helperRatios(native);
const helperHedged = await helperRatios(hedged);

// Signing plus verifying one plan (what the planner and executor add per plan), with the native backend, on the service
// thread (the services' default) and hedged, interleaved so both see the same machine load. The raw ML-DSA-65
// signature alone, for comparison: its time is heavy-tailed (rejection sampling).
const planOp = (backend: PqBackend) => async () => {
  const fresh = signMessage(backend, "plan", { ...plan, plan_id: crypto.randomUUID() }, key);
  const verdict = await verifier.verify("plan", JSON.parse(JSON.stringify(fresh)));
  if (!verdict.ok) throw new Error(`bench plan rejected: ${verdict.reason}`);
};
const racedBefore = hedger.raced;
const latencies = await interleavedLatency(2000, {
  plan_on_thread: planOp(native),
  plan_hedged: planOp(hedged),
  raw_sign_on_thread: () => native.sigSign(key.mldsaSecret, bytes),
  raw_sign_hedged: () => hedged.sigSign(key.mldsaSecret, bytes),
});
// The same after 5 ms of idle each (as in the loop: one plan per incident, the services wait in between), on the
// service's thread and hedged. An idle CPU meets a plan with cold caches, and a hedged one must first wake its threads.
const racedBeforeIdle = hedger.raced;
const afterIdle = await interleavedLatency(1000, { plan_on_thread: planOp(native), plan_hedged: planOp(hedged) }, { idleMs: 5 });
const racedIdle = hedger.raced - racedBeforeIdle;
hedger.close();
// Which share of the hedged signatures (plans and raw, warm-up included) the threads made: 1 unless they failed.
const hedging = { sign_threads: HEDGE_THREADS, raced_fraction: Number(((hedger.raced - racedBefore - racedIdle) / (2 * (2000 + WARM_UP_RUNS))).toFixed(3)) };

// Signing plus verifying one plan with every backend present, interleaved in the same run: each signs with a key of
// its own (liboqs through FFI keeps expanded ML-DSA keys, the others seeds) and verifies with its own verifier.
const planByBackend = Object.fromEntries(
  backends.map((backend) => {
    const own = backend.sigKeypair();
    const ownKey = { keyId: `bench-${backend.name}`, alg: "ML-DSA-65" as const, mldsaSecret: own.secretKey };
    const ownVerifier = new MessageVerifier({ backend, keys: { get: () => ({ ...verifying, keyId: ownKey.keyId, mldsaPublic: own.publicKey }) } });
    const op = async () => {
      const fresh = signMessage(backend, "plan", { ...plan, plan_id: crypto.randomUUID() }, ownKey);
      const verdict = await ownVerifier.verify("plan", JSON.parse(JSON.stringify(fresh)));
      if (!verdict.ok) throw new Error(`bench plan rejected by ${backend.name}: ${verdict.reason}`);
    };
    return [backend.name, op];
  }),
) as Record<string, () => Promise<void>>;
const planLatencies = await interleavedLatency(1000, planByBackend);
for (const [name, measured] of Object.entries(planLatencies)) {
  process.stderr.write(`${name} plan sign + verify: p50 ${measured.p50_ms} ms, p99 ${measured.p99_ms} ms\n`);
}

// Opening a sealed private key (at a service's start, and reading its key file): the file KEK in process against a KEK
// inside a SoftHSM2 token (AES-GCM by the token over PKCS#11), interleaved, on the same sealed secret.
let unwrap: Record<string, unknown> = { pkcs11: "not measured: SoftHSM2 is not installed" };
if (softhsmAvailable) {
  const token = softhsmToken("x0-bench");
  setNativeEnv("SOFTHSM2_CONF", token.env.SOFTHSM2_CONF);
  createHsmKey(token.settings());
  const hsm = HsmKek.open(token.settings(), createLogger({ service: "bench", node: "bench", level: "error" }));
  const file = fileKek(crypto.getRandomValues(new Uint8Array(32)), "X0_KEK");
  const secret = new TextEncoder().encode(JSON.stringify({ mldsa: toBase64(crypto.getRandomValues(new Uint8Array(32))) }));
  const aad = aadOf("planner", "planner-0123456789abcdef");
  const sealedByFile = file.seal(secret, aad);
  const sealedByToken = hsm.seal(secret, aad);
  unwrap = { ...(await interleavedLatency(2000, { file: () => file.unseal(sealedByFile, aad), pkcs11_softhsm2: () => hsm.unseal(sealedByToken, aad) })) };
  hsm.close();
  token.remove();
}
process.stderr.write(`unwrap: ${JSON.stringify(unwrap)}\n`);

// NATS round trip of sign and verify through a real crypto service process.
const nats = await startNatsServer();
const keyDir = mkdtempSync(join(tmpdir(), "x0-bench-keys-"));
const service = startServiceProcess("crypto", {
  X0_NATS_SERVERS: nats.url,
  X0_LOG_LEVEL: "warn",
  X0_KEK: toBase64(crypto.getRandomValues(new Uint8Array(32))),
  X0_KEY_DIR: keyDir,
  X0_CRYPTO_BACKEND: "native",
});
let roundTrip: Record<string, unknown>;
try {
  await service.waitReady();
  const nc = await connect({ servers: nats.url, name: "bench-crypto" });
  const request = async (endpoint: string, body: unknown) =>
    (await nc.request(`x0.crypto.${endpoint}`, JSON.stringify(body), { timeout: 5000 })).json<Record<string, string | boolean>>();
  const remote = (await request("sig.keypair", {})) as { public_key: string; secret_key: string };
  const payload = toBase64(bytes);
  const remoteSig = (await request("sig.sign", { secret_key: remote.secret_key, message: payload })).signature as string;
  roundTrip = {
    sign: await latency(1000, () => request("sig.sign", { secret_key: remote.secret_key, message: payload })),
    verify: await latency(1000, () => request("sig.verify", { public_key: remote.public_key, message: payload, signature: remoteSig })),
  };
  await nc.close();
} finally {
  await service.stop();
  await nats.dispose();
  rmSync(keyDir, { recursive: true, force: true });
}

const natsVersion = (await Bun.$`nats-server --version`.text()).trim();
const results = {
  measured_at: new Date().toISOString(),
  command: "bun run bench:crypto",
  machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, bun: Bun.version, nats_server: natsVersion },
  run_ms_per_operation: RUN_MS,
  ops_per_s: operations,
  load_average_1m: { at_start: loadAtStart, at_end: Number(loadavg()[0]?.toFixed(2)) },
  in_process_helper: helper,
  in_process_helper_hedged: helperHedged,
  plan_sign_plus_verify_native: { ...latencies.plan_on_thread, sign_threads: 0 },
  plan_sign_plus_verify_native_hedged: { ...latencies.plan_hedged, ...hedging },
  plan_sign_plus_verify_native_after_idle: {
    idle_ms: 5,
    on_thread: afterIdle.plan_on_thread,
    hedged: { ...afterIdle.plan_hedged, sign_threads: HEDGE_THREADS, raced_fraction: Number((racedIdle / (1000 + WARM_UP_RUNS)).toFixed(3)) },
  },
  raw_sign_latency_native: latencies.raw_sign_on_thread,
  raw_sign_latency_native_hedged: { ...latencies.raw_sign_hedged, ...hedging },
  plan_sign_plus_verify_by_backend: planLatencies,
  unwrap_sealed_key: unwrap,
  nats_round_trip_native: roundTrip,
  // The plan target applies with liboqs through FFI (liboqs signs in about 80 µs); for the native backend it was
  // withdrawn (Bun's ML-DSA-65 signature alone has a p99 above 0.5 ms here) and its figure is reported only.
  targets: { helper_slowdown_max: 1.3, plan_sign_plus_verify_p99_ms_max_liboqs: 0.2 },
  meets_targets: {
    helper_sign: helper.sign_slowdown <= 1.3,
    helper_verify: helper.verify_slowdown <= 1.3,
    plan_p99_liboqs: planLatencies.liboqs ? planLatencies.liboqs.p99_ms < 0.2 : "not measured: no liboqs shared library (OQS_LIB)",
  },
};
await Bun.write(join(import.meta.dir, "results", "crypto.json"), `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
