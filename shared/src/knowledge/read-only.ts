// Reading streams and KV buckets as a read-only observer may: message gets and stream info, no consumer created on the
// server (see ops/nats/permissions.yaml `read`). What the console and other outside integrations use.
import { type JetStreamManager, jetstreamManager, type StoredMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { NatsSetupError } from "../errors.ts";

/** One stored message as a reader sees it. */
export interface StoredMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
  /** When the server stored it (epoch ms). */
  storedAt: number;
  /** For KV entries: PUT, DEL or PURGE. */
  operation: "PUT" | "DEL" | "PURGE";
  /** Its headers, the first value of each (e.g. `traceparent`). */
  headers: Record<string, string>;
}

/** The latest value of one KV key. */
export interface KvValue {
  key: string;
  value: Uint8Array;
  revision: number;
}

function toStored(message: StoredMsg): StoredMessage {
  const operation = message.header.get("KV-Operation");
  const headers: Record<string, string> = {};
  for (const key of message.header.keys()) headers[key] = message.header.get(key);
  return {
    headers,
    seq: message.seq,
    subject: message.subject,
    data: message.data,
    storedAt: message.time.getTime(),
    operation: operation === "DEL" || operation === "PURGE" ? operation : "PUT",
  };
}

/** Reads stored messages with nothing but message gets. */
export class StoredReader {
  readonly #jsm: JetStreamManager;

  private constructor(jsm: JetStreamManager) {
    this.#jsm = jsm;
  }

  /** A reader on `nc`; it does not ask for account info, which a read-only identity may not. */
  static async open(nc: NatsConnection): Promise<StoredReader> {
    return new StoredReader(await jetstreamManager(nc, { checkAPI: false }));
  }

  /** The first and last sequence of `stream`. */
  async bounds(stream: string): Promise<{ first: number; last: number }> {
    try {
      const info = await this.#jsm.streams.info(stream);
      return { first: info.state.first_seq, last: info.state.last_seq };
    } catch (error) {
      throw new NatsSetupError(`cannot read the state of stream ${stream}`, { cause: error });
    }
  }

  /** Every message of `stream` with a sequence in `from..to`, in order; `concurrency` gets are in flight at once. */
  async range(stream: string, from: number, to: number, { concurrency = 32 }: { concurrency?: number } = {}): Promise<StoredMessage[]> {
    const messages: StoredMessage[] = [];
    for (let start = Math.max(1, from); start <= to; start += concurrency) {
      const sequences = Array.from({ length: Math.min(concurrency, to - start + 1) }, (_, index) => start + index);
      const batch = await Promise.all(sequences.map((seq) => this.#get(stream, { seq })));
      for (const message of batch) if (message) messages.push(toStored(message));
    }
    return messages;
  }

  /** The messages of `stream` on `filter` from sequence `from` on, in order, one get each (sparse streams cost no more). */
  async *subjects(stream: string, filter: string, from = 1): AsyncGenerator<StoredMessage> {
    let seq = Math.max(1, from);
    for (;;) {
      const message = await this.#get(stream, { seq, next_by_subj: filter });
      if (!message) return;
      yield toStored(message);
      seq = message.seq + 1;
    }
  }

  /** The latest value of every key of `bucket` matching `pattern` (e.g. `node.>`), deleted keys left out. */
  async bucket(bucket: string, pattern = ">"): Promise<Map<string, KvValue>> {
    const subjectPrefix = `$KV.${bucket}.`;
    const values = new Map<string, KvValue>();
    for await (const message of this.subjects(`KV_${bucket}`, `${subjectPrefix}${pattern}`)) {
      const key = message.subject.slice(subjectPrefix.length);
      if (message.operation === "PUT") values.set(key, { key, value: message.data, revision: message.seq });
      else values.delete(key);
    }
    return values;
  }

  /** The latest value of one key, or undefined when it has none or was deleted. */
  async key(bucket: string, key: string): Promise<KvValue | undefined> {
    const message = await this.#get(`KV_${bucket}`, { last_by_subj: `$KV.${bucket}.${key}` });
    if (!message) return undefined;
    const stored = toStored(message);
    return stored.operation === "PUT" ? { key, value: stored.data, revision: stored.seq } : undefined;
  }

  async #get(stream: string, query: { seq: number; next_by_subj?: string } | { last_by_subj: string }): Promise<StoredMsg | null> {
    try {
      return await this.#jsm.streams.getMessage(stream, query);
    } catch (error) {
      throw new NatsSetupError(`cannot read stream ${stream} (${JSON.stringify(query)})`, { cause: error });
    }
  }
}
