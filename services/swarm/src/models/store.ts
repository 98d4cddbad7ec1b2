// Model versions in the x0_models bucket: each version written once (create), the adopted one replaced by
// compare-and-set, so a coordinator that dies or loses its lease between the two writes leaves no half-published model.
import { currentModelKey, type ModelVersion, modelVersionKey, X0Error } from "@x0/shared";

/** Another coordinator wrote this version, or moved the adopted one, first. */
export class ModelConflict extends X0Error {}

/** The part of a NATS KV bucket the store uses. */
export interface ModelBucket {
  get(key: string): Promise<{ value: Uint8Array; revision: number; operation: string } | null>;
  create(key: string, data: string): Promise<number>;
  update(key: string, data: string, version: number): Promise<number>;
  keys(filter?: string): Promise<AsyncIterable<string>>;
}

/** A stored record as read: its JSON (unknown fields kept, for the signature) and its KV revision. */
export interface StoredModel {
  raw: unknown;
  revision: number;
}

const decoder = new TextDecoder();

/** Reads and writes one model's versions. */
export class ModelStore {
  constructor(
    readonly bucket: ModelBucket,
    readonly model: string,
  ) {}

  /** The adopted version's record, or null when none was adopted yet. */
  async current(): Promise<StoredModel | null> {
    return this.#read(currentModelKey(this.model));
  }

  /** One version's record, or null. */
  async version(version: number): Promise<StoredModel | null> {
    return this.#read(modelVersionKey(this.model, version));
  }

  /** The highest version number written (adopted or rejected), or -1. */
  async highestVersion(): Promise<number> {
    let highest = -1;
    const prefix = `${this.model}.v`;
    for await (const key of await this.bucket.keys(`${this.model}.*`)) {
      if (!key.startsWith(prefix)) continue;
      const version = Number(key.slice(prefix.length));
      if (Number.isInteger(version)) highest = Math.max(highest, version);
    }
    return highest;
  }

  /**
   * Writes a signed version once; when it is adopted, makes it current by compare-and-set on `currentRevision` (0: no
   * current yet). Throws {@link ModelConflict} when the version exists or the current one moved meanwhile.
   */
  async publish(record: ModelVersion, currentRevision: number): Promise<void> {
    const text = JSON.stringify(record);
    try {
      await this.bucket.create(modelVersionKey(this.model, record.version), text);
    } catch (error) {
      throw new ModelConflict(`${this.model} v${record.version} was already written`, { cause: error });
    }
    if (record.status !== "adopted") return;
    const key = currentModelKey(this.model);
    try {
      if (currentRevision === 0) await this.bucket.create(key, text);
      else await this.bucket.update(key, text, currentRevision);
    } catch (error) {
      throw new ModelConflict(`the adopted ${this.model} moved since revision ${currentRevision}: v${record.version} stays recorded, not adopted`, {
        cause: error,
      });
    }
  }

  async #read(key: string): Promise<StoredModel | null> {
    const entry = await this.bucket.get(key);
    if (!entry || entry.operation !== "PUT") return null;
    return { raw: JSON.parse(decoder.decode(entry.value)), revision: entry.revision };
  }
}
