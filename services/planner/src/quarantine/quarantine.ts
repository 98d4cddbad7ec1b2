// Quarantine: a neighbour's traffic spike becomes one quarantine_neighbour step (an XDP deny entry); release is manual.
import type { Anomaly } from "@x0/shared";
import type { Proposal } from "../emit/emit.ts";

/** The quarantine of the neighbour a traffic_spike names, or undefined when its target names no neighbour on an interface. */
export function quarantineProposal(anomaly: Anomaly, deadlineMs: number): Proposal | undefined {
  const target = anomaly.target;
  const iface = target?.interfaces?.[0];
  if (target?.type !== "neighbour" || !target.neighbour || !iface) return undefined;
  const node = target.nodes[0] ?? anomaly.node;
  const { mac, ipv4 } = target.neighbour;
  return {
    actions: [
      {
        type: "quarantine_neighbour",
        params: { node, interface: iface, mac, ...(ipv4 ? { ipv4 } : {}) },
        reason: `${anomaly.metric} spike from ${mac}${ipv4 ? ` (${ipv4})` : ""} on ${node}/${iface}: drop its frames in XDP`,
      },
    ],
    summary: `quarantine neighbour ${mac}${ipv4 ? `/${ipv4}` : ""} on ${node}/${iface}; release is manual (release_neighbour)`,
    unchanged: undefined,
    verify: [{ type: "steps", description: "the neighbour's deny entry is in the interface's XDP deny map" }],
    deadlineMs,
    record: { changes: [] },
  };
}

/** What the notify says when a quarantined neighbour's spike ends: the quarantine stays until an operator releases it. */
export function quarantineKept(anomaly: Anomaly): string {
  return `traffic spike of ${anomaly.target?.neighbour?.mac ?? anomaly.interface} on ${anomaly.node} ended; the neighbour stays quarantined until an operator releases it (release_neighbour)`;
}
