import { UsageError } from "../errors.ts";
import { NATS_FLAGS, type NatsFlags } from "../nats-client.ts";
import { type CommandSpec, parseCommandArgs } from "../spec.ts";

/** What `x0 status` was asked to do. */
export interface StatusOptions {
  json: boolean;
  /** Base URLs of services to ask instead of the stack file or the default ports. */
  urls: string[];
  /** Where to ask NATS for the services that register for discovery. */
  nats: NatsFlags;
}

/** `x0 status` in the command table. */
export const STATUS_SPEC = {
  name: "status",
  summary: "readiness, versions and loop counters of the running services",
  description: `Asks every service of the stack for /readyz and /status and prints readiness, version, node, NATS
connection and the loop counters (anomalies, plans, actions, dlq).

Services come from --url; else from .x0/stack.json (written by "x0 up"); else from NATS service discovery
($SRV.PING: the services that register one, with the HTTP address they announce) together with the default ports of
the seven services, 127.0.0.1:9101-9107 (shifted by X0_HTTP_PORT_BASE).`,
  flags: {
    json: { type: "boolean", help: "print the report as JSON" },
    url: { type: "string", multiple: true, value: "url", help: "ask this service (http://host:port) instead of finding them" },
    ...NATS_FLAGS,
  },
  notes: "Exit code: 0 when every service is ready, 1 otherwise, 2 on a usage error.",
} as const satisfies CommandSpec;

/** Parses the arguments of `x0 status`; throws {@link UsageError}. */
export function parseStatusArgs(argv: readonly string[]): StatusOptions {
  const { values } = parseCommandArgs<{ json?: boolean; url?: string[] } & NatsFlags>(STATUS_SPEC, argv, false);
  const { server, nats, tlscert, tlskey, tlsca } = values;
  return { json: values.json ?? false, urls: (values.url ?? []).map(normaliseServiceUrl), nats: { server, nats, tlscert, tlskey, tlsca } };
}

/** Checks a service base URL (http or https) and drops trailing slashes. */
export function normaliseServiceUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new UsageError(`--url ${JSON.stringify(text)} is not a URL; expected e.g. http://127.0.0.1:9102`, { cause: error });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`--url ${JSON.stringify(text)} must be http:// or https://`);
  return url.href.replace(/\/+$/, "");
}
