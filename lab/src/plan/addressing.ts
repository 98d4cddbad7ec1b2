// Lab addressing (docs/self-healing.md "Lab"): link /30s from 10.200.0.0/16, service addresses from 10.255.0.0/16,
// and a management /16 whose root side is the bridge.
import { LabSpecError } from "../errors.ts";

/** The prefix `x0 lab` uses unless told otherwise. */
export const DEFAULT_LAB_PREFIX = "x0";
/** Second octet of the default lab's management network, 10.254.0.0/16. */
export const DEFAULT_MGMT_OCTET = 254;
/** Most links a lab may have: 10.200.0.0/16 holds 64 /30s per third octet. */
export const MAX_LAB_LINKS = 64 * 256;
/** Second octets the management network may not use: the link and service ranges live in every namespace. */
const RESERVED_OCTETS = new Set([200, 255]);

/** The two addresses of link number `index` (0-based): 10.200.⌊k/64⌋.(k mod 64)·4 + 1 and + 2, on a /30. */
export function linkAddresses(index: number): [string, string] {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_LAB_LINKS) throw new LabSpecError(`link number ${index} is outside 0…${MAX_LAB_LINKS - 1}`);
  const base = `10.200.${Math.floor(index / 64)}.`;
  const host = (index % 64) * 4;
  return [`${base}${host + 1}`, `${base}${host + 2}`];
}

/** The service address of node number `k`: 10.255.⌊k/256⌋.(k mod 256), a /32 on the node's `lo`. */
export function serviceAddress(k: number): string {
  return `10.255.${Math.floor(k / 256)}.${k % 256}`;
}

/** A management network 10.<octet>.0.0/16. */
export interface MgmtSubnet {
  octet: number;
}

/** The management network's CIDR text, e.g. `10.254.0.0/16`. */
export function mgmtSubnetText({ octet }: MgmtSubnet): string {
  return `10.${octet}.0.0/16`;
}

/** The root side of the management network (the bridge's address), where NATS listens. */
export function mgmtBridgeAddress({ octet }: MgmtSubnet): string {
  return `10.${octet}.0.1`;
}

/** Node number `k`'s management address: 10.<octet>.(⌊k/256⌋+1).(k mod 256). */
export function mgmtNodeAddress({ octet }: MgmtSubnet, k: number): string {
  return `10.${octet}.${Math.floor(k / 256) + 1}.${k % 256}`;
}

/** Parses `10.N.0.0/16`; N may not be 200 or 255 (the link and service ranges). */
export function parseMgmtSubnet(text: string): MgmtSubnet {
  const match = /^10\.(\d{1,3})\.0\.0\/16$/.exec(text.trim());
  const octet = match?.[1] === undefined ? Number.NaN : Number(match[1]);
  if (!(octet >= 0 && octet <= 254)) throw new LabSpecError(`management subnet ${JSON.stringify(text)} is not 10.<0-254>.0.0/16`);
  if (RESERVED_OCTETS.has(octet)) throw new LabSpecError(`management subnet ${text} overlaps the lab's link or service addresses (10.200/16, 10.255/16)`);
  return { octet };
}

/**
 * The management network of a prefix: 10.254.0.0/16 for the default prefix, otherwise 10.(100 + FNV-1a(prefix) mod 100).0.0/16,
 * so a test lab next to a user's `x0` lab gets its own bridge subnet without being told one.
 */
export function defaultMgmtSubnet(prefix: string): MgmtSubnet {
  if (prefix === DEFAULT_LAB_PREFIX) return { octet: DEFAULT_MGMT_OCTET };
  let hash = 0x811c9dc5;
  for (const char of prefix) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return { octet: 100 + (hash % 100) };
}
