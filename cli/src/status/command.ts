import { isProcessAlive, loadConfig, portSchema } from "@x0/shared";
import { connectCli } from "../nats-client.ts";
import { stackFileOf, stateDirOf } from "../paths.ts";
import { describeError } from "../report-error.ts";
import { readStackFile, type StackFile } from "../stack-file.ts";
import { DEFAULT_HTTP_PORT_BASE } from "../up/ports.ts";
import { parseStatusArgs, type StatusOptions } from "./args.ts";
import { type FoundService, pingServices } from "./discover.ts";
import { probeService } from "./probe.ts";
import { buildStatusReport, renderStatusReport } from "./report.ts";
import { resolveTargets } from "./targets.ts";

/** Where a command writes. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

/** How long discovery waits for NATS, and then for the services' answers to $SRV.PING. */
const DISCOVERY_CONNECT_MS = 2000;
const DISCOVERY_WAIT_MS = 1000;

/** Runs `x0 status`: 0 when every service is ready, 1 otherwise (usage errors are thrown). */
export async function runStatus(argv: readonly string[], env: Record<string, string | undefined>, output: Output): Promise<number> {
  const options = parseStatusArgs(argv);
  let stack: StackFile | undefined;
  if (options.urls.length === 0) {
    const stackFile = stackFileOf(stateDirOf(env));
    stack = readStackFile(stackFile);
    if (stack !== undefined && !isProcessAlive(stack.pid)) {
      output.err(`note: ${stackFile} is stale (up, pid ${stack.pid}, is not running); asking its ports anyway`);
    }
  }
  const found = options.urls.length === 0 && stack === undefined ? await discover(options, env, output) : [];
  const { X0_HTTP_PORT_BASE: base } = loadConfig({ X0_HTTP_PORT_BASE: portSchema.min(1).default(DEFAULT_HTTP_PORT_BASE) }, { env });
  const targets = resolveTargets(options.urls, stack, base, found);
  const probes = await Promise.all(targets.map((target) => probeService(target.url)));
  const report = buildStatusReport(targets, probes);
  output.out(options.json ? JSON.stringify(report, null, 2) : renderStatusReport(report));
  return report.all_ready ? 0 : 1;
}

/** The services NATS discovery finds; none (said on stderr) when NATS cannot be reached: the default ports still are asked. */
async function discover(options: StatusOptions, env: Record<string, string | undefined>, output: Output): Promise<FoundService[]> {
  let nc: Awaited<ReturnType<typeof connectCli>>;
  try {
    nc = await connectCli(options.nats, env, { timeoutMs: DISCOVERY_CONNECT_MS, attempts: 2 });
  } catch (error) {
    output.err(`note: no NATS service discovery (${describeError(error).split("\n")[0]}); asking the default ports`);
    return [];
  }
  try {
    return await pingServices(nc, DISCOVERY_WAIT_MS);
  } catch (error) {
    output.err(`note: NATS service discovery failed (${describeError(error).split("\n")[0]}); asking the default ports`);
    return [];
  } finally {
    await nc.close();
  }
}
