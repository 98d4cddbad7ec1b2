// The deny (quarantine) and fault-injection maps of one interface, reached through their pins: how the executor, the lab and
// the chaos tests change the data plane without talking to the monitor process.
import { join } from "node:path";
import type { Libbpf } from "../bpf/libbpf.ts";
import { BpfMap } from "../bpf/map.ts";
import { decodeFault, decodeKey, encodeDeny, encodeFault, encodeKey, type NeighbourKey, SIZES } from "./layout.ts";

/** The default pin root; each interface's maps are in `<root>/<iface>/`. */
export const DEFAULT_PIN_ROOT = "/sys/fs/bpf/x0";

/** Policy maps of one interface opened from bpffs. */
export class PinnedPolicy {
  private constructor(
    private readonly lib: Libbpf,
    private readonly denyMap: BpfMap,
    private readonly faultMap: BpfMap,
  ) {}

  /** Opens `<pinRoot>/<iface>/{deny,fault}`; throws BpfError ENOENT when the monitor never loaded on that interface. */
  static open(lib: Libbpf, iface: string, pinRoot = DEFAULT_PIN_ROOT): PinnedPolicy {
    const deny = BpfMap.openPinned(lib, join(pinRoot, iface, "deny")).expectLayout(SIZES.key, SIZES.deny);
    try {
      const fault = BpfMap.openPinned(lib, join(pinRoot, iface, "fault")).expectLayout(SIZES.key, SIZES.fault);
      return new PinnedPolicy(lib, deny, fault);
    } catch (error) {
      deny.close();
      throw error;
    }
  }

  /** Drops every packet from `neighbour` (exact MAC + IPv4 key; ipv4 null matches its non-IPv4 frames). */
  deny(neighbour: NeighbourKey): void {
    this.denyMap.update(encodeKey(neighbour), encodeDeny(this.lib.monotonicNs()));
  }

  /** Lifts a deny; false when the neighbour was not denied. */
  allow(neighbour: NeighbourKey): boolean {
    return this.denyMap.delete(encodeKey(neighbour));
  }

  /** Drops packets from `neighbour` with `probability` in [0, 1] (0 removes the entry). */
  setFault(neighbour: NeighbourKey, probability: number): void {
    if (probability === 0) this.faultMap.delete(encodeKey(neighbour));
    else this.faultMap.update(encodeKey(neighbour), encodeFault(probability));
  }

  /** The denied neighbours. */
  denied(): NeighbourKey[] {
    return this.denyMap.entries().map(([key]) => decodeKey(key));
  }

  /** The neighbours with a fault probability. */
  faults(): { neighbour: NeighbourKey; probability: number }[] {
    return this.faultMap.entries().map(([key, value]) => ({ neighbour: decodeKey(key), probability: decodeFault(value) }));
  }

  /** Closes the map fds. */
  close(): void {
    this.denyMap.close();
    this.faultMap.close();
  }
}
