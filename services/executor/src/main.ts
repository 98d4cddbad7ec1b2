// Executor (E of MAPE-K): plans in, honest results out. This version only dry-runs.
import { type ActionResult, Buckets, boolSchema, contracts, ensureStreams, openBucket, runService } from "@x0/shared";
import { Counter } from "prom-client";
import { z } from "zod";
import pkg from "../package.json" with { type: "json" };
import { dryRun } from "./dryrun/dry-run.ts";

await runService({
  name: "executor",
  version: pkg.version,
  httpPort: 9104,
  config: {
    /** Dry-run records what would be done and changes nothing. No real actuators exist yet, so it must stay true. */
    X0_EXECUTOR_DRY_RUN: z
      .string()
      .default("true")
      .pipe(boolSchema)
      .refine((dry) => dry, "must be true: this executor has no real actuators yet, only dry-run"),
    /** `node`: run plans for this node only (one executor per node); `all`: for every node. */
    X0_EXECUTOR_SCOPE: z.enum(["node", "all"]).default("node"),
  },
  async start({ config, bus, nc, jsm, logger, metrics, counters, track }) {
    await ensureStreams(nc);
    const outcomes = await openBucket(nc, Buckets.outcomes);
    const resultsTotal = new Counter({
      name: "x0_actions_total",
      help: "Plan results published, by status.",
      labelNames: ["status"],
      registers: [metrics.registry],
    });
    counters.actions = 0;
    const all = config.X0_EXECUTOR_SCOPE === "all";
    track(
      await bus.consume(
        contracts.plan,
        async (plan, delivery) => {
          // The outcome is recorded (create: only if absent) before the result is published:
          // a redelivered plan republishes the recorded result (deduplicated by its id) instead of running again.
          let result = dryRun(plan);
          try {
            await outcomes.create(plan.plan_id, JSON.stringify(result));
          } catch (createError) {
            const recorded = await outcomes.get(plan.plan_id);
            if (!recorded?.value.length) throw createError;
            result = recorded.json<ActionResult>();
            logger.info("plan already executed; republishing its result", { plan_id: plan.plan_id });
          }
          await bus.publishDurable(contracts.action, plan.node, result, { msgID: `result:${plan.plan_id}`, parent: delivery.trace });
          resultsTotal.inc({ status: result.status });
          counters.actions = (counters.actions ?? 0) + 1;
          logger.info("result", { plan_id: plan.plan_id, incident_id: plan.incident_id, status: result.status });
        },
        { durable: all ? "executor-all" : `executor-${config.X0_NODE}`, token: all ? "*" : config.X0_NODE, jsm: await jsm() },
      ),
    );
  },
});
