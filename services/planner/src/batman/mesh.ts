// Which links are batman-adv links (both ends announce a mesh and the link's interfaces are its hard interfaces), and the
// graph batman-adv routes on: batman links only, addressed by each node's mesh-interface (bat0) address.
import { type Link, type MeshGraph, type NodeAnnouncement, shortestPaths } from "@x0/shared";

/** One end of a batman link: the node's mesh interface and the hard interface the link is on. */
export interface BatmanEnd {
  node: string;
  mesh_interface: string;
  interface: string;
  /** The node's originator address (its primary hard interface's MAC). */
  originator: string;
}

/** A link both of whose ends are hard interfaces of their node's batman-adv mesh. */
export interface BatmanLink {
  id: string;
  a: BatmanEnd;
  b: BatmanEnd;
}

/**
 * Whether `iface` of `node` belongs to its mesh though the announcement may not list it now: the planner detached it,
 * or an earlier announcement listed it (the monitor announces what was attached at its last batctl read).
 */
export type Detached = (node: string, iface: string) => boolean;

/** The address on a node's mesh interface, without its prefix length; undefined when the node announces none. */
export function meshAddress(announcement: NodeAnnouncement | undefined): string | undefined {
  return announcement?.batman?.address?.split("/")[0];
}

function endOf(announcement: NodeAnnouncement | undefined, iface: string, detached: Detached): BatmanEnd | undefined {
  const batman = announcement?.batman;
  if (!announcement || !batman) return undefined;
  // A hard interface the planner took out of the mesh is still a batman end: the monitor announces only attached ones.
  if (!batman.hard_interfaces.includes(iface) && !detached(announcement.node, iface)) return undefined;
  return { node: announcement.node, mesh_interface: batman.mesh_interface, interface: iface, originator: batman.originator };
}

/** The batman ends of a link, or undefined when either end is not a hard interface of a batman-adv mesh. */
export function batmanLinkOf(link: Link, announcementOf: (node: string) => NodeAnnouncement | undefined, detached: Detached): BatmanLink | undefined {
  const a = endOf(announcementOf(link.a.node), link.a.interface, detached);
  const b = endOf(announcementOf(link.b.node), link.b.interface, detached);
  return a && b ? { id: link.id, a, b } : undefined;
}

/** The part of `graph` batman-adv routes on: its batman links (with their costs), addressed by mesh-interface addresses. */
export function meshGraph(graph: MeshGraph, batman: ReadonlyMap<string, BatmanLink>, addressOf: (node: string) => string | undefined): MeshGraph {
  const links = graph.links.filter((link) => batman.has(link.id));
  const nodes = [...new Set(links.flatMap((link) => [link.a.node, link.b.node]))].sort();
  const serviceAddress: Record<string, string> = {};
  for (const node of nodes) {
    const address = addressOf(node);
    if (address) serviceAddress[node] = address;
  }
  return { nodes, links, serviceAddress };
}

/** Shortest paths between every pair of a graph's nodes (by source, then destination), computed once per source on demand. */
export class PathCache {
  readonly #bySource = new Map<string, Map<string, string[]>>();

  constructor(readonly graph: MeshGraph) {}

  /** The node path from `from` to `to`, or undefined when unreachable. */
  path(from: string, to: string): string[] | undefined {
    let paths = this.#bySource.get(from);
    if (!paths) {
      paths = new Map([...shortestPaths(this.graph, from)].map(([destination, hop]) => [destination, hop.path]));
      this.#bySource.set(from, paths);
    }
    return paths.get(to);
  }

  /** Whether `to` is reachable from `from`. */
  reaches(from: string, to: string): boolean {
    return this.path(from, to) !== undefined;
  }
}

/** Every node on a batman link, once, with its mesh interface. */
export function meshNodesOf(links: Iterable<BatmanLink>): { node: string; mesh_interface: string }[] {
  const nodes = new Map<string, string>();
  for (const link of links) for (const end of [link.a, link.b]) nodes.set(end.node, end.mesh_interface);
  return [...nodes].map(([node, mesh_interface]) => ({ node, mesh_interface }));
}
