import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ALLOWLIST, type AllowEntry, checkAudit } from "./audit.ts";
import { advisoryRegistry, type KnownAdvisory, REPO_ROOT, tempTree } from "./testing.ts";

// Advisories as the npm registry serves them (GHSA-xvch-5gv4-984h is minimist's real prototype-pollution advisory).
const MINIMIST: KnownAdvisory = {
  package: "minimist",
  id: 1097678,
  url: "https://github.com/advisories/GHSA-xvch-5gv4-984h",
  title: "Prototype Pollution in minimist",
  severity: "critical",
  vulnerable_versions: "<0.2.4 || >=1.0.0 <1.2.6",
  cwe: ["CWE-1321"],
  cvss: { score: 9.8, vectorString: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" },
};
const LEFT_PAD: KnownAdvisory = {
  package: "left-pad",
  id: 1000001,
  url: "https://github.com/advisories/GHSA-2222-3333-4444",
  title: "A moderate issue in left-pad",
  severity: "moderate",
  vulnerable_versions: "<2.0.0",
};
const TODAY = new Date("2026-03-01T12:00:00Z");

/** A copy of the repository's package.json and bun.lock, with `plant` pinned packages added to the root's devDependencies. */
function lockfileCopy(plant: Record<string, { version: string; integrity: string }> = {}) {
  const tree = tempTree("audit");
  tree.copy("package.json");
  const lock = Bun.JSONC.parse(readFileSync(join(REPO_ROOT, "bun.lock"), "utf8")) as {
    workspaces: Record<string, { devDependencies?: Record<string, string> }>;
    packages: Record<string, unknown[]>;
  };
  const manifest = JSON.parse(readFileSync(join(tree.dir, "package.json"), "utf8"));
  for (const [name, { version, integrity }] of Object.entries(plant)) {
    lock.packages[name] = [`${name}@${version}`, "", {}, integrity];
    (lock.workspaces[""] as { devDependencies: Record<string, string> }).devDependencies[name] = version;
    manifest.devDependencies[name] = version;
  }
  tree.write("bun.lock", JSON.stringify(lock, null, 2));
  tree.write("package.json", JSON.stringify(manifest, null, 2));
  return tree;
}

const allow = (dir: string, accepted: Partial<AllowEntry>[]) => {
  mkdirSync(join(dir, "scripts/supply"), { recursive: true });
  writeFileSync(join(dir, ALLOWLIST), JSON.stringify({ accepted }));
};
const PLANT = {
  minimist: { version: "1.2.5", integrity: "sha512-FM9nNUYrRBAELZQT3xeZQ7fmMOBg6nWNmJKTcgsJeaLstP/UODVpGsr5OhXhhXg6f+qtJ8uiZ+PUxkDWcgIXLw==" },
};

describe("audit", () => {
  let registry: ReturnType<typeof advisoryRegistry>;
  const env = () => ({ ...process.env, NPM_CONFIG_REGISTRY: registry.url, BUN_CONFIG_REGISTRY: registry.url });
  beforeAll(() => {
    registry = advisoryRegistry([MINIMIST, LEFT_PAD]);
  });
  afterAll(() => registry.stop());

  test("audit - the repository's own bun.lock passes when the registry has no advisory for it", async () => {
    const tree = lockfileCopy();
    try {
      const r = await checkAudit({ root: tree.dir, env: env(), now: () => TODAY });
      expect(r.failures).toEqual([]);
      expect(r.warnings).toEqual([]);
      // bun audit sent every locked package of the copy, the workspace's own excepted.
      const asked = registry.asked.at(-1) ?? {};
      expect(asked["@biomejs/biome"]).toEqual(["2.6.8"]);
      expect(asked["@x0/shared"]).toBeUndefined();
    } finally {
      tree.cleanup();
    }
  });

  test("audit - a vulnerable dependency pinned in a copy of bun.lock fails, naming the advisory, the package and the version", async () => {
    const tree = lockfileCopy(PLANT);
    try {
      const r = await checkAudit({ root: tree.dir, env: env(), now: () => TODAY });
      expect(registry.asked.at(-1)?.minimist).toEqual(["1.2.5"]);
      expect(r.failures).toHaveLength(1);
      expect(r.failures[0]).toContain("critical GHSA-xvch-5gv4-984h in minimist@1.2.5 (direct): Prototype Pollution in minimist");
      expect(r.failures[0]).toContain(`accept it in ${ALLOWLIST} with a reason and an expiry date`);
    } finally {
      tree.cleanup();
    }
  });

  test("audit - an accepted advisory passes until its expiry date, and an expired entry fails", async () => {
    const tree = lockfileCopy(PLANT);
    try {
      const entry = { advisory: "GHSA-xvch-5gv4-984h", package: "minimist", reason: "only parses our own fixed argv", expires: "2026-03-01" };
      allow(tree.dir, [entry]);
      const accepted = await checkAudit({ root: tree.dir, env: env(), now: () => TODAY });
      expect(accepted.failures).toEqual([]);
      expect(accepted.notes.join("\n")).toContain("accepted until 2026-03-01: critical GHSA-xvch-5gv4-984h in minimist@1.2.5");

      const expired = await checkAudit({ root: tree.dir, env: env(), now: () => new Date("2026-03-02T00:00:00Z") });
      expect(expired.failures).toHaveLength(2);
      expect(expired.failures[0]).toContain("(GHSA-xvch-5gv4-984h in minimist): expired on 2026-03-01");
      expect(expired.failures[1]).toContain("critical GHSA-xvch-5gv4-984h in minimist@1.2.5");
    } finally {
      tree.cleanup();
    }
  });

  test("audit - an expired entry fails even when the advisory source does not answer", async () => {
    const tree = lockfileCopy();
    const closed = advisoryRegistry([], { status: 405 });
    try {
      allow(tree.dir, [{ advisory: "GHSA-xvch-5gv4-984h", package: "minimist", reason: "r", expires: "2025-12-31" }]);
      const r = await checkAudit({ root: tree.dir, env: { ...process.env, NPM_CONFIG_REGISTRY: closed.url }, now: () => TODAY });
      expect(r.failures).toEqual([expect.stringContaining("expired on 2025-12-31")]);
    } finally {
      closed.stop();
      tree.cleanup();
    }
  });

  test("audit - an allow-list entry without a reason or an expiry date fails", async () => {
    const tree = lockfileCopy();
    try {
      allow(tree.dir, [{ advisory: "GHSA-xvch-5gv4-984h", package: "minimist" }]);
      const r = await checkAudit({ root: tree.dir, env: env(), now: () => TODAY });
      expect(r.failures).toEqual([expect.stringContaining("missing reason, expires; every accepted advisory needs a reason and an expiry date")]);
    } finally {
      tree.cleanup();
    }
  });

  test("audit - moderate advisories are reported without failing the check", async () => {
    const tree = lockfileCopy({
      "left-pad": { version: "1.3.0", integrity: "sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQEQAPT9ZI+YZmMaVSSfIUHlbe+DRq9G/zzUGoMDQLnKLNXA==" },
    });
    try {
      const r = await checkAudit({ root: tree.dir, env: env(), now: () => TODAY });
      expect(r.failures).toEqual([]);
      expect(r.notes).toEqual([expect.stringContaining("moderate GHSA-2222-3333-4444 in left-pad@1.3.0")]);
    } finally {
      tree.cleanup();
    }
  });

  test("audit - a registry without the bulk endpoint is reported as unavailable, and fails only with X0_AUDIT_REQUIRED", async () => {
    const tree = lockfileCopy(PLANT);
    const closed = advisoryRegistry([], { status: 405 });
    try {
      const options = { root: tree.dir, env: { ...process.env, NPM_CONFIG_REGISTRY: closed.url }, now: () => TODAY };
      const optional = await checkAudit(options);
      expect(optional.failures).toEqual([]);
      expect(optional.warnings).toEqual([expect.stringMatching(/^advisory source unavailable: .*405.*NO VULNERABILITY CHECK WAS MADE/)]);
      const required = await checkAudit({ ...options, required: true });
      expect(required.failures).toEqual([expect.stringMatching(/^advisory source unavailable: .*405.* and X0_AUDIT_REQUIRED=1$/)]);
    } finally {
      closed.stop();
      tree.cleanup();
    }
  });
});
