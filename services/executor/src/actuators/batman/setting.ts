// The shape of the actuators of one batman-adv setting per step (hop penalty, OGM interval, aggregation): read first
// (the undo, journaled), set, verified by reading it back, set back on rollback; batched in the repair's concurrency group.
import type { z } from "zod";
import { type Actuator, type ActuatorContext, observed, type Step } from "../types.ts";
import { applyConcurrently, applyOne, BATMAN_MESH_SETTINGS, type BatmanControl } from "./control.ts";

/** What one setting's actuator is made of. */
export interface SettingSpec<P extends { node: string }, V> {
  type: "batman_hop_penalty" | "batman_orig_interval" | "batman_aggregation";
  params: z.ZodType<P>;
  /** The setting as batctl names it. */
  name: string;
  read: (p: P) => Promise<V>;
  set: (p: P, value: V) => Promise<void>;
  wanted: (p: P) => V;
  show: (value: V) => string;
  /** Where the setting is, as the detail names it. */
  where: (p: P) => string;
  /** The journaled undo data is validated again before it is set (it may reach a command line). */
  undo: z.ZodType<V>;
}

/**
 * The actuator of one setting. A repair changes it on every node of the mesh at once, so steps are batched (one read per
 * node in parallel, one journal write) in the repair's concurrency group.
 */
export function settingActuator<P extends { node: string }, V>(control: BatmanControl, spec: SettingSpec<P, V>): Actuator<P, { previous: V }> {
  const applyBatch = (steps: readonly Step<P>[], ctx: ActuatorContext) =>
    applyConcurrently(
      steps,
      ctx,
      async (p) => ({ previous: await spec.read(p) }),
      async (p, { previous }) => {
        await spec.set(p, spec.wanted(p));
        return `${p.node}: ${spec.name} of ${spec.where(p)} ${spec.show(previous)} → ${spec.show(spec.wanted(p))}`;
      },
    );
  return {
    type: spec.type,
    params: spec.params,
    reversible: true,
    handles: control.handles,
    apply: (step, ctx) => applyOne(applyBatch, step, ctx),
    applyBatch,
    concurrencyGroup: BATMAN_MESH_SETTINGS,
    verify: async (step) => {
      const value = await spec.read(step.params);
      const want = spec.wanted(step.params);
      return observed(value === want, `batctl reads ${spec.name} ${spec.show(value)} on ${spec.where(step.params)} (want ${spec.show(want)})`);
    },
    rollback: async (step, applied) => {
      await spec.set(step.params, spec.undo.parse(applied.undo.previous));
    },
  };
}
