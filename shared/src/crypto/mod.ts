// The in-process crypto library: backends, canonical encoding, signed messages, keyring, identities, envelopes.

export type { Encapsulation, KeyPair, PqBackend, SecretKeyForm } from "./backend.ts";
export { BackendName, kemSecretKeyForm, ML_DSA_65, ML_KEM_768, sigSecretKeyForm } from "./backend.ts";
export { fromBase64, fromHex, toBase64, toHex } from "./bytes.ts";
export { canonicalJson } from "./canonical.ts";
export type { ControlPlaneCrypto, CryptoConfig } from "./control-plane.ts";
export { cryptoConfigShape, openControlPlaneCrypto } from "./control-plane.ts";
export { ed25519Keypair, ed25519Sign, ed25519Verify } from "./ed25519.ts";
export { ENVELOPE_ALG, Envelope, openEnvelope, sealEnvelope } from "./envelope.ts";
export { BackendUnavailable, CryptoError, DecryptionFailed, InvalidCryptoInput, KeyStoreError } from "./errors.ts";
export type { HedgedSignerOptions } from "./hedged.ts";
export { HedgedSigner, HedgedSigningFailed, withHedgedSigning } from "./hedged.ts";
export type { IdentityOptions } from "./identity.ts";
export { SigningIdentity } from "./identity.ts";
export type { KekSource } from "./kek.ts";
export { loadKek, parseKek, seal, unseal } from "./kek.ts";
export type { KeyringEvent } from "./keyring.ts";
export { Keyring, verifyingKeyOf } from "./keyring.ts";
export { createLiboqsBackend, LIBOQS_OPTIONAL_SYMBOLS, LIBOQS_SYMBOLS } from "./liboqs.ts";
export { createNativeBackend, nativeAvailable } from "./native.ts";
export { createNobleBackend } from "./noble.ts";
export type { BackendPreference } from "./select.ts";
export { selectBackend } from "./select.ts";
export type { KeyLookup, SignedDomain, SigningKey, VerifierOptions, VerifyingKey, VerifyResult } from "./signing.ts";
export { MessageVerifier, newNonce, Rejection, signedBytes, signMessage } from "./signing.ts";
export type { XWing } from "./xwing.ts";
export { createXWing, XWING } from "./xwing.ts";
