// Ed25519 through node:crypto with raw 32-byte keys (the classical half of a hybrid signing identity).
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { KeyCache } from "./backend.ts";
import { concatBytes, expectLength } from "./bytes.ts";
import { InvalidCryptoInput } from "./errors.ts";

const PKCS8_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const SPKI_PREFIX = new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
const privateKeys = new KeyCache<KeyObject>();
const publicKeys = new KeyCache<KeyObject>();

const privateKeyOf = (secret: Uint8Array) =>
  privateKeys.get(expectLength(secret, 32, "Ed25519 secret key"), () =>
    createPrivateKey({ key: Buffer.from(concatBytes(PKCS8_PREFIX, secret)), format: "der", type: "pkcs8" }),
  );

/** A new Ed25519 key pair as raw 32-byte keys. */
export function ed25519Keypair(): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const secretKey = crypto.getRandomValues(new Uint8Array(32));
  return { publicKey: ed25519PublicKey(secretKey), secretKey };
}

/** The raw public key of a raw secret key. */
export function ed25519PublicKey(secretKey: Uint8Array): Uint8Array {
  const jwk = createPublicKey(privateKeyOf(secretKey)).export({ format: "jwk" }) as { x: string };
  return new Uint8Array(Buffer.from(jwk.x, "base64url"));
}

/** An Ed25519 signature (64 bytes). */
export function ed25519Sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, privateKeyOf(secretKey)));
}

/** Whether `signature` is a valid Ed25519 signature of `message`. */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  expectLength(signature, 64, "Ed25519 signature");
  const key = publicKeys.get(expectLength(publicKey, 32, "Ed25519 public key"), () => {
    try {
      return createPublicKey({ key: Buffer.from(concatBytes(SPKI_PREFIX, publicKey)), format: "der", type: "spki" });
    } catch (error) {
      throw new InvalidCryptoInput("invalid Ed25519 public key", { cause: error });
    }
  });
  return verify(null, message, key, signature);
}
