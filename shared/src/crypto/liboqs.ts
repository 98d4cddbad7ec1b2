// liboqs through bun:ffi, following the public OQS_KEM_* / OQS_SIG_* C API of liboqs 0.12 and later.
// Only exported functions are called (never the OQS_KEM/OQS_SIG struct fields, whose layout changes between
// releases); sizes are the fixed FIPS 203/204 ones. Derandomised functions newer than 0.12 are probed, not assumed.
import { type CString, dlopen, FFIType, type Pointer } from "bun:ffi";
import {
  type Encapsulation,
  KeyCache,
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

const { ptr, i32, u64, void: voidType, cstring } = FFIType;
const OQS_SUCCESS = 0;

/** The required liboqs symbols (present since before 0.12) and their C signatures. */
export const LIBOQS_SYMBOLS = {
  OQS_init: { args: [], returns: voidType },
  OQS_version: { args: [], returns: cstring },
  OQS_KEM_alg_count: { args: [], returns: i32 },
  OQS_KEM_alg_identifier: { args: [u64], returns: cstring },
  OQS_KEM_alg_is_enabled: { args: [ptr], returns: i32 },
  OQS_KEM_new: { args: [ptr], returns: ptr },
  OQS_KEM_keypair: { args: [ptr, ptr, ptr], returns: i32 },
  OQS_KEM_encaps: { args: [ptr, ptr, ptr, ptr], returns: i32 },
  OQS_KEM_decaps: { args: [ptr, ptr, ptr, ptr], returns: i32 },
  OQS_KEM_free: { args: [ptr], returns: voidType },
  OQS_SIG_alg_count: { args: [], returns: i32 },
  OQS_SIG_alg_identifier: { args: [u64], returns: cstring },
  OQS_SIG_alg_is_enabled: { args: [ptr], returns: i32 },
  OQS_SIG_new: { args: [ptr], returns: ptr },
  OQS_SIG_keypair: { args: [ptr, ptr, ptr], returns: i32 },
  OQS_SIG_sign: { args: [ptr, ptr, ptr, ptr, u64, ptr], returns: i32 },
  OQS_SIG_verify: { args: [ptr, ptr, u64, ptr, u64, ptr], returns: i32 },
  OQS_SIG_free: { args: [ptr], returns: voidType },
} as const;

/** Optional symbols: OQS_KEM_keypair_derand (0.12+) and OQS_KEM_encaps_derand (0.15+). */
export const LIBOQS_OPTIONAL_SYMBOLS = {
  OQS_KEM_keypair_derand: { args: [ptr, ptr, ptr, ptr], returns: i32 },
  OQS_KEM_encaps_derand: { args: [ptr, ptr, ptr, ptr, ptr], returns: i32 },
} as const;

/** Names the system loader is asked for when OQS_LIB is not set. */
export const LIBOQS_SYSTEM_NAMES = ["liboqs.so", "liboqs.so.9", "liboqs.so.8", "liboqs.so.7", "liboqs.dylib"];

const cName = (name: string) => Buffer.from(`${name}\0`, "utf8");

function loadLibrary(path: string) {
  try {
    return dlopen(path, LIBOQS_SYMBOLS);
  } catch (error) {
    throw new BackendUnavailable(`cannot load liboqs from ${path}`, { cause: error });
  }
}

function loadOptional<K extends keyof typeof LIBOQS_OPTIONAL_SYMBOLS>(path: string, name: K) {
  try {
    return dlopen(path, { [name]: LIBOQS_OPTIONAL_SYMBOLS[name] } as Pick<typeof LIBOQS_OPTIONAL_SYMBOLS, K>).symbols[name] as unknown as (
      ...args: unknown[]
    ) => number;
  } catch {
    // Absent in this liboqs release: the operation is reported as unsupported.
    return undefined;
  }
}

function enabledAlgorithms(count: () => number, identifier: (i: bigint) => CString | string | null, isEnabled: (name: Buffer) => number): string[] {
  const names: string[] = [];
  for (let i = 0; i < count(); i++) {
    const name = identifier(BigInt(i))?.toString();
    if (name && isEnabled(cName(name)) === 1) names.push(name);
  }
  return names;
}

/** Loads liboqs from `path` (OQS_LIB) or, when absent, through the system loader. */
export function createLiboqsBackend(path?: string): PqBackend {
  const candidates = path ? [path] : LIBOQS_SYSTEM_NAMES;
  let lib: ReturnType<typeof loadLibrary> | undefined;
  let loadedFrom = "";
  const failures: unknown[] = [];
  for (const candidate of candidates) {
    try {
      lib = loadLibrary(candidate);
      loadedFrom = candidate;
      break;
    } catch (error) {
      failures.push(error);
    }
  }
  if (!lib) throw new BackendUnavailable(`liboqs not found (${candidates.join(", ")})`, { cause: new AggregateError(failures) });
  const s = lib.symbols;
  s.OQS_init();
  const version = s.OQS_version()?.toString() ?? "unknown";
  const kemAlgorithms = enabledAlgorithms(s.OQS_KEM_alg_count, s.OQS_KEM_alg_identifier, s.OQS_KEM_alg_is_enabled);
  const sigAlgorithms = enabledAlgorithms(s.OQS_SIG_alg_count, s.OQS_SIG_alg_identifier, s.OQS_SIG_alg_is_enabled);
  if (!kemAlgorithms.includes("ML-KEM-768") || !sigAlgorithms.includes("ML-DSA-65")) {
    throw new BackendUnavailable(
      `liboqs ${version} at ${loadedFrom} lacks ML-KEM-768 or ML-DSA-65 (enabled: ${[...kemAlgorithms, ...sigAlgorithms].join(", ")})`,
    );
  }
  const kem = s.OQS_KEM_new(cName("ML-KEM-768")) as Pointer | null;
  const sig = s.OQS_SIG_new(cName("ML-DSA-65")) as Pointer | null;
  if (!kem || !sig) throw new BackendUnavailable(`liboqs ${version}: OQS_KEM_new/OQS_SIG_new returned NULL`);
  const keypairDerand = loadOptional(loadedFrom, "OQS_KEM_keypair_derand");
  const encapsDerand = loadOptional(loadedFrom, "OQS_KEM_encaps_derand");
  const check = (status: number, what: string) => {
    if (status !== OQS_SUCCESS) throw new CryptoError(`liboqs ${what} failed (status ${status})`);
  };
  const expandedFromSeed = new KeyCache<Uint8Array>();
  const expand = (seed: Uint8Array) =>
    expandedFromSeed.get(seed, () => {
      if (!keypairDerand) throw new InvalidCryptoInput(`liboqs ${version} has no OQS_KEM_keypair_derand: ML-KEM seeds cannot be used`);
      const pk = new Uint8Array(ML_KEM_768.publicKey);
      const sk = new Uint8Array(ML_KEM_768.expandedSecretKey);
      check(keypairDerand(kem, pk, sk, seed), "OQS_KEM_keypair_derand");
      return sk;
    });
  const kemForms: SecretKeyForm[] = keypairDerand ? ["seed", "expanded"] : ["expanded"];
  const backend = { name: "liboqs", secretKeyForms: { kem: kemForms, sig: ["expanded"] as SecretKeyForm[] } } as const;
  // A zero-length message still gets a valid pointer.
  const messagePointer = (message: Uint8Array) => (message.length === 0 ? new Uint8Array(1) : message);

  return {
    ...backend,
    version: `liboqs ${version}`,
    algorithms: [...kemAlgorithms, ...sigAlgorithms],
    derand: { kemKeypair: keypairDerand !== undefined, kemEncaps: encapsDerand !== undefined, sigKeypair: false },
    async kemKeypair(seed) {
      const pk = new Uint8Array(ML_KEM_768.publicKey);
      const sk = new Uint8Array(ML_KEM_768.expandedSecretKey);
      if (seed !== undefined || keypairDerand) {
        const coins = seed === undefined ? crypto.getRandomValues(new Uint8Array(ML_KEM_768.seed)) : expectLength(seed, ML_KEM_768.seed, "ML-KEM-768 seed");
        if (!keypairDerand) throw new BackendUnavailable(`liboqs ${version} has no OQS_KEM_keypair_derand`);
        check(keypairDerand(kem, pk, sk, coins), "OQS_KEM_keypair_derand");
        // Keep the portable seed form: every backend accepts it.
        return { publicKey: pk, secretKey: coins.slice() };
      }
      check(s.OQS_KEM_keypair(kem, pk, sk), "OQS_KEM_keypair");
      return { publicKey: pk, secretKey: sk };
    },
    async kemEncaps(publicKey, m): Promise<Encapsulation> {
      expectLength(publicKey, ML_KEM_768.publicKey, "ML-KEM-768 public key");
      const ct = new Uint8Array(ML_KEM_768.ciphertext);
      const ss = new Uint8Array(ML_KEM_768.sharedSecret);
      let status: number;
      if (m !== undefined) {
        expectLength(m, ML_KEM_768.encapsSeed, "ML-KEM-768 encapsulation message");
        if (!encapsDerand) throw new BackendUnavailable(`liboqs ${version} has no OQS_KEM_encaps_derand (0.15+)`);
        status = encapsDerand(kem, ct, ss, publicKey, m);
      } else {
        status = s.OQS_KEM_encaps(kem, ct, ss, publicKey);
      }
      // liboqs's ML-KEM checks the FIPS 203 modulus condition on the key and fails the call.
      if (status !== OQS_SUCCESS) throw new InvalidCryptoInput(`invalid ML-KEM-768 public key (liboqs encapsulation failed, status ${status})`);
      return { ciphertext: ct, sharedSecret: ss };
    },
    async kemDecaps(secretKey, ciphertext) {
      const form = kemSecretKeyForm(secretKey);
      requireForm(backend, "kem", form);
      expectLength(ciphertext, ML_KEM_768.ciphertext, "ML-KEM-768 ciphertext");
      const ss = new Uint8Array(ML_KEM_768.sharedSecret);
      check(s.OQS_KEM_decaps(kem, ss, ciphertext, form === "seed" ? expand(secretKey) : secretKey), "OQS_KEM_decaps");
      return ss;
    },
    sigKeypair(seed) {
      if (seed !== undefined) throw new BackendUnavailable(`liboqs ${version} has no ML-DSA key generation from a seed`);
      const pk = new Uint8Array(ML_DSA_65.publicKey);
      const sk = new Uint8Array(ML_DSA_65.expandedSecretKey);
      check(s.OQS_SIG_keypair(sig, pk, sk), "OQS_SIG_keypair");
      return { publicKey: pk, secretKey: sk };
    },
    sigSign(secretKey, message) {
      requireForm(backend, "sig", sigSecretKeyForm(secretKey));
      const signature = new Uint8Array(ML_DSA_65.signature);
      const length = new BigUint64Array(1);
      check(s.OQS_SIG_sign(sig, signature, length, messagePointer(message), BigInt(message.length), secretKey), "OQS_SIG_sign");
      return signature.subarray(0, Number(length[0]));
    },
    sigVerify(publicKey, message, signature) {
      expectLength(publicKey, ML_DSA_65.publicKey, "ML-DSA-65 public key");
      expectLength(signature, ML_DSA_65.signature, "ML-DSA-65 signature");
      return s.OQS_SIG_verify(sig, messagePointer(message), BigInt(message.length), signature, BigInt(signature.length), publicKey) === OQS_SUCCESS;
    },
  };
}
