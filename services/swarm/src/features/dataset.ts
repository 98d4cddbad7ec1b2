// A lab recording as training data: recording.json (the lab's addresses and the faults it ran) beside one JSON-lines
// file of telemetry per node; each node's samples come from its own telemetry only (the split is by node).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Telemetry, X0Error } from "@x0/shared";
import { z } from "zod";
import type { Sample } from "../model/mlp.ts";
import { GroundTruthFault, labelAt } from "./labels.ts";
import { DEFAULT_WINDOW, observationsOf, PairWindow, type WindowOptions } from "./link-features.ts";

/** A recording cannot be read: a missing file or an invalid line, named. */
export class RecordingError extends X0Error {}

/** What recording.json holds. */
export const RecordingMeta = z.object({
  v: z.literal(1),
  topology: z.string().describe("The lab's topology, as given to `x0 lab up`."),
  started_at: z.number(),
  ended_at: z.number(),
  hello_interval_ms: z.number().int().positive(),
  nodes: z.array(z.string()).min(1),
  addresses: z.record(z.string(), z.string()).describe("Every lab address and the node that has it (probe peers are addresses)."),
  faults: z.array(GroundTruthFault),
  background: z
    .array(z.object({ link: z.tuple([z.string(), z.string()]), loss: z.number().gt(0).lt(1) }))
    .optional()
    .describe("Standing losses of the whole recording: the site's normal, labelled healthy (x0 lab record --background)."),
});
/** A recording's meta. */
export type RecordingMeta = z.infer<typeof RecordingMeta>;

/** A recording read and validated: its meta and each node's telemetry in order. */
export interface Recording {
  meta: RecordingMeta;
  telemetry: Map<string, Telemetry[]>;
}

/** Reads a recording folder, validating recording.json and every telemetry line; a problem names the file and line. */
export function readRecording(dir: string): Recording {
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8");
    } catch (error) {
      throw new RecordingError(`cannot read ${path}`, { cause: error });
    }
  };
  // Shipped recordings are gzipped (telemetry.<node>.jsonl.gz); recorded ones are plain.
  const readTelemetry = (node: string): { path: string; text: string } => {
    const plain = join(dir, "telemetry", `${node}.jsonl`);
    const gzipped = `${plain}.gz`;
    if (existsSync(plain) || !existsSync(gzipped)) return { path: plain, text: read(plain) };
    try {
      return { path: gzipped, text: new TextDecoder().decode(Bun.gunzipSync(readFileSync(gzipped))) };
    } catch (error) {
      throw new RecordingError(`cannot read ${gzipped}`, { cause: error });
    }
  };
  const metaPath = join(dir, "recording.json");
  const parsed = RecordingMeta.safeParse(JSON.parse(read(metaPath)));
  if (!parsed.success) throw new RecordingError(`${metaPath} is invalid: ${z.prettifyError(parsed.error)}`);
  const telemetry = new Map<string, Telemetry[]>();
  for (const node of parsed.data.nodes) {
    const { path, text } = readTelemetry(node);
    const samples = text.split("\n").flatMap((line, i) => {
      if (line.trim() === "") return [];
      const sample = Telemetry.safeParse(JSON.parse(line));
      if (!sample.success) throw new RecordingError(`${path}:${i + 1} is not valid telemetry: ${z.prettifyError(sample.error)}`);
      return [sample.data];
    });
    telemetry.set(node, samples);
  }
  return { meta: parsed.data, telemetry };
}

/** How samples are made from a recording. */
export interface SampleOptions {
  window: WindowOptions;
  /** After a fault ends, samples are left out for this long (labels.ts). */
  settleMs: number;
}

/** One node's labelled samples from its own telemetry, in time order, each feature window per probed peer. */
export function samplesOf(meta: RecordingMeta, node: string, telemetry: readonly Telemetry[], options: Partial<SampleOptions> = {}): Sample[] {
  const window = options.window ?? { ...DEFAULT_WINDOW, helloIntervalMs: meta.hello_interval_ms };
  const settleMs = options.settleMs ?? 2000;
  const windows = new Map<string, PairWindow>();
  const samples: Sample[] = [];
  for (const message of telemetry) {
    for (const [host, observation] of observationsOf(message)) {
      const peer = meta.addresses[host];
      if (peer === undefined) continue;
      let pair = windows.get(host);
      if (!pair) {
        pair = new PairWindow(window);
        windows.set(host, pair);
      }
      const x = pair.observe(observation);
      const y = labelAt(node, peer, observation.ts, meta.faults, { settleMs });
      if (y !== undefined) samples.push({ x, y });
    }
  }
  return samples;
}
