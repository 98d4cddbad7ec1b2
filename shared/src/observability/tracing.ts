import { type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanOptions,
  type TextMapGetter,
  type TextMapSetter,
  TraceFlags,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, RandomIdGenerator, SimpleSpanProcessor, type SpanExporter, type SpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { Attr } from "./semconv.ts";

/** Tracing for one service: its tracer and how to flush it. */
export interface Tracing {
  tracer: Tracer;
  /** Whether spans go anywhere; when not, {@link startSpan} makes cheap non-recording spans. */
  recording: boolean;
  provider: TracerProvider;
  shutdown(): Promise<void>;
}

/** Options of {@link createTracing}. */
export interface TracingOptions {
  service: string;
  version: string;
  instance: string;
  node: string;
  /** OTLP/HTTP endpoint (base URL, e.g. http://collector:4318); nothing is exported when unset. */
  otlpEndpoint?: string;
  /** An exporter to use instead, e.g. an in-memory one in tests (sent synchronously). */
  exporter?: SpanExporter;
}

/**
 * Creates the service's tracer provider. Spans are always created (so trace ids flow
 * through NATS headers and logs) but exported only when an endpoint or exporter is given.
 */
export function createTracing({ service, version, instance, node, otlpEndpoint, exporter }: TracingOptions): Tracing {
  const spanProcessors: SpanProcessor[] = [];
  if (exporter) spanProcessors.push(new SimpleSpanProcessor({ exporter }));
  if (otlpEndpoint) {
    const url = `${otlpEndpoint.replace(/\/$/, "")}/v1/traces`;
    spanProcessors.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }) }));
  }
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      [Attr.serviceName]: `x0-${service}`,
      [Attr.serviceVersion]: version,
      [Attr.serviceInstanceId]: instance,
      [Attr.x0Node]: node,
    }),
    spanProcessors,
  });
  propagation.setGlobalPropagator(propagator);
  // So the active span (and its trace id in logs) follows async handler code.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  return {
    tracer: provider.getTracer(`x0-${service}`, version),
    recording: spanProcessors.length > 0,
    provider,
    shutdown: () => provider.shutdown(),
  };
}

// Used directly (not through the global API) so any process, instrumented or not, reads and writes trace context.
const propagator = new W3CTraceContextPropagator();

const headerSetter: TextMapSetter<MsgHdrs> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

const headerGetter: TextMapGetter<MsgHdrs | undefined> = {
  keys: (carrier) => (carrier ? carrier.keys() : []),
  get: (carrier, key) => (carrier?.has(key) ? carrier.get(key) : undefined),
};

/** Writes the W3C trace context of `ctx` into NATS headers (creating them when absent). */
export function injectTraceContext(ctx: Context, carrier: MsgHdrs = natsHeaders()): MsgHdrs {
  propagator.inject(ctx, carrier, headerSetter);
  return carrier;
}

/** Reads the W3C trace context from NATS headers; the root context when there is none. */
export function extractTraceContext(carrier: MsgHdrs | undefined): Context {
  return propagator.extract(ROOT_CONTEXT, carrier, headerGetter);
}

/** The trace id carried by NATS headers, if any. */
export function traceIdOf(carrier: MsgHdrs | undefined): string | undefined {
  return trace.getSpanContext(extractTraceContext(carrier))?.traceId;
}

const ids = new RandomIdGenerator();

/**
 * Starts a span. Without an exporter nothing would record it, so a non-recording span
 * is made instead: same trace id and flags as its parent, a fresh span id, a fraction of the cost.
 */
export function startSpan(tracing: Pick<Tracing, "tracer" | "recording">, name: string, options: SpanOptions, parent: Context): Span {
  if (tracing.recording) return tracing.tracer.startSpan(name, options, parent);
  const parentContext = trace.getSpanContext(parent);
  return trace.wrapSpanContext({
    traceId: parentContext?.traceId ?? ids.generateTraceId(),
    spanId: ids.generateSpanId(),
    traceFlags: parentContext?.traceFlags ?? TraceFlags.SAMPLED,
  });
}

export { context, ROOT_CONTEXT, trace };
