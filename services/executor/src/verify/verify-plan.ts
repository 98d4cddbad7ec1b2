// The executor's admission check of a plan: a valid signature, from a key of an allowed signer, not replayed.
import type { Delivery, MessageVerifier, VerifyResult } from "@x0/shared";

const decoder = new TextDecoder();

/** Verifies the plan as received (raw JSON, so fields this version does not know stay covered) and its signer. */
export async function checkPlan(
  verifier: MessageVerifier,
  delivery: Pick<Delivery, "data" | "redelivered" | "sequence">,
  signers: readonly string[],
): Promise<VerifyResult | { ok: false; reason: "unauthorized_signer"; detail: string }> {
  // The bus already validated this payload as JSON against the Plan schema.
  const raw: unknown = JSON.parse(decoder.decode(delivery.data));
  const verdict = await verifier.verify("plan", raw, { redelivered: delivery.redelivered, origin: delivery.sequence });
  if (verdict.ok && !signers.includes(verdict.key.service)) {
    return {
      ok: false,
      reason: "unauthorized_signer",
      detail: `key ${verdict.key.keyId} belongs to ${verdict.key.service}, not to a plan signer (${signers.join(", ")})`,
    };
  }
  return verdict;
}
