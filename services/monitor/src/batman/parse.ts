// Parsers of batctl's JSON output (batctl 2023.0: `meshif <bat> oj` originators, `nj` neighbours).
import { type BatmanSample, X0Error } from "@x0/shared";
import { z } from "zod";

/** batctl printed something that is not the expected JSON. */
export class BatctlParseError extends X0Error {}

const Mac = z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);

// batctl's field names; `best` is only present (true) on the chosen route to an originator.
const Originator = z.object({
  orig_address: Mac,
  neigh_address: Mac,
  hard_ifname: z.string().min(1).max(15),
  tq: z.number().int().min(0).max(255),
  last_seen_msecs: z.number().int().nonnegative(),
  best: z.boolean().optional(),
});

const Neighbour = z.object({
  neigh_address: Mac,
  hard_ifname: z.string().min(1).max(15),
  last_seen_msecs: z.number().int().nonnegative(),
});

function parseJsonArray<T extends z.ZodType>(what: string, text: string, item: T): z.infer<T>[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BatctlParseError(`batctl ${what}: not JSON: ${text.slice(0, 80)}`, { cause: error });
  }
  const parsed = z.array(item).safeParse(json);
  if (!parsed.success) throw new BatctlParseError(`batctl ${what}: unexpected shape: ${parsed.error.issues[0]?.message ?? ""}`, { cause: parsed.error });
  return parsed.data;
}

/** Originators (every route, best flagged) from `batctl meshif <bat> oj`. */
export function parseOriginators(text: string): BatmanSample["originators"] {
  return parseJsonArray("oj", text, Originator).map((o) => ({
    originator: o.orig_address,
    next_hop: o.neigh_address,
    interface: o.hard_ifname,
    tq: o.tq,
    last_seen_ms: o.last_seen_msecs,
    best: o.best === true,
  }));
}

/** One-hop neighbours from `batctl meshif <bat> nj`. */
export function parseNeighbours(text: string): BatmanSample["neighbours"] {
  return parseJsonArray("nj", text, Neighbour).map((n) => ({ neighbour: n.neigh_address, interface: n.hard_ifname, last_seen_ms: n.last_seen_msecs }));
}

// `batctl meshif <bat> mj` (batctl 2022+): the mesh's settings; hard_address is the primary hard interface's MAC, the
// node's originator address. Other fields are not needed and left unchecked.
const Mesh = z.object({ mesh_ifname: z.string().min(1).max(15), hard_address: Mac, hard_ifname: z.string().min(1).max(15) });

/** The mesh interface, its primary hard interface and the originator address, from `batctl meshif <bat> mj`. */
export function parseMesh(text: string): { meshInterface: string; originator: string; primaryInterface: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BatctlParseError(`batctl mj: not JSON: ${text.slice(0, 80)}`, { cause: error });
  }
  const parsed = Mesh.safeParse(json);
  if (!parsed.success) throw new BatctlParseError(`batctl mj: unexpected shape: ${parsed.error.issues[0]?.message ?? ""}`, { cause: parsed.error });
  return { meshInterface: parsed.data.mesh_ifname, originator: parsed.data.hard_address, primaryInterface: parsed.data.hard_ifname };
}

/** TQ of the best route to each originator that is also a direct neighbour (its next hop is itself), by MAC. */
export function directTq(originators: BatmanSample["originators"]): Map<string, number> {
  const tq = new Map<string, number>();
  for (const o of originators) if (o.best && o.next_hop === o.originator) tq.set(o.originator, o.tq);
  return tq;
}
