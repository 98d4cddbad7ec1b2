// The lab's errors: one LabError and the kinds a caller tells apart.
import { X0Error } from "@x0/shared";

/** A lab operation failed: a kernel command, a missing namespace, a state file that does not match the kernel. */
export class LabError extends X0Error {}

/** A topology, prefix, node or interface name given to the lab is not valid; the message says which and why. */
export class LabSpecError extends LabError {}

/** A command the lab runs (ip, sysctl, mount, nsenter) exited non-zero; the message carries its argv and stderr. */
export class LabCommandError extends LabError {}

/** The lab's state file (`<state>/lab-<prefix>.json`) cannot be read, parsed or written. */
export class LabStateError extends LabError {}

/** A lab with this prefix already exists (state file or namespaces); `x0 lab down` removes it. */
export class LabExistsError extends LabError {}

/** A node's XDP pins did not appear in time: its monitor has not attached XDP on that interface. */
export class LabPinsMissingError extends LabError {}

/** The VM could not be booted or did not finish: missing image, QEMU failure, timeout. */
export class VmError extends LabError {}
