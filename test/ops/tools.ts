// Where the ops tests find kubectl and promtool: .x0/bin (unpacked by scripts/bootstrap.sh) or PATH.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "@x0/shared/testing";

/** The path of an ops tool: `$<NAME>` if set, else .x0/bin/<name> when bootstrap unpacked it, else the name on PATH. */
export function toolPath(name: "kubectl" | "promtool"): string {
  const fromEnv = process.env[name.toUpperCase()];
  if (fromEnv) return fromEnv;
  const unpacked = join(REPO_ROOT, ".x0", "bin", name);
  return existsSync(unpacked) ? unpacked : name;
}

/** Runs a tool with fixed arguments (no shell) and returns its exit code and output. */
export async function run(argv: string[], cwd = REPO_ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn(argv, { cwd, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}
