import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RagCase } from "@x0/shared";
import { CaseStore, CaseStoreError, ftsQueryOf, wordsOf } from "./case-store.ts";

const root = mkdtempSync(join(tmpdir(), "x0-rag-case-store-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function aCase(id: string, extra: Partial<RagCase> = {}): RagCase {
  return {
    v: 1,
    incident_id: id,
    kind: "link_down",
    states: 1,
    plans: [],
    results: [],
    outcome: "none",
    alternative: null,
    mttd_ms: null,
    mttr_ms: null,
    flags: [],
    first_seq: 1,
    last_seq: 1,
    opened_at: 1000,
    ...extra,
  };
}

describe("case store", () => {
  test("case-store - a question becomes quoted words joined by OR: no FTS5 syntax gets through", () => {
    expect(ftsQueryOf(wordsOf('why does n3 keep losing "its" link_down? NEAR(a b) *'))).toBe(
      '"why" OR "does" OR "n3" OR "keep" OR "losing" OR "its" OR "link" OR "down" OR "near" OR "a" OR "b"',
    );
    expect(ftsQueryOf(wordsOf("?! --"))).toBeUndefined();
  });

  test("case-store - cases by id and key, counts, text candidates of indexed cases only, writes after a version", () => {
    const store = new CaseStore(":memory:");
    const open = store.put(aCase("a"), false);
    const indexed = store.put(aCase("b", { resolved_at: 2000, flags: ["resolved twice"] }), true, "link down on n3 n6");
    const version = store.version;
    store.put(aCase("c", { resolved_at: 2000 }), true, "traffic spike at n1");
    expect(store.get("a")).toMatchObject({ indexed: false, key: open });
    expect(store.byKey(indexed)?.incident_id).toBe("b");
    expect(store.counts()).toEqual({ cases: 2, open: 1, flagged: 1 });
    expect(store.textCandidates("why does n3 lose its link?", 10)).toEqual([indexed]);
    expect(store.textCandidates("spike", 10)).toEqual([store.get("c")?.key as number]);
    expect([...store.indexedSince(version)].flat().map((row) => row.case.incident_id)).toEqual(["c"]);
    expect([...store.indexedSince(0, 1)].map((page) => page.length)).toEqual([1, 1]);
    // Re-indexed: the old text goes, the new one is found.
    store.put(aCase("b", { resolved_at: 2000 }), true, "node unreachable n9");
    expect(store.textCandidates("n3", 10)).toEqual([]);
    expect(store.textCandidates("n9", 10)).toEqual([indexed]);
    expect(store.staleOpen(1001).map((item) => item.incident_id)).toEqual(["a"]);
    expect(store.staleOpen(1000)).toEqual([]);
  });

  test("case-store - words most cases have are left out of a text query while rarer ones remain", () => {
    const store = new CaseStore(":memory:");
    const aboutN7 = new Set<number>();
    for (let i = 0; i < 1200; i++) {
      const [a, b] = [i % 600, (i % 600) + 1];
      const key = store.put(aCase(crypto.randomUUID(), { resolved_at: 2000 }), true, `link down on n${a} n${b}`);
      if (a === 7 || b === 7) aboutN7.add(key);
    }
    // "link" is in all 1,200 cases (over 1,000 and 5 %): left out, so only n7's four cases come back.
    expect(new Set(store.textCandidates("why does n7 lose its link?", 50))).toEqual(aboutN7);
    // Only common words: the rarest of them is used.
    expect(store.textCandidates("link", 10)).toHaveLength(10);
  });

  test("case-store - a transaction that throws writes nothing; another layout version is refused by name", () => {
    const path = join(root, "cases.db");
    const store = new CaseStore(path);
    expect(() =>
      store.transaction(() => {
        store.put(aCase("a"), false);
        throw new Error("half way");
      }),
    ).toThrow("half way");
    expect(store.get("a")).toBeUndefined();
    expect(store.counts()).toEqual({ cases: 0, open: 0, flagged: 0 });
    store.put(aCase("b", { flags: ["resolved twice"] }), true, "b");
    const id = store.id;
    store.close();
    const reopened = new CaseStore(path);
    expect(reopened.id).toBe(id);
    expect(reopened.counts()).toEqual({ cases: 1, open: 0, flagged: 1 });
    reopened.close();
    const db = new Database(path);
    db.run("pragma user_version = 1");
    db.close();
    expect(() => new CaseStore(path)).toThrow(CaseStoreError);
    expect(() => new CaseStore(path)).toThrow("is case store format 1, this rag reads 2");
  });
});
