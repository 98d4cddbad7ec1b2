// The command line's errors: usage errors, and the failures of `up`, `down` and the stack file.
import { LabSpecError } from "@x0/lab";
import { X0Error } from "@x0/shared";

/** The command line is invalid; the message says why. Commands exit with {@link EXIT_USAGE}. */
export class UsageError extends X0Error {}

/** Whether an error is the user's to fix in the command line: a {@link UsageError}, or a lab spec (topology, prefix, node) that is not valid. */
export function isUsageError(error: unknown): error is UsageError | LabSpecError {
  return error instanceof UsageError || error instanceof LabSpecError;
}

/** The stack file (`.x0/stack.json`) cannot be read, parsed or written. */
export class StackFileError extends X0Error {}

/** The stack cannot start: a port is taken, nats-server failed, or another `up` runs. */
export class StackStartError extends X0Error {}

/** `x0 down` cannot stop the running stack: its `up` cannot be signalled, or is still running after the wait. */
export class StackStopError extends X0Error {}

/** Services need more HTTP ports than remain above the base port. */
export class PortAssignmentError extends X0Error {}

/** A line on the reaper's stdin is not a command it knows. */
export class ReaperProtocolError extends X0Error {}

/** Exit code of a command-line usage error (sysexits EX_USAGE is 64; CLIs conventionally use 2). */
export const EXIT_USAGE = 2;

/** Exit code of a command that failed at run time, whatever the error (a bad environment variable included). */
export const EXIT_FAILURE = 1;

/** No rag service answers x0.rag.search. */
export class RagUnavailable extends X0Error {}

/** The Kubernetes API cannot be reached, refuses a request or answers something unreadable (x0 certs k8s-users). */
export class KubeApiError extends X0Error {}
