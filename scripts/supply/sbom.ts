// The workspace's SBOM: CycloneDX 1.6 JSON written from bun.lock (every locked npm package with its purl, SHA-512 and,
// where installed, its declared licence; the workspaces; the dependency graph), then validated against the CycloneDX
// JSON schema that @cyclonedx/cyclonedx-library ships. Written by hand from bun.lock because no CycloneDX generator
// reads it: cyclonedx-npm needs npm's package-lock and `npm ls`, cdxgen is a large tool of its own.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Spec, Validation } from "@cyclonedx/cyclonedx-library";
import parse from "spdx-expression-parse";
import { installedPackages } from "./licenses.ts";
import { type LockedPackage, productionKeys, readLockfile, resolveKey } from "./lockfile.ts";
import { type CheckResult, result, run } from "./report.ts";

/** Where `make supply` writes the SBOM, relative to the root. */
export const SBOM_PATH = ".x0/sbom/x0tta6bl4.cdx.json";

/** The package URL of an npm package (the scope's @ percent-encoded, as the purl spec has it). */
export function purl(name: string, version: string): string {
  return `pkg:npm/${name.startsWith("@") ? `%40${name.slice(1)}` : name}@${encodeURIComponent(version)}`;
}

/** A subresource-integrity sha512 as CycloneDX's hex hash. */
export function sha512Hex(integrity: string | undefined): string | undefined {
  const match = integrity && /^sha512-([A-Za-z0-9+/=]+)$/.exec(integrity);
  return match ? Buffer.from(match[1] as string, "base64").toString("hex") : undefined;
}

/** A declared licence as CycloneDX licence choices: an SPDX id, an SPDX expression, or a name. */
export function licenceChoice(declared: string | undefined): object[] | undefined {
  if (!declared) return undefined;
  try {
    const tree = parse(declared);
    if ("license" in tree && !tree.exception && !tree.plus) return [{ license: { id: tree.license } }];
    return [{ expression: declared }];
  } catch {
    return [{ license: { name: declared } }];
  }
}

/** Builds the CycloneDX document of the workspace under `root`. */
export async function buildSbom(root: string, now: Date = sourceDate()): Promise<Record<string, unknown>> {
  const lock = readLockfile(root);
  const production = productionKeys(lock);
  const installed = installedPackages(root);
  const rootManifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const commit = await run(["git", "rev-parse", "HEAD"], { cwd: root }).catch(() => undefined);

  const refOf = new Map<string, string>(); // lockfile key → bom-ref
  const components = new Map<string, Record<string, unknown>>(); // bom-ref → component
  const byRef = new Map<string, LockedPackage[]>();
  for (const pkg of lock.packages.values()) {
    const ref = purl(pkg.name, pkg.version);
    refOf.set(pkg.key, ref);
    byRef.set(ref, [...(byRef.get(ref) ?? []), pkg]);
  }
  for (const [ref, pkgs] of byRef) {
    const pkg = pkgs[0] as LockedPackage;
    const slash = pkg.name.startsWith("@") ? pkg.name.indexOf("/") : -1;
    const hash = sha512Hex(pkg.integrity);
    const shipped = pkgs.some((p) => production.has(p.key));
    components.set(ref, {
      type: "library",
      "bom-ref": ref,
      ...(slash > 0 ? { group: pkg.name.slice(0, slash), name: pkg.name.slice(slash + 1) } : { name: pkg.name }),
      version: pkg.version,
      scope: shipped ? "required" : "excluded",
      ...(hash ? { hashes: [{ alg: "SHA-512", content: hash }] } : {}),
      ...(licenceChoice(installed.get(`${pkg.name}@${pkg.version}`)?.license)
        ? { licenses: licenceChoice(installed.get(`${pkg.name}@${pkg.version}`)?.license) }
        : {}),
      purl: ref,
      ...(shipped ? {} : { properties: [{ name: "cdx:npm:package:development", value: "true" }] }),
    });
  }

  const workspaceRef = (path: string) => (path === "" ? "x0tta6bl4" : `x0tta6bl4/${path}`);
  const dependencies = new Map<string, Set<string>>();
  const depend = (from: string, to: string | undefined) => {
    if (!to || to === from) return;
    const set = dependencies.get(from) ?? new Set<string>();
    set.add(to);
    dependencies.set(from, set);
  };
  const workspaceByName = new Map(lock.workspaces.map((ws) => [ws.name, ws]));
  for (const ws of lock.workspaces) {
    const from = workspaceRef(ws.path);
    dependencies.set(from, dependencies.get(from) ?? new Set());
    for (const name of Object.keys({ ...ws.dependencies, ...ws.devDependencies })) {
      const key = resolveKey(lock, ws.name, name);
      const other = key && lock.workspaceKeys.has(key) ? workspaceByName.get(name) : undefined;
      depend(from, other ? workspaceRef(other.path) : key ? refOf.get(key) : undefined);
    }
  }
  for (const pkg of lock.packages.values()) {
    const from = refOf.get(pkg.key) as string;
    dependencies.set(from, dependencies.get(from) ?? new Set());
    for (const name of Object.keys(pkg.dependencies)) {
      const key = resolveKey(lock, pkg.key, name);
      depend(from, key ? refOf.get(key) : undefined);
    }
  }

  const workspaceComponents = lock.workspaces
    .filter((ws) => ws.path !== "")
    .map((ws) => ({ type: "application", "bom-ref": workspaceRef(ws.path), name: ws.name, ...(ws.version ? { version: ws.version } : {}) }));
  return {
    $schema: "http://cyclonedx.org/schema/bom-1.6.schema.json",
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    serialNumber: `urn:uuid:${crypto.randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: now.toISOString().replace(/\.\d{3}Z$/, "Z"),
      lifecycles: [{ phase: "build" }],
      tools: { components: [{ type: "application", name: "x0tta6bl4 scripts/supply/sbom.ts", description: "CycloneDX from bun.lock" }] },
      component: {
        type: "application",
        "bom-ref": "x0tta6bl4",
        name: rootManifest.name,
        ...(rootManifest.version ? { version: rootManifest.version } : {}),
        ...(rootManifest.license ? { licenses: licenceChoice(rootManifest.license) } : {}),
        ...(commit?.code === 0 ? { properties: [{ name: "x0:git:commit", value: commit.stdout.trim() }] } : {}),
      },
    },
    components: [...workspaceComponents, ...[...components.values()].sort((a, b) => String(a["bom-ref"]).localeCompare(String(b["bom-ref"])))],
    dependencies: [...dependencies].sort(([a], [b]) => a.localeCompare(b)).map(([ref, on]) => ({ ref, ...(on.size > 0 ? { dependsOn: [...on].sort() } : {}) })),
  };
}

/** The build time: SOURCE_DATE_EPOCH when set (reproducible builds), else now. */
function sourceDate(): Date {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  return Number.isFinite(epoch) && epoch > 0 ? new Date(epoch * 1000) : new Date();
}

/** Validates a CycloneDX 1.6 JSON text against the strict schema; the errors, or none. */
export async function validateSbom(json: string): Promise<string[]> {
  const errors = await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(json);
  if (errors === null) return [];
  return (errors as { instancePath?: string; message?: string; params?: unknown }[]).map(
    (e) => `${e.instancePath || "/"} ${e.message ?? "invalid"}${e.params ? ` ${JSON.stringify(e.params)}` : ""}`,
  );
}

/** Writes the SBOM to `out` (default .x0/sbom/x0tta6bl4.cdx.json) and validates it. */
export async function checkSbom(options: { root: string; out?: string }): Promise<CheckResult> {
  const { root, out = join(root, SBOM_PATH) } = options;
  const r = result("sbom");
  const bom = await buildSbom(root);
  const json = `${JSON.stringify(bom, null, 2)}\n`;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, json);
  for (const error of await validateSbom(json)) r.failures.push(`${out}: ${error} (CycloneDX 1.6 JSON schema)`);
  const components = (bom.components as unknown[]).length;
  r.summary = `CycloneDX 1.6 JSON of ${components} components written to ${out.startsWith(root) ? out.slice(root.length + 1) : out}, validated against the CycloneDX schema`;
  return r;
}
