// Synthetic meshes addressed as `x0 lab` addresses them (docs/self-healing.md): the planner's tests and its start-up rehearsal.
import type { NodeAnnouncement } from "@x0/shared";
import { DEFAULT_LINK_COST } from "./linkCost.ts";
import { TopologyState } from "./topology.ts";

/** Announcements of an R×C grid: nodes n1…nN row-major, link k on 10.200.⌊k/64⌋.(k mod 64)·4+1/+2 /30, service address 10.255.⌊k/256⌋.(k mod 256). */
export function gridAnnouncements(rows: number, cols: number, { probePort = 7471 }: { probePort?: number } = {}): NodeAnnouncement[] {
  const name = (row: number, col: number) => `n${row * cols + col + 1}`;
  const pairs: [string, string][] = [];
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      if (col + 1 < cols) pairs.push([name(row, col), name(row, col + 1)]);
      if (row + 1 < rows) pairs.push([name(row, col), name(row + 1, col)]);
    }
  }
  return announcementsOf(rows * cols, pairs, probePort);
}

/** Announcements of nodes n1…nN joined by `pairs`, addressed like the lab. */
export function announcementsOf(count: number, pairs: [string, string][], probePort = 7471): NodeAnnouncement[] {
  const interfaces = new Map<string, NodeAnnouncement["interfaces"]>();
  for (let n = 1; n <= count; n++)
    interfaces.set(`n${n}`, [{ name: "mgmt", operstate: "up", xdp: "off", ipv4: [`10.254.${Math.floor(n / 256) + 1}.${n % 256}/16`] }]);
  pairs.forEach(([a, b], k) => {
    const base = `10.200.${Math.floor(k / 64)}.`;
    const offset = (k % 64) * 4;
    interfaces.get(a)?.push({ name: `${a}-${b}`, operstate: "up", xdp: "native", ipv4: [`${base}${offset + 1}/30`] });
    interfaces.get(b)?.push({ name: `${b}-${a}`, operstate: "up", xdp: "native", ipv4: [`${base}${offset + 2}/30`] });
  });
  return [...interfaces].map(([node, ifaces], index) => ({
    node,
    interfaces: ifaces,
    service_address: `10.255.${Math.floor((index + 1) / 256)}.${(index + 1) % 256}`,
    probe_port: probePort,
    ebpf: true,
    updated_at: 0,
  }));
}

/** A node's batman-adv identity in the synthetic lab: mesh bat0, originator 02:ba:00:00:<hi>:<lo>, bat0 address 10.99.<hi>.<lo>/16. */
export function batmanIdentity(node: string): { originator: string; address: string } {
  const n = Number(node.slice(1));
  const hex = (value: number) => value.toString(16).padStart(2, "0");
  return { originator: `02:ba:00:00:${hex(n >> 8)}:${hex(n & 0xff)}`, address: `10.99.${n >> 8}.${n & 0xff}` };
}

/**
 * The announcements with a batman-adv mesh on every node but `without`, as `x0 lab --routing batman` builds it: bat0 with a
 * dummy primary0 as first hard interface (the originator's MAC) and every link interface (/30) as further ones.
 */
export function withBatman(announcements: NodeAnnouncement[], { without = [] }: { without?: string[] } = {}): NodeAnnouncement[] {
  return announcements.map((announcement) => {
    if (without.includes(announcement.node)) return announcement;
    const { originator, address } = batmanIdentity(announcement.node);
    const links = announcement.interfaces.filter((iface) => iface.ipv4.some((cidr) => cidr.endsWith("/30"))).map((iface) => iface.name);
    return {
      ...announcement,
      batman: { mesh_interface: "bat0", originator, hard_interfaces: ["primary0", ...links], address: `${address}/16` },
    };
  });
}

/** The topology of `announcements` with the default link cost and the shipped flap settings (3 downs a minute, 30 s stable). */
export function topologyOf(announcements: NodeAnnouncement[]): TopologyState {
  const topology = new TopologyState(DEFAULT_LINK_COST, { downs: 3, windowMs: 60_000, stableMs: 30_000 });
  for (const announcement of announcements) topology.announce(announcement);
  return topology;
}
