// What each node announces about itself in the x0_topology bucket (`node.<node>`): the facts the planner builds its graph from.
import { z } from "zod";
import { EpochMillis, MacAddress, NodeId, OperState, XdpMode } from "./schemas.ts";

/** An IPv4 address with its prefix length, e.g. 10.200.0.1/30. */
export const Ipv4Cidr = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/([0-9]|[12][0-9]|3[0-2])$/, "must be <ipv4>/<prefix>");

/** One interface of a node as announced. */
export const AnnouncedInterface = z.object({
  name: z.string().min(1).max(15),
  operstate: OperState,
  xdp: XdpMode,
  mac: MacAddress.nullable().optional(),
  ipv4: z.array(Ipv4Cidr).max(64).default([]),
});
/** An announced interface. */
export type AnnouncedInterface = z.infer<typeof AnnouncedInterface>;

/** The node's batman-adv mesh, when it runs one: what the planner needs to turn route decisions into batman actions. */
export const AnnouncedBatman = z.object({
  mesh_interface: z.string().min(1).max(15).describe("The batman-adv mesh (soft) interface, e.g. bat0."),
  originator: MacAddress.describe("The node's originator address (its primary hard interface's MAC), as other nodes' originator tables show it."),
  hard_interfaces: z.array(z.string().min(1).max(15)).max(256).describe("Hard interfaces attached to the mesh, active or not."),
  address: Ipv4Cidr.nullable().optional().describe("The IPv4 address on the mesh interface, the one probes across the mesh use."),
});
/** An announced batman-adv mesh. */
export type AnnouncedBatman = z.infer<typeof AnnouncedBatman>;

/** `node.<node>` in x0_topology, written by the node's monitor whenever it changes. */
export const NodeAnnouncement = z.object({
  node: NodeId,
  interfaces: z.array(AnnouncedInterface).max(1024),
  service_address: z.ipv4().nullable().optional().describe("The address other nodes route to (the node's stable address)."),
  probe_port: z.number().int().min(0).max(65535).optional().describe("UDP port the node answers hellos on."),
  ebpf: z.boolean(),
  batman: AnnouncedBatman.optional().describe("Present when the node routes with batman-adv: links are then batman hard interfaces."),
  updated_at: EpochMillis,
});
/** A node announcement. */
export type NodeAnnouncement = z.infer<typeof NodeAnnouncement>;

/** The x0_topology key of a node's announcement. */
export function announcementKey(node: string): string {
  return `node.${node}`;
}
