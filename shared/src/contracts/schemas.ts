import { z } from "zod";

// Each message carries `v: 1`. Within v1, changes are additive only: consumers
// ignore fields they do not know (zod strips them), producers never remove or
// retype a field. A breaking change is a new `v` and a new schema.

/** A NATS subject token used for node ids: letters, digits, '-' and '_'. */
export const NodeId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "node id must be 1-64 of [A-Za-z0-9_-]")
  .describe("Node id; the last token of the node's subjects.");

/** Milliseconds since the Unix epoch. */
export const EpochMillis = z.number().int().nonnegative().describe("Milliseconds since the Unix epoch (UTC).");

const Count = z.number().int().nonnegative();

/** Linux interface operational state, as in /sys/class/net/<if>/operstate. */
export const OperState = z.enum(["up", "down", "unknown", "dormant", "lowerlayerdown", "notpresent", "testing"]);

/** Cumulative interface counters, as in /sys/class/net/<if>/statistics. */
export const InterfaceCounters = z
  .object({
    rx_bytes: Count,
    tx_bytes: Count,
    rx_packets: Count,
    tx_packets: Count,
    rx_errors: Count,
    tx_errors: Count,
    rx_dropped: Count,
    tx_dropped: Count,
  })
  .describe("Cumulative counters since the interface was created.");
/** Names of the interface counters. */
export type CounterName = keyof z.infer<typeof InterfaceCounters>;

const PerSecond = z.number().nonnegative();

/** Change of frame counters since the previous sample, and as rates (shared by interfaces and neighbours). */
const frameChanges = {
  packets_delta: Count,
  bytes_delta: Count,
  dropped_delta: Count,
  packets_per_s: PerSecond,
  bytes_per_s: PerSecond,
  dropped_per_s: PerSecond,
};

/** Per-second rates of the interface counters over the last interval. */
export const InterfaceRates = z
  .object(Object.fromEntries(Object.keys(InterfaceCounters.shape).map((name) => [name, PerSecond])) as Record<CounterName, typeof PerSecond>)
  .describe("Per-second rate of each counter over the last interval.");

/** A lower-case MAC address. */
export const MacAddress = z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/, "MAC address must be six lower-case hex pairs separated by ':'");

/** How the monitor's XDP program is attached to an interface. */
export const XdpMode = z.enum(["native", "generic", "off"]).describe("native: driver mode; generic: skb mode; off: not attached.");

/** The XDP program's counters of one interface (received frames only; XDP does not see transmits). */
export const XdpSample = z.object({
  mode: XdpMode,
  error: z.string().max(1024).optional().describe("Why the program is not attached, when mode is off."),
  packets: Count.describe("Frames seen since the pinned maps were created."),
  bytes: Count,
  passed: Count,
  dropped_deny: Count.describe("Frames dropped because their neighbour is in the deny map (quarantine)."),
  dropped_fault: Count.describe("Frames dropped by fault injection."),
  ...frameChanges,
});

/** One neighbour seen by XDP on an interface: a source MAC and IPv4 source. */
export const NeighbourSample = z.object({
  mac: MacAddress,
  ipv4: z.ipv4().nullable().describe("IPv4 source of its frames; null for its non-IPv4 frames (ARP, IPv6, batman-adv)."),
  packets: Count.describe("Cumulative frames received from it, dropped ones included."),
  bytes: Count,
  dropped: Count.describe("Cumulative frames from it dropped by deny or fault injection."),
  ...frameChanges,
  last_seen_ts: EpochMillis.describe("When its last frame arrived."),
  alive: z.boolean().describe("Counter-based liveness: a frame arrived within the liveness window, or a hello was answered."),
  denied: z.boolean(),
  fault_probability: z.number().min(0).max(1).describe("Probability that XDP drops one of its frames (fault injection)."),
  rtt_ms: z.number().nonnegative().optional().describe("Hello round-trip time, when it is a probed peer."),
  loss: z.number().min(0).max(1).optional().describe("Hello loss over the probe window, when it is a probed peer."),
  tq: z.number().int().min(0).max(255).optional().describe("batman-adv transmit quality towards this neighbour as an originator."),
});
/** A neighbour sample. */
export type NeighbourSample = z.infer<typeof NeighbourSample>;

/** One interface's state and counters at sampling time. */
export const InterfaceSample = z.object({
  name: z.string().min(1).max(15).describe("Interface name (IFNAMSIZ - 1 characters at most)."),
  operstate: OperState,
  counters: InterfaceCounters,
  deltas: InterfaceCounters.optional().describe("Counter increases since the previous sample (absent in the first)."),
  rates: InterfaceRates.optional(),
  xdp: XdpSample.optional().describe("The eBPF data plane on this interface; absent when eBPF is off on the node."),
  neighbours: z.array(NeighbourSample).max(1024).optional().describe("Neighbours seen by XDP, most recently active first (capped)."),
});
/** An interface sample. */
export type InterfaceSample = z.infer<typeof InterfaceSample>;

/** Why the eBPF data plane is or is not running on the node. */
export const EbpfState = z.object({
  available: z.boolean().describe("Privileges, BTF, libbpf and objects are all present."),
  missing: z.array(z.string().max(256)).max(16).describe("What is missing, e.g. CAP_BPF (or CAP_SYS_ADMIN), CAP_NET_ADMIN, kernel BTF."),
  tracepoints: z.boolean().describe("Whether the tracepoint programs are attached."),
  error: z.string().max(1024).optional().describe("Why loading failed, when it was tried and failed."),
});
/** The eBPF state of a node. */
export type EbpfState = z.infer<typeof EbpfState>;

const CounterSample = { count: Count, delta: Count, per_s: PerSecond };

/** TCP retransmits towards one destination. */
export const RetransmitSample = z.object({ destination: z.string().max(45).describe("IPv4 or IPv6 address."), ...CounterSample });

/** Kernel skb drops for one reason. */
export const DropSample = z.object({ reason: z.string().max(64).describe("SKB_DROP_REASON_* name without the prefix."), ...CounterSample });

/** Hello probes (UDP, BFD-like) to one peer. */
export const ProbeSample = z.object({
  peer: z.string().max(64).describe("host:port of the peer."),
  sent: Count.describe("Hellos sent since the monitor started."),
  received: Count.describe("Replies received since the monitor started."),
  loss: z.number().min(0).max(1).describe("Share of unanswered hellos over the probe window."),
  rtt_ms: z.number().nonnegative().nullable().describe("Latest round-trip time; null when none in the window was answered."),
  rtt_avg_ms: z.number().nonnegative().nullable().describe("Mean round-trip time over the probe window."),
  last_reply_ts: EpochMillis.nullable().optional().describe("When the latest reply arrived; null before the first one."),
  reply_interval_mean_ms: z
    .number()
    .nonnegative()
    .nullable()
    .optional()
    .describe("Mean time between consecutive replies over the window (the heartbeat history a phi-accrual detector needs)."),
  reply_interval_stddev_ms: z.number().nonnegative().nullable().optional().describe("Standard deviation of the time between consecutive replies."),
});
/** A probe sample. */
export type ProbeSample = z.infer<typeof ProbeSample>;

/** batman-adv routing state (from batctl's JSON output). */
export const BatmanSample = z.object({
  mesh_interface: z.string().min(1).max(15),
  originators: z
    .array(
      z.object({
        originator: MacAddress,
        next_hop: MacAddress,
        interface: z.string().max(15).describe("Outgoing hard interface."),
        tq: z.number().int().min(0).max(255),
        last_seen_ms: Count,
        best: z.boolean(),
      }),
    )
    .max(1024),
  neighbours: z.array(z.object({ neighbour: MacAddress, interface: z.string().max(15), last_seen_ms: Count })).max(1024),
  error: z.string().max(1024).optional().describe("Why batctl could not be read this interval."),
});
/** A batman-adv sample. */
export type BatmanSample = z.infer<typeof BatmanSample>;

/** A data-plane event from the BPF ring buffer. */
export const DataplaneEvent = z.object({
  type: z.enum(["new_neighbour", "deny_hit"]),
  interface: z.string().min(1).max(15),
  mac: MacAddress,
  ipv4: z.ipv4().nullable(),
  ts: EpochMillis,
});
/** A data-plane event. */
export type DataplaneEvent = z.infer<typeof DataplaneEvent>;

/** `x0.telemetry.<node>`: one monitor sample of a node's interfaces. */
export const Telemetry = z
  .object({
    v: z.literal(1),
    node: NodeId,
    ts: EpochMillis.describe("When the sample was taken."),
    seq: Count.describe("Sample sequence number of this monitor instance, from 0."),
    interval_ms: z.number().int().positive().describe("Sampling interval."),
    source: z.enum(["sysfs", "ebpf"]).describe("Where the counters come from."),
    ebpf: z.boolean().describe("Whether the eBPF data plane is attached on this node."),
    interfaces: z.array(InterfaceSample).max(1024),
    ebpf_state: EbpfState.optional(),
    retransmits: z.array(RetransmitSample).max(256).optional().describe("TCP retransmits by destination (tracepoint tcp:tcp_retransmit_skb)."),
    drops: z.array(DropSample).max(256).optional().describe("Kernel skb drops by reason (tracepoint skb:kfree_skb)."),
    probes: z.array(ProbeSample).max(256).optional().describe("Hello probes to the configured neighbours."),
    batman: BatmanSample.optional(),
    events: z.array(DataplaneEvent).max(256).optional().describe("Data-plane events of the last interval, from the BPF ring buffer."),
  })
  .describe("Interface counters of one node, published every interval by the monitor.");
/** A telemetry message. */
export type Telemetry = z.infer<typeof Telemetry>;

/** `x0.overdue.<node>`: hello peers whose replies are overdue, reported between telemetry samples. */
export const ProbeOverdue = z
  .object({
    v: z.literal(1),
    node: NodeId,
    ts: EpochMillis.describe("When the report was made (the silence is measured up to here)."),
    hello_interval_ms: z.number().int().positive().describe("The monitor's hello interval: reports come at most this often."),
    probes: z.array(ProbeSample).min(1).max(256).describe("The overdue peers only, as they would appear in telemetry now."),
  })
  .describe(
    "Published by the monitor at every hello while a peer's replies are overdue, for up to two telemetry intervals, so the analyzer can judge a silent peer without waiting for the next telemetry sample.",
  );
/** A probe overdue report. */
export type ProbeOverdue = z.infer<typeof ProbeOverdue>;

/** Failure kinds the analyzer reports. */
export const AnomalyKind = z.enum(["link_down", "link_degraded", "node_unreachable", "traffic_spike", "retransmit_storm"]);
/** An anomaly kind. */
export type AnomalyKind = z.infer<typeof AnomalyKind>;

/** States of one incident; each incident is opened once, updated zero or more times, and resolved once. */
export const AnomalyState = z.enum(["opened", "updated", "resolved"]);
/** An anomaly state. */
export type AnomalyState = z.infer<typeof AnomalyState>;

/** Severity of an anomaly. */
export const Severity = z.enum(["info", "warning", "critical"]);

/** What an incident is about: the failed element, which the planner routes around or acts on. */
export const IncidentTarget = z
  .object({
    type: z
      .enum(["link", "node", "interface", "neighbour", "host"])
      .describe("link: between two nodes; node: a whole node; neighbour: one MAC on an interface."),
    id: z.string().min(1).max(160).describe("Stable id: `link:<a>|<b>` (sorted), `node:<n>`, `interface:<n>/<if>`, `neighbour:<n>/<if>/<mac>`, `host:<n>`."),
    nodes: z.array(NodeId).min(1).max(2).describe("The node, or the two ends of a link (sorted)."),
    interfaces: z.array(z.string().min(1).max(15)).max(2).optional().describe("Interfaces involved, in the order of nodes when known."),
    neighbour: z.object({ mac: MacAddress, ipv4: z.ipv4().nullable() }).optional().describe("The neighbour, for neighbour targets."),
  })
  .describe("The element an incident is about.");
/** An incident target. */
export type IncidentTarget = z.infer<typeof IncidentTarget>;

/** One observation behind an incident state. */
export const Evidence = z.object({
  node: NodeId.describe("Node that observed it."),
  interface: z.string().max(15).optional(),
  peer: z.string().max(64).optional().describe("Peer node id or address the observation is about."),
  metric: z.string().min(1).max(64),
  observed: z.number(),
  threshold: z.number().optional().describe("The value the detector compared it with."),
  ts: EpochMillis,
});
/** An evidence entry. */
export type Evidence = z.infer<typeof Evidence>;

/** `x0.anomaly.<node>`: one state of one incident. */
export const Anomaly = z
  .object({
    v: z.literal(1),
    incident_id: z.uuid().describe("Stable id of the incident across its states."),
    state: AnomalyState,
    update: Count.describe("0 when opened, then 1, 2, ... for each later state of the incident."),
    kind: AnomalyKind,
    severity: Severity,
    node: NodeId,
    interface: z.string().min(1).max(15).describe("Interface the series belongs to."),
    metric: z.string().min(1).max(64).describe("Series name, e.g. rx_bytes_per_s or operstate."),
    observed: z.number().describe("Value that triggered this state."),
    baseline_mean: z.number().describe("Baseline (EWMA) mean when the state was emitted."),
    baseline_stddev: z.number().nonnegative().describe("Baseline (EW) standard deviation."),
    score: z.number().describe("Deviation from the baseline in standard deviations (robust to zero variance)."),
    opened_at: EpochMillis,
    ts: EpochMillis.describe("Time of the telemetry sample behind this state."),
    target: IncidentTarget.optional().describe("The failed element (link, node, neighbour); absent in messages of older analyzers."),
    peer: NodeId.optional().describe("For link incidents: the other end, seen from `node`."),
    onset_at: EpochMillis.optional().describe("Earliest time the fault can have begun (for time-to-detect)."),
    detected_at: EpochMillis.optional().describe("When the analyzer decided this state."),
    evidence: z.array(Evidence).max(32).optional().describe("Observations behind this state, newest last."),
    resolution: z
      .enum(["cleared", "merged", "expired"])
      .optional()
      .describe("Resolved states: cleared (the fault ended), merged (folded into merged_into), expired (no data)."),
    merged_into: z.uuid().optional().describe("The incident this one was folded into, when resolution is merged."),
  })
  .describe("An incident state from the analyzer: opened, updated while it lasts, resolved when it ends.");
/** An anomaly message. */
export type Anomaly = z.infer<typeof Anomaly>;

/** What an action in a plan does. */
export const ActionType = z.enum([
  "notify",
  "reroute",
  "raise_link_cost",
  "quarantine_neighbour",
  "interface_reset",
  "route_replace",
  "release_neighbour",
  "batman_hop_penalty",
  "batman_interface",
  "batman_orig_interval",
  "batman_gw_mode",
  "batman_aggregation",
  "process_restart",
]);
/** An action type. */
export type ActionType = z.infer<typeof ActionType>;

/** One step of a plan. */
export const PlannedAction = z.object({
  type: ActionType,
  params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).describe("Action parameters."),
  reason: z.string().max(512),
});
/** A planned action. */
export type PlannedAction = z.infer<typeof PlannedAction>;

/** Signature algorithms of control-plane messages: ML-DSA-65 alone, or hybrid with Ed25519 (both must verify). */
export const SignatureAlg = z.enum(["ML-DSA-65", "ML-DSA-65+Ed25519"]);
/** A signature algorithm. */
export type SignatureAlg = z.infer<typeof SignatureAlg>;

/** A signature over the canonical encoding (sorted-key JSON) of the message with this object minus `value` fields. */
export const MessageSignature = z
  .object({
    key_id: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,96}$/)
      .describe("Id of the signing key in the x0_keyring KV bucket (`<service>-<fingerprint>`)."),
    alg: SignatureAlg,
    nonce: z
      .string()
      .regex(/^[A-Za-z0-9_-]{22}$/)
      .describe("16 random bytes, base64url: with signed_at, it makes a replayed message detectable."),
    signed_at: EpochMillis.describe("When the message was signed; verifiers accept it only within a time window."),
    value: z.string().max(8192).describe("ML-DSA-65 signature, base64."),
    value_ed25519: z.string().max(128).optional().describe("Ed25519 signature, base64; present (and required) when alg is ML-DSA-65+Ed25519."),
  })
  .describe("Signature of the producing service; see shared/src/crypto/signing.ts.");
/** A message signature. */
export type MessageSignature = z.infer<typeof MessageSignature>;

/** A check the executor makes to observe a plan's effect. */
export const VerifyCheck = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("probe"),
    from: NodeId.describe("Node whose monitor sends the hellos (request x0.probe.<from>)."),
    to: z.ipv4().describe("Address that must answer."),
    port: z.number().int().min(1).max(65535).optional(),
  }),
  z.object({ type: z.literal("steps"), description: z.string().max(256).optional() }).describe("Each actuator's own observation of its step."),
]);
/** A verification check. */
export type VerifyCheck = z.infer<typeof VerifyCheck>;

/** What a plan is expected to change, and how that is observed. */
/** Single points of failure of a mesh, counted (planner: topology analysis). */
export const FragilityCounts = z.object({
  components: z.number().int().nonnegative(),
  bridges: z.number().int().nonnegative(),
  articulation_points: z.number().int().nonnegative(),
  single_point_of_failure_nodes: z.number().int().nonnegative().describe("Nodes one bridge or articulation point would cut off."),
});
/** Fragility counts. */
export type FragilityCounts = z.infer<typeof FragilityCounts>;

/** Whether a repair left the mesh more fragile than before its fault. */
export const PlanFragility = z.object({
  more_fragile: z
    .boolean()
    .describe("The repaired mesh has more bridges, articulation points or cut-off nodes than before the fault, or the moved paths cross one."),
  before: FragilityCounts.describe("The mesh before the fault (the failed element counted as usable)."),
  after: FragilityCounts.describe("The mesh the repair routes on (the failed element left out)."),
  paths_cross: z
    .array(z.string().max(160))
    .max(64)
    .describe("Articulation points and bridges of the repaired mesh that the moved paths cross (each a single point of failure for them)."),
});
/** A plan's fragility note. */
export type PlanFragility = z.infer<typeof PlanFragility>;

export const ExpectedEffect = z.object({
  summary: z.string().max(1024),
  verify: z.array(VerifyCheck).max(32),
  deadline_ms: z.number().int().positive().max(600_000).describe("Verification must succeed within this time after the last step is applied."),
  fragility: PlanFragility.optional().describe("For route repairs: whether the new paths leave the mesh more fragile."),
});
/** An expected effect. */
export type ExpectedEffect = z.infer<typeof ExpectedEffect>;

/** An alternative the planner considered, with the past outcomes it was ranked by. */
export const PlanAlternative = z.object({
  name: z.string().min(1).max(128),
  chosen: z.boolean(),
  score: z.number(),
  attempts: Count,
  success_rate: z.number().min(0).max(1).nullable(),
  median_ttr_ms: z.number().nonnegative().nullable(),
  similar: z
    .object({
      weight: z.number().nonnegative().describe("Sum of the similarities of the past cases counted (how much they weigh against the per-kind stats)."),
      success_rate: z.number().min(0).max(1).describe("Similarity-weighted share of those cases it repaired."),
      incident_ids: z.array(z.uuid()).max(16).describe("The cases used, most similar first (x0.rag.get tells their story)."),
    })
    .optional()
    .describe("What this alternative did on similar past incidents, from the rag, when it answered within the planner's deadline."),
});
/** A plan alternative. */
export type PlanAlternative = z.infer<typeof PlanAlternative>;

/** `x0.plan.<node>`: what the planner decided for one incident state. */
export const Plan = z
  .object({
    v: z.literal(1),
    plan_id: z.uuid(),
    incident_id: z.uuid(),
    node: NodeId,
    kind: AnomalyKind,
    rule: z.string().min(1).max(128).describe("Name of the policy rule that produced the plan."),
    approval: z
      .enum(["auto", "manual", "vote"])
      .describe("auto: the executor may run it; manual: it waits for an operator; vote: it runs only if its proposal passes (governance)."),
    proposal_id: z.uuid().optional().describe("approval vote: the governance proposal (x0_gov) that decides this plan."),
    actions: z.array(PlannedAction).max(256),
    created_at: EpochMillis,
    target: IncidentTarget.optional(),
    anomaly_update: Count.optional().describe("The incident state (update number) this plan answers."),
    evidence: z.array(Evidence).max(32).optional().describe("The incident's evidence the plan was made from."),
    expected_effect: ExpectedEffect.optional(),
    alternatives: z.array(PlanAlternative).max(16).optional(),
    supersedes: z
      .array(z.uuid())
      .max(64)
      .optional()
      .describe("Earlier plans still running whose routes this plan states again: an executor verifying one of them stops and keeps its steps."),
    signature: MessageSignature.optional().describe("The planner's signature; the executor rejects plans without a valid one."),
  })
  .describe("A plan of actions for the node's executor.");
/** A plan message. */
export type Plan = z.infer<typeof Plan>;

/** Outcome of one action step. */
export const StepStatus = z.enum(["would_apply", "applied", "verified", "failed", "rolled_back", "skipped"]);

/** How one node's part of a plan carried out by several node executors ended (pending: it never answered). */
export const ParticipantStatus = z.enum(["pending", "prepared", "applied", "verified", "failed", "rolled_back", "rollback_failed"]);
/** A participant status. */
export type ParticipantStatus = z.infer<typeof ParticipantStatus>;

/** Outcome of a whole plan. `success` is used only when every effect was observed. */
// verified: applied and the expected effect observed; applied: applied, with nothing observable to check (e.g. notify);
// rolled_back: verification failed and the steps were undone; failed: a step or the rollback failed; skipped: detect-only.
// `success` is kept for v1 readers and no longer emitted: `verified` says the same, and says how it is known.
// rejected: a vote plan whose proposal did not pass (or did not hold up on the executor's recount); it never runs.
export const ResultStatus = z.enum(["dry_run", "success", "failed", "rolled_back", "awaiting_approval", "applied", "verified", "skipped", "rejected"]);
/** A result status. */
export type ResultStatus = z.infer<typeof ResultStatus>;

/** `x0.action.<node>`: the executor's honest result for one plan. */
export const ActionResult = z
  .object({
    v: z.literal(1),
    result_id: z.uuid(),
    plan_id: z.uuid(),
    incident_id: z.uuid(),
    node: NodeId,
    status: ResultStatus,
    dry_run: z.boolean(),
    steps: z
      .array(
        z.object({
          type: ActionType,
          params: PlannedAction.shape.params,
          status: StepStatus,
          detail: z.string().max(1024),
          applied_at: EpochMillis.optional().describe("When this step's change was made; absent when it made none."),
        }),
      )
      .max(256),
    started_at: EpochMillis,
    finished_at: EpochMillis,
    applied_at: EpochMillis.optional().describe("When the last step was applied."),
    verified_at: EpochMillis.optional().describe("When the expected effect was observed."),
    verification: z
      .array(z.object({ check: z.string().max(256), ok: z.boolean(), detail: z.string().max(1024), ts: EpochMillis }))
      .max(64)
      .optional()
      .describe("What was observed to verify (or fail to verify) the plan."),
    detail: z.string().max(1024).optional(),
    participants: z
      .array(z.object({ node: NodeId, status: ParticipantStatus, detail: z.string().max(1024) }))
      .max(256)
      .optional()
      .describe("For a plan carried out by several node executors together: how each node's part ended."),
    signature: MessageSignature.optional().describe("The executor's signature over the result."),
  })
  .describe("The result of executing (or, in dry-run, of not executing) one plan.");
/** An action result message. */
export type ActionResult = z.infer<typeof ActionResult>;

/** `x0.dlq.<service>`: a message that failed validation, kept whole with the reason. */
export const DeadLetter = z
  .object({
    v: z.literal(1),
    service: z.string().min(1),
    subject: z.string().min(1).describe("Subject the message arrived on."),
    payload: z.string().describe("The original payload, as UTF-8 text or base64 (see payload_encoding)."),
    payload_encoding: z.enum(["utf8", "base64"]),
    headers: z.record(z.string(), z.array(z.string())).describe("The original NATS headers."),
    error: z.string().describe("Why the message was rejected."),
    received_at: EpochMillis,
  })
  .describe("A message rejected by a service's contract validation.");
/** A dead-letter message. */
export type DeadLetter = z.infer<typeof DeadLetter>;

/** `x0.probe.<node>` request: the node's monitor sends hellos to `to` from inside the node and reports the replies. */
export const ProbeRequest = z.object({
  v: z.literal(1),
  to: z.ipv4(),
  port: z.number().int().min(1).max(65535).optional().describe("Hello port of the target (default: the monitor's probe port)."),
  count: z.number().int().min(1).max(100).default(3),
  interval_ms: z.number().int().min(1).max(1000).default(10),
  timeout_ms: z.number().int().min(1).max(10_000).default(300),
  until_first: z.boolean().default(true).describe("Stop at the first reply."),
});
/** A probe request. */
export type ProbeRequest = z.infer<typeof ProbeRequest>;

/** `x0.probe.<node>` response. */
export const ProbeResponse = z.object({
  v: z.literal(1),
  node: NodeId,
  to: z.ipv4(),
  sent: Count,
  received: Count,
  rtt_ms: z.array(z.number().nonnegative()).max(100),
});
/** A probe response. */
export type ProbeResponse = z.infer<typeof ProbeResponse>;
