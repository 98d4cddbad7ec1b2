// Ground truth for training: the faults a lab recording ran (which link or node, from when to when), and the class of
// each observation of a probed pair from them. Classes: 0 healthy, 1 degraded (a lossy link), 2 down (cut or node down).
import { z } from "zod";

/** The model's classes, in output order. */
export const LINK_CLASSES = ["healthy", "degraded", "down"] as const;
/** A class name. */
export type LinkClass = (typeof LINK_CLASSES)[number];

/** One fault a recording ran, as the lab knows it. */
export const GroundTruthFault = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("cut"), link: z.tuple([z.string(), z.string()]), start: z.number(), end: z.number() }),
  z.object({ kind: z.literal("loss"), link: z.tuple([z.string(), z.string()]), loss: z.number().gt(0).max(1), start: z.number(), end: z.number() }),
  z.object({ kind: z.literal("node-down"), node: z.string(), start: z.number(), end: z.number() }),
]);
/** A ground-truth fault. */
export type GroundTruthFault = z.infer<typeof GroundTruthFault>;

/** How observations near a fault's end are treated. */
export interface LabelOptions {
  /** After a fault ends, the probe window still holds it for this long: those samples get no label (left out). */
  settleMs: number;
}

function touches(fault: GroundTruthFault, node: string, peer: string): boolean {
  if (fault.kind === "node-down") return fault.node === node || fault.node === peer;
  const [a, b] = fault.link;
  return (a === node && b === peer) || (a === peer && b === node);
}

/**
 * The class of node's observation of peer at `ts`, or undefined when a fault on the pair ended less than `settleMs`
 * before (its traces are neither healthy nor faulty). A cut or node down wins over a loss fault at the same time.
 */
export function labelAt(node: string, peer: string, ts: number, faults: readonly GroundTruthFault[], options: LabelOptions): number | undefined {
  let label = 0;
  let settling = false;
  for (const fault of faults) {
    if (!touches(fault, node, peer)) continue;
    if (ts >= fault.start && ts < fault.end) label = Math.max(label, fault.kind === "loss" ? 1 : 2);
    else if (ts >= fault.end && ts < fault.end + options.settleMs) settling = true;
  }
  return label === 0 && settling ? undefined : label;
}
