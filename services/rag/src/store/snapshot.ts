// The saved case index: data files written beside temporary names and renamed into place, then meta.json last,
// naming each file's SHA-256. A load checks the meta and every checksum before any file is read.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { EmbedderIdentity } from "@x0/shared";
import { z } from "zod";

/** The folder layout's version: a different one is rebuilt, never read. */
export const SNAPSHOT_FORMAT = 2;
const META_FILE = "meta.json";

/** What meta.json records. */
export const SnapshotMeta = z.object({
  format: z.literal(SNAPSHOT_FORMAT),
  embedder: EmbedderIdentity.describe("The case embedder the vectors come from."),
  store: z.string().describe("The identity of the case store the index was built from."),
  covers_version: z.number().int().nonnegative().describe("The store's write version the index holds everything up to."),
  last_seq: z.number().int().nonnegative(),
  saved_at: z.number().int().nonnegative(),
  files: z.record(z.string(), z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int().nonnegative() })),
});
/** The snapshot's meta record. */
export type SnapshotMeta = z.infer<typeof SnapshotMeta>;

/** What a load expects: the same format, embedder and store. */
export type SnapshotExpectation = Pick<SnapshotMeta, "embedder" | "store">;

/** A stream's name and creation time: a recreated stream is another history. */
export interface StreamIdentity {
  name: string;
  created: string;
}

/** A loaded snapshot's files by name (verified paths), or why the folder must be rebuilt. */
export type SnapshotCheck = { ok: true; meta: SnapshotMeta; paths: Record<string, string> } | { ok: false; reason: string };

/** SHA-256 of a file, hex. */
export function sha256Of(path: string): string {
  return new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");
}

/** Writes bytes to `path` and flushes them to disk. */
export function writeDurably(path: string, bytes: Uint8Array | string): void {
  const fd = openSync(path, "w", 0o600);
  try {
    writeSync(fd, typeof bytes === "string" ? Buffer.from(bytes) : bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Saves a snapshot: `write(tmpPath)` writes each data file, which is flushed, checksummed and renamed into place;
 * meta.json comes last, so a crash in between leaves checksums that no longer match and the next load rebuilds.
 */
export function saveSnapshot(dir: string, meta: Omit<SnapshotMeta, "files" | "format">, files: Record<string, (tmpPath: string) => void>): SnapshotMeta {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const written: SnapshotMeta["files"] = {};
  for (const [name, write] of Object.entries(files)) {
    const final = join(dir, name);
    const tmp = `${final}.tmp`;
    write(tmp);
    fsyncFile(tmp);
    written[name] = { sha256: sha256Of(tmp), bytes: Bun.file(tmp).size };
    renameSync(tmp, final);
  }
  const complete: SnapshotMeta = { format: SNAPSHOT_FORMAT, ...meta, files: written };
  const metaTmp = join(dir, `${META_FILE}.tmp`);
  writeDurably(metaTmp, `${JSON.stringify(complete, null, 2)}\n`);
  renameSync(metaTmp, join(dir, META_FILE));
  fsyncFile(dir);
  return complete;
}

/** Checks a snapshot folder against what this process expects, file by file; says why when it does not fit. */
export function checkSnapshot(dir: string, expected: SnapshotExpectation, names: string[]): SnapshotCheck {
  const metaPath = join(dir, META_FILE);
  if (!existsSync(metaPath)) return { ok: false, reason: `no ${META_FILE} in ${dir}` };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(metaPath, "utf8"));
  } catch (error) {
    return { ok: false, reason: `${metaPath} is not JSON: ${(error as Error).message}` };
  }
  const format = (json as { format?: unknown })?.format;
  if (format !== SNAPSHOT_FORMAT) return { ok: false, reason: `${metaPath} is format ${JSON.stringify(format)}, this rag reads ${SNAPSHOT_FORMAT}` };
  const parsed = SnapshotMeta.safeParse(json);
  if (!parsed.success) return { ok: false, reason: `${metaPath} is invalid: ${z.prettifyError(parsed.error).replace(/\s*\n\s*/g, "; ")}` };
  const meta = parsed.data;
  const saved = meta.embedder;
  const wanted = expected.embedder;
  if (saved.name !== wanted.name || saved.version !== wanted.version || saved.dimensions !== wanted.dimensions) {
    return { ok: false, reason: `the index was built by ${saved.name}@${saved.version}, this rag embeds cases with ${wanted.name}@${wanted.version}` };
  }
  if (meta.store !== expected.store) return { ok: false, reason: `the index was built from case store ${meta.store}, not the one here (${expected.store})` };
  const paths: Record<string, string> = {};
  for (const name of names) {
    const recorded = meta.files[name];
    const path = join(dir, name);
    if (!recorded) return { ok: false, reason: `${META_FILE} names no ${name}` };
    if (!existsSync(path)) return { ok: false, reason: `${path} is missing` };
    const bytes = Bun.file(path).size;
    if (bytes !== recorded.bytes) return { ok: false, reason: `${path} has ${bytes} bytes, ${recorded.bytes} were saved (truncated or replaced)` };
    if (sha256Of(path) !== recorded.sha256) return { ok: false, reason: `${path} does not match its saved checksum (corrupted or replaced)` };
    paths[name] = path;
  }
  return { ok: true, meta, paths };
}

/** Removes a snapshot's files (before a rebuild writes new ones). */
export function clearSnapshot(dir: string, names: string[]): void {
  for (const name of [META_FILE, ...names]) rmSync(join(dir, name), { force: true });
}
