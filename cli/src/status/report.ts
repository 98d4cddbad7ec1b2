import { renderTable } from "../table.ts";
import type { ServiceProbe } from "./probe.ts";
import type { FoundBy, Target } from "./targets.ts";

/** The counters of the MAPE-K loop that `x0 status` shows and totals. */
export const LOOP_COUNTERS = ["anomalies", "plans", "actions", "dlq"] as const;
/** A loop counter name. */
export type LoopCounter = (typeof LOOP_COUNTERS)[number];

/** One service in the status report. */
export interface ServiceReport {
  name: string;
  url: string;
  /** How it was found: --url, the stack file, NATS service discovery or its default port. */
  found_by: FoundBy;
  state: "ready" | "not ready" | "down";
  version: string | null;
  node: string | null;
  nats_connected: boolean | null;
  /** Every counter the service reports (loop counters and its own). */
  counters: Record<string, number>;
  error: string | null;
}

/** What `x0 status` reports. */
export interface StatusReport {
  services: ServiceReport[];
  /** Loop counters summed over the services that report them. */
  totals: Record<LoopCounter, number>;
  all_ready: boolean;
}

/** Builds the report from what each target answered (probes in the order of targets). */
export function buildStatusReport(targets: readonly Target[], probes: readonly ServiceProbe[]): StatusReport {
  const services = targets.map((target, index): ServiceReport => {
    const probe = probes[index];
    const status = probe?.status;
    return {
      name: status?.service ?? target.name ?? target.url,
      url: target.url,
      found_by: target.found_by,
      state: !probe?.reachable ? "down" : probe.ready ? "ready" : "not ready",
      version: status?.version ?? null,
      node: status?.node ?? null,
      nats_connected: status?.nats.connected ?? null,
      counters: status?.counters ?? {},
      error: probe?.error ?? null,
    };
  });
  const totals = Object.fromEntries(
    LOOP_COUNTERS.map((counter) => [counter, services.reduce((sum, service) => sum + (service.counters[counter] ?? 0), 0)]),
  ) as Record<LoopCounter, number>;
  return { services, totals, all_ready: services.length > 0 && services.every((service) => service.state === "ready") };
}

const STATE_LABELS: Record<ServiceReport["state"], string> = { ready: "yes", "not ready": "no", down: "down" };

/** Renders the report as a table, a loop totals line and one line per problem. */
export function renderStatusReport(report: StatusReport): string {
  if (report.services.length === 0) return "no services to ask (the stack file lists none)";
  const yesNo = (value: boolean | null) => (value === null ? "-" : value ? "yes" : "no");
  const table = renderTable(
    [
      { header: "SERVICE" },
      { header: "READY" },
      { header: "VERSION" },
      { header: "NODE" },
      { header: "NATS" },
      ...LOOP_COUNTERS.map((counter) => ({ header: counter.toUpperCase(), align: "right" as const })),
    ],
    report.services.map((service) => [
      service.name,
      STATE_LABELS[service.state],
      service.version ?? "-",
      service.node ?? "-",
      yesNo(service.nats_connected),
      ...LOOP_COUNTERS.map((counter) => String(service.counters[counter] ?? "-")),
    ]),
  );
  const totals = `loop totals: ${LOOP_COUNTERS.map((counter) => `${counter} ${report.totals[counter]}`).join(", ")}`;
  const problems = report.services.filter((service) => service.error !== null).map((service) => `${service.name} (${service.url}): ${service.error}`);
  return [table, "", totals, ...problems].join("\n");
}
