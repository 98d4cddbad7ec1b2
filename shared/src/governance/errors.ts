// Errors of governance.
import { X0Error } from "../errors.ts";

/** A member set, proposal or tally does not hold up (unsigned genesis, broken chain, unknown proposal). */
export class GovernanceError extends X0Error {}
