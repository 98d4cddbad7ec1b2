import { describe, expect, test } from "bun:test";
import { ConfigError, createLogger } from "@x0/shared";
import { startHellos } from "./hellos.ts";

const settings = {
  node: "n1",
  intervalMs: 20,
  timeoutMs: 100,
  window: 10,
  overdue: undefined,
  telemetryIntervalMs: 100,
  onOverdue: () => {},
  logger: createLogger({ service: "monitor-test", node: "n1", level: "error" }),
};

describe("hellos", () => {
  test("hellos - a taken port turns the responder off without peers and is fatal with them", async () => {
    const taken = await Bun.udpSocket({ hostname: "127.0.0.1" });
    try {
      expect(await startHellos({ ...settings, peers: [], port: taken.port })).toBeUndefined();
      await expect(startHellos({ ...settings, peers: ["127.0.0.1"], port: taken.port })).rejects.toThrow();
      const prober = await startHellos({ ...settings, peers: [], port: 0 });
      expect(prober?.port).toBeGreaterThan(0);
      prober?.close();
    } finally {
      taken.close();
    }
  });

  test("hellos - an overdue setting below two hello intervals is a config error even without peers", async () => {
    await expect(startHellos({ ...settings, peers: [], port: 0, overdue: "30" })).rejects.toThrow(ConfigError);
  });
});
