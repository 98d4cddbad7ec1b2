import { describe, expect, test } from "bun:test";
import { encodeDump, encodeFamilyRequest, encodeGetMesh, encodeSetMesh, genlAttributes, parseNeighbour, parseOriginator, readMac } from "./batadv.ts";
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

  test("batadv - generic netlink requests: the family lookup, GET_MESH and SET_MESH of orig_interval, hop_penalty and aggregated_ogms", () => {
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

    // hop_penalty is a u8 (BATADV_ATTR_HOP_PENALTY, 53): one byte of value, padded to 4 in the message.
    const penalty = encodeSetMesh(5, 30, 7, "hop_penalty", 10);
    expect(penalty.length).toBe(16 + 4 + 8 + 8);
    const penaltyAttributes = genlAttributes(penalty.subarray(16));
    expect(penaltyAttributes.get(53)).toEqual(new Uint8Array([10]));
    expect(view(penalty).getUint16(16 + 4 + 8, true)).toBe(5);

    // aggregated_ogms is a u8 too (BATADV_ATTR_AGGREGATED_OGMS_ENABLED, 41): 0 turns OGM aggregation off.
    const aggregation = encodeSetMesh(6, 30, 7, "aggregated_ogms", 0);
    expect(aggregation.length).toBe(16 + 4 + 8 + 8);
    expect(genlAttributes(aggregation.subarray(16)).get(41)).toEqual(new Uint8Array([0]));
    expect(view(aggregation).getUint16(16 + 4 + 8, true)).toBe(5);
  });

  test("batadv - originator and neighbour dump entries as batctl oj/nj print them; an entry missing a field is skipped", () => {
    const mac = (last: number) => new Uint8Array([0x02, 0, 0, 0, 0, last]);
    // A genl reply payload: the 4-byte genl header, then attributes (encodeMessage's body and attribute layout, header dropped).
    const payload = (attributes: [number, Uint8Array][]) => encodeMessage(0, 0, 0, new Uint8Array([8, 1, 0, 0]), attributes).subarray(16);
    const names = new Map([[4, "n2-n1"]]);
    const best = payload([
      [9, mac(1)],
      [24, mac(1)],
      [6, uint(4, 4)],
      [25, uint(240, 1)],
      [23, uint(312, 4)],
      [22, new Uint8Array(0)],
    ]);
    expect(parseOriginator(best, names)).toEqual({
      originator: "02:00:00:00:00:01",
      next_hop: "02:00:00:00:00:01",
      interface: "n2-n1",
      tq: 240,
      last_seen_ms: 312,
      best: true,
    });
    // The hard interface's name attribute wins over the ifindex; no FLAG_BEST is not best.
    const other = payload([
      [9, mac(3)],
      [24, mac(5)],
      [7, new TextEncoder().encode("n2-n5\0")],
      [6, uint(9, 4)],
      [25, uint(101, 1)],
      [23, uint(40, 4)],
    ]);
    expect(parseOriginator(other, names)).toMatchObject({ originator: "02:00:00:00:00:03", interface: "n2-n5", tq: 101, best: false });
    expect(parseOriginator(payload([[9, mac(1)]]), names)).toBeUndefined();
    expect(
      parseNeighbour(
        payload([
          [24, mac(1)],
          [6, uint(4, 4)],
          [23, uint(12, 4)],
        ]),
        names,
      ),
    ).toEqual({ neighbour: "02:00:00:00:00:01", interface: "n2-n1", last_seen_ms: 12 });
    expect(readMac(new Uint8Array(5))).toBeUndefined();
    const dump = encodeDump(9, 30, "originators", 7);
    expect(header(dump)).toEqual([dump.length, 30, 0x301, 9]);
    expect(dump[16]).toBe(8);
  });
});
