// Executor (E of MAPE-K): signed plans in, actuators applied, effects verified (or rolled back), honest results out.
import {
  Buckets,
  batadvMesh,
  contracts,
  NetlinkSockets,
  openBucket,
  openControlPlaneCrypto,
  probeEndpoint,
  rtnetlinkMasters,
  runService,
  subjectOf,
  type Telemetry,
} from "@x0/shared";
import { Counter, Gauge, Histogram } from "prom-client";
import pkg from "../package.json" with { type: "json" };
import { batctlActuators } from "./actuators/batctl.ts";
import { type DataplaneControl, denyActuators, type OpenDataplaneControl } from "./actuators/deny.ts";
import { notifyActuator } from "./actuators/notify.ts";
import { processActuator } from "./actuators/process.ts";
import { ActuatorRegistry } from "./actuators/registry.ts";
import { routesActuator } from "./actuators/routes.ts";
import { observed } from "./actuators/types.ts";
import { executorConfigShape, resolveMode } from "./config.ts";
import { DataplaneUnavailable, PlanInProgress } from "./errors.ts";
import { PlanLeases } from "./lease/lease.ts";
import { PlanHandler } from "./run/handle-plan.ts";
import { rehearsePlanHandling, rehearseRealReads } from "./run/rehearsal.ts";
import { PlanRunner } from "./run/runner.ts";
import { Supersessions } from "./run/supersession.ts";
import { checkPlan } from "./verify/verify-plan.ts";

// Loaded on first use: a dry-run executor, or one that never quarantines, needs neither libbpf nor the monitor's code.
const MONITOR_MODULE = "@x0/monitor";
const openDataplane: OpenDataplaneControl = async (options) => {
  let monitor: { openDataplaneControl?: (o: typeof options) => DataplaneControl | Promise<DataplaneControl> };
  try {
    monitor = await import(MONITOR_MODULE);
  } catch (error) {
    throw new DataplaneUnavailable(`cannot load ${MONITOR_MODULE}`, { cause: error });
  }
  if (typeof monitor.openDataplaneControl !== "function") throw new DataplaneUnavailable(`${MONITOR_MODULE} exports no openDataplaneControl`);
  return monitor.openDataplaneControl(options);
};

await runService({
  name: "executor",
  version: pkg.version,
  httpPort: 9104,
  config: executorConfigShape,
  async start({ config, bus, nc, jsm, logger, metrics, counters, details, track, onStop, ensureStreams }) {
    const mode = resolveMode(config);
    await ensureStreams();
    const outcomes = await openBucket(nc, Buckets.outcomes);
    // Plans are verified and results signed in-process (no round trip to the crypto service).
    const signing = await openControlPlaneCrypto({ service: "executor", config, nc, logger });
    onStop(() => signing.stop());
    const registers = [metrics.registry];
    const rejectionsTotal = new Counter({
      name: "x0_plan_rejections_total",
      help: "Plans rejected by signature verification (and sent to the dead-letter subject), by reason.",
      labelNames: ["reason"],
      registers,
    });
    const resultsTotal = new Counter({ name: "x0_actions_total", help: "Plan results published, by status.", labelNames: ["status"], registers });
    const stepSeconds = new Histogram({
      name: "x0_executor_step_duration_seconds",
      help: "Duration of one actuator call (a batch of steps counts once), by actuator and phase (apply, verify, rollback).",
      labelNames: ["actuator", "phase"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    const verificationSeconds = new Histogram({
      name: "x0_executor_verification_duration_seconds",
      help: "Time from a plan's last applied step to the verdict of its verification, by outcome (ok, failed).",
      labelNames: ["outcome"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    const rollbacksTotal = new Counter({
      name: "x0_executor_rollbacks_total",
      help: "Plans rolled back, by outcome (ok: every step undone; failed: some could not be).",
      labelNames: ["outcome"],
      registers,
    });
    const takeoversTotal = new Counter({
      name: "x0_executor_lease_takeovers_total",
      help: "Plans taken over from an executor instance whose lease expired.",
      registers,
    });
    const modeGauge = new Gauge({ name: "x0_executor_mode", help: "The executor's mode (1 for the one in use).", labelNames: ["mode"], registers });
    modeGauge.set({ mode }, 1);
    counters.plans_rejected = 0;
    counters.actions = 0;
    counters.rollbacks = 0;
    counters.takeovers = 0;
    details.mode = mode;
    details.scope = config.X0_EXECUTOR_SCOPE;

    const registry = new ActuatorRegistry()
      .register(routesActuator({ ip: config.X0_EXECUTOR_IP, netnsTemplate: config.X0_EXECUTOR_NETNS }))
      .register(notifyActuator())
      .register(processActuator({ allow: config.X0_EXECUTOR_PROCESSES }));
    for (const actuator of denyActuators({ open: openDataplane, pinRootTemplate: config.X0_EXECUTOR_BPF_PIN_ROOT, bpfDir: config.X0_EXECUTOR_BPF_DIR })) {
      registry.register(actuator);
    }
    const netlink = config.X0_EXECUTOR_BATMAN_CONTROL === "netlink" ? new NetlinkSockets() : undefined;
    onStop(() => netlink?.close());
    const masters = netlink && rtnetlinkMasters(netlink);
    const mesh = netlink && masters && batadvMesh(netlink, masters);
    const [hopPenalty, batmanInterface, origInterval, gwMode, aggregation] = batctlActuators({
      batctl: config.X0_EXECUTOR_BATCTL,
      ip: config.X0_EXECUTOR_IP,
      netnsTemplate: config.X0_EXECUTOR_NETNS,
      masters,
      mesh,
    });
    registry.register(hopPenalty).register(batmanInterface).register(origInterval).register(gwMode).register(aggregation);
    details.actuators = registry.types();

    /** The next telemetry sample of `node`, through a subscription held only while a verification waits for it. */
    const nextTelemetry = (node: string, timeoutMs: number) =>
      new Promise<Telemetry | undefined>((resolve) => {
        const live = bus.subscribe(contracts.telemetry, (sample) => finish(sample), { token: node });
        const timer = setTimeout(() => finish(undefined), timeoutMs);
        const finish = (sample: Telemetry | undefined) => {
          clearTimeout(timer);
          void live.stop();
          resolve(sample);
        };
      });

    const all = config.X0_EXECUTOR_SCOPE === "all";
    // Plans as they are published (core NATS): a newer plan can stop the verification of one it supersedes.
    const supersessions = new Supersessions(signing.verifier, config.X0_EXECUTOR_PLAN_SIGNERS);
    const lookahead = nc.subscribe(subjectOf(contracts.plan, all ? "*" : config.X0_NODE), {
      callback: (error, msg) => {
        if (!error) supersessions.look(msg.data).catch((lookError) => logger.debug("plan look-ahead failed", { error: lookError }));
      },
    });
    track({ name: "subscription x0.plan look-ahead", isLive: () => !lookahead.isClosed(), stop: () => lookahead.drain() });
    const runner = new PlanRunner({
      supersededBy: (planId) => supersessions.supersededBy(planId),
      registry,
      node: config.X0_NODE,
      logger,
      nextTelemetry,
      stepDelayMs: config.X0_EXECUTOR_STEP_DELAY_MS,
      defaultDeadlineMs: config.X0_EXECUTOR_VERIFY_DEADLINE_MS,
      probe: async (check, remainingMs) => {
        // The node's monitor sends hellos from inside the node; one request is bounded by what is left of the deadline.
        const timeoutMs = Math.max(1, Math.min(300, remainingMs - 50));
        const response = await bus.request(
          probeEndpoint(check.from),
          { v: 1, to: check.to, port: check.port, count: 3, interval_ms: 10, timeout_ms: timeoutMs, until_first: true },
          { timeoutMs: Math.max(100, Math.min(remainingMs, timeoutMs + 30 + 500)) },
        );
        const rtt = response.rtt_ms[0];
        return observed(
          response.received > 0,
          `${response.received}/${response.sent} hellos from ${check.from} answered by ${check.to}${rtt === undefined ? "" : `, rtt ${rtt.toFixed(2)} ms`}`,
        );
      },
      metrics: {
        step: (actuator, phase, seconds) => stepSeconds.observe({ actuator, phase }, seconds),
        verification: (seconds, ok) => verificationSeconds.observe({ outcome: ok ? "ok" : "failed" }, seconds),
        rollback: (outcome) => {
          rollbacksTotal.inc({ outcome });
          counters.rollbacks = (counters.rollbacks ?? 0) + 1;
        },
      },
    });
    // A holder name per process: a restarted instance is a new holder, so it never mistakes its old lease for a live one.
    const leases = new PlanLeases({ kv: outcomes, holder: `${config.X0_INSTANCE}.${crypto.randomUUID().slice(0, 8)}`, ttlMs: config.X0_EXECUTOR_LEASE_MS });
    const handler = new PlanHandler({ mode, outcomes, leases, runner, logger, sign: (result) => signing.sign("action", result) });
    // Before the first plan: it should not pay for the first pass through the checking, running and signing code.
    await rehearsePlanHandling({
      backend: signing.backend,
      signResult: (result) => signing.sign("action", result),
      checkPlan: (plan) => bus.check(contracts.plan, plan.node, plan),
      checkResult: (result) => bus.check(contracts.action, result.node, result),
    }).then(
      async (rehearsal) => {
        // A read that fails is reported, not fatal: the executor runs on, its first plan on the cold path.
        const reads = await rehearseRealReads({ outcomes, masters, mesh }).catch((error: Error) => {
          logger.warn("the rehearsal's reads through the real paths failed", { error });
          return { failed: error.message };
        });
        details.rehearsal = { status: rehearsal.status, steps: rehearsal.steps, ms: Math.round(rehearsal.durationMs), reads };
        logger.info("plan path rehearsed", details.rehearsal as Record<string, unknown>);
      },
      (error) => {
        details.rehearsal = { failed: (error as Error).message };
        logger.error("plan path rehearsal failed; the first real plan will take the cold path", { error });
      },
    );
    logger.info("executor mode", { mode, scope: config.X0_EXECUTOR_SCOPE, netns: config.X0_EXECUTOR_NETNS || "(host)", actuators: registry.types() });

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
          let handled: Awaited<ReturnType<PlanHandler["handle"]>>;
          try {
            handled = await handler.handle(plan, delivery);
          } catch (error) {
            if (error instanceof PlanInProgress)
              logger.info("plan held by another instance; redelivery later", { plan_id: plan.plan_id, detail: error.message });
            throw error;
          }
          if (handled.kind === "replayed") return reject("replayed", handled.detail);
          if (handled.takeover) {
            takeoversTotal.inc();
            counters.takeovers = (counters.takeovers ?? 0) + 1;
          }
          const { result } = handled;
          await bus.publishDurable(contracts.action, plan.node, result, { msgID: `result:${plan.plan_id}`, parent: delivery.trace });
          resultsTotal.inc({ status: result.status });
          counters.actions = (counters.actions ?? 0) + 1;
          logger.info("result", { plan_id: plan.plan_id, incident_id: plan.incident_id, status: result.status, detail: result.detail });
        },
        {
          durable: all ? "executor-all" : `executor-${config.X0_NODE}`,
          token: all ? "*" : config.X0_NODE,
          jsm: await jsm(),
          ackWaitMs: config.X0_EXECUTOR_ACK_WAIT_MS,
        },
      ),
    );
  },
});
