import { describe, expect, test } from "bun:test";
import { encodeLinkDump, encodeMessage, encodeSetMaster, NetlinkError, parseMessages, slavesOf } from "./rtnetlink.ts";

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

describe("rtnetlink messages", () => {
  test("rtnetlink - RTM_NEWLINK setting a master: header, ifinfomsg by name, IFLA_IFNAME and IFLA_MASTER 4-byte aligned", () => {
    const message = encodeSetMaster(7, "v23", 12);
    const v = view(message);
    // 16 header + 16 ifinfomsg + 8 (IFLA_IFNAME "v23\0") + 8 (IFLA_MASTER u32)
    expect(message.length).toBe(48);
    expect([v.getUint32(0, true), v.getUint16(4, true), v.getUint16(6, true), v.getUint32(8, true)]).toEqual([48, 16, 0x5, 7]);
    expect(v.getInt32(16 + 4, true)).toBe(0);
    expect([v.getUint16(32, true), v.getUint16(34, true)]).toEqual([8, 3]);
    expect(new TextDecoder().decode(message.subarray(36, 40))).toBe("v23\0");
    expect([v.getUint16(40, true), v.getUint16(42, true), v.getUint32(44, true)]).toEqual([8, 10, 12]);
    // An odd-length name is padded: "mesh0\0" is 6 bytes, its attribute 12.
    expect(encodeSetMaster(1, "mesh0", 0).length).toBe(16 + 16 + 12 + 8);
  });

  test("rtnetlink - RTM_GETLINK dump request", () => {
    const v = view(encodeLinkDump(3));
    expect([v.getUint32(0, true), v.getUint16(4, true), v.getUint16(6, true), v.getUint32(8, true)]).toEqual([32, 18, 0x301, 3]);
  });

  test("rtnetlink - parses links (name, index, master), acknowledgements and the end of a dump, each with its sequence number", () => {
    const link = (seq: number, index: number, name: string, master?: number) => {
      const body = new Uint8Array(16);
      view(body).setInt32(4, index, true);
      const attributes: [number, Uint8Array][] = [[3, new TextEncoder().encode(`${name}\0`)]];
      if (master !== undefined) {
        const u32 = new Uint8Array(4);
        view(u32).setUint32(0, master, true);
        attributes.push([10, u32]);
      }
      // An attribute this parser does not know (IFLA_MTU) is skipped.
      attributes.push([4, new Uint8Array([0xdc, 0x05, 0, 0])]);
      return encodeMessage(16, 2, seq, body, attributes);
    };
    const error = (seq: number, errno: number) => {
      const body = new Uint8Array(20);
      view(body).setInt32(0, -errno, true);
      return encodeMessage(2, 0, seq, body);
    };
    const done = encodeMessage(3, 2, 5, new Uint8Array(4));
    const parts = [link(5, 1, "bat0"), link(5, 4, "v21", 1), link(5, 6, "eth0"), error(9, 19), error(8, 0), done];
    const buffer = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      buffer.set(part, offset);
      offset += part.length;
    }
    const received = parseMessages(buffer);
    expect(received.links).toEqual([
      { seq: 5, link: { index: 1, name: "bat0", master: 0 } },
      { seq: 5, link: { index: 4, name: "v21", master: 1 } },
      { seq: 5, link: { index: 6, name: "eth0", master: 0 } },
    ]);
    expect(received.acks).toEqual([
      { seq: 9, error: -19 },
      { seq: 8, error: 0 },
    ]);
    expect(received.done).toEqual([5]);
    expect(
      slavesOf(
        received.links.map((entry) => entry.link),
        "bat0",
      ),
    ).toEqual(["v21"]);
    // A message claiming more bytes than were received is an error, not a read past the buffer.
    expect(() => parseMessages(buffer.subarray(0, 40))).toThrow(NetlinkError);
  });
});
