// Backends against known answers and against each other (noble is the independent implementation).
import { describe, expect, test } from "bun:test";
import { shake128 } from "@noble/hashes/sha3.js";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { ML_DSA_65, ML_KEM_768, type PqBackend } from "./backend.ts";
import { fromHex, toHex } from "./bytes.ts";
import { InvalidCryptoInput } from "./errors.ts";
import { ACCUMULATED_10000, cctvDecapsVector, cctvInvalidModulusKeys, xwingVectors } from "./kat.ts";
import { createLiboqsBackend } from "./liboqs.ts";
import { createLiboqsWasmBackend } from "./liboqs-wasm.ts";
import { createNativeBackend } from "./native.ts";
import { createNobleBackend } from "./noble.ts";
import { createXWing } from "./xwing.ts";

const OQS_LIB = process.env.OQS_LIB;
if (!OQS_LIB) console.warn("backends: OQS_LIB is not set: the liboqs backend tests are SKIPPED (liboqs is not installable here)");

// liboqs's WebAssembly build runs everywhere: the liboqs code is exercised in every test run, not only where OQS_LIB is set.
const liboqsWasm = await createLiboqsWasmBackend();
const backends: [string, () => PqBackend][] = [
  ["native", createNativeBackend],
  ["noble", createNobleBackend],
  ["liboqs-wasm", () => liboqsWasm],
];
if (OQS_LIB) backends.push(["liboqs", () => createLiboqsBackend(OQS_LIB)]);
const noble = createNobleBackend();
const message = new TextEncoder().encode("x0tta6bl4 control plane");

describe.each(backends)("backend %s", (name, create) => {
  const backend = create();

  test(`backends - ${name} reports its name, version and ML-KEM-768 / ML-DSA-65`, () => {
    expect(backend.name).toBe(name as PqBackend["name"]);
    expect(backend.version.length).toBeGreaterThan(0);
    expect(backend.algorithms).toContain("ML-KEM-768");
    expect(backend.algorithms).toContain("ML-DSA-65");
  });

  test(`backends - ${name} X-Wing reproduces the draft's keys and decapsulations (and encapsulations where derandomised)`, async () => {
    const xwing = createXWing(backend);
    for (const vector of xwingVectors()) {
      if (backend.derand.kemKeypair) expect(toHex((await xwing.keypair(fromHex(vector.seed))).publicKey)).toBe(vector.pk);
      expect(toHex(await xwing.decaps(fromHex(vector.sk), fromHex(vector.ct)))).toBe(vector.ss);
      if (backend.derand.kemEncaps) {
        const { ciphertext, sharedSecret } = await xwing.encaps(fromHex(vector.pk), fromHex(vector.eseed));
        expect(toHex(ciphertext)).toBe(vector.ct);
        expect(toHex(sharedSecret)).toBe(vector.ss);
      }
    }
  });

  test(`backends - ${name} decapsulates the CCTV strcmp and unluckysample vectors, or refuses expanded keys clearly`, async () => {
    for (const file of ["strcmp", "unluckysample"] as const) {
      const { dk, c, K } = cctvDecapsVector(file);
      if (backend.secretKeyForms.kem.includes("expanded")) expect(toHex(await backend.kemDecaps(dk, c))).toBe(toHex(K));
      else await expect(backend.kemDecaps(dk, c)).rejects.toThrow(/does not accept expanded ML-KEM-768 secret keys/);
    }
  });

  test(`backends - ${name} rejects every CCTV encapsulation key with a coefficient ≥ q`, async () => {
    const keys = cctvInvalidModulusKeys();
    expect(keys.length).toBeGreaterThan(100);
    for (const key of keys) await expect(backend.kemEncaps(key)).rejects.toThrow(InvalidCryptoInput);
  });

  test(`backends - ${name} ML-KEM-768 round trip and cross-verification with noble both ways`, async () => {
    const seed = crypto.getRandomValues(new Uint8Array(ML_KEM_768.seed));
    const pair = await backend.kemKeypair(seed);
    expect(toHex(pair.publicKey)).toBe(toHex(ml_kem768.keygen(seed).publicKey));
    const mine = await backend.kemEncaps(pair.publicKey);
    expect(mine.ciphertext.length).toBe(ML_KEM_768.ciphertext);
    expect(toHex(await noble.kemDecaps(seed, mine.ciphertext))).toBe(toHex(mine.sharedSecret));
    const theirs = await noble.kemEncaps(pair.publicKey);
    expect(toHex(await backend.kemDecaps(pair.secretKey, theirs.ciphertext))).toBe(toHex(theirs.sharedSecret));
  });

  test(`backends - ${name} ML-DSA-65 signatures verify in noble and noble's verify here; a flipped bit fails`, () => {
    const pair = backend.derand.sigKeypair ? backend.sigKeypair(crypto.getRandomValues(new Uint8Array(ML_DSA_65.seed))) : backend.sigKeypair();
    const signature = backend.sigSign(pair.secretKey, message);
    expect(signature.length).toBe(ML_DSA_65.signature);
    expect(backend.sigVerify(pair.publicKey, message, signature)).toBe(true);
    expect(noble.sigVerify(pair.publicKey, message, signature)).toBe(true);
    const nobleSeed = crypto.getRandomValues(new Uint8Array(ML_DSA_65.seed));
    const noblePair = noble.sigKeypair(nobleSeed);
    expect(backend.sigVerify(noblePair.publicKey, message, noble.sigSign(nobleSeed, message))).toBe(true);
    const flipped = signature.slice();
    flipped[10] = (flipped[10] ?? 0) ^ 1;
    expect(backend.sigVerify(pair.publicKey, message, flipped)).toBe(false);
    expect(backend.sigVerify(pair.publicKey, new TextEncoder().encode("other"), signature)).toBe(false);
  });

  test(`backends - ${name} refuses keys, ciphertexts and signatures of the wrong length with a clear error`, async () => {
    const pair = await backend.kemKeypair();
    await expect(backend.kemEncaps(pair.publicKey.subarray(1))).rejects.toThrow("ML-KEM-768 public key must be 1184 bytes, got 1183");
    await expect(backend.kemDecaps(pair.secretKey, new Uint8Array(1087))).rejects.toThrow("ML-KEM-768 ciphertext must be 1088 bytes");
    await expect(backend.kemDecaps(new Uint8Array(63), new Uint8Array(1088))).rejects.toThrow(InvalidCryptoInput);
    const sig = backend.sigKeypair();
    expect(() => backend.sigVerify(sig.publicKey, message, new Uint8Array(3308))).toThrow("ML-DSA-65 signature must be 3309 bytes");
    expect(() => backend.sigVerify(new Uint8Array(5), message, new Uint8Array(3309))).toThrow("ML-DSA-65 public key must be 1952 bytes");
    expect(() => backend.sigSign(new Uint8Array(7), message)).toThrow(InvalidCryptoInput);
  });
});

/** The C2SP CCTV accumulated test: 10,000 derandomised KeyGen/Encaps/Decaps runs hashed into one value. */
async function accumulated(backend: PqBackend, count: number): Promise<string> {
  const rng = shake128.create({});
  const acc = shake128.create({ dkLen: 32 });
  for (let i = 0; i < count; i++) {
    const d = rng.xof(32);
    const z = rng.xof(32);
    const m = rng.xof(32);
    const randomCt = rng.xof(ML_KEM_768.ciphertext);
    const seed = new Uint8Array([...d, ...z]);
    const { publicKey } = await backend.kemKeypair(seed);
    // The expanded dk is absorbed; noble derives it from the same seed, and the backend's ek must agree.
    const dk = ml_kem768.keygen(seed).secretKey;
    const { ciphertext, sharedSecret } = await backend.kemEncaps(publicKey, m);
    const rejected = await backend.kemDecaps(seed, randomCt);
    expect(toHex(await backend.kemDecaps(seed, ciphertext))).toBe(toHex(sharedSecret));
    acc.update(publicKey).update(dk).update(ciphertext).update(sharedSecret).update(rejected);
  }
  return toHex(acc.digest());
}

describe("backend accumulated vectors", () => {
  test("backends - noble reproduces the 10,000-test accumulated ML-KEM-768 value", async () => {
    expect(await accumulated(noble, 10_000)).toBe(ACCUMULATED_10000);
  }, 120_000);

  test("backends - liboqs-wasm reproduces the 10,000-test accumulated ML-KEM-768 value (liboqs's own code, randomness supplied)", async () => {
    expect(liboqsWasm.derand.kemEncaps).toBe(true);
    expect(await accumulated(liboqsWasm, 10_000)).toBe(ACCUMULATED_10000);
  }, 120_000);

  test.skipIf(!OQS_LIB)(
    "backends - liboqs reproduces the 10,000-test accumulated ML-KEM-768 value (OQS_LIB, liboqs ≥ 0.15)",
    async () => {
      const liboqs = createLiboqsBackend(OQS_LIB);
      if (!liboqs.derand.kemEncaps) {
        console.warn(`backends: ${liboqs.version} has no OQS_KEM_encaps_derand: accumulated test SKIPPED`);
        return;
      }
      expect(await accumulated(liboqs, 10_000)).toBe(ACCUMULATED_10000);
    },
    120_000,
  );
});
