import { X0Error } from "../errors.ts";

/** A cryptographic operation failed for a reason other than bad input. */
export class CryptoError extends X0Error {}

/** A key, ciphertext, signature or parameter has the wrong length or form; safe to report to the caller. */
export class InvalidCryptoInput extends CryptoError {}

/** The requested backend (e.g. liboqs) cannot be loaded or lacks an algorithm or operation. */
export class BackendUnavailable extends CryptoError {}

/** Sealed data failed authentication: tampered, wrong key or wrong context. */
export class DecryptionFailed extends CryptoError {}

/** The key-encryption key or a stored key cannot be read or decrypted. */
export class KeyStoreError extends CryptoError {}
