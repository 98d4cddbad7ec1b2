// batman_orig_interval: a mesh interface's OGM interval (`meshif <bat> orig_interval`, over netlink when there is `mesh`).
import { z } from "zod";
import { InterfaceName, Node } from "../params.ts";
import type { Actuator } from "../types.ts";
import type { BatmanControl } from "./control.ts";
import { settingActuator } from "./setting.ts";

// batman-adv raises anything below 2 × its 20 ms jitter to 40 (netlink set_mesh), so a smaller value could never read back.
const ORIG_INTERVAL_MIN = 40;
const ORIG_INTERVAL_MAX = 2 ** 31 - 1;

/** Params of batman_orig_interval: the OGM interval of a mesh interface in milliseconds. */
export const OrigIntervalParams = z.object({
  node: Node,
  mesh_interface: InterfaceName,
  value: z.coerce
    .number()
    .int()
    .min(ORIG_INTERVAL_MIN, `orig_interval must be at least ${ORIG_INTERVAL_MIN} ms (batman-adv raises smaller values to it)`)
    .max(60_000, "orig_interval must be at most 60000 ms"),
});
/** Validated batman_orig_interval params. */
export type OrigIntervalParams = z.infer<typeof OrigIntervalParams>;

/** The batman_orig_interval actuator. */
export function origIntervalActuator(control: BatmanControl): Actuator<OrigIntervalParams, { previous: number }> {
  const { mesh, netnsOf, run, readNumber } = control;
  const args = (p: OrigIntervalParams) => ["meshif", p.mesh_interface, "orig_interval"];
  return settingActuator(control, {
    type: "batman_orig_interval",
    params: OrigIntervalParams,
    name: "orig_interval",
    read: async (p) =>
      mesh ? mesh.get(netnsOf(p.node), p.mesh_interface, "orig_interval") : readNumber(p.node, args(p), "an OGM interval", ORIG_INTERVAL_MAX),
    set: async (p, value) => {
      if (mesh) mesh.set(netnsOf(p.node), p.mesh_interface, "orig_interval", value);
      else await run(p.node, ...args(p), String(value));
    },
    wanted: (p) => p.value,
    show: (ms) => `${ms} ms`,
    where: (p) => p.mesh_interface,
    undo: z.number().int().min(ORIG_INTERVAL_MIN).max(ORIG_INTERVAL_MAX),
  });
}
