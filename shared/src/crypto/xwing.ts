// X-Wing (draft-connolly-cfrg-xwing-kem): X25519 + ML-KEM-768 with the SHA3-256 combiner, over any backend's ML-KEM.
import { sha3_256, shake256 } from "@noble/hashes/sha3.js";
import type { Encapsulation, KeyPair, PqBackend } from "./backend.ts";
import { ML_KEM_768 } from "./backend.ts";
import { concatBytes, expectLength } from "./bytes.ts";
import { x25519, x25519PublicKey } from "./x25519.ts";

/** X-Wing sizes in bytes: the secret key is a 32-byte seed; pk = pk_M ‖ pk_X; ct = ct_M ‖ ct_X. */
export const XWING = { secretKey: 32, publicKey: ML_KEM_768.publicKey + 32, ciphertext: ML_KEM_768.ciphertext + 32, sharedSecret: 32, encapsSeed: 64 } as const;

// XWingLabel = "\.//^\" (6 bytes), appended last in the combiner.
const LABEL = new Uint8Array([0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c]);

/** SHA3-256(ss_M ‖ ss_X ‖ ct_X ‖ pk_X ‖ XWingLabel). */
function combiner(ssM: Uint8Array, ssX: Uint8Array, ctX: Uint8Array, pkX: Uint8Array): Uint8Array {
  return sha3_256(concatBytes(ssM, ssX, ctX, pkX, LABEL));
}

/** Expands an X-Wing seed with SHAKE-256 into the ML-KEM-768 seed (d‖z) and the X25519 secret. */
function expand(seed: Uint8Array): { kemSeed: Uint8Array; skX: Uint8Array } {
  const expanded = shake256(seed, { dkLen: 96 });
  return { kemSeed: expanded.subarray(0, 64), skX: expanded.subarray(64, 96) };
}

/** X-Wing over a backend's ML-KEM-768. */
export interface XWing {
  keypair(seed?: Uint8Array): Promise<KeyPair>;
  encaps(publicKey: Uint8Array, eseed?: Uint8Array): Promise<Encapsulation>;
  decaps(secretKey: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array>;
}

/** X-Wing using `backend` for ML-KEM-768 and node:crypto for X25519; `eseed` needs a backend with derandomised Encaps. */
export function createXWing(backend: PqBackend): XWing {
  const derive = async (seed: Uint8Array) => {
    const { kemSeed, skX } = expand(expectLength(seed, XWING.secretKey, "X-Wing secret key"));
    const { publicKey: pkM, secretKey: skM } = await backend.kemKeypair(kemSeed);
    return { pkM, skM, skX, pkX: x25519PublicKey(skX) };
  };
  return {
    async keypair(seed) {
      const sk = seed === undefined ? crypto.getRandomValues(new Uint8Array(XWING.secretKey)) : seed;
      const { pkM, pkX } = await derive(sk);
      return { publicKey: concatBytes(pkM, pkX), secretKey: sk.slice() };
    },
    async encaps(publicKey, eseed) {
      expectLength(publicKey, XWING.publicKey, "X-Wing public key");
      if (eseed !== undefined) expectLength(eseed, XWING.encapsSeed, "X-Wing encapsulation seed");
      const pkM = publicKey.subarray(0, ML_KEM_768.publicKey);
      const pkX = publicKey.subarray(ML_KEM_768.publicKey);
      const ekX = eseed ? eseed.slice(32, 64) : crypto.getRandomValues(new Uint8Array(32));
      const ctX = x25519PublicKey(ekX);
      const ssX = x25519(ekX, pkX);
      const { ciphertext: ctM, sharedSecret: ssM } = await backend.kemEncaps(pkM.slice(), eseed?.slice(0, 32));
      return { ciphertext: concatBytes(ctM, ctX), sharedSecret: combiner(ssM, ssX, ctX, pkX) };
    },
    async decaps(secretKey, ciphertext) {
      expectLength(ciphertext, XWING.ciphertext, "X-Wing ciphertext");
      const { skM, skX, pkX } = await derive(secretKey);
      const ctM = ciphertext.slice(0, ML_KEM_768.ciphertext);
      const ctX = ciphertext.slice(ML_KEM_768.ciphertext);
      const ssM = await backend.kemDecaps(skM, ctM);
      return combiner(ssM, x25519(skX, ctX), ctX, pkX);
    },
  };
}
