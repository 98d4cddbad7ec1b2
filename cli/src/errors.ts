import { X0Error } from "@x0/shared";

/** The command line is invalid; the message says why. Commands exit with {@link EXIT_USAGE}. */
export class UsageError extends X0Error {}

/** A topology, prefix, node or interface name given to the lab is not valid; the message says which and why. */
export class LabSpecError extends UsageError {}

/** A lab operation failed: a kernel command, a missing namespace, a state file that does not match the kernel. */
export class LabError extends X0Error {}

/** A command the lab runs (ip, sysctl, mount, nsenter) exited non-zero; the message carries its argv and stderr. */
export class LabCommandError extends LabError {}

/** The lab's state file (`<state>/lab-<prefix>.json`) cannot be read, parsed or written. */
export class LabStateError extends LabError {}

/** A lab with this prefix already exists (state file or namespaces); `x0 lab down` removes it. */
export class LabExistsError extends LabError {}

/** A node's XDP pins did not appear in time: its monitor has not attached XDP on that interface. */
export class LabPinsMissingError extends LabError {}

/** The stack file (`.x0/stack.json`) cannot be read, parsed or written. */
export class StackFileError extends X0Error {}

/** The stack cannot start: a port is taken, nats-server failed, or another `up` runs. */
export class StackStartError extends X0Error {}

/** Services need more HTTP ports than remain above the base port. */
export class PortAssignmentError extends X0Error {}

/** A line on the reaper's stdin is not a command it knows. */
export class ReaperProtocolError extends X0Error {}

/** Exit code of a command-line usage error (sysexits EX_USAGE is 64; CLIs conventionally use 2). */
export const EXIT_USAGE = 2;
