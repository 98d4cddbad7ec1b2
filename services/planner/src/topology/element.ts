// The element of the graph an incident target names (a link, or a node with all its links), as the strategies plan on it.
import { type IncidentTarget, type Link, linkId } from "@x0/shared";
import type { TopologyState } from "./topology.ts";

/** A failed (or restored) element: its links, what paths crossing it cross, a link's two ends, and how plans name it. */
export interface Element {
  links: string[];
  cross: { link: [string, string] } | { node: string };
  ends?: [string, string];
  what: string;
}

/** The element of one link, named `what` (default `link <a>|<b>`). */
export function linkElement(link: Pick<Link, "id" | "a" | "b">, what = `link ${link.a.node}|${link.b.node}`): Element {
  return { links: [link.id], cross: { link: [link.a.node, link.b.node] }, ends: [link.a.node, link.b.node], what };
}

/** The links an incident target names in the graph, or undefined when the graph cannot route around it. */
export function elementOf(topology: TopologyState, target: IncidentTarget | undefined): Element | undefined {
  if (!target || !topology.hasLinks()) return undefined;
  const [first, second] = target.nodes;
  if (target.type === "link" && first && second) {
    const link = topology.link(linkId(first, second));
    return link ? linkElement(link) : undefined;
  }
  if (target.type === "node" && first) {
    const links = topology.linksOf(first);
    return links.length > 0 ? { links, cross: { node: first }, what: `node ${first}` } : undefined;
  }
  if (target.type === "interface" && first && target.interfaces?.[0]) {
    // An interface fault is a fault of the link that interface ends.
    const iface = target.interfaces[0];
    for (const id of topology.linksOf(first)) {
      const link = topology.link(id);
      if (link && (link.a.node === first ? link.a : link.b).interface === iface) return linkElement(link);
    }
  }
  return undefined;
}
