// `bun run check:supply` (make supply): the supply-chain checks, one after another, each printed with its verdict.
// Exit 1 when any check fails. docs/supply-chain.md says what each check reads and what to do when it fails.
//   bun scripts/supply/main.ts                       every check
//   bun scripts/supply/main.ts --only audit,secrets  some of them
import { join } from "node:path";
import { checkAudit } from "./audit.ts";
import { checkDockerfiles } from "./dockerfiles.ts";
import { checkGithub } from "./github.ts";
import { checkLicences } from "./licenses.ts";
import { type CheckResult, formatResult } from "./report.ts";
import { checkSbom } from "./sbom.ts";
import { checkSecrets } from "./secrets.ts";
import { checkShell } from "./shell.ts";

const root = join(import.meta.dir, "..", "..");

/** The checks by name, in the order they run. */
const CHECKS: Record<string, () => Promise<CheckResult>> = {
  audit: () => checkAudit({ root, required: process.env.X0_AUDIT_REQUIRED === "1" }),
  secrets: () => checkSecrets({ root }),
  licenses: () => checkLicences({ root }),
  shellcheck: () => checkShell({ root }),
  workflows: () => checkGithub({ root }),
  dockerfiles: () => checkDockerfiles({ root }),
  sbom: () => checkSbom({ root }),
};

const onlyIndex = process.argv.indexOf("--only");
const only = onlyIndex > 0 ? (process.argv[onlyIndex + 1] ?? "").split(",").filter(Boolean) : Object.keys(CHECKS);
const unknown = only.filter((name) => !(name in CHECKS));
if (unknown.length > 0) {
  console.error(`supply: unknown check ${unknown.join(", ")}; the checks are ${Object.keys(CHECKS).join(", ")}`);
  process.exit(2);
}

let failed = 0;
const started = performance.now();
for (const name of only) {
  const t = performance.now();
  let r: CheckResult;
  try {
    r = await (CHECKS[name] as () => Promise<CheckResult>)();
  } catch (error) {
    r = { name, summary: "crashed", failures: [String((error as Error).stack ?? error)], warnings: [], notes: [] };
  }
  console.log(`${formatResult(r)}  (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  if (r.failures.length > 0) failed++;
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(failed > 0 ? `supply: ${failed} of ${only.length} checks failed (${seconds} s)` : `supply: ${only.length} checks passed (${seconds} s)`);
process.exit(failed > 0 ? 1 : 0);
