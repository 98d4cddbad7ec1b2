// One hedged signing thread (see hedged.ts): waits for a request in shared memory, signs it with fresh randomness,
// and answers it if no other thread has.
import { type KeyObject, sign } from "node:crypto";
import { workerData } from "node:worker_threads";
import { ML_DSA_65 } from "./backend.ts";
import { type HedgeLayout, HedgeWord } from "./hedged.ts";
import { mldsaPrivateKeyOfSeed } from "./native.ts";

const { buffer, index, layout } = workerData as { buffer: SharedArrayBuffer; index: number; layout: HedgeLayout };
const words = new Int32Array(buffer, 0, layout.words);
const bytes = new Uint8Array(buffer);
const slot = HedgeWord.ready + layout.threads + index;
const signatureAt = layout.signature + index * ML_DSA_65.signature;
// A service signs with one key at a time (two around a rotation): a handful of parsed keys is plenty.
const keys = new Map<string, KeyObject>();

function keyOf(seed: Uint8Array): KeyObject {
  const id = Buffer.from(seed.buffer, seed.byteOffset, seed.byteLength).toString("hex");
  let key = keys.get(id);
  if (!key) {
    if (keys.size >= 8) keys.clear();
    key = mldsaPrivateKeyOfSeed(seed);
    keys.set(id, key);
  }
  return key;
}

// Requests before this thread was up are not its business (the caller only uses the threads once all are ready).
let seen = Atomics.load(words, HedgeWord.seq);
Atomics.store(words, HedgeWord.ready + index, 1);
for (;;) {
  Atomics.wait(words, HedgeWord.seq, seen);
  if (Atomics.load(words, HedgeWord.stop) !== 0) break;
  const generation = Atomics.load(words, HedgeWord.seq);
  seen = generation;
  const previous = (generation - 1) | 0;
  // Already answered (this thread was still busy losing an earlier race): nothing to do.
  if (Atomics.load(words, HedgeWord.claimed) !== previous) continue;
  const seed = bytes.slice(layout.seed, layout.seed + ML_DSA_65.seed);
  const message = bytes.slice(layout.message, layout.message + Atomics.load(words, HedgeWord.length));
  // If the request was answered meanwhile, the caller may be writing the next one: these copies may be torn, but then
  // the claim below fails and the signature is never read.
  const signature = sign(null, message, keyOf(seed));
  if (Atomics.load(words, HedgeWord.claimed) !== previous) continue;
  bytes.set(signature, signatureAt);
  Atomics.store(words, slot, generation);
  if (Atomics.compareExchange(words, HedgeWord.claimed, previous, generation) === previous) Atomics.notify(words, HedgeWord.claimed);
}
