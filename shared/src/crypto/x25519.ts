// X25519 through node:crypto (BoringSSL) with raw 32-byte keys wrapped in fixed DER prefixes.
import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from "node:crypto";
import { KeyCache } from "./backend.ts";
import { concatBytes, expectLength } from "./bytes.ts";
import { InvalidCryptoInput } from "./errors.ts";

const PKCS8_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
const SPKI_PREFIX = new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]);
const privateKeys = new KeyCache<KeyObject>();
const publicKeys = new KeyCache<KeyObject>();

function privateKeyOf(secret: Uint8Array): KeyObject {
  expectLength(secret, 32, "X25519 secret key");
  return privateKeys.get(secret, () => createPrivateKey({ key: Buffer.from(concatBytes(PKCS8_PREFIX, secret)), format: "der", type: "pkcs8" }));
}

/** The X25519 public key of a 32-byte secret (RFC 7748 clamping applies). */
export function x25519PublicKey(secret: Uint8Array): Uint8Array {
  const jwk = createPublicKey(privateKeyOf(secret)).export({ format: "jwk" }) as { x: string };
  return new Uint8Array(Buffer.from(jwk.x, "base64url"));
}

/** X25519(secret, peer); rejects an all-zero result (a low-order peer key). */
export function x25519(secret: Uint8Array, peerPublic: Uint8Array): Uint8Array {
  expectLength(peerPublic, 32, "X25519 public key");
  const peer = publicKeys.get(peerPublic, () => createPublicKey({ key: Buffer.from(concatBytes(SPKI_PREFIX, peerPublic)), format: "der", type: "spki" }));
  try {
    return new Uint8Array(diffieHellman({ privateKey: privateKeyOf(secret), publicKey: peer }));
  } catch (error) {
    throw new InvalidCryptoInput("X25519 with this public key gives no shared secret (low-order point)", { cause: error });
  }
}
