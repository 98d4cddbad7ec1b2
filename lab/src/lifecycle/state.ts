// The lab's state file, `<state>/lab-<prefix>.json`: enough to rebuild the plan and find what the lab started.
import { rmSync } from "node:fs";
import { readJsonFile, writeJsonFile } from "@x0/shared";
import { z } from "zod";
import { LabStateError } from "../errors.ts";
import { LAB_LINK_COSTS } from "../plan/plan.ts";

/** A process the lab started (a monitor, or a prober of `x0 lab probe`). */
export const LabProcess = z.object({
  node: z.string(),
  role: z.string(),
  pid: z.number().int(),
});
/** A recorded lab process. */
export type LabProcess = z.infer<typeof LabProcess>;

/** A fault in effect, as recorded when it was applied (the kernel's maps are the truth; this says who asked for what). */
export const LabFault = z.object({
  kind: z.enum(["cut", "link-down", "loss", "node-down"]),
  a: z.string(),
  b: z.string().nullable(),
  /** Drop probability for loss (1 for cut and node-down). */
  probability: z.number().min(0).max(1).nullable(),
  at: z.string(),
});
/** A recorded fault. */
export type LabFault = z.infer<typeof LabFault>;

/** What the state file holds. */
export const LabState = z.object({
  v: z.literal(1),
  prefix: z.string(),
  /** The canonical topology spec: the plan is rebuilt from it. */
  topology: z.string(),
  /** static or batman; absent in state files written before batman labs existed. */
  routing: z.enum(["static", "batman"]).default("static"),
  /** equal or distinct (see LAB_LINK_COSTS); absent in state files written before link costs existed. */
  link_costs: z.enum(LAB_LINK_COSTS).default("equal"),
  mgmt_subnet: z.string(),
  /** The NATS URL node processes use; null when the lab runs without monitors. */
  nats: z.string().nullable(),
  /** Who runs the lab's processes: `x0 lab up` (detached) or `up` (supervised); and its pid. */
  owner: z.enum(["lab", "up"]),
  owner_pid: z.number().int(),
  processes: z.array(LabProcess),
  faults: z.array(LabFault),
  created_at: z.string(),
});
/** The parsed state file. */
export type LabState = z.infer<typeof LabState>;

/** Reads a lab's state file; undefined when there is none. */
export function readLabState(path: string): LabState | undefined {
  return readJsonFile(path, LabState, "a lab", LabStateError);
}

/** Writes a lab's state file atomically. */
export function writeLabState(path: string, state: LabState): void {
  writeJsonFile(path, state, LabStateError);
}

/** Removes a lab's state file (absent is fine). */
export function removeLabState(path: string): void {
  rmSync(path, { force: true });
}
