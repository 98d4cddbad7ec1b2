// Byte helpers shared by the crypto modules.
import { InvalidCryptoInput } from "./errors.ts";

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** Bytes of a hex string. */
export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, "hex"));
}

/** Standard base64 of `bytes`. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** Decodes strict standard base64; `what` names the field in the error. */
export function fromBase64(text: string, what: string): Uint8Array {
  // Buffer's decoder is lenient (skips junk); the canonical round trip makes it strict, at native speed.
  const bytes = typeof text === "string" ? Buffer.from(text, "base64") : undefined;
  if (!bytes || bytes.toString("base64") !== text) throw new InvalidCryptoInput(`${what} is not valid base64`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Throws {@link InvalidCryptoInput} unless `bytes` is a byte array of exactly `length` bytes. */
export function expectLength(bytes: unknown, length: number, what: string): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new InvalidCryptoInput(`${what} must be bytes`);
  if (bytes.length !== length) throw new InvalidCryptoInput(`${what} must be ${length} bytes, got ${bytes.length}`);
  return bytes;
}

/** A 16-bit big-endian length prefix followed by `bytes` (unambiguous concatenation for KDF inputs). */
export function lengthPrefixed(bytes: Uint8Array): Uint8Array {
  if (bytes.length > 0xffff) throw new InvalidCryptoInput(`field of ${bytes.length} bytes is too long to length-prefix`);
  return concatBytes(new Uint8Array([bytes.length >> 8, bytes.length & 0xff]), bytes);
}
