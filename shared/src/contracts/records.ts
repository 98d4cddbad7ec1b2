// The KV records of the knowledge buckets: each key family with its schema, who writes it and who reads it.
import { z } from "zod";
import { InvalidRecord } from "../errors.ts";
import { type Bucket, Buckets } from "../knowledge/knowledge.ts";
import { NodeAnnouncement } from "./announcement.ts";
import { AdoptedPolicy, MemberSet, Proposal, StoredVote, Tally } from "./governance.ts";
import { KeyRecord, Revocation, RotationOrder } from "./keyring.ts";
import { ActionResult, ActionType, AnomalyKind, EpochMillis, NodeId, ParticipantStatus, PlannedAction, StepStatus } from "./schemas.ts";
import { AdapterVersion, ModelVersion } from "./swarm.ts";

const InterfaceName = z.string().min(1).max(15);

// x0_topology: what the planner believes about links, routes and batman-adv meshes.

/** A route as the planner states it and the executor installs it. */
export const RouteRecord = z.object({
  node: NodeId,
  destination: NodeId,
  prefix: z.ipv4().describe("The destination's service address (/32)."),
  via: z.ipv4(),
  dev: InterfaceName,
  src: z.ipv4(),
  nextHop: NodeId.describe("The next hop node."),
});
/** A route. */
export type RouteRecord = z.infer<typeof RouteRecord>;

/** `routes.current` in x0_topology: every route the planner believes installed, and the plan that last changed them. */
export const RoutesCurrent = z.object({
  v: z.literal(1),
  routes: z.array(RouteRecord).max(100_000),
  updated_at: EpochMillis,
  plan_id: z.uuid().nullable().describe("The plan that last changed them; null for the assumed start state."),
});
/** The routes.current record. */
export type RoutesCurrent = z.infer<typeof RoutesCurrent>;

/** The x0_topology key of the installed routes. */
export const ROUTES_KEY = "routes.current";

/** The x0_topology key of the planner's fragility analysis of the mesh. */
export const TOPOLOGY_ANALYSIS_KEY = "analysis.current";

/** `analysis.current` in x0_topology: how fragile the mesh is on the links traffic can use now. */
export const TopologyAnalysis = z.object({
  v: z.literal(1),
  computed_at: EpochMillis,
  nodes: z.number().int().nonnegative(),
  links: z.number().int().nonnegative().describe("Links traffic can use now (not down, held or avoided)."),
  components: z.number().int().nonnegative().describe("Connected parts: more than one means the mesh is split."),
  bridges: z.array(z.string().max(160)).max(4096).describe("Links whose loss would split the mesh."),
  articulation_points: z.array(NodeId).max(4096).describe("Nodes whose loss would split the mesh."),
  cut_offs: z
    .array(z.object({ kind: z.enum(["link", "node"]), id: z.string().max(160), nodes: z.array(NodeId).max(4096) }))
    .max(8192)
    .describe("Per bridge and articulation point, the nodes it would separate from the largest remaining part."),
  edge_connectivity: z.number().int().nonnegative().describe("The fewest link-disjoint paths between two nodes of one part."),
  pairs_by_disjoint_paths: z.record(z.string().regex(/^\d+$/), z.number().int().nonnegative()).describe("Node pairs by their number of link-disjoint paths."),
  single_point_of_failure_nodes: z.array(NodeId).max(4096).describe("Nodes a bridge or an articulation point would cut off."),
  per_node: z
    .array(
      z.object({
        node: NodeId,
        degree: z.number().int().nonnegative(),
        articulation_point: z.boolean(),
        single_path_partners: z.number().int().nonnegative().describe("Nodes it reaches over one link-disjoint path only."),
        cut_off_by: z.array(z.string().max(160)).max(64).describe("The bridges and articulation points that would cut it off (at most 64)."),
      }),
    )
    .max(4096),
});
/** The analysis.current record. */
export type TopologyAnalysis = z.infer<typeof TopologyAnalysis>;

/**
 * One hard interface the planner changed. An interface the planner never touched (attached, hop penalty as configured)
 * has no entry: only changed ones are kept, so the record stays as small as the faults.
 */
export const BatmanSetting = z.object({
  node: NodeId,
  mesh_interface: InterfaceName,
  interface: InterfaceName,
  link: z.string().min(1).max(160).describe("The link the interface is on (`link:<a>|<b>`)."),
  active: z.boolean().describe("false: detached from the mesh by the planner."),
  hop_penalty: z.number().int().min(0).max(255).nullable().describe("The hop penalty the planner set; null: left as configured."),
});
/** A changed hard interface. */
export type BatmanSetting = z.infer<typeof BatmanSetting>;

/** `batman.current` in x0_topology: every hard interface the planner believes changed. */
export const BatmanCurrent = z.object({
  v: z.literal(1),
  settings: z.array(BatmanSetting).max(100_000),
  updated_at: EpochMillis,
  plan_id: z.uuid().nullable().describe("The plan that last changed them."),
  returned: z
    // A key is a node id (up to 64) and an interface name (up to 15) joined by "/".
    .array(z.object({ key: z.string().min(3).max(80), at: EpochMillis }))
    .max(100_000)
    .default([])
    .describe(
      "Hard interfaces (`<node>/<interface>`) that returned to their mesh recently, and when: a restarted planner does not detach them again too soon.",
    ),
});
/** The batman.current record. */
export type BatmanCurrent = z.infer<typeof BatmanCurrent>;

/** The x0_topology key of the batman settings the planner believes applied. */
export const BATMAN_KEY = "batman.current";

/** A link's routing state: up; degraded (cost raised or avoided by an incident); down (an incident says so); held (flapping, out until stable). */
export const LinkStateName = z.enum(["up", "degraded", "down", "held"]);
/** A link state name. */
export type LinkStateName = z.infer<typeof LinkStateName>;

/** What one incident does to a link: `down` and `avoid` take it out of routing (only `down` counts as a flap); `degraded` raises its cost. */
export const LinkMark = z.object({
  incident_id: z.uuid(),
  effect: z.enum(["down", "avoid", "degraded"]),
  cost: z.number().positive().optional().describe("The raised cost, for degraded marks."),
});
/** A link mark. */
export type LinkMark = z.infer<typeof LinkMark>;

const LinkEndRecord = z.object({ node: NodeId, interface: InterfaceName, address: z.ipv4() });

/** `link.<a>.<b>` in x0_topology: the planner's state of one link, also what a restarted planner resumes from. */
export const LinkRecord = z.object({
  v: z.literal(1),
  id: z.string().min(1).max(160),
  a: LinkEndRecord,
  b: LinkEndRecord,
  state: LinkStateName,
  cost: z.number().positive().nullable().describe("Cost routes are computed with; null when the link is out of routing."),
  routing_cost: z.number().positive().describe("Quantized cost from measured loss and RTT alone."),
  loss: z.object({ a_to_b: z.number().min(0).max(1).nullable(), b_to_a: z.number().min(0).max(1).nullable() }),
  rtt_ms: z.number().nonnegative().nullable(),
  marks: z.array(LinkMark).max(64),
  downs: z.array(EpochMillis).max(256).describe("When the link went down, within the flap window."),
  held_since: EpochMillis.nullable(),
  stable_since: EpochMillis.nullable().describe("When its last down mark was cleared."),
  last_incident_id: z.uuid().nullable(),
  updated_at: EpochMillis,
});
/** A link record. */
export type LinkRecord = z.infer<typeof LinkRecord>;

/** The x0_topology key of a link's record. */
export function linkKey(link: { a: { node: string }; b: { node: string } }): string {
  return `link.${link.a.node}.${link.b.node}`;
}

// x0_outcomes: the executor's exactly-once records and the planner's outcome statistics.

/** How many recent time-to-repair samples a stats record keeps. */
export const TTR_SAMPLES = 32;

/** `stats.<kind>.<alternative>` in x0_outcomes: how an alternative fared, for ranking it against the others. */
export const OutcomeStats = z.object({
  v: z.literal(1),
  kind: AnomalyKind,
  alternative: z.string().min(1).max(64),
  attempts: z.number().int().nonnegative().describe("Plans with a final result: verified, applied, rolled back or failed."),
  verified: z.number().int().nonnegative(),
  applied: z.number().int().nonnegative().describe("Applied with nothing to observe; counted as success."),
  rolled_back: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  ttr_ms: z.array(z.number().nonnegative()).max(TTR_SAMPLES).describe("Recent times to repair: verified_at (or applied_at) minus the plan's created_at."),
  updated_at: EpochMillis,
});
/** Outcome stats of one alternative. */
export type OutcomeStats = z.infer<typeof OutcomeStats>;

/** The x0_outcomes key of an alternative's stats. */
export function statsKey(kind: string, alternative: string): string {
  return `stats.${kind}.${alternative}`;
}

/** `planned.<plan_id>` in x0_outcomes: what the planner needs when the plan's result arrives. */
export const PlanRecord = z.object({
  v: z.literal(1),
  plan_id: z.uuid(),
  incident_id: z.uuid(),
  kind: AnomalyKind,
  alternative: z.string().min(1).max(64),
  approval: z.enum(["auto", "manual", "vote"]),
  created_at: EpochMillis,
  changes: z
    .array(z.object({ next: RouteRecord, previous: RouteRecord.nullable() }))
    .max(256)
    .describe("Route changes, to confirm or revert the installed routes."),
  batman: z
    .array(z.object({ next: BatmanSetting, previous: BatmanSetting.nullable() }))
    .max(256)
    .optional()
    .describe("Hard-interface changes of a batman plan, to confirm or revert batman.current."),
});
/** A plan record. */
export type PlanRecord = z.infer<typeof PlanRecord>;

/** The x0_outcomes key of a plan's record. */
export function planKey(planId: string): string {
  return `planned.${planId}`;
}

/** `<plan_id>` in x0_outcomes: the plan's result, created once (only if absent), so a redelivered plan republishes it. */
export const OutcomeRecord = z.object({
  plan_sequence: z.number().int().positive().optional().describe("Stream sequence of the plan message that produced the result."),
  result: ActionResult,
});
/** An outcome record. */
export type OutcomeRecord = z.infer<typeof OutcomeRecord>;

/** The x0_outcomes key of a plan's outcome: the plan id itself. */
export function outcomeKey(planId: string): string {
  return planId;
}

/** `lease.<plan_id>` in x0_outcomes: which executor instance runs the plan, until when (renewed; taken over by compare-and-set). */
export const Lease = z.object({
  holder: z.string().min(1).max(256),
  expires_at: EpochMillis,
  acquired_at: EpochMillis,
});
/** A lease. */
export type Lease = z.infer<typeof Lease>;

/** The x0_outcomes key of a plan's lease. */
export function leaseKey(planId: string): string {
  return `lease.${planId}`;
}

// x0_leases: which instance of a service is its leader (shared/src/leadership/README.md).

/** `leader.<service>` in x0_leases: the instance that acts for the service, until when (renewed; taken over by compare-and-set). */
export const LeaderLease = z.object({
  holder: z.string().min(1).max(256).describe("The holding process: its instance name and a random part."),
  expires_at: EpochMillis.describe("The holder's clock: valid until then; 0 once released, so a standby takes over at once."),
  acquired_at: EpochMillis.describe("When this holder took the lease (its clock)."),
  term: z.number().int().positive().describe("Counts the holders: a new holder writes the previous term plus one."),
});
/** A leader lease. */
export type LeaderLease = z.infer<typeof LeaderLease>;

/** The x0_leases key of a service's leader lease. */
export function leaderKey(service: string): string {
  return `leader.${service}`;
}

/** One step in a plan's journal: `applying` once its undo data is known and before it changes anything, then `applied` or `failed`. */
export const JournalEntry = z.object({
  index: z.number().int().nonnegative(),
  type: ActionType,
  params: PlannedAction.shape.params,
  state: z.enum(["applying", "applied", "failed", "rolled_back"]),
  undo: z.unknown().describe("What the actuator needs to roll the step back."),
  applied: z.object({ undo: z.unknown(), at: EpochMillis, detail: z.string() }).optional().describe("What applying the step left."),
  ts: EpochMillis,
});
/** A journal entry. */
export type JournalEntry = z.infer<typeof JournalEntry>;

/** `journal.<plan_id>` in x0_outcomes: which steps were about to change or changed something, so a takeover can finish or undo them. */
export const Journal = z.object({
  plan_id: z.uuid(),
  holder: z.string().min(1).max(256),
  started_at: EpochMillis,
  entries: z.array(JournalEntry).max(256),
  recovered_by: z.string().min(1).max(256).optional().describe("Set by an instance that took the plan over."),
});
/** A plan's journal. */
export type Journal = z.infer<typeof Journal>;

/** The x0_outcomes key of a plan's journal. */
export function journalKey(planId: string): string {
  return `journal.${planId}`;
}

/** The x0_outcomes key of one node's lease on its part of a coordinated plan. */
export function nodeLeaseKey(planId: string, node: string): string {
  return `lease.${planId}.${node}`;
}

/** The x0_outcomes key of one node's journal of its part of a coordinated plan. */
export function nodeJournalKey(planId: string, node: string): string {
  return `journal.${planId}.${node}`;
}

/** The phases of a plan carried out by several node executors together (services/executor/README.md, "Coordinated plans"). */
export const TxnPhase = z.enum(["preparing", "applying", "verifying", "verified", "applied", "aborting", "aborted"]);
/** A coordination phase. */
export type TxnPhase = z.infer<typeof TxnPhase>;

/** `txn.<plan_id>.<node>` in x0_outcomes: one node's part of a coordinated plan, written only by that node's executor. */
export const TxnParticipant = z.object({
  plan_id: z.uuid(),
  node: NodeId,
  steps: z.array(z.number().int().nonnegative()).max(256).describe("Indices of the plan's steps that are this node's."),
  status: ParticipantStatus,
  detail: z.string().max(1024),
  reports: z
    .array(z.object({ index: z.number().int().nonnegative(), status: StepStatus, detail: z.string().max(1024), applied_at: EpochMillis.optional() }))
    .max(256)
    .describe("The last status the node reported for each of its steps."),
  verification: z
    .object({ ok: z.boolean(), observable: z.number().int().nonnegative(), detail: z.string().max(1024), ts: EpochMillis })
    .optional()
    .describe("Its own steps' observation (e.g. routes read back from its kernel), when the plan asks for one."),
  updated_at: EpochMillis,
});
/** A participant's record of its part in a coordinated plan. */
export type TxnParticipant = z.infer<typeof TxnParticipant>;

/** `txn.<plan_id>` in x0_outcomes: the phases of a plan carried out by several node executors, moved only by compare-and-set. */
export const Coordination = z.object({
  v: z.literal(2),
  plan_id: z.uuid(),
  coordinator: NodeId.describe("The plan's home node, whose executor advances the phases and publishes the result."),
  phase: TxnPhase,
  wave: z.number().int().nonnegative().describe("While applying: the wave being applied."),
  waves: z
    .array(z.array(z.number().int().nonnegative()).max(256))
    .max(256)
    .describe("The apply order: the step indices of each wave; routes are installed from the destination side back."),
  participants: z
    .array(TxnParticipant.pick({ node: true, steps: true }))
    .max(256)
    .describe("Who takes part, with the indices of their steps; each says where it stands in its own record, txn.<plan_id>.<node>."),
  deadline: EpochMillis.describe("The current phase ends by then: preparing and applying counted from the start, verifying from the last apply."),
  abort: z
    .object({
      by: NodeId,
      cause: z.enum(["prepare", "apply", "verification", "deadline", "coordinator_silent"]),
      detail: z.string().max(1024),
      at: EpochMillis,
    })
    .optional()
    .describe("Why the plan is aborting: which node decided it, and which node failed and how."),
  verification: ActionResult.shape.verification.describe("What the coordinator observed to verify the plan (the result carries the same)."),
  detail: z.string().max(1024).optional().describe("How a plan that applied without a verdict ended (nothing observable, or superseded)."),
  applied_at: EpochMillis.optional().describe("When the last wave was applied."),
  verified_at: EpochMillis.optional().describe("When the plan's effect was observed."),
  created_at: EpochMillis,
  updated_at: EpochMillis,
});
/** A coordination record. */
export type Coordination = z.infer<typeof Coordination>;

/** The x0_outcomes key of a coordinated plan's record. */
export function txnKey(planId: string): string {
  return `txn.${planId}`;
}

/** The x0_outcomes key of one node's record of its part in a coordinated plan. */
export function txnParticipantKey(planId: string, node: string): string {
  return `txn.${planId}.${node}`;
}

const decoder = new TextDecoder();

/** A stored KV value read as `schema`: throws {@link InvalidRecord} naming `key` when it is not JSON or not valid. */
export function parseRecord<S extends z.ZodType>(schema: S, key: string, value: Uint8Array): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(value));
  } catch (error) {
    throw new InvalidRecord(key, "not JSON", { cause: error });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new InvalidRecord(key, z.prettifyError(parsed.error).replace(/\s*\n\s*/g, "; "), { cause: parsed.error });
  return parsed.data;
}

/** One key family of a KV bucket: `key` is a template whose variable tokens are in braces (`node.{node}`). */
export interface RecordContract<Schema extends z.ZodType = z.ZodType> {
  readonly bucket: Bucket;
  readonly key: string;
  /** Name of the value's type (its schema's name in shared/), when it has a schema. */
  readonly message?: string;
  /** The value's schema; undefined for a service's private state, whose format is not a contract. */
  readonly schema?: Schema;
  readonly summary: string;
  /** Services that write it. */
  readonly writers: readonly string[];
  /** Services that read it (writers that read their own records are listed too). */
  readonly readers: readonly string[];
}

/** Every KV record family, by name. */
export const records = {
  announcement: {
    message: "NodeAnnouncement",
    bucket: Buckets.topology,
    key: "node.{node}",
    schema: NodeAnnouncement,
    summary: "What a node announces about itself: interfaces, addresses, batman-adv mesh; written by its monitor whenever it changes.",
    writers: ["monitor"],
    readers: ["analyzer", "planner"],
  },
  link: {
    message: "LinkRecord",
    bucket: Buckets.topology,
    key: "link.{a}.{b}",
    schema: LinkRecord,
    summary: "The planner's state of one link: measured cost, marks of the incidents that hold it out of routing, flap history.",
    writers: ["planner"],
    readers: ["planner", "rag"],
  },
  routes: {
    message: "RoutesCurrent",
    bucket: Buckets.topology,
    key: ROUTES_KEY,
    schema: RoutesCurrent,
    summary: "Every route the planner believes installed, with the plan that last changed them.",
    writers: ["planner"],
    readers: ["planner"],
  },
  topologyAnalysis: {
    message: "TopologyAnalysis",
    bucket: Buckets.topology,
    key: TOPOLOGY_ANALYSIS_KEY,
    schema: TopologyAnalysis,
    summary:
      "The mesh's bridges, articulation points, the nodes each would cut off, and link-disjoint paths per pair; rewritten by the planner on every topology change.",
    writers: ["planner"],
    readers: ["planner"],
  },
  batman: {
    message: "BatmanCurrent",
    bucket: Buckets.topology,
    key: BATMAN_KEY,
    schema: BatmanCurrent,
    summary: "Every batman-adv hard interface the planner believes it changed, and the ones that returned to their mesh recently.",
    writers: ["planner"],
    readers: ["planner"],
  },
  outcome: {
    message: "OutcomeRecord",
    bucket: Buckets.outcomes,
    key: "{plan_id}",
    schema: OutcomeRecord,
    summary:
      "A plan's result, created once (by the site executor, or the plan's coordinating node executor): a redelivered plan republishes it instead of running again.",
    writers: ["executor", "executor-site"],
    readers: ["executor", "executor-site"],
  },
  lease: {
    message: "Lease",
    bucket: Buckets.outcomes,
    key: "lease.{plan_id}",
    schema: Lease,
    summary: "Which site executor instance runs a plan, until when.",
    writers: ["executor-site"],
    readers: ["executor-site"],
  },
  journal: {
    message: "Journal",
    bucket: Buckets.outcomes,
    key: "journal.{plan_id}",
    schema: Journal,
    summary: "A plan's journal as the site executor runs it: the steps about to change or changed, with their undo data.",
    writers: ["executor-site"],
    readers: ["executor-site"],
  },
  nodeLease: {
    message: "Lease",
    bucket: Buckets.outcomes,
    key: "lease.{plan_id}.{node}",
    schema: Lease,
    summary: "Which instance of a node's executor carries out that node's part of a plan, until when.",
    writers: ["executor"],
    readers: ["executor"],
  },
  nodeJournal: {
    message: "Journal",
    bucket: Buckets.outcomes,
    key: "journal.{plan_id}.{node}",
    schema: Journal,
    summary: "A node's journal of its part of a plan: its steps about to change or changed, with their undo data.",
    writers: ["executor"],
    readers: ["executor"],
  },
  txn: {
    message: "Coordination",
    bucket: Buckets.outcomes,
    key: "txn.{plan_id}",
    schema: Coordination,
    summary:
      "A plan carried out by several node executors together: participants, apply waves, phase and deadline, moved by compare-and-set by its coordinator (and to aborting by a participant whose coordinator went silent).",
    writers: ["executor"],
    readers: ["executor"],
  },
  txnParticipant: {
    message: "TxnParticipant",
    bucket: Buckets.outcomes,
    key: "txn.{plan_id}.{node}",
    schema: TxnParticipant,
    summary: "One node's part in a coordinated plan: its status, each step's last status and its own observation; written only by that node's executor.",
    writers: ["executor"],
    readers: ["executor"],
  },
  stats: {
    message: "OutcomeStats",
    bucket: Buckets.outcomes,
    key: "stats.{kind}.{alternative}",
    schema: OutcomeStats,
    summary: "How an alternative fared on a kind of incident: attempts, outcomes, recent times to repair.",
    writers: ["planner"],
    readers: ["planner"],
  },
  planned: {
    message: "PlanRecord",
    bucket: Buckets.outcomes,
    key: "planned.{plan_id}",
    schema: PlanRecord,
    summary: "What the planner needs when a plan's result arrives: its alternative and the changes to confirm or revert.",
    writers: ["planner"],
    readers: ["planner"],
  },
  signingKey: {
    message: "KeyRecord",
    bucket: Buckets.keyring,
    key: "key.{key_id}",
    schema: KeyRecord,
    summary: "A public signing key and its validity window, published by the service holding the private key.",
    writers: ["planner", "executor", "executor-site", "crypto", "swarm"],
    readers: ["planner", "executor", "executor-site", "crypto", "swarm", "analyzer"],
  },
  revocation: {
    message: "Revocation",
    bucket: Buckets.keyring,
    key: "revoked.{key_id}",
    schema: Revocation,
    summary: "A revoked key: nothing it signed verifies any more. Written by the key authority only.",
    writers: ["crypto"],
    readers: ["planner", "executor", "executor-site", "crypto", "swarm", "analyzer"],
  },
  rotationOrder: {
    message: "RotationOrder",
    bucket: Buckets.keyring,
    key: "rotate.{service}",
    schema: RotationOrder,
    summary: "The key authority's order to a service to rotate its signing key now.",
    writers: ["crypto"],
    readers: ["planner", "executor", "executor-site", "crypto", "swarm", "analyzer"],
  },
  leaderLease: {
    message: "LeaderLease",
    bucket: Buckets.leases,
    key: "leader.{service}",
    schema: LeaderLease,
    summary: "Which instance of a service acts while the others stand by, until when: taken by create, renewed and taken over by compare-and-set.",
    writers: ["planner", "analyzer", "swarm"],
    readers: ["planner", "analyzer", "swarm"],
  },
  siteLeaderLease: {
    message: "LeaderLease",
    bucket: Buckets.leases,
    key: "leader.swarm-site.{site}",
    schema: LeaderLease,
    summary: "Which member of a swarm site coordinates its adapter rounds, until when (the same lease as a service leader's).",
    writers: ["swarm"],
    readers: ["swarm"],
  },
  modelVersion: {
    message: "ModelVersion",
    bucket: Buckets.models,
    key: "{model}.v{version}",
    schema: ModelVersion,
    summary: "One signed model version the swarm coordinator produced, adopted or rejected by its held-out adoption guard; written once.",
    writers: ["swarm"],
    readers: ["swarm", "analyzer"],
  },
  currentModel: {
    message: "ModelVersion",
    bucket: Buckets.models,
    key: "{model}.current",
    schema: ModelVersion,
    summary: "The adopted version of a model (a copy of its version record), replaced by compare-and-set; the analyzer loads it if its signature verifies.",
    writers: ["swarm"],
    readers: ["swarm", "analyzer"],
  },
  adapterVersion: {
    message: "AdapterVersion",
    bucket: Buckets.models,
    key: "{model}.site.{site}.v{version}",
    schema: AdapterVersion,
    summary: "One signed LoRA adapter version of a site, adopted or rejected by the site's held-out adoption guard; written once.",
    writers: ["swarm"],
    readers: ["swarm", "analyzer"],
  },
  currentAdapter: {
    message: "AdapterVersion",
    bucket: Buckets.models,
    key: "{model}.site.{site}.current",
    schema: AdapterVersion,
    summary: "A site's adopted adapter, replaced by compare-and-set; the analyzer applies it to the site's nodes on its base version.",
    writers: ["swarm"],
    readers: ["swarm", "analyzer"],
  },
  govMemberSet: {
    message: "MemberSet",
    bucket: Buckets.gov,
    key: "members.v{version}",
    schema: MemberSet,
    summary: "A version of the governance member set: the genesis (a copy of X0_GOV_MEMBERS) or one a passed members proposal made; written once.",
    writers: ["planner"],
    readers: ["planner", "executor", "executor-site"],
  },
  govProposal: {
    message: "Proposal",
    bucket: Buckets.gov,
    key: "proposal.{proposal}",
    schema: Proposal,
    summary: "A governance proposal (what it binds, its rules, the signed plan of a vote plan), signed by the planner; written once.",
    writers: ["planner"],
    readers: ["planner", "executor", "executor-site"],
  },
  govProposalHash: {
    bucket: Buckets.gov,
    key: "hash.{hash}",
    summary: "The id of the proposal with this hash (a member set version names the proposal that made it by hash).",
    writers: ["planner"],
    readers: ["planner", "executor", "executor-site"],
  },
  govVote: {
    message: "StoredVote",
    bucket: Buckets.gov,
    key: "vote.{proposal}.{address}",
    schema: StoredVote,
    summary: "A member's EIP-712 signed vote as accepted (one per member; replaced only where the proposal allows it).",
    writers: ["planner"],
    readers: ["planner", "executor", "executor-site"],
  },
  govTally: {
    message: "Tally",
    bucket: Buckets.gov,
    key: "tally.{proposal}",
    schema: Tally,
    summary: "How a proposal ended, listing every counted vote with its signature; written once. Executors recount instead of trusting it.",
    writers: ["planner"],
    readers: ["planner", "executor", "executor-site"],
  },
  govPolicy: {
    message: "AdoptedPolicy",
    bucket: Buckets.gov,
    key: "policy.current",
    schema: AdoptedPolicy,
    summary: "The planner policy the last passed policy proposal adopted; planners load it in place of their file.",
    writers: ["planner"],
    readers: ["planner"],
  },
  baselines: {
    bucket: Buckets.baselines,
    key: "analyzer.{node}",
    summary: "The analyzer's learnt baselines, so a restart keeps them (its private state).",
    writers: ["analyzer"],
    readers: ["analyzer"],
  },
} as const satisfies Record<string, RecordContract>;
