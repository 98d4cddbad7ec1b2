// The liboqs FFI binding. liboqs is not installable here (neither Debian 12 nor npm): the tests that need it run
// only where OQS_LIB points at a liboqs build and say so when skipped. backends.test.ts runs its KATs too.
import { describe, expect, test } from "bun:test";
import { ML_DSA_65 } from "./backend.ts";
import { BackendUnavailable } from "./errors.ts";
import { createLiboqsBackend, LIBOQS_OPTIONAL_SYMBOLS, LIBOQS_SYMBOLS } from "./liboqs.ts";
import { createNativeBackend } from "./native.ts";
import { selectBackend } from "./select.ts";

const OQS_LIB = process.env.OQS_LIB;
if (!OQS_LIB) console.warn("liboqs: OQS_LIB is not set: the tests against a real liboqs are SKIPPED");

describe("liboqs", () => {
  test("liboqs - binds only public OQS_KEM_* / OQS_SIG_* functions of the liboqs ≥ 0.12 API, derandomised ones optional", () => {
    expect(Object.keys(LIBOQS_SYMBOLS).sort()).toEqual(
      [
        "OQS_init",
        "OQS_version",
        "OQS_KEM_alg_count",
        "OQS_KEM_alg_identifier",
        "OQS_KEM_alg_is_enabled",
        "OQS_KEM_new",
        "OQS_KEM_keypair",
        "OQS_KEM_encaps",
        "OQS_KEM_decaps",
        "OQS_KEM_free",
        "OQS_SIG_alg_count",
        "OQS_SIG_alg_identifier",
        "OQS_SIG_alg_is_enabled",
        "OQS_SIG_new",
        "OQS_SIG_keypair",
        "OQS_SIG_sign",
        "OQS_SIG_verify",
        "OQS_SIG_free",
      ].sort(),
    );
    // OQS_SIG_sign(sig, signature, &signature_len, message, message_len, secret_key): six arguments, size_t lengths.
    expect(LIBOQS_SYMBOLS.OQS_SIG_sign.args).toHaveLength(6);
    expect(LIBOQS_SYMBOLS.OQS_SIG_verify.args).toHaveLength(6);
    expect(LIBOQS_SYMBOLS.OQS_KEM_encaps.args).toHaveLength(4);
    expect(Object.keys(LIBOQS_OPTIONAL_SYMBOLS).sort()).toEqual(["OQS_KEM_encaps_derand", "OQS_KEM_keypair_derand"]);
  });

  test("liboqs - a path that is not liboqs fails with BackendUnavailable, and auto falls back to native", async () => {
    expect(() => createLiboqsBackend("/nonexistent/liboqs.so")).toThrow(BackendUnavailable);
    if (!OQS_LIB) expect((await selectBackend({ preference: "auto" })).name).toBe("native");
    await expect(selectBackend({ preference: "auto", oqsLib: "/nonexistent/liboqs.so" })).rejects.toThrow(BackendUnavailable);
    await expect(selectBackend({ preference: "liboqs", oqsLib: "/nonexistent/liboqs.so" })).rejects.toThrow(BackendUnavailable);
    expect((await selectBackend({ preference: "native" })).name).toBe("native");
  });

  test.skipIf(!OQS_LIB)("liboqs - reports its version and enabled algorithms and is preferred by auto (OQS_LIB)", async () => {
    const liboqs = createLiboqsBackend(OQS_LIB);
    expect(liboqs.version).toMatch(/^liboqs \d+\.\d+/);
    expect(liboqs.algorithms).toContain("ML-KEM-768");
    expect(liboqs.algorithms).toContain("ML-DSA-65");
    expect((await selectBackend({ preference: "auto", oqsLib: OQS_LIB })).name).toBe("liboqs");
  });

  test.skipIf(!OQS_LIB)("liboqs - keys, ciphertexts and signatures are byte-compatible with the native backend (OQS_LIB)", async () => {
    const liboqs = createLiboqsBackend(OQS_LIB);
    const native = createNativeBackend();
    const message = new TextEncoder().encode("interop");
    const nativeKem = await native.kemKeypair();
    const enc = await liboqs.kemEncaps(nativeKem.publicKey);
    expect(await native.kemDecaps(nativeKem.secretKey, enc.ciphertext)).toEqual(enc.sharedSecret);
    const oqsKem = await liboqs.kemKeypair();
    const back = await native.kemEncaps(oqsKem.publicKey);
    expect(await liboqs.kemDecaps(oqsKem.secretKey, back.ciphertext)).toEqual(back.sharedSecret);
    const oqsSig = liboqs.sigKeypair();
    expect(oqsSig.secretKey.length).toBe(ML_DSA_65.expandedSecretKey);
    expect(native.sigVerify(oqsSig.publicKey, message, liboqs.sigSign(oqsSig.secretKey, message))).toBe(true);
    const nativeSig = native.sigKeypair();
    expect(liboqs.sigVerify(nativeSig.publicKey, message, native.sigSign(nativeSig.secretKey, message))).toBe(true);
    expect(liboqs.sigVerify(nativeSig.publicKey, new Uint8Array(0), native.sigSign(nativeSig.secretKey, new Uint8Array(0)))).toBe(true);
  });
});
