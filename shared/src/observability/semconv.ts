/** OpenTelemetry attribute names used by x0tta6bl4, in one place (messaging semantic conventions). */
export const Attr = {
  messagingSystem: "messaging.system",
  messagingOperationType: "messaging.operation.type",
  messagingOperationName: "messaging.operation.name",
  messagingDestinationName: "messaging.destination.name",
  messagingDestinationTemplate: "messaging.destination.template",
  messagingConsumerGroup: "messaging.consumer.group.name",
  messagingMessageId: "messaging.message.id",
  messagingBodySize: "messaging.message.body.size",
  serviceName: "service.name",
  serviceVersion: "service.version",
  serviceInstanceId: "service.instance.id",
  x0Node: "x0.node",
  x0IncidentId: "x0.incident.id",
  x0PlanId: "x0.plan.id",
  x0AnomalyKind: "x0.anomaly.kind",
} as const;

/** The messaging.system value for NATS. */
export const MESSAGING_SYSTEM_NATS = "nats";
