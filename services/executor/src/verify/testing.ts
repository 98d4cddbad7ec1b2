// Test helpers of plan admission: one ML-DSA-65 key pair, any service's verifying key of it, and plans signed with it.
import { createNativeBackend, MessageVerifier, signMessage, type VerifyingKey } from "@x0/shared";

/** A key pair for signing test plans: the key of `<service>-1` is its public half, for any service. */
export function planSigning() {
  const backend = createNativeBackend();
  const pair = backend.sigKeypair();
  const now = Date.now();
  /** The verifying key `<service>-1`, valid from a second ago for a minute. */
  const key = (service: string): VerifyingKey => ({
    keyId: `${service}-1`,
    service,
    alg: "ML-DSA-65",
    mldsaPublic: pair.publicKey,
    notBefore: now - 1000,
    notAfter: now + 60_000,
  });
  return {
    key,
    /** A verifier that finds keys with `get`. */
    verifier: (get: (keyId: string) => VerifyingKey | undefined) => new MessageVerifier({ backend, keys: { get } }),
    /** `body` signed as a plan with the key of `service` (`<service>-1`). */
    sign: <T extends object>(body: T, service = "planner") =>
      signMessage(backend, "plan", body, { keyId: `${service}-1`, alg: "ML-DSA-65", mldsaSecret: pair.secretKey }),
  };
}

/** `body` as the JSON bytes a plan message carries. */
export function bytesOf(body: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(body));
}
