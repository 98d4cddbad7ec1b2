import type { ServiceProbe } from "../status/probe.ts";
import { renderTable } from "../table.ts";

/** A started service as the startup table shows it. */
export interface StartedService {
  name: string;
  pid: number | null;
  port: number;
  probe: ServiceProbe;
}

/** Renders the table `up` prints once the services are ready (or timed out). */
export function renderStartupTable(services: readonly StartedService[]): string {
  return renderTable(
    [
      { header: "SERVICE" },
      { header: "PID", align: "right" },
      { header: "PORT", align: "right" },
      { header: "READY" },
      { header: "VERSION" },
      { header: "NODE" },
    ],
    services.map(({ name, pid, port, probe }) => [
      name,
      pid === null ? "-" : String(pid),
      String(port),
      !probe.reachable ? "down" : probe.ready ? "yes" : "no",
      probe.status?.version ?? "-",
      probe.status?.node ?? "-",
    ]),
  );
}

/** The line under the startup table: how many services are ready and how to stop. */
export function startupVerdict(services: readonly StartedService[], natsUrl: string): string {
  const notReady = services.filter(({ probe }) => !probe.ready).map(({ name }) => name);
  const ready = services.length - notReady.length;
  const head = `${ready}/${services.length} services ready, NATS at ${natsUrl}.`;
  return notReady.length === 0 ? `${head} Ctrl-C stops the stack.` : `${head} Not ready: ${notReady.join(", ")}. Ctrl-C stops the stack.`;
}
