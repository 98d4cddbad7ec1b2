// One interface over the ML-KEM-768 / ML-DSA-65 implementations (liboqs, Bun native, noble).
import { InvalidCryptoInput } from "./errors.ts";

/** FIPS 203 ML-KEM-768 sizes in bytes. */
export const ML_KEM_768 = { publicKey: 1184, expandedSecretKey: 2400, seed: 64, ciphertext: 1088, sharedSecret: 32, encapsSeed: 32 } as const;
/** FIPS 204 ML-DSA-65 sizes in bytes. */
export const ML_DSA_65 = { publicKey: 1952, expandedSecretKey: 4032, seed: 32, signature: 3309 } as const;

/** Backend names. */
export const BackendName = { liboqs: "liboqs", liboqsWasm: "liboqs-wasm", native: "native", noble: "noble" } as const;
/** A backend name. */
export type BackendName = (typeof BackendName)[keyof typeof BackendName];

/**
 * How a secret key is held: the FIPS 203/204 seed (ML-KEM d‖z, 64 bytes; ML-DSA ξ, 32 bytes) or the
 * expanded FIPS encoding (2400 / 4032 bytes). The form follows from the length.
 */
export type SecretKeyForm = "seed" | "expanded";

/** A key pair; `secretKey` is a seed or an expanded key (see {@link SecretKeyForm}). */
export interface KeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** An encapsulation result. */
export interface Encapsulation {
  ciphertext: Uint8Array;
  sharedSecret: Uint8Array;
}

/** ML-KEM-768 and ML-DSA-65 behind one interface; inputs are checked for length and form. */
export interface PqBackend {
  readonly name: BackendName;
  /** Library version (liboqs version, Bun version, noble package version). */
  readonly version: string;
  /** Algorithms enabled in this backend (liboqs reports what it was built with). */
  readonly algorithms: readonly string[];
  /** Secret key forms each algorithm accepts. */
  readonly secretKeyForms: { readonly kem: readonly SecretKeyForm[]; readonly sig: readonly SecretKeyForm[] };
  /** Which operations take caller-supplied randomness (needed for known-answer tests). */
  readonly derand: { readonly kemKeypair: boolean; readonly kemEncaps: boolean; readonly sigKeypair: boolean };
  /** ML-KEM-768 key pair, from `seed` (d‖z) when given. */
  kemKeypair(seed?: Uint8Array): Promise<KeyPair>;
  /** ML-KEM-768 encapsulation, with message `m` when given (derandomised). */
  kemEncaps(publicKey: Uint8Array, m?: Uint8Array): Promise<Encapsulation>;
  /** ML-KEM-768 decapsulation (implicit rejection: a wrong ciphertext yields a pseudo-random secret). */
  kemDecaps(secretKey: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array>;
  /** ML-DSA-65 key pair, from `seed` (ξ) when given. */
  sigKeypair(seed?: Uint8Array): KeyPair;
  /** ML-DSA-65 signature (pure mode, empty context). */
  sigSign(secretKey: Uint8Array, message: Uint8Array): Uint8Array;
  /** Whether `signature` is a valid ML-DSA-65 signature of `message` under `publicKey`. */
  sigVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

function asBytes(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new InvalidCryptoInput(`${what} must be bytes`);
  return value;
}

/** The form of an ML-KEM-768 secret key, from its length. */
export function kemSecretKeyForm(secretKey: unknown): SecretKeyForm {
  const bytes = asBytes(secretKey, "ML-KEM-768 secret key");
  if (bytes.length === ML_KEM_768.seed) return "seed";
  if (bytes.length === ML_KEM_768.expandedSecretKey) return "expanded";
  throw new InvalidCryptoInput(
    `ML-KEM-768 secret key must be a ${ML_KEM_768.seed}-byte seed or a ${ML_KEM_768.expandedSecretKey}-byte decapsulation key, got ${bytes.length} bytes`,
  );
}

/** The form of an ML-DSA-65 secret key, from its length. */
export function sigSecretKeyForm(secretKey: unknown): SecretKeyForm {
  const bytes = asBytes(secretKey, "ML-DSA-65 secret key");
  if (bytes.length === ML_DSA_65.seed) return "seed";
  if (bytes.length === ML_DSA_65.expandedSecretKey) return "expanded";
  throw new InvalidCryptoInput(
    `ML-DSA-65 secret key must be a ${ML_DSA_65.seed}-byte seed or a ${ML_DSA_65.expandedSecretKey}-byte signing key, got ${bytes.length} bytes`,
  );
}

/** Checks that a backend accepts the form of a secret key. */
export function requireForm(backend: Pick<PqBackend, "name" | "secretKeyForms">, kind: "kem" | "sig", form: SecretKeyForm): void {
  if (!backend.secretKeyForms[kind].includes(form)) {
    const alg = kind === "kem" ? "ML-KEM-768" : "ML-DSA-65";
    throw new InvalidCryptoInput(
      `the ${backend.name} backend does not accept ${form} ${alg} secret keys (it accepts: ${backend.secretKeyForms[kind].join(", ")})`,
    );
  }
}

/** A small cache of parsed keys, keyed by the key bytes' identity first and their content second. */
export class KeyCache<T> {
  readonly #byRef = new WeakMap<Uint8Array, T>();
  readonly #byValue = new Map<string, T>();
  constructor(readonly limit = 256) {}

  /** The cached value for `bytes`, or the result of `make` (cached). */
  get(bytes: Uint8Array, make: () => T): T {
    const hit = this.#byRef.get(bytes);
    if (hit !== undefined) return hit;
    const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
    let value = this.#byValue.get(key);
    if (value === undefined) {
      value = make();
      // Bounded: a flood of distinct keys (fuzzing, a misbehaving client) cannot grow memory.
      if (this.#byValue.size >= this.limit) this.#byValue.clear();
      this.#byValue.set(key, value);
    }
    this.#byRef.set(bytes, value);
    return value;
  }
}
