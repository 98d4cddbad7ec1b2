import type { z } from "zod";
import { InvalidSubjectToken } from "../errors.ts";
import type { Endpoint } from "./bus.ts";
import { ActionResult, Anomaly, DeadLetter, Plan, ProbeOverdue, ProbeRequest, ProbeResponse, Telemetry } from "./schemas.ts";

/** The prefix of every x0tta6bl4 subject. */
export const SUBJECT_ROOT = "x0";

/** A published subject family: `x0.<name>.{<token>}` with one schema. */
export interface Contract<Schema extends z.ZodType = z.ZodType> {
  /** Short name, also the second subject token. */
  readonly name: string;
  /** Subject template with the variable last token in braces, e.g. `x0.telemetry.{node}`. */
  readonly template: string;
  /** Name of the message type (the schema's name in shared/). */
  readonly message: string;
  /** What the variable token is (`node` or `service`). */
  readonly token: string;
  readonly schema: Schema;
  readonly summary: string;
  /** Services that publish on it. */
  readonly producers: readonly string[];
  /** Services that consume it. */
  readonly consumers: readonly string[];
}

function defineContract<Schema extends z.ZodType>(
  name: string,
  token: string,
  schema: Schema,
  rest: Pick<Contract, "message" | "summary" | "producers" | "consumers">,
): Contract<Schema> {
  return { name, template: `${SUBJECT_ROOT}.${name}.{${token}}`, token, schema, ...rest };
}

/** Every subject of the public contract. */
export const contracts = {
  telemetry: defineContract("telemetry", "node", Telemetry, {
    message: "Telemetry",
    summary: "Interface counters of a node, every monitor interval.",
    producers: ["monitor"],
    consumers: ["analyzer"],
  }),
  overdue: defineContract("overdue", "node", ProbeOverdue, {
    message: "ProbeOverdue",
    summary: "Hello peers of a node whose replies are overdue, between telemetry samples (at most once per hello interval).",
    producers: ["monitor"],
    consumers: ["analyzer"],
  }),
  anomaly: defineContract("anomaly", "node", Anomaly, {
    message: "Anomaly",
    summary: "Incident states (opened, updated, resolved) detected on a node.",
    producers: ["analyzer"],
    consumers: ["planner"],
  }),
  plan: defineContract("plan", "node", Plan, {
    message: "Plan",
    summary: "Plans of actions for a node's executor.",
    producers: ["planner"],
    consumers: ["executor"],
  }),
  action: defineContract("action", "node", ActionResult, {
    message: "ActionResult",
    summary: "Executor results for plans run on a node.",
    producers: ["executor"],
    consumers: [],
  }),
  dlq: defineContract("dlq", "service", DeadLetter, {
    message: "DeadLetter",
    summary: "Messages a service rejected because they failed contract validation, with the reason.",
    producers: ["monitor", "analyzer", "planner", "executor"],
    consumers: [],
  }),
} as const;

/** The contracts by name. */
export type Contracts = typeof contracts;
/** A message type of a contract. */
export type MessageOf<C extends Contract> = z.infer<C["schema"]>;

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/** The concrete subject of `contract` for one token (node id or service); `*` gives the wildcard. */
export function subjectOf(contract: Contract, token: string): string {
  if (token !== "*" && !TOKEN.test(token)) {
    throw new InvalidSubjectToken(`invalid ${contract.token} token ${JSON.stringify(token)} for ${contract.template}`);
  }
  return contract.template.replace(`{${contract.token}}`, token);
}

/** The variable token of a concrete subject of `contract`, or undefined when it is not one. */
export function tokenOf(contract: Contract, subject: string): string | undefined {
  const prefix = contract.template.slice(0, contract.template.indexOf("{"));
  if (!subject.startsWith(prefix)) return undefined;
  const token = subject.slice(prefix.length);
  return TOKEN.test(token) ? token : undefined;
}

/** The JetStream stream holding the durable MAPE-K events. */
export const EVENTS_STREAM = "X0_EVENTS";
/** The subjects X0_EVENTS captures. */
export const EVENTS_SUBJECTS = [contracts.anomaly, contracts.plan, contracts.action].map((c) => `${SUBJECT_ROOT}.${c.name}.>`);
/** The JetStream stream keeping dead letters, so nothing rejected is lost. */
export const DLQ_STREAM = "X0_DLQ";
/** The subjects X0_DLQ captures. */
export const DLQ_SUBJECTS = [`${SUBJECT_ROOT}.dlq.>`];

/** `x0.probe.<node>`: ask a node's monitor to send hellos to an address from inside the node (the executor's path check). */
export function probeEndpoint(node: string): Endpoint<typeof ProbeRequest, typeof ProbeResponse> {
  if (!TOKEN.test(node)) throw new InvalidSubjectToken(`invalid node token ${JSON.stringify(node)} for x0.probe.{node}`);
  return { subject: `${SUBJECT_ROOT}.probe.${node}`, request: ProbeRequest, response: ProbeResponse };
}
