// batman_gw_mode: a mesh interface's gateway mode with its selection class (client) or announced bandwidth (server),
// through `batctl meshif <bat> gw_mode [mode [arg]]`; a rollback restores the mode read before, with its class or bandwidth.
import { z } from "zod";
import { ActuatorError } from "../../errors.ts";
import { InterfaceName, Node } from "../params.ts";
import { type Actuator, observed } from "../types.ts";
import { type BatmanControl, bandwidthUnits, throughputUnits } from "./control.ts";

// Plan params are strings or numbers; both reach batctl as one argument.
const ArgumentText = z.union([z.string(), z.number().int().nonnegative()]).transform(String);

/** Params of batman_gw_mode: `bandwidth` (`down[/up]`, e.g. `10000/2000` kbit/s or `10mbit/2mbit`) only for server, `sel_class` only for client. */
export const GwModeParams = z
  .object({
    node: Node,
    mesh_interface: InterfaceName,
    mode: z.enum(["off", "client", "server"]),
    bandwidth: ArgumentText.refine((text) => {
      const units = bandwidthUnits(text);
      return units !== undefined && units.down >= 1 && (units.up === undefined || units.up >= 1);
    }, "bandwidth must be down[/up] of <n>[kbit|mbit] (plain numbers are kbit/s), each at least 100 kbit/s").optional(),
    sel_class: ArgumentText.refine(
      (text) => (throughputUnits(text) ?? 0) >= 1 || /^[1-9]\d{0,2}$/.test(text),
      "sel_class must be a number (BATMAN_IV: 1-255) or <n>[kbit|mbit] (BATMAN_V)",
    ).optional(),
  })
  .superRefine((params, ctx) => {
    if (params.bandwidth !== undefined && params.mode !== "server")
      ctx.addIssue({ code: "custom", path: ["bandwidth"], message: `bandwidth is for mode server only, not ${params.mode}` });
    if (params.sel_class !== undefined && params.mode !== "client")
      ctx.addIssue({ code: "custom", path: ["sel_class"], message: `sel_class is for mode client only, not ${params.mode}` });
  });
/** Validated batman_gw_mode params. */
export type GwModeParams = z.infer<typeof GwModeParams>;

/** A gateway mode as `batctl gw_mode` prints it. */
export interface GwState {
  mode: "off" | "client" | "server";
  /** Client: the selection class (BATMAN_IV: a number; BATMAN_V: units of 100 kbit/s, `mbit` true). */
  sel_class?: { value: number; mbit: boolean };
  /** Server: the announced bandwidth in units of 100 kbit/s. */
  bandwidth?: { down: number; up: number };
}

/** What undoing batman_gw_mode needs: the mode and the batctl argument restoring its selection class or bandwidth. */
export const GwUndo = z.object({
  mode: z.enum(["off", "client", "server"]),
  argument: z
    .string()
    .regex(/^\d{1,10}(kbit|mbit)?(\/\d{1,10}(kbit|mbit)?)?$/i)
    .optional(),
});
/** A previous gateway mode. */
export type GwUndo = z.infer<typeof GwUndo>;

/** Parses `batctl gw_mode` output (`off`, `client (selection class: 20)`, `server (announced bw: 10.0/2.0 MBit)`): the first word is the mode. */
export function parseGwMode(output: string): GwState {
  const text = output.trim();
  const mode = /^(off|client|server)\b/.exec(text)?.[1];
  if (mode === undefined) throw new ActuatorError(`batctl gw_mode printed ${JSON.stringify(text.slice(0, 80))}, not a gateway mode`);
  const tenths = (value: string) => Math.round(Number(value) * 10);
  if (mode === "client") {
    // "class" since batctl 2019; older texts said "criteria".
    const sel = /selection (?:class|criteria):\s*(\d+(?:\.\d+)?)\s*(MBit)?/i.exec(text);
    if (sel?.[1]) return { mode, sel_class: sel[2] ? { value: tenths(sel[1]), mbit: true } : { value: Number(sel[1]), mbit: false } };
    return { mode };
  }
  if (mode === "server") {
    const bw = /announced bw:\s*(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)\s*MBit/i.exec(text);
    if (bw?.[1] && bw[2]) return { mode, bandwidth: { down: tenths(bw[1]), up: tenths(bw[2]) } };
    return { mode };
  }
  return { mode: "off" };
}

/** The batctl arguments after `gw_mode` that bring back `state` (its class or bandwidth as read, in kbit/s). */
export function gwRestoreArgs(state: GwState): GwUndo {
  if (state.mode === "client" && state.sel_class)
    return { mode: "client", argument: state.sel_class.mbit ? `${state.sel_class.value * 100}kbit` : String(state.sel_class.value) };
  if (state.mode === "server" && state.bandwidth) return { mode: "server", argument: `${state.bandwidth.down * 100}kbit/${state.bandwidth.up * 100}kbit` };
  return { mode: state.mode };
}

/** Whether what batctl reads is what the step asked for (only the parts it named). */
function gwMatches(p: GwModeParams, got: GwState): boolean {
  if (got.mode !== p.mode) return false;
  if (p.mode === "server" && p.bandwidth !== undefined) {
    const want = bandwidthUnits(p.bandwidth);
    if (want === undefined || got.bandwidth?.down !== want.down || (want.up !== undefined && got.bandwidth.up !== want.up)) return false;
  }
  if (p.mode === "client" && p.sel_class !== undefined) {
    if (got.sel_class === undefined) return false;
    // BATMAN_V prints its class as a throughput and batctl reads the argument as one; BATMAN_IV's is a plain number.
    const want = got.sel_class.mbit ? throughputUnits(p.sel_class) : Number(p.sel_class);
    if (want !== got.sel_class.value) return false;
  }
  return true;
}

const wanted = (p: GwModeParams): GwUndo => ({ mode: p.mode, argument: p.bandwidth ?? p.sel_class });
const describeGw = (target: GwUndo) => (target.argument === undefined ? target.mode : `${target.mode} ${target.argument}`);

/** The batman_gw_mode actuator (not batched: a gateway change is not part of a repair's mesh settings). */
export function gwModeActuator(control: BatmanControl): Actuator<GwModeParams, { previous: GwUndo }> {
  const read = async (p: GwModeParams) => parseGwMode(await control.run(p.node, "meshif", p.mesh_interface, "gw_mode"));
  const set = (p: GwModeParams, target: GwUndo) =>
    control.run(p.node, "meshif", p.mesh_interface, "gw_mode", target.mode, ...(target.argument === undefined ? [] : [target.argument]));
  return {
    type: "batman_gw_mode",
    params: GwModeParams,
    reversible: true,
    handles: control.handles,
    apply: async (step, ctx) => {
      const previous = gwRestoreArgs(await read(step.params));
      await ctx.beforeChange([{ step, undo: { previous } }]);
      const target = wanted(step.params);
      await set(step.params, target);
      return {
        undo: { previous },
        at: Date.now(),
        detail: `${step.params.node}: gw_mode of ${step.params.mesh_interface} ${describeGw(previous)} → ${describeGw(target)}`,
      };
    },
    verify: async (step) => {
      const got = await read(step.params);
      return observed(
        gwMatches(step.params, got),
        `batctl reads gw_mode ${describeGw(gwRestoreArgs(got))} on ${step.params.mesh_interface} (want ${describeGw(wanted(step.params))})`,
      );
    },
    rollback: async (step, applied) => {
      await set(step.params, GwUndo.parse(applied.undo.previous));
    },
  };
}
