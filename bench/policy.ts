// The planner's default policy with one setting changed, for benches that measure repair rather than the policy's guards.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "@x0/shared/testing";

/** Writes services/planner/policy.yaml with `from` replaced by `to` to a temporary file and returns its path. */
export function policyFileWith(bench: string, from: string, to: string): string {
  return policyFileWithAll(bench, [[from, to]]);
}

/** Writes services/planner/policy.yaml with each `from` replaced by its `to` to a temporary file and returns its path. */
export function policyFileWithAll(bench: string, replacements: [from: string, to: string][]): string {
  let policy = readFileSync(join(REPO_ROOT, "services", "planner", "policy.yaml"), "utf8");
  for (const [from, to] of replacements) {
    if (!policy.includes(from)) throw new Error(`policy.yaml changed: update bench/${bench}.ts's override of ${JSON.stringify(from)}`);
    policy = policy.replace(from, to);
  }
  const file = join(mkdtempSync(join(tmpdir(), `x0-bench-${bench}-`)), "policy.yaml");
  writeFileSync(file, policy);
  return file;
}
