import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg, jetstream, type PubAck } from "@nats-io/jetstream";
import type { MsgHdrs, NatsConnection, Subscription } from "@nats-io/transport-node";
import { type Context, context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { z } from "zod";
import { ContractViolation, NatsSetupError, RedeliverLater, X0Error } from "../errors.ts";
import { type Logger, RateLimiter } from "../observability/logger.ts";
import type { ServiceMetrics } from "../observability/metrics.ts";
import { Attr, MESSAGING_SYSTEM_NATS } from "../observability/semconv.ts";
import { extractTraceContext, injectTraceContext, startSpan, type Tracing } from "../observability/tracing.ts";
import type { DeadLetter } from "./schemas.ts";
import { type Contract, contracts, EVENTS_STREAM, type MessageOf, subjectOf, tokenOf } from "./subjects.ts";

/** What a handler learns about the message besides its validated body. */
export interface Delivery {
  subject: string;
  /** The variable token of the subject (node id or service). */
  token: string;
  headers: MsgHdrs | undefined;
  /** The payload as received (for signature checks over unknown fields, and for dead-lettering it whole). */
  data: Uint8Array;
  /** Trace context of the CONSUMER span: pass it as `parent` to what this message causes. */
  trace: Context;
  /** True when JetStream delivers this message again. */
  redelivered: boolean;
  /** The message's JetStream stream sequence (undefined on core NATS): the same for every delivery of it. */
  sequence?: number;
}

/** Handles one validated message. */
export type Handler<C extends Contract> = (message: MessageOf<C>, delivery: Delivery) => void | Promise<void>;

/** A request/reply endpoint contract: a subject with a request and a response schema. */
export interface Endpoint<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType> {
  readonly subject: string;
  readonly request: Req;
  readonly response: Res;
}

/** A handler threw while processing a valid message. */
export class HandlerError extends X0Error {}

/** A request got a reply that violates the endpoint's response schema, or an error reply. */
export class RequestError extends X0Error {}

/** Options of {@link Bus}. */
export interface BusOptions {
  nc: NatsConnection;
  service: string;
  logger: Logger;
  metrics: ServiceMetrics;
  tracing: Pick<Tracing, "tracer" | "recording">;
}

/** A live subscription or consumer, as readiness sees it. */
export interface Live {
  readonly name: string;
  isLive(): boolean;
  stop(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Typed, validated and traced publish / subscribe / consume / request over the x0 contracts. */
export class Bus {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly service: string;
  readonly #logger: Logger;
  readonly #metrics: ServiceMetrics;
  readonly #tracing: Pick<Tracing, "tracer" | "recording">;
  // Labelled metric children, looked up once per subject template (hot path).
  readonly #perSubject = new Map<string, { received: { inc(): void }; duration: { startTimer(): () => void } }>();
  readonly #dlqLogLimit = new RateLimiter(5, 10_000);

  constructor({ nc, service, logger, metrics, tracing }: BusOptions) {
    this.nc = nc;
    this.js = jetstream(nc);
    this.service = service;
    this.#logger = logger;
    this.#metrics = metrics;
    this.#tracing = tracing;
  }

  /** Validates and publishes on core NATS (fire and forget); returns the PRODUCER span's context. */
  publish<C extends Contract>(contract: C, token: string, message: MessageOf<C>, parent: Context = ROOT_CONTEXT): Context {
    const subject = subjectOf(contract, token);
    const data = this.#encode(contract, subject, message);
    const { span, ctx, headers } = this.#startProducer(contract, subject, data, parent);
    try {
      this.nc.publish(subject, data, { headers });
      this.#metrics.messagesPublished.inc({ subject: contract.template });
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
    return ctx;
  }

  /**
   * Validates `message` as a publish would and its bytes as a subscriber would, publishing nothing: the bytes and the
   * message a subscriber gets (a rehearsal of a service's path at start, or a dry run). Throws ContractViolation.
   */
  check<C extends Contract>(contract: C, token: string, message: MessageOf<C>): { data: Uint8Array; message: MessageOf<C> } {
    const subject = subjectOf(contract, token);
    const data = this.#encode(contract, subject, message);
    const parsed = parseJson(data);
    const checked = parsed.ok ? compiled(contract.schema).safeParse(parsed.value) : undefined;
    if (!checked?.success) {
      const reason = parsed.ok ? z.prettifyError(checked?.error as z.ZodError) : `invalid JSON: ${parsed.error}`;
      throw new ContractViolation(subject, reason, { cause: checked?.error });
    }
    return { data, message: checked.data as MessageOf<C> };
  }

  /**
   * Validates and publishes to JetStream with a message id, retrying until the
   * server acknowledges (a restarting server loses nothing; the id makes retries idempotent).
   */
  async publishDurable<C extends Contract>(
    contract: C,
    token: string,
    message: MessageOf<C>,
    { msgID, parent = ROOT_CONTEXT, signal }: { msgID: string; parent?: Context; signal?: AbortSignal },
  ): Promise<{ ack: PubAck; trace: Context }> {
    const subject = subjectOf(contract, token);
    const data = this.#encode(contract, subject, message);
    const { span, ctx, headers } = this.#startProducer(contract, subject, data, parent);
    span.setAttribute(Attr.messagingMessageId, msgID);
    let attempt = 0;
    try {
      for (;;) {
        try {
          const ack = await this.js.publish(subject, data, { msgID, headers, timeout: 2000 });
          this.#metrics.messagesPublished.inc({ subject: contract.template });
          return { ack, trace: ctx };
        } catch (error) {
          attempt += 1;
          if (signal?.aborted) throw new X0Error(`publish to ${subject} aborted`, { cause: error });
          if (attempt === 1 || attempt % 10 === 0) {
            this.#logger.warn("durable publish failed, retrying", { subject, msgID, attempt, error });
          }
          await Bun.sleep(Math.min(2000, 50 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random() / 2));
        }
      }
    } finally {
      span.end();
    }
  }

  /** Subscribes on core NATS; invalid messages go to the dead-letter subject, never to `handler`. */
  subscribe<C extends Contract>(contract: C, handler: Handler<C>, { token = "*", queue }: { token?: string; queue?: string } = {}): Live {
    const wildcard = subjectOf(contract, token);
    const subscription: Subscription = this.nc.subscribe(wildcard, {
      queue,
      callback: (error, msg) => {
        if (error) {
          this.#logger.error("subscription error", { subject: wildcard, error });
          return;
        }
        void this.#deliver(contract, msg.subject, msg.data, msg.headers, false, handler);
      },
    });
    return {
      name: `sub ${wildcard}`,
      isLive: () => !subscription.isClosed(),
      stop: async () => {
        await subscription.drain();
      },
    };
  }

  /**
   * Consumes `contract` from X0_EVENTS through a durable pull consumer: a restart resumes
   * where it stopped. A message is acknowledged after `handler` resolves; redeliveries are
   * flagged in `delivery.redelivered`. Invalid messages are dead-lettered and terminated.
   */
  async consume<C extends Contract>(
    contract: C,
    handler: Handler<C>,
    { durable, jsm, token = "*", ackWaitMs = 30_000 }: { durable: string; jsm: JetStreamManager; token?: string; ackWaitMs?: number },
  ): Promise<Live> {
    const filter = subjectOf(contract, token);
    const existing = await jsm.consumers.info(EVENTS_STREAM, durable).catch(() => undefined);
    if (existing) {
      // nats-server 2.9 accepts a new filter on a durable but then delivers nothing: a durable of another filter is refused.
      if (existing.config.filter_subject !== filter) {
        throw new NatsSetupError(
          `durable ${durable} on ${EVENTS_STREAM} filters ${existing.config.filter_subject}, not ${filter}: remove it (nats consumer rm ${EVENTS_STREAM} ${durable}) and start again`,
        );
      }
      // A durable outlives its creator's settings: align the ack wait with this instance's.
      if (existing.config.ack_wait !== ackWaitMs * 1e6) await jsm.consumers.update(EVENTS_STREAM, durable, { ack_wait: ackWaitMs * 1e6 });
    } else {
      // Absent: create it. New consumers start with new messages; history stays in the stream for replay tools.
      await jsm.consumers.add(EVENTS_STREAM, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.New,
        filter_subject: filter,
        ack_wait: ackWaitMs * 1e6,
        max_deliver: -1,
      });
    }
    const consumer = await this.js.consumers.get(EVENTS_STREAM, durable);
    // Short pull expiry: heartbeats then notice a restarted server within seconds.
    const messages = await consumer.consume({ max_messages: 256, expires: 5000 });
    let live = true;
    const loop = (async () => {
      for await (const msg of messages) {
        await this.#deliverJs(contract, msg, handler);
      }
    })().finally(() => {
      live = false;
    });
    return {
      name: `consumer ${EVENTS_STREAM}/${durable}`,
      isLive: () => live,
      stop: async () => {
        await messages.close();
        await loop;
      },
    };
  }

  /** Sends a validated request and validates the reply. */
  async request<E extends Endpoint>(endpoint: E, body: z.infer<E["request"]>, { timeoutMs = 2000 } = {}): Promise<z.infer<E["response"]>> {
    const checked = endpoint.request.safeParse(body);
    if (!checked.success) throw new ContractViolation(endpoint.subject, z.prettifyError(checked.error), { cause: checked.error });
    const reply = await this.nc.request(endpoint.subject, encoder.encode(JSON.stringify(checked.data)), { timeout: timeoutMs });
    const errorCode = reply.headers?.get("Nats-Service-Error-Code");
    if (errorCode) {
      throw new RequestError(`${endpoint.subject} answered ${errorCode}: ${reply.headers?.get("Nats-Service-Error")}`);
    }
    const parsed = parseJson(reply.data);
    if (!parsed.ok) throw new RequestError(`${endpoint.subject} replied with invalid JSON: ${parsed.error}`);
    const response = endpoint.response.safeParse(parsed.value);
    if (!response.success)
      throw new RequestError(`${endpoint.subject} reply violates its contract: ${z.prettifyError(response.error)}`, { cause: response.error });
    return response.data as z.infer<E["response"]>;
  }

  /** Answers `endpoint` requests: invalid requests are dead-lettered and get a 400 error reply. */
  serve<E extends Endpoint>(endpoint: E, handler: (body: z.infer<E["request"]>) => z.infer<E["response"]> | Promise<z.infer<E["response"]>>): Live {
    const subscription = this.nc.subscribe(endpoint.subject, {
      queue: "q",
      callback: (error, msg) => {
        if (error) {
          this.#logger.error("endpoint subscription error", { subject: endpoint.subject, error });
          return;
        }
        const parsed = parseJson(msg.data);
        const checked = parsed.ok ? endpoint.request.safeParse(parsed.value) : undefined;
        if (!checked?.success) {
          const reason = parsed.ok ? z.prettifyError(checked?.error as z.ZodError) : `invalid JSON: ${parsed.error}`;
          this.deadLetter(msg.subject, endpoint.subject, msg.data, msg.headers, reason);
          msg.respond(encoder.encode(""), { headers: errorHeaders(400, reason) });
          return;
        }
        void (async () => {
          try {
            const response = endpoint.response.parse(await handler(checked.data as z.infer<E["request"]>));
            msg.respond(encoder.encode(JSON.stringify(response)));
          } catch (handlerError) {
            this.#logger.error("endpoint handler failed", { subject: endpoint.subject, error: handlerError });
            msg.respond(encoder.encode(""), { headers: errorHeaders(500, (handlerError as Error).message) });
          }
        })();
      },
    });
    return { name: `endpoint ${endpoint.subject}`, isLive: () => !subscription.isClosed(), stop: () => subscription.drain() };
  }

  /** Republishes a rejected message to `x0.dlq.<service>` with the reason, counts it and logs it (rate-limited). */
  deadLetter(subject: string, template: string, data: Uint8Array, headers: MsgHdrs | undefined, error: string): void {
    this.#metrics.deadLetters.inc({ subject: template });
    const suppressed = this.#dlqLogLimit.take(template);
    if (suppressed >= 0) {
      this.#logger.warn("invalid message sent to dead-letter subject", { subject, error, suppressed_since_last: suppressed });
    }
    let payload: string;
    let payloadEncoding: DeadLetter["payload_encoding"];
    try {
      payload = decoder.decode(data);
      payloadEncoding = "utf8";
    } catch {
      payload = Buffer.from(data).toString("base64");
      payloadEncoding = "base64";
    }
    const letter: DeadLetter = {
      v: 1,
      service: this.service,
      subject,
      payload,
      payload_encoding: payloadEncoding,
      headers: headersToRecord(headers),
      error,
      received_at: Date.now(),
    };
    try {
      this.publish(contracts.dlq, this.service, letter);
    } catch (publishError) {
      this.#logger.error("cannot publish dead letter", { subject, error: publishError });
    }
  }

  #encode(contract: Contract, subject: string, message: unknown): Uint8Array {
    const result = compiled(contract.schema).safeParse(message);
    if (!result.success) {
      throw new ContractViolation(subject, z.prettifyError(result.error), { cause: result.error });
    }
    return encoder.encode(JSON.stringify(result.data));
  }

  #startProducer(contract: Contract, subject: string, data: Uint8Array, parent: Context): { span: Span; ctx: Context; headers: MsgHdrs } {
    const span = this.#messagingSpan("send", contract, subject, data.byteLength, parent);
    const ctx = trace.setSpan(parent, span);
    return { span, ctx, headers: injectTraceContext(ctx) };
  }

  /** A PRODUCER (`send`) or CONSUMER (`process`) span named after the subject template, per the messaging conventions. */
  #messagingSpan(operation: "send" | "process", contract: Contract, subject: string, bodySize: number, parent: Context): Span {
    // Attributes are built only when a span will be recorded (the hot path often has no exporter).
    const attributes = this.#tracing.recording
      ? {
          [Attr.messagingSystem]: MESSAGING_SYSTEM_NATS,
          [Attr.messagingOperationType]: operation,
          [Attr.messagingOperationName]: operation,
          [Attr.messagingDestinationName]: subject,
          [Attr.messagingDestinationTemplate]: contract.template,
          [Attr.messagingBodySize]: bodySize,
          ...(operation === "process" ? { [Attr.messagingConsumerGroup]: this.service } : {}),
        }
      : undefined;
    const kind = operation === "send" ? SpanKind.PRODUCER : SpanKind.CONSUMER;
    return startSpan(this.#tracing, `${operation} ${contract.template}`, { kind, attributes }, parent);
  }

  async #deliverJs<C extends Contract>(contract: C, msg: JsMsg, handler: Handler<C>): Promise<void> {
    const outcome = await this.#deliver(contract, msg.subject, msg.data, msg.headers, msg.redelivered, handler, msg.seq);
    // A plain +TERM: nats-server 2.9 does not know "+TERM <reason>" and leaves the message pending (redelivered forever).
    if (outcome === "invalid") msg.term();
    else if (outcome === "failed") msg.nak(1000);
    else if (typeof outcome === "number") msg.nak(outcome);
    else msg.ack();
  }

  /** Validates, traces and hands one message to `handler`. */
  async #deliver<C extends Contract>(
    contract: C,
    subject: string,
    data: Uint8Array,
    headers: MsgHdrs | undefined,
    redelivered: boolean,
    handler: Handler<C>,
    sequence?: number,
  ): Promise<"ok" | "invalid" | "failed" | number> {
    const token = tokenOf(contract, subject);
    const parsed = parseJson(data);
    const checked = parsed.ok ? compiled(contract.schema).safeParse(parsed.value) : undefined;
    let reason: string | undefined;
    if (token === undefined) reason = `subject ${subject} does not match ${contract.template}`;
    else if (!parsed.ok) reason = `invalid JSON: ${parsed.error}`;
    else if (!checked?.success) reason = z.prettifyError(checked?.error as z.ZodError);
    if (reason !== undefined || token === undefined || !checked?.success) {
      this.deadLetter(subject, contract.template, data, headers, reason ?? "invalid");
      return "invalid";
    }
    let perSubject = this.#perSubject.get(contract.template);
    if (!perSubject) {
      const labels = { subject: contract.template };
      perSubject = { received: this.#metrics.messagesReceived.labels(labels), duration: this.#metrics.handlerDuration.labels(labels) };
      this.#perSubject.set(contract.template, perSubject);
    }
    perSubject.received.inc();
    const parent = extractTraceContext(headers);
    const span = this.#messagingSpan("process", contract, subject, data.byteLength, parent);
    const ctx = trace.setSpan(parent, span);
    const timer = perSubject.duration.startTimer();
    try {
      await context.with(ctx, () => handler(checked.data as MessageOf<C>, { subject, token, headers, data, trace: ctx, redelivered, sequence }));
      return "ok";
    } catch (error) {
      // Not a failure: the handler asked to see the message again later (a vote plan waiting for its proposal).
      if (error instanceof RedeliverLater) {
        this.#logger.debug("message redelivered later", { subject, delay_ms: error.delayMs, detail: error.message });
        return error.delayMs;
      }
      this.#metrics.handlerErrors.inc({ subject: contract.template });
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      this.#logger.error("handler failed", { subject, error: new HandlerError(`handler for ${contract.template} failed`, { cause: error }) });
      return "failed";
    } finally {
      timer();
      span.end();
    }
  }
}

const compiledSchemas = new WeakMap<z.ZodType, z.ZodType>();

/**
 * The contract schema with zod's compiled fast path (z.compile: generated code with the same results and the same errors,
 * falling back to the runtime parser for what it does not model). Every message is still validated, at a fraction of the
 * cost: the monitor's 20 kB telemetry every 100 ms took 0.4 % of a core to validate with the runtime parser.
 */
export function compiled(schema: z.ZodType): z.ZodType {
  let fast = compiledSchemas.get(schema);
  if (!fast) {
    fast = z.compile(schema);
    compiledSchemas.set(schema, fast);
  }
  return fast;
}

function parseJson(data: Uint8Array): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(decoder.decode(data)) };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

function headersToRecord(headers: MsgHdrs | undefined): Record<string, string[]> {
  const record: Record<string, string[]> = {};
  if (!headers) return record;
  for (const key of headers.keys()) record[key] = headers.values(key);
  return record;
}

function errorHeaders(code: number, description: string): MsgHdrs {
  const headers = injectTraceContext(ROOT_CONTEXT);
  headers.set("Nats-Service-Error-Code", String(code));
  // Header values are single lines.
  headers.set("Nats-Service-Error", description.replace(/\s*[\r\n]+\s*/g, "; ").slice(0, 512));
  return headers;
}
