// Interface masters over rtnetlink, in process: which interfaces a mesh interface (bat0) holds, and attaching or detaching
// one (IFLA_MASTER, what `batctl interface add|del` and `ip link set master|nomaster` send). A repair's critical path is
// these two calls; spawning `ip netns exec <ns> batctl` costs 25-90 ms each in a small guest (and on small routers), a
// netlink round trip well under a millisecond. Hand-written over bun:ffi (libc's socket/send/recv/setns): no maintained
// netlink library exists for Bun, and this needs two message types.
//
// One socket per network namespace: a netlink socket stays in the namespace it was created in, so the calling thread
// enters the namespace (setns), creates the socket and returns at once, before any other JavaScript runs.
import { dlopen, FFIType, type Pointer, ptr, read } from "bun:ffi";
import { ActuatorError } from "../errors.ts";

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const CLONE_NEWNET = 0x40000000;
const MSG_DONTWAIT = 0x40;
const EINTR = 4;

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;
const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const IFLA_IFNAME = 3;
const IFLA_MASTER = 10;

const NLMSG_HEADER = 16;
const IFINFOMSG = 16;
const RTATTR_HEADER = 4;
// Dump replies come in parts of at most a few pages; 64 KiB always holds one.
const RECEIVE_BYTES = 65_536;

/** A netlink call failed: the kernel's errno (or the libc call's) and what was asked. */
export class NetlinkError extends ActuatorError {
  constructor(
    message: string,
    readonly errno: number,
    options?: ErrorOptions,
  ) {
    super(`${message}: errno ${errno}${ERRNO_NAMES[errno] ? ` (${ERRNO_NAMES[errno]})` : ""}`, options);
  }
}

// The errnos a link change plausibly meets, named so messages say what went wrong.
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  11: "EAGAIN",
  13: "EACCES",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  22: "EINVAL",
  95: "EOPNOTSUPP",
};

/** One network interface as RTM_GETLINK reports it (the fields this module reads). */
export interface LinkInfo {
  index: number;
  name: string;
  /** The master's ifindex; 0 when the interface has none. */
  master: number;
}

const align4 = (length: number) => (length + 3) & ~3;

/** A netlink message: header (length filled in), `body`, then `attributes` (type, payload) each 4-byte aligned. */
export function encodeMessage(type: number, flags: number, seq: number, body: Uint8Array, attributes: readonly [number, Uint8Array][] = []): Uint8Array {
  let length = NLMSG_HEADER + align4(body.length);
  for (const [, payload] of attributes) length += align4(RTATTR_HEADER + payload.length);
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, length, true);
  view.setUint16(4, type, true);
  view.setUint16(6, flags, true);
  view.setUint32(8, seq, true);
  view.setUint32(12, 0, true);
  bytes.set(body, NLMSG_HEADER);
  let offset = NLMSG_HEADER + align4(body.length);
  for (const [attributeType, payload] of attributes) {
    view.setUint16(offset, RTATTR_HEADER + payload.length, true);
    view.setUint16(offset + 2, attributeType, true);
    bytes.set(payload, offset + RTATTR_HEADER);
    offset += align4(RTATTR_HEADER + payload.length);
  }
  return bytes;
}

/** A struct ifinfomsg (family AF_UNSPEC) for `index` (0: the kernel finds the interface by IFLA_IFNAME). */
function ifinfomsg(index: number): Uint8Array {
  const body = new Uint8Array(IFINFOMSG);
  new DataView(body.buffer).setInt32(4, index, true);
  return body;
}

const u32 = (value: number) => {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
};
const ifname = (name: string) => new TextEncoder().encode(`${name}\0`);

/** RTM_GETLINK dump of every interface. */
export function encodeLinkDump(seq: number): Uint8Array {
  return encodeMessage(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, ifinfomsg(0));
}

/** RTM_NEWLINK setting the master of interface `name` to ifindex `master` (0: none), acknowledged. */
export function encodeSetMaster(seq: number, name: string, master: number): Uint8Array {
  return encodeMessage(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, ifinfomsg(0), [
    [IFLA_IFNAME, ifname(name)],
    [IFLA_MASTER, u32(master)],
  ]);
}

/** What one received buffer held, each with its request's sequence number: links, errors (negative errno, 0 for an acknowledgement), ended dumps. */
export interface Received {
  links: { seq: number; link: LinkInfo }[];
  acks: { seq: number; error: number }[];
  done: number[];
}

/** Parses the netlink messages of one received buffer (RTM_NEWLINK, NLMSG_ERROR, NLMSG_DONE; others are skipped). */
export function parseMessages(bytes: Uint8Array): Received {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const received: Received = { links: [], acks: [], done: [] };
  let offset = 0;
  while (offset + NLMSG_HEADER <= bytes.length) {
    const length = view.getUint32(offset, true);
    const type = view.getUint16(offset + 4, true);
    const seq = view.getUint32(offset + 8, true);
    if (length < NLMSG_HEADER || offset + length > bytes.length)
      throw new NetlinkError(`netlink message of ${length} bytes at ${offset} overruns the ${bytes.length} received`, 74);
    if (type === NLMSG_DONE) received.done.push(seq);
    else if (type === NLMSG_ERROR) received.acks.push({ seq, error: view.getInt32(offset + NLMSG_HEADER, true) });
    else if (type === RTM_NEWLINK) received.links.push({ seq, link: parseLink(bytes.subarray(offset + NLMSG_HEADER, offset + length)) });
    offset += align4(length);
  }
  return received;
}

function parseLink(payload: Uint8Array): LinkInfo {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const link: LinkInfo = { index: view.getInt32(4, true), name: "", master: 0 };
  let offset = IFINFOMSG;
  while (offset + RTATTR_HEADER <= payload.length) {
    const length = view.getUint16(offset, true);
    const type = view.getUint16(offset + 2, true) & 0x3fff;
    if (length < RTATTR_HEADER || offset + length > payload.length) break;
    const data = payload.subarray(offset + RTATTR_HEADER, offset + length);
    if (type === IFLA_IFNAME) link.name = new TextDecoder().decode(data.subarray(0, Math.max(0, data.indexOf(0) < 0 ? data.length : data.indexOf(0))));
    else if (type === IFLA_MASTER && data.length >= 4) link.master = new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true);
    offset += align4(length);
  }
  return link;
}

const i32 = FFIType.i32;
const i64 = FFIType.i64;
const P = FFIType.ptr;
const LIBC_SYMBOLS = {
  __errno_location: { args: [], returns: P },
  socket: { args: [i32, i32, i32], returns: i32 },
  open: { args: [P, i32], returns: i32 },
  close: { args: [i32], returns: i32 },
  setns: { args: [i32, i32], returns: i32 },
  send: { args: [i32, P, FFIType.u64, i32], returns: i64 },
  recv: { args: [i32, P, FFIType.u64, i32], returns: i64 },
} as const;
type Libc = ReturnType<typeof dlopen<typeof LIBC_SYMBOLS>>["symbols"];
let libcCache: Libc | undefined;
function libc(): Libc {
  if (!libcCache) {
    try {
      libcCache = dlopen("libc.so.6", LIBC_SYMBOLS).symbols;
    } catch (error) {
      throw new NetlinkError("cannot load libc.so.6 for netlink", 0, { cause: error });
    }
  }
  return libcCache;
}
const errno = (c: Libc) => read.i32(c.__errno_location() as Pointer, 0);
const cstr = (text: string) => Buffer.from(`${text}\0`, "utf8");

/** Interface masters in network namespaces (by name, as under /run/netns; null: this process's own). */
export interface LinkMasters {
  /** Every interface of the namespace with its master. */
  links(netns: string | null): LinkInfo[];
  /** Makes `master` (by name; null: none) the master of interface `name`. */
  setMaster(netns: string | null, name: string, master: string | null): void;
  /** Closes the sockets. */
  close(): void;
}

/** The names of the interfaces whose master is `master` in `links`; undefined when `master` is not there. */
export function slavesOf(links: readonly LinkInfo[], master: string): string[] | undefined {
  const index = links.find((link) => link.name === master)?.index;
  if (index === undefined) return undefined;
  return links.filter((link) => link.master === index).map((link) => link.name);
}

/** rtnetlink sockets, one per namespace, opened on first use (root, or CAP_SYS_ADMIN for other namespaces and CAP_NET_ADMIN for changes). */
export function rtnetlinkMasters({ netnsDir = "/run/netns" }: { netnsDir?: string } = {}): LinkMasters {
  const c = libc();
  const sockets = new Map<string, number>();
  const buffer = new Uint8Array(RECEIVE_BYTES);
  let seq = 1;

  const openSocket = (): number => {
    const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) throw new NetlinkError("socket(AF_NETLINK, NETLINK_ROUTE)", errno(c));
    return fd;
  };
  const socketOf = (netns: string | null): number => {
    const key = netns ?? "";
    const known = sockets.get(key);
    if (known !== undefined) return known;
    let fd: number;
    if (netns === null) fd = openSocket();
    else {
      const own = c.open(ptr(cstr("/proc/thread-self/ns/net")), O_RDONLY | O_CLOEXEC);
      if (own < 0) throw new NetlinkError("open /proc/thread-self/ns/net", errno(c));
      try {
        const target = c.open(ptr(cstr(`${netnsDir}/${netns}`)), O_RDONLY | O_CLOEXEC);
        if (target < 0) throw new NetlinkError(`open ${netnsDir}/${netns} (no such network namespace?)`, errno(c));
        try {
          if (c.setns(target, CLONE_NEWNET) !== 0) throw new NetlinkError(`setns into ${netns}`, errno(c));
        } finally {
          c.close(target);
        }
        let created: number | Error;
        try {
          created = openSocket();
        } catch (error) {
          created = error as Error;
        }
        // Back before anything else runs on this thread: staying in the lab's namespace would misdirect every socket after.
        if (c.setns(own, CLONE_NEWNET) !== 0) {
          if (typeof created === "number") c.close(created);
          throw new NetlinkError(`setns back from ${netns} failed: this thread is stuck in that namespace`, errno(c));
        }
        if (created instanceof Error) throw created;
        fd = created;
      } finally {
        c.close(own);
      }
    }
    sockets.set(key, fd);
    return fd;
  };

  const sendRequest = (fd: number, message: Uint8Array, what: string) => {
    for (;;) {
      const sent = Number(c.send(fd, ptr(message), message.length, 0));
      if (sent === message.length) return;
      const code = errno(c);
      if (sent < 0 && code === EINTR) continue;
      throw new NetlinkError(`send ${what}`, sent < 0 ? code : 0);
    }
  };
  // The kernel answers rtnetlink requests while handling the send (and builds each further dump part on receive), so the
  // answer is always queued by the time we ask: a non-blocking receive that finds nothing is an error, never a wait.
  const receive = (fd: number, what: string): Received => {
    for (;;) {
      const got = Number(c.recv(fd, ptr(buffer), buffer.length, MSG_DONTWAIT));
      if (got >= 0) return parseMessages(buffer.subarray(0, got));
      const code = errno(c);
      if (code !== EINTR) throw new NetlinkError(`receive ${what}`, code);
    }
  };
  const where = (netns: string | null) => (netns === null ? "this namespace" : `namespace ${netns}`);

  const links = (netns: string | null): LinkInfo[] => {
    const fd = socketOf(netns);
    const what = `the interface dump of ${where(netns)}`;
    const request = seq++;
    sendRequest(fd, encodeLinkDump(request), what);
    const all: LinkInfo[] = [];
    // Anything left from an earlier request that failed half-way carries its own sequence number and is dropped.
    for (;;) {
      const part = receive(fd, what);
      for (const entry of part.links) if (entry.seq === request) all.push(entry.link);
      const failed = part.acks.find((ack) => ack.seq === request && ack.error < 0);
      if (failed) throw new NetlinkError(what, -failed.error);
      if (part.done.includes(request)) return all;
    }
  };

  return {
    links,
    setMaster(netns, name, master) {
      const masterIndex = master === null ? 0 : links(netns).find((link) => link.name === master)?.index;
      if (masterIndex === undefined) throw new NetlinkError(`${where(netns)} has no interface ${master}`, 19);
      const fd = socketOf(netns);
      const request = seq++;
      const what = `setting the master of ${name} in ${where(netns)} to ${master ?? "none"}`;
      sendRequest(fd, encodeSetMaster(request, name, masterIndex), what);
      for (;;) {
        const ack = receive(fd, what).acks.find((entry) => entry.seq === request);
        if (ack === undefined) continue;
        if (ack.error < 0) throw new NetlinkError(what, -ack.error);
        return;
      }
    },
    close() {
      for (const fd of sockets.values()) c.close(fd);
      sockets.clear();
    },
  };
}
