// Dockerfiles pass a linter: dockerfile-utils, the validator of the Dockerfile language server (hadolint is neither in
// Debian nor on npm). Its errors and warnings fail: unknown instructions and flags, malformed arguments, deprecated
// instructions. A base image not pinned by digest is reported, not failed (docs/supply-chain.md).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { validate } from "dockerfile-utils";
import { type CheckResult, result } from "./report.ts";
import { candidateFiles } from "./secrets.ts";

/** Dockerfile, *.Dockerfile and Dockerfile.* anywhere in the tree. */
export const isDockerfile = (file: string) => /(^|\/)(Dockerfile(\.[\w.-]+)?|[\w.-]+\.Dockerfile)$/.test(file);

/** The images a Dockerfile's FROM lines name without a digest (build stages and `scratch` excluded). */
export function unpinnedBases(text: string): string[] {
  const stages = new Set<string>();
  const args = new Map<string, string>();
  const unpinned: string[] = [];
  for (const line of text.replace(/\\\n/g, " ").split("\n")) {
    const arg = /^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)/i.exec(line);
    if (arg) args.set(arg[1] as string, (arg[2] as string).replace(/^["']|["']$/g, ""));
    const from = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (!from) continue;
    const image = (from[1] as string).replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => args.get(name) ?? `$${name}`);
    if (!stages.has(image.toLowerCase()) && image !== "scratch" && !/@sha256:[0-9a-f]{64}$/.test(image)) unpinned.push(image);
    if (from[2]) stages.add(from[2].toLowerCase());
  }
  return unpinned;
}

/** Lints every Dockerfile under `root`. */
export async function checkDockerfiles(options: { root: string }): Promise<CheckResult> {
  const { root } = options;
  const r = result("dockerfiles");
  const files = (await candidateFiles(root)).filter(isDockerfile).sort();
  for (const file of files) {
    const text = readFileSync(join(root, file), "utf8");
    for (const d of validate(text)) {
      const level = d.severity === 1 ? "error" : d.severity === 2 ? "warning" : "note";
      const line = `${file}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${level}: ${d.message} [dockerfile-utils ${d.code ?? ""}]`.trimEnd();
      if (level === "note") r.notes.push(line);
      else r.failures.push(line);
    }
    const unpinned = unpinnedBases(text);
    if (unpinned.length > 0) r.notes.push(`${file}: base images not pinned by digest: ${unpinned.join(", ")}`);
  }
  r.summary = `dockerfile-utils on ${files.length} Dockerfiles: ${files.join(", ") || "none"}`;
  return r;
}
