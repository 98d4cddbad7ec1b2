import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProcessAllowList, processActuator, RestartParams } from "./process.ts";
import { stepOf, testContext } from "./testing.ts";

const dir = mkdtempSync(join(tmpdir(), "x0-process-"));
const pidfile = join(dir, "svc.pid");
const started: number[] = [];
afterAll(() => {
  for (const pid of [...started, Number(readFileSync(pidfile, "utf8"))]) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("process", () => {
  const ctx = testContext("n1");

  test("process - a listed process is restarted: new pid alive, old one gone; rollback is refused", async () => {
    const first = Bun.spawn(["sleep", "300"]);
    started.push(first.pid);
    writeFileSync(pidfile, `${first.pid}\n`);
    const allow = ProcessAllowList.parse({ svc: { pidfile, command: ["sleep", "301"] } });
    const actuator = processActuator({ allow });
    const step = stepOf("process_restart", RestartParams.parse({ node: "n1", process: "svc" }));
    expect(actuator.handles(step.params, ctx).ok).toBe(true);
    const applied = await actuator.apply(step, ctx);
    expect(applied.undo.previous_pid).toBe(first.pid);
    expect(await first.exited).not.toBe(0);
    expect(Number(readFileSync(pidfile, "utf8"))).toBe(applied.undo.pid);
    const observation = await actuator.verify(step, applied, ctx);
    expect(observation).toMatchObject({ ok: true });
    expect(actuator.reversible).toBe(false);
    await expect(actuator.rollback(step, applied, ctx)).rejects.toThrow(/cannot be undone/);
  });

  test("process - a health URL must answer 200 for the restart to verify", async () => {
    let healthy = false;
    const server = Bun.serve({ port: 0, fetch: () => new Response("", { status: healthy ? 200 : 503 }) });
    try {
      const allow = ProcessAllowList.parse({ svc: { pidfile, command: ["sleep", "302"], health_url: `http://127.0.0.1:${server.port}/` } });
      const actuator = processActuator({ allow, healthTimeoutMs: 300 });
      const step = stepOf("process_restart", RestartParams.parse({ node: "n1", process: "svc" }));
      const applied = await actuator.apply(step, ctx);
      expect((await actuator.verify(step, applied, ctx)).detail).toMatch(/status 503/);
      healthy = true;
      expect((await actuator.verify(step, applied, ctx)).ok).toBe(true);
    } finally {
      server.stop(true);
    }
  });

  test("process - processes outside the allow-list or on another node are not handled; the allow-list is validated", () => {
    const actuator = processActuator({ allow: {} });
    expect(actuator.handles({ node: "n1", process: "sshd" }, ctx)).toMatchObject({ ok: false, reason: expect.stringMatching(/allow-list/) });
    expect(actuator.handles({ node: "n2", process: "sshd" }, ctx).ok).toBe(false);
    expect(ProcessAllowList.safeParse({ svc: { pidfile } }).success).toBe(false);
    expect(RestartParams.safeParse({ node: "n1", process: "a;rm -rf /" }).success).toBe(false);
  });
});
