// The crypto service's endpoint logic: plain functions over the in-process library, one per endpoint.
import {
  type ControlPlaneCrypto,
  type CryptoEndpoint,
  type CryptoRequest,
  type CryptoResponse,
  createXWing,
  type Encapsulation,
  fromBase64,
  InvalidCryptoInput,
  type KeyPair,
  toBase64,
} from "@x0/shared";

/** One handler per endpoint. */
export type CryptoHandlers = { [E in CryptoEndpoint]: (request: CryptoRequest<E>) => Promise<CryptoResponse<E>> };

/** A key pair as the API returns it (base64). */
function keyPairReply(pair: KeyPair): { public_key: string; secret_key: string } {
  return { public_key: toBase64(pair.publicKey), secret_key: toBase64(pair.secretKey) };
}

/** An encapsulation as the API returns it (base64). */
function encapsulationReply({ ciphertext, sharedSecret }: Encapsulation): { ciphertext: string; shared_secret: string } {
  return { ciphertext: toBase64(ciphertext), shared_secret: toBase64(sharedSecret) };
}

/** Builds the handlers; `self` is the crypto service's own name (it rotates its own key directly). */
export function createHandlers(crypto: ControlPlaneCrypto, { self = "crypto", startedAt = Date.now() } = {}): CryptoHandlers {
  const { backend, keyring, identity } = crypto;
  const xwing = createXWing(backend);
  const bytes = (text: string, what: string) => fromBase64(text, what);
  return {
    "kem.keypair": async () => keyPairReply(await backend.kemKeypair()),
    "kem.encaps": async ({ public_key }) => encapsulationReply(await backend.kemEncaps(bytes(public_key, "public_key"))),
    "kem.decaps": async ({ secret_key, ciphertext }) => ({
      shared_secret: toBase64(await backend.kemDecaps(bytes(secret_key, "secret_key"), bytes(ciphertext, "ciphertext"))),
    }),
    "sig.keypair": async () => keyPairReply(backend.sigKeypair()),
    "sig.sign": async ({ secret_key, message }) => ({ signature: toBase64(backend.sigSign(bytes(secret_key, "secret_key"), bytes(message, "message"))) }),
    "sig.verify": async ({ public_key, message, signature }) => ({
      valid: backend.sigVerify(bytes(public_key, "public_key"), bytes(message, "message"), bytes(signature, "signature")),
    }),
    "hybrid.keypair": async () => keyPairReply(await xwing.keypair()),
    "hybrid.encaps": async ({ public_key }) => encapsulationReply(await xwing.encaps(bytes(public_key, "public_key"))),
    "hybrid.decaps": async ({ secret_key, ciphertext }) => ({
      shared_secret: toBase64(await xwing.decaps(bytes(secret_key, "secret_key"), bytes(ciphertext, "ciphertext"))),
    }),
    "keys.rotate": async ({ service, reason = "requested" }) => {
      const order = await keyring.orderRotation(service, reason);
      // The crypto service holds its own key: it rotates at once rather than waiting for its own watch.
      if (service === self) return { order, key_id: (await identity.rotate(`ordered: ${reason}`)).key_id };
      return { order };
    },
    "keys.revoke": async ({ key_id, reason }) => {
      if (!(await keyring.get(key_id))) throw new InvalidCryptoInput(`unknown key ${key_id}`);
      return keyring.revoke(key_id, reason);
    },
    "keys.list": async ({ service }) => ({
      keys: keyring
        .list()
        .filter(({ record }) => service === undefined || record.service === service)
        .map(({ record, revocation }) => ({ ...record, revoked_at: revocation?.revoked_at, revoked_reason: revocation?.reason })),
    }),
    health: async () => ({
      status: "ok",
      backend: backend.name,
      backend_version: backend.version,
      algorithms: [...backend.algorithms],
      hybrid: "X-Wing",
      signing_alg: identity.current().alg,
      key_id: identity.current().keyId,
      kek_source: crypto.kekSource,
      uptime_ms: Date.now() - startedAt,
    }),
  };
}
