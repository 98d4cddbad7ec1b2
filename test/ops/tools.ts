// Where the ops tests find kubectl and promtool (.x0/bin, unpacked by scripts/bootstrap.sh, or PATH), and a check of
// nats-server configurations with the local nats-server.
import { existsSync, writeFileSync } from "node:fs";
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

/**
 * Checks a nats-server configuration with this machine's nats-server (`-t`): its file paths under `from` are moved to
 * `dir` (where the test put certificates), its store into `dir`, with `env` for the variables it names. The servers here
 * run nats-server 2.9, which does not know tls `min_version` (2.10, what the images run): those lines are left out.
 */
export function checkNatsConfig(
  text: string,
  { from, dir, env }: { from: string; dir: string; env: Record<string, string> },
): { code: number; stderr: string } {
  const local = text
    .replaceAll(from, `${dir}/`)
    .replace("store_dir: /data", `store_dir: ${join(dir, "data")}`)
    .replace(/^\s*min_version:.*$/gm, "");
  writeFileSync(join(dir, "nats.conf"), local);
  const checked = Bun.spawnSync([process.env.NATS_SERVER_BIN ?? "nats-server", "-t", "-c", join(dir, "nats.conf")], { env: { ...process.env, ...env } });
  return { code: checked.exitCode, stderr: checked.stderr.toString() };
}
