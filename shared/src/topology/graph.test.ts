import { describe, expect, test } from "bun:test";
import type { NodeAnnouncement } from "../contracts/announcement.ts";
import { linksFromAnnouncements, type MeshGraph, pathBetween, routeTables } from "./graph.ts";

function node(name: string, ifaces: [string, string][], service: string): NodeAnnouncement {
  return {
    node: name,
    interfaces: ifaces.map(([ifname, cidr]) => ({ name: ifname, operstate: "up", xdp: "generic", ipv4: [cidr] })),
    service_address: service,
    ebpf: true,
    updated_at: 0,
  };
}

// A square a-b-d-c-a: two equal paths from a to d.
const square = [
  node(
    "a",
    [
      ["a-b", "10.200.0.1/30"],
      ["a-c", "10.200.0.5/30"],
      ["mgmt", "10.254.0.2/16"],
    ],
    "10.255.0.1",
  ),
  node(
    "b",
    [
      ["b-a", "10.200.0.2/30"],
      ["b-d", "10.200.0.9/30"],
      ["mgmt", "10.254.0.3/16"],
    ],
    "10.255.0.2",
  ),
  node(
    "c",
    [
      ["c-a", "10.200.0.6/30"],
      ["c-d", "10.200.0.13/30"],
    ],
    "10.255.0.3",
  ),
  node(
    "d",
    [
      ["d-b", "10.200.0.10/30"],
      ["d-c", "10.200.0.14/30"],
    ],
    "10.255.0.4",
  ),
];

function graphOf(announcements: NodeAnnouncement[]): MeshGraph {
  return {
    nodes: announcements.map((a) => a.node),
    links: linksFromAnnouncements(announcements),
    serviceAddress: Object.fromEntries(announcements.map((a) => [a.node, a.service_address as string])),
  };
}

describe("mesh graph", () => {
  test("links come from shared point-to-point subnets only", () => {
    const links = linksFromAnnouncements(square);
    expect(links.map((l) => l.id)).toEqual(["link:a|b", "link:a|c", "link:b|d", "link:c|d"]);
    expect(links[0]).toMatchObject({ a: { node: "a", interface: "a-b", address: "10.200.0.1" }, b: { node: "b", interface: "b-a", address: "10.200.0.2" } });
  });

  test("equal-cost ties break to the smallest first hop, and costs move routes", () => {
    const graph = graphOf(square);
    expect(pathBetween(graph, "a", "d")).toEqual(["a", "b", "d"]);
    const ab = graph.links.find((l) => l.id === "link:a|b");
    if (ab) ab.cost = 4;
    expect(pathBetween(graph, "a", "d")).toEqual(["a", "c", "d"]);
    if (ab) ab.cost = Number.POSITIVE_INFINITY;
    expect(pathBetween(graph, "a", "b")).toEqual(["a", "c", "d", "b"]);
  });

  test("route tables give next-hop address, device and source for every pair", () => {
    const routes = routeTables(graphOf(square));
    expect(routes).toHaveLength(12);
    expect(routes.find((r) => r.node === "a" && r.destination === "d")).toEqual({
      node: "a",
      destination: "d",
      prefix: "10.255.0.4",
      via: "10.200.0.2",
      dev: "a-b",
      src: "10.255.0.1",
      nextHop: "b",
    });
  });
});
