// What the rag knows: the case book in its store, the HNSW index of case features, the runbook sections' index.
// Pure of NATS: the service feeds it events and runbooks, asks it questions, and saves the index (store.ts).
import type { CaseSituation, EmbedderIdentity, RagCase, RagHit, RunbookSection } from "@x0/shared";
import type { CaseCounts, CaseStore } from "../cases/case-store.ts";
import { CaseBook, type CaseEvent } from "../cases/casebook.ts";
import { caseEmbedder, embedCase } from "../embed/case-features.ts";
import { DEFAULT_HNSW, type HnswSettings, VectorIndex } from "../index/vector-index.ts";
import { NotFound } from "./errors.ts";

/** A text embedder: lexical or a model, asynchronous either way. */
export interface TextEmbedder {
  readonly identity: EmbedderIdentity;
  embed(texts: string[]): Promise<Float32Array[]>;
}

/** The parsed search request. */
export type SearchRequest = { incident_id?: string; case?: CaseSituation; text?: string; k: number; include: ("cases" | "runbooks")[]; min_score: number };

/** What an applied event did, for metrics and logs. */
export type EventOutcome = "indexed" | "open" | "skipped" | "unmatched";

/** A case (or a situation) in readable sentences: what the text index holds and questions are matched with. */
export function caseText(item: CaseSituation & Partial<RagCase>): string {
  const target = item.target ? `${item.target.type} ${item.target.id} (${item.target.nodes.join(", ")})` : `node ${item.node ?? "?"}`;
  const evidence = (item.evidence ?? []).map(
    (entry) => `${entry.metric} ${round(entry.observed)} at ${entry.node}${entry.peer ? ` towards ${entry.peer}` : ""}`,
  );
  const plans = (item.plans ?? []).map((plan) => `${plan.alternative ?? plan.rule}: ${[...new Set(plan.actions)].join(" ")}`);
  const outcome =
    item.outcome === undefined ? "open" : item.outcome === "none" ? "no repair finished" : `${item.outcome.replace("_", " ")} by ${item.alternative}`;
  const repair = item.mttr_ms === null || item.mttr_ms === undefined ? "" : ` in ${Math.round(item.mttr_ms)} ms`;
  return [
    `${item.kind.replace("_", " ")} (${item.kind}) on ${target}, seen by ${item.node ?? "?"} in ${item.metric ?? "?"}`,
    evidence.length > 0 ? `evidence: ${evidence.join("; ")}` : "",
    plans.length > 0 ? `plans: ${plans.join("; ")}` : "",
    `outcome: ${outcome}${repair}`,
    item.flags && item.flags.length > 0 ? `flags: ${item.flags.join("; ")}` : "",
  ]
    .filter(Boolean)
    .join(". ");
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** The situation part of a case: what a query by incident compares. */
export function situationOf(item: RagCase): CaseSituation {
  const { kind, severity, node, metric, observed, score, target, evidence, degrees } = item;
  return Object.fromEntries(
    Object.entries({ kind, severity, node, metric, observed, score, target, evidence, degrees }).filter(([, v]) => v !== undefined),
  ) as CaseSituation;
}

/** Text hits are chosen among this many cases per hit asked for, found by shared words, then scored by the embedder. */
const TEXT_CANDIDATES_PER_HIT = 4;
const TEXT_CANDIDATES_MIN = 20;
const LAST_SEQ = "last_seq";

/** Cosine similarity of two vectors of equal length. */
export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    normA += x * x;
    normB += y * y;
  }
  return normA === 0 || normB === 0 ? 0 : dot / Math.sqrt(normA * normB);
}

/** The case book and its indexes. */
export class Knowledge {
  readonly book: CaseBook;
  readonly cases: VectorIndex;
  readonly runbooks: VectorIndex;
  #runbookSections: RunbookSection[] = [];
  #lastSeq: number;

  constructor(
    readonly text: TextEmbedder,
    readonly store: CaseStore,
    readonly degreesOf: (nodes: string[]) => number[] | undefined = () => undefined,
    hnsw: HnswSettings = DEFAULT_HNSW,
  ) {
    this.book = new CaseBook(store);
    this.cases = new VectorIndex(caseEmbedder.dimensions, hnsw);
    this.runbooks = new VectorIndex(text.identity.dimensions, hnsw);
    this.#lastSeq = Number(store.state(LAST_SEQ) ?? 0);
  }

  /** The last X0_EVENTS sequence folded in (kept in the store with the cases it produced). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  set lastSeq(seq: number) {
    this.#lastSeq = seq;
    this.store.setState(LAST_SEQ, String(seq));
  }

  /** The embedders, by role. */
  get embedders(): { case: EmbedderIdentity; text: EmbedderIdentity } {
    return { case: caseEmbedder, text: this.text.identity };
  }

  /** Folds one event in, with its sequence, in one transaction (an event at or below the last sequence is skipped). */
  apply(event: CaseEvent): EventOutcome {
    if (event.seq <= this.#lastSeq) return "skipped";
    return this.store.transaction(() => {
      this.lastSeq = event.seq;
      const applied = this.book.apply(event);
      if (!applied) return "unmatched";
      if (!applied.index) return "open";
      this.index([applied.case]);
      return "indexed";
    });
  }

  /** Indexes (or re-indexes) cases; their topology context is filled in from the current view when they have none. */
  index(items: RagCase[]): void {
    for (const item of items) {
      if (item.degrees === undefined && item.target) item.degrees = this.degreesOf(item.target.nodes);
      const key = this.store.put(item, true, caseText(item));
      this.cases.upsert(BigInt(key), embedCase(situationOf(item)));
    }
  }

  /** Brings the case index up to the store: every indexed case written after `version` (all of them from 0). */
  catchUp(version: number): number {
    let count = 0;
    // An empty index takes whole pages at once (usearch adds them on all cores): every row is new to it.
    const empty = this.cases.size === 0;
    for (const page of this.store.indexedSince(version)) {
      if (empty) {
        const keys = new BigUint64Array(page.map((row) => BigInt(row.key)));
        const vectors = new Float32Array(page.length * caseEmbedder.dimensions);
        page.forEach((row, i) => {
          vectors.set(embedCase(situationOf(row.case)), i * caseEmbedder.dimensions);
        });
        this.cases.addMany(keys, vectors);
      } else {
        for (const row of page) this.cases.upsert(BigInt(row.key), embedCase(situationOf(row.case)));
      }
      count += page.length;
    }
    return count;
  }

  /** Indexes open cases whose events stopped before `before` (flagged as never resolved). */
  indexStale(before: number): number {
    return this.store.transaction(() => {
      const stale = this.book.stale(before);
      this.index(stale);
      return stale.length;
    });
  }

  /** Replaces the runbook sections (all of them: a changed folder is indexed again whole). */
  async setRunbooks(sections: RunbookSection[]): Promise<void> {
    const vectors = await this.text.embed(sections.map((section) => `${section.heading}\n${section.text}`));
    for (let key = 0; key < this.#runbookSections.length; key++) this.runbooks.remove(BigInt(key));
    this.#runbookSections = sections;
    sections.forEach((_, key) => {
      this.runbooks.upsert(BigInt(key), vectors[key] as Float32Array);
    });
  }

  /** Cases and runbook sections similar to an incident, a situation or a text, best first, k of each kind. */
  async search(request: SearchRequest): Promise<{ hits: RagHit[]; query: "incident" | "case" | "text" }> {
    const wantCases = request.include.includes("cases");
    const wantRunbooks = request.include.includes("runbooks");
    let caseHits: RagHit[] = [];
    let runbookHits: RagHit[] = [];
    if (request.text !== undefined) {
      // Cases: the ones sharing words with the question (full-text index), scored by the text embedder like runbooks.
      const candidates = wantCases ? this.#candidates(request.text, request.k) : [];
      const [vector, ...caseVectors] = await this.text.embed([request.text, ...candidates.map((item) => caseText(item))]);
      if (wantCases) {
        const scored = candidates.map((item, i) => ({ item, score: cosine(vector as Float32Array, caseVectors[i] as Float32Array) }));
        scored.sort((a, b) => b.score - a.score);
        caseHits = scored.slice(0, request.k).map(({ item, score }) => ({ type: "case" as const, score: round(score), case: item }));
      }
      if (wantRunbooks) runbookHits = this.#runbookHits(vector as Float32Array, request.k);
      return { hits: this.#filter([...caseHits, ...runbookHits], request.min_score), query: "text" };
    }
    let situation: CaseSituation;
    let self: string | undefined;
    let about: string;
    if (request.incident_id !== undefined) {
      const item = this.book.get(request.incident_id);
      if (!item) throw new NotFound(`no case for incident ${request.incident_id}`);
      situation = situationOf(item);
      self = item.incident_id;
      about = caseText(item);
    } else {
      situation = { ...(request.case as CaseSituation) };
      if (situation.degrees === undefined && situation.target) {
        const degrees = this.degreesOf(situation.target.nodes);
        if (degrees) situation.degrees = degrees;
      }
      about = caseText(situation);
    }
    if (wantCases) {
      // One more than asked, so the asked-about case itself can be left out.
      caseHits = this.#caseHits(this.cases.search(embedCase(situation), request.k + (self ? 1 : 0)), self).slice(0, request.k);
    }
    if (wantRunbooks) {
      const [vector] = await this.text.embed([about]);
      runbookHits = this.#runbookHits(vector as Float32Array, request.k);
    }
    return { hits: this.#filter([...caseHits, ...runbookHits], request.min_score), query: request.incident_id !== undefined ? "incident" : "case" };
  }

  #candidates(text: string, k: number): RagCase[] {
    const keys = this.store.textCandidates(text, Math.max(TEXT_CANDIDATES_MIN, k * TEXT_CANDIDATES_PER_HIT));
    return keys.flatMap((key) => this.store.byKey(key) ?? []);
  }

  #filter(hits: RagHit[], minScore: number): RagHit[] {
    return hits.filter((hit) => hit.score >= minScore);
  }

  #caseHits(scored: { key: bigint; score: number }[], self: string | undefined): RagHit[] {
    const hits: RagHit[] = [];
    for (const { key, score } of scored) {
      const item = this.store.byKey(Number(key));
      if (!item || item.incident_id === self) continue;
      hits.push({ type: "case", score: round(score), case: item });
    }
    return hits;
  }

  #runbookHits(vector: Float32Array, k: number): RagHit[] {
    return this.runbooks.search(vector, k).flatMap(({ key, score }) => {
      const section = this.#runbookSections[Number(key)];
      return section ? [{ type: "runbook" as const, score: round(score), runbook: section }] : [];
    });
  }

  /** Counts for stats. */
  counts(): CaseCounts & { runbooks: number } {
    return { ...this.store.counts(), runbooks: this.#runbookSections.length };
  }
}
