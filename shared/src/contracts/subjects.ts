import type { z } from "zod";
import { InvalidSubjectToken } from "../errors.ts";
import type { Endpoint } from "./bus.ts";
import { CRYPTO_GROUP, CRYPTO_SERVICE_NAME, cryptoEndpoints } from "./crypto.ts";
import { Proposal as GovProposal, ProposalEvent, ProposeRequest, SignedVote, VoteReceipt } from "./governance.ts";
import { RAG_GROUP, RAG_SERVICE_NAME, ragEndpoints } from "./rag.ts";
import { ActionResult, Anomaly, DeadLetter, Plan, ProbeOverdue, ProbeRequest, ProbeResponse, Telemetry } from "./schemas.ts";
import { AdapterRound, AdapterUpdate, SwarmRound, SwarmUpdate } from "./swarm.ts";

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
    // The planner reads probe loss and RTT for link costs; the executor watches a node's neighbours to verify a quarantine.
    consumers: ["analyzer", "planner", "executor", "executor-site"],
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
    // Standby analyzers follow what the leader published, to continue its incidents when they take over; the rag
    // builds its cases from the stream.
    consumers: ["planner", "analyzer", "rag"],
  }),
  plan: defineContract("plan", "node", Plan, {
    message: "Plan",
    summary: "Plans of actions, addressed to the node that coordinates them; every node executor with a step in a plan takes part.",
    producers: ["planner"],
    consumers: ["executor", "executor-site", "rag"],
  }),
  action: defineContract("action", "node", ActionResult, {
    message: "ActionResult",
    summary: "Executor results for plans run on a node: one per plan, from the plan's node executor (its coordinator) or the site executor.",
    producers: ["executor", "executor-site"],
    // The planner counts each result in its outcome statistics and confirms or reverts what the plan changed.
    consumers: ["planner", "rag"],
  }),
  swarmRound: defineContract("swarm.round", "model", SwarmRound, {
    message: "SwarmRound",
    summary: "A federated round of a model, opened by the swarm coordinator (the holder of leader.swarm), signed.",
    producers: ["swarm"],
    consumers: ["swarm"],
  }),
  swarmUpdate: defineContract("swarm.update", "node", SwarmUpdate, {
    message: "SwarmUpdate",
    summary: "A node's swarm agent's signed change to the round's model, trained on its own links' traces only.",
    producers: ["swarm"],
    consumers: ["swarm"],
  }),
  adapterRound: defineContract("swarm.adapter.round", "site", AdapterRound, {
    message: "AdapterRound",
    summary: "A site's LoRA adapter round on the adopted model, opened by the site's coordinator (leader.swarm-site.<site>), signed.",
    producers: ["swarm"],
    consumers: ["swarm"],
  }),
  adapterUpdate: defineContract("swarm.adapter.update", "node", AdapterUpdate, {
    message: "AdapterUpdate",
    summary: "A site member's signed change to the adapter's B matrices (only the adapter travels), trained on its own links.",
    producers: ["swarm"],
    consumers: ["swarm"],
  }),
  govProposal: defineContract("gov.proposal", "proposal", ProposalEvent, {
    message: "ProposalEvent",
    summary: "A governance proposal opened (state open) or closed with its tally (passed or rejected); x0_gov holds the records.",
    producers: ["planner"],
    consumers: [],
  }),
  dlq: defineContract("dlq", "service", DeadLetter, {
    message: "DeadLetter",
    summary: "Messages a service rejected because they failed contract validation or a check (signature, round), with the reason.",
    producers: ["monitor", "analyzer", "planner", "executor", "executor-site", "rag", "swarm"],
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

/** A request/reply endpoint family of the public contract: who answers it and who asks. */
export interface EndpointContract<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType> {
  /** Subject, with the variable last token in braces when there is one (`x0.probe.{node}`). */
  readonly template: string;
  /** What the variable token is, when the subject has one. */
  readonly token?: string;
  readonly request: Req;
  readonly response: Res;
  /** Names of the request and response message types. */
  readonly requestMessage: string;
  readonly responseMessage: string;
  readonly summary: string;
  /** Services that answer it. */
  readonly servers: readonly string[];
  /** Services (or roles) that ask it. */
  readonly clients: readonly string[];
  /** The NATS services API service it belongs to ($SRV discovery), if any. */
  readonly service?: string;
}

/** Request/reply endpoints by name: the monitor's path probe, the crypto service's and the rag's endpoints. */
export const endpoints: Readonly<Record<string, EndpointContract>> = {
  probe: {
    template: `${SUBJECT_ROOT}.probe.{node}`,
    token: "node",
    request: ProbeRequest,
    response: ProbeResponse,
    requestMessage: "ProbeRequest",
    responseMessage: "ProbeResponse",
    summary: "Path check from inside a node: its monitor sends UDP hellos to the requested address and replies with what came back.",
    servers: ["monitor"],
    clients: ["executor", "executor-site"],
  },
  "gov.vote": {
    template: `${SUBJECT_ROOT}.gov.vote`,
    request: SignedVote,
    response: VoteReceipt,
    requestMessage: "SignedVote",
    responseMessage: "VoteReceipt",
    summary:
      "Submit a member's EIP-712 signed vote on an open proposal. A refused vote (not a member, another proposal, after the deadline, a second vote, a bad signature) is answered accepted: false with the reason and dead-lettered.",
    servers: ["planner"],
    clients: ["admin", "voter"],
  },
  "gov.propose": {
    template: `${SUBJECT_ROOT}.gov.propose`,
    request: ProposeRequest,
    response: GovProposal,
    requestMessage: "ProposeRequest",
    responseMessage: "Proposal",
    summary: "Propose a new member set or planner policy; the reply is the opened proposal (its hash is what votes sign).",
    servers: ["planner"],
    clients: ["admin"],
  },
  ...Object.fromEntries(
    Object.entries(cryptoEndpoints).map(([name, { summary, request, response }]) => {
      const message = name
        .split(".")
        .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
        .join("");
      const contract: EndpointContract = {
        template: `${CRYPTO_GROUP}.${name}`,
        request,
        response,
        requestMessage: `Crypto${message}Request`,
        responseMessage: `Crypto${message}Response`,
        summary: `${summary} Bytes are base64; errors come as ADR-32 Nats-Service-Error headers (400 bad input, 501 unsupported, 500 internal).`,
        servers: ["crypto"],
        // Services sign and verify in process; the endpoints serve operators' tools.
        clients: ["admin"],
        service: CRYPTO_SERVICE_NAME,
      };
      return [`crypto.${name}`, contract];
    }),
  ),
  ...Object.fromEntries(
    Object.entries(ragEndpoints).map(([name, { summary, request, response }]) => {
      const message = name.charAt(0).toUpperCase() + name.slice(1);
      const contract: EndpointContract = {
        template: `${RAG_GROUP}.${name}`,
        request,
        response,
        requestMessage: `Rag${message}Request`,
        responseMessage: `Rag${message}Response`,
        summary: `${summary} Errors come as ADR-32 Nats-Service-Error headers (400 bad input, 404 unknown incident, 500 internal).`,
        servers: ["rag"],
        // The planner asks for similar cases when it ranks alternatives; operators ask through `x0 ask`.
        clients: name === "search" ? ["planner", "admin"] : ["admin"],
        service: RAG_SERVICE_NAME,
      };
      return [`rag.${name}`, contract];
    }),
  ),
};

/** `x0.gov.vote`: submit a signed vote (answered by the planners). */
export const govVoteEndpoint: Endpoint<typeof SignedVote, typeof VoteReceipt> = {
  subject: `${SUBJECT_ROOT}.gov.vote`,
  request: SignedVote,
  response: VoteReceipt,
};
/** `x0.gov.propose`: propose a member set or policy change (answered by the planners). */
export const govProposeEndpoint: Endpoint<typeof ProposeRequest, typeof GovProposal> = {
  subject: `${SUBJECT_ROOT}.gov.propose`,
  request: ProposeRequest,
  response: GovProposal,
};

/** `x0.probe.<node>`: ask a node's monitor to send hellos to an address from inside the node (the executor's path check). */
export function probeEndpoint(node: string): Endpoint<typeof ProbeRequest, typeof ProbeResponse> {
  if (!TOKEN.test(node)) throw new InvalidSubjectToken(`invalid node token ${JSON.stringify(node)} for x0.probe.{node}`);
  return { subject: `${SUBJECT_ROOT}.probe.${node}`, request: ProbeRequest, response: ProbeResponse };
}
