// Cross-service test helpers: collect messages of the x0 subjects from a test client.
import { connect, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { traceIdOf } from "@x0/shared";

/** A message seen by a {@link Recorder}. */
export interface Recorded {
  subject: string;
  body: Record<string, unknown>;
  headers: MsgHdrs | undefined;
  traceId: string | undefined;
}

/** Subscribes to subjects and keeps every message, parsed. */
export class Recorder {
  readonly messages: Recorded[] = [];
  constructor(readonly nc: NatsConnection) {}

  /** Starts recording `subject` (wildcards allowed). */
  async watch(subject: string): Promise<void> {
    this.nc.subscribe(subject, {
      callback: (_error, msg) => {
        this.messages.push({ subject: msg.subject, body: msg.json(), headers: msg.headers, traceId: traceIdOf(msg.headers) });
      },
    });
    await this.nc.flush();
  }

  /** Messages on subjects starting with `prefix`. */
  on(prefix: string): Recorded[] {
    return this.messages.filter((message) => message.subject.startsWith(prefix));
  }
}

/** Connects a plain test client. */
export function testClient(url: string): Promise<NatsConnection> {
  return connect({ servers: url, name: "test", maxReconnectAttempts: -1, reconnectTimeWait: 100 });
}
