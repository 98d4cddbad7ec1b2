// Where the lab finds its files: the repository (lab processes run from it) and the scripts it runs in namespaces.
import { join } from "node:path";

/** The repository root (this file is lab/src/paths.ts): lab processes run from it. */
export const REPO_ROOT = join(import.meta.dir, "..", "..");

/** The scripts the lab runs inside namespaces (`bun <dir>/udp-send.ts …`); each prints its usage when run without arguments. */
export const LAB_SCRIPTS_DIR = join(import.meta.dir, "scripts");
