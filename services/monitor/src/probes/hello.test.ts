import { describe, expect, test } from "bun:test";
import { decodeHello, encodeHello, HELLO_BYTES, HelloType } from "./hello.ts";

describe("hello", () => {
  test("hello - round-trips a hello and a reply", () => {
    const hello = { type: HelloType.HELLO, seq: 4_000_000_000, sentMs: 1234.5678, repliedMs: 0 };
    const bytes = encodeHello(hello);
    expect(bytes.length).toBe(HELLO_BYTES);
    expect(decodeHello(bytes)).toEqual(hello);
    const reply = { ...hello, type: HelloType.REPLY, repliedMs: 99.25 };
    expect(decodeHello(encodeHello(reply))).toEqual(reply);
  });

  test("hello - ignores datagrams that are not hellos", () => {
    expect(decodeHello(Buffer.alloc(HELLO_BYTES))).toBeUndefined();
    expect(decodeHello(Buffer.from("hello"))).toBeUndefined();
    const wrongType = encodeHello({ type: HelloType.HELLO, seq: 1, sentMs: 1, repliedMs: 0 });
    wrongType.writeUInt8(9, 5);
    expect(decodeHello(wrongType)).toBeUndefined();
  });
});
