// The checks an agent's update passes before it may be aggregated: its size, finite values and a bounded norm.
// A scaled or random update from a faulty or hostile agent is refused here with the reason, before any rule sees it.

/** The Euclidean norm of a vector. */
export function l2Norm(vector: Float32Array): number {
  let sum = 0;
  for (const value of vector) sum += value * value;
  return Math.sqrt(sum);
}

/** Why an update vector is refused, or undefined when it passes. */
export function updateProblem(vector: Float32Array, expectedLength: number, maxNorm: number): string | undefined {
  if (vector.length !== expectedLength) return `the update has ${vector.length} values, the model has ${expectedLength}`;
  for (let i = 0; i < vector.length; i++) {
    if (!Number.isFinite(vector[i])) return `value ${i} is ${vector[i]}, not a finite number`;
  }
  const norm = l2Norm(vector);
  if (norm > maxNorm) return `the update's norm ${norm.toPrecision(4)} exceeds the bound ${maxNorm}`;
  return undefined;
}
