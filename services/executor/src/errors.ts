// The executor's errors: named, chaining their cause.
import { X0Error } from "@x0/shared";

/** A step's parameters are invalid for its actuator; nothing was run with them. */
export class InvalidStepParams extends X0Error {}

/** A command (ip, batctl, a restart) exited non-zero, timed out or could not be spawned. */
export class CommandFailed extends X0Error {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    options?: ErrorOptions,
  ) {
    super(`${argv.join(" ")} ${exitCode === null ? "did not finish" : `exited ${exitCode}`}${stderr ? `: ${stderr.trim().slice(0, 400)}` : ""}`, options);
  }
}

/** An actuator could not apply, verify or undo a step. */
export class ActuatorError extends X0Error {}

/** The eBPF data-plane control (the monitor's pinned maps) cannot be opened. */
export class DataplaneUnavailable extends X0Error {}

/** Another live executor instance holds the plan's lease: the plan is left to it (the message is redelivered later). */
export class PlanInProgress extends X0Error {}

/** This instance lost the plan's lease while running it (another instance took over after it expired). */
export class LeaseLost extends X0Error {}

/** The start-up rehearsal of the plan path (synthetic plan, in-memory mesh) did not end verified: a part of the path is broken. */
export class RehearsalFailed extends X0Error {}

/** A plan's route steps towards one destination form a loop: no apply order avoids it, so the plan is refused. */
export class RouteLoop extends X0Error {}

/** A coordinated plan's record (`txn.<plan_id>`) cannot be read or written as the protocol needs. */
export class CoordinationError extends X0Error {}
