// Executor (E of MAPE-K): signed plans in, actuators applied, effects verified (or rolled back), honest results out.
import { type ActionResult, Buckets, contracts, MessageVerifier, openBucket, openControlPlaneCrypto, runService, subjectOf } from "@x0/shared";
import pkg from "../package.json" with { type: "json" };
import { actuatorsFromConfig } from "./actuators/from-config.ts";
import { checkScope, executorConfigShape, executorServiceName, resolveMode } from "./config.ts";
import { CoordinatedPlans } from "./coordination/coordinated.ts";
import { CoordinationRecords } from "./coordination/store.ts";
import { ungovernedGate, VoteAdmission } from "./governance/admit.ts";
import { nodeKeys, PlanLeases, SITE_KEYS } from "./lease/lease.ts";
import { createMetrics, executorCounts } from "./metrics.ts";
import { PlanHandler } from "./run/handle-plan.ts";
import { nextTelemetryOver, probeOver } from "./run/observe.ts";
import { planIntake } from "./run/plan-intake.ts";
import { rehearseAtStart } from "./run/rehearsal.ts";
import { PlanRunner } from "./run/runner.ts";
import { Supersessions } from "./run/supersession.ts";

await runService({
  // Scope all runs as executor-site: its own identity, with rights over every node.
  name: executorServiceName(process.env),
  version: pkg.version,
  httpPort: 9104,
  config: executorConfigShape,
  async start({ config, bus, nc, jsm, logger, metrics: { registry }, counters, details, track, onStop, ensureStreams }) {
    const mode = resolveMode(config);
    checkScope(config);
    await ensureStreams();
    const outcomes = await openBucket(nc, Buckets.outcomes);
    // Plans are verified and results signed in-process (no round trip to the crypto service).
    const signing = await openControlPlaneCrypto({ service: "executor", config, nc, logger });
    // A KEK held in a token: the service is not ready while the token cannot be reached.
    track(signing.kekHealth);
    onStop(() => signing.stop());
    const counts = executorCounts(createMetrics(registry), counters, mode);
    const actuators = actuatorsFromConfig(config);
    onStop(() => actuators.close());
    Object.assign(details, { mode, scope: config.X0_EXECUTOR_SCOPE, actuators: actuators.registry.types() });

    const all = config.X0_EXECUTOR_SCOPE === "all";
    // Plans as they are published (core NATS): a newer plan can stop the verification of one it supersedes.
    const supersessions = new Supersessions(signing.verifier, config.X0_EXECUTOR_PLAN_SIGNERS);
    const lookahead = nc.subscribe(subjectOf(contracts.plan, "*"), {
      callback: (error, msg) => {
        if (!error) supersessions.look(msg.data).catch((lookError) => logger.debug("plan look-ahead failed", { error: lookError }));
      },
    });
    track({ name: "subscription x0.plan look-ahead", isLive: () => !lookahead.isClosed(), stop: () => lookahead.drain() });
    const runner = new PlanRunner({
      supersededBy: (planId) => supersessions.supersededBy(planId),
      registry: actuators.registry,
      node: config.X0_NODE,
      logger,
      nextTelemetry: nextTelemetryOver(bus),
      probe: probeOver(bus),
      stepDelayMs: config.X0_EXECUTOR_STEP_DELAY_MS,
      defaultDeadlineMs: config.X0_EXECUTOR_VERIFY_DEADLINE_MS,
      metrics: counts.runner,
    });
    // A holder name per process: a restarted instance is a new holder, so it never mistakes its old lease for a live one.
    const leases = new PlanLeases({
      kv: outcomes,
      holder: `${config.X0_INSTANCE}.${crypto.randomUUID().slice(0, 8)}`,
      ttlMs: config.X0_EXECUTOR_LEASE_MS,
      keys: all ? SITE_KEYS : nodeKeys(config.X0_NODE),
    });
    const sign = (result: ActionResult) => signing.sign("action", result);
    // A node executor watches the coordination records from start-up on, so no plan waits for a watch of its own.
    const records = all ? undefined : await CoordinationRecords.start(outcomes, logger);
    if (records) track(records);
    // A site executor runs whole plans; a node executor its node's part of every plan, coordinating those addressed to it.
    const handler = !records
      ? new PlanHandler({ mode, outcomes, leases, runner, logger, sign })
      : new CoordinatedPlans({
          node: config.X0_NODE,
          mode,
          outcomes,
          records,
          leases,
          runner,
          sign,
          logger,
          deadlineMs: config.X0_EXECUTOR_TXN_DEADLINE_MS,
          graceMs: config.X0_EXECUTOR_TXN_GRACE_MS,
          defaultVerifyMs: config.X0_EXECUTOR_VERIFY_DEADLINE_MS,
          stepDelayMs: config.X0_EXECUTOR_STEP_DELAY_MS,
          supersededBy: (planId) => supersessions.supersededBy(planId),
          metrics: counts.runner,
        });
    // Before the first plan: it should not pay for the first pass through the checking, running and signing code.
    details.rehearsal = await rehearseAtStart(
      {
        backend: signing.backend,
        signResult: sign,
        checkPlan: (plan) => bus.check(contracts.plan, plan.node, plan),
        checkResult: (result) => bus.check(contracts.action, result.node, result),
        outcomes,
        masters: actuators.masters,
        mesh: actuators.mesh,
        scope: all ? "all" : "node",
        ...(all ? {} : { node: config.X0_NODE, routes: actuators.registry.get("route_replace") }),
      },
      logger,
    );
    logger.info("executor mode", { mode, scope: config.X0_EXECUTOR_SCOPE, netns: config.X0_EXECUTOR_NETNS || "(host)", actuators: actuators.registry.types() });

    // Vote plans: their signature stays acceptable while their proposal is open (a proposal lasts at most 30 days).
    const voteVerifier = new MessageVerifier({
      backend: signing.backend,
      keys: signing.keyring,
      maxAgeMs: 31 * 24 * 3600_000,
      maxSkewMs: config.X0_SIGNATURE_MAX_SKEW_MS,
    });
    // Governance code (viem) is loaded only where governance is configured; without it every vote plan is rejected.
    const gate =
      config.X0_GOV_MEMBERS === ""
        ? ungovernedGate
        : await (await import("./governance/gate.ts")).openVoteGate({
            membersPath: config.X0_GOV_MEMBERS,
            bucket: await openBucket(nc, Buckets.gov),
            verifier: voteVerifier,
            signers: config.X0_EXECUTOR_PLAN_SIGNERS,
            recheckMs: config.X0_EXECUTOR_VOTE_RECHECK_MS,
          });
    const votes = new VoteAdmission({
      gate,
      outcomes,
      sign,
      coordinates: (plan) => all || plan.node === config.X0_NODE,
      publishAwaiting: async (result) => {
        await bus.publishDurable(contracts.action, result.node, result, { msgID: `awaiting:${result.plan_id}` });
        counts.published(result.status);
      },
      logger,
    });
    Object.assign(details, { governance: config.X0_GOV_MEMBERS === "" ? "off" : "on" });
    const intake = planIntake({
      bus,
      verifier: signing.verifier,
      signers: config.X0_EXECUTOR_PLAN_SIGNERS,
      handler,
      counts,
      logger,
      votes,
      voteVerifier,
    });
    const durable = all ? "executor-all" : `executor-${config.X0_NODE}`;
    // Every plan, in both scopes: a node executor takes part in any plan with a step for its node.
    const consumer = { durable, token: "*", jsm: await jsm(), ackWaitMs: config.X0_EXECUTOR_ACK_WAIT_MS };
    track(await bus.consume(contracts.plan, intake, consumer));
  },
});
