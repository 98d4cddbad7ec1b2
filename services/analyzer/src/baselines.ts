// The analyzer's baselines in the x0_baselines bucket (`analyzer.<node>`): restored at start, saved while it runs and at stop.
import type { Logger, openBucket } from "@x0/shared";
import { type Analyzer, BaselineSnapshot } from "./analyzer.ts";

type Kv = Awaited<ReturnType<typeof openBucket>>;

/** The x0_baselines key of one analyzer's baselines. */
export function baselineKey(node: string): string {
  return `analyzer.${node}`;
}

/** Restores the analyzer's baselines; a snapshot of another format (older analyzers: EWMA per counter) is left, and learning starts afresh. */
export async function restoreBaselines(kv: Kv, key: string, analyzer: Analyzer, logger: Logger): Promise<void> {
  const saved = await kv.get(key);
  if (!saved?.value.length) return;
  const parsed = BaselineSnapshot.safeParse(saved.json());
  if (parsed.success) {
    analyzer.restore(parsed.data);
    logger.info("baselines restored", { series: Object.keys(parsed.data.series).length, rtt: Object.keys(parsed.data.rtt).length });
  } else logger.info("baselines not restored: snapshot of another format");
}

/** Saves the analyzer's baselines. */
export async function saveBaselines(kv: Kv, key: string, analyzer: Analyzer): Promise<void> {
  await kv.put(key, JSON.stringify(analyzer.snapshot()));
}
