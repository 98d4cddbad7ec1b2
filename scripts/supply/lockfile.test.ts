import { describe, expect, test } from "bun:test";
import { keyNames, otherPlatform, parseLockfile, productionKeys, readLockfile, resolveKey } from "./lockfile.ts";
import { REPO_ROOT } from "./testing.ts";

const LOCK = `{
  "lockfileVersion": 1,
  "workspaces": {
    "": { "name": "root", "devDependencies": { "tool": "1.0.0" } },
    "lib": { "name": "@p/lib", "dependencies": { "a": "1.0.0", "@s/b": "2.0.0" } },
  },
  "packages": {
    "@p/lib": ["@p/lib@workspace:lib"],
    "a": ["a@1.0.0", "", { "dependencies": { "c": "^1.0.0" } }, "sha512-AA=="],
    "@s/b": ["@s/b@2.0.0", "", { "dependencies": { "c": "^2.0.0" }, "optionalDependencies": { "native": "1.0.0" } }, "sha512-BB=="],
    "@s/b/c": ["c@2.0.0", "", {}, "sha512-CC=="],
    "c": ["c@1.0.0", "", {}, "sha512-DD=="],
    "native": ["native@1.0.0", "", { "os": "darwin", "cpu": "arm64" }, "sha512-EE=="],
    "tool": ["tool@1.0.0", "", { "dependencies": { "c": "^1.0.0", "helper": "1.0.0" } }, "sha512-FF=="],
    "helper": ["helper@1.0.0", "", {}, "sha512-GG=="],
  },
}`;

describe("lockfile", () => {
  test("lockfile - nested keys resolve to the innermost version, then the hoisted one", () => {
    const lock = parseLockfile(LOCK);
    expect(keyNames("@s/b/c")).toEqual(["@s/b", "c"]);
    expect(resolveKey(lock, "@s/b", "c")).toBe("@s/b/c");
    expect(resolveKey(lock, "a", "c")).toBe("c");
    expect(resolveKey(lock, "@p/lib", "a")).toBe("a");
    expect(resolveKey(lock, "a", "missing")).toBeUndefined();
    expect(lock.packages.get("@s/b/c")?.version).toBe("2.0.0");
  });

  test("lockfile - production is what the workspaces' dependencies reach, optional ones included, devDependencies not", () => {
    const lock = parseLockfile(LOCK);
    expect([...productionKeys(lock)].sort()).toEqual(["@s/b", "@s/b/c", "a", "c", "native"]);
  });

  test("lockfile - packages built for another platform are told apart", () => {
    const lock = parseLockfile(LOCK);
    const native = lock.packages.get("native");
    if (!native) throw new Error("no native");
    expect(otherPlatform(native, { os: "linux", cpu: "x64", libc: "glibc" })).toBe(true);
    expect(otherPlatform(native, { os: "darwin", cpu: "arm64", libc: "glibc" })).toBe(false);
    expect(otherPlatform({ ...native, os: ["!win32"], cpu: undefined }, { os: "linux", cpu: "x64", libc: "glibc" })).toBe(false);
  });

  test("lockfile - the repository's bun.lock parses, and its dev tools are not production", () => {
    const lock = readLockfile(REPO_ROOT);
    const production = productionKeys(lock);
    expect(production.has("zod")).toBe(true);
    expect(production.has("typescript")).toBe(false);
    expect(production.has("secretlint")).toBe(false);
  });
});
