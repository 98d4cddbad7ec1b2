// What the rag knows: the case book, three HNSW indexes (case features, case texts, runbook sections) and their keys.
// Pure of NATS: the service feeds it events and runbooks, asks it questions, and saves it (snapshot.ts).
import type { CaseSituation, EmbedderIdentity, RagCase, RagHit, RunbookSection } from "@x0/shared";
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

/** The saved state beside the indexes: the cases, which are indexed, and the keys they have. */
export interface KnowledgeState {
  cases: RagCase[];
  indexed: string[];
  keys: [string, number][];
  last_seq: number;
}

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

/** The case book and its indexes. */
export class Knowledge {
  readonly book: CaseBook;
  readonly cases: VectorIndex;
  readonly caseTexts: VectorIndex;
  readonly runbooks: VectorIndex;
  readonly #keys = new Map<string, bigint>();
  readonly #incidentOf = new Map<bigint, string>();
  #runbookSections: RunbookSection[] = [];
  #nextKey = 1n;
  /** The last X0_EVENTS sequence folded in. */
  lastSeq = 0;

  constructor(
    readonly text: TextEmbedder,
    readonly degreesOf: (nodes: string[]) => number[] | undefined = () => undefined,
    hnsw: HnswSettings = DEFAULT_HNSW,
    state?: KnowledgeState,
  ) {
    this.book = new CaseBook(state?.cases ?? [], state?.indexed ?? []);
    this.cases = new VectorIndex(caseEmbedder.dimensions, hnsw);
    this.caseTexts = new VectorIndex(text.identity.dimensions, hnsw);
    this.runbooks = new VectorIndex(text.identity.dimensions, hnsw);
    for (const [incidentId, key] of state?.keys ?? []) this.#remember(incidentId, BigInt(key));
    this.lastSeq = state?.last_seq ?? 0;
  }

  /** The embedders, by role. */
  get embedders(): { case: EmbedderIdentity; text: EmbedderIdentity } {
    return { case: caseEmbedder, text: this.text.identity };
  }

  #remember(incidentId: string, key: bigint): void {
    this.#keys.set(incidentId, key);
    this.#incidentOf.set(key, incidentId);
    if (key >= this.#nextKey) this.#nextKey = key + 1n;
  }

  #keyOf(incidentId: string): bigint {
    const known = this.#keys.get(incidentId);
    if (known !== undefined) return known;
    const key = this.#nextKey;
    this.#remember(incidentId, key);
    return key;
  }

  /** Folds one event in (an event at or below the last sequence was already folded in: skipped). */
  async apply(event: CaseEvent): Promise<EventOutcome> {
    if (event.seq <= this.lastSeq) return "skipped";
    this.lastSeq = event.seq;
    const applied = this.book.apply(event);
    if (!applied) return "unmatched";
    if (!applied.index) return "open";
    await this.index([applied.case]);
    return "indexed";
  }

  /** Embeds and (re-)indexes cases; their topology context is filled in from the current view when they have none. */
  async index(items: RagCase[]): Promise<void> {
    if (items.length === 0) return;
    for (const item of items) if (item.degrees === undefined && item.target) item.degrees = this.degreesOf(item.target.nodes);
    const texts = await this.text.embed(items.map(caseText));
    items.forEach((item, i) => {
      const key = this.#keyOf(item.incident_id);
      this.cases.upsert(key, embedCase(situationOf(item)));
      this.caseTexts.upsert(key, texts[i] as Float32Array);
      this.book.markIndexed(item.incident_id);
    });
  }

  /** Indexes open cases whose events stopped before `before` (flagged as never resolved). */
  async indexStale(before: number): Promise<number> {
    const stale = this.book.stale(before);
    await this.index(stale);
    return stale.length;
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
      const [vector] = await this.text.embed([request.text]);
      if (wantCases) caseHits = this.#caseHits(this.caseTexts.search(vector as Float32Array, request.k), undefined);
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

  #filter(hits: RagHit[], minScore: number): RagHit[] {
    return hits.filter((hit) => hit.score >= minScore);
  }

  #caseHits(scored: { key: bigint; score: number }[], self: string | undefined): RagHit[] {
    const hits: RagHit[] = [];
    for (const { key, score } of scored) {
      const incidentId = this.#incidentOf.get(key);
      const item = incidentId === undefined ? undefined : this.book.get(incidentId);
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

  /** The state saved beside the indexes. */
  state(): KnowledgeState {
    return {
      cases: [...this.book.all()],
      indexed: this.book.indexedIds(),
      keys: [...this.#keys].map(([id, key]) => [id, Number(key)]),
      last_seq: this.lastSeq,
    };
  }

  /** Counts for stats. */
  counts(): { cases: number; open: number; flagged: number; runbooks: number } {
    let open = 0;
    let flagged = 0;
    for (const item of this.book.all()) {
      if (!this.book.isIndexed(item.incident_id)) open++;
      if (item.flags.length > 0) flagged++;
    }
    return { cases: this.book.size - open, open, flagged, runbooks: this.#runbookSections.length };
  }
}
