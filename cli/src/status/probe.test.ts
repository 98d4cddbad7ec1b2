import { afterAll, describe, expect, test } from "bun:test";
import { freePort } from "@x0/shared/testing";
import { probeService } from "./probe.ts";

const statusBody = {
  service: "analyzer",
  version: "0.1.0",
  node: "n1",
  instance: "n1-42",
  ready: false,
  nats: { connected: false, server: null },
  started_at: "2025-01-01T00:00:00.000Z",
  counters: { anomalies: 0, dlq: 0 },
};

const fake = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname.startsWith("/ok/")) return pathname.endsWith("/readyz") ? Response.json({ ready: true }) : Response.json({ ...statusBody, ready: true });
    if (pathname.startsWith("/starting/")) return pathname.endsWith("/readyz") ? Response.json({ ready: false }, { status: 503 }) : Response.json(statusBody);
    if (pathname.startsWith("/odd/")) return pathname.endsWith("/readyz") ? Response.json({ ready: true }) : Response.json({ hello: "world" });
    return new Response("not found", { status: 404 });
  },
});
afterAll(() => fake.stop(true));
const base = `http://127.0.0.1:${fake.port}`;

describe("status probe", () => {
  test("status probe - a ready service answers 200 on /readyz and its /status", async () => {
    const probe = await probeService(`${base}/ok`);
    expect(probe).toMatchObject({ reachable: true, ready: true, error: undefined });
    expect(probe.status?.counters).toEqual({ anomalies: 0, dlq: 0 });
  });

  test("status probe - a starting service is reachable but not ready", async () => {
    expect(await probeService(`${base}/starting`)).toMatchObject({ reachable: true, ready: false, status: { service: "analyzer" } });
  });

  test("status probe - an unexpected /status answer is reported, not trusted", async () => {
    const probe = await probeService(`${base}/odd`);
    expect(probe).toMatchObject({ reachable: true, ready: true, status: undefined });
    expect(probe.error).toContain("unexpected answer");
    expect((await probeService(`${base}/missing`)).error).toBe("/status answered HTTP 404");
  });

  test("status probe - nothing listening means down", async () => {
    expect(await probeService(`http://127.0.0.1:${freePort()}`)).toMatchObject({ reachable: false, ready: false, error: "connection refused" });
  });
});
