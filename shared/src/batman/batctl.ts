// Parsers of batctl's output (batctl 2023.0 syntax): the JSON tables `meshif <bat> oj` (originators), `nj` (neighbours)
// and `mj` (the mesh), and the text listing `meshif <bat> interface`. The monitor and the executor both read batctl here.
import { z } from "zod";
import { type BatmanSample, MacAddress } from "../contracts/schemas.ts";
import { X0Error } from "../errors.ts";

/** batctl printed something that is not the table it was asked for. */
export class BatctlParseError extends X0Error {}

const HardInterface = z.string().min(1).max(15);

// batctl's field names (others, such as hard_ifindex or fields of later versions, are ignored); `best` is only present
// (true) on the chosen route to an originator. BATMAN_IV's tables: BATMAN_V prints `throughput` where these have `tq`.
const Originator = z.object({
  orig_address: MacAddress,
  neigh_address: MacAddress,
  hard_ifname: HardInterface,
  tq: z.number().int().min(0).max(255),
  last_seen_msecs: z.number().int().nonnegative(),
  best: z.boolean().optional(),
});

const Neighbour = z.object({ neigh_address: MacAddress, hard_ifname: HardInterface, last_seen_msecs: z.number().int().nonnegative() });

// `mj` (batctl 2022+): hard_address is the primary hard interface's MAC, the node's originator address.
const Mesh = z.object({ mesh_ifname: HardInterface, hard_address: MacAddress, hard_ifname: HardInterface });

/** `text` as JSON; anything else is a {@link BatctlParseError} quoting it. */
function parseJson(what: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BatctlParseError(`batctl ${what} printed ${JSON.stringify(text.slice(0, 80))}, not JSON`, { cause: error });
  }
}

/** The entries of a batctl JSON table; empty output is an empty table (batctl prints `[]` or nothing for one). */
function parseTable<T extends z.ZodType>(what: string, text: string, entry: T): z.infer<T>[] {
  const trimmed = text.trim();
  if (trimmed === "") return [];
  const json = parseJson(what, trimmed);
  if (!Array.isArray(json)) throw new BatctlParseError(`batctl ${what} printed ${JSON.stringify(trimmed.slice(0, 80))}, not a JSON array`);
  // An entry that does not fit fails the table, never shrinks it: a missing route reads as a cut link (BATMAN_V included).
  return json.map((item, index) => {
    const parsed = entry.safeParse(item);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const field = issue?.path.join(".") || "entry";
    const hint = typeof item === "object" && item !== null && "throughput" in item && !("tq" in item) ? " (a BATMAN_V table: throughput, no tq)" : "";
    throw new BatctlParseError(`batctl ${what}: entry ${index}: ${field}: ${issue?.message ?? "unexpected shape"}${hint}`, { cause: parsed.error });
  });
}

/** Every route to every originator (best flagged) from `batctl meshif <bat> oj`; throws {@link BatctlParseError} on output that does not fit. */
export function parseBatctlOriginators(text: string): BatmanSample["originators"] {
  return parseTable("oj", text, Originator).map((o) => ({
    originator: o.orig_address,
    next_hop: o.neigh_address,
    interface: o.hard_ifname,
    tq: o.tq,
    last_seen_ms: o.last_seen_msecs,
    best: o.best === true,
  }));
}

/** One-hop neighbours from `batctl meshif <bat> nj`; throws {@link BatctlParseError} on output that does not fit. */
export function parseBatctlNeighbours(text: string): BatmanSample["neighbours"] {
  return parseTable("nj", text, Neighbour).map((n) => ({ neighbour: n.neigh_address, interface: n.hard_ifname, last_seen_ms: n.last_seen_msecs }));
}

/** The mesh interface, its primary hard interface and the originator address from `batctl meshif <bat> mj`. */
export function parseBatctlMesh(text: string): { meshInterface: string; originator: string; primaryInterface: string } {
  const parsed = Mesh.safeParse(parseJson("mj", text));
  if (!parsed.success) throw new BatctlParseError(`batctl mj: unexpected shape: ${parsed.error.issues[0]?.message ?? ""}`, { cause: parsed.error });
  return { meshInterface: parsed.data.mesh_ifname, originator: parsed.data.hard_address, primaryInterface: parsed.data.hard_ifname };
}

/** Hard interfaces and their status from `batctl meshif <bat> interface` (`<if>: active|inactive|…` per line; other lines skipped). */
export function parseBatctlInterfaces(text: string): Map<string, string> {
  const interfaces = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^\s*([^\s:]+):\s*(\S+)/.exec(line);
    if (match?.[1] && match[2]) interfaces.set(match[1], match[2]);
  }
  return interfaces;
}
