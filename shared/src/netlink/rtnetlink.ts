// Interface masters over rtnetlink, in process: which hard interfaces a mesh interface (bat0) holds, and attaching or
// detaching one (IFLA_MASTER, as `batctl interface add|del` and `ip link set master|nomaster` send).
import {
  type Attribute,
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

const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const IFLA_IFNAME = 3;
const IFLA_MASTER = 10;
const IFINFOMSG = 16;
const { ENODEV } = Errno;

/** One network interface as RTM_GETLINK reports it (the fields read here). */
export interface LinkInfo {
  index: number;
  name: string;
  /** The master's ifindex; 0 when the interface has none. */
  master: number;
}

/** A struct ifinfomsg (family AF_UNSPEC) for `index` (0: the kernel finds the interface by IFLA_IFNAME). */
function ifinfomsg(index: number): Uint8Array {
  const body = new Uint8Array(IFINFOMSG);
  new DataView(body.buffer).setInt32(4, index, true);
  return body;
}

/** RTM_GETLINK dump of every interface. */
export function encodeLinkDump(seq: number): Uint8Array {
  return encodeMessage(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, ifinfomsg(0));
}

/** RTM_NEWLINK setting the master of interface `name` to ifindex `master` (0: none), acknowledged. */
export function encodeSetMaster(seq: number, name: string, master: number): Uint8Array {
  const attributes: Attribute[] = [
    [IFLA_IFNAME, cString(name)],
    [IFLA_MASTER, uint(master, 4)],
  ];
  return encodeMessage(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, ifinfomsg(0), attributes);
}

/** An RTM_NEWLINK payload (ifinfomsg and attributes) as a {@link LinkInfo}. */
export function parseLink(payload: Uint8Array): LinkInfo {
  const attributes = parseAttributes(payload, IFINFOMSG);
  return {
    index: new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getInt32(4, true),
    name: readString(attributes.get(IFLA_IFNAME)) ?? "",
    master: readUint(attributes.get(IFLA_MASTER)) ?? 0,
  };
}

/** The names of the interfaces whose master is `master` in `links`; undefined when `master` is not there. */
export function slavesOf(links: readonly LinkInfo[], master: string): string[] | undefined {
  const index = links.find((link) => link.name === master)?.index;
  if (index === undefined) return undefined;
  return links.filter((link) => link.master === index).map((link) => link.name);
}

/** Interface masters in network namespaces (by name, as under /run/netns; null: this process's own). */
export interface LinkMasters {
  /** Every interface of the namespace with its master. */
  links(netns: string | null): LinkInfo[];
  /** Makes `master` (by name; null: none) the master of interface `name`. */
  setMaster(netns: string | null, name: string, master: string | null): void;
}

/** Interface masters over rtnetlink through `sockets` (root, or CAP_SYS_ADMIN for other namespaces and CAP_NET_ADMIN for changes). */
export function rtnetlinkMasters(sockets: NetlinkSockets): LinkMasters {
  const links = (netns: string | null): LinkInfo[] =>
    sockets
      .transact(netns, { protocol: NetlinkProtocol.route, build: encodeLinkDump, dump: true, what: "the interface dump" })
      .filter((reply) => reply.type === RTM_NEWLINK)
      .map((reply) => parseLink(reply.payload));
  return {
    links,
    setMaster(netns, name, master) {
      const masterIndex = master === null ? 0 : links(netns).find((link) => link.name === master)?.index;
      if (masterIndex === undefined) throw new NetlinkError(`${netns === null ? "this namespace" : `namespace ${netns}`} has no interface ${master}`, ENODEV);
      sockets.transact(netns, {
        protocol: NetlinkProtocol.route,
        build: (seq) => encodeSetMaster(seq, name, masterIndex),
        dump: false,
        what: `setting the master of ${name} to ${master ?? "none"}`,
      });
    },
  };
}
