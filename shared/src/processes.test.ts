import { describe, expect, test } from "bun:test";
import { isProcessAlive, processStateOf, signalGroup } from "./processes.ts";

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
});
