// `.x0/stack.json`: how to reach the stack `up` runs, for `x0 status` and the next `up`.
import { rmSync } from "node:fs";
import { readJsonFile, writeJsonFile } from "@x0/shared";
import { z } from "zod";
import { StackFileError } from "./errors.ts";

/** What `.x0/stack.json` holds: how to reach the running stack, written by `up` and read by `x0 status`. */
export const StackFile = z.object({
  /** The `up` process that owns the stack. */
  pid: z.number().int(),
  nats: z.object({
    url: z.string().min(1),
    /** nats-server's monitoring port; null when `up` did not start the server and does not know it. */
    monitorPort: z.number().int().nullable(),
    /** null when `up` reuses a server it did not start. */
    pid: z.number().int().nullable(),
  }),
  services: z.array(
    z.object({
      name: z.string().min(1),
      /** Where the service listens when not on 127.0.0.1 (a lab node's monitor, at its management address). */
      host: z.string().min(1).optional(),
      port: z.number().int(),
      /** null while the service is down between restarts. */
      pid: z.number().int().nullable(),
    }),
  ),
  started_at: z.string(),
});
/** The parsed stack file. */
export type StackFile = z.infer<typeof StackFile>;

/** Reads the stack file; undefined when there is none. */
export function readStackFile(path: string): StackFile | undefined {
  return readJsonFile(path, StackFile, "a stack", StackFileError);
}

/** Writes the stack file atomically (a reader never sees half of it). */
export function writeStackFile(path: string, stack: StackFile): void {
  writeJsonFile(path, stack, StackFileError);
}

/** Removes the stack file if it belongs to the `up` process `ownerPid` (a newer `up` may own it by now). */
export function removeStackFile(path: string, ownerPid: number): boolean {
  let owner: number;
  try {
    const stack = readStackFile(path);
    if (stack === undefined) return false;
    owner = stack.pid;
  } catch (error) {
    if (!(error instanceof StackFileError)) throw error;
    // An unreadable file cannot name another owner; it is ours to clear.
    owner = ownerPid;
  }
  if (owner !== ownerPid) return false;
  rmSync(path, { force: true });
  return true;
}
