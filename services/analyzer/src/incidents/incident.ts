// One incident and its published states; the book of open incidents with their periodic updates.
import type { Anomaly, AnomalyKind, Evidence, IncidentTarget } from "@x0/shared";

/** The headline observation of an incident state (the legacy metric/observed/baseline/score fields). */
export interface Reading {
  metric: string;
  observed: number;
  mean: number;
  stddev: number;
  /** Deviations from the baseline; Infinity for state changes (published as 1e9). */
  score: number;
  /** When it was observed (the sample's ts, or the analyzer's clock for timer decisions). */
  ts: number;
}

/** What a detector saw: who, about what, since when. */
export interface Detection {
  observer: string;
  interface?: string;
  onsetAt: number;
  reading: Reading;
  evidence: Evidence[];
}

/** Everything an incident is opened with. */
export interface IncidentInit {
  id: string;
  kind: AnomalyKind;
  severity: Anomaly["severity"];
  target: IncidentTarget;
  /** The node whose subject carries the states (the first observer, or the unreachable node). */
  node: string;
  interface?: string;
  peer?: string;
  detection: Detection;
}

const MAX_EVIDENCE = 32;
const finite = (value: number) => (Number.isFinite(value) ? value : value > 0 ? 1e9 : -1e9);

/** An incident: opened once, updated while it lasts, resolved once. */
export class Incident {
  readonly id: string;
  readonly kind: AnomalyKind;
  readonly target: IncidentTarget;
  readonly node: string;
  readonly severity: Anomaly["severity"];
  interface: string;
  peer: string | undefined;
  onsetAt: number;
  reading: Reading;
  openedAt = 0;
  update = 0;
  lastEmittedAt = 0;
  readonly observers = new Set<string>();
  readonly #evidence = new Map<string, Evidence>();

  constructor(init: IncidentInit) {
    this.id = init.id;
    this.kind = init.kind;
    this.severity = init.severity;
    this.target = init.target;
    this.node = init.node;
    this.interface = init.interface ?? "*";
    this.peer = init.peer;
    this.onsetAt = init.detection.onsetAt;
    this.reading = init.detection.reading;
    this.absorb(init.detection);
  }

  /** Adds a detection's evidence; true when it comes from a node not heard from before (a new end of the fault). */
  absorb(detection: Detection): boolean {
    const isNew = !this.observers.has(detection.observer);
    this.observers.add(detection.observer);
    this.onsetAt = Math.min(this.onsetAt, detection.onsetAt);
    this.reading = detection.reading;
    this.addEvidence(detection.evidence, detection.onsetAt);
    return isNew;
  }

  /** Adds evidence (and an earlier onset) without changing the headline reading: observations folded in from elsewhere. */
  addEvidence(evidence: readonly Evidence[], onsetAt: number, observers: Iterable<string> = []): void {
    this.onsetAt = Math.min(this.onsetAt, onsetAt);
    for (const observer of observers) this.observers.add(observer);
    for (const entry of evidence) this.#evidence.set(`${entry.node}|${entry.interface ?? ""}|${entry.peer ?? ""}|${entry.metric}`, entry);
  }

  /** The evidence, newest last, capped at the schema's 32. */
  evidence(): Evidence[] {
    return [...this.#evidence.values()].sort((a, b) => a.ts - b.ts).slice(-MAX_EVIDENCE);
  }

  /** The incident state to publish; `now` is the analyzer's clock. */
  state(state: Anomaly["state"], now: number, extra: Pick<Anomaly, "resolution" | "merged_into"> = {}): Anomaly {
    if (state === "opened") this.openedAt = now;
    else this.update += 1;
    this.lastEmittedAt = now;
    const reading = this.reading;
    return {
      v: 1,
      incident_id: this.id,
      state,
      update: state === "opened" ? 0 : this.update,
      kind: this.kind,
      severity: this.severity,
      node: this.node,
      interface: this.interface,
      metric: reading.metric,
      observed: finite(reading.observed),
      baseline_mean: finite(reading.mean),
      baseline_stddev: Math.max(0, finite(reading.stddev)),
      score: finite(reading.score),
      opened_at: this.openedAt,
      ts: Math.max(0, Math.round(reading.ts)),
      target: this.target,
      ...(this.peer ? { peer: this.peer } : {}),
      onset_at: Math.max(0, Math.round(Math.min(this.onsetAt, now))),
      detected_at: now,
      evidence: this.evidence(),
      ...(state === "resolved" ? { resolution: extra.resolution ?? "cleared" } : {}),
      ...(extra.merged_into ? { merged_into: extra.merged_into } : {}),
    };
  }
}

/** The open incidents; collects the states they emit, in order, for the caller to publish. */
export class IncidentBook {
  readonly #open = new Map<string, Incident>();
  #out: Anomaly[] = [];

  constructor(readonly updateEveryMs: number) {}

  /** Incidents open now. */
  get size(): number {
    return this.#open.size;
  }

  /** Publishes the opened state. */
  open(incident: Incident, now: number): Incident {
    this.#open.set(incident.id, incident);
    this.#out.push(incident.state("opened", now));
    return incident;
  }

  /** Publishes an `updated` state now (a new end of the fault, or a change worth telling at once). */
  update(incident: Incident, now: number): void {
    if (this.#open.has(incident.id)) this.#out.push(incident.state("updated", now));
  }

  /** Publishes the resolved state. */
  resolve(incident: Incident, now: number, resolution: "cleared" | "merged" | "expired" = "cleared", mergedInto?: string): void {
    if (!this.#open.delete(incident.id)) return;
    this.#out.push(incident.state("resolved", now, { resolution, ...(mergedInto ? { merged_into: mergedInto } : {}) }));
  }

  /** Keep-alive: an `updated` state for each incident not reported for `updateEveryMs`. */
  refresh(now: number): void {
    for (const incident of this.#open.values()) {
      if (now - incident.lastEmittedAt >= this.updateEveryMs) this.#out.push(incident.state("updated", now));
    }
  }

  /** The states emitted since the last drain, in order. */
  drain(): Anomaly[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }
}
