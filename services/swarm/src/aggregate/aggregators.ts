// Aggregation rules for federated rounds, on flat update vectors: FedAvg (McMahan et al. 2017), coordinate-wise median
// and trimmed mean (Yin et al. 2018, "Byzantine-Robust Distributed Learning"), Multi-Krum (Blanchard et al. 2017,
// "Machine Learning with Adversaries: Byzantine Tolerant Gradient Descent"). Which rule and why: README.
import { X0Error } from "@x0/shared";

/** The updates cannot be aggregated by the rule (none, sizes differ, too few for the Byzantine bound). */
export class AggregationError extends X0Error {}

/** The rules, by name (the coordinator's X0_SWARM_AGGREGATOR). */
export const AGGREGATORS = ["fedavg", "median", "trimmed-mean", "multi-krum"] as const;
/** An aggregation rule's name. */
export type AggregatorName = (typeof AGGREGATORS)[number];

/** What a rule produced: the aggregate, and which updates it used (all, or Multi-Krum's selection). */
export interface Aggregate {
  vector: Float32Array;
  used: number[];
}

function dimensionOf(updates: readonly Float32Array[]): number {
  const first = updates[0];
  if (!first) throw new AggregationError("no updates to aggregate");
  for (const [i, update] of updates.entries()) {
    if (update.length !== first.length) throw new AggregationError(`update ${i} has ${update.length} values, update 0 has ${first.length}`);
  }
  return first.length;
}

/** FedAvg: the mean of the updates weighted by `weights` (each agent's sample count), or plain when none are given. */
export function fedAvg(updates: readonly Float32Array[], weights?: readonly number[]): Aggregate {
  const dimension = dimensionOf(updates);
  const w = weights ?? updates.map(() => 1);
  if (w.length !== updates.length || w.some((x) => !(x >= 0))) throw new AggregationError("one non-negative weight per update is needed");
  const total = w.reduce((a, b) => a + b, 0);
  if (total === 0) throw new AggregationError("the weights sum to zero");
  const sum = new Float64Array(dimension);
  updates.forEach((update, u) => {
    const share = (w[u] as number) / total;
    for (let i = 0; i < dimension; i++) sum[i] = (sum[i] as number) + share * (update[i] as number);
  });
  return { vector: Float32Array.from(sum), used: updates.map((_, i) => i) };
}

/** Coordinate-wise order statistics: `pick` maps each coordinate's sorted column to one value. */
function coordinateWise(updates: readonly Float32Array[], pick: (sorted: Float64Array) => number): Float32Array {
  const dimension = dimensionOf(updates);
  const column = new Float64Array(updates.length);
  const out = new Float32Array(dimension);
  for (let i = 0; i < dimension; i++) {
    for (let u = 0; u < updates.length; u++) column[u] = (updates[u] as Float32Array)[i] as number;
    column.sort();
    out[i] = pick(column);
  }
  return out;
}

/** Coordinate-wise median (the mean of the two middle values for an even count). */
export function coordinateMedian(updates: readonly Float32Array[]): Aggregate {
  const vector = coordinateWise(updates, (sorted) => {
    const middle = sorted.length >> 1;
    return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  });
  return { vector, used: updates.map((_, i) => i) };
}

/** Coordinate-wise trimmed mean: per coordinate, drops the ⌊β·n⌋ largest and smallest values and averages the rest. */
export function trimmedMean(updates: readonly Float32Array[], beta: number): Aggregate {
  if (!(beta >= 0 && beta < 0.5)) throw new AggregationError(`trim fraction ${beta} is outside [0, 0.5)`);
  return trimmedMeanBy(updates, Math.floor(beta * updates.length));
}

/** Coordinate-wise mean after dropping the `trim` largest and smallest values of each coordinate. */
export function trimmedMeanBy(updates: readonly Float32Array[], trim: number): Aggregate {
  if (!(Number.isInteger(trim) && trim >= 0 && 2 * trim < updates.length))
    throw new AggregationError(`cannot trim ${trim} at each end of ${updates.length} updates`);
  const vector = coordinateWise(updates, (sorted) => {
    let sum = 0;
    for (let i = trim; i < sorted.length - trim; i++) sum += sorted[i] as number;
    return sum / (sorted.length - 2 * trim);
  });
  return { vector, used: updates.map((_, i) => i) };
}

function squaredDistance(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += ((a[i] as number) - (b[i] as number)) ** 2;
  return sum;
}

/**
 * Multi-Krum: each update's score is the sum of squared distances to its n − f − 2 nearest others; the m updates with
 * the lowest scores are averaged (m = 1 is Krum). Needs n > 2f + 2, the bound under which f Byzantine updates cannot win.
 */
export function multiKrum(updates: readonly Float32Array[], byzantine: number, selected = updates.length - byzantine): Aggregate {
  dimensionOf(updates);
  const n = updates.length;
  if (!(n > 2 * byzantine + 2)) throw new AggregationError(`Multi-Krum needs more than 2f + 2 = ${2 * byzantine + 2} updates for f = ${byzantine}, got ${n}`);
  if (!(selected >= 1 && selected <= n)) throw new AggregationError(`cannot select ${selected} of ${n} updates`);
  const distances = updates.map((a, i) => updates.map((b, j) => (i === j ? 0 : j < i ? 0 : squaredDistance(a, b))));
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) (distances[i] as number[])[j] = (distances[j] as number[])[i] as number;
  const neighbours = n - byzantine - 2;
  const scores = distances.map((row, i) => {
    const others = row.filter((_, j) => j !== i).sort((a, b) => a - b);
    return others.slice(0, neighbours).reduce((a, b) => a + b, 0);
  });
  // Ties broken by index, so the selection is deterministic.
  const used = scores
    .map((score, i) => ({ score, i }))
    .sort((a, b) => a.score - b.score || a.i - b.i)
    .slice(0, selected)
    .map(({ i }) => i)
    .sort((a, b) => a - b);
  return { vector: fedAvg(used.map((i) => updates[i] as Float32Array)).vector, used };
}

/** Settings of the rules that take any. */
export interface AggregatorSettings {
  /** trimmed-mean: the fraction trimmed at each end. */
  trim: number;
  /** multi-krum: the number of Byzantine agents tolerated (f). */
  byzantine: number;
}

/** Aggregates by the named rule; FedAvg weighs by `weights` (sample counts), the robust rules do not. */
export function aggregate(name: AggregatorName, updates: readonly Float32Array[], weights: readonly number[], settings: AggregatorSettings): Aggregate {
  switch (name) {
    case "fedavg":
      return fedAvg(updates, weights);
    case "median":
      return coordinateMedian(updates);
    case "trimmed-mean":
      return trimmedMean(updates, settings.trim);
    case "multi-krum":
      return multiKrum(updates, settings.byzantine);
  }
}
