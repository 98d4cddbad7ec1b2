import { describe, expect, test } from "bun:test";
import { LabSpecError } from "../errors.ts";
import { linkBetween, linkHopPenalty, linksOf, nodeOf, planLab } from "./plan.ts";
import { parseTopology } from "./topology.ts";

const grid = planLab(parseTopology("grid:3x3"), "x0", { octet: 254 });

describe("lab plan", () => {
  test("lab plan - nodes get namespaces, addresses, interfaces and probe peers", () => {
    expect(nodeOf(grid, "n5")).toEqual({
      name: "n5",
      number: 5,
      netns: "x0-n5",
      netnsPath: "/run/netns/x0-n5",
      serviceAddress: "10.255.0.5",
      mgmtAddress: "10.254.1.5",
      mgmtHostInterface: "x0-m5",
      interfaces: ["n5-n2", "n5-n4", "n5-n6", "n5-n8"],
      neighbourAddresses: ["10.200.0.13", "10.200.0.21", "10.200.0.30", "10.200.0.34"],
      sysfsDir: "/run/x0/lab/x0/n5/sys",
      pinRoot: "/sys/fs/bpf/x0lab/n5",
    });
    expect(grid.bridge).toBe("x0-mgmt");
    expect(grid.bridgeAddress).toBe("10.254.0.1");
  });

  test("lab plan - routes are shortest paths between every pair of service addresses", () => {
    expect(grid.routes).toHaveLength(9 * 8);
    const corner = grid.routes.filter((route) => route.node === "n1" && route.destination === "n9");
    // Equal-cost ties go to the lexically smallest first hop: n2 before n4.
    expect(corner).toEqual([{ node: "n1", destination: "n9", prefix: "10.255.0.9", via: "10.200.0.2", dev: "n1-n2", src: "10.255.0.1", nextHop: "n2" }]);
    for (const route of grid.routes) expect(linkBetween(grid, route.node, route.nextHop).near.interface).toBe(route.dev);
  });

  test("lab plan - links are found from either end and unknown nodes or non-neighbours are LabSpecErrors", () => {
    const { near, far } = linkBetween(grid, "n2", "n1");
    expect(near).toEqual({ node: "n2", interface: "n2-n1", address: "10.200.0.2" });
    expect(far).toEqual({ node: "n1", interface: "n1-n2", address: "10.200.0.1" });
    expect(linksOf(grid, "n1").map(({ far }) => far.node)).toEqual(["n2", "n4"]);
    expect(() => linkBetween(grid, "n1", "n9")).toThrow(LabSpecError);
    expect(() => nodeOf(grid, "n10")).toThrow(/nodes n1…n9/);
  });

  test("lab plan - distinct link costs give each link its own hop penalty, and only a batman lab has them", () => {
    expect(grid.linkCosts).toBe("equal");
    expect(grid.links.every((link) => link.hopPenalty === 0)).toBe(true);
    const distinct = planLab(parseTopology("grid:2x3"), "x0", { octet: 254 }, "batman", "distinct");
    // Generation order: n1|n2, n1|n4, n2|n3, n2|n5, n3|n6, n4|n5, n5|n6.
    expect(distinct.links.map((link) => [link.id, link.hopPenalty])).toEqual([
      ["link:n1|n2", 2],
      ["link:n1|n4", 4],
      ["link:n2|n3", 6],
      ["link:n2|n5", 8],
      ["link:n3|n6", 10],
      ["link:n4|n5", 12],
      ["link:n5|n6", 14],
    ]);
    // Past 16 links the penalties repeat, so they stay small (at most 32 against batman-adv's 30 per hop).
    expect([15, 16, 17].map((index) => linkHopPenalty(index, "distinct"))).toEqual([32, 2, 4]);
    expect(linkHopPenalty(3, "equal")).toBe(0);
    expect(() => planLab(parseTopology("line:3"), "x0", { octet: 254 }, "static", "distinct")).toThrow(/need batman routing/);
  });
});
