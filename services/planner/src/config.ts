// The planner's configuration variables (besides the common ones), validated at start.
import { join } from "node:path";
import { cryptoConfigShape } from "@x0/shared";
import { z } from "zod";
import { loadPolicy } from "./policy/policy.ts";

/** The policy file shipped beside the service. */
const SHIPPED_POLICY = join(import.meta.dir, "..", "policy.yaml");

/** The planner's variables: the signing key's settings and the policy file. */
export const plannerConfigShape = {
  ...cryptoConfigShape,
  /** Policy file (YAML or JSON); validated at start. */
  X0_PLANNER_POLICY: z
    .string()
    .default(SHIPPED_POLICY)
    .transform((path, ctx) => {
      try {
        return loadPolicy(path);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message });
        return z.NEVER;
      }
    }),
};
