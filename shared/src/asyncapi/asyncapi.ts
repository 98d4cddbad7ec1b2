import { stringify } from "yaml";
import { z } from "zod";
import { ProbeRequest, ProbeResponse } from "../contracts/schemas.ts";
import { type Contract, contracts, DLQ_STREAM, EVENTS_STREAM } from "../contracts/subjects.ts";

/** Version of the message contract described by the document (the `v` field of every message). */
export const CONTRACT_VERSION = 1;

const capitalize = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);

const TOKEN_DESCRIPTIONS: Record<string, string> = {
  node: "Node id: 1-64 of [A-Za-z0-9_-]. Subscribe with `*` for every node.",
  service: "Service name of the rejecting service (monitor, analyzer, planner, executor, ...).",
};

/** JSON Schema (draft-07, which AsyncAPI schemas extend) of a zod schema. */
function payloadSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: "draft-07", io: "output" }) as Record<string, unknown>;
  return rest;
}

const traceHeaders = {
  type: "object",
  properties: {
    traceparent: { type: "string", description: "W3C trace context of the PRODUCER span; one incident is one trace." },
    tracestate: { type: "string", description: "W3C trace state, when present." },
    "Nats-Msg-Id": { type: "string", description: "JetStream de-duplication id (durable subjects only)." },
  },
};

function durability(contract: Contract): string {
  if (contract === contracts.dlq) return `Kept in the JetStream stream ${DLQ_STREAM}.`;
  if (contract === contracts.telemetry || contract === contracts.overdue) return "Core NATS only (at most once; high rate, not stored).";
  return `Stored in the JetStream stream ${EVENTS_STREAM} (file storage), published with Nats-Msg-Id so retries are stored once.`;
}

/** Builds the AsyncAPI 3 document of every x0 subject from the zod contracts. */
export function buildAsyncApi(): Record<string, unknown> {
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  for (const contract of Object.values(contracts) as Contract[]) {
    const messageName = contract.message;
    messages[messageName] = {
      name: messageName,
      title: `${messageName} v${CONTRACT_VERSION}`,
      summary: contract.summary,
      contentType: "application/json",
      headers: traceHeaders,
      payload: payloadSchema(contract.schema),
    };
    channels[contract.name] = {
      address: contract.template,
      title: contract.template,
      description: `${contract.summary} ${durability(contract)}`,
      parameters: { [contract.token]: { description: TOKEN_DESCRIPTIONS[contract.token] ?? contract.token } },
      messages: { [messageName]: { $ref: `#/components/messages/${messageName}` } },
    };
    for (const [action, services] of [
      ["send", contract.producers],
      ["receive", contract.consumers],
    ] as const) {
      for (const service of services) {
        operations[`${service}${capitalize(action)}${messageName}`] = {
          action,
          title: `${service} ${action}s ${contract.name}`,
          channel: { $ref: `#/channels/${contract.name}` },
          messages: [{ $ref: `#/channels/${contract.name}/messages/${messageName}` }],
        };
      }
    }
  }
  addProbeEndpoint(channels, operations, messages);
  return {
    asyncapi: "3.0.0",
    info: {
      title: "x0tta6bl4 control plane",
      version: `${CONTRACT_VERSION}.0.0`,
      description: [
        "Subjects and messages of x0tta6bl4's MAPE-K loop: monitor → analyzer → planner → executor over NATS.",
        "Every message is JSON with `v: 1`. Within v1, changes are additive only: consumers must ignore unknown fields.",
        "The last subject token is variable (node id or service), so subscribers filter with `*` and `>`.",
        "Generated from the zod schemas in shared/src/contracts by `bun run docs:asyncapi`; do not edit by hand.",
      ].join("\n"),
    },
    defaultContentType: "application/json",
    servers: {
      local: { host: "127.0.0.1:4222", protocol: "nats", description: "The NATS server started by `make up` / `bun run up`." },
    },
    channels,
    operations,
    components: { messages },
  };
}

/** `x0.probe.{node}`: request/reply served by each node's monitor, used by the executor to verify repairs. */
function addProbeEndpoint(channels: Record<string, unknown>, operations: Record<string, unknown>, messages: Record<string, unknown>): void {
  for (const [name, schema, summary] of [
    ["ProbeRequest", ProbeRequest, "Send hellos from inside the node to an address."],
    ["ProbeResponse", ProbeResponse, "How many hellos were answered, with their round-trip times."],
  ] as const) {
    messages[name] = { name, title: `${name} v${CONTRACT_VERSION}`, summary, contentType: "application/json", payload: payloadSchema(schema) };
  }
  channels.probe = {
    address: "x0.probe.{node}",
    title: "x0.probe.{node}",
    description:
      "Path check from inside a node: its monitor sends UDP hellos to the requested address and replies with what came back. Core NATS request/reply.",
    parameters: { node: { description: TOKEN_DESCRIPTIONS.node } },
    messages: { ProbeRequest: { $ref: "#/components/messages/ProbeRequest" } },
  };
  channels.probeReply = {
    address: null,
    title: "reply inbox of x0.probe.{node}",
    description: "The requester's inbox (NATS reply subject).",
    messages: { ProbeResponse: { $ref: "#/components/messages/ProbeResponse" } },
  };
  operations.monitorReplyProbe = {
    action: "receive",
    title: "monitor answers x0.probe",
    channel: { $ref: "#/channels/probe" },
    messages: [{ $ref: "#/channels/probe/messages/ProbeRequest" }],
    reply: { channel: { $ref: "#/channels/probeReply" }, messages: [{ $ref: "#/channels/probeReply/messages/ProbeResponse" }] },
  };
  operations.executorRequestProbe = {
    action: "send",
    title: "executor requests a path check",
    channel: { $ref: "#/channels/probe" },
    messages: [{ $ref: "#/channels/probe/messages/ProbeRequest" }],
    reply: { channel: { $ref: "#/channels/probeReply" }, messages: [{ $ref: "#/channels/probeReply/messages/ProbeResponse" }] },
  };
}

/** The AsyncAPI document as YAML, exactly as committed in docs/asyncapi.yaml. */
export function renderAsyncApi(): string {
  return `# Generated by \`bun run docs:asyncapi\` from shared/src/contracts. Do not edit.\n${stringify(buildAsyncApi(), { lineWidth: 0 })}`;
}
