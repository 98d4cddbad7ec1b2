import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { incidentEvents } from "@x0/shared/testing";
import type { CaseEvent } from "../cases/casebook.ts";
import { caseEmbedder } from "../embed/case-features.ts";
import { lexical } from "../embed/text-embedders.ts";
import { Knowledge } from "../knowledge/knowledge.ts";
import { openKnowledge, saveKnowledge } from "./store.ts";

const root = mkdtempSync(join(tmpdir(), "x0-rag-store-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const stream = { name: "X0_EVENTS", created: "2026-12-06T00:00:00Z" };
const expected = { embedders: { case: caseEmbedder, text: lexical.identity }, stream };
const noDegrees = () => undefined;

async function savedKnowledge(dir: string): Promise<Knowledge> {
  const knowledge = new Knowledge(lexical);
  let seq = 1;
  for (const link of [
    ["n1", "n2"],
    ["n2", "n3"],
    ["n3", "n4"],
  ] as [string, string][]) {
    for (const { subject, message } of incidentEvents({ kind: "link_down", link, alternative: "reroute-around", outcome: "verified", at: 0 })) {
      const type = subject.startsWith("x0.anomaly") ? "anomaly" : subject.startsWith("x0.plan") ? "plan" : "result";
      await knowledge.apply({ type, seq: seq++, message } as CaseEvent);
    }
  }
  saveKnowledge(dir, knowledge, stream, 1);
  return knowledge;
}

describe("index folder", () => {
  test("store - a saved folder loads whole: cases, indexes, keys and the last sequence", async () => {
    const dir = join(root, "whole");
    const saved = await savedKnowledge(dir);
    const opened = openKnowledge(dir, expected, lexical, noDegrees);
    expect(opened.rebuild).toBeUndefined();
    expect(opened.knowledge.lastSeq).toBe(12);
    expect(opened.knowledge.cases.size).toBe(3);
    const [first] = [...saved.book.all()];
    const hits = await opened.knowledge.search({ incident_id: first?.incident_id, k: 2, include: ["cases"], min_score: 0 });
    expect(hits.hits).toHaveLength(2);
  });

  test("store - a missing, truncated, corrupted or foreign folder is refused with the reason, and cleared for the rebuild", async () => {
    const reasonFor = async (name: string, spoil: (dir: string) => void, wanted = expected) => {
      const dir = join(root, name);
      await savedKnowledge(dir);
      spoil(dir);
      const opened = openKnowledge(dir, wanted, lexical, noDegrees);
      expect(opened.knowledge.cases.size).toBe(0);
      return opened.rebuild;
    };
    expect(openKnowledge(join(root, "never"), expected, lexical, noDegrees).rebuild).toContain("no meta.json");
    expect(await reasonFor("missing", (dir) => rmSync(join(dir, "case-texts.usearch")))).toContain("is missing");
    expect(await reasonFor("truncated", (dir) => truncateSync(join(dir, "cases.usearch"), 64))).toContain("truncated or replaced");
    expect(
      await reasonFor("corrupted", (dir) => {
        const path = join(dir, "cases.json");
        const text = require("node:fs").readFileSync(path, "utf8") as string;
        writeFileSync(path, text.replace("link_down", "link_dowX"));
      }),
    ).toContain("does not match its saved checksum");
    expect(await reasonFor("meta", (dir) => writeFileSync(join(dir, "meta.json"), "{"))).toContain("is not JSON");
    const otherText = { ...expected, embedders: { ...expected.embedders, text: { ...lexical.identity, name: "use-lite", version: "x" } } };
    expect(await reasonFor("embedder", () => {}, otherText)).toContain("built by x0-lexical@1, this rag embeds with use-lite@x");
    expect(await reasonFor("stream", () => {}, { ...expected, stream: { name: "X0_EVENTS", created: "2027-01-01T00:00:00Z" } })).toContain("not the one here");
    // Cleared: the next start does not find the spoiled files again.
    expect(openKnowledge(join(root, "truncated"), expected, lexical, noDegrees).rebuild).toContain("no meta.json");
  });
});
