// Bun's built-in ML-KEM-768 (WebCrypto encapsulateBits/decapsulateBits) and ML-DSA-65 (node:crypto, BoringSSL).
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import {
  type Encapsulation,
  KeyCache,
  type KeyPair,
  kemSecretKeyForm,
  ML_DSA_65,
  ML_KEM_768,
  type PqBackend,
  requireForm,
  sigSecretKeyForm,
} from "./backend.ts";
import { concatBytes, expectLength } from "./bytes.ts";
import { BackendUnavailable, CryptoError, InvalidCryptoInput } from "./errors.ts";

const KEM = { name: "ML-KEM-768" } as const;
// WebCrypto's modern-algorithm methods are not in the TypeScript DOM types yet.
const subtle = crypto.subtle as unknown as {
  importKey(format: string, data: Uint8Array, algorithm: object, extractable: boolean, usages: string[]): Promise<CryptoKey>;
  exportKey(format: string, key: CryptoKey): Promise<ArrayBuffer>;
  getPublicKey(key: CryptoKey, usages: string[]): Promise<CryptoKey>;
  encapsulateBits(algorithm: object, key: CryptoKey): Promise<{ sharedKey: ArrayBuffer; ciphertext: ArrayBuffer }>;
  decapsulateBits(algorithm: object, key: CryptoKey, ciphertext: Uint8Array): Promise<ArrayBuffer>;
};

// PKCS#8 prefix of an ML-DSA-65 private key held as its 32-byte seed (id-ml-dsa-65, [0] IMPLICIT seed):
// BoringSSL imports only the seed form.
const ML_DSA_65_SEED_PKCS8 = new Uint8Array([
  0x30, 0x34, 0x02, 0x01, 0x00, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x12, 0x04, 0x22, 0x80, 0x20,
]);

/** The node:crypto private key of an ML-DSA-65 seed (ξ); also used by the hedged signing threads. */
export function mldsaPrivateKeyOfSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.from(concatBytes(ML_DSA_65_SEED_PKCS8, seed)), format: "der", type: "pkcs8" });
}

/** Whether this Bun exposes ML-KEM-768 in WebCrypto and ML-DSA-65 in node:crypto. */
export function nativeAvailable(): boolean {
  return typeof (crypto.subtle as unknown as { encapsulateBits?: unknown }).encapsulateBits === "function";
}

/** The native backend: Bun's own ML-KEM-768 and ML-DSA-65; secret keys are held as FIPS seeds. */
export function createNativeBackend(): PqBackend {
  if (!nativeAvailable()) throw new BackendUnavailable(`Bun ${Bun.version} has no WebCrypto ML-KEM (encapsulateBits)`);
  const kemPublic = new KeyCache<Promise<CryptoKey>>();
  const kemPrivate = new KeyCache<Promise<CryptoKey>>();
  const sigPublic = new KeyCache<KeyObject>();
  const sigPrivate = new KeyCache<KeyObject>();
  const secretKeyForms = { kem: ["seed"], sig: ["seed"] } as const;
  const backend = { name: "native", secretKeyForms } as const;

  const importKemPublic = (publicKey: Uint8Array) =>
    kemPublic.get(publicKey, () =>
      subtle.importKey("raw-public", publicKey, KEM, false, ["encapsulateBits"]).catch((error: unknown) => {
        throw new InvalidCryptoInput("invalid ML-KEM-768 public key (not a valid FIPS 203 encapsulation key)", { cause: error });
      }),
    );
  const importKemSeed = (seed: Uint8Array) =>
    kemPrivate.get(seed, () =>
      subtle.importKey("raw-seed", seed, KEM, true, ["decapsulateBits"]).catch((error: unknown) => {
        throw new CryptoError("cannot import ML-KEM-768 seed", { cause: error });
      }),
    );

  return {
    ...backend,
    version: `bun ${Bun.version}`,
    algorithms: ["ML-KEM-768", "ML-DSA-65"],
    derand: { kemKeypair: true, kemEncaps: false, sigKeypair: true },
    async kemKeypair(seed) {
      const d = seed === undefined ? crypto.getRandomValues(new Uint8Array(ML_KEM_768.seed)) : expectLength(seed, ML_KEM_768.seed, "ML-KEM-768 seed");
      const privateKey = await importKemSeed(d);
      const publicKey = new Uint8Array(await subtle.exportKey("raw-public", await subtle.getPublicKey(privateKey, ["encapsulateBits"])));
      return { publicKey, secretKey: d.slice() };
    },
    async kemEncaps(publicKey, m): Promise<Encapsulation> {
      expectLength(publicKey, ML_KEM_768.publicKey, "ML-KEM-768 public key");
      if (m !== undefined) throw new BackendUnavailable("the native backend cannot encapsulate with a caller-supplied message (no derandomised Encaps)");
      const { sharedKey, ciphertext } = await subtle.encapsulateBits(KEM, await importKemPublic(publicKey));
      return { ciphertext: new Uint8Array(ciphertext), sharedSecret: new Uint8Array(sharedKey) };
    },
    async kemDecaps(secretKey, ciphertext) {
      requireForm(backend, "kem", kemSecretKeyForm(secretKey));
      expectLength(ciphertext, ML_KEM_768.ciphertext, "ML-KEM-768 ciphertext");
      return new Uint8Array(await subtle.decapsulateBits(KEM, await importKemSeed(secretKey), ciphertext));
    },
    sigKeypair(seed): KeyPair {
      const xi = seed === undefined ? crypto.getRandomValues(new Uint8Array(ML_DSA_65.seed)) : expectLength(seed, ML_DSA_65.seed, "ML-DSA-65 seed");
      const privateKey = mldsaPrivateKeyOfSeed(xi);
      const jwk = createPublicKey(privateKey).export({ format: "jwk" }) as { pub?: string };
      if (!jwk.pub) throw new CryptoError("native ML-DSA-65 public key export gave no key");
      return { publicKey: new Uint8Array(Buffer.from(jwk.pub, "base64url")), secretKey: xi.slice() };
    },
    sigSign(secretKey, message) {
      requireForm(backend, "sig", sigSecretKeyForm(secretKey));
      const key = sigPrivate.get(secretKey, () => mldsaPrivateKeyOfSeed(secretKey));
      return new Uint8Array(sign(null, message, key));
    },
    sigVerify(publicKey, message, signature) {
      expectLength(publicKey, ML_DSA_65.publicKey, "ML-DSA-65 public key");
      expectLength(signature, ML_DSA_65.signature, "ML-DSA-65 signature");
      const key = sigPublic.get(publicKey, () => {
        try {
          return createPublicKey({ key: Buffer.from(publicKey), format: "raw-public", asymmetricKeyType: "ml-dsa-65" } as unknown as Parameters<
            typeof createPublicKey
          >[0]);
        } catch (error) {
          throw new InvalidCryptoInput("invalid ML-DSA-65 public key", { cause: error });
        }
      });
      return verify(null, message, key, signature);
    },
  };
}
