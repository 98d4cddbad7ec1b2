import { describe, expect, test } from "bun:test";
import { BackendUnavailable, CryptoError, InvalidCryptoInput } from "@x0/shared";
import { errorReply, parseRequest } from "./service.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("service", () => {
  test("service - a valid request parses; an empty body is an empty object", () => {
    expect(parseRequest("kem.encaps", bytes('{"public_key":"AAAA"}'))).toEqual({ ok: true, value: { public_key: "AAAA" } });
    expect(parseRequest("health", new Uint8Array(0))).toEqual({ ok: true, value: {} });
    expect(parseRequest("keys.rotate", bytes('{"service":"planner"}'))).toEqual({ ok: true, value: { service: "planner", reason: "requested" } });
  });

  test("service - bad JSON, wrong types, unknown parameters and non-UTF-8 are one-line 400 reasons", () => {
    const cases = [bytes("{"), bytes('{"public_key":5}'), bytes('{"extra":1}'), new Uint8Array([0xff, 0xfe]), bytes("[]")];
    const endpoints = ["kem.encaps", "kem.encaps", "health", "kem.encaps", "sig.verify"] as const;
    cases.forEach((data, i) => {
      const parsed = parseRequest(endpoints[i] as (typeof endpoints)[number], data);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.error).not.toContain("\n");
    });
  });

  test("service - bad input is 400, a missing backend feature 501, anything else 500 without details", () => {
    expect(errorReply(new InvalidCryptoInput("ML-KEM-768 ciphertext must be 1088 bytes"))).toEqual({
      code: 400,
      description: "ML-KEM-768 ciphertext must be 1088 bytes",
    });
    expect(errorReply(new BackendUnavailable("no derand")).code).toBe(501);
    expect(errorReply(new CryptoError("secret detail"))).toEqual({ code: 500, description: "internal error" });
  });
});
