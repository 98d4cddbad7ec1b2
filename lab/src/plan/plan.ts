// The lab as data: every node, link, address and route a topology gives, before anything touches the kernel.
import { type Link, linkId, type MeshGraph, type Route, routeTables } from "@x0/shared";
import { LabSpecError } from "../errors.ts";
import { linkAddresses, MAX_LAB_LINKS, type MgmtSubnet, mgmtBridgeAddress, mgmtNodeAddress, serviceAddress } from "./addressing.ts";
import { bridgeOf, linkInterfaceOf, mgmtHostInterfaceOf, namespaceOf, netnsPathOf, pinRootOf, sysfsDirOf, validatePrefix } from "./names.ts";
import { type LabTopology, nodeNumber } from "./topology.ts";

/** One node of a lab. */
export interface LabNode {
  name: string;
  /** Node number k (n<k>). */
  number: number;
  netns: string;
  /** `/run/netns/<netns>`. */
  netnsPath: string;
  serviceAddress: string;
  mgmtAddress: string;
  /** Root-namespace end of its management veth. */
  mgmtHostInterface: string;
  /** Its link interfaces (`<node>-<peer>`), in link order. */
  interfaces: string[];
  /** Link addresses of its neighbours, the monitor's probe peers. */
  neighbourAddresses: string[];
  sysfsDir: string;
  pinRoot: string;
}

/** One end of a lab link. */
export interface LabLinkEnd {
  node: string;
  interface: string;
  address: string;
}

/** One veth link of a lab. */
export interface LabLink {
  /** Link number (0-based), which picks its /30. */
  index: number;
  id: string;
  a: LabLinkEnd;
  b: LabLinkEnd;
  /** batman-adv hop penalty of both its hard interfaces (0: batman-adv's default, none). */
  hopPenalty: number;
}

/** How a lab routes: static shortest-path routes, or batman-adv on every node (bat0 over the links, no routes). */
export const LAB_ROUTINGS = ["static", "batman"] as const;
/** A lab's routing. */
export type LabRouting = (typeof LAB_ROUTINGS)[number];

/**
 * How a batman lab's links compare: `equal` (veth links, all alike) or `distinct` (each link its own small hop penalty, so
 * no two paths tie, as links of a real mesh rarely do, and batman-adv's best path is one and the same in every run).
 */
export const LAB_LINK_COSTS = ["equal", "distinct"] as const;
/** A lab's link costs. */
export type LabLinkCosts = (typeof LAB_LINK_COSTS)[number];

/**
 * The hop penalty of link number `index` for `costs`: none when equal; when distinct, 2 + 2·(index mod 16), so 2…32: small
 * against batman-adv's default of 30 per hop, yet far enough apart that paths' TQs differ after its integer rounding.
 */
export function linkHopPenalty(index: number, costs: LabLinkCosts): number {
  return costs === "equal" ? 0 : 2 + 2 * (index % 16);
}

/** The batman-adv mesh interface of a batman lab's nodes. */
export const BATMAN_MESH_INTERFACE = "bat0";
/** The dummy interface each batman node attaches first: its MAC is the node's originator address, whatever links come and go. */
export const BATMAN_PRIMARY_INTERFACE = "primary0";

/** Everything a lab consists of. */
export interface LabPlan {
  prefix: string;
  topology: LabTopology;
  routing: LabRouting;
  /** Always `equal` with static routing. */
  linkCosts: LabLinkCosts;
  mgmt: MgmtSubnet;
  bridge: string;
  bridgeAddress: string;
  nodes: LabNode[];
  links: LabLink[];
  /** Static routes; none in a batman lab, where batman-adv routes. */
  routes: Route[];
}

/** Plans a lab: names, addresses, and (static routing) the shortest-path routes of `routeTables` on the lab's hop-count graph. */
export function planLab(topology: LabTopology, prefix: string, mgmt: MgmtSubnet, routing: LabRouting = "static", linkCosts: LabLinkCosts = "equal"): LabPlan {
  validatePrefix(prefix);
  // Static routes follow hop counts; only batman-adv reads a hop penalty.
  if (routing === "static" && linkCosts !== "equal") throw new LabSpecError(`link costs ${linkCosts} need batman routing; static routes follow hop counts`);
  if (topology.links.length > MAX_LAB_LINKS)
    throw new LabSpecError(`topology ${topology.spec} has ${topology.links.length} links; a lab has at most ${MAX_LAB_LINKS}`);
  const links: LabLink[] = topology.links.map(([a, b], index) => {
    const [addressA, addressB] = linkAddresses(index);
    return {
      index,
      id: linkId(a, b),
      a: { node: a, interface: linkInterfaceOf(a, b), address: addressA },
      b: { node: b, interface: linkInterfaceOf(b, a), address: addressB },
      hopPenalty: linkHopPenalty(index, linkCosts),
    };
  });
  const nodes: LabNode[] = topology.nodes.map((name) => {
    const number = nodeNumber(name);
    if (number === undefined) throw new LabSpecError(`node ${JSON.stringify(name)} is not a lab node name`);
    const ends = links.flatMap((link) => (link.a.node === name ? [[link.a, link.b]] : link.b.node === name ? [[link.b, link.a]] : []));
    return {
      name,
      number,
      netns: namespaceOf(prefix, name),
      netnsPath: netnsPathOf(prefix, name),
      serviceAddress: serviceAddress(number),
      mgmtAddress: mgmtNodeAddress(mgmt, number),
      mgmtHostInterface: mgmtHostInterfaceOf(prefix, number),
      interfaces: ends.map(([near]) => (near as LabLinkEnd).interface),
      neighbourAddresses: ends.map(([, far]) => (far as LabLinkEnd).address),
      sysfsDir: sysfsDirOf(prefix, name),
      pinRoot: pinRootOf(prefix, name),
    };
  });
  const graph: MeshGraph = {
    nodes: nodes.map((node) => node.name),
    links: links.map(({ a, b }): Link => {
      // The shared graph keeps a link's ends sorted by node id, as linkId does.
      const [first, second] = a.node < b.node ? [a, b] : [b, a];
      return { id: linkId(a.node, b.node), a: first, b: second, cost: 1 };
    }),
    serviceAddress: Object.fromEntries(nodes.map((node) => [node.name, node.serviceAddress])),
  };
  return {
    prefix,
    topology,
    routing,
    linkCosts,
    mgmt,
    bridge: bridgeOf(prefix),
    bridgeAddress: mgmtBridgeAddress(mgmt),
    nodes,
    links,
    routes: routing === "static" ? routeTables(graph) : [],
  };
}

/** The node of a plan by name; throws {@link LabSpecError} naming the lab's nodes when there is none. */
export function nodeOf(plan: LabPlan, name: string): LabNode {
  const node = plan.nodes.find((candidate) => candidate.name === name);
  if (node === undefined) throw new LabSpecError(`no node ${JSON.stringify(name)} in ${plan.topology.spec} (nodes n1…n${plan.nodes.length})`);
  return node;
}

/** The link between two nodes of a plan, oriented so `near` is `from`'s end; throws {@link LabSpecError} when they are not neighbours. */
export function linkBetween(plan: LabPlan, from: string, to: string): { link: LabLink; near: LabLinkEnd; far: LabLinkEnd } {
  nodeOf(plan, from);
  nodeOf(plan, to);
  const link = plan.links.find((candidate) => candidate.id === linkId(from, to));
  if (link === undefined) throw new LabSpecError(`${from} and ${to} are not linked in ${plan.topology.spec}`);
  return link.a.node === from ? { link, near: link.a, far: link.b } : { link, near: link.b, far: link.a };
}

/** The links of a node, each oriented from it. */
export function linksOf(plan: LabPlan, name: string): { link: LabLink; near: LabLinkEnd; far: LabLinkEnd }[] {
  nodeOf(plan, name);
  return plan.links.flatMap((link) =>
    link.a.node === name ? [{ link, near: link.a, far: link.b }] : link.b.node === name ? [{ link, near: link.b, far: link.a }] : [],
  );
}
