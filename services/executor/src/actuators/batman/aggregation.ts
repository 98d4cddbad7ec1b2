// batman_aggregation: whether a mesh interface aggregates OGMs (`meshif <bat> aggregation [0|1]`, over netlink as
// batman-adv's aggregated_ogms when there is `mesh`).
import { z } from "zod";
import { ActuatorError } from "../../errors.ts";
import { InterfaceName, Node } from "../params.ts";
import type { Actuator } from "../types.ts";
import type { BatmanControl } from "./control.ts";
import { settingActuator } from "./setting.ts";

/** Params of batman_aggregation: whether a mesh interface aggregates OGMs (forwarded ones wait up to 100 ms for company). */
export const AggregationParams = z.object({
  node: Node,
  mesh_interface: InterfaceName,
  enabled: z.boolean(),
});
/** Validated batman_aggregation params. */
export type AggregationParams = z.infer<typeof AggregationParams>;

/** What `batctl meshif <bat> aggregation` prints: `enabled` or `disabled`; anything else is an error naming the output. */
export function parseEnabled(output: string): boolean {
  const text = output.trim();
  if (text === "enabled") return true;
  if (text === "disabled") return false;
  throw new ActuatorError(`batctl aggregation printed ${JSON.stringify(text.slice(0, 80))}, not enabled or disabled`);
}

/** The batman_aggregation actuator. */
export function aggregationActuator(control: BatmanControl): Actuator<AggregationParams, { previous: boolean }> {
  const { mesh, netnsOf, run } = control;
  const args = (p: AggregationParams) => ["meshif", p.mesh_interface, "aggregation"];
  return settingActuator(control, {
    type: "batman_aggregation",
    params: AggregationParams,
    name: "aggregation",
    read: async (p) => (mesh ? mesh.get(netnsOf(p.node), p.mesh_interface, "aggregated_ogms") !== 0 : parseEnabled(await run(p.node, ...args(p)))),
    set: async (p, enabled) => {
      if (mesh) mesh.set(netnsOf(p.node), p.mesh_interface, "aggregated_ogms", enabled ? 1 : 0);
      else await run(p.node, ...args(p), enabled ? "1" : "0");
    },
    wanted: (p) => p.enabled,
    show: (enabled) => (enabled ? "enabled" : "disabled"),
    where: (p) => p.mesh_interface,
    undo: z.boolean(),
  });
}
