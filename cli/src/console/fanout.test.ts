import { describe, expect, test } from "bun:test";
import { EventFanout, encodeEvent } from "./fanout.ts";

const decoder = new TextDecoder();

describe("console fanout", () => {
  test("console fanout - every client gets the first event and each broadcast, encoded once", async () => {
    const fanout = new EventFanout();
    const responses = [1, 2, 3].map(() => fanout.connect(encodeEvent("snapshot", { n: 1 }), new AbortController().signal));
    expect(responses[0]?.headers.get("content-type")).toBe("text/event-stream");
    expect(fanout.clients).toBe(3);
    fanout.broadcast("changes", { links: [] });
    for (const response of responses) {
      const reader = response.body?.getReader();
      const first = decoder.decode((await reader?.read())?.value);
      const second = decoder.decode((await reader?.read())?.value);
      expect(first).toBe('event: snapshot\ndata: {"n":1}\n\n');
      expect(second).toBe('event: changes\ndata: {"links":[]}\n\n');
    }
    fanout.close();
    expect(fanout.clients).toBe(0);
  });

  test("console fanout - a client that stops reading is dropped once its queue is full; others carry on", async () => {
    const fanout = new EventFanout({ maxQueuedBytes: 1024 });
    const slow = fanout.connect(encodeEvent("snapshot", {}), new AbortController().signal);
    const fast = fanout.connect(encodeEvent("snapshot", {}), new AbortController().signal);
    const reader = fast.body?.getReader();
    await reader?.read();
    for (let index = 0; index < 20; index++) {
      fanout.broadcast("changes", { padding: "x".repeat(200), index });
      await reader?.read();
    }
    expect(fanout.dropped).toBe(1);
    expect(fanout.clients).toBe(1);
    expect(slow.bodyUsed).toBe(false);
    fanout.close();
  });

  test("console fanout - a page that goes away is forgotten; a full console says so with 503", async () => {
    const fanout = new EventFanout({ maxClients: 1 });
    const gone = new AbortController();
    const response = fanout.connect(encodeEvent("snapshot", {}), gone.signal);
    expect(fanout.connect(encodeEvent("snapshot", {}), new AbortController().signal).status).toBe(503);
    gone.abort();
    expect(fanout.clients).toBe(0);
    await response.body?.cancel();
    expect(fanout.connect(encodeEvent("snapshot", {}), new AbortController().signal).status).toBe(200);
    fanout.close();
  });
});
