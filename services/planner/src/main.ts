// Planner (P of MAPE-K): incident states in, plans out, as the policy file says.
import { join } from "node:path";
import { contracts, cryptoConfigShape, openControlPlaneCrypto, runService } from "@x0/shared";
import { Counter } from "prom-client";
import { z } from "zod";
import pkg from "../package.json" with { type: "json" };
import { decide, loadPolicy } from "./policy/policy.ts";

/** How many processed anomaly ids the planner remembers to skip redeliveries. */
const PROCESSED_MEMORY = 100_000;

await runService({
  name: "planner",
  version: pkg.version,
  httpPort: 9103,
  config: {
    ...cryptoConfigShape,
    /** Policy file (YAML or JSON); validated at start. */
    X0_PLANNER_POLICY: z
      .string()
      .default(join(import.meta.dir, "..", "policy.yaml"))
      .transform((path, ctx) => {
        try {
          return loadPolicy(path);
        } catch (error) {
          ctx.addIssue({ code: "custom", message: (error as Error).message });
          return z.NEVER;
        }
      }),
  },
  async start({ config, bus, nc, jsm, logger, metrics, counters, track, onStop, ensureStreams }) {
    await ensureStreams();
    // Plans are signed in-process with the planner's own key (no round trip to the crypto service).
    const signing = await openControlPlaneCrypto({ service: "planner", config, nc, logger });
    onStop(() => signing.stop());
    const policy = config.X0_PLANNER_POLICY;
    logger.info("policy loaded", { rules: policy.rules.map((rule) => rule.name) });
    const processedTotal = new Counter({
      name: "x0_planner_anomalies_processed_total",
      help: "Incident states processed (each once), by kind and state.",
      labelNames: ["kind", "state"],
      registers: [metrics.registry],
    });
    const duplicatesTotal = new Counter({
      name: "x0_planner_duplicates_skipped_total",
      help: "Redelivered incident states skipped because they were already processed.",
      registers: [metrics.registry],
    });
    const plansTotal = new Counter({
      name: "x0_plans_total",
      help: "Plans published, by rule and approval.",
      labelNames: ["rule", "approval"],
      registers: [metrics.registry],
    });
    counters.anomalies_processed = 0;
    counters.plans = 0;

    // Redeliveries after a lost ack are skipped here; across planner restarts the
    // plan's message id makes JetStream store a re-published plan once.
    const processed = new Set<string>();
    track(
      await bus.consume(
        contracts.anomaly,
        async (anomaly, delivery) => {
          const key = `${anomaly.incident_id}:${anomaly.update}`;
          if (processed.has(key)) {
            duplicatesTotal.inc();
            return;
          }
          const decided = decide(policy, anomaly);
          if (decided) {
            // Signed once, before the publish loop: a retried publish carries the same bytes and is stored once.
            const plan = signing.sign("plan", decided);
            await bus.publishDurable(contracts.plan, plan.node, plan, { msgID: `plan:${key}`, parent: delivery.trace });
            plansTotal.inc({ rule: plan.rule, approval: plan.approval });
            counters.plans = (counters.plans ?? 0) + 1;
            logger.info("plan", { plan_id: plan.plan_id, incident_id: plan.incident_id, rule: plan.rule, approval: plan.approval });
          }
          processed.add(key);
          if (processed.size > PROCESSED_MEMORY) processed.delete(processed.values().next().value as string);
          processedTotal.inc({ kind: anomaly.kind, state: anomaly.state });
          counters.anomalies_processed = (counters.anomalies_processed ?? 0) + 1;
        },
        { durable: "planner", jsm: await jsm() },
      ),
    );
  },
});
