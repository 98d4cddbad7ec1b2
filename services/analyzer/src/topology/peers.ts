// Which node and link a probe peer address, an interface or a batman-adv neighbour MAC is, from the node announcements in
// x0_topology.
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
  #byMac = new Map<string, { node: string; interface: string }>();
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

  /** The node and interface owning `mac`, when an announcement names it. */
  ownerOfMac(mac: string): { node: string; interface: string } | undefined {
    return this.#byMac.get(mac.toLowerCase());
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

  /**
   * The target of the batman-adv neighbour `mac` seen on `node`'s hard interface `iface`: the link to the node owning that
   * MAC (the same id the probes and interfaces of that link resolve to), or `link:<node>|<mac>` when no node announces it.
   */
  resolveBatmanNeighbour(node: string, iface: string, mac: string): Resolved {
    const owner = this.ownerOfMac(mac);
    if (!owner || owner.node === node)
      return { target: { type: "link", id: `link:${node}|${mac}`, nodes: [node], interfaces: [iface] }, localInterface: iface };
    const link = this.linksOf(node).find((l) => (l.a.node === node ? l.b : l.a).node === owner.node);
    if (link) return { target: linkTarget(node, owner.node, link), peerNode: owner.node, localInterface: iface };
    // A batman-only link (hard interfaces without addresses): both interfaces are still known, from the MACs.
    const nodes = [node, owner.node].sort();
    const interfaces = nodes.map((end) => (end === node ? iface : owner.interface));
    return { target: { type: "link", id: linkId(node, owner.node), nodes, interfaces }, peerNode: owner.node, localInterface: iface };
  }

  /**
   * Whether the batman-adv neighbour `mac` on `node`'s `iface` is across an attached hard interface: false only when an
   * announcement of either end lists its mesh's hard interfaces without that end's interface (detached, e.g. by the planner
   * to route around a fault, so batman-adv's silence about it says nothing about the link).
   */
  batmanAttached(node: string, iface: string, mac: string): boolean {
    const owner = this.ownerOfMac(mac);
    return this.#isHardInterface(node, iface) && (!owner || this.#isHardInterface(owner.node, owner.interface));
  }

  /** False only when the node announces a batman-adv mesh whose hard interfaces do not include `iface`. */
  #isHardInterface(node: string, iface: string): boolean {
    const batman = this.#announcements.get(node)?.batman;
    return !batman || batman.hard_interfaces.includes(iface);
  }

  #rebuild(): void {
    this.#links = linksFromAnnouncements([...this.#announcements.values()]);
    this.#byAddress = new Map();
    this.#byMac = new Map();
    for (const announcement of this.#announcements.values()) {
      if (announcement.service_address) this.#byAddress.set(announcement.service_address, announcement.node);
      for (const iface of announcement.interfaces) {
        for (const cidr of iface.ipv4) this.#byAddress.set(cidr.split("/")[0] as string, announcement.node);
        // A MAC can sit on several interfaces of a node (a bridge and its port): the batman hard interface wins.
        const mac = iface.mac?.toLowerCase();
        if (mac && (!this.#byMac.has(mac) || announcement.batman?.hard_interfaces.includes(iface.name)))
          this.#byMac.set(mac, { node: announcement.node, interface: iface.name });
      }
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
