// Netlink in process, in any network namespace: message encoding, attribute parsing, and one socket per (namespace,
// protocol) over bun:ffi. Hand-written (no maintained netlink library exists for Bun): see README.md.
import { dlopen, FFIType, type Pointer, ptr, read } from "bun:ffi";
import { X0Error } from "../errors.ts";

/** Netlink protocols this module opens. */
export const NetlinkProtocol = { route: 0, generic: 16 } as const;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const CLONE_NEWNET = 0x40000000;
const MSG_DONTWAIT = 0x40;
const EINTR = 4;

const NLMSG_HEADER = 16;
const ATTRIBUTE_HEADER = 4;
// Dump replies come in parts of at most a few pages; 64 KiB always holds one.
const RECEIVE_BYTES = 65_536;

/** The errnos this module and its users raise themselves. */
export const Errno = { ENOENT: 2, ENODEV: 19, EPROTO: 71 } as const;
const { EPROTO } = Errno;

// The errnos these requests plausibly meet, named so messages say what went wrong.
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  11: "EAGAIN",
  13: "EACCES",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  22: "EINVAL",
  71: "EPROTO",
  95: "EOPNOTSUPP",
};

/** A netlink call failed: the kernel's errno (or the libc call's) and what was asked. */
export class NetlinkError extends X0Error {
  constructor(
    message: string,
    readonly errno: number,
    options?: ErrorOptions,
  ) {
    super(`${message}: errno ${errno}${ERRNO_NAMES[errno] ? ` (${ERRNO_NAMES[errno]})` : ""}`, options);
  }
}

const align4 = (length: number) => (length + 3) & ~3;

/** An attribute: its type and payload. */
export type Attribute = readonly [type: number, payload: Uint8Array];

/** A netlink message: header (length filled in), `body` (the family header), then `attributes`, each 4-byte aligned. */
export function encodeMessage(type: number, flags: number, seq: number, body: Uint8Array, attributes: readonly Attribute[] = []): Uint8Array {
  let length = NLMSG_HEADER + align4(body.length);
  for (const [, payload] of attributes) length += align4(ATTRIBUTE_HEADER + payload.length);
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, length, true);
  view.setUint16(4, type, true);
  view.setUint16(6, flags, true);
  view.setUint32(8, seq, true);
  bytes.set(body, NLMSG_HEADER);
  let offset = NLMSG_HEADER + align4(body.length);
  for (const [attributeType, payload] of attributes) {
    view.setUint16(offset, ATTRIBUTE_HEADER + payload.length, true);
    view.setUint16(offset + 2, attributeType, true);
    bytes.set(payload, offset + ATTRIBUTE_HEADER);
    offset += align4(ATTRIBUTE_HEADER + payload.length);
  }
  return bytes;
}

/** One received netlink message. */
export interface NetlinkMessage {
  type: number;
  seq: number;
  /** Everything after the netlink header. */
  payload: Uint8Array;
}

/** Splits one received buffer into its messages; a message overrunning the buffer is an error. */
export function parseMessages(bytes: Uint8Array): NetlinkMessage[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const messages: NetlinkMessage[] = [];
  let offset = 0;
  while (offset + NLMSG_HEADER <= bytes.length) {
    const length = view.getUint32(offset, true);
    if (length < NLMSG_HEADER || offset + length > bytes.length)
      throw new NetlinkError(`netlink message of ${length} bytes at ${offset} overruns the ${bytes.length} received`, EPROTO);
    messages.push({
      type: view.getUint16(offset + 4, true),
      seq: view.getUint32(offset + 8, true),
      payload: bytes.subarray(offset + NLMSG_HEADER, offset + length),
    });
    offset += align4(length);
  }
  return messages;
}

/** The attributes of `payload` from byte `offset` on (after the family header), by type (nested flag masked off; the last wins). */
export function parseAttributes(payload: Uint8Array, offset: number): Map<number, Uint8Array> {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const attributes = new Map<number, Uint8Array>();
  while (offset + ATTRIBUTE_HEADER <= payload.length) {
    const length = view.getUint16(offset, true);
    if (length < ATTRIBUTE_HEADER || offset + length > payload.length) break;
    attributes.set(view.getUint16(offset + 2, true) & 0x3fff, payload.subarray(offset + ATTRIBUTE_HEADER, offset + length));
    offset += align4(length);
  }
  return attributes;
}

/** A little-endian unsigned attribute payload of `bytes` bytes. */
export function uint(value: number, bytes: 1 | 2 | 4): Uint8Array {
  const out = new Uint8Array(bytes);
  const view = new DataView(out.buffer);
  if (bytes === 1) view.setUint8(0, value);
  else if (bytes === 2) view.setUint16(0, value, true);
  else view.setUint32(0, value, true);
  return out;
}

/** An unsigned attribute's value (1, 2 or 4 bytes, little-endian); undefined when absent or of another size. */
export function readUint(data: Uint8Array | undefined): number | undefined {
  if (data === undefined) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length === 1) return view.getUint8(0);
  if (data.length === 2) return view.getUint16(0, true);
  if (data.length === 4) return view.getUint32(0, true);
  return undefined;
}

/** A NUL-terminated string attribute payload. */
export function cString(text: string): Uint8Array {
  return new TextEncoder().encode(`${text}\0`);
}

/** A string attribute's value, up to its NUL. */
export function readString(data: Uint8Array | undefined): string | undefined {
  if (data === undefined) return undefined;
  const end = data.indexOf(0);
  return new TextDecoder().decode(end < 0 ? data : data.subarray(0, end));
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
const cstr = (text: string) => Buffer.from(`${text}\0`, "utf8");

/** A request: its message for a sequence number, whether it is a dump, and what it is (for errors). */
export interface NetlinkRequest {
  protocol: number;
  build: (seq: number) => Uint8Array;
  /** A dump ends with NLMSG_DONE; anything else must be sent with NLM_F_ACK and ends with its acknowledgement. */
  dump: boolean;
  what: string;
}

/** Netlink sockets by namespace (names as under /run/netns; null: this thread's own), opened on first use. */
export class NetlinkSockets {
  readonly #libc = libc();
  readonly #sockets = new Map<string, number>();
  readonly #buffer = new Uint8Array(RECEIVE_BYTES);
  readonly #netnsDir: string;
  #seq = 1;

  constructor({ netnsDir = "/run/netns" }: { netnsDir?: string } = {}) {
    this.#netnsDir = netnsDir;
  }

  /** Sends `request` in `netns` and returns the payloads of its replies (not the acknowledgement); a kernel error throws. */
  transact(netns: string | null, request: NetlinkRequest): NetlinkMessage[] {
    const fd = this.#socketOf(netns, request.protocol);
    const seq = this.#seq++;
    const what = `${request.what} in ${netns === null ? "this namespace" : `namespace ${netns}`}`;
    const message = request.build(seq);
    for (;;) {
      const sent = Number(this.#libc.send(fd, ptr(message), message.length, 0));
      if (sent === message.length) break;
      const code = this.#errno();
      if (sent < 0 && code === EINTR) continue;
      throw new NetlinkError(`send ${what}`, sent < 0 ? code : EPROTO);
    }
    const replies: NetlinkMessage[] = [];
    // The kernel answers while handling the send (and builds each further dump part on receive), so the answer is always
    // queued by the time we ask: a non-blocking receive that finds nothing is an error, never a wait. Anything left from
    // an earlier request that failed half-way carries its own sequence number and is dropped.
    for (;;) {
      const got = Number(this.#libc.recv(fd, ptr(this.#buffer), this.#buffer.length, MSG_DONTWAIT));
      if (got < 0) {
        const code = this.#errno();
        if (code === EINTR) continue;
        throw new NetlinkError(`receive ${what}`, code);
      }
      for (const reply of parseMessages(this.#buffer.subarray(0, got))) {
        if (reply.seq !== seq) continue;
        const view = new DataView(reply.payload.buffer, reply.payload.byteOffset, reply.payload.byteLength);
        const status = reply.payload.length >= 4 ? view.getInt32(0, true) : 0;
        if (reply.type === NLMSG_ERROR) {
          if (status < 0) throw new NetlinkError(what, -status);
          return replies;
        }
        if (reply.type === NLMSG_DONE) {
          if (status < 0) throw new NetlinkError(what, -status);
          if (request.dump) return replies;
          continue;
        }
        // Copied: the receive buffer is reused.
        replies.push({ ...reply, payload: reply.payload.slice() });
      }
    }
  }

  /** Closes every socket. */
  close(): void {
    for (const fd of this.#sockets.values()) this.#libc.close(fd);
    this.#sockets.clear();
  }

  #errno(): number {
    return read.i32(this.#libc.__errno_location() as Pointer, 0);
  }

  #open(protocol: number): number {
    const fd = this.#libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0) throw new NetlinkError(`socket(AF_NETLINK, ${protocol})`, this.#errno());
    return fd;
  }

  #socketOf(netns: string | null, protocol: number): number {
    const key = `${netns ?? ""}/${protocol}`;
    const known = this.#sockets.get(key);
    if (known !== undefined) return known;
    const c = this.#libc;
    let fd: number;
    if (netns === null) fd = this.#open(protocol);
    else {
      const own = c.open(ptr(cstr("/proc/thread-self/ns/net")), O_RDONLY | O_CLOEXEC);
      if (own < 0) throw new NetlinkError("open /proc/thread-self/ns/net", this.#errno());
      try {
        const target = c.open(ptr(cstr(`${this.#netnsDir}/${netns}`)), O_RDONLY | O_CLOEXEC);
        if (target < 0) throw new NetlinkError(`open ${this.#netnsDir}/${netns} (no such network namespace?)`, this.#errno());
        try {
          if (c.setns(target, CLONE_NEWNET) !== 0) throw new NetlinkError(`setns into ${netns}`, this.#errno());
        } finally {
          c.close(target);
        }
        let created: number | Error;
        try {
          created = this.#open(protocol);
        } catch (error) {
          created = error as Error;
        }
        // Back before anything else runs on this thread: staying in the lab's namespace would misdirect every socket after.
        if (c.setns(own, CLONE_NEWNET) !== 0) {
          if (typeof created === "number") c.close(created);
          throw new NetlinkError(`setns back from ${netns} failed: this thread is stuck in that namespace`, this.#errno());
        }
        if (created instanceof Error) throw created;
        fd = created;
      } finally {
        c.close(own);
      }
    }
    this.#sockets.set(key, fd);
    return fd;
  }
}
