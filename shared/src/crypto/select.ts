// Backend choice: liboqs when present (OQS_LIB or the system loader), else Bun's native implementation.
import type { Logger } from "../observability/logger.ts";
import type { PqBackend } from "./backend.ts";
import { BackendUnavailable } from "./errors.ts";
import { createLiboqsBackend } from "./liboqs.ts";
import { createNativeBackend } from "./native.ts";

/** Which backend to use: `auto` prefers liboqs and falls back to native. */
export type BackendPreference = "auto" | "liboqs" | "native";

/** Creates the preferred backend; `liboqs` fails when liboqs cannot be loaded, `auto` falls back with an info log. */
export function selectBackend({ preference = "auto", oqsLib, logger }: { preference?: BackendPreference; oqsLib?: string; logger?: Logger } = {}): PqBackend {
  if (preference === "native") return createNativeBackend();
  try {
    return createLiboqsBackend(oqsLib);
  } catch (error) {
    // An explicit OQS_LIB that does not load is a configuration error, not a reason to fall back silently.
    if (preference === "liboqs" || oqsLib)
      throw error instanceof BackendUnavailable ? error : new BackendUnavailable("liboqs failed to load", { cause: error });
    logger?.info("liboqs not found; using the native backend", { reason: (error as Error).message });
    return createNativeBackend();
  }
}
