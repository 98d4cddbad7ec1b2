// Test helpers for actuators: a context that records journal calls, and a silent logger.
import { createLogger } from "@x0/shared";
import type { ActuatorContext, Step } from "./types.ts";

/** A context for one actuator under test; `journaled` collects what beforeChange got. */
export function testContext(node = "n1", extra: Partial<ActuatorContext> = {}): ActuatorContext & { journaled: { step: Step; undo: unknown }[] } {
  const journaled: { step: Step; undo: unknown }[] = [];
  return {
    node,
    logger: createLogger({ service: "executor-test", node, level: "error" }),
    beforeChange: async (items) => {
      journaled.push(...items);
    },
    journaled,
    ...extra,
  };
}

/** A step of `type` with `params` at `index`. */
export function stepOf<P>(type: Step["type"], params: P, index = 0): Step<P> {
  return { index, type, params, reason: "test" };
}
