// One usearch HNSW index (cosine) with upsert, scored search and a checked load. usearch aborts the process on some
// malformed files, so a file is loaded only after the snapshot's checksum matched (snapshot.ts).
import { statSync } from "node:fs";
import { X0Error } from "@x0/shared";
import usearch, { type Index, type Matches } from "usearch";

/** A saved index could not be loaded or does not fit. */
export class IndexFileError extends X0Error {}

/** HNSW settings: graph degree and the candidate lists while adding and searching (README: "Index"). */
export interface HnswSettings {
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
}

/**
 * Chosen by measurement at 1M case vectors (bench:rag): recall@10 0.92 at usearch's 16/128/64, 0.96 at 32/128/512.
 * With 32/256 the sweep of expansion_search gave 0.978 at 128, 0.983 at 256, 0.9996 at 384 and 512 (p99 0.73 and
 * 1.12 ms): 384. Many cases differ only in their figures, so neighbours sit close together and need the wider lists.
 */
export const DEFAULT_HNSW: HnswSettings = { connectivity: 32, expansionAdd: 256, expansionSearch: 384 };

/** A search hit: the key and its cosine similarity (1 - cosine distance). */
export interface ScoredKey {
  key: bigint;
  score: number;
}

/** A cosine HNSW index of fixed dimensions. */
export class VectorIndex {
  #index: Index;

  constructor(
    readonly dimensions: number,
    readonly settings: HnswSettings = DEFAULT_HNSW,
  ) {
    this.#index = VectorIndex.#create(dimensions, settings);
  }

  static #create(dimensions: number, settings: HnswSettings): Index {
    return new usearch.Index({
      dimensions,
      metric: usearch.MetricKind.Cos,
      quantization: usearch.ScalarKind.F32,
      connectivity: settings.connectivity,
      expansion_add: settings.expansionAdd,
      expansion_search: settings.expansionSearch,
      multi: false,
    });
  }

  /** Vectors in the index. */
  get size(): number {
    return this.#index.size();
  }

  /** Adds a vector under `key`, replacing the one it had. */
  upsert(key: bigint, vector: Float32Array): void {
    if (vector.length !== this.dimensions) throw new IndexFileError(`vector of ${vector.length} dimensions for an index of ${this.dimensions}`);
    if (this.#index.contains(key)) this.#index.remove(key);
    this.#index.add(key, vector, 0);
  }

  /** Adds many vectors at once (keys must be new): `vectors` holds them back to back. */
  addMany(keys: BigUint64Array, vectors: Float32Array): void {
    this.#index.add(keys, vectors, 0);
  }

  /** Empties the index. */
  clear(): void {
    this.#index = VectorIndex.#create(this.dimensions, this.settings);
  }

  /** Removes `key` if present. */
  remove(key: bigint): void {
    if (this.#index.contains(key)) this.#index.remove(key);
  }

  /** The `k` nearest keys, best first. */
  search(vector: Float32Array, k: number): ScoredKey[] {
    if (this.size === 0 || k <= 0) return [];
    // One thread: a single query has nothing to split, and the pool's hand-off costs more than it saves.
    const matches = this.#index.search(vector, k, 1) as Matches;
    return Array.from(matches.keys, (key: bigint, i: number) => ({ key, score: 1 - (matches.distances[i] as number) }));
  }

  /** Writes the index to `path`; returns its size in bytes. */
  save(path: string): number {
    this.#index.save(path);
    return statSync(path).size;
  }

  /** Replaces this index with the one saved at `path` (checked beforehand: see the file header). */
  load(path: string): void {
    const loaded = VectorIndex.#create(this.dimensions, this.settings);
    try {
      loaded.load(path);
    } catch (error) {
      throw new IndexFileError(`cannot load ${path}`, { cause: error });
    }
    // usearch adopts the file's dimensions: a file of another vector space must not pass for this one.
    if (loaded.dimensions() !== this.dimensions) {
      throw new IndexFileError(`${path} holds ${loaded.dimensions()}-dimensional vectors, not ${this.dimensions}`);
    }
    this.#index = loaded;
  }
}
