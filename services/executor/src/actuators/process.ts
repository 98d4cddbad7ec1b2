// process_restart: restarts a local process named in an allow-list (X0_EXECUTOR_PROCESSES), never an arbitrary one.
// A restart cannot be undone; verify observes a new, live pid (and a healthy endpoint when one is configured).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { z } from "zod";
import { ActuatorError } from "../errors.ts";
import { runChecked } from "./exec.ts";
import { Node } from "./params.ts";
import { type Actuator, observed } from "./types.ts";

const ProcessName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "process name must be 1-64 of [A-Za-z0-9_.-]");
const UnitName = z.string().regex(/^[A-Za-z0-9_.@:-]{1,128}$/, "systemd unit must be 1-128 of [A-Za-z0-9_.@:-]");

/** One restartable process: a systemd unit, or a pidfile plus the command that starts it again. */
export const ProcessSpec = z
  .object({
    unit: UnitName.optional().describe("systemd unit: restarted with systemctl, its MainPID is the pid."),
    pidfile: z.string().startsWith("/").optional().describe("File holding the running pid (written by the executor after a start when the process does not)."),
    command: z.array(z.string().min(1)).min(1).optional().describe("argv that starts it (with pidfile)."),
    health_url: z.url().optional().describe("Must answer 200 after the restart."),
    stop_timeout_ms: z.number().int().positive().max(60_000).default(5000),
  })
  .refine((spec) => spec.unit !== undefined || (spec.pidfile !== undefined && spec.command !== undefined), "needs a unit, or a pidfile and a command");
/** A restartable process. */
export type ProcessSpec = z.infer<typeof ProcessSpec>;

/** The allow-list: process name → how to restart it. */
export const ProcessAllowList = z.record(ProcessName, ProcessSpec);
/** A parsed allow-list. */
export type ProcessAllowList = z.infer<typeof ProcessAllowList>;

/** Params of process_restart. */
export const RestartParams = z.object({ node: Node, process: ProcessName });
/** Validated process_restart params. */
export type RestartParams = z.infer<typeof RestartParams>;

/** Options of {@link processActuator}. */
export interface ProcessOptions {
  allow: ProcessAllowList;
  systemctl?: string;
  /** How long verify waits for the health URL. */
  healthTimeoutMs?: number;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const readPid = (pidfile: string): number | null => {
  if (!existsSync(pidfile)) return null;
  const pid = Number(readFileSync(pidfile, "utf8").trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
};

/** The process_restart actuator. */
export function processActuator({
  allow,
  systemctl = "systemctl",
  healthTimeoutMs = 3000,
}: ProcessOptions): Actuator<RestartParams, { previous_pid: number | null; pid: number }> {
  const specOf = (name: string): ProcessSpec => {
    const spec = allow[name];
    if (!spec) throw new ActuatorError(`process ${name} is not in X0_EXECUTOR_PROCESSES`);
    return spec;
  };
  const unitPid = async (unit: string) => Number((await runChecked([systemctl, "show", "-p", "MainPID", "--value", unit])).trim()) || null;

  return {
    type: "process_restart",
    params: RestartParams,
    reversible: false,
    handles: (params, ctx) => {
      if (params.node !== ctx.node) return { ok: false, reason: `process restarts are local to ${ctx.node}, not ${params.node}` };
      if (!allow[params.process]) return { ok: false, reason: `process ${params.process} is not in the allow-list X0_EXECUTOR_PROCESSES` };
      return { ok: true };
    },
    apply: async (step, ctx) => {
      const spec = specOf(step.params.process);
      if (spec.unit) {
        const previous = await unitPid(spec.unit);
        await ctx.beforeChange([{ step, undo: { previous_pid: previous } }]);
        await runChecked([systemctl, "restart", spec.unit], { timeoutMs: spec.stop_timeout_ms + 10_000 });
        const pid = await unitPid(spec.unit);
        if (pid === null) throw new ActuatorError(`systemd unit ${spec.unit} has no main pid after its restart`);
        return { undo: { previous_pid: previous, pid }, at: Date.now(), detail: `restarted unit ${spec.unit}: pid ${previous ?? "-"} → ${pid}` };
      }
      const pidfile = spec.pidfile as string;
      const command = spec.command as string[];
      const previous = readPid(pidfile);
      await ctx.beforeChange([{ step, undo: { previous_pid: previous } }]);
      if (previous !== null && alive(previous)) {
        process.kill(previous, "SIGTERM");
        const deadline = Date.now() + spec.stop_timeout_ms;
        while (alive(previous) && Date.now() < deadline) await Bun.sleep(20);
        if (alive(previous)) process.kill(previous, "SIGKILL");
      }
      let child: Bun.Subprocess;
      try {
        child = Bun.spawn(command, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
      } catch (error) {
        throw new ActuatorError(`cannot start ${step.params.process} (${command.join(" ")})`, { cause: error });
      }
      // The restarted process must outlive this executor's interest in it.
      child.unref();
      writeFileSync(pidfile, `${child.pid}\n`);
      return {
        undo: { previous_pid: previous, pid: child.pid },
        at: Date.now(),
        detail: `restarted ${step.params.process}: pid ${previous ?? "-"} → ${child.pid}`,
      };
    },
    verify: async (step, applied) => {
      const spec = specOf(step.params.process);
      const pid = spec.unit ? await unitPid(spec.unit) : readPid(spec.pidfile as string);
      if (pid === null || pid === applied.undo.previous_pid || !alive(pid)) {
        return observed(false, `${step.params.process}: pid ${pid ?? "-"} is ${pid === applied.undo.previous_pid ? "the old one" : "not alive"}`);
      }
      if (!spec.health_url) return observed(true, `${step.params.process}: new pid ${pid} alive`);
      const deadline = Date.now() + healthTimeoutMs;
      let last = "no answer";
      while (Date.now() < deadline) {
        try {
          const response = await fetch(spec.health_url, { signal: AbortSignal.timeout(Math.max(50, deadline - Date.now())) });
          if (response.status === 200) return observed(true, `${step.params.process}: new pid ${pid} alive, ${spec.health_url} answered 200`);
          last = `status ${response.status}`;
        } catch (error) {
          last = (error as Error).message;
        }
        await Bun.sleep(50);
      }
      return observed(false, `${step.params.process}: new pid ${pid} alive, but ${spec.health_url}: ${last}`);
    },
    rollback: async (step) => {
      throw new ActuatorError(`a restart of ${step.params.process} cannot be undone`);
    },
  };
}
