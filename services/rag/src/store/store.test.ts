import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LabIncident } from "@x0/shared/testing";
import { incidentEvents } from "@x0/shared/testing";
import type { CaseEvent } from "../cases/casebook.ts";
import { lexical } from "../embed/text-embedders.ts";
import type { Knowledge } from "../knowledge/knowledge.ts";
import { openKnowledge, saveIndex } from "./store.ts";

const root = mkdtempSync(join(tmpdir(), "x0-rag-store-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const stream = { name: "X0_EVENTS", created: "2026-12-06T00:00:00Z" };
const noDegrees = () => undefined;
const open = (dir: string, identity = stream) => openKnowledge(dir, identity, lexical, noDegrees);

function feed(knowledge: Knowledge, links: [string, string][]): void {
  let seq = knowledge.lastSeq + 1;
  for (const link of links) {
    const incident: LabIncident = { kind: "link_down", link, alternative: "reroute-around", outcome: "verified", at: 0 };
    for (const { subject, message } of incidentEvents(incident)) {
      const type = subject.startsWith("x0.anomaly") ? "anomaly" : subject.startsWith("x0.plan") ? "plan" : "result";
      knowledge.apply({ type, seq: seq++, message } as CaseEvent);
    }
  }
}

const LINKS: [string, string][] = [
  ["n1", "n2"],
  ["n2", "n3"],
  ["n3", "n4"],
];

/** A folder with three cases and their index saved. */
function savedFolder(name: string): string {
  const dir = join(root, name);
  const { knowledge } = open(dir);
  feed(knowledge, LINKS);
  saveIndex(dir, knowledge, 1);
  knowledge.store.close();
  return dir;
}

describe("index folder", () => {
  test("store - a saved folder loads whole: cases, index and the last sequence, with nothing to catch up", async () => {
    const opened = open(savedFolder("whole"));
    expect(opened.rebuild).toBeUndefined();
    expect(opened.reindex).toBeUndefined();
    expect(opened.caughtUp).toBe(0);
    expect(opened.knowledge.lastSeq).toBe(12);
    expect(opened.knowledge.cases.size).toBe(3);
    const [first] = [...opened.knowledge.store.all()];
    const hits = await opened.knowledge.search({ incident_id: first?.incident_id, k: 2, include: ["cases"], min_score: 0 });
    expect(hits.hits).toHaveLength(2);
    opened.knowledge.store.close();
  });

  test("store - cases stored after the index was saved are added to it at start, from the store", async () => {
    const dir = savedFolder("behind");
    const first = open(dir);
    feed(first.knowledge, [["n4", "n5"]]);
    // No index save: a crash now leaves the index one case behind the store.
    first.knowledge.store.close();
    const opened = open(dir);
    expect(opened.rebuild).toBeUndefined();
    expect(opened.reindex).toBeUndefined();
    expect(opened.caughtUp).toBe(1);
    expect(opened.knowledge.lastSeq).toBe(16);
    expect(opened.knowledge.cases.size).toBe(4);
    const { hits } = await opened.knowledge.search({ text: "n4 n5 link", k: 1, include: ["cases"], min_score: 0 });
    expect(hits[0]?.type === "case" && hits[0].case.target?.id).toBe("link:n4|n5");
    opened.knowledge.store.close();
  });

  test("store - a missing, truncated, corrupted or foreign index is rebuilt from the store, with the reason", () => {
    const reasonFor = (name: string, spoil: (dir: string) => void) => {
      const dir = savedFolder(name);
      spoil(dir);
      const opened = open(dir);
      expect(opened.rebuild).toBeUndefined();
      expect(opened.knowledge.cases.size).toBe(3);
      expect(opened.caughtUp).toBe(3);
      opened.knowledge.store.close();
      return opened.reindex;
    };
    expect(reasonFor("missing", (dir) => rmSync(join(dir, "cases.usearch")))).toContain("is missing");
    expect(reasonFor("truncated", (dir) => truncateSync(join(dir, "cases.usearch"), 64))).toContain("truncated or replaced");
    expect(
      reasonFor("corrupted", (dir) => {
        const fd = openSync(join(dir, "cases.usearch"), "r+");
        writeSync(fd, Buffer.from("garbage!"), 0, 8, 200);
        closeSync(fd);
      }),
    ).toContain("does not match its saved checksum");
    expect(reasonFor("meta", (dir) => writeFileSync(join(dir, "meta.json"), "{"))).toContain("is not JSON");
    expect(
      reasonFor("foreign", (dir) => {
        const meta = JSON.parse(require("node:fs").readFileSync(join(dir, "meta.json"), "utf8"));
        writeFileSync(join(dir, "meta.json"), JSON.stringify({ ...meta, store: "another" }));
      }),
    ).toContain("not the one here");
  });

  test("store - a damaged store, or one of another stream, is started anew to be read from the stream, with the reason", () => {
    const reasonFor = (name: string, spoil: (dir: string) => void, identity = stream) => {
      const dir = savedFolder(name);
      spoil(dir);
      const opened = open(dir, identity);
      expect(opened.knowledge.cases.size).toBe(0);
      expect(opened.knowledge.lastSeq).toBe(0);
      expect([...opened.knowledge.store.all()]).toEqual([]);
      opened.knowledge.store.close();
      return opened.rebuild;
    };
    expect(open(join(root, "never")).rebuild).toContain("no cases.db");
    expect(
      reasonFor("damaged", (dir) => {
        // Garbage over the pages after the first: the header still reads, the tables do not.
        const fd = openSync(join(dir, "cases.db"), "r+");
        writeSync(fd, Buffer.alloc(16_384, 0x5a), 0, 16_384, 4096);
        closeSync(fd);
      }),
    ).toMatch(/is damaged|malformed|not a database/);
    expect(reasonFor("header", (dir) => writeFileSync(join(dir, "cases.db"), "not sqlite at all, clearly"))).toContain("cannot open the case store");
    expect(reasonFor("stream", () => {}, { name: "X0_EVENTS", created: "2027-01-01T00:00:00Z" })).toContain("not the one here");
    // Started anew: the next start finds the new, empty store and uses it.
    const again = open(join(root, "stream"), { name: "X0_EVENTS", created: "2027-01-01T00:00:00Z" });
    expect(again.rebuild).toBeUndefined();
    again.knowledge.store.close();
  });
});
