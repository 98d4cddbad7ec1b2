// Dependency vulnerabilities: `bun audit --json` sends every package of bun.lock to the registry's bulk advisory
// endpoint (POST /-/npm/v1/security/advisories/bulk) and prints its answer; high and critical advisories fail unless
// the allow-list accepts them, with a reason, until an expiry date. An expired entry fails whatever the registry says.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { directKeys, type Lockfile, readLockfile } from "./lockfile.ts";
import { type CheckResult, result, run } from "./report.ts";

/** Severities as the registry names them, least first. */
export const SEVERITIES = ["info", "low", "moderate", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** One advisory in the registry's bulk format. */
export interface Advisory {
  id: number | string;
  url: string;
  title: string;
  severity: Severity;
  vulnerable_versions: string;
  cwe?: string[];
  cvss?: { score?: number; vectorString?: string | null };
}

/** One accepted advisory. */
export interface AllowEntry {
  /** The GHSA id (or the registry's numeric id). */
  advisory: string;
  package: string;
  /** Why it is accepted: why the vulnerable code is not reachable, or what mitigates it. */
  reason: string;
  /** Last day (UTC, YYYY-MM-DD) the acceptance holds; after it the check fails until it is fixed or re-assessed. */
  expires: string;
}

/** The allow-list file, relative to the root. */
export const ALLOWLIST = "scripts/supply/audit-allowlist.json";

export interface AuditOptions {
  root: string;
  /** Environment of `bun audit` (NPM_CONFIG_REGISTRY points it at another registry). */
  env?: Record<string, string | undefined>;
  /** Today, for expiry (tests). */
  now?: () => Date;
  /** Lowest severity that fails. */
  failAt?: Severity;
  /** Whether an advisory source that does not answer fails the check (X0_AUDIT_REQUIRED=1). */
  required?: boolean;
}

/** The GHSA id of an advisory (from its URL), else its numeric id. */
export function advisoryId(advisory: Advisory): string {
  return /GHSA(-[23456789cfghjmpqrvwx]{4}){3}/.exec(advisory.url)?.[0] ?? String(advisory.id);
}

/** Reads and checks the allow-list: malformed entries and expired ones are failures. */
export function readAllowlist(root: string, today: string): { entries: AllowEntry[]; failures: string[] } {
  const path = join(root, ALLOWLIST);
  if (!existsSync(path)) return { entries: [], failures: [] };
  const failures: string[] = [];
  let parsed: { accepted?: unknown };
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    return { entries: [], failures: [`${ALLOWLIST}: not JSON (${(error as Error).message})`] };
  }
  const entries: AllowEntry[] = [];
  for (const [i, raw] of (Array.isArray(parsed.accepted) ? parsed.accepted : []).entries()) {
    const entry = raw as Partial<AllowEntry>;
    const where = `${ALLOWLIST} entry ${i + 1} (${entry.advisory ?? "?"} in ${entry.package ?? "?"})`;
    const missing = (["advisory", "package", "reason", "expires"] as const).filter((field) => typeof entry[field] !== "string" || entry[field].trim() === "");
    if (missing.length > 0) {
      failures.push(`${where}: missing ${missing.join(", ")}; every accepted advisory needs a reason and an expiry date`);
      continue;
    }
    const valid = entry as AllowEntry;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(valid.expires) || Number.isNaN(Date.parse(`${valid.expires}T00:00:00Z`))) {
      failures.push(`${where}: expires "${valid.expires}" is not a date (YYYY-MM-DD)`);
      continue;
    }
    if (valid.expires < today) {
      failures.push(`${where}: expired on ${valid.expires}; fix the dependency or re-assess and extend it (reason given: ${valid.reason})`);
      continue;
    }
    entries.push(valid);
  }
  return { entries, failures };
}

/** The locked versions of `name` that fall in `range` (all its versions when none does or the range is unreadable). */
function affectedVersions(lock: Lockfile, name: string, range: string): { versions: string[]; direct: boolean } {
  const direct = directKeys(lock);
  const all = [...lock.packages.values()].filter((p) => p.name === name);
  let hit: typeof all = [];
  try {
    hit = all.filter((p) => Bun.semver.satisfies(p.version, range));
  } catch {}
  const chosen = hit.length > 0 ? hit : all;
  return { versions: [...new Set(chosen.map((p) => p.version))], direct: chosen.some((p) => direct.has(p.key)) };
}

/** Runs `bun audit --json` in `root` and judges its answer. */
export async function checkAudit(options: AuditOptions): Promise<CheckResult> {
  const { root, env = process.env, now = () => new Date(), failAt = "high", required = false } = options;
  const r = result("audit");
  const today = now().toISOString().slice(0, 10);
  const allow = readAllowlist(root, today);
  r.failures.push(...allow.failures);

  const audit = await run([process.execPath, "audit", "--json"], { cwd: root, env: { ...env, NO_COLOR: "1" } });
  let answer: Record<string, Advisory[]> | undefined;
  try {
    const parsed = JSON.parse(audit.stdout);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) answer = parsed;
  } catch {}
  if (!answer) {
    const why = (audit.stderr.trim() || audit.stdout.trim() || `exit ${audit.code}`).split("\n").slice(-1)[0];
    const message = `advisory source unavailable: bun audit could not get advisories (${why}); NO VULNERABILITY CHECK WAS MADE`;
    if (required) r.failures.push(`${message} and X0_AUDIT_REQUIRED=1`);
    else r.warnings.push(`${message}. Set X0_AUDIT_REQUIRED=1 to fail on this (the forge workflows do).`);
    r.summary = `bun audit against the registry: no answer; allow-list ${allow.entries.length} entr${allow.entries.length === 1 ? "y" : "ies"} checked for expiry`;
    return r;
  }

  const lock = readLockfile(root);
  const failRank = SEVERITIES.indexOf(failAt);
  const used = new Set<AllowEntry>();
  let count = 0;
  for (const [name, advisories] of Object.entries(answer)) {
    for (const advisory of advisories) {
      count++;
      const id = advisoryId(advisory);
      const { versions, direct } = affectedVersions(lock, name, advisory.vulnerable_versions);
      const line = `${advisory.severity} ${id} in ${name}@${versions.join(", ") || "?"}${direct ? " (direct)" : ""}: ${advisory.title} (vulnerable ${advisory.vulnerable_versions}; ${advisory.url})`;
      const accepted = allow.entries.find((e) => e.package === name && (e.advisory === id || e.advisory === String(advisory.id)));
      if (accepted) {
        used.add(accepted);
        r.notes.push(`accepted until ${accepted.expires}: ${line}; reason: ${accepted.reason}`);
      } else if (SEVERITIES.indexOf(advisory.severity) >= failRank) {
        r.failures.push(`${line}. Upgrade it (bun audit fix), or accept it in ${ALLOWLIST} with a reason and an expiry date`);
      } else {
        r.notes.push(line);
      }
    }
  }
  for (const entry of allow.entries) {
    if (!used.has(entry)) r.notes.push(`${ALLOWLIST}: ${entry.advisory} in ${entry.package} is no longer reported; remove the entry`);
  }
  r.summary = `bun audit: ${lock.packages.size} locked packages, ${count} advisor${count === 1 ? "y" : "ies"}; fails at ${failAt} and above`;
  return r;
}
