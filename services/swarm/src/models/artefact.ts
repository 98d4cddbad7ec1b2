// A model version as an artefact: built from parameters and a validation score, turned back into a runnable model, and
// accepted only when its signature verifies with the key of the coordinator it names.
import {
  decodeFloat32,
  encodeFloat32,
  type KeyLookup,
  LINK_HEALTH_MODEL,
  MessageVerifier,
  ModelVersion,
  type PqBackend,
  swarmServiceOf,
  X0Error,
} from "@x0/shared";
import { LINK_CLASSES } from "../features/labels.ts";
import type { WindowOptions } from "../features/link-features.ts";
import { LINK_FEATURES } from "../features/link-features.ts";
import { type Evaluation, evaluate } from "../model/evaluate.ts";
import { Mlp, type MlpShape, parameterCount, type Sample } from "../model/mlp.ts";

/** A model version that cannot be used: unsigned, forged, or not fitting its own shape. */
export class ModelArtefactError extends X0Error {}

/** Stored versions are read again and again for as long as their key is valid and not revoked: no freshness window. */
const ARTEFACT_MAX_AGE_MS = 100 * 365 * 86_400_000;

/** The verifier of stored model versions (with {@link verifyModel}, which remembers no nonce). */
export function artefactVerifier(backend: PqBackend, keys: KeyLookup, maxSkewMs?: number): MessageVerifier {
  return new MessageVerifier({ backend, keys, maxAgeMs: ARTEFACT_MAX_AGE_MS, ...(maxSkewMs !== undefined ? { maxSkewMs } : {}) });
}

/** A verified model version, ready to score. */
export interface LoadedModel {
  record: ModelVersion;
  mlp: Mlp;
  window: WindowOptions;
  /** Set when a site's adapter was applied to the base (models/adapter.ts). */
  adapter?: { site: string; version: number };
}

/** The validation part of a record from an evaluation. */
export function validationOf(evaluation: Evaluation, classes: readonly string[]): ModelVersion["validation"] {
  const round = (value: number) => Math.round(value * 1e6) / 1e6;
  return {
    samples: evaluation.samples,
    macro_f1: round(evaluation.macroF1),
    accuracy: round(evaluation.accuracy),
    f1: Object.fromEntries(evaluation.classes.map((score, i) => [classes[i] ?? `class${i}`, round(score.f1)])),
  };
}

/** The unsigned record of a model version. */
export function modelRecord(
  fields: Omit<ModelVersion, "v" | "shape" | "params" | "window" | "signature"> & { mlp: Mlp; window: WindowOptions },
): Omit<ModelVersion, "signature"> {
  const { mlp, window, ...rest } = fields;
  return {
    v: 1,
    ...rest,
    shape: { inputs: mlp.shape.inputs, hidden: [...mlp.shape.hidden], outputs: mlp.shape.outputs },
    window: { window: window.window, baseline_alpha: window.baselineAlpha, hello_interval_ms: window.helloIntervalMs },
    params: encodeFloat32(mlp.params),
  };
}

/** The runnable model of a record (its signature not checked here). */
export function modelOf(record: ModelVersion): LoadedModel {
  const shape: MlpShape = { inputs: record.shape.inputs, hidden: [...record.shape.hidden], outputs: record.shape.outputs };
  const params = decodeFloat32(record.params);
  if (!params || params.length !== parameterCount(shape)) {
    throw new ModelArtefactError(`${record.model} v${record.version}: ${params?.length ?? "unreadable"} parameters for a shape of ${parameterCount(shape)}`);
  }
  if (params.some((value) => !Number.isFinite(value))) throw new ModelArtefactError(`${record.model} v${record.version}: a parameter is not finite`);
  if (record.classes.length !== shape.outputs)
    throw new ModelArtefactError(`${record.model} v${record.version}: ${record.classes.length} classes for ${shape.outputs} outputs`);
  return {
    record,
    mlp: new Mlp(shape, params),
    window: { window: record.window.window, baselineAlpha: record.window.baseline_alpha, helloIntervalMs: record.window.hello_interval_ms },
  };
}

/**
 * Parses and verifies a stored model version: schema, ML-DSA signature (domain swarm-model) by the swarm identity of the
 * coordinator it names, and a shape its parameters fit. Throws {@link ModelArtefactError} saying which check failed.
 */
export async function verifyModel(verifier: MessageVerifier, raw: unknown): Promise<LoadedModel> {
  const parsed = ModelVersion.safeParse(raw);
  if (!parsed.success) throw new ModelArtefactError(`not a model version: ${parsed.error.issues.map((issue) => issue.path.join(".")).join(", ")}`);
  // A stored artefact is read again and again: no nonce is remembered (verifiers of artefacts keep no freshness window).
  const verdict = await verifier.verify("swarm-model", raw, { remember: false });
  const record = parsed.data;
  if (!verdict.ok) throw new ModelArtefactError(`${record.model} v${record.version}: ${verdict.reason}: ${verdict.detail}`);
  const expected = swarmServiceOf(record.coordinator);
  if (verdict.key.service !== expected) {
    throw new ModelArtefactError(`${record.model} v${record.version}: signed by ${verdict.key.service}, not by its coordinator's identity ${expected}`);
  }
  return modelOf(record);
}

/**
 * A link-health model trained outside the rounds (tests, the benchmark) as the analyzer would load it. It is unsigned:
 * it never goes to x0_models, where only signed versions are loaded.
 */
export function unsignedModel(
  mlp: Mlp,
  { version, window, scoredOn = [] }: { version: number; window: WindowOptions; scoredOn?: readonly Sample[] },
): LoadedModel {
  const record = modelRecord({
    model: LINK_HEALTH_MODEL,
    version,
    parent: null,
    round_id: null,
    mlp,
    classes: [...LINK_CLASSES],
    features: [...LINK_FEATURES],
    window,
    aggregator: null,
    participants: [],
    used: [],
    refused: 0,
    validation: validationOf(evaluate(mlp, scoredOn), LINK_CLASSES),
    current_macro_f1: null,
    status: "adopted",
    coordinator: "unsigned",
    created_at: Date.now(),
  });
  return modelOf({ ...record, signature: { key_id: "unsigned", alg: "ML-DSA-65", nonce: "A".repeat(22), signed_at: 0, value: "" } });
}
