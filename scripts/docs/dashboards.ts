// Grafana dashboards as code: `bun run docs:dashboards` writes ops/grafana/dashboards/*.json.
import { join } from "node:path";
import { REPO_ROOT } from "@x0/shared/testing";

/** Where the provisioned dashboard files live. */
export const DASHBOARDS_DIR = join(REPO_ROOT, "ops", "grafana", "dashboards");
/** The Prometheus data source uid (ops/grafana/provisioning/datasources). */
export const PROMETHEUS_UID = "x0-prometheus";

type PanelKind = "timeseries" | "stat" | "barchart" | "heatmap";

interface PanelSpec {
  title: string;
  description: string;
  kind: PanelKind;
  /** PromQL queries with their legends. */
  queries: { expr: string; legend: string }[];
  unit?: string;
  /** Width in grid units (24 per row). */
  width?: number;
  stacked?: boolean;
}

/** Lays panels out left to right, 8 units high, wrapping at 24 units. */
function panels(specs: PanelSpec[]): object[] {
  let x = 0;
  let y = 0;
  return specs.map((spec, index) => {
    const w = spec.width ?? 12;
    if (x + w > 24) {
      x = 0;
      y += 8;
    }
    const panel = {
      id: index + 1,
      type: spec.kind,
      title: spec.title,
      description: spec.description,
      gridPos: { x, y, w, h: 8 },
      datasource: { type: "prometheus", uid: PROMETHEUS_UID },
      targets: spec.queries.map((query, i) => ({
        refId: String.fromCharCode(65 + i),
        datasource: { type: "prometheus", uid: PROMETHEUS_UID },
        expr: query.expr,
        legendFormat: query.legend,
        ...(spec.kind === "heatmap" ? { format: "heatmap" } : {}),
      })),
      fieldConfig: {
        defaults: { unit: spec.unit ?? "short", ...(spec.stacked ? { custom: { stacking: { mode: "normal" } } } : {}) },
        overrides: [],
      },
      options: spec.kind === "stat" ? { reduceOptions: { calcs: ["lastNotNull"] }, colorMode: "background" } : {},
    };
    x += w;
    return panel;
  });
}

function dashboard(uid: string, title: string, description: string, specs: PanelSpec[]): object {
  return {
    uid,
    title,
    description,
    tags: ["x0tta6bl4"],
    editable: false,
    schemaVersion: 39,
    version: 1,
    refresh: "10s",
    time: { from: "now-1h", to: "now" },
    templating: { list: [] },
    panels: panels(specs),
  };
}

/**
 * The prometheus-nats-exporter series the dashboards and alerts read (flags -varz -healthz -jsz=all). Names follow its
 * collector: `gnatsd_<endpoint>_<field>` with the endpoint's JSON field (collector/collector.go), `gnatsd_healthz_status`
 * (collector/healthz.go), `jetstream_{server,stream,consumer}_*` (collector/jsz.go). test/ops/grafana.test.ts holds queries to this list.
 */
export const NATS_EXPORTER_METRICS = [
  "gnatsd_healthz_status",
  "gnatsd_varz_connections",
  "gnatsd_varz_in_msgs",
  "gnatsd_varz_out_msgs",
  "gnatsd_varz_slow_consumers",
  "gnatsd_varz_mem",
  "gnatsd_varz_routes",
  "jetstream_server_total_streams",
  "jetstream_server_total_consumers",
  "jetstream_stream_total_messages",
  "jetstream_stream_total_bytes",
  "jetstream_consumer_num_pending",
  "jetstream_consumer_num_ack_pending",
  "jetstream_consumer_num_redelivered",
] as const;

const quantile = (q: number, metric: string, by: string) => `histogram_quantile(${q}, sum by (le, ${by}) (rate(${metric}_bucket[5m])))`;

/** Every dashboard, by file name. */
export function buildDashboards(): Record<string, object> {
  return {
    "mesh.json": dashboard("x0-mesh", "x0tta6bl4 / Mesh", "Nodes, incidents and how fast the loop detects and repairs them.", [
      {
        title: "Nodes reporting",
        description: "Monitors that published telemetry in the last minute.",
        kind: "stat",
        width: 6,
        queries: [{ expr: "count(rate(x0_monitor_samples_total[1m]) > 0)", legend: "nodes" }],
      },
      {
        title: "Open incidents",
        description: "Incidents opened and not yet resolved.",
        kind: "stat",
        width: 6,
        queries: [{ expr: "sum(x0_analyzer_open_incidents)", legend: "open" }],
      },
      {
        title: "Single points of failure",
        description:
          "The planner's topology analysis on the links usable now: bridges (links), articulation points (nodes), the nodes one of them would cut off, and the fewest link-disjoint paths between two nodes.",
        kind: "timeseries",
        queries: [
          { expr: "max by (kind) (x0_topology_single_points_of_failure)", legend: "{{kind}}" },
          { expr: "max(x0_topology_edge_connectivity)", legend: "edge connectivity" },
          { expr: "max(x0_topology_components)", legend: "parts" },
        ],
      },
      {
        title: "Links (neighbours with traffic)",
        description: "Neighbours each node received frames from in the last minute (XDP counters), by node and interface.",
        kind: "timeseries",
        queries: [{ expr: "count by (instance, interface) (rate(x0_monitor_neighbour_packets_total[1m]) > 0)", legend: "{{instance}} {{interface}}" }],
      },
      {
        title: "Hello loss by link",
        description: "Hello loss over the probe window per probed peer: a heatmap row per link, darker is lossier.",
        kind: "heatmap",
        unit: "percentunit",
        queries: [{ expr: "max by (instance, peer) (x0_monitor_probe_loss_ratio)", legend: "{{instance}} → {{peer}}" }],
      },
      {
        title: "Hello RTT by link",
        description: "Latest hello round-trip time per probed peer.",
        kind: "heatmap",
        unit: "s",
        queries: [{ expr: "max by (instance, peer) (x0_monitor_probe_rtt_seconds)", legend: "{{instance}} → {{peer}}" }],
      },
      {
        title: "Drops on the data path",
        description: "Frames dropped by XDP (deny = quarantine, fault = injected loss) and skb drops by kernel reason.",
        kind: "timeseries",
        unit: "pps",
        queries: [
          { expr: "sum by (interface, cause) (rate(x0_monitor_xdp_dropped_packets_total[1m]))", legend: "xdp {{interface}} {{cause}}" },
          { expr: "topk(5, sum by (reason) (rate(x0_monitor_kernel_drops_total[1m])))", legend: "kernel {{reason}}" },
        ],
      },
      {
        title: "Incident timeline",
        description: "Incident states published per minute, by kind and state.",
        kind: "timeseries",
        stacked: true,
        queries: [{ expr: "sum by (kind, state) (increase(x0_anomalies_total[1m]))", legend: "{{kind}} {{state}}" }],
      },
      {
        title: "Time to detect (p50, p90)",
        description: "From the sampling interval in which a fault appeared to its incident being published.",
        kind: "timeseries",
        unit: "s",
        queries: [
          { expr: quantile(0.5, "x0_mttd_seconds", "kind"), legend: "p50 {{kind}}" },
          { expr: quantile(0.9, "x0_mttd_seconds", "kind"), legend: "p90 {{kind}}" },
        ],
      },
      {
        title: "Time to repair (p50, p90)",
        description: "From an incident being opened to it being resolved. Alert X0MttrAboveTarget fires above 30 s at p90.",
        kind: "timeseries",
        unit: "s",
        queries: [
          { expr: quantile(0.5, "x0_mttr_seconds", "kind"), legend: "p50 {{kind}}" },
          { expr: quantile(0.9, "x0_mttr_seconds", "kind"), legend: "p90 {{kind}}" },
        ],
      },
      {
        title: "Time to repair distribution",
        description: "How long incidents took to resolve, as a heatmap over time.",
        kind: "heatmap",
        queries: [{ expr: "sum by (le) (increase(x0_mttr_seconds_bucket[5m]))", legend: "{{le}}" }],
      },
      {
        title: "Plans",
        description: "Plans per 5 minutes, by policy rule and approval.",
        kind: "timeseries",
        stacked: true,
        queries: [{ expr: "sum by (rule, approval) (increase(x0_plans_total[5m]))", legend: "{{rule}} ({{approval}})" }],
      },
      {
        title: "Plan results",
        description: "Executor results per 5 minutes by status; dry_run means nothing was changed.",
        kind: "timeseries",
        stacked: true,
        queries: [{ expr: "sum by (status) (increase(x0_actions_total[5m]))", legend: "{{status}}" }],
      },
      {
        title: "Open proposals",
        description: "Governance proposals waiting for members' votes or their deadline (plans whose approval is vote, member and policy changes).",
        kind: "stat",
        width: 6,
        queries: [{ expr: "max(x0_gov_proposals_open)", legend: "open" }],
      },
      {
        title: "Governance",
        description: "Proposals closed per 5 minutes by kind and result, and votes by outcome (refused votes are dead-lettered with the reason).",
        kind: "timeseries",
        width: 18,
        queries: [
          { expr: "sum by (kind, result) (increase(x0_gov_proposals_closed_total[5m]))", legend: "{{kind}} {{result}}" },
          { expr: "sum by (outcome) (increase(x0_gov_votes_total[5m]))", legend: "votes {{outcome}}" },
        ],
      },
    ]),
    "crypto.json": dashboard("x0-crypto", "x0tta6bl4 / Crypto", "The key authority and the signed control plane.", [
      {
        title: "Backend",
        description: "The post-quantum backend each crypto instance uses (liboqs when present, else Bun's native one).",
        kind: "stat",
        width: 8,
        queries: [{ expr: "max by (instance, backend, version) (x0_crypto_backend_info)", legend: "{{instance}}: {{backend}} {{version}}" }],
      },
      {
        title: "Plan rejections",
        description: "Plans the executors refused (unsigned, forged, replayed, stale, unknown or revoked keys), by reason.",
        kind: "timeseries",
        width: 16,
        queries: [{ expr: "sum by (reason) (increase(x0_plan_rejections_total[5m]))", legend: "{{reason}}" }],
      },
      {
        title: "Requests",
        description: "Crypto API requests per second, by endpoint.",
        kind: "timeseries",
        unit: "reqps",
        queries: [{ expr: "sum by (endpoint) (rate(x0_crypto_requests_total[1m]))", legend: "{{endpoint}}" }],
      },
      {
        title: "Errors",
        description: "Requests answered with an error (4xx: bad input, 5xx: the service), per second.",
        kind: "timeseries",
        unit: "reqps",
        queries: [{ expr: 'sum by (endpoint, outcome) (rate(x0_crypto_requests_total{outcome!="2xx"}[5m]))', legend: "{{endpoint}} {{outcome}}" }],
      },
    ]),
    "rag.json": dashboard("x0-rag", "x0tta6bl4 / Rag", "The incident memory: its index, its searches and the planner's use of it.", [
      {
        title: "Cases",
        description: "Cases in the index, and those of incidents still open.",
        kind: "stat",
        width: 8,
        queries: [
          { expr: "max(x0_rag_cases)", legend: "indexed" },
          { expr: "max(x0_rag_open_cases)", legend: "open" },
        ],
      },
      {
        title: "Index lag",
        description: "X0_EVENTS events not yet read into the cases. Alert X0RagIndexLagging fires above 100 for 5 minutes.",
        kind: "timeseries",
        width: 16,
        queries: [{ expr: "max(x0_rag_stream_seq) - max(x0_rag_indexed_seq)", legend: "events behind" }],
      },
      {
        title: "Search latency",
        description: "Time to answer x0.rag.search in the service (p50 and p99); the planner waits at most its deadline (20 ms).",
        kind: "timeseries",
        unit: "s",
        queries: [
          { expr: 'histogram_quantile(0.5, sum by (le) (rate(x0_rag_request_duration_seconds_bucket{endpoint="search"}[5m])))', legend: "p50" },
          { expr: 'histogram_quantile(0.99, sum by (le) (rate(x0_rag_request_duration_seconds_bucket{endpoint="search"}[5m])))', legend: "p99" },
        ],
      },
      {
        title: "Embedding latency p99",
        description: "99th percentile time to embed one batch of texts, by text embedder.",
        kind: "timeseries",
        unit: "s",
        queries: [{ expr: "histogram_quantile(0.99, sum by (le, embedder) (rate(x0_rag_embed_duration_seconds_bucket[5m])))", legend: "{{embedder}}" }],
      },
      {
        title: "Planner fallbacks",
        description: "Rankings the planner made without the rag (timeout, no responders, error) per 5 minutes.",
        kind: "timeseries",
        queries: [{ expr: "sum by (reason) (increase(x0_planner_rag_fallbacks_total[5m]))", legend: "{{reason}}" }],
      },
      {
        title: "Requests and errors",
        description: "Requests per second by endpoint and outcome (4xx: bad request, dead-lettered; 5xx: the service).",
        kind: "timeseries",
        unit: "reqps",
        queries: [{ expr: "sum by (endpoint, outcome) (rate(x0_rag_requests_total[1m]))", legend: "{{endpoint}} {{outcome}}" }],
      },
    ]),
    "swarm.json": dashboard("x0-swarm", "x0tta6bl4 / Swarm", "Federated learning of the link-health model, and the analyzer's use of it.", [
      {
        title: "Adopted model",
        description: "The adopted link-health model version and its macro F1 on the coordinator's held-out set.",
        kind: "stat",
        width: 8,
        queries: [
          { expr: "max(x0_swarm_model_version)", legend: "version" },
          { expr: "max(x0_swarm_model_macro_f1)", legend: "held-out macro F1" },
        ],
      },
      {
        title: "Rounds",
        description: "Rounds closed per 15 minutes: adopted, rejected by the held-out guard, unpublished (too few participants), failed.",
        kind: "timeseries",
        width: 16,
        stacked: true,
        queries: [{ expr: "sum by (outcome) (increase(x0_swarm_rounds_total[15m]))", legend: "{{outcome}}" }],
      },
      {
        title: "Round duration",
        description: "From a round's announcement to its version written (p50 and p99).",
        kind: "timeseries",
        unit: "s",
        queries: [
          { expr: "histogram_quantile(0.5, sum by (le) (rate(x0_swarm_round_duration_seconds_bucket[30m])))", legend: "p50" },
          { expr: "histogram_quantile(0.99, sum by (le) (rate(x0_swarm_round_duration_seconds_bucket[30m])))", legend: "p99" },
        ],
      },
      {
        title: "Participants and refused updates",
        description: "Accepted updates in the last round, and updates refused per 15 minutes by reason (dead-lettered on x0.dlq.swarm).",
        kind: "timeseries",
        queries: [
          { expr: "max(x0_swarm_round_participants)", legend: "participants" },
          { expr: 'sum by (outcome) (increase(x0_swarm_updates_total{outcome!="accepted"}[15m]))', legend: "refused: {{outcome}}" },
        ],
      },
      {
        title: "Privacy budget",
        description: "ε spent by the differentially private rounds released so far (at X0_SWARM_DP_DELTA), and rounds not opened because the budget is spent.",
        kind: "timeseries",
        queries: [
          { expr: "max(x0_swarm_privacy_epsilon)", legend: "ε spent" },
          { expr: 'sum(increase(x0_swarm_rounds_total{outcome="budget"}[15m]))', legend: "rounds refused (budget)" },
        ],
      },
      {
        title: "Model against the hand-set detectors",
        description: "The analyzer's model verdicts per second beside the hand-set detectors' on the same pair: off the diagonal is disagreement.",
        kind: "timeseries",
        queries: [{ expr: "sum by (model, detectors) (rate(x0_analyzer_model_verdicts_total[5m]))", legend: "model {{model}} / detectors {{detectors}}" }],
      },
      {
        title: "Analyzer's model",
        description: "The version the analyzer loaded (-1: none), and versions it refused because their signature did not verify.",
        kind: "timeseries",
        queries: [
          { expr: "max(x0_analyzer_model_version)", legend: "loaded version" },
          { expr: 'sum by (kind) (increase(x0_analyzer_model_loads_total{outcome="refused"}[15m]))', legend: "refused {{kind}}" },
        ],
      },
      {
        title: "Site adapters",
        description:
          "Per site: the adapter the analyzer applies (-1: none, or one of another model version), and the site's held-out macro F1 of the base alone and of base + adapter.",
        kind: "timeseries",
        queries: [
          { expr: "max by (site) (x0_analyzer_site_adapter_version)", legend: "applied {{site}}" },
          { expr: "max by (model) (x0_swarm_adapter_macro_f1)", legend: "site macro F1 ({{model}})" },
        ],
      },
      {
        title: "Adapter rounds",
        description: "Site adapter rounds closed per 15 minutes by outcome, and members' updates refused (dead-lettered on x0.dlq.swarm).",
        kind: "timeseries",
        queries: [
          { expr: "sum by (outcome) (increase(x0_swarm_adapter_rounds_total[15m]))", legend: "{{outcome}}" },
          { expr: 'sum by (outcome) (increase(x0_swarm_adapter_updates_total{outcome!="accepted"}[15m]))', legend: "refused: {{outcome}}" },
        ],
      },
    ]),
    "services.json": dashboard("x0-services", "x0tta6bl4 / Services", "Readiness, throughput, errors and dead letters of every service.", [
      {
        title: "Ready",
        description: "1 when NATS is connected and every subscription is live.",
        kind: "stat",
        width: 24,
        queries: [{ expr: "min by (service) (x0_ready)", legend: "{{service}}" }],
      },
      {
        title: "Messages received",
        description: "Valid messages received per second, by service and subject template.",
        kind: "timeseries",
        unit: "reqps",
        queries: [{ expr: "sum by (service, subject) (rate(x0_messages_received_total[1m]))", legend: "{{service}} {{subject}}" }],
      },
      {
        title: "Messages published",
        description: "Messages published per second, by service and subject template.",
        kind: "timeseries",
        unit: "reqps",
        queries: [{ expr: "sum by (service, subject) (rate(x0_messages_published_total[1m]))", legend: "{{service}} {{subject}}" }],
      },
      {
        title: "Dead letters",
        description: "Invalid messages sent to x0.dlq.<service> per 5 minutes. Alert X0DeadLettersRising fires when they keep coming.",
        kind: "timeseries",
        queries: [{ expr: "sum by (service, subject) (increase(x0_dlq_messages_total[5m]))", legend: "{{service}} {{subject}}" }],
      },
      {
        title: "Handler errors",
        description: "Valid messages whose handler failed (retried by JetStream), per second.",
        kind: "timeseries",
        unit: "reqps",
        queries: [{ expr: "sum by (service, subject) (rate(x0_handler_errors_total[5m]))", legend: "{{service}} {{subject}}" }],
      },
      {
        title: "Handler latency p99",
        description: "99th percentile time to handle one message.",
        kind: "timeseries",
        unit: "s",
        queries: [{ expr: quantile(0.99, "x0_handler_duration_seconds", "service, subject"), legend: "{{service}} {{subject}}" }],
      },
      // The default process metrics have their standard names; `service` keeps the NATS exporter's own process_* out.
      {
        title: "CPU",
        description: "CPU time per second used by each service process.",
        kind: "timeseries",
        unit: "percentunit",
        queries: [{ expr: 'sum by (service) (rate(process_cpu_seconds_total{service!=""}[1m]))', legend: "{{service}}" }],
      },
      {
        title: "Memory",
        description: "Resident memory of each service process.",
        kind: "timeseries",
        unit: "bytes",
        queries: [{ expr: 'sum by (service) (process_resident_memory_bytes{service!=""})', legend: "{{service}}" }],
      },
      {
        title: "Event loop lag p99",
        description: "99th percentile event loop delay of each service process (sampled every 100 ms): a busy or blocked loop delays every message.",
        kind: "timeseries",
        width: 24,
        unit: "s",
        queries: [{ expr: 'max by (service) (nodejs_eventloop_lag_p99_seconds{service!=""})', legend: "{{service}}" }],
      },
    ]),
    // server_id is the monitoring URL the exporter reads (the server's name with -use_internal_server_name); grouping by
    // instance too keeps servers apart where each has its own exporter reading 127.0.0.1:8222 (the k8s sidecars).
    "nats.json": dashboard(
      "x0-nats",
      "x0tta6bl4 / NATS",
      "The NATS cluster and its JetStream streams and consumers, from prometheus-nats-exporter (job nats).",
      [
        {
          title: "Server health",
          description: "Each server's /healthz (0: ok, 1: not ok, e.g. JetStream not current). Alert X0NatsServerUnhealthy fires after 2 minutes at 1.",
          kind: "stat",
          width: 8,
          queries: [{ expr: "max by (instance, server_id) (gnatsd_healthz_status)", legend: "{{server_id}}" }],
        },
        {
          title: "Connections",
          description: "Client connections to each server.",
          kind: "timeseries",
          width: 16,
          queries: [{ expr: "sum by (instance, server_id) (gnatsd_varz_connections)", legend: "{{server_id}}" }],
        },
        {
          title: "Messages in and out",
          description: "Messages received from and delivered to clients per second, by server.",
          kind: "timeseries",
          unit: "reqps",
          queries: [
            { expr: "sum by (instance, server_id) (rate(gnatsd_varz_in_msgs[1m]))", legend: "in {{server_id}}" },
            { expr: "sum by (instance, server_id) (rate(gnatsd_varz_out_msgs[1m]))", legend: "out {{server_id}}" },
          ],
        },
        {
          title: "Slow consumers",
          description: "Clients the server cut off because they did not read fast enough, per 5 minutes. Alert X0NatsSlowConsumers fires on any.",
          kind: "timeseries",
          queries: [{ expr: "sum by (instance, server_id) (increase(gnatsd_varz_slow_consumers[5m]))", legend: "{{server_id}}" }],
        },
        {
          title: "Memory",
          description: "Resident memory of each nats-server.",
          kind: "timeseries",
          unit: "bytes",
          queries: [{ expr: "sum by (instance, server_id) (gnatsd_varz_mem)", legend: "{{server_id}}" }],
        },
        {
          title: "Routes",
          description: "Cluster routes of each server (2 each in a healthy 3-server cluster).",
          kind: "timeseries",
          queries: [{ expr: "sum by (instance, server_id) (gnatsd_varz_routes)", legend: "{{server_id}}" }],
        },
        {
          title: "JetStream streams and consumers",
          description: "Streams and consumers each server holds (replicas included).",
          kind: "stat",
          width: 8,
          queries: [
            { expr: "max(jetstream_server_total_streams)", legend: "streams" },
            { expr: "max(jetstream_server_total_consumers)", legend: "consumers" },
          ],
        },
        {
          title: "Stream messages",
          description: "Messages stored per stream (X0_EVENTS, X0_DLQ, the KV buckets), the largest replica's count.",
          kind: "timeseries",
          width: 16,
          queries: [{ expr: "max by (stream_name) (jetstream_stream_total_messages)", legend: "{{stream_name}}" }],
        },
        {
          title: "Stream bytes",
          description: "Bytes stored per stream; X0_EVENTS_MAX_BYTES caps X0_EVENTS and X0_DLQ.",
          kind: "timeseries",
          unit: "bytes",
          queries: [{ expr: "max by (stream_name) (jetstream_stream_total_bytes)", legend: "{{stream_name}}" }],
        },
        {
          title: "Consumer backlog",
          description: "Messages a durable consumer has not been delivered yet (the planner, each executor), and those delivered but not acknowledged.",
          kind: "timeseries",
          queries: [
            { expr: "max by (stream_name, consumer_name) (jetstream_consumer_num_pending)", legend: "pending {{stream_name}}/{{consumer_name}}" },
            { expr: "max by (stream_name, consumer_name) (jetstream_consumer_num_ack_pending)", legend: "unacked {{stream_name}}/{{consumer_name}}" },
          ],
        },
        {
          title: "Redelivered",
          description: "Messages a consumer got more than once and has not acknowledged yet (a handler that failed or timed out).",
          kind: "timeseries",
          width: 24,
          queries: [{ expr: "max by (stream_name, consumer_name) (jetstream_consumer_num_redelivered)", legend: "{{stream_name}}/{{consumer_name}}" }],
        },
      ],
    ),
  };
}

if (import.meta.main) {
  for (const [file, content] of Object.entries(buildDashboards())) {
    await Bun.write(join(DASHBOARDS_DIR, file), `${JSON.stringify(content, null, 2)}\n`);
  }
  process.stdout.write(`wrote ${Object.keys(buildDashboards()).join(", ")} in ${DASHBOARDS_DIR}\n`);
}
