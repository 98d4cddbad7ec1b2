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

/** One interface's state and counters at sampling time. */
export const InterfaceSample = z.object({
  name: z.string().min(1).max(15).describe("Interface name (IFNAMSIZ - 1 characters at most)."),
  operstate: OperState,
  counters: InterfaceCounters,
});
/** An interface sample. */
export type InterfaceSample = z.infer<typeof InterfaceSample>;

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
  })
  .describe("Interface counters of one node, published every interval by the monitor.");
/** A telemetry message. */
export type Telemetry = z.infer<typeof Telemetry>;

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
  })
  .describe("An incident state from the analyzer: opened, updated while it lasts, resolved when it ends.");
/** An anomaly message. */
export type Anomaly = z.infer<typeof Anomaly>;

/** What an action in a plan does. */
export const ActionType = z.enum(["notify", "reroute", "raise_link_cost", "quarantine_neighbour", "interface_reset"]);
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

/** `x0.plan.<node>`: what the planner decided for one incident state. */
export const Plan = z
  .object({
    v: z.literal(1),
    plan_id: z.uuid(),
    incident_id: z.uuid(),
    node: NodeId,
    kind: AnomalyKind,
    rule: z.string().min(1).max(128).describe("Name of the policy rule that produced the plan."),
    approval: z.enum(["auto", "manual"]).describe("auto: the executor may run it; manual: it waits for approval."),
    actions: z.array(PlannedAction).max(64),
    created_at: EpochMillis,
  })
  .describe("A plan of actions for the node's executor.");
/** A plan message. */
export type Plan = z.infer<typeof Plan>;

/** Outcome of one action step. */
export const StepStatus = z.enum(["would_apply", "applied", "verified", "failed", "rolled_back", "skipped"]);

/** Outcome of a whole plan. `success` is used only when every effect was observed. */
export const ResultStatus = z.enum(["dry_run", "success", "failed", "rolled_back", "awaiting_approval"]);
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
        }),
      )
      .max(64),
    started_at: EpochMillis,
    finished_at: EpochMillis,
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
