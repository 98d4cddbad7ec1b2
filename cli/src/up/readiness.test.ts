import { describe, expect, test } from "bun:test";
import { freePort } from "@x0/shared/testing";
import { answersOk, waitUntilOk } from "./readiness.ts";

describe("readiness", () => {
  test("readiness - waits until the URL answers 200", async () => {
    let calls = 0;
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("", { status: ++calls >= 3 ? 200 : 503 }) });
    try {
      const ready = await waitUntilOk(`http://127.0.0.1:${server.port}/readyz`, { timeoutMs: 5000, signal: new AbortController().signal, everyMs: 10 });
      expect(ready).toBe(true);
      expect(calls).toBe(3);
    } finally {
      server.stop(true);
    }
  });

  test("readiness - gives up on timeout, abort or when hopeless", async () => {
    const url = `http://127.0.0.1:${freePort()}/readyz`;
    expect(await answersOk(url)).toBe(false);
    expect(await waitUntilOk(url, { timeoutMs: 50, signal: new AbortController().signal, everyMs: 10 })).toBe(false);
    expect(await waitUntilOk(url, { timeoutMs: 60_000, signal: AbortSignal.abort(), everyMs: 10 })).toBe(false);
    expect(await waitUntilOk(url, { timeoutMs: 60_000, signal: new AbortController().signal, hopeless: () => true })).toBe(false);
  });
});
