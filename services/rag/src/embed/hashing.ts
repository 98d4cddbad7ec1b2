// Signed feature hashing with 32-bit FNV-1a: a fixed, dependency-free hash, so vectors never change with a runtime's
// own hash function (Bun.hash's algorithm is not a stable contract).

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const encoder = new TextEncoder();

/** 32-bit FNV-1a of a string's UTF-8 bytes. */
export function fnv1a(text: string): number {
  let hash = FNV_OFFSET;
  for (const byte of encoder.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME) >>> 0;
  }
  return hash >>> 0;
}

/** Adds `weight` to one slot of `into` chosen by the token's hash, with a sign from the hash's top bit (the hashing trick). */
export function signedHash(token: string, into: Float32Array, weight = 1): void {
  const hash = fnv1a(token);
  const slot = (hash & 0x7fffffff) % into.length;
  into[slot] = (into[slot] as number) + (hash & 0x80000000 ? -weight : weight);
}
