import { afterEach, describe, expect, test } from "bun:test";
import { waitFor } from "@x0/shared/testing";
import { ProbePeerError, Prober, parsePeer } from "./prober.ts";

const probers: Prober[] = [];
afterEach(() => {
  for (const prober of probers.splice(0)) prober.close();
});

/** A prober on loopback with one peer: a responder (a prober without peers) answering every 20 ms hello. */
async function proberWithResponder(): Promise<Prober> {
  const options = { port: 0, host: "127.0.0.1", intervalMs: 20, timeoutMs: 200, window: 10 };
  const responder = await Prober.start({ ...options, peers: [] });
  probers.push(responder);
  const prober = await Prober.start({ ...options, peers: [{ host: "127.0.0.1", port: responder.port }] });
  probers.push(prober);
  return prober;
}

describe("prober", () => {
  test("prober - parses peers with and without a port", () => {
    expect(parsePeer("10.0.0.2:9000", 7471)).toEqual({ host: "10.0.0.2", port: 9000 });
    expect(parsePeer("10.0.0.2", 7471)).toEqual({ host: "10.0.0.2", port: 7471 });
    expect(() => parsePeer("peer.example:1", 7471)).toThrow(ProbePeerError);
  });

  test("prober - a live peer answers hellos over real UDP: RTT and no loss", async () => {
    const prober = await proberWithResponder();
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
    const prober = await proberWithResponder();
    await waitFor("6 replies", () => (prober.stats()[0]?.received ?? 0) >= 6, 5000);
    const [stats] = prober.stats();
    expect(Math.abs(Date.now() - (stats?.lastReplyTs ?? 0))).toBeLessThan(1000);
    // Replies follow hellos sent every 20 ms.
    expect(stats?.replyIntervalMeanMs).toBeGreaterThan(5);
    expect(stats?.replyIntervalMeanMs).toBeLessThan(200);
    expect(stats?.replyIntervalStddevMs).toBeGreaterThanOrEqual(0);
  });
});

describe("prober overdue reports", () => {
  test("prober - a peer gone silent is reported at every hello from overdueAfterMs on, for overdueReportForMs, and a live one never", async () => {
    const live = await Prober.start({ peers: [], port: 0, host: "127.0.0.1", intervalMs: 20, timeoutMs: 200, window: 10 });
    const leaving = await Prober.start({ peers: [], port: 0, host: "127.0.0.1", intervalMs: 20, timeoutMs: 200, window: 10 });
    probers.push(live);
    const reports: { at: number; peers: string[]; lastReplyTs: (number | null)[] }[] = [];
    const prober = await Prober.start({
      peers: [
        { host: "127.0.0.1", port: live.port },
        { host: "127.0.0.1", port: leaving.port },
      ],
      port: 0,
      host: "127.0.0.1",
      intervalMs: 20,
      timeoutMs: 200,
      window: 10,
      overdueAfterMs: 100,
      overdueReportForMs: 200,
      onOverdue: (overdue) => reports.push({ at: Date.now(), peers: overdue.map((p) => p.peer), lastReplyTs: overdue.map((p) => p.lastReplyTs) }),
    });
    probers.push(prober);
    await waitFor("replies from both", () => prober.stats().every((stats) => stats.received >= 6), 5000);
    expect(reports).toEqual([]);
    leaving.close();
    await waitFor("an overdue report", () => reports.length > 0, 5000);
    // The window closes 300 ms after the last reply: wait past it, and a while more, to see the reports stop.
    await Bun.sleep(600);
    // Read after the reports stopped: a reply already on its way when the peer closed may have landed late.
    const lastReply = prober.stats()[1]?.lastReplyTs ?? 0;
    const leavingId = `127.0.0.1:${leaving.port}`;
    const context = JSON.stringify({ lastReply, reports });
    expect(
      reports.every((report) => report.peers.length === 1 && report.peers[0] === leavingId),
      context,
    ).toBe(true);
    // (Epoch stamps come from the monotonic clock per call: they may differ by a millisecond or two of rounding.)
    expect(
      reports.every((report) => Math.abs((report.lastReplyTs[0] ?? 0) - lastReply) <= 2),
      context,
    ).toBe(true);
    // Silent for more than 100 ms at the first report, at most 300 ms (plus one hello's scheduling) at the last.
    expect((reports[0]?.at ?? 0) - lastReply, context).toBeGreaterThanOrEqual(100 - 2);
    expect((reports.at(-1)?.at ?? 0) - lastReply, context).toBeLessThanOrEqual(300 + 20 + 50);
    // One report per hello while overdue: about 200 ms / 20 ms of them, never a flood. A hello late under load is
    // skipped (the silence may be ours) and the timer may then fire the next ones closer together: a margin of two.
    expect(reports.length, context).toBeGreaterThanOrEqual(3);
    expect(reports.length, context).toBeLessThanOrEqual(12);
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
