import { describe, expect, test } from "bun:test";
import { gridAnnouncements, linkTarget } from "../testing.ts";
import { elementOf, linkElement } from "./element.ts";
import { topologyOf } from "./synthetic.ts";

const grid = () => topologyOf(gridAnnouncements(3, 3));

describe("incident element", () => {
  test("incident element - a link target is that link, crossed between its two ends", () => {
    expect(elementOf(grid(), linkTarget("n2", "n1"))).toEqual({
      links: ["link:n1|n2"],
      cross: { link: ["n1", "n2"] },
      ends: ["n1", "n2"],
      what: "link n1|n2",
    });
  });

  test("incident element - a node target is every link of the node, crossed at the node", () => {
    expect(elementOf(grid(), { type: "node", id: "node:n5", nodes: ["n5"] })).toEqual({
      links: ["link:n2|n5", "link:n4|n5", "link:n5|n6", "link:n5|n8"],
      cross: { node: "n5" },
      what: "node n5",
    });
  });

  test("incident element - an interface target is the link that interface ends", () => {
    expect(elementOf(grid(), { type: "interface", id: "interface:n5/n5-n6", nodes: ["n5"], interfaces: ["n5-n6"] })?.links).toEqual(["link:n5|n6"]);
    expect(elementOf(grid(), { type: "interface", id: "interface:n5/mgmt", nodes: ["n5"], interfaces: ["mgmt"] })).toBeUndefined();
  });

  test("incident element - none for what the graph does not know, or without links at all", () => {
    expect(elementOf(grid(), linkTarget("n1", "n9"))).toBeUndefined();
    expect(elementOf(grid(), { type: "node", id: "node:n42", nodes: ["n42"] })).toBeUndefined();
    expect(elementOf(grid(), undefined)).toBeUndefined();
    expect(elementOf(topologyOf([]), linkTarget("n1", "n2"))).toBeUndefined();
  });

  test("incident element - a link's element may be named otherwise (a hold-down release names the link id)", () => {
    const link = grid().link("link:n1|n2");
    if (!link) throw new Error("expected link n1|n2");
    expect(linkElement(link, link.id).what).toBe("link:n1|n2");
  });
});
