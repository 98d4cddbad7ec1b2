import { isProcessAlive, loadConfig, portSchema } from "@x0/shared";
import { stackFileOf, stateDirOf } from "../paths.ts";
import { readStackFile, type StackFile } from "../stack-file.ts";
import { DEFAULT_HTTP_PORT_BASE } from "../up/ports.ts";
import { parseStatusArgs, STATUS_USAGE } from "./args.ts";
import { probeService } from "./probe.ts";
import { buildStatusReport, renderStatusReport } from "./report.ts";
import { resolveTargets } from "./targets.ts";

/** Where a command writes. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

/** Runs `x0 status`: 0 when every service is ready, 1 otherwise (usage errors are thrown). */
export async function runStatus(argv: readonly string[], env: Record<string, string | undefined>, output: Output): Promise<number> {
  const options = parseStatusArgs(argv);
  if (options.help) {
    output.out(STATUS_USAGE);
    return 0;
  }
  let stack: StackFile | undefined;
  if (options.urls.length === 0) {
    const stackFile = stackFileOf(stateDirOf(env));
    stack = readStackFile(stackFile);
    if (stack !== undefined && !isProcessAlive(stack.pid)) {
      output.err(`note: ${stackFile} is stale (up, pid ${stack.pid}, is not running); asking its ports anyway`);
    }
  }
  const { X0_HTTP_PORT_BASE: base } = loadConfig({ X0_HTTP_PORT_BASE: portSchema.min(1).default(DEFAULT_HTTP_PORT_BASE) }, { env });
  const targets = resolveTargets(options.urls, stack, base);
  const probes = await Promise.all(targets.map((target) => probeService(target.url)));
  const report = buildStatusReport(targets, probes);
  output.out(options.json ? JSON.stringify(report, null, 2) : renderStatusReport(report));
  return report.all_ready ? 0 : 1;
}
