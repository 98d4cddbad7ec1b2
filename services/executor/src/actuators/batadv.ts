// batman-adv mesh settings over its generic netlink family ("batadv", linux/batman_adv.h), in process: what `batctl meshif
// <bat> orig_interval [ms]` reads and sets, without a spawn per call. A repair speeds OGMs up on every node of the mesh at
// once; through batctl that was twelve spawns competing with the repair's other steps in a small guest.
import {
  cString,
  encodeMessage,
  NetlinkError,
  NetlinkProtocol,
  type NetlinkSockets,
  NLM_F_ACK,
  NLM_F_REQUEST,
  parseAttributes,
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
const BATADV_CMD_SET_MESH = 15;
const BATADV_ATTR_MESH_IFINDEX = 3;
const ENODEV = 19;
const ENOENT = 2;

/** batman-adv mesh attributes this module reads and sets, with their netlink type and width. */
export const MeshSetting = {
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

/** A generic netlink reply's attributes (after the genl header). */
export function genlAttributes(payload: Uint8Array): Map<number, Uint8Array> {
  return parseAttributes(payload, GENL_HEADER);
}

/** batman-adv mesh settings of a mesh interface in a network namespace (null: this process's own). */
export interface BatmanMesh {
  /** The setting's current value. */
  get(netns: string | null, mesh: string, setting: MeshSettingName): number;
  /** Sets the setting (batman-adv may adjust it: read it back to see). */
  set(netns: string | null, mesh: string, setting: MeshSettingName, value: number): void;
}

/** batman-adv mesh settings over generic netlink through `sockets`; `links` finds the mesh interface's index. */
export function batadvMesh(sockets: NetlinkSockets, links: LinkMasters): BatmanMesh {
  // Generic netlink family ids are global (the same in every namespace); batadv's exists once the module is loaded.
  let family: number | undefined;
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
    if (id === undefined) throw new NetlinkError("the batadv family reply has no id", 71);
    family = id;
    return id;
  };
  const meshIndex = (netns: string | null, mesh: string): number => {
    const index = links.links(netns).find((link) => link.name === mesh)?.index;
    if (index === undefined) throw new NetlinkError(`${netns === null ? "this namespace" : `namespace ${netns}`} has no mesh interface ${mesh}`, ENODEV);
    return index;
  };
  return {
    get(netns, mesh, setting) {
      const id = familyId(netns);
      const index = meshIndex(netns, mesh);
      const replies = sockets.transact(netns, {
        protocol: NetlinkProtocol.generic,
        build: (seq) => encodeGetMesh(seq, id, index),
        dump: false,
        what: `reading ${setting} of ${mesh}`,
      });
      const value = readUint(replies.map((reply) => genlAttributes(reply.payload).get(MeshSetting[setting].attribute)).find((data) => data !== undefined));
      if (value === undefined) throw new NetlinkError(`batman-adv's mesh reply for ${mesh} has no ${setting}`, 71);
      return value;
    },
    set(netns, mesh, setting, value) {
      const id = familyId(netns);
      const index = meshIndex(netns, mesh);
      sockets.transact(netns, {
        protocol: NetlinkProtocol.generic,
        build: (seq) => encodeSetMesh(seq, id, index, setting, value),
        dump: false,
        what: `setting ${setting} of ${mesh} to ${value}`,
      });
    },
  };
}
