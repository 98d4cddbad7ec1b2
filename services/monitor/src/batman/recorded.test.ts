// Recorded batctl output read as the monitor reads it (the @x0/shared parsers, directTq): real batctl 2023.0 output of a
// 4-node mesh and of the lab's grid, provenance in each fixture's header (this kernel has no batman-adv module).
import { describe, expect, test } from "bun:test";
import { BatctlParseError, parseBatctlInterfaces, parseBatctlMesh, parseBatctlNeighbours, parseBatctlOriginators } from "@x0/shared";
import { fixtureBlocks } from "./fixtures/fixture.ts";
import { directTq } from "./tq.ts";

describe("batman parse", () => {
  const blocks = fixtureBlocks();

  test("batman parse - originators of n2 with next hop, TQ and best route", () => {
    const originators = parseBatctlOriginators(blocks.get("n2 batctl meshif bat0 oj") ?? "");
    expect(originators).toHaveLength(6);
    expect(originators[0]).toEqual({
      originator: "1e:a9:2d:ea:81:f5",
      next_hop: "1e:a9:2d:ea:81:f5",
      interface: "v21",
      tq: 147,
      last_seen_ms: 296,
      best: true,
    });
    // Two routes to 2a:36:…: via v24 (TQ 51, not best) and direct on v23 (TQ 133, best).
    const routes = originators.filter((o) => o.originator === "2a:36:58:d8:91:4f");
    expect(routes.map((o) => [o.interface, o.tq, o.best])).toEqual([
      ["v24", 51, false],
      ["v23", 133, true],
    ]);
  });

  test("batman parse - direct TQ only for originators that are their own next hop", () => {
    const tq = directTq(parseBatctlOriginators(blocks.get("n1 batctl meshif bat0 oj") ?? ""));
    expect([...tq]).toEqual([["42:93:28:47:96:b3", 118]]);
  });

  test("batman parse - neighbours of n2", () => {
    const neighbours = parseBatctlNeighbours(blocks.get("n2 batctl meshif bat0 nj") ?? "");
    expect(neighbours.map((n) => n.interface).sort()).toEqual(["v21", "v23", "v24"]);
    expect(neighbours.every((n) => n.last_seen_ms >= 0)).toBe(true);
  });

  test("batman parse - an isolated node has no originators", () => {
    expect(parseBatctlOriginators(blocks.get("n1 after: ip link set v12 down inside n1, 4 s later") ?? "")).toEqual([]);
  });

  test("batman parse - the text output is rejected with a BatctlParseError", () => {
    expect(() => parseBatctlOriginators(blocks.get("n1 batctl meshif bat0 o") ?? "")).toThrow(BatctlParseError);
    expect(() => parseBatctlOriginators('[{"orig_address":"nope"}]')).toThrow(BatctlParseError);
  });
});

describe("batman parse (lab recording)", () => {
  const lab = fixtureBlocks("lab-2x3.txt");

  test("batman parse - the originator address is the primary hard interface's MAC (primary0 in the lab)", () => {
    const mesh = parseBatctlMesh(lab.get("n1 batctl meshif bat0 mj") ?? "");
    expect(mesh.meshInterface).toBe("bat0");
    expect(mesh.primaryInterface).toBe("primary0");
    expect(mesh.originator).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    // Every other node's best routes lead to originators; n2's own originator is among n1's.
    const n2 = parseBatctlMesh(lab.get("n2 batctl meshif bat0 mj") ?? "");
    expect(parseBatctlOriginators(lab.get("n1 batctl meshif bat0 oj") ?? "").some((o) => o.originator === n2.originator && o.best)).toBe(true);
    expect(() => parseBatctlMesh("{}")).toThrow(BatctlParseError);
    expect(() => parseBatctlMesh("not json")).toThrow(BatctlParseError);
  });

  test("batman parse - hard interfaces and their state, before and after one is removed", () => {
    const before = parseBatctlInterfaces(lab.get("n1 batctl meshif bat0 interface") ?? "");
    expect([...before].sort()).toEqual([
      ["n1-n2", "active"],
      ["n1-n4", "active"],
      ["primary0", "active"],
    ]);
    const after = parseBatctlInterfaces(lab.get("n1 after-del batctl meshif bat0 interface") ?? "");
    expect([...after.keys()].sort()).toEqual(["n1-n4", "primary0"]);
    // batman-adv purged the neighbours on the removed interface: no route of n1 uses it any more.
    const routes = parseBatctlOriginators(lab.get("n1 after-del batctl meshif bat0 oj") ?? "");
    expect(routes.length).toBeGreaterThan(0);
    expect(routes.every((route) => route.interface !== "n1-n2")).toBe(true);
  });
});
