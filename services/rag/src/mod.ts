// Public surface of @x0/rag for benchmarks and tools: the pieces of the index, usable without the service.
export { CaseStore, CaseStoreError } from "./cases/case-store.ts";
export { CaseBook, type CaseEvent } from "./cases/casebook.ts";
export { CASE_DIMENSIONS, caseEmbedder, embedCase } from "./embed/case-features.ts";
export { embedText, lexicalEmbedder } from "./embed/lexical.ts";
export { lexical, loadTextEmbedder, TEXT_EMBEDDERS, type TextEmbedderName } from "./embed/text-embedders.ts";
export { DEFAULT_HNSW, type HnswSettings, IndexFileError, type ScoredKey, VectorIndex } from "./index/vector-index.ts";
export { EmbedderUnavailable, NotFound } from "./knowledge/errors.ts";
export { caseText, Knowledge, type SearchRequest, situationOf, type TextEmbedder } from "./knowledge/knowledge.ts";
export { readRunbooks, splitMarkdown } from "./runbooks/runbooks.ts";
export { openKnowledge, STORE_FILE, saveIndex } from "./store/store.ts";
