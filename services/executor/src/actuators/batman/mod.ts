// The batman-adv actuators, one per file, over one BatmanControl (batctl, or netlink in process); see README.md.
import type { ActuatorRegistry } from "../registry.ts";
import { aggregationActuator } from "./aggregation.ts";
import { type BatmanControl, type BatmanControlOptions, batmanControl } from "./control.ts";
import { gwModeActuator } from "./gw-mode.ts";
import { hopPenaltyActuator } from "./hop-penalty.ts";
import { batmanInterfaceActuator } from "./interface.ts";
import { origIntervalActuator } from "./orig-interval.ts";

export type { BatmanControl, BatmanControlOptions };
export { aggregationActuator, batmanControl, batmanInterfaceActuator, gwModeActuator, hopPenaltyActuator, origIntervalActuator };

/** Registers every batman-adv actuator over `control`: batman_hop_penalty, batman_interface, batman_orig_interval, batman_gw_mode, batman_aggregation. */
export function registerBatmanActuators(registry: ActuatorRegistry, control: BatmanControl): ActuatorRegistry {
  return registry
    .register(hopPenaltyActuator(control))
    .register(batmanInterfaceActuator(control))
    .register(origIntervalActuator(control))
    .register(gwModeActuator(control))
    .register(aggregationActuator(control));
}
