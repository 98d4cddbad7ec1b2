// Batman-adv plans: a failed link's hard interfaces leave the mesh (batman_interface inactive), a degraded link's get a
// hop penalty (batman_hop_penalty), and both return when the incident ends. batman-adv then routes by itself.

import type { BatmanSetting, MeshGraph, PlannedAction } from "@x0/shared";
import { type AffectedPair, type PathElement, pairsOnPaths, selectVerifyPairs } from "../routing/plan.ts";
import { type BatmanLink, PathCache } from "./mesh.ts";
import { applySettings, type BatmanChange, type SettingMap, settingKey, untouched } from "./settings.ts";

/** What a batman repair does to the element's hard interfaces: detach them from the mesh, or raise their hop penalty. */
export type BatmanEffect = "detach" | "penalty";

/** The batman settings of the policy a plan is built with. */
export interface BatmanParams {
  /** The hop penalty set on a degraded link's hard interfaces. */
  hopPenalty: number;
  /** The hop penalty a restore sets back (the one the mesh is configured with). */
  normalHopPenalty: number;
  /** How long the executor gives batman-adv to show the expected route to `verify_originator`. */
  verifyWithinMs: number;
  /** The OGM interval of every mesh node while any hard interface is detached; 0: left alone. */
  repairOrigIntervalMs: number;
  /** The OGM interval the mesh is configured with: set back when the last detached interface returns. */
  origIntervalMs: number;
  /** The hop penalty of every mesh node while any hard interface is detached; equal to meshHopPenalty: left alone. */
  repairMeshHopPenalty: number;
  /** The hop penalty the mesh is configured with: set back when the last detached interface returns. */
  meshHopPenalty: number;
  /** Whether every mesh node aggregates OGMs while any hard interface is detached; equal to ogmAggregation: left alone. */
  repairOgmAggregation: boolean;
  /** Whether the mesh is configured to aggregate OGMs: set back when the last detached interface returns. */
  ogmAggregation: boolean;
}

/**
 * The hard-interface hop penalty that makes a link weigh as much as `factor` hops in B.A.T.M.A.N. IV: every forwarding hop
 * multiplies an OGM's TQ by (255 − meshHopPenalty)/255, and a hard interface's penalty multiplies the TQ of what is
 * received on it by (255 − p)/255, so p = 255·(1 − q^(factor−1)) with q = (255 − meshHopPenalty)/255. Never 255: that
 * makes the TQ 0, and the link would be out of the mesh, not a last resort.
 *
 * @example degradedHopPenalty(4, 30) // 80
 */
export function degradedHopPenalty(factor: number, meshHopPenalty: number): number {
  const perHop = (255 - meshHopPenalty) / 255;
  return Math.min(254, Math.max(1, Math.round(255 * (1 - perHop ** (factor - 1)))));
}

/** The faulty element a repair acts on. */
export interface RepairInput {
  effect: BatmanEffect;
  /** The element's batman links. */
  links: BatmanLink[];
  /** For a node fault: the node. Its own ends are not acted on: nothing reaches it. */
  node?: string;
  /** Paths in the batman graph before the fault (every batman link up). */
  before: PathCache;
  /** Paths in the batman graph as it is now: the element out of routing, or with its raised cost. */
  after: PathCache;
  /** What the planner believes it changed already. */
  current: SettingMap;
  hopPenalty: number;
  originatorOf: (node: string) => string | undefined;
  /** Whether the hard interface (by setting key, on `link`) returned within BATMAN_RESET_PROTECTION_MS and may not leave again. */
  resting?: (key: string, link: string) => boolean;
}

/**
 * batman-adv's BATADV_RESET_PROTECTION_MS (net/batman-adv/main.h): a neighbour drops the OGMs of an interface that
 * rejoined within this of its last reset, so an interface that returned less than this ago is not detached again unless
 * its link is held down (README: "Returned less than 30 s ago").
 */
export const BATMAN_RESET_PROTECTION_MS = 30_000;

/** The changes of a repair, the originator each detached interface's step verifies, and the links it leaves alone. */
export interface Repair {
  changes: BatmanChange[];
  /** By setting key: the originator that must stay reachable (not over the interface) once the interface has left. */
  verifyOriginators: Map<string, string>;
  /** Links whose interfaces stay in the mesh: nothing else joins their sides (a bridge), so detaching them would partition. */
  kept: string[];
  /** Links whose interfaces stay in the mesh because one of them returned within BATMAN_RESET_PROTECTION_MS. */
  resting: string[];
}

/** The interface changes that take an element's batman links out of the mesh (or penalise them). */
export function repairChanges(input: RepairInput): Repair {
  const changes: BatmanChange[] = [];
  const verifyOriginators = new Map<string, string>();
  const kept: string[] = [];
  const resting: string[] = [];
  for (const link of input.links) {
    // The ends acted on, each with the node on the other side; a node fault's dead end is left out.
    const ends = [
      { near: link.a, far: link.b },
      { near: link.b, far: link.a },
    ].filter(({ near }) => near.node !== input.node);
    if (input.effect === "detach") {
      // Detaching is safe only when each acting end still reaches a node over another path: the far end for a link, what
      // lay behind the dead node (or any node) for a node fault. That node is also what the executor verifies.
      const acting = ends.map((end) => ({ ...end, verify: input.node ? survivorOf(input, end.near.node) : reachable(input, end.near.node, end.far.node) }));
      if (acting.some((end) => end.verify === undefined)) {
        kept.push(link.id);
        continue;
      }
      if (acting.some(({ near }) => input.resting?.(settingKey(near.node, near.interface), link.id))) {
        resting.push(link.id);
        continue;
      }
      for (const { near, verify } of acting) {
        const key = settingKey(near.node, near.interface);
        const current = input.current.get(key) ?? untouched({ ...near, link: link.id });
        if (!current.active) continue;
        changes.push({ next: { ...current, active: false }, previous: input.current.get(key) });
        const originator = input.originatorOf(verify as string);
        if (originator) verifyOriginators.set(key, originator);
      }
      continue;
    }
    for (const { near } of ends) {
      const current = input.current.get(settingKey(near.node, near.interface)) ?? untouched({ ...near, link: link.id });
      // A detached interface carries nothing to penalise; an interface already at the penalty needs no step.
      if (!current.active || current.hop_penalty === input.hopPenalty) continue;
      changes.push({ next: { ...current, hop_penalty: input.hopPenalty }, previous: input.current.get(settingKey(near.node, near.interface)) });
    }
  }
  return { changes: sortChanges(changes), verifyOriginators, kept, resting };
}

function reachable(input: RepairInput, from: string, to: string): string | undefined {
  return input.after.reaches(from, to) ? to : undefined;
}

/**
 * For a dead node's neighbour, the node its step verifies: the farthest one whose traffic from it crossed the dead node
 * and that it still reaches, else the nearest one it still reaches; undefined when it reaches none (its only link).
 */
function survivorOf(input: RepairInput, near: string): string | undefined {
  let behind: { node: string; hops: number } | undefined;
  let nearest: { node: string; hops: number } | undefined;
  for (const node of input.after.graph.nodes) {
    if (node === near || node === input.node) continue;
    const now = input.after.path(near, node);
    if (!now) continue;
    if (!nearest || now.length < nearest.hops) nearest = { node, hops: now.length };
    const was = input.before.path(near, node);
    if (was?.includes(input.node as string) && (!behind || was.length > behind.hops)) behind = { node, hops: was.length };
  }
  return (behind ?? nearest)?.node;
}

/** The changes that return every changed interface of a link that is up again (`isUp`) to its untouched state. */
export function restoreChanges(current: SettingMap, isUp: (link: string) => boolean): BatmanChange[] {
  const changes: BatmanChange[] = [];
  for (const setting of current.values()) if (isUp(setting.link)) changes.push({ next: untouched(setting), previous: setting });
  return sortChanges(changes);
}

function sortChanges(changes: BatmanChange[]): BatmanChange[] {
  return changes.sort((x, y) => (x.next.node === y.next.node ? (x.next.interface < y.next.interface ? -1 : 1) : x.next.node < y.next.node ? -1 : 1));
}

/**
 * The steps of interface changes: `batman_interface` when attachment changes (with the originator to verify and the time
 * batman-adv has), `batman_hop_penalty` when the penalty does. An interface that returns is attached before its penalty
 * is set back (and a penalty is set before a detach): batctl reaches a hard interface's settings through its mesh, so only
 * while it is attached.
 */
export function batmanActions(
  changes: BatmanChange[],
  why: string,
  params: BatmanParams,
  verifyOriginator: (setting: BatmanSetting) => string | undefined,
): PlannedAction[] {
  const actions: PlannedAction[] = [];
  for (const { next, previous } of changes) {
    const before = previous ?? untouched(next);
    const where = `${next.interface} of ${next.node}'s ${next.mesh_interface}`;
    const steps: PlannedAction[] = [];
    if (before.active !== next.active) {
      const originator = verifyOriginator(next);
      steps.push({
        type: "batman_interface",
        params: {
          node: next.node,
          mesh_interface: next.mesh_interface,
          interface: next.interface,
          state: next.active ? "active" : "inactive",
          ...(originator ? { verify_originator: originator } : {}),
          verify_within_ms: params.verifyWithinMs,
        },
        reason: `${why}: ${next.active ? "attach" : "detach"} ${where}${
          originator ? (next.active ? `; ${originator} stays reachable` : `; ${originator} must stay reachable over another path`) : ""
        }`,
      });
    }
    if (before.hop_penalty !== next.hop_penalty) {
      const value = next.hop_penalty ?? params.normalHopPenalty;
      const step: PlannedAction = {
        type: "batman_hop_penalty",
        params: { node: next.node, mesh_interface: next.mesh_interface, interface: next.interface, value },
        reason: `${why}: hop penalty of ${where} ${before.hop_penalty ?? params.normalHopPenalty} → ${value}${
          next.hop_penalty === null ? " (as configured)" : ", so batman-adv prefers other paths"
        }`,
      };
      if (next.active) steps.push(step);
      else steps.unshift(step);
    }
    actions.push(...steps);
  }
  return actions;
}

/** Pairs whose batman path (in `paths`) crosses the element: a link (its ends consecutive, either way) or a node. */
export function crossingPairs(paths: PathCache, element: PathElement): AffectedPair[] {
  return pairsOnPaths(paths.graph.nodes, (from, to) => paths.path(from, to), element);
}

/** A summary of interface changes: how many leave or return to their mesh, how many penalties change, and the links kept. */
export function describeBatman(what: string, changes: BatmanChange[], kept: string[], resting: string[] = []): string {
  const count = (test: (before: BatmanSetting, next: BatmanSetting) => boolean) =>
    changes.filter(({ next, previous }) => test(previous ?? untouched(next), next)).length;
  const parts: string[] = [];
  const detached = count((before, next) => before.active && !next.active);
  const attached = count((before, next) => !before.active && next.active);
  const raised = count((before, next) => next.hop_penalty !== null && before.hop_penalty !== next.hop_penalty);
  const restored = count((before, next) => before.hop_penalty !== null && next.hop_penalty === null);
  const say = (n: number, one: string, many: string) => `${n} hard interface${n === 1 ? ` ${one}` : `s ${many}`}`;
  if (detached > 0) parts.push(say(detached, "leaves the mesh", "leave the mesh"));
  if (attached > 0) parts.push(say(attached, "returns to the mesh", "return to the mesh"));
  if (raised > 0) parts.push(say(raised, "gets a hop penalty", "get a hop penalty"));
  if (restored > 0) parts.push(say(restored, "gets its hop penalty back", "get their hop penalty back"));
  const nodes = new Set(changes.map((change) => change.next.node)).size;
  let summary = parts.length > 0 ? `${what}: ${parts.join(", ")} on ${nodes} node${nodes === 1 ? "" : "s"}` : what;
  if (kept.length > 0) {
    summary += `; ${kept.join(", ")} stay${kept.length === 1 ? "s" : ""} in the mesh: no other path joins ${kept.length === 1 ? "its" : "their"} sides (a bridge), so it is not detached`;
  }
  if (resting.length > 0) {
    summary += `; ${resting.join(", ")} stay${resting.length === 1 ? "s" : ""} in the mesh: ${resting.length === 1 ? "its" : "their"} hard interfaces returned less than ${BATMAN_RESET_PROTECTION_MS / 1000} s ago, and a return inside batman-adv's sequence number reset protection would have the neighbours drop ${resting.length === 1 ? "its" : "their"} OGMs`;
  }
  return summary;
}

/** Everything a batman plan is computed from. */
export interface BatmanPlanInput {
  purpose: "repair" | "restore";
  effect: BatmanEffect;
  /** The failed (or restored) element: its link ids, what paths crossing it cross, and a link's two ends. */
  element: { links: string[]; cross: { link: [string, string] } | { node: string }; ends?: [string, string] } | undefined;
  /** Every batman link, by id. */
  links: ReadonlyMap<string, BatmanLink>;
  /** The batman graph before the fault (every batman link up) and as it is now (the planner's marks applied). */
  before: MeshGraph;
  after: MeshGraph;
  current: SettingMap;
  /** Whether a link is announced and up again (a restore returns its interfaces). */
  isUp: (link: string) => boolean;
  originatorOf: (node: string) => string | undefined;
  /** Whether a hard interface (by setting key, on `link`) returned within BATMAN_RESET_PROTECTION_MS: its link is not detached. */
  resting?: (key: string, link: string) => boolean;
  /** Every node of the batman mesh with its mesh interface (whose OGM interval a repair speeds up). */
  meshNodes: { node: string; mesh_interface: string }[];
  params: BatmanParams;
  maxChecks: number;
  /** Steps one plan may hold: the OGM steps are left out rather than pushing a repair over it. */
  maxActions: number;
  /** What the plan is about, the start of its summary and reasons. */
  what: string;
}

/** A batman plan's parts: the interface changes, their steps, the links left alone, the pairs to probe and the summary. */
export interface BatmanPlanParts {
  changes: BatmanChange[];
  actions: PlannedAction[];
  kept: string[];
  /** Links left attached because an interface of theirs returned within BATMAN_RESET_PROTECTION_MS. */
  resting: string[];
  /** Source → destination pairs to probe (to the destination's mesh address), at most `maxChecks`. */
  pairs: { from: string; to: string }[];
  summary: string;
}

/**
 * A repair detaches the element's hard interfaces (or raises their hop penalty); a restore returns every changed
 * interface whose link is up again, not only the element's, so one left behind by a rolled-back restore comes back with
 * the next one. Probe pairs are the route planner's: paths that crossed the element, reachable now.
 */
export function batmanPlanParts(input: BatmanPlanInput): BatmanPlanParts {
  const after = new PathCache(input.after);
  let repair: Repair = { changes: [], verifyOriginators: new Map(), kept: [], resting: [] };
  let affected: AffectedPair[] = [];
  if (input.purpose === "repair" && input.element) {
    const before = new PathCache(input.before);
    const cross = input.element.cross;
    repair = repairChanges({
      effect: input.effect,
      links: input.element.links.flatMap((id) => input.links.get(id) ?? []),
      ...("node" in cross ? { node: cross.node } : {}),
      before,
      after,
      current: input.current,
      hopPenalty: input.params.hopPenalty,
      originatorOf: input.originatorOf,
      ...(input.resting ? { resting: input.resting } : {}),
    });
    affected = crossingPairs(before, cross);
  } else {
    repair.changes = restoreChanges(input.current, input.isUp);
    if (input.element) affected = crossingPairs(after, input.element.cross);
  }
  const farOriginator = (setting: BatmanSetting): string | undefined => {
    const link = input.links.get(setting.link);
    return link ? (link.a.node === setting.node ? link.b : link.a).originator : undefined;
  };
  const actions = batmanActions(
    repair.changes,
    input.what,
    input.params,
    // A detached interface's step checks the node that must stay reachable; a returning one, its far end.
    (setting) => repair.verifyOriginators.get(settingKey(setting.node, setting.interface)) ?? (setting.active ? farOriginator(setting) : undefined),
  );
  const deadNode = input.purpose === "repair" && input.element && "node" in input.element.cross ? input.element.cross.node : undefined;
  const transition: MeshTransition = { current: input.current, changes: repair.changes, meshNodes: input.meshNodes, deadNode, why: input.what };
  let ogm = ogmActions(transition, input.params);
  let penalty = meshPenaltyActions(transition, input.params);
  let aggregation = aggregationActions(transition, input.params);
  let summary = describeBatman(input.what, repair.changes, repair.kept, repair.resting);
  const meshWide = ogm.length + penalty.length + aggregation.length;
  if (meshWide > 0 && actions.length + meshWide > input.maxActions) {
    const nodes = Math.max(ogm.length, penalty.length, aggregation.length);
    summary += `; OGM intervals, hop penalties and OGM aggregation left alone: ${nodes} nodes are more steps than one plan holds`;
    ogm = [];
    penalty = [];
    aggregation = [];
  }
  const onNodes = (n: number) => `on ${n} node${n === 1 ? "" : "s"}`;
  if (ogm.length > 0) summary += `; OGMs every ${ogm[0]?.params.value} ms ${onNodes(ogm.length)}`;
  if (penalty.length > 0) summary += `; hop penalty ${penalty[0]?.params.value} ${onNodes(penalty.length)}`;
  if (aggregation.length > 0) summary += `; OGM aggregation ${aggregation[0]?.params.enabled ? "enabled" : "disabled"} ${onNodes(aggregation.length)}`;
  return {
    changes: repair.changes,
    actions: [...actions, ...ogm, ...penalty, ...aggregation],
    kept: repair.kept,
    resting: repair.resting,
    pairs: selectVerifyPairs(affected, (from, to) => after.reaches(from, to), input.maxChecks, input.element?.ends),
    summary,
  };
}

/** What a plan's mesh-wide steps follow: the settings the planner believes in, the plan's changes and the mesh's nodes. */
export interface MeshTransition {
  current: SettingMap;
  changes: BatmanChange[];
  /** Every node of the batman mesh with its mesh interface. */
  meshNodes: { node: string; mesh_interface: string }[];
  /** A dead node: no step is asked of it. */
  deadNode?: string | undefined;
  /** What the plan is about: the start of each step's reason. */
  why: string;
}

/** A setting every mesh node (but a dead one) gets while any hard interface is detached, and gets back after. */
interface MeshWideSetting<T extends number | boolean> {
  type: "batman_orig_interval" | "batman_hop_penalty" | "batman_aggregation";
  param: "value" | "enabled";
  /** While anything is detached. */
  repair: T;
  /** As the mesh is configured: set back when the last detached interface returns. */
  configured: T;
  /** The reason of a step on `where` (`<node>'s <mesh interface>`), while detached and after. */
  during(where: string, value: T): string;
  after(where: string, value: T): string;
}

/** The steps of one mesh-wide setting when `transition` detaches the mesh's first hard interface or returns its last. */
function meshWideActions<T extends number | boolean>(transition: MeshTransition, setting: MeshWideSetting<T>): PlannedAction[] {
  return whileDetached(transition, (node, mesh_interface, detached) => {
    const value = detached ? setting.repair : setting.configured;
    const where = `${node}'s ${mesh_interface}`;
    const reason = detached ? setting.during(where, value) : setting.after(where, value);
    return { type: setting.type, params: { node, mesh_interface, [setting.param]: value }, reason: `${transition.why}: ${reason}` };
  });
}

/**
 * `batman_orig_interval` steps: the repair interval while anything is detached, so the nodes away from a cut learn the
 * detour from OGMs sooner (README: "Mesh-wide settings"); 0 leaves the interval alone.
 */
export function ogmActions(transition: MeshTransition, params: BatmanParams): PlannedAction[] {
  if (params.repairOrigIntervalMs <= 0) return [];
  return meshWideActions(transition, {
    type: "batman_orig_interval",
    param: "value",
    repair: params.repairOrigIntervalMs,
    configured: params.origIntervalMs,
    during: (where, ms) => `OGMs every ${ms} ms on ${where} while hard interfaces are detached, so the whole mesh learns the detour`,
    after: (where, ms) => `OGM interval of ${where} back to ${ms} ms (nothing is detached any more)`,
  });
}

/**
 * `batman_hop_penalty` steps on the mesh interface: a lower penalty while anything is detached, so the first fresh OGM
 * along a detour outbids the old route's average (README: "Mesh-wide settings"); equal to the mesh's own: left alone.
 */
export function meshPenaltyActions(transition: MeshTransition, params: BatmanParams): PlannedAction[] {
  if (params.repairMeshHopPenalty === params.meshHopPenalty) return [];
  return meshWideActions(transition, {
    type: "batman_hop_penalty",
    param: "value",
    repair: params.repairMeshHopPenalty,
    configured: params.meshHopPenalty,
    during: (where, penalty) =>
      `hop penalty ${penalty} on ${where} while hard interfaces are detached, so fresh OGMs along the detour outbid the old route's average`,
    after: (where, penalty) => `hop penalty of ${where} back to ${penalty} (nothing is detached any more)`,
  });
}

/**
 * `batman_aggregation` steps: off while anything is detached, so forwarded OGMs do not wait up to 100 ms per hop for
 * company (README: "Mesh-wide settings"); equal to the mesh's own: left alone.
 */
export function aggregationActions(transition: MeshTransition, params: BatmanParams): PlannedAction[] {
  if (params.repairOgmAggregation === params.ogmAggregation) return [];
  return meshWideActions(transition, {
    type: "batman_aggregation",
    param: "enabled",
    repair: params.repairOgmAggregation,
    configured: params.ogmAggregation,
    during: (where, on) =>
      `OGM aggregation ${on ? "on" : "off"} on ${where} while hard interfaces are detached, so forwarded OGMs ${on ? "share frames" : "go out at once instead of waiting up to 100 ms for company"}`,
    after: (where, on) => `OGM aggregation of ${where} back ${on ? "on" : "off"} (nothing is detached any more)`,
  });
}

/**
 * One step per mesh node (but a dead one, by name) when `changes` detach the mesh's first hard interface (`detached`
 * true) or return its last detached one (false); none when they do neither.
 */
function whileDetached(
  { current, changes, meshNodes, deadNode }: MeshTransition,
  step: (node: string, meshInterface: string, detached: boolean) => PlannedAction,
): PlannedAction[] {
  if (changes.length === 0) return [];
  const anyDetached = (map: SettingMap) => [...map.values()].some((setting) => !setting.active);
  const next: SettingMap = new Map(current);
  applySettings(next, changes);
  const detached = anyDetached(next);
  if (anyDetached(current) === detached) return [];
  return meshNodes
    .filter(({ node }) => node !== deadNode)
    .sort((x, y) => (x.node < y.node ? -1 : x.node > y.node ? 1 : 0))
    .map(({ node, mesh_interface }) => step(node, mesh_interface, detached));
}
