// Labelled samples from recordings for one model window: an agent's own node only, or every node (the coordinator's
// held-out validation set, the benchmark's central training). Each recording keeps its own hello interval.
import type { Sample } from "../model/mlp.ts";
import { type Recording, readRecording, samplesOf } from "./dataset.ts";

/** The window settings samples depend on (the hello interval is each recording's own). */
export interface SampleWindow {
  window: number;
  baselineAlpha: number;
}

/** Recordings read once, their samples computed per window on demand. */
export class TrainingSet {
  readonly #cache = new Map<string, Sample[]>();

  constructor(
    readonly recordings: readonly Recording[],
    /** Whose links: one node (an agent) or undefined for every node of each recording. */
    readonly node?: string,
  ) {}

  /** Reads the recording folders (each validated, a problem names the file). */
  static read(dirs: readonly string[], node?: string): TrainingSet {
    return new TrainingSet(
      dirs.map((dir) => readRecording(dir)),
      node,
    );
  }

  /** The samples for `window`, in recording and time order. */
  samples(window: SampleWindow): Sample[] {
    const key = `${window.window}/${window.baselineAlpha}`;
    let samples = this.#cache.get(key);
    if (!samples) {
      samples = this.recordings.flatMap(({ meta, telemetry }) =>
        meta.nodes
          .filter((node) => this.node === undefined || node === this.node)
          .flatMap((node) => samplesOf(meta, node, telemetry.get(node) ?? [], { window: { ...window, helloIntervalMs: meta.hello_interval_ms } })),
      );
      this.#cache.set(key, samples);
    }
    return samples;
  }
}
