// JSON records in a KV bucket, with the compare-and-set the outcome stats need; an in-memory twin for tests.
import { type openBucket, X0Error } from "@x0/shared";

type Kv = Awaited<ReturnType<typeof openBucket>>;

/** A value with the revision to compare-and-set against. */
export interface Revisioned {
  value: unknown;
  revision: number;
}

/** The KV operations the planner uses, on JSON values. */
export interface JsonStore {
  get(key: string): Promise<Revisioned | undefined>;
  put(key: string, value: unknown): Promise<void>;
  /** Fails with {@link StoreConflict} when the key exists. */
  create(key: string, value: unknown): Promise<void>;
  /** Fails with {@link StoreConflict} when the key's revision is no longer `revision`. */
  update(key: string, value: unknown, revision: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Keys matching a subject-style filter (`stats.>`). */
  keys(filter: string): Promise<string[]>;
}

/** A KV operation failed. */
export class StoreError extends X0Error {}

/** A compare-and-set lost against a concurrent writer. */
export class StoreConflict extends StoreError {}

// The server answers a failed CAS with "wrong last sequence" (update) or "key exists" (create).
const CONFLICT = /wrong last sequence|key exists|10071/i;

/** A {@link JsonStore} over a NATS KV bucket. */
export class KvStore implements JsonStore {
  constructor(readonly kv: Kv) {}

  async get(key: string): Promise<Revisioned | undefined> {
    const entry = await this.#run(`get ${key}`, () => this.kv.get(key));
    if (entry?.operation !== "PUT") return undefined;
    try {
      return { value: entry.json(), revision: entry.revision };
    } catch (error) {
      throw new StoreError(`kv ${key} is not JSON`, { cause: error });
    }
  }

  async put(key: string, value: unknown): Promise<void> {
    await this.#run(`put ${key}`, () => this.kv.put(key, JSON.stringify(value)));
  }

  async create(key: string, value: unknown): Promise<void> {
    await this.#run(`create ${key}`, () => this.kv.create(key, JSON.stringify(value)));
  }

  async update(key: string, value: unknown, revision: number): Promise<void> {
    await this.#run(`update ${key}`, () => this.kv.update(key, JSON.stringify(value), revision));
  }

  async delete(key: string): Promise<void> {
    await this.#run(`delete ${key}`, () => this.kv.delete(key));
  }

  async keys(filter: string): Promise<string[]> {
    return this.#run(`keys ${filter}`, async () => {
      const keys: string[] = [];
      for await (const key of await this.kv.keys(filter)) keys.push(key);
      return keys;
    });
  }

  async #run<T>(what: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      const Failure = CONFLICT.test(String((error as Error).message)) ? StoreConflict : StoreError;
      throw new Failure(`kv ${what} failed`, { cause: error });
    }
  }
}

/** A {@link JsonStore} in memory with the same compare-and-set rules (tests, and planning without NATS). */
export class MemoryStore implements JsonStore {
  readonly entries = new Map<string, Revisioned>();
  #revision = 0;

  async get(key: string): Promise<Revisioned | undefined> {
    const entry = this.entries.get(key);
    return entry ? { value: structuredClone(entry.value), revision: entry.revision } : undefined;
  }

  async put(key: string, value: unknown): Promise<void> {
    this.entries.set(key, { value: structuredClone(value), revision: ++this.#revision });
  }

  async create(key: string, value: unknown): Promise<void> {
    if (this.entries.has(key)) throw new StoreConflict(`key exists: ${key}`);
    await this.put(key, value);
  }

  async update(key: string, value: unknown, revision: number): Promise<void> {
    if (this.entries.get(key)?.revision !== revision) throw new StoreConflict(`wrong last sequence: ${key}`);
    await this.put(key, value);
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async keys(filter: string): Promise<string[]> {
    const pattern = new RegExp(`^${filter.replace(/\./g, "\\.").replace(/\*/g, "[^.]+").replace(/>$/, ".+")}$`);
    return [...this.entries.keys()].filter((key) => pattern.test(key));
  }
}
