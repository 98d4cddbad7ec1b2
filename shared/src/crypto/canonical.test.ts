import { describe, expect, test } from "bun:test";
import { canonicalJson, canonicalObject } from "./canonical.ts";
import { InvalidCryptoInput } from "./errors.ts";

describe("canonical", () => {
  test("canonical - sorts keys at every depth and drops whitespace", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: "x" } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  test("canonical - the same value in another key order has the same encoding", () => {
    expect(canonicalJson({ x: 1, y: [1, 2], z: null })).toBe(canonicalJson({ z: null, y: [1, 2], x: 1 }));
  });

  test("canonical - numbers and strings use ECMAScript serialisation as JCS does", () => {
    expect(canonicalJson([1e21, 0.1, -0, 5, "é\u2028\n"])).toBe('[1e+21,0.1,0,5,"é\u2028\\n"]');
  });

  test("canonical - undefined members are left out", () => {
    expect(canonicalJson({ a: undefined, b: 2 })).toBe('{"b":2}');
  });

  test("canonical - non-finite numbers and non-JSON values are refused", () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(InvalidCryptoInput);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(InvalidCryptoInput);
    expect(() => canonicalJson(10n)).toThrow(InvalidCryptoInput);
  });

  test("canonical - replacing members gives the text of the spread object, without touching the record", () => {
    const record = { v: 1, signature: { value: "x" }, b: [1, { d: 2, c: undefined }], a: "é" };
    const replace = { signature: { key_id: "k", signed_at: 5 }, z: true, u: undefined };
    expect(canonicalObject(record, replace)).toBe(canonicalJson({ ...record, ...replace }));
    expect(canonicalObject(record)).toBe(canonicalJson(record));
    expect(canonicalObject({}, { a: undefined })).toBe("{}");
    expect(record.signature).toEqual({ value: "x" });
    // A JSON-parsed "__proto__" member is an own member like any other.
    const parsed = JSON.parse('{"__proto__":{"x":1},"a":2}');
    expect(canonicalObject(parsed, { s: 1 })).toBe('{"__proto__":{"x":1},"a":2,"s":1}');
  });
});
