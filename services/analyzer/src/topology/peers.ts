// Which node and link a probe peer address or an interface is, from the node announcements in x0_topology.
import { type IncidentTarget, type Link, linkId, linksFromAnnouncements, type NodeAnnouncement } from "@x0/shared";

/** Where a probe pair or an interface leads. */
export interface Resolved {
  target: IncidentTarget;
  /** The other end, when it is a known node. */
  peerNode?: string;
  /** The observing node's interface on the link, when known. */
  localInterface?: string;
}

/** The host part of "host:port" (IPv6 literals are not probed by the monitor). */
export function hostOf(peer: string): string {
  const colon = peer.lastIndexOf(":");
  return colon > 0 && peer.indexOf(":") === colon ? peer.slice(0, colon) : peer;
}

/** The node announcements, and the links and addresses derived from them; rebuilt on each change (meshes are small). */
export class PeerDirectory {
  readonly #announcements = new Map<string, NodeAnnouncement>();
  #links: Link[] = [];
  #byAddress = new Map<string, string>();
  #linksByNode = new Map<string, Link[]>();

  /** Records (or replaces) a node's announcement. */
  upsert(announcement: NodeAnnouncement): void {
    this.#announcements.set(announcement.node, announcement);
    this.#rebuild();
  }

  /** Forgets a node (its key was deleted). */
  remove(node: string): void {
    if (this.#announcements.delete(node)) this.#rebuild();
  }

  /** Announced nodes. */
  get size(): number {
    return this.#announcements.size;
  }

  /** The node owning `address` (an interface or service address). */
  nodeOf(address: string): string | undefined {
    return this.#byAddress.get(address);
  }

  /** The links of `node` (empty when it is not announced). */
  linksOf(node: string): readonly Link[] {
    return this.#linksByNode.get(node) ?? [];
  }

  /** The link `node`'s interface `name` is an end of. */
  linkOfInterface(node: string, name: string): Link | undefined {
    return this.linksOf(node).find((link) => (link.a.node === node && link.a.interface === name) || (link.b.node === node && link.b.interface === name));
  }

  /** The target of probes from `node` to `peer` ("host:port"): the link to the peer's node, or `link:<node>|<address>` when unknown. */
  resolvePeer(node: string, peer: string): Resolved {
    const address = hostOf(peer);
    const peerNode = this.nodeOf(address);
    if (!peerNode || peerNode === node) return { target: { type: "link", id: `link:${node}|${address}`, nodes: [node] } };
    const link = this.linksOf(node).find((l) => (l.a.node === node ? l.b : l.a).node === peerNode);
    return { target: linkTarget(node, peerNode, link), peerNode, localInterface: link ? endOf(link, node).interface : undefined };
  }

  /** The target of `node`'s interface `name`: its link when announced, else the interface itself. */
  resolveInterface(node: string, name: string): Resolved {
    const link = this.linkOfInterface(node, name);
    if (!link) return { target: { type: "interface", id: `interface:${node}/${name}`, nodes: [node], interfaces: [name] }, localInterface: name };
    const peerNode = link.a.node === node ? link.b.node : link.a.node;
    return { target: linkTarget(node, peerNode, link), peerNode, localInterface: name };
  }

  #rebuild(): void {
    this.#links = linksFromAnnouncements([...this.#announcements.values()]);
    this.#byAddress = new Map();
    for (const announcement of this.#announcements.values()) {
      if (announcement.service_address) this.#byAddress.set(announcement.service_address, announcement.node);
      for (const iface of announcement.interfaces) for (const cidr of iface.ipv4) this.#byAddress.set(cidr.split("/")[0] as string, announcement.node);
    }
    this.#linksByNode = new Map();
    for (const link of this.#links) {
      for (const end of [link.a.node, link.b.node]) this.#linksByNode.set(end, [...(this.#linksByNode.get(end) ?? []), link]);
    }
  }
}

function endOf(link: Link, node: string) {
  return link.a.node === node ? link.a : link.b;
}

/** A link target with both ends sorted, interfaces in the same order when the link is announced. */
function linkTarget(x: string, y: string, link: Link | undefined): IncidentTarget {
  const nodes = [x, y].sort();
  return { type: "link", id: linkId(x, y), nodes, ...(link ? { interfaces: [link.a.interface, link.b.interface] } : {}) };
}
