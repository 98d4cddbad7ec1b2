// How `x0 lab status` prints a lab: a header line, the nodes, the links and the faults in effect.
import type { LabStatus } from "@x0/lab";
import { renderTable } from "../table.ts";

/** Renders a lab status for a terminal. */
export function renderLabStatus(status: LabStatus): string {
  const owner = `${status.owner === "up" ? "bun run up" : "x0 lab up"} (pid ${status.owner_pid}${status.owner_alive ? "" : ", not running"})`;
  const header = `lab ${status.prefix}: ${status.topology}, management ${status.mgmt_subnet}, NATS ${status.nats ?? "none (no monitors)"}, started by ${owner}`;
  const nodes = renderTable(
    [
      { header: "NODE" },
      { header: "NETNS" },
      { header: "SERVICE" },
      { header: "MGMT" },
      { header: "MONITOR", align: "right" },
      { header: "HEALTH" },
      { header: "EXECUTOR", align: "right" },
      { header: "READY" },
    ],
    status.nodes.map((node) => [
      node.node,
      node.netns,
      node.service_address,
      node.mgmt_address,
      node.monitor_pid === null ? "-" : String(node.monitor_pid),
      node.monitor_pid === null ? "-" : !node.monitor_alive ? "gone" : node.monitor_healthy ? "healthy" : "not answering",
      node.executor_pid === null ? "-" : String(node.executor_pid),
      node.executor_pid === null ? "-" : !node.executor_alive ? "gone" : node.executor_ready ? "ready" : "not ready",
    ]),
  );
  const links = renderTable(
    [{ header: "LINK" }, { header: "A" }, { header: "STATE" }, { header: "B" }, { header: "STATE" }],
    status.links.map((link) => [link.link, `${link.a} ${link.a_address}`, link.a_state, `${link.b} ${link.b_address}`, link.b_state]),
  );
  const faults =
    status.faults.length === 0
      ? "faults: none in the XDP fault maps"
      : `faults:\n${status.faults.map((f) => `  ${f.interface} on ${f.node} drops ${formatPercent(f.probability)} of frames from ${f.from}`).join("\n")}`;
  const down = status.links.flatMap((link) => [link.a_state === "down" ? link.a : [], link.b_state === "down" ? link.b : []].flat());
  const adminDown = down.length === 0 ? "" : `\nlinks set down: ${down.join(", ")}`;
  return `${header}\n\n${nodes}\n\n${links}\n\n${faults}${adminDown}`;
}

/** A probability as a percentage with at most one decimal. */
export function formatPercent(probability: number): string {
  return `${Number((probability * 100).toFixed(1))}%`;
}
