import { describe, expect, test } from "bun:test";
import parse from "spdx-expression-parse";
import { checkLicences, declaredLicence, POLICY, satisfies } from "./licenses.ts";
import { REPO_ROOT, tempTree } from "./testing.ts";

/**
 * A workspace with one production dependency (`runtime-lib`) and one development tool (`dev-tool`), installed in
 * bun's isolated layout with the licences given, under the repository's licence policy.
 */
function workspace(licences: { runtime?: unknown; tool?: unknown; project?: string }) {
  const tree = tempTree("licenses");
  tree.copy(POLICY);
  tree.copy("LICENSE");
  tree.write("package.json", JSON.stringify({ name: "p", license: licences.project ?? "Apache-2.0" }));
  const lock = {
    lockfileVersion: 1,
    workspaces: { "": { name: "p", dependencies: { "runtime-lib": "1.0.0" }, devDependencies: { "dev-tool": "2.0.0" } } },
    packages: {
      "runtime-lib": ["runtime-lib@1.0.0", "", {}, "sha512-AAAA"],
      "dev-tool": ["dev-tool@2.0.0", "", {}, "sha512-BBBB"],
    },
  };
  tree.write("bun.lock", JSON.stringify(lock));
  const install = (name: string, version: string, license: unknown) =>
    tree.write(
      `node_modules/.bun/${name}@${version}/node_modules/${name}/package.json`,
      JSON.stringify({ name, version, ...(license === undefined ? {} : { license }) }),
    );
  install("runtime-lib", "1.0.0", licences.runtime ?? "MIT");
  install("dev-tool", "2.0.0", licences.tool ?? "ISC");
  return tree;
}

async function check(licences: Parameters<typeof workspace>[0]) {
  const tree = workspace(licences);
  try {
    return await checkLicences({ root: tree.dir });
  } finally {
    tree.cleanup();
  }
}

describe("licenses", () => {
  test("licenses - the repository's dependency tree meets its policy", async () => {
    const r = await checkLicences({ root: REPO_ROOT });
    expect(r.failures).toEqual([]);
  });

  test("licenses - permissive licences pass, in production and development", async () => {
    expect((await check({ runtime: "(MIT OR CC0-1.0)", tool: "BSD-3-Clause" })).failures).toEqual([]);
  });

  test("licenses - a disallowed licence on a production dependency fails, naming the package and the licence", async () => {
    const r = await check({ runtime: "AGPL-3.0-only" });
    expect(r.failures).toEqual([
      `runtime-lib@1.0.0 is licensed "AGPL-3.0-only", which is not in the allowed licences of ${POLICY} (a production dependency, shipped in the images)`,
    ]);
  });

  test("licenses - a development-only licence passes on a tool and fails on a production dependency", async () => {
    expect((await check({ tool: "GPL-3.0-only" })).failures).toEqual([]);
    expect((await check({ runtime: "GPL-3.0-only" })).failures).toEqual([expect.stringContaining('runtime-lib@1.0.0 is licensed "GPL-3.0-only"')]);
  });

  test("licenses - AND needs every part allowed, OR one", async () => {
    expect((await check({ runtime: "MIT AND GPL-2.0-only" })).failures).toHaveLength(1);
    expect((await check({ runtime: "GPL-2.0-only OR Apache-2.0" })).failures).toEqual([]);
  });

  test("licenses - a licence that is no SPDX expression, or none at all, fails until it is read and corrected", async () => {
    expect((await check({ runtime: "Apache 2.0" })).failures).toEqual([
      expect.stringContaining('runtime-lib@1.0.0 declares "Apache 2.0", not an SPDX expression'),
    ]);
    expect((await check({ tool: undefined, runtime: "" })).failures).toEqual([expect.stringContaining("runtime-lib@1.0.0 declares no licence")]);
  });

  test("licenses - the project's own licence must be the policy's", async () => {
    expect((await check({ project: "MIT" })).failures).toEqual([`package.json: license is "MIT", the policy says Apache-2.0`]);
  });

  test("licenses - package.json licence fields of every era are read", () => {
    expect(declaredLicence({ license: "MIT" })).toBe("MIT");
    expect(declaredLicence({ license: { type: "BSD-2-Clause" } })).toBe("BSD-2-Clause");
    expect(declaredLicence({ licenses: [{ type: "MIT" }, { type: "Apache-2.0" }] })).toBe("(MIT OR Apache-2.0)");
    expect(declaredLicence({})).toBeUndefined();
    expect(satisfies(parse("MIT WITH LLVM-exception"), (id) => id === "MIT")).toBe(false);
  });
});
