// PKCS#11 (Cryptoki 2.40) through bun:ffi: the few calls a KEK held in a token needs, taken from the module's
// C_GetFunctionList table. Why bun:ffi and not pkcs11js: services/crypto/README.md, "KEK in an HSM".
import { CFunction, dlopen, FFIType, type Pointer, ptr, read } from "bun:ffi";
import { CryptoError } from "./errors.ts";

/** A PKCS#11 call failed; `rv` is its CK_RV and `code` the name (CKR_PIN_INCORRECT, …). */
export class Pkcs11Error extends CryptoError {
  constructor(
    message: string,
    readonly rv: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** The CKR_ name of the return value, or its hex. */
  get code(): string {
    return CKR_NAMES[this.rv] ?? `0x${this.rv.toString(16)}`;
  }
}

const CKR_NAMES: Record<number, string> = {
  0: "CKR_OK",
  5: "CKR_GENERAL_ERROR",
  48: "CKR_DEVICE_ERROR",
  49: "CKR_DEVICE_MEMORY",
  50: "CKR_DEVICE_REMOVED",
  64: "CKR_ENCRYPTED_DATA_INVALID",
  96: "CKR_KEY_HANDLE_INVALID",
  112: "CKR_MECHANISM_INVALID",
  113: "CKR_MECHANISM_PARAM_INVALID",
  130: "CKR_OBJECT_HANDLE_INVALID",
  160: "CKR_PIN_INCORRECT",
  164: "CKR_PIN_LOCKED",
  179: "CKR_SESSION_HANDLE_INVALID",
  176: "CKR_SESSION_CLOSED",
  224: "CKR_TOKEN_NOT_PRESENT",
  225: "CKR_TOKEN_NOT_RECOGNIZED",
  256: "CKR_USER_ALREADY_LOGGED_IN",
  257: "CKR_USER_NOT_LOGGED_IN",
  400: "CKR_CRYPTOKI_NOT_INITIALIZED",
  401: "CKR_CRYPTOKI_ALREADY_INITIALIZED",
};
const CKR_USER_ALREADY_LOGGED_IN = 0x100;
const CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191;

/** The attribute, object, key and mechanism numbers used here (PKCS#11 2.40). */
const CKA = {
  CLASS: 0x0,
  TOKEN: 0x1,
  PRIVATE: 0x2,
  LABEL: 0x3,
  KEY_TYPE: 0x100,
  SENSITIVE: 0x103,
  ENCRYPT: 0x104,
  DECRYPT: 0x105,
  VALUE_LEN: 0x161,
  EXTRACTABLE: 0x162,
};
const CKO_SECRET_KEY = 4;
const CKK_AES = 0x1f;
const CKM_AES_KEY_GEN = 0x1080;
const CKM_AES_GCM = 0x1087;
const CKF_RW_SESSION = 0x2;
const CKF_SERIAL_SESSION = 0x4;
const CKF_OS_LOCKING_OK = 0x2;
const CKU_USER = 1;

// The CK_FUNCTION_LIST order of PKCS#11 2.40 (after its 2-byte version, padded to a pointer).
const FUNCTIONS = [
  "C_Initialize",
  "C_Finalize",
  "C_GetInfo",
  "C_GetFunctionList",
  "C_GetSlotList",
  "C_GetSlotInfo",
  "C_GetTokenInfo",
  "C_GetMechanismList",
  "C_GetMechanismInfo",
  "C_InitToken",
  "C_InitPIN",
  "C_SetPIN",
  "C_OpenSession",
  "C_CloseSession",
  "C_CloseAllSessions",
  "C_GetSessionInfo",
  "C_GetOperationState",
  "C_SetOperationState",
  "C_Login",
  "C_Logout",
  "C_CreateObject",
  "C_CopyObject",
  "C_DestroyObject",
  "C_GetObjectSize",
  "C_GetAttributeValue",
  "C_SetAttributeValue",
  "C_FindObjectsInit",
  "C_FindObjects",
  "C_FindObjectsFinal",
  "C_EncryptInit",
  "C_Encrypt",
  "C_EncryptUpdate",
  "C_EncryptFinal",
  "C_DecryptInit",
  "C_Decrypt",
  "C_DecryptUpdate",
  "C_DecryptFinal",
  "C_DigestInit",
  "C_Digest",
  "C_DigestUpdate",
  "C_DigestKey",
  "C_DigestFinal",
  "C_SignInit",
  "C_Sign",
  "C_SignUpdate",
  "C_SignFinal",
  "C_SignRecoverInit",
  "C_SignRecover",
  "C_VerifyInit",
  "C_Verify",
  "C_VerifyUpdate",
  "C_VerifyFinal",
  "C_VerifyRecoverInit",
  "C_VerifyRecover",
  "C_DigestEncryptUpdate",
  "C_DecryptDigestUpdate",
  "C_SignEncryptUpdate",
  "C_DecryptVerifyUpdate",
  "C_GenerateKey",
] as const;

const { ptr: P, u64, u64_fast: RV } = FFIType;
/** The signatures of the functions bound (CK_ULONG and handles are 64-bit on the platforms we run on). */
const SIGNATURES = {
  C_Initialize: [P],
  C_Finalize: [P],
  C_GetSlotList: [FFIType.u8, P, P],
  C_GetTokenInfo: [u64, P],
  C_OpenSession: [u64, u64, P, P, P],
  C_CloseSession: [u64],
  C_GetSessionInfo: [u64, P],
  C_Login: [u64, u64, P, u64],
  C_GetAttributeValue: [u64, u64, P, u64],
  C_FindObjectsInit: [u64, P, u64],
  C_FindObjects: [u64, P, u64, P],
  C_FindObjectsFinal: [u64],
  C_EncryptInit: [u64, P, u64],
  C_Encrypt: [u64, P, u64, P, P],
  C_DecryptInit: [u64, P, u64],
  C_Decrypt: [u64, P, u64, P, P],
  C_GenerateKey: [u64, P, P, u64, P],
} as const;
type Bound = keyof typeof SIGNATURES;

const ULONG = 8;
const ATTRIBUTE_SIZE = 3 * ULONG;
/** Where a byte buffer lives, for a struct field (0 for none). */
const address = (bytes: Uint8Array | undefined) => (bytes && bytes.length > 0 ? BigInt(ptr(bytes)) : 0n);

/** A template of attributes: the CK_ATTRIBUTE array and the values it points at, kept alive together. */
class Template {
  readonly array: Uint8Array;
  readonly values: Uint8Array[];
  constructor(attributes: [type: number, value: Uint8Array][]) {
    this.values = attributes.map(([, value]) => value);
    this.array = new Uint8Array(Math.max(1, attributes.length) * ATTRIBUTE_SIZE);
    const view = new DataView(this.array.buffer);
    attributes.forEach(([type, value], index) => {
      view.setBigUint64(index * ATTRIBUTE_SIZE, BigInt(type), true);
      view.setBigUint64(index * ATTRIBUTE_SIZE + ULONG, address(value), true);
      view.setBigUint64(index * ATTRIBUTE_SIZE + 2 * ULONG, BigInt(value.length), true);
    });
  }
  get count(): number {
    return this.values.length;
  }
}

const bool = (value: boolean) => new Uint8Array([value ? 1 : 0]);
const ulong = (value: number) => {
  const bytes = new Uint8Array(ULONG);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value), true);
  return bytes;
};
const text = (value: string) => new TextEncoder().encode(value);

/** A loaded PKCS#11 module (C_Initialize done). */
export class Pkcs11Module {
  readonly #fn: Record<Bound, (...args: unknown[]) => number>;
  readonly #close: () => void;

  private constructor(
    readonly path: string,
    fn: Record<Bound, (...args: unknown[]) => number>,
    close: () => void,
  ) {
    this.#fn = fn;
    this.#close = close;
  }

  /** Loads the module at `path` and initialises it (OS locking: the services call it from one thread, tests from several processes). */
  static load(path: string): Pkcs11Module {
    let library: ReturnType<typeof dlopen<{ C_GetFunctionList: { args: [typeof P]; returns: typeof RV } }>>;
    try {
      library = dlopen(path, { C_GetFunctionList: { args: [P], returns: RV } });
    } catch (error) {
      throw new Pkcs11Error(`cannot load the PKCS#11 module ${path}`, -1, { cause: error });
    }
    const listPointer = new BigUint64Array(1);
    const rv = Number(library.symbols.C_GetFunctionList(ptr(listPointer)));
    if (rv !== 0) throw new Pkcs11Error(`C_GetFunctionList of ${path} failed`, rv);
    const list = Number(listPointer[0]) as Pointer;
    const fn = {} as Record<Bound, (...args: unknown[]) => number>;
    for (const [name, args] of Object.entries(SIGNATURES) as [Bound, readonly FFIType[]][]) {
      const index = FUNCTIONS.indexOf(name as (typeof FUNCTIONS)[number]);
      const pointer = read.ptr(list, ULONG + index * ULONG) as Pointer;
      fn[name] = CFunction({ ptr: pointer, args: [...args], returns: RV }) as unknown as (...args: unknown[]) => number;
    }
    const module = new Pkcs11Module(path, fn, () => library.close());
    // CK_C_INITIALIZE_ARGS: four mutex callbacks (null: the OS's), flags, reserved.
    const initArgs = new Uint8Array(6 * ULONG);
    new DataView(initArgs.buffer).setBigUint64(4 * ULONG, BigInt(CKF_OS_LOCKING_OK), true);
    const initialized = fn.C_Initialize(ptr(initArgs));
    if (initialized !== 0 && initialized !== CKR_CRYPTOKI_ALREADY_INITIALIZED) throw new Pkcs11Error(`C_Initialize of ${path} failed`, initialized);
    return module;
  }

  /** Calls `name`, throwing Pkcs11Error (naming `what`) unless it returns CKR_OK or one of `accept`. */
  call(name: Bound, what: string, args: unknown[], accept: number[] = []): number {
    const rv = this.#fn[name](...args);
    if (rv !== 0 && !accept.includes(rv)) throw new Pkcs11Error(`${what}: ${name} returned ${CKR_NAMES[rv] ?? `0x${rv.toString(16)}`}`, rv);
    return rv;
  }

  /** The slot whose token is labelled `label`; Pkcs11Error CKR_TOKEN_NOT_PRESENT when none is. */
  slotOf(label: string): bigint {
    const count = new BigUint64Array(1);
    this.call("C_GetSlotList", "listing slots", [1, null, ptr(count)]);
    const slots = new BigUint64Array(Math.max(1, Number(count[0])));
    if (count[0] !== 0n) this.call("C_GetSlotList", "listing slots", [1, ptr(slots), ptr(count)]);
    const seen: string[] = [];
    for (const slot of slots.subarray(0, Number(count[0]))) {
      const info = new Uint8Array(256);
      this.call("C_GetTokenInfo", `reading the token in slot ${slot}`, [slot, ptr(info)]);
      const tokenLabel = new TextDecoder().decode(info.subarray(0, 32)).trimEnd();
      if (tokenLabel === label) return slot;
      seen.push(tokenLabel);
    }
    throw new Pkcs11Error(`no token labelled "${label}" in ${this.path} (tokens: ${seen.map((s) => `"${s}"`).join(", ") || "none"})`, 0xe0);
  }

  /** A logged-in read-write session on the token labelled `label`. */
  open(label: string, pin: string): Pkcs11Session {
    const slot = this.slotOf(label);
    const handle = new BigUint64Array(1);
    this.call("C_OpenSession", `opening a session on token "${label}"`, [slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, null, null, ptr(handle)]);
    const session = new Pkcs11Session(this, handle[0] as bigint, label);
    const pinBytes = text(pin);
    try {
      this.call("C_Login", `logging in to token "${label}"`, [session.handle, CKU_USER, ptr(pinBytes), pinBytes.length], [CKR_USER_ALREADY_LOGGED_IN]);
    } catch (error) {
      session.close();
      throw error;
    }
    return session;
  }

  /** C_Finalize and unload. */
  close(): void {
    try {
      this.#fn.C_Finalize(null);
    } finally {
      this.#close();
    }
  }
}

/** What a key's attributes say about it. */
export interface SecretKeyInfo {
  keyType: number;
  valueLength: number;
  sensitive: boolean;
  extractable: boolean;
}

/** A logged-in session. */
export class Pkcs11Session {
  constructor(
    readonly module: Pkcs11Module,
    readonly handle: bigint,
    readonly token: string,
  ) {}

  /** The handle of the secret key labelled `label`, or undefined. */
  findSecretKey(label: string): bigint | undefined {
    const template = new Template([
      [CKA.CLASS, ulong(CKO_SECRET_KEY)],
      [CKA.LABEL, text(label)],
    ]);
    this.module.call("C_FindObjectsInit", `finding key "${label}"`, [this.handle, ptr(template.array), template.count]);
    const found = new BigUint64Array(2);
    const count = new BigUint64Array(1);
    try {
      this.module.call("C_FindObjects", `finding key "${label}"`, [this.handle, ptr(found), 2, ptr(count)]);
    } finally {
      this.module.call("C_FindObjectsFinal", `finding key "${label}"`, [this.handle]);
    }
    if (count[0] === 0n) return undefined;
    if ((count[0] ?? 0n) > 1n) throw new Pkcs11Error(`more than one key labelled "${label}" on token "${this.token}"`, 0);
    return found[0] as bigint;
  }

  /** The key's type, length, and whether it is sensitive and extractable. */
  describe(key: bigint): SecretKeyInfo {
    const values = { keyType: new Uint8Array(ULONG), valueLength: new Uint8Array(ULONG), sensitive: new Uint8Array(1), extractable: new Uint8Array(1) };
    const template = new Template([
      [CKA.KEY_TYPE, values.keyType],
      [CKA.VALUE_LEN, values.valueLength],
      [CKA.SENSITIVE, values.sensitive],
      [CKA.EXTRACTABLE, values.extractable],
    ]);
    this.module.call("C_GetAttributeValue", "reading the key's attributes", [this.handle, key, ptr(template.array), template.count]);
    const long = (bytes: Uint8Array) => Number(new DataView(bytes.buffer).getBigUint64(0, true));
    return {
      keyType: long(values.keyType),
      valueLength: long(values.valueLength),
      sensitive: values.sensitive[0] === 1,
      extractable: values.extractable[0] === 1,
    };
  }

  /** Generates an AES-256 key labelled `label` inside the token: stored on it, private, sensitive, never extractable. */
  generateAesKey(label: string, { extractable = false }: { extractable?: boolean } = {}): bigint {
    const mechanism = mechanismOf(CKM_AES_KEY_GEN);
    const template = new Template([
      [CKA.CLASS, ulong(CKO_SECRET_KEY)],
      [CKA.KEY_TYPE, ulong(CKK_AES)],
      [CKA.VALUE_LEN, ulong(32)],
      [CKA.TOKEN, bool(true)],
      [CKA.PRIVATE, bool(true)],
      [CKA.SENSITIVE, bool(true)],
      [CKA.EXTRACTABLE, bool(extractable)],
      [CKA.ENCRYPT, bool(true)],
      [CKA.DECRYPT, bool(true)],
      [CKA.LABEL, text(label)],
    ]);
    const key = new BigUint64Array(1);
    this.module.call("C_GenerateKey", `generating key "${label}"`, [this.handle, ptr(mechanism.struct), ptr(template.array), template.count, ptr(key)]);
    return key[0] as bigint;
  }

  /** AES-GCM encryption in the token: ciphertext ‖ 16-byte tag. */
  encryptGcm(key: bigint, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const mechanism = gcmMechanism(iv, aad);
    this.module.call("C_EncryptInit", "sealing in the token", [this.handle, ptr(mechanism.struct), key]);
    const output = new Uint8Array(plaintext.length + 16);
    const length = new BigUint64Array([BigInt(output.length)]);
    const input = plaintext.length > 0 ? plaintext : new Uint8Array(1);
    this.module.call("C_Encrypt", "sealing in the token", [this.handle, ptr(input), plaintext.length, ptr(output), ptr(length)]);
    void mechanism.keep;
    return output.subarray(0, Number(length[0]));
  }

  /** AES-GCM decryption in the token of ciphertext ‖ tag; Pkcs11Error on a wrong key, AAD or any change. */
  decryptGcm(key: bigint, iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array {
    const mechanism = gcmMechanism(iv, aad);
    this.module.call("C_DecryptInit", "opening in the token", [this.handle, ptr(mechanism.struct), key]);
    const output = new Uint8Array(Math.max(1, sealed.length));
    const length = new BigUint64Array([BigInt(output.length)]);
    this.module.call("C_Decrypt", "opening in the token", [this.handle, ptr(sealed), sealed.length, ptr(output), ptr(length)]);
    void mechanism.keep;
    return output.subarray(0, Number(length[0]));
  }

  /** Whether the session still answers (the token is there and the login holds). */
  alive(): boolean {
    try {
      this.module.call("C_GetSessionInfo", "checking the session", [this.handle, ptr(new Uint8Array(4 * ULONG))]);
      return true;
    } catch {
      return false;
    }
  }

  /** C_CloseSession (errors ignored: the session may be gone with its token). */
  close(): void {
    try {
      this.module.call("C_CloseSession", "closing the session", [this.handle]);
    } catch {
      // Already closed or the token went away: nothing is left to release.
    }
  }
}

/** A CK_MECHANISM with no parameter. */
function mechanismOf(type: number): { struct: Uint8Array; keep: unknown[] } {
  const struct = new Uint8Array(3 * ULONG);
  new DataView(struct.buffer).setBigUint64(0, BigInt(type), true);
  return { struct, keep: [] };
}

/** A CK_MECHANISM for CKM_AES_GCM with its CK_GCM_PARAMS (IV, AAD, 128-bit tag); `keep` holds what it points at. */
function gcmMechanism(iv: Uint8Array, aad: Uint8Array): { struct: Uint8Array; keep: unknown[] } {
  const params = new Uint8Array(6 * ULONG);
  const view = new DataView(params.buffer);
  view.setBigUint64(0, address(iv), true);
  view.setBigUint64(ULONG, BigInt(iv.length), true);
  view.setBigUint64(2 * ULONG, BigInt(iv.length * 8), true);
  view.setBigUint64(3 * ULONG, address(aad), true);
  view.setBigUint64(4 * ULONG, BigInt(aad.length), true);
  view.setBigUint64(5 * ULONG, 128n, true);
  const struct = new Uint8Array(3 * ULONG);
  const mechanism = new DataView(struct.buffer);
  mechanism.setBigUint64(0, BigInt(CKM_AES_GCM), true);
  mechanism.setBigUint64(ULONG, BigInt(ptr(params)), true);
  mechanism.setBigUint64(2 * ULONG, BigInt(params.length), true);
  return { struct, keep: [params, iv, aad] };
}

/** CKK_AES, for checking a found key. */
export const AES_KEY_TYPE = CKK_AES;
