import { afterEach, describe, expect, test } from "bun:test";
import { waitFor } from "@x0/shared/testing";
import { ProbePeerError, Prober, parsePeer } from "./prober.ts";

const probers: Prober[] = [];
afterEach(() => {
  for (const prober of probers.splice(0)) prober.close();
});

describe("prober", () => {
  test("prober - parses peers with and without a port", () => {
    expect(parsePeer("10.0.0.2:9000", 7471)).toEqual({ host: "10.0.0.2", port: 9000 });
    expect(parsePeer("10.0.0.2", 7471)).toEqual({ host: "10.0.0.2", port: 7471 });
    expect(() => parsePeer("peer.example:1", 7471)).toThrow(ProbePeerError);
  });

  test("prober - a live peer answers hellos over real UDP: RTT and no loss", async () => {
    const responder = await Prober.start({ peers: [], port: 0, host: "127.0.0.1", intervalMs: 20, timeoutMs: 200, window: 10 });
    probers.push(responder);
    const prober = await Prober.start({
      peers: [{ host: "127.0.0.1", port: responder.port }],
      port: 0,
      host: "127.0.0.1",
      intervalMs: 20,
      timeoutMs: 200,
      window: 10,
    });
    probers.push(prober);
    await waitFor("10 replies", () => (prober.stats()[0]?.received ?? 0) >= 10, 5000);
    const [stats] = prober.stats();
    expect(stats?.loss).toBe(0);
    expect(stats?.rttMs).toBeGreaterThan(0);
    expect(stats?.rttAvgMs).toBeGreaterThan(0);
  });

  test("prober - a silent peer reaches 100% loss and no RTT", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = silent.port;
    silent.stop(true);
    const prober = await Prober.start({ peers: [{ host: "127.0.0.1", port }], port: 0, host: "127.0.0.1", intervalMs: 20, timeoutMs: 60, window: 5 });
    probers.push(prober);
    await waitFor("window full of losses", () => prober.stats()[0]?.loss === 1 && (prober.stats()[0]?.sent ?? 0) > 8, 5000);
    expect(prober.stats()[0]?.rttMs).toBeNull();
    expect(prober.stats()[0]?.received).toBe(0);
  });
});

describe("prober heartbeat history", () => {
  test("prober - reports the latest reply time and the spacing of replies", async () => {
    const responder = await Prober.start({ peers: [], port: 0, host: "127.0.0.1", intervalMs: 20, timeoutMs: 200, window: 10 });
    probers.push(responder);
    const prober = await Prober.start({
      peers: [{ host: "127.0.0.1", port: responder.port }],
      port: 0,
      host: "127.0.0.1",
      intervalMs: 20,
      timeoutMs: 200,
      window: 10,
    });
    probers.push(prober);
    await waitFor("6 replies", () => (prober.stats()[0]?.received ?? 0) >= 6, 5000);
    const [stats] = prober.stats();
    expect(Math.abs(Date.now() - (stats?.lastReplyTs ?? 0))).toBeLessThan(1000);
    // Replies follow hellos sent every 20 ms.
    expect(stats?.replyIntervalMeanMs).toBeGreaterThan(5);
    expect(stats?.replyIntervalMeanMs).toBeLessThan(200);
    expect(stats?.replyIntervalStddevMs).toBeGreaterThanOrEqual(0);
  });
});

describe("probe once", () => {
  test("probeOnce - a responder answers the first hello; a closed port answers none", async () => {
    const { probeOnce } = await import("./probe-once.ts");
    const responder = await Prober.start({ peers: [], port: 0, host: "127.0.0.1", intervalMs: 20, timeoutMs: 200, window: 10 });
    probers.push(responder);
    const answered = await probeOnce({ to: "127.0.0.1", port: responder.port, count: 5, intervalMs: 10, timeoutMs: 300, untilFirst: true });
    expect(answered.received).toBe(1);
    expect(answered.rttMs[0]).toBeGreaterThan(0);
    const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = closed.port;
    closed.stop(true);
    const silent = await probeOnce({ to: "127.0.0.1", port, count: 3, intervalMs: 10, timeoutMs: 50, untilFirst: true });
    expect(silent).toEqual({ sent: 3, received: 0, rttMs: [] });
  });
});
