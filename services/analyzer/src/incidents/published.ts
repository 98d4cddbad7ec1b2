// The incident states the leader published, as every instance follows them on x0.anomaly.*: what a standby continues
// when it becomes leader (the open incidents' last states, with their traces, and every state of the last minute, which
// it publishes again in case the stream never stored it) and which targets were resolved lately.
import type { Context } from "@opentelemetry/api";
import type { Anomaly } from "@x0/shared";
import type { PublishedView } from "./incident.ts";

/** How long a resolution is remembered by target: a standby's incident opened before it is not published after a takeover. */
const RESOLUTIONS_KEPT_MS = 60_000;
/**
 * How long a state is kept to be published again after a takeover: half of X0_EVENTS' 2-minute duplicate window, so the
 * stream drops a state it already holds.
 */
export const RECENT_STATES_MS = 60_000;

/** The open incidents as published, and recent resolutions by target. */
export class PublishedIncidents implements PublishedView {
  readonly #open = new Map<string, { last: Anomaly; trace: Context | undefined }>();
  readonly #resolvedAt = new Map<string, number>();
  /** States seen in the last RECENT_STATES_MS, in arrival order, by `incident_id:update`. */
  readonly #recent = new Map<string, { anomaly: Anomaly; at: number; trace: Context | undefined }>();

  /** Open incidents known now. */
  get size(): number {
    return this.#open.size;
  }

  /** One published state, received at `now` (this instance's clock), with the trace it continues. */
  observe(anomaly: Anomaly, now: number, trace?: Context): void {
    const key = `${anomaly.incident_id}:${anomaly.update}`;
    if (!this.#recent.has(key)) this.#recent.set(key, { anomaly, at: now, trace });
    for (const [seen, { at }] of this.#recent) {
      if (at >= now - RECENT_STATES_MS) break;
      this.#recent.delete(seen);
    }
    const known = this.#open.get(anomaly.incident_id);
    if (known && known.last.update > anomaly.update) return; // an older state, arriving late
    if (anomaly.state === "resolved") {
      this.#open.delete(anomaly.incident_id);
      if (anomaly.target) this.#resolvedAt.set(anomaly.target.id, now);
    } else this.#open.set(anomaly.incident_id, { last: anomaly, trace: known?.trace ?? trace });
    for (const [target, at] of this.#resolvedAt) if (at < now - RESOLUTIONS_KEPT_MS) this.#resolvedAt.delete(target);
  }

  open(): Anomaly[] {
    return [...this.#open.values()].map((entry) => entry.last);
  }

  resolvedSince(targetId: string, since: number): boolean {
    return (this.#resolvedAt.get(targetId) ?? Number.NEGATIVE_INFINITY) >= since;
  }

  /** The states seen since `now - RECENT_STATES_MS`, in the order they arrived, each with the trace it carried. */
  recent(now: number): { anomaly: Anomaly; trace: Context | undefined }[] {
    return [...this.#recent.values()].filter(({ at }) => at >= now - RECENT_STATES_MS).map(({ anomaly, trace }) => ({ anomaly, trace }));
  }

  /** The trace of a published incident (its first state seen here), so a new leader's states continue it. */
  traceOf(incidentId: string): Context | undefined {
    return this.#open.get(incidentId)?.trace;
  }
}
