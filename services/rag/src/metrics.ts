// Every Prometheus metric of the rag, registered once on the service's registry.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** The rag's metrics on `registry`. */
export function createRagMetrics(registry: Registry) {
  const registers = [registry];
  return {
    cases: new Gauge({ name: "x0_rag_cases", help: "Cases in the index.", registers }),
    openCases: new Gauge({ name: "x0_rag_open_cases", help: "Cases of incidents still open (not yet indexed).", registers }),
    runbookSections: new Gauge({ name: "x0_rag_runbook_sections", help: "Runbook sections in the index.", registers }),
    indexBytes: new Gauge({ name: "x0_rag_index_bytes", help: "Bytes of the case index as last saved.", registers }),
    indexedSeq: new Gauge({ name: "x0_rag_indexed_seq", help: "Last X0_EVENTS sequence read into the cases.", registers }),
    streamSeq: new Gauge({ name: "x0_rag_stream_seq", help: "Last X0_EVENTS sequence in the stream, at the last save.", registers }),
    events: new Counter({
      name: "x0_rag_events_total",
      help: "X0_EVENTS messages read, by outcome (indexed, open, skipped: already read, unmatched: a result of an unknown incident, invalid).",
      labelNames: ["outcome"],
      registers,
    }),
    rebuilds: new Counter({
      name: "x0_rag_rebuilds_total",
      help: "Rebuilds at start, by what they were rebuilt from: stream (the case store did not fit), store (the case index did not).",
      labelNames: ["from"],
      registers,
    }),
    requests: new Counter({
      name: "x0_rag_requests_total",
      help: "Requests, by endpoint and outcome (2xx, 4xx, 5xx).",
      labelNames: ["endpoint", "outcome"],
      registers,
    }),
    requestDuration: new Histogram({
      name: "x0_rag_request_duration_seconds",
      help: "Time to answer a request, by endpoint (search, get, stats).",
      labelNames: ["endpoint"],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    embedDuration: new Histogram({
      name: "x0_rag_embed_duration_seconds",
      help: "Time to embed one batch of texts with the text embedder.",
      labelNames: ["embedder"],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    saveDuration: new Histogram({ name: "x0_rag_save_duration_seconds", help: "Time to save the case index.", buckets: LATENCY_BUCKETS, registers }),
  };
}

/** The rag's metrics. */
export type RagMetrics = ReturnType<typeof createRagMetrics>;
