// The prober script's options: LabProber passes them, a person may too; checked before the first hello.
import { z } from "zod";
import { LabSpecError } from "../errors.ts";
import { HELLO_PORT } from "../kernel/commands.ts";
import { validateNodeName } from "../plan/names.ts";

/** What the prober script needs. */
export interface ProbeScriptOptions {
  from: string;
  to: string;
  address: string;
  port: number;
  intervalMs: number;
  summaryMs: number;
}

const wholeNumber = (min: number, max: number) => z.string().regex(/^\d+$/, "must be a whole number").transform(Number).pipe(z.number().min(min).max(max));

const ProbeScriptArgs = z.object({
  from: z.string(),
  to: z.string(),
  address: z.ipv4(),
  port: wholeNumber(1, 65535).default(HELLO_PORT),
  "interval-ms": wholeNumber(1, 60_000).default(10),
  "summary-ms": wholeNumber(10, 3_600_000).default(1000),
});

/** Checks the prober script's options (parsed by node:util parseArgs); throws {@link LabSpecError} naming what is wrong. */
export function parseProbeScriptArgs(values: { [name: string]: string | boolean | undefined }): ProbeScriptOptions {
  const parsed = ProbeScriptArgs.safeParse(values);
  if (!parsed.success) throw new LabSpecError(`the prober's options: ${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  const { from, to, address, port } = parsed.data;
  return {
    from: validateNodeName(from),
    to: validateNodeName(to),
    address,
    port,
    intervalMs: parsed.data["interval-ms"],
    summaryMs: parsed.data["summary-ms"],
  };
}
