// One incident and its published states; the book of open incidents with their periodic updates, and how a new leader
// continues the incidents the previous leader published (README: "Leader and standbys").
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
  /** Its id; a standby's incident takes the id the previous leader published it under when it takes over. */
  id: string;
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

  /** Continues as the incident the previous leader published (`last` is its last state): same id, next update number. */
  continueAs(last: Pick<Anomaly, "incident_id" | "update" | "opened_at">): void {
    this.id = last.incident_id;
    this.update = last.update;
    this.openedAt = last.opened_at;
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

/** What a new leader knows of the previous leader's incidents (as followed on x0.anomaly.*). */
export interface PublishedView {
  /** The last state of each incident published open. */
  open(): Anomaly[];
  /** Whether an incident about `targetId` was published resolved at or after `since` (this instance's clock). */
  resolvedSince(targetId: string, since: number): boolean;
}

/** The resolved state of a published incident, from its last published state. */
function resolvedFrom(last: Anomaly, now: number, resolution: "cleared" | "merged", mergedInto?: string): Anomaly {
  const { merged_into: _earlier, ...rest } = last;
  return { ...rest, state: "resolved", update: last.update + 1, ts: now, detected_at: now, resolution, ...(mergedInto ? { merged_into: mergedInto } : {}) };
}

/** The open incidents; collects the states they emit, in order, for the caller to publish. */
export class IncidentBook {
  readonly #open = new Map<string, Incident>();
  /** Incidents of faults the previous leader already published as over: their states are never published. */
  readonly #silenced = new Set<Incident>();
  /** Incidents the previous leader published open that this instance does not see (yet), by target, until when. */
  readonly #orphans = new Map<string, { last: Anomaly; until: number }>();
  #out: Anomaly[] = [];

  constructor(readonly updateEveryMs: number) {}

  /**
   * Takes over from the previous leader: each open incident of its about a target this instance has open is continued
   * (same id, next update; another kind is resolved merged into this one's), one it does not see is resolved after
   * `graceMs` unless its detectors open it first (then continued), and an open incident of this one's is opened, unless
   * the previous leader published its target resolved since it opened here (then it stays unpublished to its end).
   */
  takeOver(published: PublishedView, now: number, graceMs: number): void {
    const byTarget = new Map(published.open().flatMap((last) => (last.target ? [[last.target.id, last] as const] : [])));
    for (const incident of [...this.#open.values()]) {
      const last = byTarget.get(incident.target.id);
      byTarget.delete(incident.target.id);
      this.#open.delete(incident.id);
      if (last) this.#continue(incident, last, now, false);
      else if (published.resolvedSince(incident.target.id, incident.openedAt)) {
        this.#open.set(incident.id, incident);
        this.#silenced.add(incident);
      } else this.#start(incident, now);
    }
    for (const [target, last] of byTarget) this.#orphans.set(target, { last, until: now + graceMs });
  }

  /** Continues `last`'s incident with `incident` (its kind), or resolves it merged into `incident` (another kind). */
  #continue(incident: Incident, last: Anomaly, now: number, detectedNow: boolean): void {
    if (last.kind !== incident.kind) {
      this.#out.push(resolvedFrom(last, now, "merged", incident.id));
      this.#start(incident, now);
      return;
    }
    incident.continueAs(last);
    this.#open.set(incident.id, incident);
    // Found by this instance's detectors only now: its evidence is news.
    if (detectedNow) this.#out.push(incident.state("updated", now));
  }

  #start(incident: Incident, now: number): void {
    incident.update = 0;
    this.#open.set(incident.id, incident);
    this.#out.push(incident.state("opened", now));
  }

  /** Incidents open now. */
  get size(): number {
    return this.#open.size;
  }

  /** Publishes the opened state (or continues the previous leader's incident about its target). */
  open(incident: Incident, now: number): Incident {
    const orphan = this.#orphans.get(incident.target.id);
    this.#orphans.delete(incident.target.id);
    if (orphan) this.#continue(incident, orphan.last, now, true);
    else this.#start(incident, now);
    return incident;
  }

  /** Publishes an `updated` state now (a new end of the fault, or a change worth telling at once). */
  update(incident: Incident, now: number): void {
    if (this.#open.has(incident.id) && !this.#silenced.has(incident)) this.#out.push(incident.state("updated", now));
  }

  /** Publishes the resolved state. */
  resolve(incident: Incident, now: number, resolution: "cleared" | "merged" | "expired" = "cleared", mergedInto?: string): void {
    if (!this.#open.delete(incident.id) || this.#silenced.delete(incident)) return;
    this.#out.push(incident.state("resolved", now, { resolution, ...(mergedInto ? { merged_into: mergedInto } : {}) }));
  }

  /** Keep-alive: an `updated` state for each incident not reported for `updateEveryMs`; the previous leader's unseen incidents resolved after their grace. */
  refresh(now: number): void {
    for (const incident of this.#open.values()) {
      if (now - incident.lastEmittedAt >= this.updateEveryMs && !this.#silenced.has(incident)) this.#out.push(incident.state("updated", now));
    }
    for (const [target, { last, until }] of this.#orphans) {
      if (until > now) continue;
      this.#orphans.delete(target);
      this.#out.push(resolvedFrom(last, now, "cleared"));
    }
  }

  /** The states emitted since the last drain, in order. */
  drain(): Anomaly[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }
}
