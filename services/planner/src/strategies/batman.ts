// Healing on batman-adv: hard interfaces leave the mesh (or get a hop penalty) and return; batman-adv routes by itself.

import { type ActionResult, BATMAN_KEY, BatmanCurrent, type Logger, type NodeAnnouncement, type Plan } from "@x0/shared";

import { type BatmanLink, batmanLinkOf, meshAddress, meshGraph, meshNodesOf } from "../batman/mesh.ts";

import { BATMAN_RESET_PROTECTION_MS, batmanPlanParts } from "../batman/plan.ts";

import { applySettings, type BatmanChange, revertSettings, type SettingMap, settingKey, toSettingMap } from "../batman/settings.ts";
import { MAX_ACTIONS, type Proposal } from "../emit/emit.ts";

import type { JsonStore } from "../kv.ts";

import type { Settled } from "../outcomes/store.ts";

import { batmanHopPenalty, type Policy } from "../policy/policy.ts";

import { probeChecks } from "../routing/plan.ts";

import type { TopologyState } from "../topology/topology.ts";

import type { HealingRequest, HealingStrategy } from "./strategy.ts";

/** What the batman strategy needs from the planner. */
export interface BatmanStrategyDeps {
  topology: TopologyState;
  /** x0_topology: batman.current. */
  store: JsonStore;
  logger: Logger;
  policy: Pick<Policy, "batman" | "verify" | "link_cost">;
}

/**
 * batman-adv: owns batman.current (the hard interfaces believed changed), every hard interface ever announced, which
 * plan last stated each interface, and when each interface last returned to its mesh.
 */
export class BatmanStrategy implements HealingStrategy {
  readonly #deps: BatmanStrategyDeps;
  #settings: SettingMap = new Map();
  /** Every hard interface an announcement ever listed (settingKey): its link stays a batman link while the monitor's read lags. */
  readonly #hardInterfaces = new Set<string>();
  /** The plan that last stated each hard interface's setting (in memory): a rolled-back plan reverts only what it still owns. */
  readonly #owner = new Map<string, string>();
  /** When each hard interface last returned to its mesh (saved with batman.current): not detached again within the reset protection. */
  readonly #returnedAt = new Map<string, number>();

  constructor(deps: BatmanStrategyDeps) {
    this.#deps = deps;
  }

  /** Remembers the hard interfaces a node's announcement lists. */
  announce(announcement: NodeAnnouncement): void {
    for (const iface of announcement.batman?.hard_interfaces ?? []) this.#hardInterfaces.add(settingKey(announcement.node, iface));
  }

  /** Forgets a node's hard interfaces (its announcement was deleted). */
  forget(node: string): void {
    for (const key of this.#hardInterfaces) if (key.startsWith(settingKey(node, ""))) this.#hardInterfaces.delete(key);
  }

  /** The hard interfaces the planner believes it changed (detached, or with a raised hop penalty). */
  settings(): SettingMap {
    return new Map(this.#settings);
  }

  /** Whether every one of the links is a batman link (a mixed node is repaired with static routes). */
  covers(ids: string[]): boolean {
    const links = this.#links();
    return ids.length > 0 && ids.every((id) => links.has(id));
  }

  async restore(): Promise<void> {
    const value = (await this.#deps.store.get(BATMAN_KEY))?.value;
    if (value === undefined) return;
    const parsed = BatmanCurrent.safeParse(value);
    if (!parsed.success) {
      this.#deps.logger.warn("ignoring invalid batman.current", { error: parsed.error.message });
      return;
    }
    this.#settings = toSettingMap(parsed.data.settings);
    for (const { key, at } of parsed.data.returned) this.#returnedAt.set(key, at);
  }

  plan(request: HealingRequest, now: number): Proposal {
    const { topology, policy } = this.#deps;
    const links = this.#links();
    const addressOf = (node: string) => meshAddress(topology.announcement(node));
    const after = meshGraph(topology.graph(), links, addressOf);
    const { changes, actions, kept, resting, pairs, summary } = batmanPlanParts({
      purpose: request.purpose,
      effect: request.effect ?? "detach",
      element: request.element,
      links,
      // What batman-adv used before the fault: every batman link up, at equal cost (the lab's links are alike).
      before: meshGraph(topology.hopCountGraph(), links, addressOf),
      after,
      current: this.#settings,
      isUp: (id) => topology.link(id) !== undefined && topology.stateOf(id) === "up",
      originatorOf: (node) => topology.announcement(node)?.batman?.originator,
      // A held (flapping) link returns only at its release, stable_ms later: detaching it makes no quick second return.
      resting: (key, link) => topology.stateOf(link) !== "held" && now - (this.#returnedAt.get(key) ?? Number.NEGATIVE_INFINITY) < BATMAN_RESET_PROTECTION_MS,
      meshNodes: meshNodesOf(links.values()),
      params: {
        hopPenalty: batmanHopPenalty(policy),
        normalHopPenalty: policy.batman.normal_hop_penalty,
        verifyWithinMs: policy.batman.verify_within_ms,
        repairOrigIntervalMs: policy.batman.repair_orig_interval_ms,
        origIntervalMs: policy.batman.orig_interval_ms,
        repairMeshHopPenalty: policy.batman.repair_mesh_hop_penalty,
        meshHopPenalty: policy.batman.mesh_hop_penalty,
        repairOgmAggregation: policy.batman.repair_ogm_aggregation,
        ogmAggregation: policy.batman.ogm_aggregation,
      },
      maxChecks: policy.verify.max_checks,
      maxActions: MAX_ACTIONS,
      what: request.what,
    });
    let unchanged: string | undefined;
    if (request.purpose === "repair") unchanged = kept.length > 0 || resting.length > 0 ? summary : `${summary}: no batman change needed`;
    return {
      actions,
      summary,
      unchanged,
      tooLarge: `${summary}: more than ${MAX_ACTIONS} steps, too many for one plan; the mesh is left alone`,
      // Probes cross the mesh: to each destination's address on its mesh interface (bat0).
      verify: probeChecks(pairs, after.serviceAddress, (node) => topology.announcement(node)?.probe_port),
      // The other nodes learn the detour from OGMs: probes across the mesh get converge_within_ms (README: "Check deadline").
      deadlineMs: Math.max(policy.verify.deadline_ms, policy.batman.verify_within_ms, policy.batman.converge_within_ms),
      record: { changes: [], batman: changes },
    };
  }

  async persist(proposal: Proposal, plan: Plan, now: number): Promise<void> {
    if (plan.approval !== "auto") return;
    const changes = proposal.record.batman ?? [];
    const next = new Map(this.#settings);
    applySettings(next, changes);
    for (const change of changes) this.#owner.set(settingKey(change.next.node, change.next.interface), plan.plan_id);
    this.#noteReturns(changes, now);
    await this.#save(next, plan.plan_id, now);
  }

  async settle(result: ActionResult, settled: Settled | undefined, now: number): Promise<void> {
    if (!settled?.record.batman || settled.record.batman.length === 0) return;
    const { record, outcome } = settled;
    const changes: BatmanChange[] = settled.record.batman.map((change) => ({ next: change.next, previous: change.previous ?? undefined }));
    const next = new Map(this.#settings);
    if (outcome === "success" && record.approval !== "auto") {
      applySettings(next, changes);
      this.#noteReturns(changes, now);
    } else if (outcome !== "success" && record.approval === "auto") {
      // Only interfaces this plan still owns: a later plan that changed one again keeps its setting.
      const reverted = changes.filter((change) => (this.#owner.get(settingKey(change.next.node, change.next.interface)) ?? record.plan_id) === record.plan_id);
      revertSettings(next, reverted);
      // A rolled-back detach returned its interface to the mesh as well.
      for (const change of reverted)
        if (!change.next.active && (change.previous?.active ?? true)) this.#returnedAt.set(settingKey(change.next.node, change.next.interface), now);
      this.#deps.logger.info("batman changes reverted", { plan_id: record.plan_id, status: result.status, interfaces: changes.length });
    } else return;
    await this.#save(next, record.plan_id, now);
  }

  /** Notes the interfaces that `changes` return to their mesh. */
  #noteReturns(changes: BatmanChange[], now: number): void {
    for (const change of changes)
      if (change.next.active && change.previous?.active === false) this.#returnedAt.set(settingKey(change.next.node, change.next.interface), now);
  }

  /** Every announced batman link by id; an interface the planner detached, or one ever announced, still counts as a hard interface. */
  #links(): Map<string, BatmanLink> {
    const { topology } = this.#deps;
    const detached = (node: string, iface: string) =>
      this.#settings.get(settingKey(node, iface))?.active === false || this.#hardInterfaces.has(settingKey(node, iface));
    const links = new Map<string, BatmanLink>();
    for (const link of topology.hopCountGraph().links) {
      const batman = batmanLinkOf(link, (node) => topology.announcement(node), detached);
      if (batman) links.set(link.id, batman);
    }
    return links;
  }

  async #save(settings: SettingMap, planId: string, now: number): Promise<void> {
    this.#settings = settings;
    // Returns older than the protection no longer matter: the record keeps only the recent ones.
    for (const [key, at] of this.#returnedAt) if (now - at >= BATMAN_RESET_PROTECTION_MS) this.#returnedAt.delete(key);
    const returned = [...this.#returnedAt].map(([key, at]) => ({ key, at }));
    const record: BatmanCurrent = { v: 1, settings: [...settings.values()], updated_at: now, plan_id: planId, returned };
    await this.#deps.store.put(BATMAN_KEY, record).catch((error) => this.#deps.logger.warn("cannot write batman.current", { error }));
  }
}
