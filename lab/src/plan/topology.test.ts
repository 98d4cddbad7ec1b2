import { describe, expect, test } from "bun:test";
import { LabSpecError } from "../errors.ts";
import { isConnected, parseTopology } from "./topology.ts";

describe("lab topology", () => {
  test("lab topology - grid is row-major with right and down links", () => {
    const grid = parseTopology("grid:2x3");
    expect(grid.nodes).toEqual(["n1", "n2", "n3", "n4", "n5", "n6"]);
    expect(grid.links).toEqual([
      ["n1", "n2"],
      ["n1", "n4"],
      ["n2", "n3"],
      ["n2", "n5"],
      ["n3", "n6"],
      ["n4", "n5"],
      ["n5", "n6"],
    ]);
    expect(parseTopology("grid:3x3").links).toHaveLength(12);
  });

  test("lab topology - line and ring", () => {
    expect(parseTopology("line:3").links).toEqual([
      ["n1", "n2"],
      ["n2", "n3"],
    ]);
    expect(parseTopology(" ring:4 ")).toMatchObject({
      spec: "ring:4",
      links: [
        ["n1", "n2"],
        ["n2", "n3"],
        ["n3", "n4"],
        ["n1", "n4"],
      ],
    });
  });

  test("lab topology - random is connected, duplicate-free and the same for the same seed", () => {
    for (let seed = 0; seed < 50; seed += 1) {
      for (const nodes of [2, 3, 7, 30]) {
        const mesh = parseTopology(`random:${nodes}:${seed}`);
        expect(isConnected(mesh)).toBe(true);
        const keys = mesh.links.map(([a, b]) => `${a}|${b}`);
        expect(new Set(keys).size).toBe(keys.length);
        expect(mesh.links.every(([a, b]) => Number(a.slice(1)) < Number(b.slice(1)))).toBe(true);
        expect(mesh.links.length).toBe(Math.min(nodes - 1 + Math.floor(nodes / 2), (nodes * (nodes - 1)) / 2));
      }
    }
    expect(parseTopology("random:12:7")).toEqual(parseTopology("random:12:7"));
    expect(parseTopology("random:12:7").links).not.toEqual(parseTopology("random:12:8").links);
  });

  test("lab topology - malformed or oversized specs are LabSpecErrors naming the grammar", () => {
    for (const spec of [
      "",
      "ring",
      "ring:2",
      "line:1",
      "line:x",
      "grid:3",
      "grid:1x1",
      "grid:3x3x3",
      "random:5",
      "random:5:-1",
      "mesh:4",
      "grid:40x40",
      "line:1000",
    ]) {
      expect(() => parseTopology(spec)).toThrow(LabSpecError);
    }
    expect(() => parseTopology("torus:3")).toThrow(/grid:<rows>x<columns>, ring:<nodes>, line:<nodes> or random:<nodes>:<seed>/);
  });
});
