// The executor's configuration (environment or X0_CONFIG_FILE), validated at start: a bad value exits 78 naming the variable.
import { readFileSync } from "node:fs";
import { boolSchema, ConfigError, commaListSchema, cryptoConfigShape, governanceConfigShape, loadConfig } from "@x0/shared";
import { z } from "zod";
import { ProcessAllowList } from "./actuators/process.ts";
import { type ExecutorMode, ExecutorModes } from "./run/handle-plan.ts";

const Template = z.string().regex(/^[A-Za-z0-9_.{}/-]*$/, "may hold only [A-Za-z0-9_.-/] and {node}");
const Millis = z.coerce.number().int().nonnegative();

/** X0_EXECUTOR_PROCESSES: a JSON object, or the path of a JSON file holding one. */
export const processesSchema = z
  .string()
  .transform((text, ctx) => {
    const trimmed = text.trim();
    let json = trimmed;
    if (!trimmed.startsWith("{")) {
      try {
        json = readFileSync(trimmed, "utf8");
      } catch {
        ctx.addIssue({ code: "custom", message: `cannot read process allow-list file ${trimmed}` });
        return z.NEVER;
      }
    }
    try {
      return JSON.parse(json) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: "must be a JSON object (name → {unit} or {pidfile, command}) or a file holding one" });
      return z.NEVER;
    }
  })
  .pipe(ProcessAllowList);

/** The executor's variables (besides the common ones). */
export const executorConfigShape = {
  ...cryptoConfigShape,
  ...governanceConfigShape,
  X0_EXECUTOR_PLAN_SIGNERS: z.string().default("planner").pipe(commaListSchema).describe("Services whose keys may sign plans (comma-separated)."),
  X0_EXECUTOR_MODE: z
    .enum(ExecutorModes)
    .optional()
    .describe(
      "enforce: run actuators; dry-run (default, safe on a host until an operator opts in): report what would be done; detect-only: acknowledge plans as skipped.",
    ),
  X0_EXECUTOR_DRY_RUN: z
    .string()
    .pipe(boolSchema)
    .refine((dry) => dry, "must be true (a deprecated alias of X0_EXECUTOR_MODE=dry-run); to run actuators set X0_EXECUTOR_MODE=enforce instead")
    .optional()
    .describe("Deprecated alias: `true` means X0_EXECUTOR_MODE=dry-run."),
  X0_EXECUTOR_SCOPE: z
    .enum(["node", "all"])
    .default("node")
    .describe(
      "`node`: this node's steps of every plan, together with the other nodes' executors (one executor per node); `all`: whole plans for every node (a site executor).",
    ),
  X0_EXECUTOR_NETNS: Template.default("").describe(
    "Network namespace for route and batctl steps: this node's (`node` scope), or every node's with `{node}` (`all`), e.g. `x0-{node}`; empty: the host.",
  ),
  X0_EXECUTOR_IP: z.string().min(1).default("ip").describe("The ip executable (iproute2)."),
  X0_EXECUTOR_BATCTL: z.string().min(1).default("batctl").describe("The batctl executable."),
  X0_EXECUTOR_BATMAN_CONTROL: z
    .enum(["netlink", "batctl"])
    .default("netlink")
    .describe(
      "How batman_interface, batman_orig_interval, batman_aggregation and a mesh's batman_hop_penalty reach batman-adv: netlink in process (no spawn), or batctl.",
    ),
  X0_EXECUTOR_BPF_PIN_ROOT: Template.default("/sys/fs/bpf/x0").describe("bpffs folder of a node's pinned XDP maps, e.g. `/sys/fs/bpf/x0lab/{node}`."),
  X0_EXECUTOR_BPF_DIR: z.string().optional().describe("Folder of the built BPF objects, handed to the monitor's data-plane control."),
  X0_EXECUTOR_PROCESSES: processesSchema
    .default({})
    .describe("Restartable processes: JSON (or a JSON file) of name → {unit} or {pidfile, command, health_url?}."),
  X0_EXECUTOR_LEASE_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(15_000)
    .describe("How long a plan's lease lasts without renewal; another instance takes a plan over only after it expired."),
  X0_EXECUTOR_ACK_WAIT_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(600_000)
    .default(30_000)
    .describe("How long JetStream waits for a plan's acknowledgement before redelivering it (e.g. to a restarted executor after a crash)."),
  X0_EXECUTOR_VERIFY_DEADLINE_MS: Millis.default(5000).describe("Verification deadline of plans without an expected_effect."),
  X0_EXECUTOR_STEP_DELAY_MS: Millis.default(0).describe(
    "Testing: widens the window between steps (and turns batching off), so a test can stop the executor mid-plan.",
  ),
  X0_EXECUTOR_TXN_DEADLINE_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(10_000)
    .describe("How long preparing and applying a plan carried out by several node executors may take before it aborts."),
  X0_EXECUTOR_TXN_GRACE_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(5000)
    .describe("How long past a deadline a participant waits for a silent coordinator before aborting the plan itself, and an abort waits for rollbacks."),
  X0_EXECUTOR_VOTE_RECHECK_MS: z.coerce
    .number()
    .int()
    .min(50)
    .max(60_000)
    .default(1000)
    .describe("How often a vote plan whose proposal is open is looked at again (its proposal recounted), in ms."),
};

/** The name the executor runs as, which is also its identity's role: `executor-site` for scope `all` (rights over every node), else `executor`. */
export function executorServiceName(env: Record<string, string | undefined>): "executor" | "executor-site" {
  try {
    return loadConfig({ X0_EXECUTOR_SCOPE: executorConfigShape.X0_EXECUTOR_SCOPE }, { env }).X0_EXECUTOR_SCOPE === "all" ? "executor-site" : "executor";
  } catch (error) {
    // The service reports the bad value when it loads its whole configuration.
    if (error instanceof ConfigError) return "executor";
    throw error;
  }
}

/** Refuses templates a node executor must not have: with `{node}` it would reach other nodes' namespaces or maps ({@link ConfigError}). */
export function checkScope(config: Pick<ExecutorConfig, "X0_EXECUTOR_SCOPE" | "X0_EXECUTOR_NETNS" | "X0_EXECUTOR_BPF_PIN_ROOT">): void {
  if (config.X0_EXECUTOR_SCOPE !== "node") return;
  for (const name of ["X0_EXECUTOR_NETNS", "X0_EXECUTOR_BPF_PIN_ROOT"] as const) {
    if (config[name].includes("{node}"))
      throw new ConfigError(
        name,
        `${config[name]} names every node's, but a node executor (X0_EXECUTOR_SCOPE=node) acts only on its own: give its own, without {node}`,
      );
  }
}

/** The executor's validated configuration (its variables; the common ones come with the runtime). */
export type ExecutorConfig = z.infer<z.ZodObject<typeof executorConfigShape>>;

/** The mode from X0_EXECUTOR_MODE and the X0_EXECUTOR_DRY_RUN alias; a contradiction is a {@link ConfigError}. */
export function resolveMode({
  X0_EXECUTOR_MODE: mode,
  X0_EXECUTOR_DRY_RUN: dry,
}: {
  X0_EXECUTOR_MODE?: ExecutorMode;
  X0_EXECUTOR_DRY_RUN?: boolean;
}): ExecutorMode {
  if (mode !== undefined && dry === true && mode !== "dry-run") {
    throw new ConfigError("X0_EXECUTOR_MODE", `${mode} contradicts X0_EXECUTOR_DRY_RUN=true (its deprecated alias of dry-run): unset one`);
  }
  return mode ?? "dry-run";
}
