// Recorded lab telemetry replayed through an analyzer in time order, with its timer every 25 ms: what the analyzer
// would have published live. Used by the model-mode tests and bench:swarm.
import type { Anomaly, Telemetry } from "@x0/shared";
import type { LoadedAdapter, LoadedModel } from "@x0/swarm";
import { Analyzer, type AnalyzerOptions } from "../analyzer.ts";

/** Every node's telemetry of a recording, merged in time order. */
export function mergedTelemetry(telemetry: ReadonlyMap<string, readonly Telemetry[]>): Telemetry[] {
  return [...telemetry.values()].flat().sort((a, b) => a.ts - b.ts);
}

/** Replays `samples` (time-ordered) through a new analyzer; every state it published, with the analyzer. */
export function replay(
  samples: readonly Telemetry[],
  options: Partial<AnalyzerOptions>,
  model?: LoadedModel,
  adapters: readonly LoadedAdapter[] = [],
): { states: Anomaly[]; analyzer: Analyzer } {
  let next = 0;
  const analyzer = new Analyzer({ newId: () => `00000000-0000-4000-8000-${String(++next).padStart(12, "0")}`, ...options });
  if (model) analyzer.setModel(model);
  for (const adapter of adapters) analyzer.setAdapter(adapter);
  const states: Anomaly[] = [];
  let clock = samples[0]?.ts ?? 0;
  for (const sample of samples) {
    for (; clock + 25 <= sample.ts; clock += 25) states.push(...analyzer.tick(clock + 25));
    states.push(...analyzer.ingest(sample, sample.ts));
  }
  return { states, analyzer };
}
