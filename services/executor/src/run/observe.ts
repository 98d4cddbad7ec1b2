// How the runner observes the data plane over the bus: the next telemetry sample of a node, and hello probes that a
// node's monitor sends from inside the node.
import { type Bus, contracts, probeEndpoint, type Telemetry } from "@x0/shared";
import { observed } from "../actuators/types.ts";
import type { ProbeFn } from "./runner.ts";

/** The next telemetry sample of `node` within `timeoutMs` (undefined when none came), through a subscription held only while waiting. */
export function nextTelemetryOver(bus: Bus): (node: string, timeoutMs: number) => Promise<Telemetry | undefined> {
  return (node, timeoutMs) =>
    new Promise<Telemetry | undefined>((resolve) => {
      const live = bus.subscribe(contracts.telemetry, (sample) => finish(sample), { token: node });
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      const finish = (sample: Telemetry | undefined) => {
        clearTimeout(timer);
        void live.stop();
        resolve(sample);
      };
    });
}

/** A probe check asked of the `from` node's monitor: hellos until the first answer, one request bounded by what is left of the deadline. */
export function probeOver(bus: Bus): ProbeFn {
  return async (check, remainingMs) => {
    const timeoutMs = Math.max(1, Math.min(300, remainingMs - 50));
    const response = await bus.request(
      probeEndpoint(check.from),
      { v: 1, to: check.to, port: check.port, count: 3, interval_ms: 10, timeout_ms: timeoutMs, until_first: true },
      { timeoutMs: Math.max(100, Math.min(remainingMs, timeoutMs + 30 + 500)) },
    );
    const rtt = response.rtt_ms[0];
    return observed(
      response.received > 0,
      `${response.received}/${response.sent} hellos from ${check.from} answered by ${check.to}${rtt === undefined ? "" : `, rtt ${rtt.toFixed(2)} ms`}`,
    );
  };
}
