import { join, resolve } from "node:path";

/** The repository root (this file is cli/src/paths.ts). */
export const REPO_ROOT = join(import.meta.dir, "..", "..");

/** The environment variable that moves the state folder (stack.json, the NATS store) away from `<repo>/.x0`. */
export const STATE_DIR_VARIABLE = "X0_STATE_DIR";

/** The state folder: `X0_STATE_DIR` when set and not empty, else `<repo>/.x0`. */
export function stateDirOf(env: Record<string, string | undefined>): string {
  const fromEnv = env[STATE_DIR_VARIABLE];
  return fromEnv !== undefined && fromEnv !== "" ? resolve(fromEnv) : join(REPO_ROOT, ".x0");
}

/** The stack file inside a state folder. */
export function stackFileOf(stateDir: string): string {
  return join(stateDir, "stack.json");
}
