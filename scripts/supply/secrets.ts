// Secret scanning: secretlint with its recommended preset (.secretlintrc.json) over every file a commit could take
// (tracked files and untracked ones .gitignore does not exclude), minus the development fixtures that
// .secretlintignore names one path at a time.
import { existsSync, lstatSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { type CheckResult, result, run } from "./report.ts";

/** The files a commit could take: git's view of the work tree, or, outside a git work tree, every file but
 * `.git/`, `node_modules/` and `.x0/` (third-party code and run-time state, as .gitignore has them). */
export async function candidateFiles(root: string): Promise<string[]> {
  const git = await run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: root }).catch(() => undefined);
  const top = await run(["git", "rev-parse", "--show-toplevel"], { cwd: root }).catch(() => undefined);
  const isGitRoot = git?.code === 0 && top?.code === 0 && relative(top.stdout.trim(), root) === "";
  if (isGitRoot && git) {
    // Deleted but still tracked files are listed too; symbolic links are not content.
    return git.stdout.split("\0").filter((file) => file !== "" && existsSync(join(root, file)) && lstatSync(join(root, file)).isFile());
  }
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory() && !["node_modules", ".git", ".x0"].includes(entry.name)) walk(path);
      else if (entry.isFile()) files.push(path);
    }
  };
  walk("");
  return files;
}

interface SecretlintMessage {
  ruleId: string;
  message: string;
  loc?: { start?: { line: number; column: number } };
}

/** Runs secretlint over `root`'s candidate files; each finding is a failure naming file, line and rule. */
export async function checkSecrets(options: { root: string }): Promise<CheckResult> {
  const { root } = options;
  const r = result("secrets");
  for (const file of [".secretlintrc.json", ".secretlintignore"]) {
    if (!existsSync(join(root, file))) r.failures.push(`${file} is missing: the scan's rules and its fixture exclusions live there`);
  }
  if (r.failures.length > 0) return r;
  const files = await candidateFiles(root);
  const require = createRequire(import.meta.url);
  const bin = join(dirname(require.resolve("secretlint/package.json")), "bin", "secretlint.js");
  const cmd = [process.execPath, bin, "--secretlintrc", ".secretlintrc.json", "--secretlintignore", ".secretlintignore"];
  const scan = await run([...cmd, "--format", "json", "--no-glob", "--no-gitignore", "--no-color", "--no-terminalLink", ...files], { cwd: root });
  let reports: { filePath: string; messages: SecretlintMessage[] }[];
  try {
    reports = JSON.parse(scan.stdout);
  } catch {
    r.failures.push(`secretlint did not run (exit ${scan.code}): ${(scan.stderr || scan.stdout).trim().split("\n").slice(0, 5).join(" | ")}`);
    return r;
  }
  let scanned = 0;
  // secretlint reports files in the order they finish; sorted, the output is the same every run.
  reports.sort((a, b) => a.filePath.localeCompare(b.filePath));
  for (const report of reports) {
    scanned++;
    for (const m of report.messages) {
      const at = m.loc?.start ? `:${m.loc.start.line}:${m.loc.start.column + 1}` : "";
      r.failures.push(
        `secret in ${relative(root, report.filePath)}${at} [${m.ruleId}]: ${m.message.replace(/\*{4,}/g, "****")}. Remove it (and rotate it if it was ever real); a development fixture goes in .secretlintignore by its exact path`,
      );
    }
  }
  r.summary = `secretlint (recommended preset) over ${scanned} of ${files.length} files (the rest: .secretlintignore's fixtures and secretlint's own config)`;
  if (scan.code !== 0 && r.failures.length === 0) r.failures.push(`secretlint exited ${scan.code}: ${scan.stderr.trim()}`);
  return r;
}
