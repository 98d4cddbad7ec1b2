// An analyzer driven by a simulated mesh, for tests: what it is fed, its timer every 25 ms, and the states it emits.
import { expect } from "bun:test";
import type { Anomaly, NodeAnnouncement, Telemetry } from "@x0/shared";
import { Analyzer, type AnalyzerOptions } from "../analyzer.ts";
import type { MeshSim } from "./mesh-sim.ts";

/** Deterministic incident ids. */
export function sequentialIds(): () => string {
  let n = 0;
  return () => `00000000-0000-4000-8000-${String(++n).padStart(12, "0")}`;
}

/** Options of {@link analyzerOn}. */
export interface SimAnalyzerOptions {
  analyzer?: Partial<AnalyzerOptions>;
  /** What the monitors announce (default: the sim's announcements). */
  announcements?: NodeAnnouncement[];
  /** Turns each sample as the sim takes it into what the analyzer receives (e.g. adds batman-adv tables). */
  decorate?: (sample: Telemetry) => Telemetry;
  /** Runs every simulated millisecond, before the analyzer's timer. */
  onMs?: (now: number) => void;
}

/**
 * An analyzer (ids from {@link sequentialIds}, 10 warm-up samples) fed by `sim`: telemetry as taken, overdue reports when
 * the sim makes them, and its timer every 25 ms; `run(ms)` advances the sim and collects the states in `states`.
 */
export function analyzerOn(sim: MeshSim, { analyzer: options, announcements = sim.announcements(), decorate = (s) => s, onMs }: SimAnalyzerOptions = {}) {
  const analyzer = new Analyzer({ newId: sequentialIds(), warmupSamples: 10, ...options });
  for (const announcement of announcements) analyzer.announce(announcement);
  const states: Anomaly[] = [];
  const run = (ms: number) =>
    sim.run(
      ms,
      (sample) => states.push(...analyzer.ingest(decorate(sample), sim.now)),
      (now) => {
        onMs?.(now);
        if (now % 25 === 0) states.push(...analyzer.tick(now));
      },
      (report) => states.push(...analyzer.overdue(report, sim.now)),
    );
  return { analyzer, states, run };
}

/** The `opened` states among `states`. */
export function opened(states: Anomaly[]): Anomaly[] {
  return states.filter((s) => s.state === "opened");
}

/** The one incident opened in `states`; the test fails when there is not exactly one. */
export function onlyOpened(states: Anomaly[]): Anomaly {
  const open = opened(states);
  expect(open).toHaveLength(1);
  return open[0] as Anomaly;
}
