// One fault, one incident: link detections from both ends become one link incident, and a node whose links all fail
// becomes one node_unreachable incident instead of one link incident per link.
import type { IncidentTarget } from "@x0/shared";
import type { PeerDirectory } from "../topology/peers.ts";
import { type Detection, Incident, type IncidentBook } from "./incident.ts";

/** The aggregated verdict of a link (or interface) target: down dominates degraded. */
export type LinkStatus = "ok" | "degraded" | "down";

/** Tuning of the {@link Correlator}. */
export interface CorrelatorOptions {
  /** How long after a link incident opens further link detections on its nodes are held, in case the node is the fault. */
  windowMs: number;
  /** Makes incident ids. */
  newId: () => string;
  /**
   * After the first link of an unreachable node comes back, how long its other links get to come back too before each
   * still down counts as a fault of its own: a node's links recover one by one (each pair needs a few fresh replies).
   */
  recoveryGraceMs?: number;
}

interface LinkState {
  target: IncidentTarget;
  status: Exclude<LinkStatus, "ok">;
  detection: Detection;
}

interface NodeIncident {
  incident: Incident;
  /** Every link of the node is down. */
  links: boolean;
  /** The node's own telemetry stopped. */
  silence: boolean;
  /** When its first link came back (links recovering one by one). */
  recovering?: number;
}

/** Default of {@link CorrelatorOptions.recoveryGraceMs}: a pair resolves after 3 fresh samples (300 ms), with room for jitter. */
const DEFAULT_RECOVERY_GRACE_MS = 1500;

/** Decides which incidents link and node detections open, update, hold, fold or resolve; states go to the book. */
export class Correlator {
  readonly #links = new Map<string, LinkState>();
  readonly #linkIncidents = new Map<string, Incident>();
  readonly #held = new Map<string, { incident: Incident; until: number }>();
  readonly #nodes = new Map<string, NodeIncident>();
  readonly #windowUntil = new Map<string, number>();

  constructor(
    readonly book: IncidentBook,
    readonly directory: PeerDirectory,
    readonly options: CorrelatorOptions,
  ) {}

  /** Link detections held back now. */
  get held(): number {
    return this.#held.size;
  }

  /** The open incident of a link target, or of the unreachable node it belongs to. */
  incidentOf(targetId: string): Incident | undefined {
    return this.#linkIncidents.get(targetId);
  }

  /** The open node_unreachable incident of `node`. */
  nodeIncident(node: string): Incident | undefined {
    return this.#nodes.get(node)?.incident;
  }

  /** A link target's aggregated status changed, or brought new evidence. */
  link(target: IncidentTarget, status: LinkStatus, detection: Detection | undefined, now: number): void {
    if (status !== "ok" && !detection) return; // nothing to say yet: the detector has no reading
    if (status === "ok" || !detection) {
      this.#links.delete(target.id);
      const held = this.#held.get(target.id);
      if (held) this.#held.delete(target.id); // a blip that ended inside the window: never published
      const open = this.#linkIncidents.get(target.id);
      if (open) {
        this.#linkIncidents.delete(target.id);
        this.book.resolve(open, now, "cleared");
      }
      for (const node of target.nodes) if (this.#isLinkOf(node, target.id)) this.#nodeMayBeBack(node, now);
      return;
    }
    this.#links.set(target.id, { target, status, detection });
    if (status === "degraded") {
      this.#held.delete(target.id);
      for (const node of target.nodes) if (this.#isLinkOf(node, target.id)) this.#nodeMayBeBack(node, now);
      this.#place(target.id, "link_degraded", now, false);
      return;
    }
    // The node check comes first: when this link is the last of a node to fail, it folds into the node incident unpublished.
    for (const node of target.nodes) this.#checkNode(node, now);
    this.#place(target.id, "link_down", now, true);
  }

  /** A node's telemetry stopped (`silent`) or came back. */
  silence(node: string, silent: boolean, detection: Detection, now: number): void {
    const known = this.#nodes.get(node);
    if (!silent) {
      if (!known?.silence) return;
      known.silence = false;
      known.incident.absorb(detection);
      this.#nodeMayBeBack(node, now);
      return;
    }
    if (known) {
      known.silence = true;
      known.incident.addEvidence(detection.evidence, detection.onsetAt, [detection.observer]);
      return;
    }
    this.#openNode(node, detection, { links: false, silence: true }, now);
  }

  /** Opens the link detections whose hold window ended. */
  tick(now: number): void {
    for (const [node, known] of this.#nodes) if (known.recovering !== undefined) this.#nodeMayBeBack(node, now);
    for (const [id, held] of this.#held) {
      if (held.until > now) continue;
      this.#held.delete(id);
      const state = this.#links.get(id);
      if (state?.status === "down" && !this.#absorbingNode(id)) {
        this.#linkIncidents.set(id, held.incident);
        this.book.open(held.incident, now);
      }
    }
  }

  /** Opens, updates, holds or reclassifies the incident of a non-ok link. */
  #place(id: string, kind: "link_down" | "link_degraded", now: number, mayHold: boolean): void {
    const state = this.#links.get(id);
    if (!state) return;
    const absorbing = kind === "link_down" ? this.#absorbingNode(id) : undefined;
    if (absorbing) {
      absorbing.incident.addEvidence(state.detection.evidence, state.detection.onsetAt, [state.detection.observer]);
      return;
    }
    const open = this.#linkIncidents.get(id);
    if (open?.kind === kind) {
      if (open.absorb(state.detection)) this.book.update(open, now);
      return;
    }
    const held = this.#held.get(id);
    if (held) {
      held.incident.absorb(state.detection);
      return;
    }
    const incident = this.#newLinkIncident(state, kind);
    if (open) {
      // Same link, other kind (a dead link answering again but lossy, or a lossy one going silent): one fault, reclassified.
      this.#linkIncidents.delete(id);
      this.book.resolve(open, now, "merged", incident.id);
      incident.onsetAt = Math.min(incident.onsetAt, open.onsetAt);
    } else if (mayHold) {
      const until = Math.max(0, ...state.target.nodes.map((node) => this.#windowUntil.get(node) ?? 0));
      if (until > now) {
        this.#held.set(id, { incident, until });
        return;
      }
      for (const node of state.target.nodes) this.#windowUntil.set(node, now + this.options.windowMs);
    }
    this.#linkIncidents.set(id, incident);
    this.book.open(incident, now);
  }

  #newLinkIncident(state: LinkState, kind: "link_down" | "link_degraded"): Incident {
    const { target, detection } = state;
    return new Incident({
      id: this.options.newId(),
      kind,
      severity: kind === "link_down" ? "critical" : "warning",
      target,
      node: detection.observer,
      interface: detection.interface,
      peer: target.type === "link" ? target.nodes.find((node) => node !== detection.observer) : undefined,
      detection,
    });
  }

  /** The open node incident a down link of its node folds into. */
  #absorbingNode(id: string): NodeIncident | undefined {
    const nodes = this.#links.get(id)?.target.nodes ?? [];
    for (const node of nodes) {
      const known = this.#nodes.get(node);
      if (known && this.#isLinkOf(node, id)) return known;
    }
    return undefined;
  }

  #isLinkOf(node: string, id: string): boolean {
    return this.directory.linksOf(node).some((link) => link.id === id);
  }

  /** Opens node_unreachable(node) when every one of its (two or more) links is down. */
  #checkNode(node: string, now: number): void {
    const links = this.directory.linksOf(node);
    // With one link, a dead node and a cut link look the same from the mesh: the link incident is the one fault.
    if (links.length < 2) return;
    const states = links.map((link) => this.#links.get(link.id));
    if (!states.every((state) => state?.status === "down")) return;
    const known = this.#nodes.get(node);
    if (known?.links) return;
    const detections = states.map((state) => (state as LinkState).detection);
    const first = detections.reduce((a, b) => (a.onsetAt <= b.onsetAt ? a : b));
    const combined: Detection = {
      observer: first.observer,
      onsetAt: first.onsetAt,
      reading: { metric: "links_down", observed: links.length, mean: links.length, stddev: 0, score: Number.POSITIVE_INFINITY, ts: first.reading.ts },
      evidence: detections.flatMap((detection) => detection.evidence),
    };
    if (known) {
      known.links = true;
      known.incident.addEvidence(combined.evidence, combined.onsetAt);
      this.#fold(node, known.incident, now);
      return;
    }
    this.#openNode(node, combined, { links: true, silence: false }, now);
  }

  #openNode(node: string, detection: Detection, sources: { links: boolean; silence: boolean }, now: number): void {
    const incident = new Incident({
      id: this.options.newId(),
      kind: "node_unreachable",
      severity: "critical",
      target: { type: "node", id: `node:${node}`, nodes: [node] },
      node,
      detection,
    });
    for (const other of detections(this.#links, this.directory, node)) incident.addEvidence(other.evidence, other.onsetAt, [other.observer]);
    this.#nodes.set(node, { incident, ...sources });
    this.book.open(incident, now);
    this.#fold(node, incident, now);
  }

  /** Folds the node's held and open link_down incidents into its node incident. */
  #fold(node: string, into: Incident, now: number): void {
    for (const link of this.directory.linksOf(node)) {
      this.#held.delete(link.id);
      const open = this.#linkIncidents.get(link.id);
      if (open?.kind !== "link_down") continue;
      into.addEvidence(open.evidence(), open.onsetAt, open.observers);
      this.#linkIncidents.delete(link.id);
      this.book.resolve(open, now, "merged", into.id);
    }
  }

  /** A node whose links were all down has one back (or spoke again): resolve it, and report links still down on their own. */
  #nodeMayBeBack(node: string, now: number): void {
    const known = this.#nodes.get(node);
    if (!known) return;
    if (known.links) {
      const statuses = this.directory.linksOf(node).map((link) => this.#links.get(link.id)?.status);
      if (statuses.every((status) => status === "down")) {
        known.recovering = undefined;
        return;
      }
      if (statuses.some((status) => status === "down")) {
        known.recovering ??= now;
        if (now - known.recovering < (this.options.recoveryGraceMs ?? DEFAULT_RECOVERY_GRACE_MS)) return;
      }
      known.links = false;
    }
    if (known.silence) return;
    this.#nodes.delete(node);
    this.book.resolve(known.incident, now, "cleared");
    for (const link of this.directory.linksOf(node)) {
      if (this.#links.get(link.id)?.status === "down") this.#place(link.id, "link_down", now, false);
    }
  }
}

/** Detections of the node's links that are down now (evidence for its node incident). */
function detections(links: Map<string, LinkState>, directory: PeerDirectory, node: string): Detection[] {
  return directory.linksOf(node).flatMap((link) => {
    const state = links.get(link.id);
    return state?.status === "down" ? [state.detection] : [];
  });
}
