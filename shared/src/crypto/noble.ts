// @noble/post-quantum: an independent pure-TypeScript ML-KEM/ML-DSA, for cross-verification and as a benchmark reference.
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { KeyCache, kemSecretKeyForm, ML_DSA_65, ML_KEM_768, type PqBackend, sigSecretKeyForm } from "./backend.ts";
import { expectLength } from "./bytes.ts";
import { InvalidCryptoInput } from "./errors.ts";

/** The pinned @noble/post-quantum version (shared/package.json). */
export const NOBLE_VERSION = "0.7.1";

/** The noble backend; accepts seeds and expanded secret keys, and derandomised key generation and encapsulation. */
export function createNobleBackend(): PqBackend {
  const expandedKem = new KeyCache<Uint8Array>();
  const expandedSig = new KeyCache<Uint8Array>();
  const kemKey = (secretKey: Uint8Array) =>
    kemSecretKeyForm(secretKey) === "seed" ? expandedKem.get(secretKey, () => ml_kem768.keygen(secretKey).secretKey) : secretKey;
  const sigKey = (secretKey: Uint8Array) =>
    sigSecretKeyForm(secretKey) === "seed" ? expandedSig.get(secretKey, () => ml_dsa65.keygen(secretKey).secretKey) : secretKey;
  return {
    name: "noble",
    version: `@noble/post-quantum ${NOBLE_VERSION}`,
    algorithms: ["ML-KEM-768", "ML-DSA-65"],
    secretKeyForms: { kem: ["seed", "expanded"], sig: ["seed", "expanded"] },
    derand: { kemKeypair: true, kemEncaps: true, sigKeypair: true },
    async kemKeypair(seed) {
      const d = seed === undefined ? crypto.getRandomValues(new Uint8Array(ML_KEM_768.seed)) : expectLength(seed, ML_KEM_768.seed, "ML-KEM-768 seed");
      return { publicKey: ml_kem768.keygen(d).publicKey, secretKey: d.slice() };
    },
    async kemEncaps(publicKey, m) {
      expectLength(publicKey, ML_KEM_768.publicKey, "ML-KEM-768 public key");
      if (m !== undefined) expectLength(m, ML_KEM_768.encapsSeed, "ML-KEM-768 encapsulation message");
      try {
        const { cipherText, sharedSecret } = ml_kem768.encapsulate(publicKey, m);
        return { ciphertext: cipherText, sharedSecret };
      } catch (error) {
        throw new InvalidCryptoInput("invalid ML-KEM-768 public key (not a valid FIPS 203 encapsulation key)", { cause: error });
      }
    },
    async kemDecaps(secretKey, ciphertext) {
      const key = kemKey(secretKey);
      expectLength(ciphertext, ML_KEM_768.ciphertext, "ML-KEM-768 ciphertext");
      return ml_kem768.decapsulate(ciphertext, key);
    },
    sigKeypair(seed) {
      const xi = seed === undefined ? crypto.getRandomValues(new Uint8Array(ML_DSA_65.seed)) : expectLength(seed, ML_DSA_65.seed, "ML-DSA-65 seed");
      return { publicKey: ml_dsa65.keygen(xi).publicKey, secretKey: xi.slice() };
    },
    sigSign(secretKey, message) {
      return ml_dsa65.sign(message, sigKey(secretKey));
    },
    sigVerify(publicKey, message, signature) {
      expectLength(publicKey, ML_DSA_65.publicKey, "ML-DSA-65 public key");
      expectLength(signature, ML_DSA_65.signature, "ML-DSA-65 signature");
      return ml_dsa65.verify(signature, message, publicKey);
    },
  };
}
