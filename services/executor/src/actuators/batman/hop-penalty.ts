// batman_hop_penalty: a mesh interface's hop penalty (`meshif <bat> hop_penalty`, over netlink when there is `mesh`) or a
// hard interface's (`hardif <if> hop_penalty`, always batctl).
import { z } from "zod";
import { InterfaceName, Node } from "../params.ts";
import type { Actuator } from "../types.ts";
import type { BatmanControl } from "./control.ts";
import { settingActuator } from "./setting.ts";

/** Params of batman_hop_penalty: the mesh interface's penalty, or a hard interface's when `interface` is given. */
export const HopPenaltyParams = z.object({
  node: Node,
  mesh_interface: InterfaceName,
  interface: InterfaceName.optional(),
  value: z.coerce.number().int().min(0).max(255),
});
/** Validated batman_hop_penalty params. */
export type HopPenaltyParams = z.infer<typeof HopPenaltyParams>;

/** The batman_hop_penalty actuator. */
export function hopPenaltyActuator(control: BatmanControl): Actuator<HopPenaltyParams, { previous: number }> {
  const { mesh, netnsOf, run, readNumber } = control;
  const args = (p: HopPenaltyParams) => (p.interface ? ["hardif", p.interface, "hop_penalty"] : ["meshif", p.mesh_interface, "hop_penalty"]);
  return settingActuator(control, {
    type: "batman_hop_penalty",
    params: HopPenaltyParams,
    name: "hop_penalty",
    read: async (p) =>
      mesh && p.interface === undefined ? mesh.get(netnsOf(p.node), p.mesh_interface, "hop_penalty") : readNumber(p.node, args(p), "a hop penalty", 255),
    set: async (p, value) => {
      if (mesh && p.interface === undefined) mesh.set(netnsOf(p.node), p.mesh_interface, "hop_penalty", value);
      else await run(p.node, ...args(p), String(value));
    },
    wanted: (p) => p.value,
    show: String,
    where: (p) => (p.interface ? `${p.mesh_interface}/${p.interface}` : p.mesh_interface),
    undo: z.number().int().min(0).max(255),
  });
}
