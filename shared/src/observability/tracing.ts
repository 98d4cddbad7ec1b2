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
import { resourceFromAttributes } from "@opentelemetry/resources";
import { RandomIdGenerator, SimpleSpanProcessor, type SpanExporter, type SpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { type OtelConfig, tracingEnabled } from "./otel-config.ts";
import { Attr } from "./semconv.ts";

/** Tracing for one service: its tracer and how to flush it. */
export interface Tracing {
  tracer: Tracer;
  /** Whether spans go anywhere; when not, {@link startSpan} makes cheap non-recording spans. */
  recording: boolean;
  shutdown(): Promise<void>;
}

/** Options of {@link createTracing}. */
export interface TracingOptions {
  service: string;
  version: string;
  instance: string;
  node: string;
  /** An exporter to send spans to, synchronously: an in-memory one in tests. Without one, nothing is recorded. */
  exporter?: SpanExporter;
}

/** The resource attributes x0tta6bl4 sets itself; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override them. */
function resourceAttributesOf({ service, version, instance, node }: TracingOptions): Record<string, string> {
  return {
    [Attr.serviceName]: `x0-${service}`,
    [Attr.serviceVersion]: version,
    [Attr.serviceInstanceId]: instance,
    [Attr.x0Node]: node,
  };
}

/**
 * Creates a tracer without the OpenTelemetry SDK: spans go to `exporter` when one is given, else are not recorded
 * (trace ids still flow through NATS headers and logs). Services use {@link startTracing}, which adds the SDK when configured.
 */
export function createTracing(options: TracingOptions): Tracing {
  const spanProcessors: SpanProcessor[] = options.exporter ? [new SimpleSpanProcessor({ exporter: options.exporter })] : [];
  const provider = new TracerProvider({ resource: resourceFromAttributes(resourceAttributesOf(options)), spanProcessors });
  propagation.setGlobalPropagator(propagator);
  // So the active span (and its trace id in logs) follows async handler code.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  return {
    tracer: provider.getTracer(`x0-${options.service}`, options.version),
    recording: spanProcessors.length > 0,
    shutdown: () => provider.shutdown(),
  };
}

/**
 * Starts a service's tracing from its OTEL_* settings: the OpenTelemetry Node SDK when an exporter is configured
 * and OTEL_SDK_DISABLED is not true, else {@link createTracing}. The SDK reads the variables from process.env itself.
 */
export async function startTracing(options: TracingOptions & { config: OtelConfig }): Promise<Tracing> {
  // An in-memory exporter (tests running a service in-process) takes the place of the SDK.
  if (options.exporter || !tracingEnabled(options.config)) return createTracing(options);
  // Imported only now: loading the SDK and its exporters adds ~55 ms to a start (45-80 ms, 2 cores), starting it ~5 ms.
  const { startSdk } = await import("./sdk.ts");
  const sdk = startSdk({ attributes: resourceAttributesOf(options), scope: `x0-${options.service}`, version: options.version });
  return { tracer: sdk.tracer, recording: true, shutdown: sdk.shutdown };
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
