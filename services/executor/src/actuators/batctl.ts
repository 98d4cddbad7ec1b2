// batman_hop_penalty / batman_interface: batman-adv settings of this node through batctl (2023 syntax: `batctl meshif <bat>
// hop_penalty [n]`, `batctl hardif <if> hop_penalty [n]`, `batctl meshif <bat> interface [add|del] <if>`). Each change is read
// back to verify, and the value read before it is what a rollback restores.
import { z } from "zod";
import { ActuatorError } from "../errors.ts";
import { runChecked } from "./exec.ts";
import { InterfaceName, Node } from "./params.ts";
import { type Actuator, type ActuatorContext, observed } from "./types.ts";

/** Params of batman_hop_penalty: the mesh interface's penalty, or a hard interface's when `interface` is given. */
export const HopPenaltyParams = z.object({
  node: Node,
  mesh_interface: InterfaceName,
  interface: InterfaceName.optional(),
  value: z.coerce.number().int().min(0).max(255),
});
/** Validated batman_hop_penalty params. */
export type HopPenaltyParams = z.infer<typeof HopPenaltyParams>;

/** Params of batman_interface: attach (active) or detach (inactive) a hard interface. */
export const BatmanInterfaceParams = z.object({
  node: Node,
  mesh_interface: InterfaceName,
  interface: InterfaceName,
  state: z.enum(["active", "inactive"]),
});
/** Validated batman_interface params. */
export type BatmanInterfaceParams = z.infer<typeof BatmanInterfaceParams>;

/** Options of {@link batctlActuators}. */
export interface BatctlOptions {
  /** The batctl executable. */
  batctl?: string;
  timeoutMs?: number;
}

/** Parses `batctl meshif <bat> interface` output (`<if>: active|inactive` per line) into interface → status. */
export function parseInterfaces(output: string): Map<string, string> {
  const interfaces = new Map<string, string>();
  for (const line of output.split("\n")) {
    const match = /^\s*([^\s:]+):\s*(\S+)/.exec(line);
    if (match?.[1] && match[2]) interfaces.set(match[1], match[2]);
  }
  return interfaces;
}

const local = (params: { node: string }, ctx: ActuatorContext) =>
  params.node === ctx.node ? ({ ok: true } as const) : ({ ok: false, reason: `batctl acts on this host only (${ctx.node}), not on ${params.node}` } as const);

/** The batman_hop_penalty and batman_interface actuators. */
export function batctlActuators({
  batctl = "batctl",
  timeoutMs = 5000,
}: BatctlOptions = {}): [Actuator<HopPenaltyParams, { previous: number }>, Actuator<BatmanInterfaceParams, { attached: boolean }>] {
  const run = (...args: string[]) => runChecked([batctl, ...args], { timeoutMs });
  const penaltyArgs = (p: HopPenaltyParams) => (p.interface ? ["hardif", p.interface, "hop_penalty"] : ["meshif", p.mesh_interface, "hop_penalty"]);
  const readPenalty = async (p: HopPenaltyParams): Promise<number> => {
    const text = (await run(...penaltyArgs(p))).trim();
    const value = Number(text);
    if (!/^\d+$/.test(text) || value > 255)
      throw new ActuatorError(`batctl ${penaltyArgs(p).join(" ")} printed ${JSON.stringify(text.slice(0, 80))}, not a hop penalty`);
    return value;
  };
  const where = (p: HopPenaltyParams) => (p.interface ? `${p.mesh_interface}/${p.interface}` : p.mesh_interface);
  const attachedOf = async (p: BatmanInterfaceParams) => parseInterfaces(await run("meshif", p.mesh_interface, "interface")).get(p.interface);
  const setAttached = (p: BatmanInterfaceParams, attach: boolean) => run("meshif", p.mesh_interface, "interface", attach ? "add" : "del", p.interface);

  return [
    {
      type: "batman_hop_penalty",
      params: HopPenaltyParams,
      reversible: true,
      handles: local,
      apply: async (step, ctx) => {
        const previous = await readPenalty(step.params);
        await ctx.beforeChange([{ step, undo: { previous } }]);
        await run(...penaltyArgs(step.params), String(step.params.value));
        return { undo: { previous }, at: Date.now(), detail: `hop_penalty of ${where(step.params)} ${previous} → ${step.params.value}` };
      },
      verify: async (step) => {
        const value = await readPenalty(step.params);
        return observed(value === step.params.value, `batctl reads hop_penalty ${value} on ${where(step.params)} (want ${step.params.value})`);
      },
      rollback: async (step, applied) => {
        const previous = z.number().int().min(0).max(255).parse(applied.undo.previous);
        await run(...penaltyArgs(step.params), String(previous));
      },
    },
    {
      type: "batman_interface",
      params: BatmanInterfaceParams,
      reversible: true,
      handles: local,
      apply: async (step, ctx) => {
        const attached = (await attachedOf(step.params)) !== undefined;
        await ctx.beforeChange([{ step, undo: { attached } }]);
        const attach = step.params.state === "active";
        if (attach !== attached) await setAttached(step.params, attach);
        return {
          undo: { attached },
          at: Date.now(),
          detail: `${step.params.interface} ${attach ? "added to" : "removed from"} ${step.params.mesh_interface}${attach === attached ? " (already so)" : ""}`,
        };
      },
      verify: async (step) => {
        const status = await attachedOf(step.params);
        const ok = step.params.state === "active" ? status === "active" : status === undefined || status === "inactive";
        return observed(ok, `batctl lists ${step.params.interface} in ${step.params.mesh_interface} as ${status ?? "absent"} (want ${step.params.state})`);
      },
      rollback: async (step, applied) => {
        const attached = (await attachedOf(step.params)) !== undefined;
        if (attached !== applied.undo.attached) await setAttached(step.params, applied.undo.attached);
      },
    },
  ];
}
