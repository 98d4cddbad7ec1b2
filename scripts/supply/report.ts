// What every supply-chain check returns, and how `bun run check:supply` prints it.

/** The outcome of one check. */
export interface CheckResult {
  /** Short name, as `--only` takes it. */
  name: string;
  /** What was checked, one line (counts, the tool and its version). */
  summary: string;
  /** Each reason the check fails, one line each, naming the file or package and what to do. */
  failures: string[];
  /** What a reader must see but does not fail the build (an advisory source that did not answer). */
  warnings: string[];
  /** Further detail (accepted advisories, files written). */
  notes: string[];
}

/** A result with empty lists, to fill in. */
export function result(name: string, summary = ""): CheckResult {
  return { name, summary, failures: [], warnings: [], notes: [] };
}

/** The printed form of a result: a status line, then failures, warnings and notes indented. */
export function formatResult(r: CheckResult): string {
  const status = r.failures.length > 0 ? "FAIL" : r.warnings.length > 0 ? "WARN" : "ok";
  const lines = [`${status.padEnd(4)} ${r.name}: ${r.summary}`];
  for (const failure of r.failures) lines.push(`     ✗ ${failure}`);
  for (const warning of r.warnings) lines.push(`     ! ${warning}`);
  for (const note of r.notes) lines.push(`     · ${note}`);
  return lines.join("\n");
}

/** Runs a command and collects its output (never throws on a non-zero exit). */
export async function run(
  cmd: string[],
  options: { cwd: string; env?: Record<string, string | undefined>; stdin?: string },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(cmd, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}
