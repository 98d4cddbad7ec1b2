// The deny (quarantine) and fault-injection maps of one interface, reached through their pins: how the executor, the lab and
// the chaos tests change the data plane without talking to the monitor process. Every write goes through this module, because
// the program reads deny and fault only while the policy flag (struct x0_policy) is raised, and this module keeps it raised.
import { join } from "node:path";
import type { Libbpf } from "../bpf/libbpf.ts";
import { BpfMap, type MapErrorSink } from "../bpf/map.ts";
import {
  decodeFault,
  decodeKey,
  encodeDeny,
  encodeFault,
  encodeKey,
  encodePolicy,
  isMacWideKey,
  type NeighbourKey,
  PolicyBits,
  SIZES,
  XDP_MAPS,
} from "./layout.ts";

/** The default pin root; each interface's maps are in `<root>/<iface>/`. */
export const DEFAULT_PIN_ROOT = "/sys/fs/bpf/x0";

const POLICY_INDEX = new Uint8Array(4);
/** Where {@link policyFlag} reads the flag: it runs every sample, so it allocates nothing. */
const policyValue = Buffer.alloc(SIZES.policy);

/** The maps the policy flag protocol touches. */
export interface PolicyMaps {
  deny: BpfMap;
  fault: BpfMap;
  policy: BpfMap;
}

/** The policy bits deny and fault call for now: none when both are empty, MAC_WIDE when a MAC-wide entry exists. */
function policyBits({ deny, fault }: PolicyMaps): number {
  if (deny.isEmpty() && fault.isEmpty()) return 0;
  const macWide = [...deny.entries(), ...fault.entries()].some(([key]) => isMacWideKey(key));
  return PolicyBits.ENTRIES | (macWide ? PolicyBits.MAC_WIDE : 0);
}

/**
 * Sets the policy flag from what deny and fault hold: call after every insert or delete. Safe against concurrent writers
 * without a lock: each writes what it saw after its own change, then looks again and writes again when another change
 * slipped in between, so the last write to the flag is never a stale "empty" (or a stale "no MAC-wide entry").
 * Returns whether any lookup is on.
 */
export function syncPolicyFlag(maps: PolicyMaps): boolean {
  let bits = policyBits(maps);
  // Bounded: under endless concurrent churn the other writers' own syncs come last anyway.
  for (let attempt = 0; attempt < 4; attempt++) {
    maps.policy.update(POLICY_INDEX, encodePolicy(bits));
    const again = policyBits(maps);
    if (again === bits) break;
    bits = again;
  }
  return bits !== 0;
}

/** Whether the policy flag is raised. */
export function policyFlag({ policy }: PolicyMaps): boolean {
  return !policy.lookupInto(POLICY_INDEX, policyValue) || policyValue.readUInt32LE(0) !== 0;
}

/** Opens the pinned deny, fault and policy maps in `dir`, checking their layout; none stays open when one fails. */
export function openPolicyMaps(lib: Libbpf, dir: string, onMapError?: MapErrorSink): PolicyMaps {
  const opened: BpfMap[] = [];
  const open = (name: keyof PolicyMaps) => {
    const map = BpfMap.openPinned(lib, join(dir, name), onMapError);
    opened.push(map);
    return map.expectLayout(XDP_MAPS[name]);
  };
  try {
    return { deny: open("deny"), fault: open("fault"), policy: open("policy") };
  } catch (error) {
    for (const map of opened) map.close();
    throw error;
  }
}

/** Policy maps of one interface opened from bpffs. */
export class PinnedPolicy {
  private constructor(
    private readonly lib: Libbpf,
    private readonly maps: PolicyMaps,
  ) {}

  /** Opens `<pinRoot>/<iface>/{deny,fault,policy}`; throws BpfError ENOENT when the monitor never loaded on that interface. */
  static open(lib: Libbpf, iface: string, pinRoot = DEFAULT_PIN_ROOT): PinnedPolicy {
    return new PinnedPolicy(lib, openPolicyMaps(lib, join(pinRoot, iface)));
  }

  /** Drops every packet from `neighbour` (exact MAC + IPv4 key; ipv4 null matches its non-IPv4 frames). */
  deny(neighbour: NeighbourKey): void {
    this.maps.deny.update(encodeKey(neighbour), encodeDeny(this.lib.monotonicNs()));
    syncPolicyFlag(this.maps);
  }

  /** Lifts a deny; false when the neighbour was not denied. */
  allow(neighbour: NeighbourKey): boolean {
    const removed = this.maps.deny.delete(encodeKey(neighbour));
    syncPolicyFlag(this.maps);
    return removed;
  }

  /** Drops packets from `neighbour` with `probability` in [0, 1] (0 removes the entry). */
  setFault(neighbour: NeighbourKey, probability: number): void {
    if (probability === 0) {
      this.maps.fault.delete(encodeKey(neighbour));
      syncPolicyFlag(this.maps);
    } else {
      this.maps.fault.update(encodeKey(neighbour), encodeFault(probability));
      syncPolicyFlag(this.maps);
    }
  }

  /** The denied neighbours. */
  denied(): NeighbourKey[] {
    return this.maps.deny.entries().map(([key]) => decodeKey(key));
  }

  /** The neighbours with a fault probability. */
  faults(): { neighbour: NeighbourKey; probability: number }[] {
    return this.maps.fault.entries().map(([key, value]) => ({ neighbour: decodeKey(key), probability: decodeFault(value) }));
  }

  /** Whether the program currently looks deny and fault up (false only while both are empty). */
  active(): boolean {
    return policyFlag(this.maps);
  }

  /** The policy flag's bits (PolicyBits): which lookups the program makes now. */
  bits(): number {
    return this.maps.policy.lookup(POLICY_INDEX)?.readUInt32LE(0) ?? 0;
  }

  /** Closes the map fds. */
  close(): void {
    this.maps.deny.close();
    this.maps.fault.close();
    this.maps.policy.close();
  }
}
