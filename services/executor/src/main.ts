// Executor (E of MAPE-K): plans in, honest results out. This version only dry-runs.
import {
  type ActionResult,
  Buckets,
  boolSchema,
  commaListSchema,
  contracts,
  cryptoConfigShape,
  openBucket,
  openControlPlaneCrypto,
  runService,
} from "@x0/shared";
import { Counter } from "prom-client";
import { z } from "zod";
import pkg from "../package.json" with { type: "json" };
import { dryRun } from "./dryrun/dry-run.ts";
import { checkPlan } from "./verify/verify-plan.ts";

/** What x0_outcomes holds per plan id: the result, and the stream sequence of the plan message that produced it. */
interface OutcomeRecord {
  plan_sequence?: number;
  result: ActionResult;
}

await runService({
  name: "executor",
  version: pkg.version,
  httpPort: 9104,
  config: {
    ...cryptoConfigShape,
    /** Services whose keys may sign plans (comma-separated). */
    X0_EXECUTOR_PLAN_SIGNERS: z.string().default("planner").pipe(commaListSchema),
    /** Dry-run records what would be done and changes nothing. No real actuators exist yet, so it must stay true. */
    X0_EXECUTOR_DRY_RUN: z
      .string()
      .default("true")
      .pipe(boolSchema)
      .refine((dry) => dry, "must be true: this executor has no real actuators yet, only dry-run"),
    /** `node`: run plans for this node only (one executor per node); `all`: for every node. */
    X0_EXECUTOR_SCOPE: z.enum(["node", "all"]).default("node"),
  },
  async start({ config, bus, nc, jsm, logger, metrics, counters, track, onStop, ensureStreams }) {
    await ensureStreams();
    const outcomes = await openBucket(nc, Buckets.outcomes);
    // Plans are verified and results signed in-process (no round trip to the crypto service).
    const signing = await openControlPlaneCrypto({ service: "executor", config, nc, logger });
    onStop(() => signing.stop());
    const rejectionsTotal = new Counter({
      name: "x0_plan_rejections_total",
      help: "Plans rejected by signature verification (and sent to the dead-letter subject), by reason.",
      labelNames: ["reason"],
      registers: [metrics.registry],
    });
    counters.plans_rejected = 0;
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
          const reject = (reason: string, detail: string) => {
            rejectionsTotal.inc({ reason });
            counters.plans_rejected = (counters.plans_rejected ?? 0) + 1;
            bus.deadLetter(delivery.subject, contracts.plan.template, delivery.data, delivery.headers, `plan rejected: ${reason}: ${detail}`);
          };
          const verdict = await checkPlan(signing.verifier, delivery, config.X0_EXECUTOR_PLAN_SIGNERS);
          if (!verdict.ok) return reject(verdict.reason, verdict.detail);
          // The outcome is recorded (create: only if absent) before the result is published:
          // a redelivered plan republishes the recorded result (deduplicated by its id) instead of running again.
          let result: ActionResult = signing.sign("action", dryRun(plan));
          try {
            const record: OutcomeRecord = { plan_sequence: delivery.sequence, result };
            await outcomes.create(plan.plan_id, JSON.stringify(record));
          } catch (createError) {
            const recorded = await outcomes.get(plan.plan_id);
            if (!recorded?.value.length) throw createError;
            const record = recorded.json<OutcomeRecord>();
            // The same plan in a new stream message is a replay, even after a restart emptied the nonce memory;
            // the same stream message again is a redelivery (a restarted server may not flag it as one).
            const sameMessage = record.plan_sequence !== undefined ? record.plan_sequence === delivery.sequence : delivery.redelivered;
            if (!sameMessage) return reject("replayed", `plan ${plan.plan_id} was already executed`);
            result = record.result;
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
