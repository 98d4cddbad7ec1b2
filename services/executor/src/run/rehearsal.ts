// The plan path rehearsed at start, nothing real touched: a synthetic batman-adv repair plan through the contract checks,
// the signature check, the plan handler (a node executor's: three coordinating ones) and the real batman actuators over
// an in-memory mesh; then one read of each real path. Why and what it measured: README.md ("Start-up rehearsal").
import {
  type ActionResult,
  type BatmanMesh,
  createLogger,
  type LinkInfo,
  type LinkMasters,
  type Logger,
  type MeshSettingName,
  MessageVerifier,
  type Plan,
  type PqBackend,
  signMessage,
  txnParticipantKey,
} from "@x0/shared";
import { aggregationActuator, batmanControl, batmanInterfaceActuator, hopPenaltyActuator, origIntervalActuator } from "../actuators/batman/mod.ts";
import { ActuatorRegistry } from "../actuators/registry.ts";
import type { Actuator } from "../actuators/types.ts";
import { CoordinatedPlans } from "../coordination/coordinated.ts";
import { CoordinationRecords, type KvWatch, type KvWatchEntry, type WatchableKv } from "../coordination/store.ts";
import { RehearsalFailed } from "../errors.ts";
import type { KvStore } from "../lease/lease.ts";
import { nodeKeys, PlanLeases } from "../lease/lease.ts";
import { checkPlan } from "../verify/verify-plan.ts";
import { PlanHandler } from "./handle-plan.ts";
import type { Handled } from "./outcomes.ts";
import { PlanRunner } from "./runner.ts";

/** What a rehearsal runs the synthetic plan through: the service's backend, its result signing and its bus's contract checks. */
export interface RehearsalOptions {
  /** The backend whose signing and verifying the rehearsal uses (with a throwaway key). */
  backend: PqBackend;
  /** Signs a result as a real one is signed. */
  signResult(result: ActionResult): ActionResult;
  /** Validates a plan as publishing and consuming it would: the bytes and the plan a consumer gets. */
  checkPlan(plan: Plan): { data: Uint8Array; message: Plan };
  /** Validates a result as publishing it would (throws on a violation). */
  checkResult(result: ActionResult): void;
  /** Whose plan path: the site executor's (whole plans) or a node executor's (its part, coordinated with the others). */
  scope?: "all" | "node";
}

/** What one rehearsal did. */
export interface Rehearsal {
  /** The synthetic plan's result status: `verified` when every part worked. */
  status: ActionResult["status"];
  steps: number;
  durationMs: number;
}

const MESH = "bat0";
/** The synthetic mesh: three nodes in a triangle, each with a dummy primary0 first (as `x0 lab` builds them). */
const NODES = ["r1", "r2", "r3"] as const;
const originatorOf = (node: string) => `02:ba:00:00:99:0${node.slice(1)}`;

/** batman-adv's defaults of the mesh settings a repair changes. */
const BATMAN_DEFAULTS: Record<MeshSettingName, number> = { orig_interval: 1000, hop_penalty: 30, aggregated_ogms: 1 };

/** A batman-adv mesh in memory behind the interfaces the batman actuators use (netns `rehearsal-<node>`). */
class MemoryMesh implements LinkMasters {
  readonly #links = new Map<string, LinkInfo[]>();
  readonly #settings = new Map<string, number>();

  constructor() {
    for (const node of NODES) {
      const peers = NODES.filter((peer) => peer !== node);
      const names = [MESH, "primary0", ...peers.map((peer) => `${node}-${peer}`)];
      this.#links.set(
        `rehearsal-${node}`,
        names.map((name, k) => ({ index: k + 1, name, master: name === MESH ? 0 : 1 })),
      );
    }
  }

  links(netns: string | null): LinkInfo[] {
    return structuredClone(this.#linksOf(netns));
  }

  setMaster(netns: string | null, name: string, master: string | null): void {
    const links = this.#linksOf(netns);
    const link = links.find((candidate) => candidate.name === name);
    const masterIndex = master === null ? 0 : links.find((candidate) => candidate.name === master)?.index;
    if (!link || masterIndex === undefined) throw new RehearsalFailed(`the rehearsal mesh has no ${link ? master : name} in ${netns}`);
    link.master = masterIndex;
  }

  hardInterfaces(netns: string | null, mesh: string): Map<string, boolean> {
    const links = this.#linksOf(netns);
    const meshIndex = links.find((link) => link.name === mesh)?.index;
    return new Map(links.filter((link) => link.master === meshIndex).map((link) => [link.name, true]));
  }

  /** A best route to every other node, through its direct link while attached, else through the remaining one. */
  originators(netns: string | null, mesh: string) {
    const node = (netns ?? "").replace("rehearsal-", "");
    const attached = [...this.hardInterfaces(netns, mesh).keys()].filter((name) => name !== "primary0");
    return NODES.filter((peer) => peer !== node).flatMap((peer) => {
      const via = attached.find((name) => name === `${node}-${peer}`) ?? attached[0];
      if (via === undefined) return [];
      const neighbour = via.split("-")[1] as string;
      return [{ originator: originatorOf(peer), next_hop: originatorOf(neighbour), interface: via, tq: 200, last_seen_ms: 100, best: true }];
    });
  }

  get(netns: string | null, mesh: string, setting: MeshSettingName): number {
    return this.#settings.get(`${netns}/${mesh}/${setting}`) ?? BATMAN_DEFAULTS[setting];
  }

  set(netns: string | null, mesh: string, setting: MeshSettingName, value: number): void {
    this.#settings.set(`${netns}/${mesh}/${setting}`, value);
  }

  #linksOf(netns: string | null): LinkInfo[] {
    const links = this.#links.get(netns ?? "");
    if (!links) throw new RehearsalFailed(`the rehearsal mesh has no namespace ${netns}`);
    return links;
  }
}

/** A KV bucket in memory with the create / compare-and-set semantics of NATS KV, and watches of the changes from now on. */
class MemoryKv implements WatchableKv {
  readonly #entries = new Map<string, { value: Uint8Array; revision: number }>();
  readonly #watches = new Set<{ matches(key: string): boolean; push(entry: KvWatchEntry): void }>();
  #revision = 0;

  /** Watches `key` (a `prefix.>` watches every key under it). */
  async watch({ key }: { key: string }): Promise<KvWatch> {
    const prefix = key.endsWith(">") ? key.slice(0, -1) : undefined;
    const queue: KvWatchEntry[] = [];
    let wake = () => {};
    let stopped = false;
    const watch = {
      matches: (candidate: string) => (prefix === undefined ? candidate === key : candidate.startsWith(prefix)),
      push: (entry: KvWatchEntry) => {
        queue.push(entry);
        wake();
      },
    };
    this.#watches.add(watch);
    const watches = this.#watches;
    return {
      stop() {
        stopped = true;
        watches.delete(watch);
        wake();
      },
      async *[Symbol.asyncIterator]() {
        while (!stopped) {
          const entry = queue.shift();
          if (entry) yield entry;
          else await new Promise<void>((resolve) => (wake = resolve));
        }
      },
    };
  }

  async get(key: string) {
    const entry = this.#entries.get(key);
    return entry ? { ...entry, operation: "PUT" } : null;
  }

  async create(key: string, data: string): Promise<number> {
    if (this.#entries.has(key)) throw new RehearsalFailed(`key ${key} exists`);
    return this.#put(key, data);
  }

  async update(key: string, data: string, version: number): Promise<number> {
    if (this.#entries.get(key)?.revision !== version) throw new RehearsalFailed(`key ${key} is not at revision ${version}`);
    return this.#put(key, data);
  }

  async delete(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  #put(key: string, data: string): number {
    this.#revision += 1;
    const value = new TextEncoder().encode(data);
    this.#entries.set(key, { value, revision: this.#revision });
    for (const watch of this.#watches) if (watch.matches(key)) watch.push({ key, revision: this.#revision, operation: "PUT", value });
    return this.#revision;
  }
}

/** The planner's repair of link r1|r2 as it plans one on a batman-adv mesh: both ends detached, OGMs every 100 ms. */
function syntheticPlan(now: number): Plan {
  const ends = [
    ["r1", "r2"],
    ["r2", "r1"],
  ] as const;
  return {
    v: 1,
    plan_id: crypto.randomUUID(),
    incident_id: crypto.randomUUID(),
    node: "r1",
    kind: "link_down",
    rule: "link_down/batman-deactivate",
    approval: "auto",
    created_at: now,
    target: { type: "link", id: "link:r1|r2", nodes: ["r1", "r2"] },
    anomaly_update: 0,
    actions: [
      ...ends.map(([node, peer]) => ({
        type: "batman_interface" as const,
        params: { node, mesh_interface: MESH, interface: `${node}-${peer}`, state: "inactive", verify_originator: originatorOf(peer), verify_within_ms: 2000 },
        reason: `rehearsal: ${node}'s end of the cut link leaves the mesh`,
      })),
      ...NODES.map((node) => ({
        type: "batman_orig_interval" as const,
        params: { node, mesh_interface: MESH, value: 100 },
        reason: "rehearsal: OGMs every 100 ms while the mesh re-routes",
      })),
      ...NODES.map((node) => ({
        type: "batman_hop_penalty" as const,
        params: { node, mesh_interface: MESH, value: 10 },
        reason: "rehearsal: a lower hop penalty while the mesh re-routes",
      })),
      ...NODES.map((node) => ({
        type: "batman_aggregation" as const,
        params: { node, mesh_interface: MESH, enabled: false },
        reason: "rehearsal: OGMs forwarded at once while the mesh re-routes",
      })),
    ],
    expected_effect: { summary: "rehearsal: r1 and r2 reach each other through r3", deadline_ms: 2000, verify: [{ type: "steps" }] },
  };
}

/** The real paths a rehearsal reads through once: the outcomes bucket and, with netlink control, the batman sockets. */
export interface RealReads {
  outcomes: Pick<KvStore, "get"> & Partial<Pick<KvStore, "update">>;
  masters?: Pick<LinkMasters, "links">;
  mesh?: Pick<BatmanMesh, "get">;
  /** The mesh interface read for the batadv family [bat0]. */
  meshInterface?: string;
  /**
   * A node executor's node: with `routes`, its namespace's routes are read through the route actuator's check, and with
   * the bucket's `update`, its record of a plan that does not exist is written at a revision it never had (refused).
   */
  node?: string;
  routes?: Pick<Actuator, "params" | "checkBatch">;
}

/**
 * Reads, changing nothing, through the real paths the first plan takes after the in-memory rehearsal: a key of the
 * outcomes bucket that is never written, this namespace's links over rtnetlink, and a mesh setting over batman-adv's
 * generic netlink family. What each read saw is returned; a mesh read that fails (no batman-adv here, or no mesh
 * interface in this namespace) is reported by its message, since the family lookup before it has run.
 */
export async function rehearseRealReads({ outcomes, masters, mesh, meshInterface = MESH, node, routes }: RealReads): Promise<Record<string, string>> {
  const seen: Record<string, string> = {};
  const entry = await outcomes.get("rehearsal.never-written");
  seen.outcomes = entry === null ? "read (absent)" : `read (revision ${entry.revision})`;
  if (node && outcomes.update) {
    // The path of a participant's report, up to the server's compare-and-set, which stores nothing.
    const written = await outcomes.update(txnParticipantKey(crypto.randomUUID(), node), "{}", 1).then(
      (revision) => `written at revision ${revision} (not refused)`,
      (error: Error) => `write refused as expected: ${error.message}`,
    );
    seen.outcomesWrite = written;
  }
  if (node && routes?.checkBatch) {
    const step = {
      index: 0,
      type: "route_replace" as const,
      params: routes.params.parse({ node, prefix: "127.0.0.1", via: "127.0.0.1", dev: "lo" }),
      reason: "rehearsal",
    };
    const ctx = { node, logger: createLogger({ service: "executor-rehearsal", node, level: "error" }), beforeChange: async () => {} };
    const [problem] = await routes.checkBatch([step], ctx).catch((error: Error) => [`cannot check: ${error.message}`]);
    seen.routes = problem ?? "main table and the route to 127.0.0.1 read";
  }
  if (masters) seen.links = `${masters.links(null).length} links in this namespace`;
  if (mesh) {
    try {
      seen.batadv = `orig_interval of ${meshInterface} ${mesh.get(null, meshInterface, "orig_interval")} ms`;
    } catch (error) {
      seen.batadv = (error as Error).message;
    }
  }
  return seen;
}

/** Runs the synthetic plan through the executor's whole plan path; throws RehearsalFailed when a part of it fails. */
export async function rehearsePlanHandling(options: RehearsalOptions): Promise<Rehearsal> {
  try {
    return await rehearse(options);
  } catch (error) {
    if (error instanceof RehearsalFailed) throw error;
    throw new RehearsalFailed(`the plan path failed on the synthetic plan: ${(error as Error).message}`, { cause: error });
  }
}

async function rehearse({ backend, signResult, checkPlan: checkPlanMessage, checkResult, scope = "all" }: RehearsalOptions): Promise<Rehearsal> {
  const started = performance.now();
  const keys = backend.sigKeypair();
  const keyId = `rehearsal-${crypto.randomUUID().slice(0, 8)}`;
  const verifier = new MessageVerifier({
    backend,
    keys: {
      get: (id) =>
        id === keyId ? { keyId, service: "planner", alg: "ML-DSA-65", mldsaPublic: keys.publicKey, notBefore: 0, notAfter: Date.now() + 60_000 } : undefined,
    },
  });
  const signed = signMessage(backend, "plan", syntheticPlan(Date.now()), { keyId, alg: "ML-DSA-65", mldsaSecret: keys.secretKey });
  const { data, message: plan } = checkPlanMessage(signed);
  const verdict = await checkPlan(verifier, { data, redelivered: false, sequence: 1 }, ["planner"]);
  if (!verdict.ok) throw new RehearsalFailed(`the synthetic plan's signature did not verify: ${verdict.reason}: ${verdict.detail}`);

  const mesh = new MemoryMesh();
  const control = batmanControl({ netnsTemplate: "rehearsal-{node}", masters: mesh, mesh, pollMs: 10 });
  const logger = createLogger({ service: "executor-rehearsal", node: "rehearsal", level: "error" });
  const registry = new ActuatorRegistry()
    .register(batmanInterfaceActuator(control))
    .register(origIntervalActuator(control))
    .register(hopPenaltyActuator(control))
    .register(aggregationActuator(control));
  const kv = new MemoryKv();
  const delivery = { sequence: 1, redelivered: false };
  let handled: Handled;
  if (scope === "all") {
    const runner = new PlanRunner({ registry, node: "r1", logger });
    const handler = new PlanHandler({ mode: "enforce", outcomes: kv, leases: new PlanLeases({ kv, holder: "rehearsal" }), runner, logger, sign: signResult });
    handled = await handler.handle(plan, delivery);
  } else {
    // Each node's executor its part, r1 coordinating, their records watched as a node executor watches them.
    const records = await CoordinationRecords.start(kv, logger);
    try {
      const parts = NODES.map((node) =>
        new CoordinatedPlans({
          node,
          mode: "enforce",
          outcomes: kv,
          records,
          leases: new PlanLeases({ kv, holder: `rehearsal-${node}`, keys: nodeKeys(node) }),
          runner: new PlanRunner({ registry, node, logger }),
          sign: signResult,
          logger,
          deadlineMs: 10_000,
          graceMs: 5_000,
          defaultVerifyMs: 2_000,
        }).handle(plan, delivery),
      );
      [handled] = (await Promise.all(parts)) as [Handled, ...Handled[]];
    } finally {
      await records.stop();
    }
  }
  if (handled.kind !== "result") throw new RehearsalFailed(`the synthetic plan was not run: ${handled.detail}`);
  checkResult(handled.result);
  if (handled.result.status !== "verified") throw new RehearsalFailed(`the synthetic plan ended ${handled.result.status}: ${handled.result.detail ?? ""}`);
  return { status: handled.result.status, steps: handled.result.steps.length, durationMs: performance.now() - started };
}

/**
 * The rehearsal at start as /status shows it (`details.rehearsal`): the synthetic plan's outcome with what the real reads
 * saw, or why it failed. Logged, never thrown: the executor runs on, its first plan on the cold path.
 */
export async function rehearseAtStart(options: RehearsalOptions & RealReads, logger: Logger): Promise<Record<string, unknown>> {
  let rehearsal: Rehearsal;
  try {
    rehearsal = await rehearsePlanHandling(options);
  } catch (error) {
    logger.error("plan path rehearsal failed; the first real plan will take the cold path", { error });
    return { failed: (error as Error).message };
  }
  const reads = await rehearseRealReads(options).catch((error: Error) => {
    logger.warn("the rehearsal's reads through the real paths failed", { error });
    return { failed: error.message };
  });
  const outcome = { status: rehearsal.status, steps: rehearsal.steps, ms: Math.round(rehearsal.durationMs), reads };
  logger.info("plan path rehearsed", outcome);
  return outcome;
}
