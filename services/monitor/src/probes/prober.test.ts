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
