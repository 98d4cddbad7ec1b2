// The OpenTelemetry Node SDK, configured by the standard OTEL_* variables. Only tracing.ts imports this module, and only
// when tracing is on: the SDK brings every exporter (OTLP gRPC/HTTP/proto, Zipkin, Prometheus) and costs ~55 ms to load.
import { type Attributes, type Tracer, trace } from "@opentelemetry/api";
import {
  defaultResource,
  hostDetector,
  osDetector,
  processDetector,
  resourceAttributesEnvDetector,
  resourceFromAttributes,
  serviceNameEnvDetector,
} from "@opentelemetry/resources";
import { NodeSDK } from "@opentelemetry/sdk-node";

/** A started SDK: the tracer to use and how to flush and stop it. */
export interface StartedSdk {
  tracer: Tracer;
  shutdown(): Promise<void>;
}

/**
 * Starts the Node SDK for traces only (metrics go through Prometheus, logs to stdout). `attributes` are the lowest-priority
 * resource attributes: the detectors (process, host, os) and then OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME override them.
 */
export function startSdk({ attributes, scope, version }: { attributes: Attributes; scope: string; version: string }): StartedSdk {
  const sdk = new NodeSDK({
    resource: defaultResource().merge(resourceFromAttributes(attributes)),
    // The SDK's default list adds a random service.instance.id over ours; OTEL_NODE_RESOURCE_DETECTORS still picks its own list.
    resourceDetectors: process.env.OTEL_NODE_RESOURCE_DETECTORS
      ? undefined
      : [processDetector, hostDetector, osDetector, resourceAttributesEnvDetector, serviceNameEnvDetector],
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return { tracer: trace.getTracer(scope, version), shutdown: () => sdk.shutdown() };
}
