// The governance configuration variable shared by the planner, the executor and the CLI.
import { z } from "zod";

/** X0_GOV_MEMBERS: the deployment's pinned genesis member set. */
export const governanceConfigShape = {
  X0_GOV_MEMBERS: z
    .string()
    .default("")
    .describe("The genesis member set file (JSON, signed by every initial member); empty: governance is off (vote plans are rejected)."),
};
