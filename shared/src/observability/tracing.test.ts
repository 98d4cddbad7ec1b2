import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { createTracing, extractTraceContext, injectTraceContext, startSpan, traceIdOf } from "./tracing.ts";

/** Starts tracing in a fresh process with `env`: whether the SDK module got loaded, and whether spans are recorded. */
async function startInProcess(env: Record<string, string>): Promise<{ loaded: boolean; recording: boolean }> {
  const code = `
    import { loadConfig } from ${JSON.stringify(join(import.meta.dir, "..", "config", "config.ts"))};
    import { otelConfigShape } from ${JSON.stringify(join(import.meta.dir, "otel-config.ts"))};
    import { startTracing } from ${JSON.stringify(join(import.meta.dir, "tracing.ts"))};
    const tracing = await startTracing({ service: "t", version: "0", instance: "i", node: "n", config: loadConfig(otelConfigShape) });
    // Bun lists every loaded module, ES ones included, in require.cache.
    const loaded = Object.keys(require.cache).some((path) => path.includes("@opentelemetry/sdk-node"));
    await tracing.shutdown();
    console.log(JSON.stringify({ loaded, recording: tracing.recording }));
  `;
  const child = Bun.spawn([process.execPath, "-e", code], { env: { PATH: process.env.PATH ?? "", ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect(exitCode, stderr).toBe(0);
  return JSON.parse(stdout);
}

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

  test("tracing - without an exporter spans are non-recording but keep the parent's trace id", () => {
    const tracing = createTracing({ service: "t", version: "0", instance: "i", node: "n" });
    expect(tracing.recording).toBe(false);
    const parent = startSpan(tracing, "send x", {}, ROOT_CONTEXT);
    const child = startSpan(tracing, "process x", {}, trace.setSpan(ROOT_CONTEXT, parent));
    expect(child.isRecording()).toBe(false);
    expect(child.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(child.spanContext().spanId).not.toBe(parent.spanContext().spanId);
  });

  test("tracing - the OpenTelemetry SDK is loaded only with an exporter configured and OTEL_SDK_DISABLED not true", async () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" };
    expect(await startInProcess({})).toEqual({ loaded: false, recording: false });
    expect(await startInProcess({ ...endpoint, OTEL_SDK_DISABLED: "true" })).toEqual({ loaded: false, recording: false });
    expect(await startInProcess({ ...endpoint, OTEL_TRACES_EXPORTER: "none" })).toEqual({ loaded: false, recording: false });
    expect(await startInProcess(endpoint)).toEqual({ loaded: true, recording: true });
  }, 30_000);
});
