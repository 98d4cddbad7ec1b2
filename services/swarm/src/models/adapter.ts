// A site adapter as an artefact: built from B and a validation score, accepted only when its signature verifies with
// the key of the site coordinator it names, and applied only to the base version it was trained on.
import { AdapterVersion, decodeFloat32, encodeFloat32, type MessageVerifier, swarmServiceOf } from "@x0/shared";
import { Adapter, adapterParameterCount } from "../model/lora.ts";
import { type LoadedModel, ModelArtefactError } from "./artefact.ts";

/** A verified adapter version. */
export interface LoadedAdapter {
  record: AdapterVersion;
  b: Float32Array;
}

/** The unsigned record of an adapter version. */
export function adapterRecord(fields: Omit<AdapterVersion, "v" | "params" | "signature"> & { b: Float32Array }): Omit<AdapterVersion, "signature"> {
  const { b, ...rest } = fields;
  return { v: 1, ...rest, params: encodeFloat32(b) };
}

/** The adapter of a record (its signature not checked here). */
export function adapterOf(record: AdapterVersion): LoadedAdapter {
  const b = decodeFloat32(record.params);
  const name = `${record.model} site ${record.site} adapter v${record.version}`;
  if (!b) throw new ModelArtefactError(`${name}: params are not float32 values`);
  if (b.some((value) => !Number.isFinite(value))) throw new ModelArtefactError(`${name}: a parameter is not finite`);
  return { record, b };
}

/**
 * Parses and verifies a stored adapter version: schema, ML-DSA signature (domain swarm-adapter) by the swarm identity of
 * the coordinator it names. Throws {@link ModelArtefactError} saying which check failed.
 */
export async function verifyAdapter(verifier: MessageVerifier, raw: unknown): Promise<LoadedAdapter> {
  const parsed = AdapterVersion.safeParse(raw);
  if (!parsed.success) throw new ModelArtefactError(`not an adapter version: ${parsed.error.issues.map((issue) => issue.path.join(".")).join(", ")}`);
  const record = parsed.data;
  const verdict = await verifier.verify("swarm-adapter", raw, { remember: false });
  const name = `${record.model} site ${record.site} adapter v${record.version}`;
  if (!verdict.ok) throw new ModelArtefactError(`${name}: ${verdict.reason}: ${verdict.detail}`);
  const expected = swarmServiceOf(record.coordinator);
  if (verdict.key.service !== expected)
    throw new ModelArtefactError(`${name}: signed by ${verdict.key.service}, not by its coordinator's identity ${expected}`);
  return adapterOf(record);
}

/**
 * The model a site's nodes run: `base` with the adapter applied. The adapter must have been trained on this base version
 * and fit its layers ({@link ModelArtefactError} otherwise).
 */
export function adaptedModel(base: LoadedModel, adapter: LoadedAdapter): LoadedModel {
  const { record } = adapter;
  const name = `${record.model} site ${record.site} adapter v${record.version}`;
  if (record.base_version !== base.record.version) {
    throw new ModelArtefactError(`${name} adapts v${record.base_version}, not the loaded v${base.record.version}`);
  }
  const count = adapterParameterCount(base.mlp, record.adapter.rank);
  if (adapter.b.length !== count) throw new ModelArtefactError(`${name}: ${adapter.b.length} parameters for rank ${record.adapter.rank} (${count})`);
  const mlp = new Adapter(base.mlp, record.adapter, adapter.b).apply();
  return { ...base, mlp, adapter: { site: record.site, version: record.version } };
}

/** An adapter trained outside the rounds (tests, the benchmark) as the analyzer would load it; unsigned, never stored. */
export function unsignedAdapter(base: LoadedModel, adapter: Adapter, { site, version }: { site: string; version: number }): LoadedAdapter {
  const record = adapterRecord({
    model: base.record.model,
    site,
    version,
    parent: null,
    base_version: base.record.version,
    round_id: "00000000-0000-4000-8000-000000000000",
    adapter: adapter.spec,
    b: adapter.b,
    aggregator: "fedavg",
    participants: [],
    used: [],
    refused: 0,
    validation: base.record.validation,
    base_macro_f1: base.record.validation.macro_f1,
    current_macro_f1: base.record.validation.macro_f1,
    status: "adopted",
    coordinator: "unsigned",
    created_at: Date.now(),
  });
  return adapterOf({ ...record, signature: { key_id: "unsigned", alg: "ML-DSA-65", nonce: "A".repeat(22), signed_at: 0, value: "" } });
}
