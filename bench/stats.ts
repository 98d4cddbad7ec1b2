// Percentiles of measured durations for the benchmarks' reports.

/** The p-th percentile (nearest rank) of ascending `sorted`, or null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** Count, misses (null values: not measured), p50, p95 and max in whole milliseconds. */
export function durationStats(values: readonly (number | null)[]) {
  const measured = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  const round = (v: number | null) => (v === null ? null : Math.round(v));
  return {
    n: measured.length,
    missing: values.length - measured.length,
    p50_ms: round(percentile(measured, 50)),
    p95_ms: round(percentile(measured, 95)),
    max_ms: round(measured.at(-1) ?? null),
  };
}
