// liboqs compiled to WebAssembly by the Open Quantum Safe project (@oqs/liboqs-js): the same liboqs code as the FFI
// backend, runnable wherever Bun is. Its API has no derandomised calls; how supplied randomness reaches liboqs anyway,
// and is checked before it is trusted: services/crypto/README.md, "Backends".
import nodeCrypto from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  type Encapsulation,
  KeyCache,
  type KeyPair,
  kemSecretKeyForm,
  ML_DSA_65,
  ML_KEM_768,
  type PqBackend,
  requireForm,
  type SecretKeyForm,
  sigSecretKeyForm,
} from "./backend.ts";
import { expectLength } from "./bytes.ts";
import { BackendUnavailable, CryptoError, InvalidCryptoInput } from "./errors.ts";

type RandomFill = (buffer: NodeJS.ArrayBufferView) => NodeJS.ArrayBufferView;
const cryptoModule = nodeCrypto as unknown as { randomFillSync: RandomFill };

/**
 * Runs `operation` (a synchronous liboqs call) with liboqs's randombytes reading `bytes` instead of the system's
 * randomness, and checks that it drew exactly all of them. The Emscripten glue of liboqs-js draws through
 * node:crypto's randomFillSync, looked up on every draw; nothing else runs while the call lasts (it is synchronous).
 */
export function withLiboqsRandomness<T>(bytes: Uint8Array, operation: () => T): T {
  const original = cryptoModule.randomFillSync;
  let drawn = 0;
  cryptoModule.randomFillSync = (buffer) => {
    const view = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    if (drawn + view.length > bytes.length) throw new CryptoError(`liboqs-wasm drew more than the ${bytes.length} bytes supplied`);
    view.set(bytes.subarray(drawn, drawn + view.length));
    drawn += view.length;
    return buffer;
  };
  let result: T;
  try {
    result = operation();
  } finally {
    cryptoModule.randomFillSync = original;
  }
  if (drawn !== bytes.length) throw new CryptoError(`liboqs-wasm drew ${drawn} of the ${bytes.length} bytes supplied: derandomisation does not hold`);
  return result;
}

/** The @oqs/liboqs-js package version. */
function packageVersion(): string {
  try {
    const entry = Bun.resolveSync("@oqs/liboqs-js", import.meta.dir);
    return (JSON.parse(readFileSync(join(dirname(entry), "..", "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/**
 * Whether supplied randomness reaches liboqs in this build: a key pair from a fixed seed twice, the same both times and
 * different from one from another seed. False when the glue no longer draws as expected (then no derandomised call).
 */
function derandomisationHolds(keypair: () => { publicKey: Uint8Array }): boolean {
  try {
    const seed = new Uint8Array(ML_KEM_768.seed).fill(1);
    const first = withLiboqsRandomness(seed, keypair).publicKey;
    const again = withLiboqsRandomness(seed, keypair).publicKey;
    const other = withLiboqsRandomness(new Uint8Array(ML_KEM_768.seed).fill(2), keypair).publicKey;
    return Buffer.from(first).equals(Buffer.from(again)) && !Buffer.from(first).equals(Buffer.from(other));
  } catch {
    return false;
  }
}

/** Loads liboqs's WebAssembly build (ML-KEM-768 and ML-DSA-65); BackendUnavailable when it cannot. */
export async function createLiboqsWasmBackend(): Promise<PqBackend> {
  // Loaded here, not at import: a service on another backend never loads the package.
  let kem: Awaited<ReturnType<typeof import("@oqs/liboqs-js").createMLKEM768>>;
  let dsa: Awaited<ReturnType<typeof import("@oqs/liboqs-js").createMLDSA65>>;
  try {
    const { createMLDSA65, createMLKEM768 } = await import("@oqs/liboqs-js");
    [kem, dsa] = await Promise.all([createMLKEM768(), createMLDSA65()]);
  } catch (error) {
    throw new BackendUnavailable("cannot load liboqs's WebAssembly build (@oqs/liboqs-js)", { cause: error });
  }
  const version = `liboqs-js ${packageVersion()}`;
  const derand = derandomisationHolds(() => kem.generateKeyPair());
  const forms: SecretKeyForm[] = derand ? ["seed", "expanded"] : ["expanded"];
  const backend = { name: "liboqs-wasm", secretKeyForms: { kem: forms, sig: forms } } as const;
  // Seeds are expanded once through derandomised key generation (the FIPS 203/204 KeyGen from d‖z or ξ).
  const kemExpanded = new KeyCache<Uint8Array>();
  const sigExpanded = new KeyCache<Uint8Array>();
  const kemKeyOf = (secretKey: Uint8Array) => {
    const form = kemSecretKeyForm(secretKey);
    requireForm(backend, "kem", form);
    return form === "expanded" ? secretKey : kemExpanded.get(secretKey, () => withLiboqsRandomness(secretKey, () => kem.generateKeyPair()).secretKey);
  };
  const sigKeyOf = (secretKey: Uint8Array) => {
    const form = sigSecretKeyForm(secretKey);
    requireForm(backend, "sig", form);
    return form === "expanded" ? secretKey : sigExpanded.get(secretKey, () => withLiboqsRandomness(secretKey, () => dsa.generateKeyPair()).secretKey);
  };
  const needDerand = (what: string) => {
    if (!derand) throw new BackendUnavailable(`${version}: caller-supplied randomness does not reach liboqs in this build (${what})`);
  };

  return {
    ...backend,
    version,
    algorithms: ["ML-KEM-768", "ML-DSA-65"],
    derand: { kemKeypair: derand, kemEncaps: derand, sigKeypair: derand },
    async kemKeypair(seed): Promise<KeyPair> {
      if (seed === undefined) return kem.generateKeyPair();
      expectLength(seed, ML_KEM_768.seed, "ML-KEM-768 seed");
      needDerand("ML-KEM-768 key pair from a seed");
      const { publicKey } = withLiboqsRandomness(seed, () => kem.generateKeyPair());
      // Keep the portable seed form: every backend accepts it.
      return { publicKey, secretKey: seed.slice() };
    },
    async kemEncaps(publicKey, m): Promise<Encapsulation> {
      expectLength(publicKey, ML_KEM_768.publicKey, "ML-KEM-768 public key");
      if (m !== undefined) {
        expectLength(m, ML_KEM_768.encapsSeed, "ML-KEM-768 encapsulation message");
        needDerand("ML-KEM-768 encapsulation with a given message");
      }
      try {
        return m === undefined ? kem.encapsulate(publicKey) : withLiboqsRandomness(m, () => kem.encapsulate(publicKey));
      } catch (error) {
        if (error instanceof CryptoError) throw error;
        // liboqs's ML-KEM checks the FIPS 203 modulus condition on the key and fails the call.
        throw new InvalidCryptoInput("invalid ML-KEM-768 public key (liboqs encapsulation failed)", { cause: error });
      }
    },
    async kemDecaps(secretKey, ciphertext) {
      expectLength(ciphertext, ML_KEM_768.ciphertext, "ML-KEM-768 ciphertext");
      return kem.decapsulate(ciphertext, kemKeyOf(secretKey));
    },
    sigKeypair(seed): KeyPair {
      if (seed === undefined) return dsa.generateKeyPair();
      expectLength(seed, ML_DSA_65.seed, "ML-DSA-65 seed");
      needDerand("ML-DSA-65 key pair from a seed");
      const { publicKey } = withLiboqsRandomness(seed, () => dsa.generateKeyPair());
      return { publicKey, secretKey: seed.slice() };
    },
    sigSign(secretKey, message) {
      // Hedged, as liboqs signs: 32 fresh random bytes per signature (FIPS 204).
      return dsa.sign(message, sigKeyOf(secretKey));
    },
    sigVerify(publicKey, message, signature) {
      expectLength(publicKey, ML_DSA_65.publicKey, "ML-DSA-65 public key");
      expectLength(signature, ML_DSA_65.signature, "ML-DSA-65 signature");
      return dsa.verify(message, signature, publicKey);
    },
  };
}
