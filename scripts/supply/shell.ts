// Shell scripts pass shellcheck: every candidate file named *.sh or *.bash, or whose first line is a sh, bash, dash,
// ash or busybox-sh shebang (.ci/run, vm/init, the fake batctl). Any finding, style included, fails.
import { openSync, readSync } from "node:fs";
import { join } from "node:path";
import { type CheckResult, result, run } from "./report.ts";
import { candidateFiles } from "./secrets.ts";

const SHEBANG = /^#!\s*(\/usr\/bin\/env\s+)?(\/\S*\/)?(sh|bash|dash|ash|ksh|busybox\s+sh)\b/;

/** Whether a file is a shell script shellcheck can read (zsh is not one). */
export function isShellScript(root: string, file: string): boolean {
  if (/\.(sh|bash)$/.test(file)) return true;
  const buffer = Buffer.alloc(128);
  let fd: number;
  try {
    fd = openSync(join(root, file), "r");
  } catch {
    return false;
  }
  const n = readSync(fd, buffer, 0, buffer.length, 0);
  return SHEBANG.test(buffer.subarray(0, n).toString("latin1").split("\n")[0] ?? "");
}

interface ShellcheckComment {
  file: string;
  line: number;
  column: number;
  level: string;
  code: number;
  message: string;
}

/** Runs shellcheck on the shell scripts under `root`. */
export async function checkShell(options: { root: string; shellcheck?: string }): Promise<CheckResult> {
  const { root, shellcheck = "shellcheck" } = options;
  const r = result("shellcheck");
  const scripts = (await candidateFiles(root)).filter((file) => isShellScript(root, file));
  const version = await run([shellcheck, "--version"], { cwd: root }).catch(() => undefined);
  if (version?.code !== 0) {
    r.failures.push(`${shellcheck} is not installed: run make deps (scripts/bootstrap.sh installs Debian's shellcheck)`);
    return r;
  }
  const check = await run([shellcheck, "--format=json1", ...scripts], { cwd: root });
  let comments: ShellcheckComment[];
  try {
    comments = (JSON.parse(check.stdout) as { comments: ShellcheckComment[] }).comments;
  } catch {
    r.failures.push(`shellcheck did not run (exit ${check.code}): ${check.stderr.trim()}`);
    return r;
  }
  for (const c of comments) {
    r.failures.push(`${c.file}:${c.line}:${c.column}: ${c.level} SC${c.code}: ${c.message} (https://www.shellcheck.net/wiki/SC${c.code})`);
  }
  const v = /version: (\S+)/.exec(version.stdout)?.[1] ?? "?";
  r.summary = `shellcheck ${v} on ${scripts.length} scripts: ${scripts.join(", ")}`;
  return r;
}
