// bench:swarm's live part: the loop on a fresh netns lab (analyzer, planner, node executors), faults through the XDP
// fault maps, once with the hand-set detectors alone (X0_ANALYZER_MODEL=off) and once with a model signed into
// x0_models and the analyzer in mode on; detection delay per fault kind, incidents and plans in fault-free minutes.
import { type LabPlan, parseTopology } from "@x0/lab";
import {
  Buckets,
  createNativeBackend,
  currentModelKey,
  KeyRecord,
  LINK_HEALTH_MODEL,
  type ModelVersion,
  modelVersionKey,
  openBucket,
  signMessage,
  swarmServiceOf,
  toBase64,
} from "@x0/shared";
import { recordEvents } from "@x0/shared/testing";
import { type LoadedModel, seededRandom } from "@x0/swarm";
import { applyLabFault, type ScheduledFault } from "../cli/src/lab/record.ts";
import { startHealLab } from "../test/lab-stack.ts";
import { percentile } from "./stats.ts";

/** What one live run needs. */
export interface LiveOptions {
  topology: string;
  perKind: number;
  quietMs: number;
  seed: number;
  log: (line: string) => void;
}

const KINDS = ["cut", "loss10", "loss20", "loss30", "node-down"] as const;
const DURATION_MS: Record<(typeof KINDS)[number], number> = { cut: 4000, loss10: 6000, loss20: 6000, loss30: 6000, "node-down": 4000 };
const GAP_MS = 6000;

function faultsOf(options: LiveOptions): (ScheduledFault & { label: string })[] {
  const topology = parseTopology(options.topology);
  const random = seededRandom(options.seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;
  const faults: (ScheduledFault & { label: string })[] = [];
  for (let i = 0; i < options.perKind; i++) {
    for (const label of KINDS) {
      const durationMs = DURATION_MS[label];
      if (label === "node-down") faults.push({ kind: "node-down", a: pick(topology.nodes), durationMs, label });
      else {
        const [a, b] = pick(topology.links);
        faults.push(label === "cut" ? { kind: "cut", a, b, durationMs, label } : { kind: "loss", a, b, loss: Number(label.slice(4)) / 100, durationMs, label });
      }
    }
  }
  return faults;
}

/** Signs `model` as coordinator "bench" (a key put in x0_keyring for it) and makes it the adopted version. */
async function installModel(lab: { nc: import("@nats-io/transport-node").NatsConnection }, model: LoadedModel): Promise<void> {
  const backend = createNativeBackend();
  const pair = backend.sigKeypair();
  const now = Date.now();
  const service = swarmServiceOf("bench");
  const keyId = `${service}-${now.toString(16)}`;
  const record: KeyRecord = {
    v: 1,
    key_id: keyId,
    service,
    alg: "ML-DSA-65",
    mldsa_public: toBase64(pair.publicKey),
    not_before: now - 60_000,
    not_after: now + 24 * 3_600_000,
    created_at: now,
  };
  const keyring = await openBucket(lab.nc, Buckets.keyring);
  await keyring.put(`key.${keyId}`, JSON.stringify(KeyRecord.parse(record)));
  const { signature: _, ...unsigned } = model.record;
  const signed: ModelVersion = signMessage(
    backend,
    "swarm-model",
    { ...unsigned, coordinator: "bench", created_at: now },
    {
      keyId,
      alg: "ML-DSA-65",
      mldsaSecret: pair.secretKey,
    },
  );
  const models = await openBucket(lab.nc, Buckets.models);
  await models.put(modelVersionKey(LINK_HEALTH_MODEL, signed.version), JSON.stringify(signed));
  await models.put(currentModelKey(LINK_HEALTH_MODEL), JSON.stringify(signed));
}

/** One live run: the faults, then the quiet minutes; the model (mode on) or none (mode off). */
export async function liveRun(options: LiveOptions, model?: LoadedModel) {
  const mode = model ? "on" : "off";
  const lab = await startHealLab({
    topology: options.topology,
    prefix: `x0w${process.pid % 10_000}`,
    serviceEnv: { analyzer: { X0_ANALYZER_MODEL: mode } },
  });
  try {
    if (model) {
      await installModel(lab, model);
      const analyzer = lab.services.get("analyzer");
      const deadline = Date.now() + 20_000;
      for (;;) {
        const status = (await (await fetch(`http://127.0.0.1:${analyzer?.port}/status`)).json()) as { details: { model: { version: number | null } } };
        if (status.details.model.version === model.record.version) break;
        if (Date.now() > deadline) throw new Error("the analyzer did not load the signed model within 20 s");
        await Bun.sleep(200);
      }
    }
    // The analyzer arms a pair after 1 s of steady replies; give every pair a few.
    await Bun.sleep(5000);
    const recorder = await recordEvents(lab.nc);
    const plan: LabPlan = lab.plan;
    const delays = new Map<string, number[]>();
    const missed = new Map<string, number>();
    const firstKinds = new Map<string, Record<string, number>>();
    for (const fault of faultsOf(options)) {
      const since = recorder.anomalies.length;
      const start = Date.now();
      await applyLabFault(plan, fault, true);
      await Bun.sleep(fault.durationMs);
      await applyLabFault(plan, fault, false);
      await Bun.sleep(GAP_MS);
      const nodes = fault.kind === "node-down" ? [fault.a] : [fault.a, fault.b];
      const found = recorder.anomalies
        .slice(since)
        .filter(({ message }) => message.state === "opened" && message.opened_at <= start + fault.durationMs + 2000)
        .filter(({ message }) =>
          fault.kind === "node-down" ? nodes.some((n) => message.target?.nodes.includes(n)) : nodes.every((n) => message.target?.nodes.includes(n)),
        );
      const first = found.reduce<(typeof found)[number] | undefined>((a, b) => (a && a.message.opened_at <= b.message.opened_at ? a : b), undefined);
      if (!first) missed.set(fault.label, (missed.get(fault.label) ?? 0) + 1);
      else {
        delays.set(fault.label, [...(delays.get(fault.label) ?? []), (first.message.detected_at ?? first.message.opened_at) - start]);
        const kinds = firstKinds.get(fault.label) ?? {};
        kinds[first.message.kind] = (kinds[first.message.kind] ?? 0) + 1;
        firstKinds.set(fault.label, kinds);
      }
      options.log(
        `live ${mode}: ${fault.label} ${first ? `${(first.message.detected_at ?? first.message.opened_at) - start} ms (${first.message.kind})` : "not detected"}`,
      );
    }
    const quietFrom = { anomalies: recorder.anomalies.length, plans: recorder.plans.length };
    await Bun.sleep(options.quietMs);
    const quietOpened = recorder.anomalies.slice(quietFrom.anomalies).filter(({ message }) => message.state === "opened");
    const quietPlans = recorder.plans.slice(quietFrom.plans);
    await recorder.stop();
    const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
    return {
      mode,
      by_kind: Object.fromEntries(
        KINDS.map((label) => [
          label,
          {
            faults: options.perKind,
            detected: delays.get(label)?.length ?? 0,
            delay_ms_p50: percentile(sorted(delays.get(label) ?? []), 50),
            delay_ms_p95: percentile(sorted(delays.get(label) ?? []), 95),
            first_incident_kind: firstKinds.get(label) ?? {},
          },
        ]),
      ),
      quiet: {
        minutes: options.quietMs / 60_000,
        incidents: quietOpened.length,
        incident_kinds: quietOpened.map(({ message }) => `${message.kind} ${message.target?.id ?? ""}`),
        plans: quietPlans.length,
      },
    };
  } finally {
    await lab.stop();
  }
}
