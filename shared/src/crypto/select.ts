// Backend choice. auto: liboqs through FFI when a shared library loads (the production choice), else Bun's native
// implementation, else liboqs's WebAssembly build (services/crypto/README.md, "Backends").
import type { Logger } from "../observability/logger.ts";
import type { PqBackend } from "./backend.ts";
import { BackendUnavailable } from "./errors.ts";
import { createLiboqsBackend } from "./liboqs.ts";
import { createLiboqsWasmBackend } from "./liboqs-wasm.ts";
import { createNativeBackend } from "./native.ts";

/** Which backend to use: `auto` tries liboqs (FFI), then native, then liboqs-wasm; the others only themselves. */
export type BackendPreference = "auto" | "liboqs" | "native" | "liboqs-wasm";

/** Creates the preferred backend; a named one fails when it cannot load, `auto` falls back with an info log. */
export async function selectBackend({
  preference = "auto",
  oqsLib,
  logger,
}: {
  preference?: BackendPreference;
  oqsLib?: string;
  logger?: Logger;
} = {}): Promise<PqBackend> {
  if (preference === "native") return createNativeBackend();
  if (preference === "liboqs-wasm") return createLiboqsWasmBackend();
  try {
    return createLiboqsBackend(oqsLib);
  } catch (error) {
    // An explicit OQS_LIB that does not load is a configuration error, not a reason to fall back silently.
    if (preference === "liboqs" || oqsLib)
      throw error instanceof BackendUnavailable ? error : new BackendUnavailable("liboqs failed to load", { cause: error });
    logger?.info("liboqs not found; trying the native backend", { reason: (error as Error).message });
  }
  try {
    return createNativeBackend();
  } catch (error) {
    logger?.info("no native ML-KEM/ML-DSA in this Bun; using liboqs's WebAssembly build", { reason: (error as Error).message });
    return createLiboqsWasmBackend();
  }
}
