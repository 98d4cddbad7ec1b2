// What a link detector (a probe pair, a batman-adv neighbour) holds: its verdict on the link and the observations behind it.
import type { Evidence } from "@x0/shared";
import type { LinkStatus } from "../incidents/correlator.ts";
import type { Detection, Reading } from "../incidents/incident.ts";

/** A detector's verdict on one link, seen from `node`; the detector says which readings and evidence back each verdict. */
export abstract class LinkVerdict {
  /** No longer heard from. */
  down = false;
  /** Still heard from, but poorly. */
  degraded = false;
  /** Earliest time the current fault may have begun. */
  onsetAt = 0;
  /** Latest observations, by metric. */
  readonly evidence = new Map<string, Evidence>();
  /** Latest headline readings, by metric. */
  readonly readings = new Map<string, Reading>();

  abstract readonly node: string;
  /** The node's interface on the link, when known. */
  abstract interfaceName: string | undefined;

  /** The headline reading of the current verdict; undefined while ok. */
  abstract verdictReading(): Reading | undefined;

  /** The metrics whose evidence backs the current verdict. */
  protected abstract verdictMetrics(): string[];

  /** The verdict: down dominates degraded. */
  status(): LinkStatus {
    return this.down ? "down" : this.degraded ? "degraded" : "ok";
  }

  /** The evidence behind the current verdict. */
  verdictEvidence(): Evidence[] {
    return this.verdictMetrics().flatMap((metric) => {
      const entry = this.evidence.get(metric);
      return entry ? [entry] : [];
    });
  }

  /** What this detector reports to the correlator now; undefined while the link is ok. */
  detection(): Detection | undefined {
    const reading = this.verdictReading();
    if (!reading) return undefined;
    return {
      observer: this.node,
      ...(this.interfaceName ? { interface: this.interfaceName } : {}),
      onsetAt: this.onsetAt,
      reading,
      evidence: this.verdictEvidence(),
    };
  }
}
