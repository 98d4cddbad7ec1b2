// The planner's slice of telemetry: probe loss and RTT, read at most every few hundred ms per node.
import { type ProbeSample, Telemetry } from "@x0/shared";

const ProbesOnly = Telemetry.pick({ node: true, probes: true });
const decoder = new TextDecoder();

/** Reads probe samples from raw telemetry, skipping a node's samples that arrive sooner than `everyMs` after the last one read. */
export class ProbeIntake {
  readonly #lastRead = new Map<string, number>();
  /** Samples that were due but could not be read (not JSON, or not telemetry). */
  invalid = 0;

  constructor(readonly everyMs: number) {}

  /**
   * The probes of a sample from `node` (its subject token), or undefined when it is not due or invalid. The node
   * comes from the subject, so a skipped sample costs no parsing: with the analyzer's ingest rates, parsing
   * every sample would take a core the analyzer needs.
   */
  read(node: string, data: Uint8Array, now: number): { node: string; probes: ProbeSample[] } | undefined {
    const last = this.#lastRead.get(node);
    if (last !== undefined && now - last < this.everyMs) return undefined;
    this.#lastRead.set(node, now);
    let parsed: ReturnType<typeof ProbesOnly.safeParse>;
    try {
      parsed = ProbesOnly.safeParse(JSON.parse(decoder.decode(data)));
    } catch {
      this.invalid += 1;
      return undefined;
    }
    if (!parsed.success || parsed.data.node !== node) {
      this.invalid += 1;
      return undefined;
    }
    return { node, probes: parsed.data.probes ?? [] };
  }
}
