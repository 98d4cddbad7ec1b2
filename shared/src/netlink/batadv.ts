// batman-adv over its generic netlink family ("batadv", linux/batman_adv.h), in process: mesh settings and the tables
// batctl prints as `oj`, `nj`, `mj` and `interface`, without a spawn per call (README.md says why).
import type { BatmanSample } from "../contracts/schemas.ts";
import {
  cString,
  Errno,
  encodeMessage,
  NetlinkError,
  NetlinkProtocol,
  type NetlinkSockets,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  parseAttributes,
  readString,
  readUint,
  uint,
} from "./netlink.ts";
import type { LinkMasters } from "./rtnetlink.ts";

const GENL_ID_CTRL = 16;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;
const GENL_HEADER = 4;
const BATADV_FAMILY = "batadv";
const BATADV_CMD_GET_MESH = 1;
const BATADV_CMD_GET_HARDIF = 5;
const BATADV_CMD_GET_ORIGINATORS = 8;
const BATADV_CMD_GET_NEIGHBORS = 9;
const BATADV_CMD_SET_MESH = 15;
const BATADV_ATTR_MESH_IFINDEX = 3;
const BATADV_ATTR_HARD_IFINDEX = 6;
const BATADV_ATTR_HARD_IFNAME = 7;
const BATADV_ATTR_HARD_ADDRESS = 8;
const BATADV_ATTR_ORIG_ADDRESS = 9;
const BATADV_ATTR_ACTIVE = 15;
const BATADV_ATTR_FLAG_BEST = 22;
const BATADV_ATTR_LAST_SEEN_MSECS = 23;
const BATADV_ATTR_NEIGH_ADDRESS = 24;
const BATADV_ATTR_TQ = 25;
const { ENODEV, ENOENT, EPROTO } = Errno;

/** batman-adv mesh attributes this module reads and sets, with their netlink type and width. */
export const MeshSetting = {
  /** 1: forwarded OGMs wait up to 100 ms (BATADV_MAX_AGGREGATION_MS) to share a frame; 0: they go out at once. */
  aggregated_ogms: { attribute: 41, bytes: 1 },
  hop_penalty: { attribute: 53, bytes: 1 },
  orig_interval: { attribute: 57, bytes: 4 },
} as const;
/** A mesh setting's name. */
export type MeshSettingName = keyof typeof MeshSetting;

/** A generic netlink header: command, version 1. */
function genlHeader(command: number): Uint8Array {
  return new Uint8Array([command, 1, 0, 0]);
}

/** CTRL_CMD_GETFAMILY for `name`, acknowledged. */
export function encodeFamilyRequest(seq: number, name: string): Uint8Array {
  return encodeMessage(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, seq, genlHeader(CTRL_CMD_GETFAMILY), [[CTRL_ATTR_FAMILY_NAME, cString(name)]]);
}

/** BATADV_CMD_GET_MESH of the mesh interface `meshIndex`, acknowledged. */
export function encodeGetMesh(seq: number, family: number, meshIndex: number): Uint8Array {
  return encodeMessage(family, NLM_F_REQUEST | NLM_F_ACK, seq, genlHeader(BATADV_CMD_GET_MESH), [[BATADV_ATTR_MESH_IFINDEX, uint(meshIndex, 4)]]);
}

/** BATADV_CMD_SET_MESH of one setting of the mesh interface `meshIndex`, acknowledged. */
export function encodeSetMesh(seq: number, family: number, meshIndex: number, setting: MeshSettingName, value: number): Uint8Array {
  const { attribute, bytes } = MeshSetting[setting];
  return encodeMessage(family, NLM_F_REQUEST | NLM_F_ACK, seq, genlHeader(BATADV_CMD_SET_MESH), [
    [BATADV_ATTR_MESH_IFINDEX, uint(meshIndex, 4)],
    [attribute, uint(value, bytes)],
  ]);
}

/** A batman-adv dump (originators, neighbours, hard interfaces) of the mesh interface `meshIndex`. */
export function encodeDump(seq: number, family: number, command: "originators" | "neighbours" | "hard_interfaces", meshIndex: number): Uint8Array {
  const commands = { originators: BATADV_CMD_GET_ORIGINATORS, neighbours: BATADV_CMD_GET_NEIGHBORS, hard_interfaces: BATADV_CMD_GET_HARDIF };
  return encodeMessage(family, NLM_F_REQUEST | NLM_F_DUMP, seq, genlHeader(commands[command]), [[BATADV_ATTR_MESH_IFINDEX, uint(meshIndex, 4)]]);
}

/** A 6-byte address attribute as `aa:bb:cc:dd:ee:ff`; undefined when absent or of another size. */
export function readMac(data: Uint8Array | undefined): string | undefined {
  if (data === undefined || data.length !== 6) return undefined;
  return [...data].map((byte) => byte.toString(16).padStart(2, "0")).join(":");
}

/** The hard interface an entry names: its name attribute, else its ifindex looked up in `names`. */
function hardInterfaceOf(attributes: Map<number, Uint8Array>, names: ReadonlyMap<number, string>): string | undefined {
  return readString(attributes.get(BATADV_ATTR_HARD_IFNAME)) ?? names.get(readUint(attributes.get(BATADV_ATTR_HARD_IFINDEX)) ?? -1);
}

/** One originator entry of a GET_ORIGINATORS dump reply (BATMAN_IV: with TQ); undefined when a field is missing. */
export function parseOriginator(payload: Uint8Array, names: ReadonlyMap<number, string>): BatmanSample["originators"][number] | undefined {
  const attributes = genlAttributes(payload);
  const originator = readMac(attributes.get(BATADV_ATTR_ORIG_ADDRESS));
  const nextHop = readMac(attributes.get(BATADV_ATTR_NEIGH_ADDRESS));
  const hardInterface = hardInterfaceOf(attributes, names);
  const tq = readUint(attributes.get(BATADV_ATTR_TQ));
  const lastSeen = readUint(attributes.get(BATADV_ATTR_LAST_SEEN_MSECS));
  if (originator === undefined || nextHop === undefined || hardInterface === undefined || tq === undefined || lastSeen === undefined) return undefined;
  return { originator, next_hop: nextHop, interface: hardInterface, tq, last_seen_ms: lastSeen, best: attributes.has(BATADV_ATTR_FLAG_BEST) };
}

/** One neighbour entry of a GET_NEIGHBORS dump reply; undefined when a field is missing. */
export function parseNeighbour(payload: Uint8Array, names: ReadonlyMap<number, string>): BatmanSample["neighbours"][number] | undefined {
  const attributes = genlAttributes(payload);
  const neighbour = readMac(attributes.get(BATADV_ATTR_NEIGH_ADDRESS));
  const hardInterface = hardInterfaceOf(attributes, names);
  const lastSeen = readUint(attributes.get(BATADV_ATTR_LAST_SEEN_MSECS));
  if (neighbour === undefined || hardInterface === undefined || lastSeen === undefined) return undefined;
  return { neighbour, interface: hardInterface, last_seen_ms: lastSeen };
}

/** A generic netlink reply's attributes (after the genl header). */
export function genlAttributes(payload: Uint8Array): Map<number, Uint8Array> {
  return parseAttributes(payload, GENL_HEADER);
}

/** What `batctl meshif <bat> mj` and `interface` say about a mesh: its originator address, primary and hard interfaces. */
export interface BatmanMeshFacts {
  originator: string;
  primaryInterface: string;
  /** Hard interface name → active. */
  hardInterfaces: Map<string, boolean>;
}

/** batman-adv settings and tables of a mesh interface in a network namespace (null: this process's own). */
export interface BatmanMesh {
  /** Every route to every originator (best flagged), as `batctl oj`. */
  originators(netns: string | null, mesh: string): BatmanSample["originators"];
  /** One-hop neighbours, as `batctl nj`. */
  neighbours(netns: string | null, mesh: string): BatmanSample["neighbours"];
  /** The originator address, primary interface and hard interfaces, as `batctl mj` and `batctl interface`. */
  facts(netns: string | null, mesh: string): BatmanMeshFacts;
  /** The hard interfaces (name → active), as `batctl interface` lists them. */
  hardInterfaces(netns: string | null, mesh: string): Map<string, boolean>;
  /** The setting's current value. */
  get(netns: string | null, mesh: string, setting: MeshSettingName): number;
  /** Sets the setting (batman-adv may adjust it: read it back to see). */
  set(netns: string | null, mesh: string, setting: MeshSettingName, value: number): void;
}

/** batman-adv mesh settings over generic netlink through `sockets`; `links` finds the mesh interface's index. */
export function batadvMesh(sockets: NetlinkSockets, links: LinkMasters): BatmanMesh {
  // Generic netlink family ids are global (the same in every namespace); batadv's exists once the module is loaded.
  let family: number | undefined;
  // A reloaded module registers the family again under a new id: after a failed request, look it up afresh.
  const batadv = (netns: string | null, request: Parameters<NetlinkSockets["transact"]>[1]) => {
    try {
      return sockets.transact(netns, request);
    } catch (error) {
      family = undefined;
      throw error;
    }
  };
  const familyId = (netns: string | null): number => {
    if (family !== undefined) return family;
    let replies: ReturnType<NetlinkSockets["transact"]>;
    try {
      replies = sockets.transact(netns, {
        protocol: NetlinkProtocol.generic,
        build: (seq) => encodeFamilyRequest(seq, BATADV_FAMILY),
        dump: false,
        what: "the batadv generic netlink family",
      });
    } catch (error) {
      if (error instanceof NetlinkError && error.errno === ENOENT)
        throw new NetlinkError("no batadv generic netlink family (is the batman-adv module loaded?)", ENOENT, { cause: error });
      throw error;
    }
    const id = readUint(replies.map((reply) => genlAttributes(reply.payload).get(CTRL_ATTR_FAMILY_ID)).find((value) => value !== undefined));
    if (id === undefined) throw new NetlinkError("the batadv family reply has no id", EPROTO);
    family = id;
    return id;
  };
  const interfaces = (netns: string | null, mesh: string): { index: number; names: Map<number, string> } => {
    const all = links.links(netns);
    const index = all.find((link) => link.name === mesh)?.index;
    if (index === undefined) throw new NetlinkError(`${netns === null ? "this namespace" : `namespace ${netns}`} has no mesh interface ${mesh}`, ENODEV);
    return { index, names: new Map(all.map((link) => [link.index, link.name])) };
  };
  const meshIndex = (netns: string | null, mesh: string): number => interfaces(netns, mesh).index;
  const dump = (netns: string | null, mesh: string, command: "originators" | "neighbours" | "hard_interfaces") => {
    const id = familyId(netns);
    const { index, names } = interfaces(netns, mesh);
    const replies = batadv(netns, {
      protocol: NetlinkProtocol.generic,
      build: (seq) => encodeDump(seq, id, command, index),
      dump: true,
      what: `the ${command} of ${mesh}`,
    });
    return { payloads: replies.map((reply) => reply.payload), names };
  };
  const hardInterfaces = (netns: string | null, mesh: string): Map<string, boolean> => {
    const listed = new Map<string, boolean>();
    const { payloads, names } = dump(netns, mesh, "hard_interfaces");
    for (const payload of payloads) {
      const attributes = genlAttributes(payload);
      const name = hardInterfaceOf(attributes, names);
      if (name !== undefined) listed.set(name, attributes.has(BATADV_ATTR_ACTIVE));
    }
    return listed;
  };
  return {
    originators(netns, mesh) {
      const { payloads, names } = dump(netns, mesh, "originators");
      return payloads.flatMap((payload) => parseOriginator(payload, names) ?? []);
    },
    neighbours(netns, mesh) {
      const { payloads, names } = dump(netns, mesh, "neighbours");
      return payloads.flatMap((payload) => parseNeighbour(payload, names) ?? []);
    },
    facts(netns, mesh) {
      const id = familyId(netns);
      const index = meshIndex(netns, mesh);
      const [reply] = batadv(netns, {
        protocol: NetlinkProtocol.generic,
        build: (seq) => encodeGetMesh(seq, id, index),
        dump: false,
        what: `the settings of ${mesh}`,
      });
      const attributes = reply ? genlAttributes(reply.payload) : new Map<number, Uint8Array>();
      const originator = readMac(attributes.get(BATADV_ATTR_HARD_ADDRESS));
      const primaryInterface = readString(attributes.get(BATADV_ATTR_HARD_IFNAME));
      // batman-adv leaves the primary out while the mesh has no active hard interface (batctl mj then fails too).
      if (originator === undefined || primaryInterface === undefined) throw new NetlinkError(`${mesh} has no primary hard interface`, ENODEV);
      return { originator, primaryInterface, hardInterfaces: hardInterfaces(netns, mesh) };
    },
    hardInterfaces,
    get(netns, mesh, setting) {
      const id = familyId(netns);
      const index = meshIndex(netns, mesh);
      const replies = batadv(netns, {
        protocol: NetlinkProtocol.generic,
        build: (seq) => encodeGetMesh(seq, id, index),
        dump: false,
        what: `reading ${setting} of ${mesh}`,
      });
      const value = readUint(replies.map((reply) => genlAttributes(reply.payload).get(MeshSetting[setting].attribute)).find((data) => data !== undefined));
      if (value === undefined) throw new NetlinkError(`batman-adv's mesh reply for ${mesh} has no ${setting}`, EPROTO);
      return value;
    },
    set(netns, mesh, setting, value) {
      const id = familyId(netns);
      const index = meshIndex(netns, mesh);
      batadv(netns, {
        protocol: NetlinkProtocol.generic,
        build: (seq) => encodeSetMesh(seq, id, index, setting, value),
        dump: false,
        what: `setting ${setting} of ${mesh} to ${value}`,
      });
    },
  };
}
