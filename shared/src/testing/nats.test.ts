import { describe, expect, test } from "bun:test";
import { startNatsServer } from "./nats.ts";

describe("test nats-server", () => {
  test("nats-server - one that exits at start fails at once with its log, not at the readiness timeout", async () => {
    const started = startNatsServer({ configText: "this is { not a nats config", readyTimeoutMs: 60_000 });
    expect(started).rejects.toThrow(/exited with|not healthy/);
    const error = (await started.catch((caught) => caught)) as Error;
    expect((error.cause as Error).message).toMatch(/nats-server on \d+ exited with \d+/);
  });

  test("nats-server - a started one answers on its port", async () => {
    const nats = await startNatsServer();
    try {
      expect(nats.running).toBe(true);
      expect((await fetch(`${nats.monitorUrl}/healthz`)).ok).toBe(true);
    } finally {
      await nats.dispose();
    }
  });
});
