// `x0 lab <command>`: the command layer over @x0/lab (docs/self-healing.md "Lab"): parse, call the lab, print.
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  createLab,
  cutNode,
  flapLink,
  healLab,
  LabError,
  type LabFault,
  LabProber,
  labStatus,
  loadLab,
  natsUrlOf,
  type ProbeEvent,
  planLab,
  runInVm,
  setLinkAdmin,
  setLinkLoss,
  startDetachedExecutor,
  startDetachedMonitor,
  teardownLab,
  vmImageDirOf,
  waitForDataplanes,
  writeLabState,
} from "@x0/lab";
import { connectCli } from "../nats-client.ts";
import { stateDirOf } from "../paths.ts";
import type { Output } from "../status/command.ts";
import { answersOk } from "../up/readiness.ts";
import { type FaultRequest, type LabRequest, parseLabArgs } from "./args.ts";
import { recordLab } from "./record.ts";
import { formatPercent, renderLabStatus } from "./render.ts";

/** How long `x0 lab up` waits for the monitors to attach XDP on every link. */
const DATAPLANE_WAIT_MS = 60_000;

/** Runs `x0 lab …` and returns its exit code (usage errors are thrown). */
export async function runLab(argv: readonly string[], env: Record<string, string | undefined>, output: Output): Promise<number> {
  const request = parseLabArgs(argv);
  if (process.getuid?.() !== 0) throw new LabError("x0 lab needs root: it creates network namespaces, veths and mounts, and opens pinned BPF maps");
  const stateDir = stateDirOf(env);
  switch (request.command) {
    case "up":
      return labUp(request, stateDir, env, output);
    case "down": {
      const report = await teardownLab(request.prefix, { stateDir });
      const parts = [
        `${report.processes.length} processes`,
        `${report.namespaces.length} namespaces`,
        `${report.interfaces.length} root interfaces`,
        `${report.mounts.length} mounts`,
        `${report.paths.length} folders`,
      ];
      output.out(`lab ${request.prefix} down: removed ${parts.join(", ")}`);
      return 0;
    }
    case "status": {
      const { state, plan } = loadLab(stateDir, request.prefix);
      const status = await labStatus(state, plan, answersOk);
      output.out(request.json ? JSON.stringify(status, null, 2) : renderLabStatus(status));
      return 0;
    }
    case "heal": {
      const { state, plan, stateFile } = loadLab(stateDir, request.prefix);
      const removed = healLab(plan);
      writeLabState(stateFile, { ...state, faults: [] });
      output.out(`lab ${request.prefix} healed: ${removed} fault map entries removed, every link set up`);
      return 0;
    }
    case "fault":
      return labFault(request.prefix, request.fault, stateDir, output);
    case "probe":
      return labProbe(request, stateDir, output);
    case "record": {
      const { state, plan } = loadLab(stateDir, request.prefix);
      const nc = await connectCli(request.nats ?? state.nats ?? undefined, env);
      try {
        await recordLab({ ...request, plan, nc, log: (line) => output.out(line) });
      } finally {
        await nc.close();
      }
      return 0;
    }
    case "vm": {
      const result = await runInVm({
        argv: request.argv,
        cwd: process.cwd(),
        env: request.env,
        imageDir: vmImageDirOf(env),
        cpus: request.cpus,
        memoryMb: request.memoryMb,
        timeoutMs: request.timeoutMs,
        onOutput: (chunk) => process.stdout.write(chunk),
      });
      output.err(`x0 lab vm: the command exited ${result.exitCode} (${(result.bootToExitMs / 1000).toFixed(1)} s from boot to power-off)`);
      return result.exitCode;
    }
  }
}

async function labUp(
  request: Extract<LabRequest, { command: "up" }>,
  stateDir: string,
  env: Record<string, string | undefined>,
  output: Output,
): Promise<number> {
  const plan = planLab(request.topology, request.prefix, request.mgmt, request.routing, request.linkCosts);
  const natsUrl = natsUrlOf(request.nats, plan);
  const state = await createLab(plan, { stateDir, natsUrl, owner: "lab" });
  output.out(
    `lab ${plan.prefix} up: ${plan.topology.spec}, ${plan.nodes.length} nodes, ${plan.links.length} links, ` +
      `${plan.routing === "batman" ? "batman-adv routing" : `${plan.routes.length} routes`}; ` +
      `bridge ${plan.bridge} ${plan.bridgeAddress}/16, namespaces ${plan.nodes[0]?.netns}…${plan.nodes.at(-1)?.netns}`,
  );
  if (natsUrl === null) {
    output.out("no --server or --nats-port: no monitors started, so faults and probes are not available yet");
    return 0;
  }
  const { stateFile } = loadLab(stateDir, plan.prefix);
  // The monitors' identity: X0_DEV_CA_DIR (or another source) when given, else the local stack's development CA if there is one.
  const pki = join(stateDir, "pki");
  const identityEnv = env.X0_DEV_CA_DIR || env.SPIFFE_ENDPOINT_SOCKET || !existsSync(join(pki, "ca.key")) ? {} : { X0_DEV_CA_DIR: pki };
  for (const node of plan.nodes) {
    state.processes.push(startDetachedMonitor(plan, node, natsUrl, stateDir, { ...env, ...identityEnv }));
    writeLabState(stateFile, state);
  }
  // One executor per node inside its namespace, or one site executor here for every node.
  for (const node of request.executors === "node" ? plan.nodes : [undefined]) {
    state.processes.push(startDetachedExecutor(plan, node, natsUrl, stateDir, { ...env, ...identityEnv }));
    writeLabState(stateFile, state);
  }
  const executors = request.executors === "node" ? `${plan.nodes.length} node executors` : "a site executor";
  output.out(`monitors and ${executors} started (NATS ${natsUrl}); waiting for the monitors' XDP data planes`);
  const missing = await waitForDataplanes(plan, DATAPLANE_WAIT_MS);
  if (missing.length > 0) {
    output.err(`no XDP fault map after ${DATAPLANE_WAIT_MS / 1000} s on ${missing.join(", ")}; see the monitor logs in ${stateDir}/lab-${plan.prefix}-logs`);
    return 1;
  }
  output.out(`every monitor attached XDP on its links. "x0 lab status" shows the lab; "x0 lab down" removes it`);
  return 0;
}

async function labFault(prefix: string, fault: FaultRequest, stateDir: string, output: Output): Promise<number> {
  const { state, plan, stateFile } = loadLab(stateDir, prefix);
  const record = (kind: LabFault["kind"], b: string | null, probability: number | null) => {
    state.faults.push({ kind, a: fault.a, b, probability, at: new Date().toISOString() });
    writeLabState(stateFile, state);
  };
  switch (fault.kind) {
    case "cut":
      await setLinkLoss(plan, fault.a, fault.b, 1);
      record("cut", fault.b, 1);
      output.out(`link ${fault.a}-${fault.b} cut (every frame dropped both ways; interfaces stay up)`);
      return 0;
    case "loss":
      await setLinkLoss(plan, fault.a, fault.b, fault.probability);
      record("loss", fault.b, fault.probability);
      output.out(`link ${fault.a}-${fault.b} drops ${formatPercent(fault.probability)} of frames both ways`);
      return 0;
    case "link-down":
      setLinkAdmin(plan, fault.a, fault.b, false);
      record("link-down", fault.b, null);
      output.out(`${fault.a}-${fault.b} set down in ${fault.a}`);
      return 0;
    case "node-down":
      await cutNode(plan, fault.a);
      record("node-down", null, 1);
      output.out(`every link of ${fault.a} cut`);
      return 0;
    case "flap": {
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once("SIGINT", onSignal);
      try {
        await flapLink(plan, fault.a, fault.b, {
          periodMs: fault.periodMs,
          count: fault.count,
          signal: stop.signal,
          onChange: (change, cycle) => output.out(`${new Date().toISOString()} link ${fault.a}-${fault.b} ${change} (${cycle}/${fault.count})`),
        });
      } finally {
        process.off("SIGINT", onSignal);
      }
      output.out(`link ${fault.a}-${fault.b} flapped ${fault.count} times and is restored`);
      return 0;
    }
  }
}

async function labProbe(request: Extract<LabRequest, { command: "probe" }>, stateDir: string, output: Output): Promise<number> {
  const { plan } = loadLab(stateDir, request.prefix);
  const show = (event: ProbeEvent) => output.out(request.json ? JSON.stringify(event) : describeProbeEvent(event));
  const prober = new LabProber({ plan, intervalMs: request.intervalMs, summaryMs: request.summaryMs, onEvent: show });
  const stop = Promise.withResolvers<void>();
  const onSignal = () => stop.resolve();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await prober.start(request.from, request.to);
    if (!request.json) output.out(`probing ${request.from} → ${request.to} every ${request.intervalMs} ms (Ctrl-C stops)`);
    await (request.durationMs === undefined ? stop.promise : Promise.race([stop.promise, Bun.sleep(request.durationMs)]));
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await prober.stop();
  }
  return 0;
}

/** One probe event as a terminal line. */
export function describeProbeEvent(event: ProbeEvent): string {
  const at = new Date(event.ts).toISOString();
  const pair = `${event.from} → ${event.to}`;
  switch (event.event) {
    case "outage":
      return `${at} ${pair}: OUTAGE, last reply ${event.last_reply_ts === null ? "never" : new Date(event.last_reply_ts).toISOString()}`;
    case "restored":
      return `${at} ${pair}: restored after ${event.outage_ms} ms`;
    case "summary": {
      const rtt = event.rtt_avg_ms === null ? "-" : `${event.rtt_avg_ms.toFixed(3)} ms avg, ${event.rtt_max_ms?.toFixed(3)} ms max`;
      return `${at} ${pair}: ${event.sent} sent, ${event.received} received, loss ${formatPercent(event.loss)}, rtt ${rtt}, ${event.outages} outages (${event.outage_ms_total} ms)${event.in_outage ? ", in outage" : ""}`;
    }
  }
}
