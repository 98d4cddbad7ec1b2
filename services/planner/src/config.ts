// The planner's configuration variables (besides the common ones), validated at start.
import { join } from "node:path";
import { cryptoConfigShape, governanceConfigShape } from "@x0/shared";
import { z } from "zod";
import { loadPolicy } from "./policy/policy.ts";

/** The policy file shipped beside the service. */
const SHIPPED_POLICY = join(import.meta.dir, "..", "policy.yaml");

/** The planner's variables: the signing key's settings, the policy file and the leader lease. */
export const plannerConfigShape = {
  ...cryptoConfigShape,
  ...governanceConfigShape,
  X0_PLANNER_LEASE_MS: z.coerce
    .number()
    .int()
    .min(300)
    .max(120_000)
    .default(1000)
    .describe(
      "How long the leader lease lasts without renewal (renewed every third of it), in ms; also the durable consumers' ack wait, so an incident state a dead leader fetched comes back by the time a standby has taken over.",
    ),
  X0_PLANNER_LEASE_SKEW_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(10_000)
    .default(250)
    .describe("The assumed bound on clock differences between planner instances, in ms: a standby takes over only this long after expiry."),
  X0_PLANNER_RAG_DEADLINE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(1000)
    .default(20)
    .describe(
      "How long the planner waits for the rag's similar cases when several alternatives qualify, in ms; 0: it does not ask. A rag that answers later or not at all is planned without (x0_planner_rag_fallbacks_total).",
    ),
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
    })
    .describe("Policy file (YAML or JSON); validated at start."),
};
