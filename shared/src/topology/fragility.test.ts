// Bridges, articulation points, what each cuts off and the link-disjoint paths between pairs: hand-checked graphs, and
// random graphs against brute force (remove each link or node and count the parts; paths by exhaustive cut search).
import { describe, expect, test } from "bun:test";
import { analyzeFragility, type FragilityLink } from "./fragility.ts";

const link = (a: string, b: string, id = `link:${a}|${b}`): FragilityLink => ({ id, a, b });
const names = (count: number) => Array.from({ length: count }, (_, i) => `n${i + 1}`);

/** Number of connected parts of the graph without `skipNode` / `skipLink`. */
function parts(nodes: string[], links: FragilityLink[], skipNode?: string, skipLink?: string): number {
  const remaining = nodes.filter((node) => node !== skipNode);
  const parent = new Map(remaining.map((node) => [node, node]));
  const find = (x: string): string => (parent.get(x) === x ? x : find(parent.get(x) as string));
  for (const l of links) {
    if (l.id === skipLink || l.a === skipNode || l.b === skipNode) continue;
    parent.set(find(l.a), find(l.b));
  }
  return new Set(remaining.map(find)).size;
}

/** Link-disjoint paths between s and t by brute force: the smallest set of links whose removal separates them. */
function bruteDisjointPaths(links: FragilityLink[], s: string, t: string): number {
  const connected = (removed: Set<number>) => {
    const seen = new Set([s]);
    const queue = [s];
    while (queue.length > 0) {
      const u = queue.shift() as string;
      links.forEach((l, i) => {
        if (removed.has(i)) return;
        const v = l.a === u ? l.b : l.b === u ? l.a : undefined;
        if (v !== undefined && !seen.has(v)) {
          seen.add(v);
          queue.push(v);
        }
      });
    }
    return seen.has(t);
  };
  if (!connected(new Set())) return 0;
  for (let size = 1; size <= links.length; size++) {
    const choose = (start: number, chosen: number[]): boolean => {
      if (chosen.length === size) return !connected(new Set(chosen));
      for (let i = start; i < links.length; i++) if (choose(i + 1, [...chosen, i])) return true;
      return false;
    };
    if (choose(0, [])) return size;
  }
  return links.length;
}

describe("topology fragility", () => {
  test("fragility - a line: every link a bridge, every inner node an articulation point, each cutting off its far side", () => {
    const nodes = names(4);
    const links = [link("n1", "n2"), link("n2", "n3"), link("n3", "n4")];
    const result = analyzeFragility(nodes, links);
    expect(result.bridges.sort()).toEqual(["link:n1|n2", "link:n2|n3", "link:n3|n4"]);
    expect(result.articulationPoints).toEqual(["n2", "n3"]);
    expect(result.edgeConnectivity).toBe(1);
    expect(result.cutOffs.find((cut) => cut.id === "n2")?.nodes).toEqual(["n1"]);
    expect(result.cutOffs.find((cut) => cut.id === "link:n1|n2")?.nodes).toEqual(["n1"]);
    // The middle link splits 2 / 2: the part without the smallest node name is the one called cut off.
    expect(result.cutOffs.find((cut) => cut.id === "link:n2|n3")?.nodes).toEqual(["n3", "n4"]);
    expect(result.pairsByDisjointPaths).toEqual({ 1: 6 });
    expect(result.perNode.find((node) => node.node === "n1")).toEqual({
      node: "n1",
      degree: 1,
      articulationPoint: false,
      singlePathPartners: 3,
      // Without link n2|n3 or node n3, n1 stays in the larger (or first) part: they cut off the others, not n1.
      cutOffBy: ["link:n1|n2", "n2"],
    });
  });

  test("fragility - a ring has none; a grid:3x3 none and λ 2; two rings joined at one node: that node", () => {
    const ring = analyzeFragility(names(5), [link("n1", "n2"), link("n2", "n3"), link("n3", "n4"), link("n4", "n5"), link("n1", "n5")]);
    expect([ring.bridges, ring.articulationPoints, ring.edgeConnectivity, ring.pairsByDisjointPaths]).toEqual([[], [], 2, { 2: 10 }]);
    const grid: FragilityLink[] = [];
    for (let row = 0; row < 3; row++) {
      for (let column = 0; column < 3; column++) {
        const node = `n${row * 3 + column + 1}`;
        if (column < 2) grid.push(link(node, `n${row * 3 + column + 2}`));
        if (row < 2) grid.push(link(node, `n${row * 3 + column + 4}`));
      }
    }
    const g = analyzeFragility(names(9), grid);
    expect([g.links, g.bridges.length, g.articulationPoints.length, g.edgeConnectivity]).toEqual([12, 0, 0, 2]);
    // A corner (two links) has two disjoint paths to anyone: 4 × 8 − 6 pairs; the edge middles and the centre (three
    // and four links) three between each other: the other 10 pairs.
    expect(g.pairsByDisjointPaths).toEqual({ 2: 26, 3: 10 });
    const bowtie = analyzeFragility(names(5), [link("n1", "n2"), link("n2", "n3"), link("n1", "n3"), link("n3", "n4"), link("n4", "n5"), link("n3", "n5")]);
    expect(bowtie.articulationPoints).toEqual(["n3"]);
    expect(bowtie.bridges).toEqual([]);
    expect(bowtie.cutOffs).toEqual([{ kind: "node", id: "n3", nodes: ["n4", "n5"] }]);
  });

  test("fragility - parallel links are two paths, not a bridge; a second component and a lone node are counted", () => {
    const result = analyzeFragility(names(5), [link("n1", "n2", "a"), link("n1", "n2", "b"), link("n3", "n4"), link("n9", "n1")]);
    expect(result.bridges).toEqual(["link:n3|n4"]);
    expect(result.components).toBe(3);
    expect(result.pairsByDisjointPaths).toEqual({ 1: 1, 2: 1 });
    // A link to an unknown node is left out.
    expect(result.links).toBe(3);
  });

  test("fragility - random graphs agree with brute force: bridges, articulation points and disjoint paths of every pair", () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 60; round++) {
      const nodes = names(3 + Math.floor(random() * 6));
      const links: FragilityLink[] = [];
      for (let i = 0; i < nodes.length; i++) {
        for (let j = i + 1; j < nodes.length; j++) {
          if (random() < 0.35) links.push(link(nodes[i] as string, nodes[j] as string));
        }
      }
      if (random() < 0.3 && links[0]) links.push({ ...links[0], id: `${links[0].id}#2` });
      const result = analyzeFragility(nodes, links);
      const base = parts(nodes, links);
      expect(result.components).toBe(base);
      const bridges = links.filter((l) => parts(nodes, links, undefined, l.id) > base).map((l) => l.id);
      expect(result.bridges.sort()).toEqual(bridges.sort());
      const points = nodes.filter((node) => parts(nodes, links, node) > base - (links.some((l) => l.a === node || l.b === node) ? 0 : 1));
      expect(result.articulationPoints).toEqual(points.sort());
      const pairs: Record<string, number> = {};
      for (let i = 0; i < nodes.length; i++) {
        for (let j = i + 1; j < nodes.length; j++) {
          const paths = bruteDisjointPaths(links, nodes[i] as string, nodes[j] as string);
          if (paths > 0) pairs[paths] = (pairs[paths] ?? 0) + 1;
        }
      }
      expect(result.pairsByDisjointPaths, `round ${round}`).toEqual(pairs);
    }
  });
});
