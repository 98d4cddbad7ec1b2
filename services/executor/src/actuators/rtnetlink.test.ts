import { describe, expect, test } from "bun:test";
import { encodeFamilyRequest, encodeGetMesh, encodeSetMesh, genlAttributes } from "./batadv.ts";
import { encodeMessage, NetlinkError, parseMessages, readString, readUint, uint } from "./netlink.ts";
import { encodeLinkDump, encodeSetMaster, parseLink, slavesOf } from "./rtnetlink.ts";

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const header = (bytes: Uint8Array) => {
  const v = view(bytes);
  return [v.getUint32(0, true), v.getUint16(4, true), v.getUint16(6, true), v.getUint32(8, true)];
};

describe("netlink messages", () => {
  test("rtnetlink - RTM_NEWLINK setting a master: header, ifinfomsg by name, IFLA_IFNAME and IFLA_MASTER 4-byte aligned", () => {
    const message = encodeSetMaster(7, "v23", 12);
    const v = view(message);
    // 16 header + 16 ifinfomsg + 8 (IFLA_IFNAME "v23\0") + 8 (IFLA_MASTER u32)
    expect(message.length).toBe(48);
    expect(header(message)).toEqual([48, 16, 0x5, 7]);
    expect(v.getInt32(16 + 4, true)).toBe(0);
    expect([v.getUint16(32, true), v.getUint16(34, true)]).toEqual([8, 3]);
    expect(new TextDecoder().decode(message.subarray(36, 40))).toBe("v23\0");
    expect([v.getUint16(40, true), v.getUint16(42, true), v.getUint32(44, true)]).toEqual([8, 10, 12]);
    // An odd-length name is padded: "mesh0\0" is 6 bytes, its attribute 12.
    expect(encodeSetMaster(1, "mesh0", 0).length).toBe(16 + 16 + 12 + 8);
  });

  test("rtnetlink - RTM_GETLINK dump request", () => {
    expect(header(encodeLinkDump(3))).toEqual([32, 18, 0x301, 3]);
  });

  test("rtnetlink - splits a received buffer into messages and reads links (name, index, master), unknown attributes skipped", () => {
    const link = (seq: number, index: number, name: string, master?: number) => {
      const body = new Uint8Array(16);
      view(body).setInt32(4, index, true);
      const attributes: [number, Uint8Array][] = [[3, new TextEncoder().encode(`${name}\0`)]];
      if (master !== undefined) attributes.push([10, uint(master, 4)]);
      // IFLA_MTU, which this parser does not read.
      attributes.push([4, uint(1500, 4)]);
      return encodeMessage(16, 2, seq, body, attributes);
    };
    const parts = [link(5, 1, "bat0"), link(5, 4, "v21", 1), link(5, 6, "eth0"), encodeMessage(3, 2, 5, new Uint8Array(4))];
    const buffer = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      buffer.set(part, offset);
      offset += part.length;
    }
    const messages = parseMessages(buffer);
    expect(messages.map((m) => [m.type, m.seq])).toEqual([
      [16, 5],
      [16, 5],
      [16, 5],
      [3, 5],
    ]);
    const links = messages.filter((m) => m.type === 16).map((m) => parseLink(m.payload));
    expect(links).toEqual([
      { index: 1, name: "bat0", master: 0 },
      { index: 4, name: "v21", master: 1 },
      { index: 6, name: "eth0", master: 0 },
    ]);
    expect(slavesOf(links, "bat0")).toEqual(["v21"]);
    expect(slavesOf(links, "bat1")).toBeUndefined();
    // A message claiming more bytes than were received is an error, not a read past the buffer.
    expect(() => parseMessages(buffer.subarray(0, 40))).toThrow(NetlinkError);
  });

  test("batadv - generic netlink requests: the family lookup, GET_MESH and SET_MESH of orig_interval", () => {
    const family = encodeFamilyRequest(2, "batadv");
    expect(header(family)).toEqual([family.length, 16, 0x5, 2]);
    // genl header: CTRL_CMD_GETFAMILY, version 1; then CTRL_ATTR_FAMILY_NAME.
    expect([...family.subarray(16, 20)]).toEqual([3, 1, 0, 0]);
    expect(readString(genlAttributes(family.subarray(16)).get(2))).toBe("batadv");

    const get = encodeGetMesh(3, 30, 7);
    expect(header(get)).toEqual([get.length, 30, 0x5, 3]);
    expect(get[16]).toBe(1);
    expect(readUint(genlAttributes(get.subarray(16)).get(3))).toBe(7);

    const set = encodeSetMesh(4, 30, 7, "orig_interval", 100);
    expect(set[16]).toBe(15);
    const attributes = genlAttributes(set.subarray(16));
    expect(readUint(attributes.get(3))).toBe(7);
    expect(readUint(attributes.get(57))).toBe(100);
    expect(attributes.get(57)?.length).toBe(4);
  });
});
