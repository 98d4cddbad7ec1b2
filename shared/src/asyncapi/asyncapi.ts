import { stringify } from "yaml";
import { z } from "zod";
import { type RecordContract, records } from "../contracts/records.ts";
import { type Contract, contracts, DLQ_STREAM, type EndpointContract, EVENTS_STREAM, EVENTS_SUBJECTS, endpoints, SUBJECT_ROOT } from "../contracts/subjects.ts";

/** Version of the message contract described by the document (the `v` field of every message). */
export const CONTRACT_VERSION = 1;

const capitalize = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);

const TOKEN_DESCRIPTIONS: Record<string, string> = {
  node: "Node id: 1-64 of [A-Za-z0-9_-]. Subscribe with `*` for every node.",
  model: "A model name (link-health).",
  site: "A site name: 1-32 of [a-z0-9-] (X0_SWARM_SITE of its members).",
  service: "A service name (monitor, analyzer, planner, executor, crypto): on x0.dlq the service that rejected the message.",
  plan_id: "A plan id (UUID).",
  key_id: "A signing key id.",
  kind: "An incident kind (link_down, link_degraded, ...).",
  alternative: "A policy alternative (reroute-around, quarantine, ...).",
  a: "The link's first node (the lower id).",
  b: "The link's second node.",
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
  // Swarm rounds and updates are core NATS: a lost one is a missing participant, and the next round asks again.
  if (!EVENTS_SUBJECTS.includes(`${SUBJECT_ROOT}.${contract.name}.>`))
    return "Core NATS only (at most once, not stored; a lost round message is retried by the next round).";
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
  addEndpoints(channels, operations, messages);
  addRecords(channels, operations, messages);
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

/** Every request/reply endpoint: a request channel, the requester's reply inbox, and an operation per server and client. */
function addEndpoints(channels: Record<string, unknown>, operations: Record<string, unknown>, messages: Record<string, unknown>): void {
  for (const [name, endpoint] of Object.entries(endpoints) as [string, EndpointContract][]) {
    for (const [message, schema] of [
      [endpoint.requestMessage, endpoint.request],
      [endpoint.responseMessage, endpoint.response],
    ] as const) {
      messages[message] = { name: message, title: `${message} v${CONTRACT_VERSION}`, contentType: "application/json", payload: payloadSchema(schema) };
    }
    const channel = channelName(name);
    const discovery = endpoint.service ? ` Part of the NATS service ${endpoint.service} (discoverable through $SRV.PING, $SRV.INFO, $SRV.STATS).` : "";
    channels[channel] = {
      address: endpoint.template,
      title: endpoint.template,
      description: `${endpoint.summary} Core NATS request/reply.${discovery}`,
      ...(endpoint.token ? { parameters: { [endpoint.token]: { description: TOKEN_DESCRIPTIONS[endpoint.token] ?? endpoint.token } } } : {}),
      messages: { [endpoint.requestMessage]: { $ref: `#/components/messages/${endpoint.requestMessage}` } },
    };
    channels[`${channel}Reply`] = {
      address: null,
      title: `reply inbox of ${endpoint.template}`,
      description: "The requester's inbox (NATS reply subject).",
      messages: { [endpoint.responseMessage]: { $ref: `#/components/messages/${endpoint.responseMessage}` } },
    };
    const reply = {
      channel: { $ref: `#/channels/${channel}Reply` },
      messages: [{ $ref: `#/channels/${channel}Reply/messages/${endpoint.responseMessage}` }],
    };
    for (const [action, roles] of [
      ["receive", endpoint.servers],
      ["send", endpoint.clients],
    ] as const) {
      for (const role of roles) {
        operations[`${role}${capitalize(action === "receive" ? "answer" : "request")}${capitalize(channel)}`] = {
          action,
          title: `${role} ${action === "receive" ? "answers" : "requests"} ${endpoint.template}`,
          channel: { $ref: `#/channels/${channel}` },
          messages: [{ $ref: `#/channels/${channel}/messages/${endpoint.requestMessage}` }],
          reply,
        };
      }
    }
  }
}

/**
 * Every KV record with a schema, as the channel of its bucket's subjects (`$KV.<bucket>.<key>`): a put is a message there,
 * and watching the bucket's keys is subscribing to it.
 */
function addRecords(channels: Record<string, unknown>, operations: Record<string, unknown>, messages: Record<string, unknown>): void {
  for (const [name, record] of Object.entries(records) as [string, RecordContract][]) {
    if (!record.schema || !record.message) continue;
    messages[record.message] ??= {
      name: record.message,
      title: `${record.message} v${CONTRACT_VERSION}`,
      summary: record.summary,
      contentType: "application/json",
      payload: payloadSchema(record.schema),
    };
    const channel = `kv${capitalize(name)}`;
    const tokens = [...record.key.matchAll(/\{([a-z_]+)\}/g)].map((match) => match[1] as string);
    channels[channel] = {
      address: `$KV.${record.bucket}.${record.key}`,
      title: `${record.bucket} ${record.key}`,
      description: `${record.summary} A record of the JetStream KV bucket ${record.bucket}: read it with a KV get or watch; only its writers may put it.`,
      ...(tokens.length > 0 ? { parameters: Object.fromEntries(tokens.map((token) => [token, { description: TOKEN_DESCRIPTIONS[token] ?? token }])) } : {}),
      messages: { [record.message]: { $ref: `#/components/messages/${record.message}` } },
    };
    for (const [action, services] of [
      ["send", record.writers],
      ["receive", record.readers],
    ] as const) {
      for (const service of services) {
        operations[`${service}${action === "send" ? "Writes" : "Reads"}${capitalize(channel)}`] = {
          action,
          title: `${service} ${action === "send" ? "writes" : "reads"} ${record.bucket} ${record.key}`,
          channel: { $ref: `#/channels/${channel}` },
          messages: [{ $ref: `#/channels/${channel}/messages/${record.message}` }],
        };
      }
    }
  }
}

/** An AsyncAPI channel id for an endpoint name (`crypto.kem.encaps` → `cryptoKemEncaps`). */
function channelName(name: string): string {
  const [first = "", ...rest] = name.split(".");
  return first + rest.map(capitalize).join("");
}

/** The AsyncAPI document as YAML, exactly as committed in docs/asyncapi.yaml. */
export function renderAsyncApi(): string {
  return `# Generated by \`bun run docs:asyncapi\` from shared/src/contracts. Do not edit.\n${stringify(buildAsyncApi(), { lineWidth: 0 })}`;
}
