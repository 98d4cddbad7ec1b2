// SPIFFE ids of x0 workloads: spiffe://<trust-domain>/x0/<service>[/<node>] (and /x0/observer/<name> for outside readers).
import { X0Error } from "../errors.ts";

/** The trust domain used when none is configured. */
export const DEFAULT_TRUST_DOMAIN = "x0tta6bl4.mesh";

/** A string is not a valid SPIFFE id, or not an x0 one. */
export class SpiffeIdError extends X0Error {}

/** A parsed x0 SPIFFE id. */
export interface SpiffeId {
  trustDomain: string;
  /** The path segments after the trust domain, e.g. ["x0", "monitor", "n1"]. */
  segments: string[];
  /** The workload role: the service name, or "observer". */
  role: string;
  /** The node of per-node services, or the observer's name. */
  name?: string;
}

// The SPIFFE spec: trust domain lower-case [a-z0-9.-_]; path segments [A-Za-z0-9.-_], none empty, "." or "..".
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
const SEGMENT = /^[A-Za-z0-9._-]{1,64}$/;

/** Parses `spiffe://<td>/x0/<role>[/<name>]`; throws {@link SpiffeIdError}. */
export function parseSpiffeId(text: string): SpiffeId {
  const match = /^spiffe:\/\/([^/]+)(\/.*)?$/.exec(text);
  if (!match?.[1] || !TRUST_DOMAIN.test(match[1])) throw new SpiffeIdError(`${JSON.stringify(text)} is not a SPIFFE id (spiffe://<trust-domain>/<path>)`);
  const segments = (match[2] ?? "").split("/").slice(1);
  if (segments.some((s) => !SEGMENT.test(s) || s === "." || s === "..")) throw new SpiffeIdError(`${JSON.stringify(text)} has an invalid path segment`);
  if (segments[0] !== "x0" || segments.length < 2 || segments.length > 3)
    throw new SpiffeIdError(`${JSON.stringify(text)} is not an x0 workload id (spiffe://<td>/x0/<role>[/<name>])`);
  return { trustDomain: match[1], segments, role: segments[1] as string, ...(segments[2] ? { name: segments[2] } : {}) };
}

/** Formats the id of a role (and node or observer name) in a trust domain. */
export function spiffeIdOf(trustDomain: string, role: string, name?: string): string {
  const id = `spiffe://${trustDomain}/x0/${role}${name ? `/${name}` : ""}`;
  parseSpiffeId(id);
  return id;
}
