import { describe, expect, test } from "bun:test";
import { EXIT_CONFIG, isProcessAlive } from "@x0/shared";
import { waitFor } from "@x0/shared/testing";
import { Supervisor, type SupervisorOptions } from "./supervisor.ts";

const fastBackoff = { initialMs: 10, maxMs: 40, resetAfterMs: 60_000 };

function supervise(script: string, overrides: Partial<SupervisorOptions> = {}) {
  const lines: string[] = [];
  const logs: string[] = [];
  const starts: number[] = [];
  const exits: number[] = [];
  const supervisor = new Supervisor({
    name: "child",
    argv: ["sh", "-c", script],
    cwd: "/",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    onLine: (stream, line) => lines.push(`${stream}:${line}`),
    log: (message) => logs.push(message),
    onStart: (pid) => starts.push(pid),
    onExit: (pid) => exits.push(pid),
    backoff: fastBackoff,
    ...overrides,
  });
  return { supervisor, lines, logs, starts, exits };
}

describe("supervisor", () => {
  test("supervisor - passes each output line on, by stream", async () => {
    const { supervisor, lines } = supervise("echo out; echo err >&2; exec sleep 30");
    supervisor.start();
    await waitFor("both lines", () => lines.length === 2, 5000);
    expect(lines.sort()).toEqual(["stderr:err", "stdout:out"]);
    await supervisor.stop(5000);
  });

  test("supervisor - restarts a crashed process with growing delays and logs each restart", async () => {
    const { supervisor, logs, starts, exits } = supervise("exit 3");
    supervisor.start();
    await waitFor("three restarts", () => starts.length >= 4, 5000);
    await supervisor.stop(1000);
    expect(logs.filter((line) => line.includes("restarted")).length).toBeGreaterThanOrEqual(3);
    expect(logs[0]).toMatch(/child exited with code 3 after .* restarting in 0\.0 s \(crash 1 in a row\)/);
    expect(logs.some((line) => line.includes("crash 3 in a row"))).toBe(true);
    expect(exits.length).toBeGreaterThanOrEqual(3);
  });

  test("supervisor - an unexpected clean exit is restarted too", async () => {
    const { supervisor, starts } = supervise("exit 0");
    supervisor.start();
    await waitFor("a restart", () => starts.length >= 2, 5000);
    await supervisor.stop(1000);
  });

  test("supervisor - does not restart a process whose configuration is invalid", async () => {
    const { supervisor, logs, starts } = supervise(`exit ${EXIT_CONFIG}`);
    supervisor.start();
    await waitFor("giving up", () => supervisor.gaveUp, 5000);
    await Bun.sleep(100);
    expect(starts.length).toBe(1);
    expect(logs.join("\n")).toContain("not restarting");
    await supervisor.stop(1000);
  });

  test("supervisor - stop sends TERM to the whole group and does not restart", async () => {
    const { supervisor, logs, starts } = supervise("sleep 30 & sleep 30; wait");
    supervisor.start();
    const pid = supervisor.pid ?? 0;
    await supervisor.stop(5000);
    expect(supervisor.pid).toBeNull();
    expect(isProcessAlive(pid)).toBe(false);
    await Bun.sleep(50);
    expect(starts.length).toBe(1);
    expect(logs.at(-1)).toMatch(/child stopped \(pid \d+, exited by SIGTERM\)/);
  });

  test("supervisor - kills a process that ignores the stop signal after the grace time", async () => {
    const { supervisor, logs, lines } = supervise("trap '' TERM; echo armed; while :; do sleep 0.05; done");
    supervisor.start();
    await waitFor("the trap", () => lines.includes("stdout:armed"), 5000);
    await supervisor.stop(200);
    expect(logs.join("\n")).toContain("did not stop within 0.2 s; killing it");
    expect(logs.at(-1)).toContain("exited by SIGKILL");
  });
});
