// The planner's use of the fragility analysis (shared/src/topology/fragility.ts): the record of the mesh it routes on,
// written on every topology change, and whether a repair's new paths leave the mesh more fragile than before the fault.
import {
  analyzeFragility,
  type Fragility,
  type FragilityCounts,
  type FragilityLink,
  type MeshGraph,
  type PlanFragility,
  type TopologyAnalysis,
} from "@x0/shared";

/** The links of `graph` traffic can use (finite cost), and the `alsoUsable` ones whatever their cost. */
export function usableLinks(graph: MeshGraph, alsoUsable: ReadonlySet<string> = new Set()): FragilityLink[] {
  return graph.links.filter((link) => Number.isFinite(link.cost) || alsoUsable.has(link.id)).map((link) => ({ id: link.id, a: link.a.node, b: link.b.node }));
}

/** What changes the analysis: the nodes and the usable links. */
export function topologySignature(graph: MeshGraph): string {
  return `${[...graph.nodes].sort().join(",")}/${usableLinks(graph)
    .map((link) => link.id)
    .sort()
    .join(",")}`;
}

/** Nodes a bridge or an articulation point would cut off. */
function cutOffNodes(fragility: Fragility): string[] {
  return fragility.perNode.filter((node) => node.cutOffBy.length > 0).map((node) => node.node);
}

function countsOf(fragility: Fragility): FragilityCounts {
  return {
    components: fragility.components,
    bridges: fragility.bridges.length,
    articulation_points: fragility.articulationPoints.length,
    single_point_of_failure_nodes: cutOffNodes(fragility).length,
  };
}

/** The x0_topology record of the mesh's fragility on the links usable now. */
export function analysisRecord(graph: MeshGraph, now: number): TopologyAnalysis {
  const fragility = analyzeFragility(graph.nodes, usableLinks(graph));
  return {
    v: 1,
    computed_at: now,
    nodes: fragility.nodes,
    links: fragility.links,
    components: fragility.components,
    bridges: fragility.bridges,
    articulation_points: fragility.articulationPoints,
    cut_offs: fragility.cutOffs,
    edge_connectivity: fragility.edgeConnectivity,
    pairs_by_disjoint_paths: Object.fromEntries(Object.entries(fragility.pairsByDisjointPaths).map(([paths, count]) => [String(paths), count])),
    single_point_of_failure_nodes: cutOffNodes(fragility),
    per_node: fragility.perNode.map((node) => ({
      node: node.node,
      degree: node.degree,
      articulation_point: node.articulationPoint,
      single_path_partners: node.singlePathPartners,
      cut_off_by: node.cutOffBy.slice(0, 64),
    })),
  };
}

/**
 * A repair's fragility: the mesh before the fault (the `failed` links counted usable) against the one it routes on,
 * and the articulation points and bridges of the latter that the moved `paths` (node lists) cross.
 */
export function planFragility(graph: MeshGraph, failed: readonly string[], paths: readonly string[][]): PlanFragility {
  const quick = { disjointPaths: false };
  const before = analyzeFragility(graph.nodes, usableLinks(graph, new Set(failed)), quick);
  const after = analyzeFragility(graph.nodes, usableLinks(graph), quick);
  const points = new Set(after.articulationPoints);
  const bridges = new Map(
    graph.links
      .filter((link) => after.bridges.includes(link.id))
      .flatMap((link) => [
        [`${link.a.node}>${link.b.node}`, link.id],
        [`${link.b.node}>${link.a.node}`, link.id],
      ]),
  );
  const crossed = new Set<string>();
  for (const path of paths) {
    path.forEach((node, i) => {
      // A path's own ends are not at the mercy of themselves: only the nodes it passes through count.
      if (i > 0 && i < path.length - 1 && points.has(node)) crossed.add(node);
      const bridge = i > 0 ? bridges.get(`${path[i - 1]}>${node}`) : undefined;
      if (bridge) crossed.add(bridge);
    });
  }
  const beforeCounts = countsOf(before);
  const afterCounts = countsOf(after);
  const worse =
    afterCounts.bridges > beforeCounts.bridges ||
    afterCounts.articulation_points > beforeCounts.articulation_points ||
    afterCounts.single_point_of_failure_nodes > beforeCounts.single_point_of_failure_nodes ||
    afterCounts.components > beforeCounts.components;
  return { more_fragile: worse || crossed.size > 0, before: beforeCounts, after: afterCounts, paths_cross: [...crossed].sort().slice(0, 64) };
}
