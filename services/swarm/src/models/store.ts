// Model and adapter versions in the x0_models bucket: each version written once (create), the adopted one replaced by
// compare-and-set, so a coordinator that dies or loses its lease between the two writes leaves no half-published model.
import { type AdapterVersion, adapterKeyPrefix, ModelName, type ModelVersion, X0Error } from "@x0/shared";

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

/** What the store needs of a record: its number and whether it was adopted. */
export interface VersionRecord {
  version: number;
  status: "adopted" | "rejected";
}

/** Reads and writes the versions under one key prefix (`<prefix>.v<n>`, `<prefix>.current`). */
export class VersionStore<R extends VersionRecord> {
  constructor(
    readonly bucket: ModelBucket,
    /** `link-health` for the model, `link-health.site.<site>` for a site's adapter. */
    readonly prefix: string,
  ) {}

  /** The adopted version's record, or null when none was adopted yet. */
  async current(): Promise<StoredModel | null> {
    return this.#read(`${this.prefix}.current`);
  }

  /** One version's record, or null. */
  async version(version: number): Promise<StoredModel | null> {
    return this.#read(`${this.prefix}.v${version}`);
  }

  /** The highest version number written (adopted or rejected), or -1. */
  async highestVersion(): Promise<number> {
    let highest = -1;
    const prefix = `${this.prefix}.v`;
    for await (const key of await this.bucket.keys(`${this.prefix}.*`)) {
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
  async publish(record: R, currentRevision: number): Promise<void> {
    const text = JSON.stringify(record);
    try {
      await this.bucket.create(`${this.prefix}.v${record.version}`, text);
    } catch (error) {
      throw new ModelConflict(`${this.prefix} v${record.version} was already written`, { cause: error });
    }
    if (record.status !== "adopted") return;
    const key = `${this.prefix}.current`;
    try {
      if (currentRevision === 0) await this.bucket.create(key, text);
      else await this.bucket.update(key, text, currentRevision);
    } catch (error) {
      throw new ModelConflict(`the adopted ${this.prefix} moved since revision ${currentRevision}: v${record.version} stays recorded, not adopted`, {
        cause: error,
      });
    }
  }

  async #read(key: string): Promise<StoredModel | null> {
    const entry = await this.bucket.get(key);
    if (entry?.operation !== "PUT") return null;
    return { raw: JSON.parse(decoder.decode(entry.value)), revision: entry.revision };
  }
}

/** One model's versions (`<model>.v<n>`, `<model>.current`). */
export class ModelStore extends VersionStore<ModelVersion> {
  constructor(
    bucket: ModelBucket,
    readonly model: string,
  ) {
    super(bucket, ModelName.parse(model));
  }
}

/** One site's adapter versions of a model (`<model>.site.<site>.v<n>`, `.current`). */
export class AdapterStore extends VersionStore<AdapterVersion> {
  constructor(
    bucket: ModelBucket,
    readonly model: string,
    readonly site: string,
  ) {
    super(bucket, adapterKeyPrefix(model, site));
  }
}
