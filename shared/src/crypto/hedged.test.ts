import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ML_DSA_65 } from "./backend.ts";
import { HedgedSigner, HedgedSigningFailed, HedgeWord, hedgeLayout, withHedgedSigning } from "./hedged.ts";
import { createNativeBackend } from "./native.ts";
import { createNobleBackend } from "./noble.ts";

const native = createNativeBackend();
const noble = createNobleBackend();
const signers: HedgedSigner[] = [];

/** A started signer whose threads are all up; it races whatever the machine's load (minSpareCpus 0) unless told otherwise. */
async function activeSigner(options: ConstructorParameters<typeof HedgedSigner>[0] = {}): Promise<HedgedSigner> {
  const signer = new HedgedSigner({ minSpareCpus: 0, ...options });
  signers.push(signer);
  signer.start();
  const deadline = Date.now() + 10_000;
  while (!signer.active) {
    if (Date.now() > deadline) throw new Error("hedged signing threads did not start");
    await Bun.sleep(5);
  }
  return signer;
}

afterEach(() => {
  for (const signer of signers.splice(0)) signer.close();
});

describe("hedged signing", () => {
  test("hedged signing - signatures from the threads are FIPS 204 signatures: native and noble verify them", async () => {
    const signer = await activeSigner();
    const keys = [native.sigKeypair(), native.sigKeypair()];
    // Back to back, alternating keys and lengths (empty, odd, the largest the buffer takes): the losers of one race
    // are still busy when the next request comes, which is the case the claim protocol must get right.
    const lengths = [0, 1, 511, 4096, 65_536];
    for (let i = 0; i < 60; i++) {
      const pair = keys[i % 2] as (typeof keys)[number];
      const message = crypto.getRandomValues(new Uint8Array(lengths[i % lengths.length] as number));
      const signature = signer.trySign(pair.secretKey, message);
      expect(signature?.length).toBe(ML_DSA_65.signature);
      expect(native.sigVerify(pair.publicKey, message, signature as Uint8Array)).toBe(true);
      if (i < 5) expect(noble.sigVerify(pair.publicKey, message, signature as Uint8Array)).toBe(true);
    }
    expect(signer.raced).toBe(60);
  });

  test("hedged signing - the same message signed twice gives two different valid signatures (fresh randomness)", async () => {
    const signer = await activeSigner();
    const pair = native.sigKeypair();
    const message = new TextEncoder().encode("x0tta6bl4/plan/v1\n{}");
    const first = signer.trySign(pair.secretKey, message) as Uint8Array;
    const second = signer.trySign(pair.secretKey, message) as Uint8Array;
    expect(Buffer.from(first).equals(Buffer.from(second))).toBe(false);
    expect(native.sigVerify(pair.publicKey, message, first)).toBe(true);
    expect(native.sigVerify(pair.publicKey, message, second)).toBe(true);
  });

  test("hedged signing - what the threads cannot take is left to the backend: not started, too long, expanded key, off", async () => {
    const pair = native.sigKeypair();
    const idle = new HedgedSigner({ minSpareCpus: 0 });
    signers.push(idle);
    expect(idle.trySign(pair.secretKey, new Uint8Array(8))).toBeUndefined();
    const signer = await activeSigner({ maxMessageBytes: 100 });
    expect(signer.trySign(pair.secretKey, new Uint8Array(101))).toBeUndefined();
    expect(signer.trySign(new Uint8Array(ML_DSA_65.expandedSecretKey), new Uint8Array(8))).toBeUndefined();
    expect(signer.trySign(pair.secretKey, new Uint8Array(100))?.length).toBe(ML_DSA_65.signature);
    expect(new HedgedSigner({ threads: 1 }).active).toBe(false);
    // More spare CPUs asked for than the machine has: the caller signs itself.
    const busy = await activeSigner({ minSpareCpus: 1000 });
    expect(busy.trySign(pair.secretKey, new Uint8Array(8))).toBeUndefined();
    signer.close();
    expect(signer.trySign(pair.secretKey, new Uint8Array(8))).toBeUndefined();
  });

  test("hedged signing - threads that never answer: the caller gives up, is told why, and signs itself from then on", async () => {
    const errors: HedgedSigningFailed[] = [];
    // A thread that comes up and never answers.
    const code = `const { workerData } = require("node:worker_threads");
      const words = new Int32Array(workerData.buffer, 0, workerData.layout.words);
      Atomics.store(words, ${HedgeWord.ready} + workerData.index, 1);
      while (Atomics.load(words, ${HedgeWord.stop}) === 0) Atomics.wait(words, ${HedgeWord.stop}, 0);`;
    const dir = mkdtempSync(join(tmpdir(), "x0-hedged-"));
    const silent = pathToFileURL(join(dir, "silent.js"));
    writeFileSync(silent, code);
    const signer = await activeSigner({ script: silent, timeoutMs: 50, onError: (error) => errors.push(error) });
    const pair = native.sigKeypair();
    const backend = withHedgedSigning(native, signer);
    const message = new Uint8Array([1, 2, 3]);
    expect(native.sigVerify(pair.publicKey, message, backend.sigSign(pair.secretKey, message))).toBe(true);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(HedgedSigningFailed);
    expect(errors[0]?.message).toContain("within 50 ms");
    expect(signer.active).toBe(false);
    expect(native.sigVerify(pair.publicKey, message, backend.sigSign(pair.secretKey, message))).toBe(true);
    expect(errors).toHaveLength(1);
    rmSync(dir, { recursive: true, force: true });
  });

  test("hedged signing - the wrapped backend signs through the threads and leaves every other operation to the backend", async () => {
    const signer = await activeSigner();
    const backend = withHedgedSigning(native, signer);
    expect({ name: backend.name, version: backend.version, forms: backend.secretKeyForms }).toEqual({
      name: native.name,
      version: native.version,
      forms: native.secretKeyForms,
    });
    const seed = new Uint8Array(ML_DSA_65.seed).fill(7);
    const pair = backend.sigKeypair(seed);
    expect(pair).toEqual(native.sigKeypair(seed));
    const message = new Uint8Array([9]);
    expect(backend.sigVerify(pair.publicKey, message, backend.sigSign(pair.secretKey, message))).toBe(true);
    expect(() => backend.sigSign(new Uint8Array(5), message)).toThrow("ML-DSA-65 secret key must be");
    const kem = await backend.kemKeypair();
    const { ciphertext, sharedSecret } = await backend.kemEncaps(kem.publicKey);
    expect(await backend.kemDecaps(kem.secretKey, ciphertext)).toEqual(sharedSecret);
    expect(() => withHedgedSigning(noble, signer)).toThrow("native");
  });

  test("hedged signing - spare CPUs are measured after a second, off the signing path, and gate the race", async () => {
    const pair = native.sigKeypair();
    const signer = await activeSigner({ minSpareCpus: 0.000_001 });
    // Before the first measurement the caller signs itself.
    expect(signer.spareCpus).toBeUndefined();
    expect(signer.trySign(pair.secretKey, new Uint8Array(8))).toBeUndefined();
    await Bun.sleep(1100);
    expect(signer.trySign(pair.secretKey, new Uint8Array(8))).toBeUndefined();
    await new Promise((resolve) => setImmediate(resolve));
    expect(signer.spareCpus).toBeGreaterThanOrEqual(0);
    expect(signer.spareCpus).toBeLessThanOrEqual(cpus().length + 0.5);
    expect(signer.raced).toBe(0);
  });

  test("hedged signing - the shared buffer's layout keeps the header, seed, message and signature slots apart", () => {
    const layout = hedgeLayout(3, 1000);
    expect(layout.seed).toBeGreaterThanOrEqual(layout.words * 4);
    expect(layout.message).toBe(layout.seed + ML_DSA_65.seed);
    expect(layout.signature).toBeGreaterThanOrEqual(layout.message + 1000);
    expect(layout.bytes).toBe(layout.signature + 3 * ML_DSA_65.signature);
  });
});
