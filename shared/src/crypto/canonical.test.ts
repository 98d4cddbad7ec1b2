import { describe, expect, test } from "bun:test";
import { canonicalJson } from "./canonical.ts";
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
});
