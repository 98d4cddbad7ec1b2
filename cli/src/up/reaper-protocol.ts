import { ReaperProtocolError } from "../errors.ts";

/**
 * The order in which the reaper stops what it watches: services first, NATS after them,
 * so the services can still drain to it.
 */
export const REAPER_PHASES = ["service", "nats"] as const;
/** A stop phase of the reaper. */
export type ReaperPhase = (typeof REAPER_PHASES)[number];

/** A line `up` writes to the reaper's stdin. */
export type ReaperCommand = { kind: "watch"; pid: number; phase: ReaperPhase } | { kind: "release"; pid: number };

/** Encodes a command as one line (with its newline). */
export function encodeReaperCommand(command: ReaperCommand): string {
  return command.kind === "watch" ? `watch ${command.pid} ${command.phase}\n` : `release ${command.pid}\n`;
}

/** Decodes one line; throws {@link ReaperProtocolError} for anything else. */
export function parseReaperCommand(line: string): ReaperCommand {
  const [verb, pidText, phase, ...extra] = line.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 1 || extra.length > 0) throw new ReaperProtocolError(`bad reaper command: ${JSON.stringify(line)}`);
  if (verb === "watch" && REAPER_PHASES.includes(phase as ReaperPhase)) return { kind: "watch", pid, phase: phase as ReaperPhase };
  if (verb === "release" && phase === undefined) return { kind: "release", pid };
  throw new ReaperProtocolError(`bad reaper command: ${JSON.stringify(line)}`);
}

/** The processes a reaper watches, by phase. */
export class WatchList {
  readonly #phases = new Map<number, ReaperPhase>();

  /** Applies a command. */
  apply(command: ReaperCommand): void {
    if (command.kind === "watch") this.#phases.set(command.pid, command.phase);
    else this.#phases.delete(command.pid);
  }

  /** The watched pids grouped in stop order (empty phases left out). */
  stopOrder(): number[][] {
    return REAPER_PHASES.map((phase) => [...this.#phases].filter(([, of]) => of === phase).map(([pid]) => pid)).filter((pids) => pids.length > 0);
  }
}
