// The analyzer's Prometheus metrics: incident states published, time to detect, time to repair, incidents open.
import type { Anomaly } from "@x0/shared";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Buckets from 10 ms (eBPF-speed detection) to 10 min (slow repairs). */
const TIME_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** The analyzer's own metrics. */
export interface AnalyzerMetrics {
  /** Counts one published incident state, with its time to detect (opened) or to repair (resolved, unless merged); `now` is the analyzer's clock. */
  published(anomaly: Anomaly, now: number): void;
  /** Counts one model verdict on a pair beside the hand-set detectors' verdict at the same sample. */
  modelVerdict(modelClass: string, detectors: string): void;
  /** Counts one model or adapter version seen in x0_models, loaded or refused; sets the loaded version and the applied adapters. */
  modelLoad(outcome: "loaded" | "refused", kind: "model" | "adapter", version: number | undefined, adapters: Record<string, number | undefined>): void;
}

/** Registers the analyzer's metrics in `registry`; `openIncidents` is read at each scrape. */
export function createAnalyzerMetrics(registry: Registry, openIncidents: () => number): AnalyzerMetrics {
  const anomaliesTotal = new Counter({
    name: "x0_anomalies_total",
    help: "Incident states published, by kind and state.",
    labelNames: ["kind", "state"],
    registers: [registry],
  });
  const byKind = (name: string, help: string) => new Histogram({ name, help, labelNames: ["kind"], buckets: TIME_BUCKETS, registers: [registry] });
  const mttd = byKind(
    "x0_mttd_seconds",
    "Time to detect: from the start of the sampling interval in which a fault appeared (for silence: the last sample heard) to its incident being published; an upper bound.",
  );
  const mttr = byKind("x0_mttr_seconds", "Time to repair: from an incident being opened to it being resolved.");
  new Gauge({
    name: "x0_analyzer_open_incidents",
    help: "Incidents open now.",
    registers: [registry],
    collect() {
      this.set(openIncidents());
    },
  });
  const modelVerdicts = new Counter({
    name: "x0_analyzer_model_verdicts_total",
    help: "The link-health model's verdict on each probe-pair sample (healthy, degraded, down) beside the hand-set detectors' (ok, degraded, down): a live confusion matrix.",
    labelNames: ["model", "detectors"],
    registers: [registry],
  });
  const modelLoads = new Counter({
    name: "x0_analyzer_model_loads_total",
    help: "Model and site adapter versions seen in x0_models, by kind (model, adapter): loaded (signature verified) or refused.",
    labelNames: ["outcome", "kind"],
    registers: [registry],
  });
  const modelVersion = new Gauge({ name: "x0_analyzer_model_version", help: "The loaded link-health model version (-1: none).", registers: [registry] });
  modelVersion.set(-1);
  const adapterVersion = new Gauge({
    name: "x0_analyzer_site_adapter_version",
    help: "The adapter version applied to a site's nodes (-1: none, or it adapts another model version than the loaded one).",
    labelNames: ["site"],
    registers: [registry],
  });
  return {
    modelVerdict(model, detectors) {
      modelVerdicts.inc({ model, detectors });
    },
    modelLoad(outcome, kind, version, adapters) {
      modelLoads.inc({ outcome, kind });
      if (version !== undefined) modelVersion.set(version);
      for (const [site, applied] of Object.entries(adapters)) adapterVersion.set({ site }, applied ?? -1);
    },
    published(anomaly, now) {
      anomaliesTotal.inc({ kind: anomaly.kind, state: anomaly.state });
      if (anomaly.state === "opened" && anomaly.onset_at !== undefined) mttd.observe({ kind: anomaly.kind }, Math.max(0, now - anomaly.onset_at) / 1000);
      // A merged incident was not repaired: it lives on in the incident it was folded into.
      if (anomaly.state === "resolved" && anomaly.resolution !== "merged") {
        mttr.observe({ kind: anomaly.kind }, Math.max(0, (anomaly.detected_at ?? anomaly.ts) - anomaly.opened_at) / 1000);
      }
    },
  };
}
