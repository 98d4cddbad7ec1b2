// The hello wire format: a 32-byte UDP datagram, BFD-like, that a peer echoes back with its own timestamp.
//   0 magic "X0HL" | 4 version u8 | 5 type u8 (1 hello, 2 reply) | 6 reserved u16 | 8 seq u32 | 12 reserved u32
//  16 sender's monotonic ms (f64, echoed unchanged) | 24 replier's monotonic ms (f64, 0 in a hello)

/** Size of a hello datagram. */
export const HELLO_BYTES = 32;
const MAGIC = 0x58304846; // "X0HL" read as a big-endian u32
const VERSION = 1;

/** Kinds of datagram. */
export const HelloType = { HELLO: 1, REPLY: 2 } as const;

/** A decoded hello or reply. */
export interface Hello {
  type: (typeof HelloType)[keyof typeof HelloType];
  seq: number;
  sentMs: number;
  repliedMs: number;
}

/** Encodes a hello or reply. */
export function encodeHello({ type, seq, sentMs, repliedMs }: Hello): Buffer {
  const buffer = Buffer.alloc(HELLO_BYTES);
  buffer.writeUInt32BE(MAGIC, 0);
  buffer.writeUInt8(VERSION, 4);
  buffer.writeUInt8(type, 5);
  buffer.writeUInt32BE(seq >>> 0, 8);
  buffer.writeDoubleBE(sentMs, 16);
  buffer.writeDoubleBE(repliedMs, 24);
  return buffer;
}

/** Decodes a datagram; undefined when it is not a hello of this version (stray traffic on the port is ignored). */
export function decodeHello(data: Uint8Array): Hello | undefined {
  if (data.length !== HELLO_BYTES) return undefined;
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buffer.readUInt32BE(0) !== MAGIC || buffer.readUInt8(4) !== VERSION) return undefined;
  const type = buffer.readUInt8(5);
  if (type !== HelloType.HELLO && type !== HelloType.REPLY) return undefined;
  return { type, seq: buffer.readUInt32BE(8), sentMs: buffer.readDoubleBE(16), repliedMs: buffer.readDoubleBE(24) };
}
