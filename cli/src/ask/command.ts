// `x0 ask`: questions to the rag (x0.rag.search) by free text or by incident, answered with cited cases and runbook sections.
import { RAG_GROUP, RAG_MAX_K, ragEndpoints } from "@x0/shared";
import { RagUnavailable, UsageError } from "../errors.ts";
import { connectCli, NATS_FLAGS, type NatsFlags } from "../nats-client.ts";
import { type CommandSpec, parseCommandArgs } from "../spec.ts";
import type { Output } from "../status/command.ts";
import { renderHits } from "./render.ts";

/** `x0 ask` in the command table. */
export const ASK_SPEC = {
  name: "ask",
  summary: "past incidents and runbook sections like a question or an incident, with citations (the rag)",
  args: '"<question>" | --incident <id>',
  description: `Asks the rag service for the past incidents and runbook sections most similar to a question (matched
by the rag's text embedder) or to an incident (matched by its structure: kind, element, evidence, place in the mesh).
Each answer has its similarity score and a citation: the incident with its times and outcome, or the runbook
file#heading. NATS and the client certificate are found as for "x0 incidents".`,
  flags: {
    incident: { type: "string", value: "id", help: "ask by an incident id instead of a question" },
    k: { type: "string", short: "k", value: "n", help: `answers of each kind (default 5, at most ${RAG_MAX_K})` },
    ...NATS_FLAGS,
    json: { type: "boolean", help: "print the rag's reply as JSON" },
  },
} as const satisfies CommandSpec;

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
  const { values, positionals } = parseCommandArgs<{ incident?: string; k?: string; json?: boolean } & NatsFlags>(ASK_SPEC, argv);
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
