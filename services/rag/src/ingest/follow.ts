// Reads X0_EVENTS in stream order through the durable consumer "rag" (every subject: states, plans, results).
// Acknowledged only up to what the last snapshot holds (ack-all), so a crash re-reads what was not saved.
import { AckPolicy, DeliverPolicy, type JetStreamManager, type JsMsg, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { ActionResult, Anomaly, contracts, EVENTS_STREAM, type Live, type Logger, NatsSetupError, Plan } from "@x0/shared";
import { z } from "zod";
import type { CaseEvent } from "../cases/casebook.ts";

/** The rag's durable consumer on X0_EVENTS. */
export const RAG_DURABLE = "rag";
/** Unacknowledged events the server lets the consumer hold: saves come every second or so, far below this. */
const MAX_ACK_PENDING = 20_000;
/** How long an unacknowledged event waits before redelivery: longer than any save. */
const ACK_WAIT_MS = 60_000;

const decoder = new TextDecoder("utf-8", { fatal: true });

/** An event decoded and validated, or why it was not. */
export type Decoded = { ok: true; event: CaseEvent } | { ok: false; error: string; template: string };

/** Decodes one X0_EVENTS message by its subject's contract. */
export function decodeEvent(subject: string, data: Uint8Array, seq: number): Decoded {
  const family = subject.split(".")[1];
  const [type, schema, template] =
    family === contracts.anomaly.name
      ? (["anomaly", Anomaly, contracts.anomaly.template] as const)
      : family === contracts.plan.name
        ? (["plan", Plan, contracts.plan.template] as const)
        : family === contracts.action.name
          ? (["result", ActionResult, contracts.action.template] as const)
          : ([undefined, undefined, subject] as const);
  if (!type) return { ok: false, error: `subject ${subject} is not an event the rag reads`, template };
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(data));
  } catch (error) {
    return { ok: false, error: `invalid JSON: ${(error as Error).message}`, template };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { ok: false, error: z.prettifyError(parsed.error), template };
  return { ok: true, event: { type, seq, message: parsed.data } as CaseEvent };
}

/** Where the consumer stands and what the stream holds. */
export interface Position {
  /** The stream's creation time (a recreated stream is another history). */
  streamCreated: string;
  streamFirstSeq: number;
  streamLastSeq: number;
}

/** The stream's identity and extent. */
export async function streamPosition(jsm: JetStreamManager): Promise<Position> {
  try {
    const info = await jsm.streams.info(EVENTS_STREAM);
    return { streamCreated: info.created, streamFirstSeq: info.state.first_seq, streamLastSeq: info.state.last_seq };
  } catch (error) {
    throw new NatsSetupError(`cannot read stream ${EVENTS_STREAM}`, { cause: error });
  }
}

/**
 * Makes the durable deliver from `afterSeq + 1`: kept when its acknowledged floor is not past that point (earlier
 * events come again and are skipped by sequence), recreated there when it is (the saved index is behind it).
 */
export async function positionConsumer(jsm: JetStreamManager, afterSeq: number, logger: Logger): Promise<void> {
  const existing = await jsm.consumers.info(EVENTS_STREAM, RAG_DURABLE).catch(() => undefined);
  if (existing && existing.ack_floor.stream_seq <= afterSeq && existing.config.ack_policy === AckPolicy.All) return;
  if (existing) {
    logger.info("rag consumer moved to the index's position", { acknowledged: existing.ack_floor.stream_seq, indexed: afterSeq });
    await jsm.consumers.delete(EVENTS_STREAM, RAG_DURABLE);
  }
  await jsm.consumers.add(EVENTS_STREAM, {
    durable_name: RAG_DURABLE,
    ack_policy: AckPolicy.All,
    ...(afterSeq === 0 ? { deliver_policy: DeliverPolicy.All } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: afterSeq + 1 }),
    ack_wait: ACK_WAIT_MS * 1e6,
    max_ack_pending: MAX_ACK_PENDING,
    max_deliver: -1,
  });
}

/** A running follow of the durable. */
export interface Follow extends Live {
  /** The latest message handled, to acknowledge (with everything before it) once it is saved. */
  latest(): JsMsg | undefined;
}

/** Consumes the durable and hands each message to `handle`, one at a time, in stream order. */
export async function followEvents(nc: NatsConnection, handle: (msg: JsMsg) => Promise<void>, logger: Logger): Promise<Follow> {
  const consumer = await jetstream(nc).consumers.get(EVENTS_STREAM, RAG_DURABLE);
  const messages = await consumer.consume({ max_messages: 512, expires: 5000 });
  let live = true;
  let latest: JsMsg | undefined;
  const loop = (async () => {
    for await (const msg of messages) {
      try {
        await handle(msg);
      } catch (error) {
        // Not acknowledged, so not lost: the follow stops (the service turns not ready) and a restart reads it again.
        logger.error("rag event handling failed: following stops", { seq: msg.seq, subject: msg.subject, error });
        break;
      }
      latest = msg;
    }
  })().finally(() => {
    live = false;
  });
  return {
    name: `consumer ${EVENTS_STREAM}/${RAG_DURABLE}`,
    isLive: () => live,
    latest: () => latest,
    stop: async () => {
      await messages.close();
      await loop;
    },
  };
}
