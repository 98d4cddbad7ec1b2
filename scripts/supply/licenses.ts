// Licences of the dependency tree: every package of bun.lock installed under node_modules, its package.json licence read
// as an SPDX expression and held against scripts/supply/licenses.json. Production dependencies (what the images ship)
// must be under an `allowed` licence; development-only tools may also use a `devOnly` one.
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import parse, { type ConjunctionInfo, type LicenseInfo } from "spdx-expression-parse";
import { otherPlatform, productionKeys, readLockfile } from "./lockfile.ts";
import { type CheckResult, result } from "./report.ts";

/** The policy file, relative to the root. */
export const POLICY = "scripts/supply/licenses.json";

export interface LicencePolicy {
  project: string;
  allowed: string[];
  devOnly: Record<string, string>;
  corrections: { package: string; version: string; declared: string; license: string; reason: string }[];
}

/** An installed package's manifest, as far as licences go. */
export interface InstalledPackage {
  name: string;
  version: string;
  license?: string;
  dir: string;
}

/** The declared licence of a package.json: `license` (a string or the old `{type}`), else the old `licenses` array. */
export function declaredLicence(manifest: { license?: unknown; licenses?: unknown }): string | undefined {
  const one = (value: unknown): string | undefined =>
    typeof value === "string" ? value : value && typeof value === "object" && "type" in value ? String((value as { type: unknown }).type) : undefined;
  const direct = one(manifest.license);
  if (direct) return direct;
  if (Array.isArray(manifest.licenses)) {
    const all = manifest.licenses.map(one).filter((l): l is string => !!l);
    if (all.length > 0) return all.length === 1 ? all[0] : `(${all.join(" OR ")})`;
  }
  return undefined;
}

/**
 * Every package installed under `<root>/node_modules`, by `name@version`: bun's isolated layout
 * (`node_modules/.bun/<name>@<version>/node_modules/<name>`) and the hoisted one; symbolic links are not followed.
 */
export function installedPackages(root: string): Map<string, InstalledPackage> {
  const found = new Map<string, InstalledPackage>();
  const isDir = (path: string) => {
    try {
      return lstatSync(path).isDirectory();
    } catch {
      return false;
    }
  };
  const walkModules = (dir: string): void => {
    if (!isDir(dir)) return;
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (entry === ".bun") {
        for (const store of readdirSync(path)) walkModules(join(path, store, "node_modules"));
      } else if (entry.startsWith("@")) {
        if (isDir(path)) for (const scoped of readdirSync(path)) walkPackage(join(path, scoped));
      } else if (!entry.startsWith(".")) {
        walkPackage(path);
      }
    }
  };
  const walkPackage = (dir: string): void => {
    if (!isDir(dir)) return;
    const manifestPath = join(dir, "package.json");
    if (existsSync(manifestPath)) {
      try {
        const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
        if (typeof manifest.name === "string" && typeof manifest.version === "string") {
          const id = `${manifest.name}@${manifest.version}`;
          if (!found.has(id)) found.set(id, { name: manifest.name, version: manifest.version, license: declaredLicence(manifest), dir });
        }
      } catch {}
    }
    walkModules(join(dir, "node_modules"));
  };
  walkModules(join(root, "node_modules"));
  return found;
}

/** Whether an SPDX expression is satisfied by licences in `ok`: OR needs one side, AND both. */
export function satisfies(expression: LicenseInfo | ConjunctionInfo, ok: (id: string) => boolean): boolean {
  if ("conjunction" in expression) {
    return expression.conjunction === "or"
      ? satisfies(expression.left, ok) || satisfies(expression.right, ok)
      : satisfies(expression.left, ok) && satisfies(expression.right, ok);
  }
  return expression.exception === undefined && ok(expression.license);
}

/** Checks the licences of what bun.lock locks and node_modules holds. */
export async function checkLicences(options: { root: string }): Promise<CheckResult> {
  const { root } = options;
  const r = result("licenses");
  const policy = JSON.parse(readFileSync(join(root, POLICY), "utf8")) as LicencePolicy;
  const allowed = new Set(policy.allowed);
  const devOnly = new Set(Object.keys(policy.devOnly));

  // The project's own licence: the root package.json and the LICENSE file say the same.
  const rootManifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  if (rootManifest.license !== policy.project)
    r.failures.push(`package.json: license is ${JSON.stringify(rootManifest.license)}, the policy says ${policy.project}`);
  if (!existsSync(join(root, "LICENSE"))) r.failures.push(`LICENSE is missing (the project is ${policy.project})`);
  if (!allowed.has(policy.project)) r.failures.push(`${POLICY}: the project's own licence ${policy.project} is not in allowed`);

  const lock = readLockfile(root);
  const production = productionKeys(lock);
  const installed = installedPackages(root);
  const notInstalled: string[] = [];
  const elsewhere: string[] = [];
  const usedCorrections = new Set<string>();
  let checked = 0;
  let devOnlyUsed = 0;
  for (const pkg of lock.packages.values()) {
    const id = `${pkg.name}@${pkg.version}`;
    const found = installed.get(id);
    if (!found) {
      (otherPlatform(pkg) ? elsewhere : notInstalled).push(id);
      continue;
    }
    checked++;
    let declared = found.license;
    const correction = policy.corrections.find((c) => c.package === pkg.name && c.version === pkg.version);
    if (correction) {
      usedCorrections.add(`${correction.package}@${correction.version}`);
      if (declared !== correction.declared) {
        r.failures.push(`${POLICY}: the correction of ${id} expects it to declare "${correction.declared}", it declares "${declared}"; update or remove it`);
        continue;
      }
      declared = correction.license;
    }
    const shipped = production.has(pkg.key);
    const where = shipped ? "a production dependency, shipped in the images" : "a development dependency";
    if (!declared) {
      r.failures.push(`${id} declares no licence (${where}); read its LICENSE and add a correction to ${POLICY}, or drop it`);
      continue;
    }
    let tree: LicenseInfo | ConjunctionInfo;
    try {
      tree = parse(declared);
    } catch {
      r.failures.push(`${id} declares "${declared}", not an SPDX expression (${where}); add a correction to ${POLICY} after reading its LICENSE`);
      continue;
    }
    if (satisfies(tree, (l) => allowed.has(l))) continue;
    if (!shipped && satisfies(tree, (l) => allowed.has(l) || devOnly.has(l))) {
      devOnlyUsed++;
      continue;
    }
    const allowedHere = shipped ? "allowed" : "allowed or devOnly";
    r.failures.push(`${id} is licensed "${declared}", which is not in the ${allowedHere} licences of ${POLICY} (${where})`);
  }
  for (const c of policy.corrections) {
    if (!usedCorrections.has(`${c.package}@${c.version}`))
      r.notes.push(`${POLICY}: the correction of ${c.package}@${c.version} matches no installed package; remove it`);
  }
  if (notInstalled.length > 0) {
    r.failures.push(`${notInstalled.length} locked packages are not installed, so their licences cannot be read (run bun install): ${notInstalled.join(", ")}`);
  }
  if (elsewhere.length > 0) {
    r.notes.push(
      `${elsewhere.length} locked packages are builds for other platforms (os, cpu or libc), not installed here; licences not read: ${elsewhere.join(", ")}`,
    );
  }
  r.summary = `${checked} installed packages (${production.size} locked for production), project ${policy.project}; ${devOnlyUsed} development-only under a devOnly licence`;
  return r;
}
