// The bench's swarm identities: an ML-DSA-65 key per swarm service, the lookup the verifiers use, and signers; what the
// keyring gives the services, held in memory for one bench run.
import { createNativeBackend, type SignedDomain, type SigningKey, signMessage, type VerifyingKey } from "@x0/shared";

/** A fresh set of in-memory keys: `identity(service)` makes one, `lookup` finds it, `signer(key)` signs with it. */
export function benchKeys() {
  const backend = createNativeBackend();
  const keys = new Map<string, VerifyingKey>();
  const identity = (service: string): SigningKey => {
    const pair = backend.sigKeypair();
    const keyId = `${service}-${keys.size}`;
    keys.set(keyId, { keyId, service, alg: "ML-DSA-65", mldsaPublic: pair.publicKey, notBefore: 0, notAfter: Date.now() + 3_600_000 });
    return { keyId, alg: "ML-DSA-65", mldsaSecret: pair.secretKey };
  };
  const lookup = { get: (id: string) => keys.get(id) };
  const signer =
    (key: SigningKey) =>
    <T extends object>(domain: SignedDomain, message: T) =>
      signMessage(backend, domain, message, key);
  return { backend, identity, lookup, signer };
}
