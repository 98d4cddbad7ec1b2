import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IndexFileError, VectorIndex } from "./vector-index.ts";

const dir = mkdtempSync(join(tmpdir(), "x0-vector-index-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const unit = (...values: number[]) => {
  const norm = Math.hypot(...values);
  return Float32Array.from(values, (v) => v / norm);
};

describe("vector index", () => {
  test("vector index - upsert replaces a key's vector; search ranks by cosine similarity", () => {
    const index = new VectorIndex(3);
    index.upsert(1n, unit(1, 0, 0));
    index.upsert(2n, unit(0, 1, 0));
    index.upsert(1n, unit(0, 0, 1));
    expect(index.size).toBe(2);
    const [best, second] = index.search(unit(0, 0.1, 1), 2);
    expect(best?.key).toBe(1n);
    expect(best?.score).toBeGreaterThan(0.99);
    expect(second?.key).toBe(2n);
    index.remove(2n);
    expect(index.search(unit(0, 1, 0), 5).map((hit) => hit.key)).toEqual([1n]);
    expect(new VectorIndex(3).search(unit(1, 0, 0), 3)).toEqual([]);
    expect(() => index.upsert(3n, unit(1, 0))).toThrow(IndexFileError);
  });

  test("vector index - saves and loads; a file of another dimension is refused", () => {
    const index = new VectorIndex(3);
    index.upsert(7n, unit(1, 2, 3));
    const path = join(dir, "three.usearch");
    expect(index.save(path)).toBeGreaterThan(0);
    const loaded = new VectorIndex(3);
    loaded.load(path);
    expect(loaded.search(unit(1, 2, 3), 1)[0]?.key).toBe(7n);
    expect(() => new VectorIndex(4).load(path)).toThrow("holds 3-dimensional vectors, not 4");
  });
});
