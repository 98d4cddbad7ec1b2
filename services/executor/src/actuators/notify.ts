// notify: the plan's message is the result itself (published on x0.action.<node>); nothing changes, nothing to observe.
import { z } from "zod";
import { type Actuator, observed } from "./types.ts";

/** Params of notify: free-form text fields for operators. */
export const NotifyParams = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

/** The notify actuator. */
export function notifyActuator(): Actuator<z.infer<typeof NotifyParams>, null> {
  return {
    type: "notify",
    params: NotifyParams,
    reversible: true,
    handles: () => ({ ok: true }),
    apply: async (step) => ({ undo: null, at: Date.now(), detail: `notified: ${String(step.params.message ?? step.reason)}`.slice(0, 1024) }),
    verify: async () => observed(true, "nothing to verify: the result is the notification", false),
    rollback: async () => {},
  };
}
