// liboqs's WebAssembly build (@oqs/liboqs-js) against the native backend, noble (the independent reference) and, where
// OQS_LIB names a liboqs shared library, the FFI backend. backends.test.ts runs the known answers through it too.
import { describe, expect, test } from "bun:test";
import nodeCrypto from "node:crypto";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { ML_DSA_65, ML_KEM_768 } from "./backend.ts";
import { toHex } from "./bytes.ts";
import { CryptoError } from "./errors.ts";
import { createLiboqsBackend } from "./liboqs.ts";
import { createLiboqsWasmBackend, withLiboqsRandomness } from "./liboqs-wasm.ts";
import { createNativeBackend } from "./native.ts";
import { selectBackend } from "./select.ts";

const OQS_LIB = process.env.OQS_LIB;
const wasm = await createLiboqsWasmBackend();
const native = createNativeBackend();
const message = new TextEncoder().encode("x0tta6bl4 plan");
const random = (length: number) => crypto.getRandomValues(new Uint8Array(length));

describe("liboqs-wasm", () => {
  test("liboqs-wasm - names itself, takes seeds and expanded keys, and derandomises key generation and encapsulation", () => {
    expect(wasm.name).toBe("liboqs-wasm");
    expect(wasm.version).toMatch(/^liboqs-js \d+\.\d+\.\d+$/);
    expect(wasm.derand).toEqual({ kemKeypair: true, kemEncaps: true, sigKeypair: true });
    expect(wasm.secretKeyForms).toEqual({ kem: ["seed", "expanded"], sig: ["seed", "expanded"] });
  });

  test("liboqs-wasm - public keys from the same seeds are byte-identical to the native backend's", async () => {
    const kemSeed = random(ML_KEM_768.seed);
    expect(toHex((await wasm.kemKeypair(kemSeed)).publicKey)).toBe(toHex((await native.kemKeypair(kemSeed)).publicKey));
    const sigSeed = random(ML_DSA_65.seed);
    expect(toHex(wasm.sigKeypair(sigSeed).publicKey)).toBe(toHex(native.sigKeypair(sigSeed).publicKey));
  });

  test("liboqs-wasm - ciphertexts: byte-identical to noble's for the same message, and each side decapsulates the other's", async () => {
    const seed = random(ML_KEM_768.seed);
    const { publicKey } = await native.kemKeypair(seed);
    const m = random(ML_KEM_768.encapsSeed);
    const mine = await wasm.kemEncaps(publicKey, m);
    const reference = ml_kem768.encapsulate(publicKey, m);
    expect(toHex(mine.ciphertext)).toBe(toHex(reference.cipherText));
    expect(toHex(mine.sharedSecret)).toBe(toHex(reference.sharedSecret));
    expect(toHex(await native.kemDecaps(seed, mine.ciphertext))).toBe(toHex(mine.sharedSecret));
    const theirs = await native.kemEncaps(publicKey);
    expect(toHex(await wasm.kemDecaps(seed, theirs.ciphertext))).toBe(toHex(theirs.sharedSecret));
    // The expanded decapsulation key (what liboqs itself produces) works as well as the seed.
    expect(toHex(await wasm.kemDecaps(ml_kem768.keygen(seed).secretKey, theirs.ciphertext))).toBe(toHex(theirs.sharedSecret));
  });

  test("liboqs-wasm - signatures: deterministic ones byte-identical to noble's, hedged ones verify in native and native's here", () => {
    const seed = random(ML_DSA_65.seed);
    const expanded = ml_dsa65.keygen(seed).secretKey;
    // FIPS 204's deterministic variant is the hedged one with rnd = 0³²; the native backend signs hedged, so its
    // signatures differ each time and are compared by verification only.
    const deterministic = withLiboqsRandomness(new Uint8Array(32), () => wasm.sigSign(seed, message));
    expect(toHex(deterministic)).toBe(toHex(ml_dsa65.sign(message, expanded, { extraEntropy: false })));
    const hedged = wasm.sigSign(seed, message);
    expect(toHex(hedged)).not.toBe(toHex(wasm.sigSign(seed, message)));
    const { publicKey } = native.sigKeypair(seed);
    expect(native.sigVerify(publicKey, message, hedged)).toBe(true);
    expect(wasm.sigVerify(publicKey, message, native.sigSign(seed, message))).toBe(true);
    expect(wasm.sigVerify(publicKey, message, wasm.sigSign(expanded, message))).toBe(true);
    expect(wasm.sigVerify(publicKey, new TextEncoder().encode("other"), hedged)).toBe(false);
  });

  test("liboqs-wasm - supplied randomness must be drawn exactly, and the system's is back afterwards, also after a failure", () => {
    const before = nodeCrypto.randomFillSync;
    expect(() => withLiboqsRandomness(new Uint8Array(ML_KEM_768.seed + 1), () => wasm.sigKeypair())).toThrow(CryptoError);
    expect(() =>
      withLiboqsRandomness(new Uint8Array(64), () => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(nodeCrypto.randomFillSync).toBe(before);
    const a = wasm.sigKeypair();
    const b = wasm.sigKeypair();
    expect(toHex(a.publicKey)).not.toBe(toHex(b.publicKey));
  });

  test("liboqs-wasm - auto prefers liboqs (FFI), then native, then liboqs-wasm; it is also chosen by name", async () => {
    expect((await selectBackend({ preference: "liboqs-wasm" })).name).toBe("liboqs-wasm");
    expect((await selectBackend({ preference: "auto", ...(OQS_LIB ? { oqsLib: OQS_LIB } : {}) })).name).toBe(OQS_LIB ? "liboqs" : "native");
    // A Bun without WebCrypto ML-KEM: the native backend is unavailable, and auto takes the WebAssembly build.
    const subtle = crypto.subtle as unknown as Record<string, unknown>;
    const encapsulateBits = subtle.encapsulateBits;
    Object.defineProperty(subtle, "encapsulateBits", { value: undefined, configurable: true, writable: true });
    try {
      expect((await selectBackend({ preference: "auto" })).name).toBe(OQS_LIB ? "liboqs" : "liboqs-wasm");
    } finally {
      Object.defineProperty(subtle, "encapsulateBits", { value: encapsulateBits, configurable: true, writable: true });
    }
    expect((await selectBackend({ preference: "native" })).name).toBe("native");
  });

  test.skipIf(!OQS_LIB)("liboqs-wasm - interoperates with the liboqs FFI backend both ways: keys, ciphertexts, signatures (OQS_LIB)", async () => {
    const ffi = createLiboqsBackend(OQS_LIB);
    const ffiKem = await ffi.kemKeypair();
    const toFfi = await wasm.kemEncaps(ffiKem.publicKey);
    expect(toHex(await ffi.kemDecaps(ffiKem.secretKey, toFfi.ciphertext))).toBe(toHex(toFfi.sharedSecret));
    const wasmKem = await wasm.kemKeypair();
    const toWasm = await ffi.kemEncaps(wasmKem.publicKey);
    expect(toHex(await wasm.kemDecaps(wasmKem.secretKey, toWasm.ciphertext))).toBe(toHex(toWasm.sharedSecret));
    const ffiSig = ffi.sigKeypair();
    expect(wasm.sigVerify(ffiSig.publicKey, message, ffi.sigSign(ffiSig.secretKey, message))).toBe(true);
    const wasmSig = wasm.sigKeypair();
    expect(ffi.sigVerify(wasmSig.publicKey, message, wasm.sigSign(wasmSig.secretKey, message))).toBe(true);
    // liboqs's expanded secret keys are the same bytes in both builds.
    expect(ffi.sigVerify(wasmSig.publicKey, message, ffi.sigSign(wasmSig.secretKey, message))).toBe(true);
  });
});
