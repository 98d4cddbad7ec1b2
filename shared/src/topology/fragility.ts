// How fragile the mesh is: its bridges (links whose loss splits it), articulation points (nodes whose loss splits it),
// which nodes each of them cuts off from the rest, and how many link-disjoint paths join each pair of nodes.
// Pure graph code over the usable links; the planner publishes the result (README: topology analysis).

/** A link as the analysis needs it (parallel links between two nodes are separate links). */
export interface FragilityLink {
  id: string;
  a: string;
  b: string;
}

/** What one node's loss or one link's loss would cut off. */
export interface CutOff {
  kind: "link" | "node";
  /** The link id or the node. */
  id: string;
  /** The nodes separated from the largest remaining part (the other end of a bridge's small side, or behind a node). */
  nodes: string[];
}

/** The analysis of one graph. */
export interface Fragility {
  nodes: number;
  links: number;
  components: number;
  bridges: string[];
  articulationPoints: string[];
  /** Every bridge and articulation point with the nodes it would cut off. */
  cutOffs: CutOff[];
  /** λ: the fewest link-disjoint paths between two nodes of one component (0 with fewer than two nodes, or not computed). */
  edgeConnectivity: number;
  /** Node pairs (in one component) by the number of link-disjoint paths between them. */
  pairsByDisjointPaths: Record<string, number>;
  /** Per node: its links, whether it is an articulation point, and how many nodes it reaches over one path only. */
  perNode: { node: string; degree: number; articulationPoint: boolean; singlePathPartners: number; cutOffBy: string[] }[];
}

interface Adjacency {
  index: Map<string, number>;
  names: string[];
  /** Per node: [neighbour, edge index]. */
  edges: [number, number][][];
  ends: [number, number][];
  /** The link id of each edge. */
  ids: string[];
}

function adjacencyOf(nodes: readonly string[], links: readonly FragilityLink[]): Adjacency {
  const names = [...new Set(nodes)].sort();
  const index = new Map(names.map((name, i) => [name, i]));
  const edges: [number, number][][] = names.map(() => []);
  const ends: [number, number][] = [];
  const ids: string[] = [];
  for (const link of links) {
    const a = index.get(link.a);
    const b = index.get(link.b);
    if (a === undefined || b === undefined || a === b) continue;
    const e = ends.length;
    ends.push([a, b]);
    ids.push(link.id);
    edges[a]?.push([b, e]);
    edges[b]?.push([a, e]);
  }
  return { index, names, edges, ends, ids };
}

/** Bridges and articulation points by Tarjan's low-link, iteratively (a long line must not overflow the stack). */
function lowLink(graph: Adjacency): { bridges: number[]; articulation: boolean[] } {
  const n = graph.names.length;
  const order = new Array<number>(n).fill(-1);
  const low = new Array<number>(n).fill(0);
  const articulation = new Array<boolean>(n).fill(false);
  const bridges: number[] = [];
  let counter = 0;
  for (let root = 0; root < n; root++) {
    if (order[root] !== -1) continue;
    // Stack frames: node, the edge it was entered by, the next adjacency index to look at.
    const stack: { node: number; via: number; next: number }[] = [{ node: root, via: -1, next: 0 }];
    order[root] = low[root] = counter++;
    let rootChildren = 0;
    while (stack.length > 0) {
      const frame = stack[stack.length - 1] as (typeof stack)[number];
      const adjacent = graph.edges[frame.node] as [number, number][];
      if (frame.next < adjacent.length) {
        const [next, edge] = adjacent[frame.next++] as [number, number];
        if (edge === frame.via) continue;
        if (order[next] === -1) {
          order[next] = low[next] = counter++;
          if (frame.node === root) rootChildren++;
          stack.push({ node: next, via: edge, next: 0 });
        } else {
          low[frame.node] = Math.min(low[frame.node] as number, order[next] as number);
        }
        continue;
      }
      stack.pop();
      const parent = stack[stack.length - 1];
      if (!parent) continue;
      low[parent.node] = Math.min(low[parent.node] as number, low[frame.node] as number);
      if ((low[frame.node] as number) > (order[parent.node] as number)) bridges.push(frame.via);
      if (parent.node !== root && (low[frame.node] as number) >= (order[parent.node] as number)) articulation[parent.node] = true;
    }
    if (rootChildren > 1) articulation[root] = true;
  }
  return { bridges, articulation };
}

/** Connected parts reachable from `start` without `skipNode` and `skipEdge`; `seen` marks them with `mark`. */
function reach(graph: Adjacency, start: number, seen: Int32Array, mark: number, skipNode = -1, skipEdge = -1): number[] {
  const found = [start];
  seen[start] = mark;
  for (let i = 0; i < found.length; i++) {
    for (const [next, edge] of graph.edges[found[i] as number] as [number, number][]) {
      if (edge === skipEdge || next === skipNode || seen[next] === mark) continue;
      seen[next] = mark;
      found.push(next);
    }
  }
  return found;
}

/** The largest part of `start`'s component once the node or link is removed, and every smaller part. */
function partsWithout(graph: Adjacency, starts: number[], skipNode: number, skipEdge: number): number[][] {
  const seen = new Int32Array(graph.names.length).fill(-1);
  const parts: number[][] = [];
  for (const start of starts) {
    if (start === skipNode || seen[start] !== -1) continue;
    parts.push(reach(graph, start, seen, parts.length, skipNode, skipEdge));
  }
  return parts.sort((x, y) => y.length - x.length || Math.min(...x) - Math.min(...y));
}

/** Max flow (link-disjoint paths) between s and t, and the source side of a minimum cut; unit capacities each way. */
function minCut(graph: Adjacency, s: number, t: number, limit: number): { value: number; sourceSide: Uint8Array } {
  const flow = new Int8Array(graph.ends.length); // +1: a → b, -1: b → a
  const n = graph.names.length;
  let value = 0;
  const previous = new Int32Array(n);
  for (; value < limit; value++) {
    previous.fill(-1);
    previous[s] = -2;
    const queue = [s];
    for (let i = 0; i < queue.length && previous[t] === -1; i++) {
      const u = queue[i] as number;
      for (const [v, edge] of graph.edges[u] as [number, number][]) {
        if (previous[v] !== -1) continue;
        const forward = (graph.ends[edge] as [number, number])[0] === u ? 1 : -1;
        // Residual: an unused edge either way, or one used the other way (cancelling it).
        if (flow[edge] === forward) continue;
        previous[v] = edge;
        queue.push(v);
      }
    }
    if (previous[t] === -1) break;
    for (let v = t; v !== s; ) {
      const edge = previous[v] as number;
      const [a, b] = graph.ends[edge] as [number, number];
      const u = a === v ? b : a;
      const forward = a === u ? 1 : -1;
      flow[edge] = flow[edge] === -forward ? 0 : forward;
      v = u;
    }
  }
  // The source side: what the residual graph reaches from s.
  const sourceSide = new Uint8Array(n);
  sourceSide[s] = 1;
  const queue = [s];
  for (let i = 0; i < queue.length; i++) {
    const u = queue[i] as number;
    for (const [v, edge] of graph.edges[u] as [number, number][]) {
      if (sourceSide[v]) continue;
      const forward = (graph.ends[edge] as [number, number])[0] === u ? 1 : -1;
      if (flow[edge] === forward) continue;
      sourceSide[v] = 1;
      queue.push(v);
    }
  }
  return { value, sourceSide };
}

/**
 * Gusfield's equivalent flow tree of one component (n − 1 max flows): the number of link-disjoint paths between two
 * nodes is the smallest weight on the tree path between them.
 */
function flowTree(graph: Adjacency, members: number[]): Map<number, { parent: number; weight: number }> {
  const tree = new Map<number, { parent: number; weight: number }>();
  const root = members[0] as number;
  for (const node of members) tree.set(node, { parent: root, weight: 0 });
  for (let i = 1; i < members.length; i++) {
    const s = members[i] as number;
    const entry = tree.get(s) as { parent: number; weight: number };
    const { value, sourceSide } = minCut(graph, s, entry.parent, (graph.edges[s] as unknown[]).length);
    entry.weight = value;
    for (let j = i + 1; j < members.length; j++) {
      const other = tree.get(members[j] as number) as { parent: number; weight: number };
      if (other.parent === entry.parent && sourceSide[members[j] as number]) other.parent = s;
    }
  }
  tree.delete(root);
  return tree;
}

/**
 * Analyses the graph of `nodes` joined by `links` (pass only the links traffic can use). `disjointPaths: false` leaves
 * out the pairs' link-disjoint paths (n − 1 max flows), for a quick look on the planning path.
 */
export function analyzeFragility(nodes: readonly string[], links: readonly FragilityLink[], { disjointPaths = true } = {}): Fragility {
  const graph = adjacencyOf(nodes, links);
  const n = graph.names.length;
  const { bridges, articulation } = lowLink(graph);
  const seen = new Int32Array(n).fill(-1);
  const components: number[][] = [];
  for (let node = 0; node < n; node++) if (seen[node] === -1) components.push(reach(graph, node, seen, components.length));
  const componentOf = Int32Array.from(seen);

  const cutOffs: CutOff[] = [];
  const cutOffBy: string[][] = graph.names.map(() => []);
  const record = (kind: CutOff["kind"], id: string, parts: number[][]) => {
    const separated = parts.slice(1).flat();
    for (const node of separated) cutOffBy[node]?.push(id);
    cutOffs.push({ kind, id, nodes: separated.map((node) => graph.names[node] as string).sort() });
  };
  for (const edge of bridges) {
    const [a] = graph.ends[edge] as [number, number];
    const members = components[componentOf[a] as number] as number[];
    record("link", graph.ids[edge] as string, partsWithout(graph, members, -1, edge));
  }
  for (let node = 0; node < n; node++) {
    if (!articulation[node]) continue;
    const members = components[componentOf[node] as number] as number[];
    record("node", graph.names[node] as string, partsWithout(graph, members, node, -1));
  }

  // Pairs by link-disjoint paths, from each component's flow tree.
  const pairsByDisjointPaths: Record<string, number> = {};
  const singlePathPartners = new Array<number>(n).fill(0);
  let edgeConnectivity = Number.POSITIVE_INFINITY;
  for (const members of disjointPaths ? components : []) {
    if (members.length < 2) continue;
    const tree = flowTree(graph, members);
    const neighbours = new Map<number, [number, number][]>();
    for (const [child, { parent, weight }] of tree) {
      edgeConnectivity = Math.min(edgeConnectivity, weight);
      neighbours.set(child, [...(neighbours.get(child) ?? []), [parent, weight]]);
      neighbours.set(parent, [...(neighbours.get(parent) ?? []), [child, weight]]);
    }
    // From each node, the smallest weight on the tree path to every other node of the component.
    for (const source of members) {
      const bottleneck = new Map<number, number>([[source, Number.POSITIVE_INFINITY]]);
      const queue = [source];
      for (let i = 0; i < queue.length; i++) {
        const u = queue[i] as number;
        for (const [v, weight] of neighbours.get(u) ?? []) {
          if (bottleneck.has(v)) continue;
          const paths = Math.min(bottleneck.get(u) as number, weight);
          bottleneck.set(v, paths);
          queue.push(v);
          if (v > source) pairsByDisjointPaths[paths] = (pairsByDisjointPaths[paths] ?? 0) + 1;
          if (paths === 1) singlePathPartners[source] = (singlePathPartners[source] as number) + 1;
        }
      }
    }
  }

  return {
    nodes: n,
    links: graph.ends.length,
    components: components.length,
    bridges: cutOffs.filter((cut) => cut.kind === "link").map((cut) => cut.id),
    articulationPoints: graph.names.filter((_, i) => articulation[i]),
    cutOffs,
    edgeConnectivity: Number.isFinite(edgeConnectivity) ? edgeConnectivity : 0,
    pairsByDisjointPaths,
    perNode: graph.names.map((node, i) => ({
      node,
      degree: (graph.edges[i] as unknown[]).length,
      articulationPoint: articulation[i] as boolean,
      singlePathPartners: singlePathPartners[i] as number,
      cutOffBy: cutOffBy[i] as string[],
    })),
  };
}
