// The text embedder: lexical, and says so. Words, word pairs and character trigrams hashed into a fixed vector
// (README: "Text embedding"); two texts are near when they share words, not meaning.
import type { EmbedderIdentity } from "@x0/shared";
import { signedHash } from "./hashing.ts";

/** Dimensions of a text vector. */
export const TEXT_DIMENSIONS = 1024;

/** The lexical embedder's identity (bump the version whenever tokens or weights change: the index is then rebuilt). */
export const lexicalEmbedder: EmbedderIdentity = {
  name: "x0-lexical",
  version: "1",
  dimensions: TEXT_DIMENSIONS,
  method: "lexical: hashed words (light stemming), word pairs and character trigrams, sublinear counts; no model",
};

// Words that carry no meaning for retrieval; a short list on purpose (domain words like "down" or "link" stay).
const STOPWORDS = new Set(
  "a an and are as at be been but by can did do does for from had has have how i if in into is it its keep keeps me my no not of on or our so than that the their them then there these they this to was we were what when where which who why will with you your".split(
    " ",
  ),
);

const WEIGHTS = { word: 1, pair: 0.5, trigram: 0.25 };

/** Lower-case word tokens: identifiers split at `_`, `|`, `:`, `/` and `-` as well as kept whole. */
export function tokensOf(text: string): string[] {
  const tokens: string[] = [];
  for (const raw of text.toLowerCase().match(/[a-z0-9][a-z0-9_|:/.-]*/g) ?? []) {
    const whole = raw.replace(/[.:/-]+$/, "");
    const parts = whole.split(/[_|:/.-]+/).filter((part) => part.length > 0);
    if (parts.length > 1) tokens.push(whole);
    for (const part of parts) if (!STOPWORDS.has(part)) tokens.push(stem(part));
  }
  return tokens;
}

/** A light suffix stripper: "losing" → "los", "losses" → "loss", "links" → "link", "queries" → "query" (no dictionary). */
export function stem(word: string): string {
  if (word.length <= 4 || /\d/.test(word)) return word;
  if (word.endsWith("ies")) return `${word.slice(0, -3)}y`;
  if (word.endsWith("es") && /(ss|sh|ch|x|z)es$/.test(word)) return word.slice(0, -2);
  for (const suffix of ["ing", "ed", "ly", "s"]) {
    if (word.endsWith(suffix) && !word.endsWith("ss") && word.length - suffix.length >= 3) return word.slice(0, -suffix.length);
  }
  return word;
}

/** The text's vector: unit length, or all zeros when it has no tokens. */
export function embedText(text: string): Float32Array {
  const vector = new Float32Array(TEXT_DIMENSIONS);
  const counts = new Map<string, { weight: number; times: number }>();
  const add = (feature: string, weight: number) => {
    const known = counts.get(feature);
    if (known) known.times++;
    else counts.set(feature, { weight, times: 1 });
  };
  const tokens = tokensOf(text);
  tokens.forEach((token, index) => {
    add(`w:${token}`, WEIGHTS.word);
    const next = tokens[index + 1];
    if (next !== undefined) add(`p:${token} ${next}`, WEIGHTS.pair);
    const padded = `^${token}$`;
    if (token.length >= 4) for (let i = 0; i + 3 <= padded.length; i++) add(`t:${padded.slice(i, i + 3)}`, WEIGHTS.trigram);
  });
  // Sublinear counts: a word said ten times does not outweigh ten different words.
  for (const [feature, { weight, times }] of counts) signedHash(feature, vector, weight * (1 + Math.log(times)));
  const norm = Math.hypot(...vector);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] as number) / norm;
  return vector;
}
