// Synthetic lab topologies for the planner's tests, addressed as `x0 lab` addresses them (docs/self-healing.md).
import type { NodeAnnouncement } from "@x0/shared";

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
