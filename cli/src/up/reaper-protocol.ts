import { ReaperProtocolError } from "../errors.ts";

/**
 * The order in which the reaper stops what it watches: services first, NATS after them,
 * so the services can still drain to it.
 */
export const REAPER_PHASES = ["service", "nats"] as const;
/** A stop phase of the reaper. */
export type ReaperPhase = (typeof REAPER_PHASES)[number];

/**
 * A line `up` writes to the reaper's stdin: processes to stop if `up` dies, and labs to tear down then (`lab`, sent before the
 * lab is built; `unlab` once `up` removed it itself).
 */
export type ReaperCommand =
  | { kind: "watch"; pid: number; phase: ReaperPhase }
  | { kind: "release"; pid: number }
  | { kind: "lab"; prefix: string }
  | { kind: "unlab"; prefix: string };

/** Lab prefixes on the wire: what validatePrefix accepts. */
const LAB_PREFIX_PATTERN = /^[a-z][a-z0-9]{0,9}$/;

/** Encodes a command as one line (with its newline). */
export function encodeReaperCommand(command: ReaperCommand): string {
  switch (command.kind) {
    case "watch":
      return `watch ${command.pid} ${command.phase}\n`;
    case "release":
      return `release ${command.pid}\n`;
    default:
      return `${command.kind} ${command.prefix}\n`;
  }
}

/** Decodes one line; throws {@link ReaperProtocolError} for anything else. */
export function parseReaperCommand(line: string): ReaperCommand {
  const [verb, pidText, phase, ...extra] = line.trim().split(/\s+/);
  if (verb === "lab" || verb === "unlab") {
    if (pidText === undefined || !LAB_PREFIX_PATTERN.test(pidText) || phase !== undefined)
      throw new ReaperProtocolError(`bad reaper command: ${JSON.stringify(line)}`);
    return { kind: verb, prefix: pidText };
  }
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 1 || extra.length > 0) throw new ReaperProtocolError(`bad reaper command: ${JSON.stringify(line)}`);
  if (verb === "watch" && REAPER_PHASES.includes(phase as ReaperPhase)) return { kind: "watch", pid, phase: phase as ReaperPhase };
  if (verb === "release" && phase === undefined) return { kind: "release", pid };
  throw new ReaperProtocolError(`bad reaper command: ${JSON.stringify(line)}`);
}

/** The processes a reaper watches, by phase. */
export class WatchList {
  readonly #phases = new Map<number, ReaperPhase>();
  readonly #labs = new Set<string>();

  /** Applies a command. */
  apply(command: ReaperCommand): void {
    if (command.kind === "watch") this.#phases.set(command.pid, command.phase);
    else if (command.kind === "release") this.#phases.delete(command.pid);
    else if (command.kind === "lab") this.#labs.add(command.prefix);
    else this.#labs.delete(command.prefix);
  }

  /** Prefixes of the labs to tear down once the processes are stopped. */
  labs(): string[] {
    return [...this.#labs];
  }

  /** The watched pids grouped in stop order (empty phases left out). */
  stopOrder(): number[][] {
    return REAPER_PHASES.map((phase) => [...this.#phases].filter(([, of]) => of === phase).map(([pid]) => pid)).filter((pids) => pids.length > 0);
  }
}
