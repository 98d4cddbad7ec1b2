// The mesh as a graph: links found from announced addresses, and shortest-path routes (Dijkstra, deterministic ties).
import type { NodeAnnouncement } from "../contracts/announcement.ts";
import type { RouteRecord } from "../contracts/records.ts";

/** One end of a link. */
export interface LinkEnd {
  node: string;
  interface: string;
  /** The end's address on the link (no prefix). */
  address: string;
}

/** A link between two nodes, ends sorted by node id. */
export interface Link {
  /** `link:<a>|<b>`, nodes sorted. */
  id: string;
  a: LinkEnd;
  b: LinkEnd;
  /** Routing cost (ETX-like, >= 1); Infinity when the link is out of routing. */
  cost: number;
}

/** The graph routes are computed on. */
export interface MeshGraph {
  nodes: string[];
  links: Link[];
  /** Per node, the address routes to it target. */
  serviceAddress: Record<string, string>;
}

/** The id of the link between `x` and `y`. */
export function linkId(x: string, y: string): string {
  return x < y ? `link:${x}|${y}` : `link:${y}|${x}`;
}

function ipToInt(ip: string): number {
  return ip.split(".").reduce((acc, octet) => (acc << 8) + Number(octet), 0) >>> 0;
}

function network(cidr: string): { address: string; net: number; prefix: number } {
  const [address = "", prefixText = "32"] = cidr.split("/");
  const prefix = Number(prefixText);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { address, net: (ipToInt(address) & mask) >>> 0, prefix };
}

/** Links between announced nodes: two interfaces of different nodes with addresses in one subnet (point-to-point /30 or /31). */
export function linksFromAnnouncements(announcements: NodeAnnouncement[]): Link[] {
  const bySubnet = new Map<string, LinkEnd[]>();
  for (const announcement of announcements) {
    for (const iface of announcement.interfaces) {
      for (const cidr of iface.ipv4) {
        const { address, net, prefix } = network(cidr);
        if (prefix < 30) continue; // only point-to-point subnets are links; wider ones (management, LANs) are not
        const key = `${net}/${prefix}`;
        const ends = bySubnet.get(key) ?? [];
        ends.push({ node: announcement.node, interface: iface.name, address });
        bySubnet.set(key, ends);
      }
    }
  }
  const links: Link[] = [];
  for (const ends of bySubnet.values()) {
    if (ends.length !== 2) continue;
    const [first, second] = ends as [LinkEnd, LinkEnd];
    if (first.node === second.node) continue;
    const [a, b] = first.node < second.node ? [first, second] : [second, first];
    links.push({ id: linkId(a.node, b.node), a, b, cost: 1 });
  }
  return links.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

/** One route: on `node`, traffic to `destination` (a node) goes to `via` over `dev`, sourced from `src` (as x0_topology records it). */
export type Route = RouteRecord;

interface Edge {
  to: string;
  link: Link;
  cost: number;
}

function adjacency(graph: MeshGraph): Map<string, Edge[]> {
  const adj = new Map<string, Edge[]>(graph.nodes.map((n) => [n, []]));
  for (const link of graph.links) {
    if (!Number.isFinite(link.cost)) continue;
    adj.get(link.a.node)?.push({ to: link.b.node, link, cost: link.cost });
    adj.get(link.b.node)?.push({ to: link.a.node, link, cost: link.cost });
  }
  for (const edges of adj.values()) edges.sort((x, y) => (x.to < y.to ? -1 : x.to > y.to ? 1 : 0));
  return adj;
}

/** Shortest-path distances and first hops from `source`; ties go to the lexically smallest first hop, so every run agrees. */
export function shortestPaths(graph: MeshGraph, source: string): Map<string, { distance: number; firstHop: string; link: Link; path: string[] }> {
  const adj = adjacency(graph);
  const best = new Map<string, { distance: number; firstHop: string; link: Link; path: string[] }>();
  const done = new Set<string>();
  const frontier: { node: string; distance: number; firstHop: string; link: Link | undefined; path: string[] }[] = [
    { node: source, distance: 0, firstHop: "", link: undefined, path: [source] },
  ];
  const EPS = 1e-9;
  while (frontier.length > 0) {
    // Graphs here are small (tens to hundreds of nodes): a sorted array beats a heap's complexity in code size.
    frontier.sort((x, y) => x.distance - y.distance || (x.firstHop < y.firstHop ? -1 : x.firstHop > y.firstHop ? 1 : 0));
    const current = frontier.shift();
    if (!current || done.has(current.node)) continue;
    done.add(current.node);
    if (current.node !== source && current.link)
      best.set(current.node, { distance: current.distance, firstHop: current.firstHop, link: current.link, path: current.path });
    for (const edge of adj.get(current.node) ?? []) {
      if (done.has(edge.to)) continue;
      const distance = current.distance + edge.cost;
      const firstHop = current.node === source ? edge.to : current.firstHop;
      const firstLink = current.node === source ? edge.link : (current.link as Link);
      const known = frontier.find((f) => f.node === edge.to);
      if (known && (known.distance < distance - EPS || (Math.abs(known.distance - distance) <= EPS && known.firstHop <= firstHop))) continue;
      if (known) frontier.splice(frontier.indexOf(known), 1);
      frontier.push({ node: edge.to, distance, firstHop, link: firstLink, path: [...current.path, edge.to] });
    }
  }
  return best;
}

/** Every node's routes to every other reachable node's service address. */
export function routeTables(graph: MeshGraph): Route[] {
  const routes: Route[] = [];
  for (const node of [...graph.nodes].sort()) {
    const src = graph.serviceAddress[node];
    if (!src) continue;
    for (const [destination, hop] of shortestPaths(graph, node)) {
      const prefix = graph.serviceAddress[destination];
      if (!prefix) continue;
      const [near, far] = hop.link.a.node === node ? [hop.link.a, hop.link.b] : [hop.link.b, hop.link.a];
      routes.push({ node, destination, prefix, via: far.address, dev: near.interface, src, nextHop: hop.firstHop });
    }
  }
  return routes.sort((x, y) => (x.node + x.destination < y.node + y.destination ? -1 : 1));
}

/** The node path from `from` to `to`, or undefined when unreachable. */
export function pathBetween(graph: MeshGraph, from: string, to: string): string[] | undefined {
  return shortestPaths(graph, from).get(to)?.path;
}
