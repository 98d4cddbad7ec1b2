// The actuators by action type: main.ts builds one registry from config; the runner looks steps up here.
import type { ActionType } from "@x0/shared";
import { ActuatorError } from "../errors.ts";
import type { Actuator } from "./types.ts";

/** Actuators by the action type they handle. */
export class ActuatorRegistry {
  readonly #byType = new Map<ActionType, Actuator>();

  /** Adds one actuator; a type registered twice is a wiring mistake. */
  register<P, U>(actuator: Actuator<P, U>): this {
    if (this.#byType.has(actuator.type)) throw new ActuatorError(`two actuators for ${actuator.type}`);
    this.#byType.set(actuator.type, actuator as unknown as Actuator);
    return this;
  }

  /** The actuator of `type`, if any. */
  get(type: ActionType): Actuator | undefined {
    return this.#byType.get(type);
  }

  /** The types with an actuator. */
  types(): ActionType[] {
    return [...this.#byType.keys()];
  }
}
