// Lab topologies: the `grid:RxC | ring:N | line:N | random:N:SEED` grammar and the node/link lists it generates.
import { mulberry32 } from "@x0/shared";
import { LabSpecError } from "../errors.ts";

/** Most nodes a lab may have: node names stay `n1`…`n999`, so `<prefix>-m<k>` and `nA-nB` fit in 15 characters. */
export const MAX_LAB_NODES = 999;

/** The kinds of topology `x0 lab up --topology` accepts. */
export const TopologyKind = { GRID: "grid", RING: "ring", LINE: "line", RANDOM: "random" } as const;
/** A topology kind. */
export type TopologyKind = (typeof TopologyKind)[keyof typeof TopologyKind];

/** A lab topology: nodes `n1`…`nN` and undirected links between them. */
export interface LabTopology {
  /** The canonical spec it was generated from, e.g. `grid:3x3`. */
  spec: string;
  kind: TopologyKind;
  /** `n1` … `nN`, in number order. */
  nodes: string[];
  /** Links as node pairs, each pair with the lower-numbered node first, in generation order (that order numbers the links' /30s). */
  links: [string, string][];
}

/** The name of node number `k` (1-based). */
export function nodeName(k: number): string {
  return `n${k}`;
}

/** The number of a node name (`n12` → 12); undefined when it is not a lab node name. */
export function nodeNumber(name: string): number | undefined {
  const match = /^n([1-9]\d{0,2})$/.exec(name);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

function count(text: string | undefined, what: string, spec: string, min: number): number {
  if (text === undefined || !/^\d+$/.test(text)) throw new LabSpecError(`topology ${JSON.stringify(spec)}: ${what} must be a whole number`);
  const value = Number(text);
  if (value < min) throw new LabSpecError(`topology ${JSON.stringify(spec)}: ${what} must be at least ${min}`);
  return value;
}

function checkSize(nodes: number, spec: string): void {
  if (nodes > MAX_LAB_NODES) throw new LabSpecError(`topology ${JSON.stringify(spec)} has ${nodes} nodes; a lab has at most ${MAX_LAB_NODES}`);
}

/** Parses a topology spec and generates it; throws {@link LabSpecError} naming what is wrong. */
export function parseTopology(spec: string): LabTopology {
  const [kind, ...parts] = spec.trim().split(":");
  switch (kind) {
    case TopologyKind.GRID: {
      const [rowsText, colsText, ...extra] = (parts[0] ?? "").split("x");
      if (parts.length !== 1 || extra.length > 0) throw new LabSpecError(`topology ${JSON.stringify(spec)}: expected grid:<rows>x<columns>, e.g. grid:3x3`);
      const rows = count(rowsText, "rows", spec, 1);
      const cols = count(colsText, "columns", spec, 1);
      checkSize(rows * cols, spec);
      if (rows * cols < 2) throw new LabSpecError(`topology ${JSON.stringify(spec)}: a lab needs at least 2 nodes`);
      return gridTopology(rows, cols);
    }
    case TopologyKind.RING:
    case TopologyKind.LINE: {
      if (parts.length !== 1) throw new LabSpecError(`topology ${JSON.stringify(spec)}: expected ${kind}:<nodes>, e.g. ${kind}:5`);
      const nodes = count(parts[0], "nodes", spec, kind === TopologyKind.RING ? 3 : 2);
      checkSize(nodes, spec);
      return kind === TopologyKind.RING ? ringTopology(nodes) : lineTopology(nodes);
    }
    case TopologyKind.RANDOM: {
      if (parts.length !== 2) throw new LabSpecError(`topology ${JSON.stringify(spec)}: expected random:<nodes>:<seed>, e.g. random:12:7`);
      const nodes = count(parts[0], "nodes", spec, 2);
      checkSize(nodes, spec);
      const seed = count(parts[1], "seed", spec, 0);
      if (seed > 0xffffffff) throw new LabSpecError(`topology ${JSON.stringify(spec)}: seed must fit in 32 bits`);
      return randomTopology(nodes, seed);
    }
    default:
      throw new LabSpecError(`unknown topology ${JSON.stringify(spec)}: expected grid:<rows>x<columns>, ring:<nodes>, line:<nodes> or random:<nodes>:<seed>`);
  }
}

/** A rows×cols grid, nodes row-major; each node links to its right and lower neighbours. */
export function gridTopology(rows: number, cols: number): LabTopology {
  const at = (row: number, col: number) => nodeName(row * cols + col + 1);
  const links: [string, string][] = [];
  for (let row = 0; row < rows; row += 1) {
    for (let col = 0; col < cols; col += 1) {
      if (col + 1 < cols) links.push([at(row, col), at(row, col + 1)]);
      if (row + 1 < rows) links.push([at(row, col), at(row + 1, col)]);
    }
  }
  return { spec: `grid:${rows}x${cols}`, kind: TopologyKind.GRID, nodes: names(rows * cols), links };
}

/** n1–n2–…–nN. */
export function lineTopology(nodes: number): LabTopology {
  const links = Array.from({ length: nodes - 1 }, (_, i): [string, string] => [nodeName(i + 1), nodeName(i + 2)]);
  return { spec: `line:${nodes}`, kind: TopologyKind.LINE, nodes: names(nodes), links };
}

/** n1–n2–…–nN–n1. */
export function ringTopology(nodes: number): LabTopology {
  const line = lineTopology(nodes);
  return { spec: `ring:${nodes}`, kind: TopologyKind.RING, nodes: line.nodes, links: [...line.links, [nodeName(1), nodeName(nodes)]] };
}

/**
 * A connected random mesh: a random recursive tree (node k joins a uniformly drawn earlier node) plus ⌊N/2⌋ extra distinct
 * links between uniformly drawn pairs, every draw from mulberry32(seed), so one seed always gives the same mesh.
 */
export function randomTopology(nodes: number, seed: number): LabTopology {
  const next = mulberry32(seed);
  const draw = (below: number) => Math.floor(next() * below);
  const seen = new Set<string>();
  const links: [string, string][] = [];
  const add = (x: number, y: number): boolean => {
    const [low, high] = x < y ? [x, y] : [y, x];
    const key = `${low}-${high}`;
    if (low === high || seen.has(key)) return false;
    seen.add(key);
    links.push([nodeName(low), nodeName(high)]);
    return true;
  };
  for (let k = 2; k <= nodes; k += 1) add(draw(k - 1) + 1, k);
  const possible = (nodes * (nodes - 1)) / 2;
  const extra = Math.min(Math.floor(nodes / 2), possible - links.length);
  for (let added = 0; added < extra; ) if (add(draw(nodes) + 1, draw(nodes) + 1)) added += 1;
  return { spec: `random:${nodes}:${seed}`, kind: TopologyKind.RANDOM, nodes: names(nodes), links };
}

/** Whether every node of the topology reaches every other over its links. */
export function isConnected(topology: Pick<LabTopology, "nodes" | "links">): boolean {
  const [first] = topology.nodes;
  if (first === undefined) return true;
  const neighbours = new Map<string, string[]>(topology.nodes.map((n) => [n, []]));
  for (const [a, b] of topology.links) {
    neighbours.get(a)?.push(b);
    neighbours.get(b)?.push(a);
  }
  const reached = new Set([first]);
  const queue = [first];
  for (let node = queue.shift(); node !== undefined; node = queue.shift()) {
    for (const next of neighbours.get(node) ?? []) {
      if (!reached.has(next)) {
        reached.add(next);
        queue.push(next);
      }
    }
  }
  return reached.size === topology.nodes.length;
}

function names(count: number): string[] {
  return Array.from({ length: count }, (_, i) => nodeName(i + 1));
}
