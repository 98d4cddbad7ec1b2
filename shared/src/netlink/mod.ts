// Netlink in process (bun:ffi): interfaces and masters over rtnetlink, batman-adv over its generic netlink family.
export type { BatmanMesh, BatmanMeshFacts, MeshSettingName } from "./batadv.ts";
export { batadvMesh, MeshSetting } from "./batadv.ts";
export type { Attribute, NetlinkMessage, NetlinkRequest } from "./netlink.ts";
export { NetlinkError, NetlinkProtocol, NetlinkSockets } from "./netlink.ts";
export type { LinkInfo, LinkMasters } from "./rtnetlink.ts";
export { rtnetlinkMasters, slavesOf } from "./rtnetlink.ts";
