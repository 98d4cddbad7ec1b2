// Hedged ML-DSA-65 signing: threads sign the same message, each with fresh randomness, and the first signature wins,
// cutting the tail of FIPS 204's rejection sampling for about twice the CPU; the calling thread blocks on a futex as long
// as a native sign call would. Why, when it races and what it costs: services/crypto/README.md ("Hedged signing").
import { cpus } from "node:os";
import { Worker } from "node:worker_threads";
import { ML_DSA_65, type PqBackend } from "./backend.ts";
import { CryptoError } from "./errors.ts";

/** Where the request, the claim and each thread's signature live in the shared buffer (passed to the threads). */
export interface HedgeLayout {
  /** Number of signing threads. */
  threads: number;
  /** Int32 words of the header: seq, claimed, length, stop, then ready[threads], slotGeneration[threads]. */
  words: number;
  /** Byte offset of the 32-byte ML-DSA-65 seed of the request. */
  seed: number;
  /** Byte offset of the request's message. */
  message: number;
  /** Longest message the buffer holds. */
  maxMessageBytes: number;
  /** Byte offset of thread 0's signature; thread i's is at signature + i * ML_DSA_65.signature. */
  signature: number;
  /** Total bytes. */
  bytes: number;
}

/** Int32 indexes of the header words. */
export const HedgeWord = {
  /** Generation of the latest request (the calling thread increments it). */
  seq: 0,
  /** Generation of the latest request a thread answered (or the caller gave up on): compare-and-swap from seq - 1. */
  claimed: 1,
  /** Message length of the latest request. */
  length: 2,
  /** Non-zero: the threads exit. */
  stop: 3,
  /** ready[i]: thread i is up. */
  ready: 4,
} as const;

/** The layout of a buffer for `threads` threads and messages up to `maxMessageBytes`. */
export function hedgeLayout(threads: number, maxMessageBytes: number): HedgeLayout {
  const words = HedgeWord.ready + 2 * threads;
  const seed = Math.ceil((words * 4) / 16) * 16;
  const message = seed + ML_DSA_65.seed;
  const signature = Math.ceil((message + maxMessageBytes) / 16) * 16;
  return { threads, words, seed, message, maxMessageBytes, signature, bytes: signature + threads * ML_DSA_65.signature };
}

/** The hedged signing threads failed (did not start, crashed, or answered nothing in time); signing falls back to the calling thread. */
export class HedgedSigningFailed extends CryptoError {}

/** Options of {@link HedgedSigner}. */
export interface HedgedSignerOptions {
  /** Threads that race per signature [2]; fewer than 2 turns hedging off. */
  threads?: number;
  /** Longest message signed on the threads; longer ones are signed on the calling thread [64 KiB]. */
  maxMessageBytes?: number;
  /** How long the calling thread waits for a signature before it signs itself and turns the threads off [1000 ms]. */
  timeoutMs?: number;
  /**
   * CPUs other processes must leave free (measured) for the threads to race; with less the caller signs itself
   * [threads - 0.5]. Until the first measurement (about a second after start) the caller signs itself; 0 always races.
   */
  minSpareCpus?: number;
  /** Told when the threads fail; they are then stopped and every signature is made on the calling thread. */
  onError?: (error: HedgedSigningFailed) => void;
  /** The thread's module (tests substitute one that never answers). */
  script?: URL;
}

/**
 * A pool of threads racing to sign each ML-DSA-65 message (native backend, seed keys). The threads start on first use,
 * that first signature and any the pool cannot take (`trySign` returns undefined) are made by the caller's backend.
 * @example const backend = withHedgedSigning(createNativeBackend(), new HedgedSigner({ threads: 2 }));
 */
export class HedgedSigner {
  readonly threads: number;
  readonly #layout: HedgeLayout;
  readonly #timeoutMs: number;
  readonly #onError: (error: HedgedSigningFailed) => void;
  readonly #script: URL;
  #words: Int32Array | undefined;
  #bytes: Uint8Array | undefined;
  #state: "idle" | "running" | "stopped" | "failed" = "idle";
  #generation = 0;
  #ready = false;
  /** Signatures the threads made (the rest were made by the caller). */
  raced = 0;
  readonly #minSpareCpus: number;
  #spare: SpareCpus | undefined;

  constructor({ threads = 2, maxMessageBytes = 65_536, timeoutMs = 1000, minSpareCpus, onError = () => {}, script }: HedgedSignerOptions = {}) {
    this.threads = Math.max(0, Math.min(Math.trunc(threads), 16));
    this.#minSpareCpus = minSpareCpus ?? this.threads - 0.5;
    this.#layout = hedgeLayout(this.threads, maxMessageBytes);
    this.#timeoutMs = timeoutMs;
    this.#onError = onError;
    this.#script = script ?? new URL("./hedged-worker.ts", import.meta.url);
    // One thread is only a detour: the race needs two.
    if (this.threads < 2) this.#state = "stopped";
  }

  /** Starts the threads (once); signatures go through them when all are up. */
  start(): void {
    if (this.#state !== "idle") return;
    this.#state = "running";
    const buffer = new SharedArrayBuffer(this.#layout.bytes);
    this.#words = new Int32Array(buffer, 0, this.#layout.words);
    this.#bytes = new Uint8Array(buffer);
    if (this.#minSpareCpus > 0) this.#spare = new SpareCpus();
    for (let index = 0; index < this.threads; index++) {
      const worker = new Worker(this.#script, { workerData: { buffer, index, layout: this.#layout } });
      // Idle threads wait on a futex: they must not keep the process alive.
      worker.unref();
      worker.on("error", (error) => this.#fail(new HedgedSigningFailed(`hedged signing thread ${index} failed`, { cause: error })));
      worker.on("exit", (code) => {
        if (this.#state === "running") this.#fail(new HedgedSigningFailed(`hedged signing thread ${index} exited with code ${code}`));
      });
    }
  }

  /** Whether the threads are up and taking signatures (when enough CPU is spare). */
  get active(): boolean {
    return this.#state === "running" && this.#allReady();
  }

  /** CPUs other processes left free at the last measurement (undefined before the first, or when not measured). */
  get spareCpus(): number | undefined {
    return this.#spare?.cpus;
  }

  /**
   * The first of `threads` concurrent ML-DSA-65 signatures of `message` under the seed `secretKey`, or undefined when
   * the threads cannot take it (not started yet: this starts them; message too long; key not a seed; stopped or failed).
   */
  trySign(secretKey: Uint8Array, message: Uint8Array): Uint8Array | undefined {
    if (this.#state === "idle") this.start();
    const words = this.#words;
    const bytes = this.#bytes;
    if (!words || !bytes || !this.active) return undefined;
    // Anything else (an expanded key, bad input) goes to the backend, which signs or says what is wrong.
    if (!(message instanceof Uint8Array) || message.length > this.#layout.maxMessageBytes) return undefined;
    if (!(secretKey instanceof Uint8Array) || secretKey.length !== ML_DSA_65.seed) return undefined;
    if (this.#spare) {
      this.#spare.refreshSoon();
      if ((this.#spare.cpus ?? 0) < this.#minSpareCpus) return undefined;
    }
    const previous = this.#generation;
    const generation = (previous + 1) | 0;
    // Nobody reads these until seq moves: the threads' Atomics.load of seq orders these plain writes before their reads.
    bytes.set(secretKey, this.#layout.seed);
    bytes.set(message, this.#layout.message);
    words[HedgeWord.length] = message.length;
    this.#generation = generation;
    Atomics.store(words, HedgeWord.seq, generation);
    Atomics.notify(words, HedgeWord.seq);
    const deadline = performance.now() + this.#timeoutMs;
    while (Atomics.load(words, HedgeWord.claimed) !== generation) {
      const left = deadline - performance.now();
      if (left <= 0) {
        // Claiming the request ourselves keeps a late thread from answering it (its compare-and-swap now fails).
        if (Atomics.compareExchange(words, HedgeWord.claimed, previous, generation) === previous) {
          this.#fail(new HedgedSigningFailed(`no signature from ${this.threads} hedged signing threads within ${this.#timeoutMs} ms`));
          return undefined;
        }
        break;
      }
      Atomics.wait(words, HedgeWord.claimed, previous, left);
    }
    const slots = HedgeWord.ready + this.threads;
    for (let index = 0; index < this.threads; index++) {
      // The winner wrote its signature, then its slot's generation, then claimed: a matching slot is complete.
      if (Atomics.load(words, slots + index) !== generation) continue;
      const offset = this.#layout.signature + index * ML_DSA_65.signature;
      this.raced++;
      return bytes.slice(offset, offset + ML_DSA_65.signature);
    }
    throw new CryptoError(`hedged signing: request ${generation} claimed without a signature (a protocol bug)`);
  }

  /** Stops the threads (they exit after any signature in progress); later signatures are made by the caller. */
  close(): void {
    if (this.#state === "running" || this.#state === "failed") this.#stopThreads();
    this.#state = "stopped";
  }

  #allReady(): boolean {
    if (this.#ready) return true;
    const words = this.#words;
    if (!words) return false;
    for (let index = 0; index < this.threads; index++) if (Atomics.load(words, HedgeWord.ready + index) !== 1) return false;
    this.#ready = true;
    return true;
  }

  #fail(error: HedgedSigningFailed): void {
    if (this.#state !== "running") return;
    this.#state = "failed";
    this.#stopThreads();
    this.#onError(error);
  }

  #stopThreads(): void {
    const words = this.#words;
    if (!words) return;
    Atomics.store(words, HedgeWord.stop, 1);
    Atomics.add(words, HedgeWord.seq, 1);
    Atomics.notify(words, HedgeWord.seq);
  }
}

/** CPU time other processes leave to this one, in CPUs, measured between samples taken at least a second apart. */
class SpareCpus {
  static readonly intervalMs = 1000;
  /** The latest measurement; undefined until the first interval has passed. */
  cpus: number | undefined;
  #at = performance.now();
  #idleMs = SpareCpus.#totalIdleMs();
  #own = process.cpuUsage();
  #queued = false;

  /** Queues a new measurement after the current task when the last one is older than the interval: off the signing path (os.cpus() reads /proc/stat). */
  refreshSoon(): void {
    if (this.#queued || performance.now() - this.#at < SpareCpus.intervalMs) return;
    this.#queued = true;
    setImmediate(() => {
      this.#queued = false;
      this.#sample();
    });
  }

  #sample(): void {
    const at = performance.now();
    const idleMs = SpareCpus.#totalIdleMs();
    const own = process.cpuUsage();
    const ownMs = (own.user - this.#own.user + own.system - this.#own.system) / 1000;
    // Idle time plus our own: what our threads can use (our own busy threads are not competition from elsewhere).
    this.cpus = (idleMs - this.#idleMs + ownMs) / (at - this.#at);
    this.#at = at;
    this.#idleMs = idleMs;
    this.#own = own;
  }

  static #totalIdleMs(): number {
    let idle = 0;
    for (const cpu of cpus()) idle += cpu.times.idle;
    return idle;
  }
}

/** `backend` with its ML-DSA-65 signing hedged by `signer` (native backend only: the threads use Bun's ML-DSA-65); other operations unchanged. */
export function withHedgedSigning(backend: PqBackend, signer: HedgedSigner): PqBackend {
  if (backend.name !== "native") throw new CryptoError(`hedged signing uses Bun's native ML-DSA-65; the ${backend.name} backend signs on its own`);
  return {
    name: backend.name,
    version: backend.version,
    algorithms: backend.algorithms,
    secretKeyForms: backend.secretKeyForms,
    derand: backend.derand,
    kemKeypair: (seed) => backend.kemKeypair(seed),
    kemEncaps: (publicKey, m) => backend.kemEncaps(publicKey, m),
    kemDecaps: (secretKey, ciphertext) => backend.kemDecaps(secretKey, ciphertext),
    sigKeypair: (seed) => backend.sigKeypair(seed),
    sigSign: (secretKey, message) => signer.trySign(secretKey, message) ?? backend.sigSign(secretKey, message),
    sigVerify: (publicKey, message, signature) => backend.sigVerify(publicKey, message, signature),
  };
}
