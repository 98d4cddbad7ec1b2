import { describe, expect, test } from "bun:test";
import {
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_TEMPLATE,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
  MESSAGING_OPERATION_TYPE_VALUE_SEND,
} from "@opentelemetry/semantic-conventions/incubating";
import { Attr } from "./semconv.ts";

describe("semconv", () => {
  test("semconv - the copied messaging names are the semantic conventions' own", () => {
    expect(Attr.messagingSystem).toBe(ATTR_MESSAGING_SYSTEM);
    expect(Attr.messagingOperationType).toBe(ATTR_MESSAGING_OPERATION_TYPE);
    expect(Attr.messagingOperationName).toBe(ATTR_MESSAGING_OPERATION_NAME);
    expect(Attr.messagingDestinationName).toBe(ATTR_MESSAGING_DESTINATION_NAME);
    expect(Attr.messagingDestinationTemplate).toBe(ATTR_MESSAGING_DESTINATION_TEMPLATE);
    expect(Attr.messagingConsumerGroup).toBe(ATTR_MESSAGING_CONSUMER_GROUP_NAME);
    expect(Attr.messagingMessageId).toBe(ATTR_MESSAGING_MESSAGE_ID);
    expect(Attr.messagingBodySize).toBe(ATTR_MESSAGING_MESSAGE_BODY_SIZE);
  });

  test("semconv - the bus's operation types (send, process) are standard values", () => {
    expect([MESSAGING_OPERATION_TYPE_VALUE_SEND, MESSAGING_OPERATION_TYPE_VALUE_PROCESS]).toEqual(["send", "process"]);
  });

  test("semconv - only x0.* names are our own", () => {
    const own = Object.values(Attr).filter((name) => !name.startsWith("messaging.") && !name.startsWith("service."));
    expect(own.every((name) => name.startsWith("x0."))).toBe(true);
  });
});
