// `x0 ask`: questions to the rag (x0.rag.search) by free text or by incident, answered with cited cases and runbook sections.
import { parseArgs } from "node:util";
import { RAG_GROUP, RAG_MAX_K, ragEndpoints } from "@x0/shared";
import { RagUnavailable, UsageError } from "../errors.ts";
import { connectCli, NATS_CLI_HELP, NATS_CLI_OPTIONS, type NatsFlags } from "../nats-client.ts";
import type { Output } from "../status/command.ts";
import { renderHits } from "./render.ts";

/** Usage text of `x0 ask`. */
export const ASK_USAGE = `Usage: x0 ask "<question>" | --incident <id> [-k 5] [-s nats://host:port] [--json]

Asks the rag service for the past incidents and runbook sections most similar to a question (matched by the
rag's text embedder) or to an incident (matched by its structure: kind, element, evidence, place in the mesh).
Each answer has its similarity score and a citation: the incident with its times and outcome, or the runbook file#heading.
NATS and the client certificate are found as for \`x0 incidents\`.

Options:
  --incident <id>  ask by an incident id instead of a question
  -k <n>           answers of each kind (default 5, at most ${RAG_MAX_K})
${NATS_CLI_HELP}
  --json           print the rag's reply as JSON
  -h, --help       print this help`;

/** The search request a command line asks. */
export function askRequest(positionals: string[], values: { incident?: string; k?: string }): Record<string, unknown> {
  const question = positionals.join(" ").trim();
  if (values.incident !== undefined && question.length > 0) throw new UsageError("give a question or --incident, not both");
  if (values.incident === undefined && question.length === 0) throw new UsageError("give a question (in quotes) or --incident <id>");
  const k = values.k === undefined ? 5 : Number(values.k);
  if (!Number.isInteger(k) || k < 1 || k > RAG_MAX_K) throw new UsageError(`-k ${JSON.stringify(values.k)} is not a whole number from 1 to ${RAG_MAX_K}`);
  return values.incident !== undefined ? { incident_id: values.incident, k } : { text: question, k };
}

/** Runs `x0 ask`; 0 on success. */
export async function runAsk(argv: readonly string[], env: Record<string, string | undefined>, output: Output): Promise<number> {
  let parsed: { values: { incident?: string; k?: string; json?: boolean; help?: boolean } & NatsFlags; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        incident: { type: "string" },
        k: { type: "string", short: "k" },
        ...NATS_CLI_OPTIONS,
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  const { values, positionals } = parsed;
  if (values.help) {
    output.out(ASK_USAGE);
    return 0;
  }
  const request = askRequest(positionals, values);
  const checked = ragEndpoints.search.request.safeParse(request);
  if (!checked.success) throw new UsageError(checked.error.issues.map((issue) => `${issue.path.join(".") || "request"}: ${issue.message}`).join("; "));
  const nc = await connectCli(values, env);
  try {
    const reply = await nc.request(`${RAG_GROUP}.search`, JSON.stringify(request), { timeout: 10_000 }).catch((error: unknown) => {
      const text = String((error as Error).message ?? error);
      throw /no responders/i.test(text) ? new RagUnavailable("the rag service is not running (no responder on x0.rag.search)", { cause: error }) : error;
    });
    const code = reply.headers?.get("Nats-Service-Error-Code");
    if (code) {
      output.err(`x0 ask: the rag answered ${code}: ${reply.headers?.get("Nats-Service-Error")}`);
      return 1;
    }
    const response = ragEndpoints.search.response.parse(reply.json());
    output.out(values.json ? JSON.stringify(response, null, 2) : renderHits(response.hits));
    return 0;
  } finally {
    await nc.close();
  }
}
