// bench:swarm — does the federated link-health model help? Real lab traces (recorded here on a grid:4x4 netns lab, or
// read with --data), then in one run: sample-level F1 of central vs federated training; incident-level detection of the
// held-out faults and false incidents in fault-free minutes for the hand-set detectors, the central and the federated
// model (the analyzer replaying the traces); Byzantine agents against each rule; round time and bytes over NATS for 4,
// 16 and 64 agents. Writes bench/results/swarm.json. Method: bench/README.md.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseTopology } from "@x0/lab";
import {
  type Anomaly,
  Buckets,
  connectNats,
  createLogger,
  LINK_HEALTH_MODEL,
  MessageVerifier,
  openBucket,
  type SwarmRound,
  type SwarmUpdate,
  swarmServiceOf,
} from "@x0/shared";
import { startNatsServer } from "@x0/shared/testing";
import {
  type AggregatorName,
  type Attack,
  artefactVerifier,
  classWeightsOf,
  evaluate,
  FEATURE_COUNT,
  federate,
  LINK_CLASSES,
  type LoadedModel,
  Mlp,
  ModelStore,
  type Recording,
  readRecording,
  type Sample,
  samplesOf,
  seededRandom,
  TrainingSet,
  train,
  unsignedModel,
} from "@x0/swarm";
import { parseSchedule, recordLab } from "../cli/src/lab/record.ts";
import { mergedTelemetry, replay } from "../services/analyzer/src/testing/replay.ts";
import { Agent } from "../services/swarm/src/agent/agent.ts";
import { Coordinator } from "../services/swarm/src/coordinator/coordinator.ts";
import { labRunnable, startHealLab } from "../test/lab-stack.ts";
import { percentile } from "./stats.ts";
import { adapterBench } from "./swarm-adapter.ts";
import { benchKeys } from "./swarm-keys.ts";
import { liveRun } from "./swarm-live.ts";
import { privacyBench } from "./swarm-privacy.ts";

const env = process.env;
const args = {
  data: env.X0_BENCH_SWARM_DATA ?? join(".x0", "bench-swarm"),
  topology: env.X0_BENCH_SWARM_TOPOLOGY ?? "grid:4x4",
  "quiet-min": env.X0_BENCH_SWARM_QUIET_MIN ?? "5",
  rounds: env.X0_BENCH_SWARM_ROUNDS ?? "20",
  seed: env.X0_BENCH_SWARM_SEED ?? "7",
};
const DATA = args.data;
/** Parts to run (default all); a partial run replaces only its parts in the results on record. */
const ALL_PARTS = ["models", "byzantine", "scaling", "live", "privacy", "adapter"] as const;
const parts = new Set((env.X0_BENCH_SWARM_PARTS ?? ALL_PARTS.join(",")).split(",").map((part) => part.trim()));
const ROUNDS = Number(args.rounds);
const SEED = Number(args.seed);
const WINDOW = { window: 5, baselineAlpha: 0.05 };
const SHAPE = { inputs: FEATURE_COUNT, hidden: [16], outputs: LINK_CLASSES.length };
const LOCAL = { epochs: 3, learningRate: 0.05, batchSize: 32 };
const loadAtStart = Number(loadavg()[0]?.toFixed(2));
const log = (line: string) => process.stdout.write(`${line}\n`);

// 1. Traces: recorded on the lab once (train, held-out, quiet), kept in --data for later runs.
type FaultKind = "cut" | "loss10" | "loss20" | "loss30" | "node-down";
const KINDS: FaultKind[] = ["cut", "loss10", "loss20", "loss30", "node-down"];
const DURATION: Record<FaultKind, string> = { cut: "4s", loss10: "6s", loss20: "6s", loss30: "6s", "node-down": "4s" };

/** A fault schedule of `perKind` faults of each kind on random links and nodes, kinds interleaved. */
function schedule(perKind: number, seed: number): string {
  const topology = parseTopology(args.topology);
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;
  const items: string[] = [];
  for (let i = 0; i < perKind; i++) {
    for (const kind of KINDS) {
      if (kind === "node-down") items.push(`node-down:${pick(topology.nodes)}:${DURATION[kind]}`);
      else {
        const [a, b] = pick(topology.links);
        items.push(`${kind}:${a}-${b}:${DURATION[kind]}`);
      }
    }
  }
  return items.join(",");
}

async function ensureRecordings(): Promise<{ train: Recording; heldout: Recording; quiet: Recording }> {
  const dirs = { train: join(DATA, "train"), heldout: join(DATA, "heldout"), quiet: join(DATA, "quiet") };
  const missing = Object.values(dirs).filter((dir) => !existsSync(join(dir, "recording.json")));
  if (missing.length > 0) {
    if (!labRunnable) throw new Error("recording the traces needs root (namespaces, XDP) and nats-server; or set X0_BENCH_SWARM_DATA to recordings");
    const lab = await startHealLab({ topology: args.topology, prefix: `x0b${process.pid % 10_000}`, services: [] });
    try {
      const runs: [string, string | null, number][] = [
        [dirs.train, schedule(4, SEED), 5000],
        [dirs.heldout, schedule(3, SEED + 1), 5000],
        [dirs.quiet, null, Number(args["quiet-min"]) * 60_000],
      ];
      for (const [out, faults, leadMs] of runs) {
        if (existsSync(join(out, "recording.json"))) continue;
        mkdirSync(out, { recursive: true });
        log(`recording ${out}${faults ? ` (${faults.split(",").length} faults)` : ` (${leadMs / 60_000} fault-free minutes)`}`);
        await recordLab({ plan: lab.plan, nc: lab.nc, schedule: faults ? parseSchedule(faults) : [], out, leadMs, gapMs: 4000, helloIntervalMs: 20, log });
      }
    } finally {
      await lab.stop();
    }
  }
  return { train: readRecording(dirs.train), heldout: readRecording(dirs.heldout), quiet: readRecording(dirs.quiet) };
}

const { train: trainRec, heldout: heldoutRec, quiet: quietRec } = await ensureRecordings();
const samplesOfNode = (recording: Recording, node: string): Sample[] =>
  samplesOf(recording.meta, node, recording.telemetry.get(node) ?? [], { window: { ...WINDOW, helloIntervalMs: recording.meta.hello_interval_ms } });
const agentsData = trainRec.meta.nodes.map((node) => samplesOfNode(trainRec, node)).filter((samples) => samples.length > 0);
const heldoutSamples = new TrainingSet([heldoutRec]).samples(WINDOW);
log(`samples: ${agentsData.length} agents, ${agentsData.reduce((n, s) => n + s.length, 0)} training, ${heldoutSamples.length} held-out`);

// 2. Central (the upper bound: every node's samples in one place, the same epochs in total) and federated training.
function central(): Mlp {
  const all = agentsData.flat();
  const model = Mlp.init(SHAPE, seededRandom(SEED));
  train(model, all, { ...LOCAL, epochs: LOCAL.epochs * ROUNDS, random: seededRandom(SEED + 1), classWeights: classWeightsOf(all, SHAPE.outputs) });
  return model;
}
const ROUND_SETTINGS = { minParticipants: 3, deadlineMs: Number.MAX_SAFE_INTEGER, maxUpdateNorm: 5, trim: 0.2, byzantine: 1 };
function federated(aggregator: AggregatorName, rounds = ROUNDS, attackers?: { count: number; attack: Attack }, maxUpdateNorm = ROUND_SETTINGS.maxUpdateNorm) {
  return federate(agentsData, {
    shape: SHAPE,
    rounds,
    local: { ...LOCAL, ownClassWeights: true },
    settings: { ...ROUND_SETTINGS, maxUpdateNorm, aggregator, byzantine: Math.max(1, attackers?.count ?? 1) },
    seed: SEED,
    ...(attackers && attackers.count > 0 ? { attackers } : {}),
  });
}
const score = (model: Mlp) => {
  const evaluation = evaluate(model, heldoutSamples);
  return {
    macro_f1: round3(evaluation.macroF1),
    accuracy: round3(evaluation.accuracy),
    f1: Object.fromEntries(evaluation.classes.map((c, i) => [LINK_CLASSES[i], round3(c.f1)])),
  };
};
const round3 = (value: number) => Math.round(value * 1000) / 1000;

let started = performance.now();
const centralModel = central();
const centralMs = performance.now() - started;
started = performance.now();
const federatedModel = federated("median").model;
const federatedMs = performance.now() - started;
const fedavgModel = federated("fedavg").model;
const samplesLevel = {
  central: { ...score(centralModel), train_ms: Math.round(centralMs) },
  federated_median: { ...score(federatedModel), train_ms: Math.round(federatedMs) },
  federated_fedavg: score(fedavgModel),
};
log(
  `sample-level macro F1: central ${samplesLevel.central.macro_f1}, federated (median) ${samplesLevel.federated_median.macro_f1}, fedavg ${samplesLevel.federated_fedavg.macro_f1}`,
);

// 3. Incidents: the analyzer replays the held-out and the quiet traces with the hand-set detectors only (off), and with
// each model as a detector (on).
// The analyzer is given the models directly here; its signature path is tested in test/swarm.test.ts.
const loaded = (mlp: Mlp, version: number): LoadedModel =>
  unsignedModel(mlp, { version, window: { ...WINDOW, helloIntervalMs: trainRec.meta.hello_interval_ms }, scoredOn: heldoutSamples });

/** The nodes an incident is about: its observer and the node behind the probed address. */
function incidentNodes(anomaly: Anomaly, addresses: Record<string, string>): string[] {
  const id = anomaly.target?.id ?? "";
  const match = /^link:([^|]+)\|(.+)$/.exec(id);
  if (match) return [match[1] as string, addresses[match[2] as string] ?? (match[2] as string)];
  return anomaly.target?.nodes ?? [anomaly.node];
}

function detection(recording: Recording, states: Anomaly[]) {
  const { meta } = recording;
  const opened = states.filter((state) => state.state === "opened");
  const faultNodes = (fault: (typeof meta.faults)[number]) => (fault.kind === "node-down" ? [fault.node] : fault.link);
  const kindOf = (fault: (typeof meta.faults)[number]) => (fault.kind === "loss" ? `loss${Math.round(fault.loss * 100)}` : fault.kind);
  const matches = (anomaly: Anomaly, fault: (typeof meta.faults)[number]) => {
    if (anomaly.opened_at < fault.start - 100 || anomaly.opened_at > fault.end + 2000) return false;
    const nodes = incidentNodes(anomaly, meta.addresses);
    const wanted = faultNodes(fault);
    return fault.kind === "node-down" ? nodes.includes(wanted[0] as string) : wanted.every((node) => nodes.includes(node));
  };
  const byKind = new Map<string, { faults: number; detected: number; delays: number[]; kinds: Record<string, number> }>();
  for (const fault of meta.faults) {
    const kind = kindOf(fault);
    const entry = byKind.get(kind) ?? { faults: 0, detected: 0, delays: [], kinds: {} };
    entry.faults++;
    const found = opened.filter((anomaly) => matches(anomaly, fault));
    if (found.length > 0) {
      entry.detected++;
      entry.delays.push(Math.min(...found.map((anomaly) => (anomaly.detected_at ?? anomaly.opened_at) - fault.start)));
      const first = found.reduce((a, b) => (a.opened_at <= b.opened_at ? a : b));
      entry.kinds[first.kind] = (entry.kinds[first.kind] ?? 0) + 1;
    }
    byKind.set(kind, entry);
  }
  const unmatched = opened.filter((anomaly) => !meta.faults.some((fault) => matches(anomaly, fault)));
  const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
  return {
    incidents: opened.length,
    false_incidents: unmatched.length,
    precision: opened.length === 0 ? null : round3((opened.length - unmatched.length) / opened.length),
    by_kind: Object.fromEntries(
      [...byKind].map(([kind, entry]) => [
        kind,
        {
          faults: entry.faults,
          recall: round3(entry.detected / entry.faults),
          delay_ms_p50: percentile(sorted(entry.delays), 50),
          delay_ms_p95: percentile(sorted(entry.delays), 95),
          first_incident_kind: entry.kinds,
        },
      ]),
    ),
  };
}

const detectors = { "hand-set": undefined, central: loaded(centralModel, 1), federated: loaded(federatedModel, 2) } as const;
const incidentLevel: Record<string, unknown> = {};
for (const [name, model] of parts.has("models") ? Object.entries(detectors) : []) {
  const mode = model ? "on" : "off";
  const heldout = detection(heldoutRec, replay(mergedTelemetry(heldoutRec.telemetry), { modelMode: mode }, model).states);
  const quietStates = replay(mergedTelemetry(quietRec.telemetry), { modelMode: mode }, model).states.filter((state) => state.state === "opened");
  incidentLevel[name] = { heldout, quiet: { minutes: round3((quietRec.meta.ended_at - quietRec.meta.started_at) / 60_000), incidents: quietStates.length } };
  log(`${name}: ${JSON.stringify(heldout.by_kind)} false ${heldout.false_incidents}, quiet ${quietStates.length}`);
}

// 4. Byzantine agents: the first k agents send sign-flipped, ×10 or random updates; final held-out F1 per rule, with
// the service's norm bound (which refuses ×10 changes before any rule sees them) and without it (the rules alone).
const byzantine: {
  norm_bound: number | null;
  fraction: number;
  attackers: number;
  attack: Attack | "none";
  rule: AggregatorName;
  macro_f1: number;
  published_rounds: number;
}[] = [];
for (const bound of parts.has("byzantine") ? [ROUND_SETTINGS.maxUpdateNorm, Number.POSITIVE_INFINITY] : []) {
  for (const fraction of [0, 0.1, 0.2, 0.3]) {
    const attackers = Math.round(fraction * agentsData.length);
    for (const attack of ["sign-flip", "scale", "random"] as Attack[]) {
      if (fraction === 0 && attack !== "sign-flip") continue;
      for (const rule of ["fedavg", "median", "trimmed-mean", "multi-krum"] as AggregatorName[]) {
        const { model, history } = federated(rule, 10, { count: attackers, attack }, bound);
        byzantine.push({
          norm_bound: Number.isFinite(bound) ? bound : null,
          fraction,
          attackers,
          attack: fraction === 0 ? "none" : attack,
          rule,
          macro_f1: score(model).macro_f1,
          published_rounds: history.filter((round) => round.published).length,
        });
      }
    }
  }
}
log(`byzantine: ${byzantine.length} runs`);

// 5. Rounds over NATS: a coordinator and N agents (own keys, real training on a node's samples each), 3 rounds each.
async function roundsOverNats(agentCount: number) {
  const nats = await startNatsServer();
  const nc = await connectNats({ servers: [nats.url], service: "bench-swarm", instance: "bench" });
  const { backend, identity, lookup, signer } = benchKeys();
  const logger = createLogger({ service: "bench", node: "bench", level: "error" });
  const store = new ModelStore(await openBucket(nc, Buckets.models), LINK_HEALTH_MODEL);
  const encoder = new TextEncoder();
  let bytes = 0;
  const coordinator = new Coordinator({
    node: "c1",
    model: LINK_HEALTH_MODEL,
    settings: {
      deadlineMs: 120_000,
      ...LOCAL,
      maxUpdateNorm: 5,
      aggregator: "median",
      trim: 0.2,
      byzantine: 1,
      minParticipants: 1,
      expectedAgents: agentCount,
      hidden: SHAPE.hidden,
      seed: SEED,
      window: WINDOW.window,
      baselineAlpha: WINDOW.baselineAlpha,
    },
    store,
    validation: new TrainingSet([heldoutRec]),
    verifier: new MessageVerifier({ backend, keys: lookup }),
    artefacts: artefactVerifier(backend, lookup),
    sign: signer(identity(swarmServiceOf("c1"))),
    publishRound: (round) => {
      const data = encoder.encode(JSON.stringify(round));
      bytes += data.length;
      nc.publish(`x0.swarm.round.${LINK_HEALTH_MODEL}`, data);
    },
    isLeader: () => true,
    logger,
  });
  let trainingMs = 0;
  const agents = Array.from({ length: agentCount }, (_, i) => {
    const node = `a${i + 1}`;
    const sourceNode = trainRec.meta.nodes[i % trainRec.meta.nodes.length] as string;
    return new Agent({
      node,
      model: LINK_HEALTH_MODEL,
      // Agent a<i> trains on the samples of the recording's node i mod N (so 64 agents share 16 nodes' traces).
      data: new TrainingSet([trainRec], sourceNode),
      store,
      verifier: new MessageVerifier({ backend, keys: lookup }),
      artefacts: artefactVerifier(backend, lookup),
      sign: signer(identity(swarmServiceOf(node))),
      publish: (update) => {
        const payload = encoder.encode(JSON.stringify(update));
        bytes += payload.length;
        nc.publish(`x0.swarm.update.${update.node}`, payload);
      },
    });
  });
  nc.subscribe(`x0.swarm.round.${LINK_HEALTH_MODEL}`, {
    callback: (error, msg) => {
      if (error) return;
      const round = msg.json<SwarmRound>();
      void (async () => {
        for (const agent of agents) {
          const at = performance.now();
          await agent.onRound(round, msg.json());
          trainingMs += performance.now() - at;
        }
      })();
    },
  });
  nc.subscribe("x0.swarm.update.*", {
    callback: (error, msg) => {
      if (error) return;
      const update = msg.json<SwarmUpdate>();
      void coordinator.submit(update, msg.json(), msg.subject.split(".").at(-1) as string);
    },
  });
  await nc.flush();
  await coordinator.current();
  const rounds: { ms: number; bytes: number; training_ms: number; participants: number }[] = [];
  for (let r = 0; r < 3; r++) {
    bytes = 0;
    trainingMs = 0;
    const at = performance.now();
    await coordinator.open();
    await coordinator.waitForUpdates(new AbortController().signal);
    const result = await coordinator.close();
    const versionBytes = result?.version ? encoder.encode(JSON.stringify(result.version)).length : 0;
    rounds.push({
      ms: Math.round(performance.now() - at),
      bytes: bytes + versionBytes,
      training_ms: Math.round(trainingMs),
      participants: result?.outcome.participants.length ?? 0,
    });
  }
  await nc.close();
  await nats.dispose();
  const median = (values: number[]) =>
    percentile(
      [...values].sort((a, b) => a - b),
      50,
    );
  return {
    agents: agentCount,
    rounds: rounds.length,
    round_ms_median: median(rounds.map((r) => r.ms)),
    training_ms_median: median(rounds.map((r) => r.training_ms)),
    bytes_per_round: median(rounds.map((r) => r.bytes)),
    participants: rounds.map((r) => r.participants),
  };
}
const scaling = [];
for (const count of parts.has("scaling") ? [4, 16, 64] : []) {
  scaling.push(await roundsOverNats(count));
  log(`rounds over NATS: ${JSON.stringify(scaling.at(-1))}`);
}

// 6. Live (root; X0_BENCH_SWARM_LIVE=0 leaves it out): the loop on a fresh grid lab, hand-set detectors alone, then the
// federated model signed into x0_models and the analyzer in mode on.
let live: unknown = null;
if (parts.has("live") && env.X0_BENCH_SWARM_LIVE !== "0" && labRunnable) {
  const liveOptions = {
    topology: args.topology,
    perKind: Number(env.X0_BENCH_SWARM_LIVE_PER_KIND ?? "3"),
    quietMs: Number(args["quiet-min"]) * 60_000,
    seed: SEED + 2,
    log,
  };
  live = { "hand-set": await liveRun(liveOptions), federated: await liveRun(liveOptions, loaded(federatedModel, 2)) };
}

// 7. Privacy: held-out F1 of DP-FedAvg against ε, and the membership check.
const privacy = parts.has("privacy") ? privacyBench({ agents: agentsData, shape: SHAPE, local: LOCAL, rounds: ROUNDS, seed: SEED, score, log }) : undefined;

// 8. Site adapters: a site with 10 % standing loss adapts the federated model with LoRA; its F1 and false alarms.
const adapter = parts.has("adapter")
  ? await adapterBench({
      data: DATA,
      base: federatedModel,
      heldout: new TrainingSet([heldoutRec]),
      window: WINDOW,
      local: LOCAL,
      rounds: 5,
      seed: SEED,
      detection,
      log,
    })
  : undefined;

const measuredAt = new Date().toISOString();
const fresh = {
  bench: "swarm",
  measured_at: measuredAt,
  command: parts.size < ALL_PARTS.length ? `X0_BENCH_SWARM_PARTS=${[...parts].join(",")} bun run bench:swarm` : "bun run bench:swarm",
  settings: { X0_BENCH_SWARM_DATA: DATA, X0_BENCH_SWARM_TOPOLOGY: args.topology, X0_BENCH_SWARM_ROUNDS: ROUNDS, X0_BENCH_SWARM_SEED: SEED },
  traces: {
    topology: trainRec.meta.topology,
    hello_interval_ms: trainRec.meta.hello_interval_ms,
    train_faults: trainRec.meta.faults.length,
    heldout_faults: heldoutRec.meta.faults.length,
    quiet_minutes: round3((quietRec.meta.ended_at - quietRec.meta.started_at) / 60_000),
    agents: agentsData.length,
    training_samples: agentsData.reduce((n, s) => n + s.length, 0),
    heldout_samples: heldoutSamples.length,
  },
  model: { shape: SHAPE, window: WINDOW, local: LOCAL, rounds: ROUNDS },
  machine: { cpus: cpus().length, model: cpus()[0]?.model, load_at_start: loadAtStart, load_at_end: Number(loadavg()[0]?.toFixed(2)) },
};
const partResults: Record<(typeof ALL_PARTS)[number], Record<string, unknown>> = {
  models: { sample_level: samplesLevel, incident_level: incidentLevel },
  byzantine: { byzantine },
  scaling: { scaling },
  live: { live },
  privacy: { privacy },
  adapter: { adapter },
};
const path = join("bench", "results", "swarm.json");
const previous = existsSync(path) && parts.size < ALL_PARTS.length ? (JSON.parse(await Bun.file(path).text()) as Record<string, unknown>) : {};
const results: Record<string, unknown> = { ...previous, ...fresh, parts_measured_at: { ...((previous.parts_measured_at as object) ?? {}) } };
for (const part of ALL_PARTS) {
  const dates = results.parts_measured_at as Record<string, string>;
  if (!parts.has(part)) {
    if (previous.measured_at && dates[part] === undefined) dates[part] = previous.measured_at as string;
    continue;
  }
  Object.assign(results, partResults[part]);
  dates[part] = measuredAt;
}
mkdirSync(join("bench", "results"), { recursive: true });
writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
log("wrote bench/results/swarm.json");
process.exit(0);
