// The node's announcement in x0_topology: its sampled interfaces with their MAC and IPv4 addresses (read in the monitor's
// own network namespace), its service address and hello port; written again whenever what it says changes.
import { networkInterfaces } from "node:os";
import type { InterfaceSample, Logger, NodeAnnouncement, Telemetry } from "@x0/shared";

/** Address facts of one interface, as node:os reports them. */
export interface InterfaceAddresses {
  mac: string | null;
  ipv4: string[];
}

/** MAC and IPv4/prefix of every interface of this network namespace (interfaces without addresses are absent). */
export function readAddresses(): Map<string, InterfaceAddresses> {
  const out = new Map<string, InterfaceAddresses>();
  for (const [name, entries] of Object.entries(networkInterfaces())) {
    const ipv4 = (entries ?? []).filter((e) => e.family === "IPv4").map((e) => e.cidr ?? `${e.address}/32`);
    const mac = entries?.find((e) => e.mac && e.mac !== "00:00:00:00:00:00")?.mac ?? null;
    out.set(name, { mac, ipv4 });
  }
  return out;
}

/** What the node announces, without the timestamp (so unchanged announcements compare equal). */
export function announcement({
  node,
  interfaces,
  ebpf,
  serviceAddress,
  probePort,
  addresses = readAddresses(),
  batman,
}: {
  node: string;
  interfaces: InterfaceSample[];
  ebpf: boolean;
  serviceAddress: string | null;
  probePort: number;
  addresses?: Map<string, InterfaceAddresses>;
  /** The node's batman-adv mesh, when it runs one; its address is the mesh interface's first IPv4. */
  batman?: { mesh_interface: string; originator: string; hard_interfaces: string[] } | undefined;
}): Omit<NodeAnnouncement, "updated_at"> {
  return {
    node,
    interfaces: interfaces.map(({ name, operstate, xdp }) => {
      const known = addresses.get(name);
      return { name, operstate, xdp: xdp?.mode ?? "off", mac: known?.mac ?? null, ipv4: known?.ipv4 ?? [] };
    }),
    service_address: serviceAddress,
    probe_port: probePort,
    ebpf,
    ...(batman === undefined ? {} : { batman: { ...batman, address: addresses.get(batman.mesh_interface)?.ipv4[0] ?? null } }),
  };
}

/**
 * The interfaces' addresses, read at most every `refreshMs` or at once when their names or states change: reading them
 * (getifaddrs over netlink) every 100 ms sample would be most of an idle monitor's work.
 */
export class AddressCache {
  #addresses = new Map<string, InterfaceAddresses>();
  #readAt = Number.NEGATIVE_INFINITY;
  #shape = "";
  /** Bumped whenever the addresses read differ from the previous read. */
  version = 0;

  constructor(
    private readonly refreshMs = 5000,
    private readonly read: () => Map<string, InterfaceAddresses> = readAddresses,
  ) {}

  /** The addresses for interfaces of `shape` (e.g. names and operstates joined) at time `now`. */
  get(shape: string, now: number): Map<string, InterfaceAddresses> {
    if (shape === this.#shape && now - this.#readAt < this.refreshMs) return this.#addresses;
    const next = this.read();
    this.#readAt = now;
    this.#shape = shape;
    if (JSON.stringify([...next]) !== JSON.stringify([...this.#addresses])) {
      this.#addresses = next;
      this.version += 1;
    }
    return this.#addresses;
  }
}

/** The node's batman-adv mesh as announced (absent when it runs none). */
export type AnnouncedMesh = Parameters<typeof announcement>[0]["batman"];

/** Options of a {@link TopologyAnnouncer}. */
export interface TopologyAnnouncerOptions {
  node: string;
  serviceAddress: string | null;
  probePort: number;
  /** The node's batman-adv mesh now. */
  mesh: () => AnnouncedMesh;
  /** Writes the announcement (to x0_topology); a rejection is logged and the next sample writes again. */
  write: (announcement: NodeAnnouncement) => Promise<unknown>;
  logger: Logger;
  addresses?: AddressCache;
  now?: () => number;
}

/**
 * Writes the node's announcement when a sample changes what it says: the interfaces (names, states, XDP modes), their
 * addresses, eBPF, or the mesh. The analyzer and planner build the graph from it.
 */
export class TopologyAnnouncer {
  readonly #addresses: AddressCache;
  /** What the last write said (empty after a failed write, so the next sample writes again). */
  #written = "";

  constructor(private readonly options: TopologyAnnouncerOptions) {
    this.#addresses = options.addresses ?? new AddressCache();
  }

  /** Writes the announcement for `telemetry` unless it says what the last write said. */
  update(telemetry: Telemetry): void {
    const { node, serviceAddress, probePort, write, logger, now = Date.now } = this.options;
    const shape = telemetry.interfaces.map((i) => `${i.name}:${i.operstate}:${i.xdp?.mode ?? "off"}`).join(",");
    const addresses = this.#addresses.get(shape, telemetry.ts);
    const mesh = this.options.mesh();
    const said = `${shape}|${this.#addresses.version}|${telemetry.ebpf}|${mesh ? `${mesh.originator}:${mesh.hard_interfaces.join(",")}` : ""}`;
    if (said === this.#written) return;
    this.#written = said;
    const announced = announcement({ node, interfaces: telemetry.interfaces, ebpf: telemetry.ebpf, serviceAddress, probePort, addresses, batman: mesh });
    write({ ...announced, updated_at: now() }).catch((error) => {
      this.#written = "";
      logger.warn("cannot update topology", { error });
    });
  }
}
