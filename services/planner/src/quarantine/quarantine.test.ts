import { describe, expect, test } from "bun:test";
import type { IncidentTarget } from "@x0/shared";
import { incident, linkTarget } from "../testing.ts";
import { quarantineKept, quarantineProposal } from "./quarantine.ts";

const neighbour = (ipv4?: string): IncidentTarget => ({
  type: "neighbour",
  id: "neighbour:n3/n3-n2/02:00:00:00:00:07",
  nodes: ["n3"],
  interfaces: ["n3-n2"],
  neighbour: { mac: "02:00:00:00:00:07", ipv4: ipv4 ?? null },
});

describe("quarantine", () => {
  test("quarantine - a neighbour's spike becomes one quarantine_neighbour step on the node and interface that saw it", () => {
    const spike = incident("traffic_spike", neighbour("10.200.0.9"), { node: "n3", interface: "n3-n2", metric: "neighbour_packets_per_s" });
    expect(quarantineProposal(spike, 2000)).toEqual({
      actions: [
        {
          type: "quarantine_neighbour",
          params: { node: "n3", interface: "n3-n2", mac: "02:00:00:00:00:07", ipv4: "10.200.0.9" },
          reason: "neighbour_packets_per_s spike from 02:00:00:00:00:07 (10.200.0.9) on n3/n3-n2: drop its frames in XDP",
        },
      ],
      summary: "quarantine neighbour 02:00:00:00:00:07/10.200.0.9 on n3/n3-n2; release is manual (release_neighbour)",
      unchanged: undefined,
      verify: [{ type: "steps", description: "the neighbour's deny entry is in the interface's XDP deny map" }],
      deadlineMs: 2000,
      record: { changes: [] },
    });
  });

  test("quarantine - a neighbour whose frames carry no IPv4 (null) is quarantined by MAC alone", () => {
    const spike = incident("traffic_spike", neighbour(), { node: "n3", metric: "neighbour_packets_per_s" });
    const [step] = quarantineProposal(spike, 2000)?.actions ?? [];
    expect(step?.params).toEqual({ node: "n3", interface: "n3-n2", mac: "02:00:00:00:00:07" });
    expect(step?.reason).toBe("neighbour_packets_per_s spike from 02:00:00:00:00:07 on n3/n3-n2: drop its frames in XDP");
  });

  test("quarantine - a target that names no neighbour on an interface gives no quarantine", () => {
    expect(quarantineProposal(incident("traffic_spike", linkTarget("n1", "n2")), 2000)).toBeUndefined();
    expect(quarantineProposal(incident("traffic_spike", { ...neighbour(), interfaces: [] }), 2000)).toBeUndefined();
    expect(quarantineProposal(incident("traffic_spike", undefined), 2000)).toBeUndefined();
  });

  test("quarantine - the end of a quarantined spike says the quarantine stays until an operator releases it", () => {
    expect(quarantineKept(incident("traffic_spike", neighbour(), { node: "n3" }))).toBe(
      "traffic spike of 02:00:00:00:00:07 on n3 ended; the neighbour stays quarantined until an operator releases it (release_neighbour)",
    );
  });
});
