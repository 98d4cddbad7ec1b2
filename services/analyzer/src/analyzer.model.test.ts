// The swarm's link-health model as a detector, on the shipped validation recording of a real grid:2x2 lab replayed in
// time order: shadow changes nothing but the evidence, on opens no more incidents than the hand-set detectors and opens
// the loss faults' sooner, and the fault's echo after a down spell opens nothing.
import { describe, expect, test } from "bun:test";
import type { Anomaly } from "@x0/shared";
import {
  Adapter,
  averageAdapters,
  classWeightsOf,
  FEATURE_COUNT,
  LINK_CLASSES,
  type LoadedModel,
  Mlp,
  readRecording,
  SHIPPED_SITE_TRAINING,
  SHIPPED_SITE_VALIDATION,
  SHIPPED_TRAINING,
  SHIPPED_VALIDATION,
  seededRandom,
  TrainingSet,
  train,
  unsignedAdapter,
  unsignedModel,
} from "@x0/swarm";
import { mergedTelemetry, replay } from "./testing/replay.ts";

const window = { window: 5, baselineAlpha: 0.05 };

/** A model trained centrally on the shipped training recording (the tests need a good one, not a federated one). */
function trainedModel(version: number): LoadedModel {
  const data = TrainingSet.read([SHIPPED_TRAINING]).samples(window);
  const mlp = Mlp.init({ inputs: FEATURE_COUNT, hidden: [16], outputs: LINK_CLASSES.length }, seededRandom(1));
  train(mlp, data, { epochs: 30, learningRate: 0.05, batchSize: 32, random: seededRandom(2), classWeights: classWeightsOf(data, LINK_CLASSES.length) });
  return unsignedModel(mlp, { version, window: { ...window, helloIntervalMs: 20 }, scoredOn: data });
}

const model = trainedModel(7);
const { meta, telemetry } = readRecording(SHIPPED_VALIDATION);
const samples = mergedTelemetry(telemetry);
const opened = (states: Anomaly[]) => states.filter((state) => state.state === "opened");
/** The fault an incident belongs to: opened during it or within 2 s after it. */
const faultOf = (anomaly: Anomaly) => meta.faults.find((fault) => anomaly.opened_at >= fault.start - 100 && anomaly.opened_at <= fault.end + 2000);
const withoutModelEvidence = (state: Anomaly) => ({ ...state, evidence: state.evidence?.filter((e) => !e.metric.startsWith("model_")) });

describe("analyzer with the link-health model", () => {
  const off = replay(samples, { modelMode: "off" }).states;

  test("model - shadow scores every pair and adds its scores to the evidence, and publishes exactly what off publishes", () => {
    const verdicts = new Map<string, number>();
    const shadow = replay(samples, { modelMode: "shadow", onModelVerdict: (m, d) => verdicts.set(`${m}/${d}`, (verdicts.get(`${m}/${d}`) ?? 0) + 1) }, model);
    expect(shadow.states.map(withoutModelEvidence)).toEqual(off.map(withoutModelEvidence));
    expect(opened(off).length).toBeGreaterThanOrEqual(meta.faults.length);
    for (const state of opened(shadow.states)) {
      expect(state.evidence?.map((e) => e.metric)).toEqual(expect.arrayContaining(["model_v7_p_down", "model_v7_p_degraded"]));
    }
    // The live confusion matrix: the model agrees with the hand-set detectors on healthy and down pairs.
    expect(verdicts.get("healthy/ok") ?? 0).toBeGreaterThan(3000);
    expect(verdicts.get("down/down") ?? 0).toBeGreaterThan(200);
    expect(verdicts.get("healthy/down") ?? 0).toBeLessThan(20);
    expect(shadow.analyzer.modelVersion).toBe(7);
  });

  test("model - on opens one incident per fault side like the hand-set detectors, nothing outside faults, and loss faults sooner", () => {
    const on = replay(samples, { modelMode: "on" }, model).states;
    expect(opened(on).every((state) => faultOf(state) !== undefined)).toBe(true);
    // Per fault and target, one incident in each mode: no echo of a cut or a node-down opens a second one.
    const perTarget = (states: Anomaly[]) => opened(states).map((state) => `${meta.faults.indexOf(faultOf(state) as never)}|${state.target?.id}`);
    expect(new Set(perTarget(on)).size).toBe(perTarget(on).length);
    expect(perTarget(on).length).toBeLessThanOrEqual(perTarget(off).length);
    // The model opens loss faults before the loss threshold does, on every loss fault of the recording.
    const losses = meta.faults.filter((fault) => fault.kind === "loss");
    for (const fault of losses) {
      const first = (states: Anomaly[]) =>
        Math.min(
          ...opened(states)
            .filter((state) => faultOf(state) === fault)
            .map((state) => state.opened_at),
        );
      expect(first(on), `loss fault at ${fault.start - meta.started_at} ms`).toBeLessThan(first(off));
    }
    expect(opened(on).some((state) => state.metric === "model_p_degraded")).toBe(true);
  });

  test("model - a new version replaces the one in use, pairs keep their windows, and its version names the evidence", () => {
    const half = Math.floor(samples.length / 2);
    const { analyzer } = replay(samples.slice(0, half), { modelMode: "shadow" }, model);
    analyzer.setModel(trainedModel(8));
    const later: Anomaly[] = [];
    for (const sample of samples.slice(half)) later.push(...analyzer.ingest(sample, sample.ts), ...analyzer.tick(sample.ts));
    const evidence = opened(later)
      .flatMap((state) => state.evidence ?? [])
      .map((e) => e.metric);
    expect(evidence).toContain("model_v8_p_down");
    expect(evidence).not.toContain("model_v7_p_down");
  });
});

describe("analyzer with a site adapter", () => {
  // Site "lossy": a grid:2x2 lab whose every link drops 10 % of frames as its normal. Its members' adapter, as the
  // rounds build it (each member trains B on its own links, the mean B is kept), on the base model v7.
  const spec = { rank: 4, alpha: 8, seed: 7 };
  const members = ["n1", "n2", "n3", "n4"].map((node) => TrainingSet.read([SHIPPED_SITE_TRAINING], node).samples(window));
  let adapter = new Adapter(model.mlp, spec);
  for (let round = 0; round < 3; round++) {
    const trained = members.map((samples, i) => {
      const member = adapter.withB(adapter.b.slice());
      member.train(samples, { epochs: 3, learningRate: 0.05, batchSize: 32, random: seededRandom(round * 10 + i), classWeights: classWeightsOf(samples, 3) });
      return member.b;
    });
    adapter = averageAdapters(model.mlp, spec, trained);
  }
  const site = readRecording(SHIPPED_SITE_VALIDATION);
  const siteSamples = mergedTelemetry(site.telemetry);
  const sites = { n1: "lossy", n2: "lossy", n3: "lossy", n4: "lossy" };
  const inFault = (ts: number) => site.meta.faults.some((fault) => ts >= fault.start - 100 && ts <= fault.end + 2000);

  /** Model verdicts on pair samples, and the incidents the model's verdict opened outside every fault. */
  function run(adapters: ReturnType<typeof unsignedAdapter>[], nodeSites: Record<string, string> = sites) {
    const verdicts: Record<string, number> = {};
    const { states, analyzer } = replay(
      siteSamples,
      { modelMode: "on", sites: nodeSites, onModelVerdict: (m) => (verdicts[m] = (verdicts[m] ?? 0) + 1) },
      model,
      adapters,
    );
    const falseByModel = opened(states).filter((state) => state.metric?.startsWith("model_") && !inFault(state.opened_at));
    return { verdicts, falseByModel, states, analyzer };
  }

  test("adapter - a site's nodes run base + adapter: the model's false alarms on the lossy site stop, and evidence names it", () => {
    const base = run([]);
    const adapted = run([unsignedAdapter(model, adapter, { site: "lossy", version: 3 })]);
    expect(adapted.analyzer.appliedAdapters()).toEqual({ lossy: 3 });
    // The base calls the site's 10 % loss degraded nearly all the time and opens false incidents; the adapted model not.
    const healthyShare = (v: Record<string, number>) => (v.healthy ?? 0) / Object.values(v).reduce((a, b) => a + b, 0);
    expect(healthyShare(base.verdicts)).toBeLessThan(0.2);
    expect(healthyShare(adapted.verdicts)).toBeGreaterThan(0.7);
    expect(base.falseByModel.length).toBeGreaterThan(3);
    expect(adapted.falseByModel.length).toBeLessThan(base.falseByModel.length / 3);
    const evidence = opened(adapted.states)
      .flatMap((state) => state.evidence ?? [])
      .map((e) => e.metric);
    expect(evidence).toContain("model_v7_lossy_a3_p_down");
    expect(evidence).not.toContain("model_v7_p_down");
  });

  test("adapter - only the site's nodes get it, and an adapter of another base version is not applied", () => {
    const partial = run([unsignedAdapter(model, adapter, { site: "lossy", version: 3 })], { n1: "lossy" });
    const metrics = new Set(opened(partial.states).flatMap((state) => (state.evidence ?? []).map((e) => `${e.node}:${e.metric}`)));
    expect([...metrics].some((m) => m.startsWith("n1:model_v7_lossy_a3_"))).toBe(true);
    expect([...metrics].some((m) => m.startsWith("n2:model_v7_p_"))).toBe(true);
    expect([...metrics].some((m) => !m.startsWith("n1:") && m.includes("lossy_a3"))).toBe(false);
    const stale = unsignedAdapter({ ...model, record: { ...model.record, version: 6 } }, adapter, { site: "lossy", version: 4 });
    const { analyzer } = replay(siteSamples.slice(0, 100), { modelMode: "shadow", sites }, model, [stale]);
    expect(analyzer.appliedAdapters()).toEqual({ lossy: undefined });
    // When the base moves to the adapter's version, it applies.
    const problems = analyzer.setModel({ ...model, record: { ...model.record, version: 6 } });
    expect(problems).toEqual([]);
    expect(analyzer.appliedAdapters()).toEqual({ lossy: 4 });
  });
});
