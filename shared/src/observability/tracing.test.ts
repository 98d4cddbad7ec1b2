import { describe, expect, test } from "bun:test";
import { ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { createTracing, extractTraceContext, injectTraceContext, traceIdOf } from "./tracing.ts";

describe("tracing", () => {
  test("tracing - trace context round-trips through NATS headers as W3C traceparent", async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = createTracing({ service: "t", version: "0", instance: "i", node: "n", exporter });
    const span = tracing.tracer.startSpan("send x", { kind: SpanKind.PRODUCER });
    const headers = injectTraceContext(trace.setSpan(ROOT_CONTEXT, span));
    span.end();
    expect(headers.get("traceparent")).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(traceIdOf(headers)).toBe(span.spanContext().traceId);
    expect(trace.getSpanContext(extractTraceContext(headers))?.spanId).toBe(span.spanContext().spanId);
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(["send x"]);
    await tracing.shutdown();
  });

  test("tracing - no headers give no trace id", () => {
    expect(traceIdOf(undefined)).toBeUndefined();
  });
});
