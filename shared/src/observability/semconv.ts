// OpenTelemetry attribute names used by x0tta6bl4, in one place. Stable names come from @opentelemetry/semantic-conventions;
// the messaging ones are still incubating there, so they are copied as its README recommends (semconv.test.ts checks the
// copies against the package's incubating entry point, whose 1 MB module services should not load at start).
import { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";

/** OpenTelemetry attribute names: standard ones (semantic conventions 1.45.0) and x0tta6bl4's own `x0.*`. */
export const Attr = {
  messagingSystem: "messaging.system",
  messagingOperationType: "messaging.operation.type",
  messagingOperationName: "messaging.operation.name",
  messagingDestinationName: "messaging.destination.name",
  messagingDestinationTemplate: "messaging.destination.template",
  messagingConsumerGroup: "messaging.consumer.group.name",
  messagingMessageId: "messaging.message.id",
  messagingBodySize: "messaging.message.body.size",
  serviceName: ATTR_SERVICE_NAME,
  serviceVersion: ATTR_SERVICE_VERSION,
  serviceInstanceId: ATTR_SERVICE_INSTANCE_ID,
  x0Node: "x0.node",
  x0IncidentId: "x0.incident.id",
  x0PlanId: "x0.plan.id",
  x0AnomalyKind: "x0.anomaly.kind",
} as const;

/** The messaging.system value for NATS (the conventions list no value for it, so custom values are allowed). */
export const MESSAGING_SYSTEM_NATS = "nats";
