import { describe, expect, test } from "bun:test";
import { BatctlParseError, parseBatctlInterfaces, parseBatctlMesh, parseBatctlNeighbours, parseBatctlOriginators } from "./batctl.ts";

// One BATMAN_IV entry as batctl 2023.0 prints it (n1 of /work/shared/fixtures/batctl/real-4node.txt).
const ENTRY = {
  hard_ifindex: 3,
  hard_ifname: "v12",
  orig_address: "42:93:28:47:96:b3",
  best: true,
  last_seen_msecs: 640,
  neigh_address: "42:93:28:47:96:b3",
  tq: 118,
};
const ROUTE = { originator: "42:93:28:47:96:b3", next_hop: "42:93:28:47:96:b3", interface: "v12", tq: 118, last_seen_ms: 640, best: true };

describe("batctl parsers", () => {
  test("batctl - an oj entry becomes a route; `best` absent is not best, and an empty table is `[]` or nothing", () => {
    const { best: _, ...notBest } = ENTRY;
    expect(parseBatctlOriginators(JSON.stringify([ENTRY, notBest]))).toEqual([ROUTE, { ...ROUTE, best: false }]);
    expect(parseBatctlOriginators("[]\n")).toEqual([]);
    expect(parseBatctlOriginators("")).toEqual([]);
  });

  test("batctl - fields a later batctl adds are ignored", () => {
    expect(parseBatctlOriginators(JSON.stringify([{ ...ENTRY, hard_ifindex_new: 7, algo: "BATMAN_IV" }]))).toEqual([ROUTE]);
    expect(parseBatctlNeighbours(JSON.stringify([{ neigh_address: ENTRY.neigh_address, hard_ifname: "v12", last_seen_msecs: 4, new_field: 1 }]))).toEqual([
      { neighbour: ENTRY.neigh_address, interface: "v12", last_seen_ms: 4 },
    ]);
  });

  test("batctl - an entry that does not fit fails the whole table with a BatctlParseError naming it, never a shorter table", () => {
    // A BATMAN_V mesh prints a throughput where BATMAN_IV prints tq: read as an error, not as a node without routes.
    const { tq: _, ...batmanV } = { ...ENTRY, throughput: 1000 };
    expect(() => parseBatctlOriginators(JSON.stringify([ENTRY, batmanV]))).toThrow(BatctlParseError);
    expect(() => parseBatctlOriginators(JSON.stringify([ENTRY, batmanV]))).toThrow(/entry 1: tq: .*BATMAN_V/);
    expect(() => parseBatctlOriginators(JSON.stringify([{ ...ENTRY, orig_address: "nope" }]))).toThrow(/entry 0: orig_address: MAC address/);
    expect(() => parseBatctlNeighbours('[{"neigh_address":"42:93:28:47:96:b3"}]')).toThrow(BatctlParseError);
  });

  test("batctl - output that is not a JSON table is a BatctlParseError quoting it", () => {
    expect(() => parseBatctlOriginators("Error - mesh interface bat0 has no primary interface")).toThrow(/printed "Error - mesh interface bat0 .*", not JSON/);
    expect(() => parseBatctlOriginators('{"orig_address":"x"}')).toThrow(/not a JSON array/);
    expect(() => parseBatctlNeighbours("not json")).toThrow(BatctlParseError);
    expect(() => parseBatctlMesh("[]")).toThrow(BatctlParseError);
  });

  test("batctl - mj gives the mesh interface, its primary hard interface and the originator address", () => {
    expect(parseBatctlMesh(JSON.stringify({ mesh_ifname: "bat0", hard_address: ENTRY.orig_address, hard_ifname: "primary0", orig_interval: 1000 }))).toEqual({
      meshInterface: "bat0",
      originator: ENTRY.orig_address,
      primaryInterface: "primary0",
    });
  });

  test("batctl - the interface listing: interface → status, lines without one skipped", () => {
    expect(parseBatctlInterfaces("mesh0: active\n  mesh1: inactive\n\nnot a listing\n")).toEqual(
      new Map([
        ["mesh0", "active"],
        ["mesh1", "inactive"],
      ]),
    );
  });
});
