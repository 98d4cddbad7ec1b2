// The actuator plugin contract: every kind of change the executor makes is one Actuator (apply / verify / rollback).
import type { ActionType, Logger, Telemetry } from "@x0/shared";
import type { z } from "zod";

/** One plan step as an actuator sees it: its position in the plan, its type and its validated parameters. */
export interface Step<P = unknown> {
  index: number;
  type: ActionType;
  params: P;
  reason: string;
}

/** What applying a step left: JSON (it is journaled in x0_outcomes), with what is needed to undo it. */
export interface Applied<U = unknown> {
  /** The state before the change, as the actuator needs it to roll back. */
  undo: U;
  /** When the change was made (epoch ms). */
  at: number;
  detail: string;
}

/** One observation of a step's (or a plan's) effect. */
export interface Observation {
  ok: boolean;
  detail: string;
  /** When it was observed (epoch ms). */
  at: number;
  /** False when there is nothing observable (notify): the step stays "applied". */
  observable?: boolean;
}

/** What actuators get from the runner. */
export interface ActuatorContext {
  /** The executor's own node (host-local actuators act only for it). */
  node: string;
  logger: Logger;
  /**
   * Must be awaited with the steps' undo data before they change anything: the runner journals it, so an instance
   * that takes over after a crash can roll a step back even when the crash came in the middle of the change.
   */
  beforeChange(items: readonly { step: Step; undo: unknown }[]): Promise<void>;
  /** The next telemetry sample of `node` within `timeoutMs` (undefined when none came): observes the data plane. */
  nextTelemetry?(node: string, timeoutMs: number): Promise<Telemetry | undefined>;
}

/** One kind of change, as a plugin. `P` is the validated params, `U` the undo data. */
export interface Actuator<P = unknown, U = unknown> {
  readonly type: ActionType;
  /** Validates a step's params before anything uses them. */
  readonly params: z.ZodType<P>;
  /** False when a step cannot be undone (a process restart): the runner reports it instead of pretending. */
  readonly reversible: boolean;
  /** Whether this executor can act for `node` (host-local actuators only for their own node). */
  handles(params: P, ctx: ActuatorContext): { ok: true } | { ok: false; reason: string };
  /**
   * Checks steps before anything changes, reading only (e.g. a route's next hop is reachable on its device): a node
   * executor prepares its part of a coordinated plan with it. One problem per step, undefined when the step can run.
   */
  checkBatch?(steps: readonly Step<P>[], ctx: ActuatorContext): Promise<(string | undefined)[]>;
  apply(step: Step<P>, ctx: ActuatorContext): Promise<Applied<U>>;
  /** Applies many steps at once (one spawn for a namespace's routes); results in the order of `steps`. */
  applyBatch?(steps: readonly Step<P>[], ctx: ActuatorContext): Promise<(Applied<U> | Error)[]>;
  /**
   * Steps of batching actuators with the same group that follow each other in a plan are applied at once, each
   * actuator's batch concurrently with the others': their relative order never matters (batman-adv settings of
   * different kinds, on any nodes). Without a group a batch waits for the steps before it.
   */
  readonly concurrencyGroup?: string;
  verify(step: Step<P>, applied: Applied<U>, ctx: ActuatorContext): Promise<Observation>;
  /** Verifies many steps at once; results in the order of `steps`. */
  verifyBatch?(items: readonly { step: Step<P>; applied: Applied<U> }[], ctx: ActuatorContext): Promise<Observation[]>;
  /** Undoes one applied step; idempotent (a step whose change never landed undoes to the same state). */
  rollback(step: Step<P>, applied: Applied<U>, ctx: ActuatorContext): Promise<void>;
  /** Undoes many steps at once, in the given order; one result per step (undefined: undone). */
  rollbackBatch?(items: readonly { step: Step<P>; applied: Applied<U> }[], ctx: ActuatorContext): Promise<(Error | undefined)[]>;
}

/** Builds an observation stamped now. */
export function observed(ok: boolean, detail: string, observable = true): Observation {
  return { ok, detail, at: Date.now(), observable };
}
