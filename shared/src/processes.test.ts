import { describe, expect, test } from "bun:test";
import { isProcessAlive, processStartedAt, processStateOf, signalGroup } from "./processes.ts";

describe("processes", () => {
  test("processes - reads the state letter after the command name, even one with spaces and parentheses", () => {
    expect(processStateOf("1234 (bun) S 1 1234 1234 0 -1")).toBe("S");
    expect(processStateOf("99 (weird ) name)) Z 1 99")).toBe("Z");
    expect(processStateOf("garbage")).toBeUndefined();
  });

  test("processes - this process is alive and an exited one is not", async () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    const child = Bun.spawn(["true"]);
    await child.exited;
    expect(isProcessAlive(child.pid)).toBe(false);
  });

  test("processes - signals a whole process group and reports a missing one", async () => {
    const child = Bun.spawn(["sleep", "30"], { detached: true });
    expect(signalGroup(child.pid, "SIGTERM")).toBe(true);
    await child.exited;
    expect(child.signalCode).toBe("SIGTERM");
    expect(signalGroup(child.pid, "SIGTERM")).toBe(false);
  });

  test("processes - a process's start time comes from /proc: a child started now, after this process", async () => {
    const before = Date.now();
    const child = Bun.spawn(["sleep", "30"]);
    try {
      const started = processStartedAt(child.pid)?.getTime() ?? Number.NaN;
      // /proc counts in 10 ms ticks from a boot time given in whole seconds.
      expect(started).toBeGreaterThanOrEqual(before - 1100);
      expect(started).toBeLessThanOrEqual(Date.now() + 1100);
      expect(processStartedAt(process.pid)?.getTime() ?? Number.NaN).toBeLessThanOrEqual(started + 1100);
    } finally {
      child.kill();
      await child.exited;
    }
    expect(processStartedAt(child.pid)).toBeUndefined();
  });
});
