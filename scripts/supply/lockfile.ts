// bun.lock as the supply-chain checks read it: every npm package at its locked version, the workspaces, and which
// packages a production install (`bun install --production`, as the Dockerfiles run it) brings in.
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** One locked npm package. */
export interface LockedPackage {
  /** The lockfile key: the name, prefixed by the parents' names when bun keeps a second version nested. */
  key: string;
  name: string;
  version: string;
  /** Subresource-integrity string (`sha512-<base64>`). */
  integrity?: string;
  /** Names it depends on (dependencies, optional and peer dependencies but not optional peers), with their ranges. */
  dependencies: Record<string, string>;
  /** Restricted to these operating systems or CPUs (platform builds of a binary), when the package says so. */
  os?: string | string[];
  cpu?: string | string[];
  libc?: string | string[];
}

/** One workspace of the monorepo (`""` is the root). */
export interface Workspace {
  path: string;
  name: string;
  version?: string;
  /** What a production install takes: dependencies, optional and peer dependencies. */
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/** The parsed lockfile. */
export interface Lockfile {
  packages: Map<string, LockedPackage>;
  workspaces: Workspace[];
  /** Lockfile keys of the workspaces' own packages (`@x0/shared`), by workspace name. */
  workspaceKeys: Set<string>;
}

type RawWorkspace = {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};
type RawMeta = {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  /** Peers used only when something else installs them (typescript for viem's types). */
  optionalPeers?: string[];
  os?: string | string[];
  cpu?: string | string[];
  libc?: string | string[];
};
type RawLock = { lockfileVersion: number; workspaces: Record<string, RawWorkspace>; packages: Record<string, unknown[]> };

/** Splits `name@version` where the name may be scoped (`@scope/name@1.2.3`). */
export function splitSpec(spec: string): { name: string; version: string } {
  const at = spec.lastIndexOf("@");
  if (at <= 0) throw new Error(`not a name@version: ${spec}`);
  return { name: spec.slice(0, at), version: spec.slice(at + 1) };
}

/** Parses bun.lock text (JSONC: bun writes trailing commas). */
export function parseLockfile(text: string): Lockfile {
  const raw = Bun.JSONC.parse(text) as RawLock;
  if (!raw || typeof raw !== "object" || !raw.packages || !raw.workspaces) throw new Error("bun.lock: no packages or workspaces");
  const packages = new Map<string, LockedPackage>();
  const workspaceKeys = new Set<string>();
  for (const [key, entry] of Object.entries(raw.packages)) {
    const spec = String(entry[0]);
    const { name, version } = splitSpec(spec);
    if (version.startsWith("workspace:")) {
      workspaceKeys.add(key);
      continue;
    }
    const meta = (entry[2] ?? {}) as RawMeta;
    const peers = Object.fromEntries(Object.entries(meta.peerDependencies ?? {}).filter(([name]) => !meta.optionalPeers?.includes(name)));
    packages.set(key, {
      key,
      name,
      version,
      integrity: typeof entry[3] === "string" ? entry[3] : undefined,
      dependencies: { ...peers, ...meta.optionalDependencies, ...meta.dependencies },
      os: meta.os,
      cpu: meta.cpu,
      libc: meta.libc,
    });
  }
  const workspaces = Object.entries(raw.workspaces).map(([path, ws]) => ({
    path,
    name: ws.name ?? path,
    version: ws.version,
    dependencies: { ...ws.peerDependencies, ...ws.optionalDependencies, ...ws.dependencies },
    devDependencies: { ...ws.devDependencies },
  }));
  return { packages, workspaces, workspaceKeys };
}

/** Reads `<root>/bun.lock`. */
export function readLockfile(root: string): Lockfile {
  return parseLockfile(readFileSync(join(root, "bun.lock"), "utf8"));
}

/** The package names in a lockfile key, outermost first (`@a/b/c` is `@a/b`, `c`). */
export function keyNames(key: string): string[] {
  const parts = key.split("/");
  const names: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (part.startsWith("@") && i + 1 < parts.length) names.push(`${part}/${parts[++i]}`);
    else names.push(part);
  }
  return names;
}

/**
 * The lockfile key a dependency `name` of `from` (a package key or a workspace's name) resolves to: bun nests a second
 * version under its dependent's key, so the innermost `<parents>/<name>` wins, then the hoisted `<name>`.
 */
export function resolveKey(lock: Lockfile, from: string, name: string): string | undefined {
  const names = keyNames(from);
  for (let depth = names.length; depth > 0; depth--) {
    const key = `${names.slice(0, depth).join("/")}/${name}`;
    if (lock.packages.has(key) || lock.workspaceKeys.has(key)) return key;
  }
  return lock.packages.has(name) || lock.workspaceKeys.has(name) ? name : undefined;
}

/**
 * Keys of the packages a production install brings in: everything reachable from the workspaces' dependencies
 * (not their devDependencies), through dependencies, optional and peer dependencies (optional peers are not installed
 * for their dependent's sake, so they do not count).
 */
export function productionKeys(lock: Lockfile): Set<string> {
  const seen = new Set<string>();
  const queue: string[] = [];
  const visit = (from: string, deps: Record<string, string>) => {
    for (const name of Object.keys(deps)) {
      const key = resolveKey(lock, from, name);
      if (key && lock.packages.has(key) && !seen.has(key)) {
        seen.add(key);
        queue.push(key);
      }
    }
  };
  for (const ws of lock.workspaces) visit(ws.name, ws.dependencies);
  while (queue.length > 0) {
    const key = queue.pop() as string;
    visit(key, (lock.packages.get(key) as LockedPackage).dependencies);
  }
  return seen;
}

/** Keys of the packages a workspace depends on directly (production and development), for "direct" in reports. */
export function directKeys(lock: Lockfile): Set<string> {
  const direct = new Set<string>();
  for (const ws of lock.workspaces) {
    for (const name of Object.keys({ ...ws.dependencies, ...ws.devDependencies })) {
      const key = resolveKey(lock, ws.name, name);
      if (key && lock.packages.has(key)) direct.add(key);
    }
  }
  return direct;
}

/** Whether a package is built for another platform than this one (its os, cpu or libc field excludes it). */
export function otherPlatform(pkg: LockedPackage, here: { os: string; cpu: string; libc: string } = hostPlatform()): boolean {
  const excludes = (field: string | string[] | undefined, value: string) => {
    if (field === undefined) return false;
    const list = Array.isArray(field) ? field : [field];
    if (list.includes(`!${value}`)) return true;
    const positive = list.filter((v) => !v.startsWith("!"));
    return positive.length > 0 && !positive.includes(value);
  };
  return excludes(pkg.os, here.os) || excludes(pkg.cpu, here.cpu) || excludes(pkg.libc, here.libc);
}

/** This machine as package.json's os, cpu and libc fields name it. */
export function hostPlatform(): { os: string; cpu: string; libc: string } {
  const report = process.report?.getReport?.() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return { os: process.platform, cpu: process.arch, libc: report?.header?.glibcVersionRuntime ? "glibc" : "musl" };
}
