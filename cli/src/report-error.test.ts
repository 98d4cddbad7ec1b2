import { describe, expect, test } from "bun:test";
import { X0Error } from "@x0/shared";
import { z } from "zod";
import { describeError } from "./report-error.ts";

class OuterError extends X0Error {}

describe("report-error", () => {
  test("report-error - lists the cause chain one per line", () => {
    const error = new OuterError("cannot start nats", { cause: new Error("spawn ENOENT") });
    expect(describeError(error)).toBe("cannot start nats\n  caused by: spawn ENOENT");
  });

  test("report-error - leaves out causes the message already says and zod issue dumps", () => {
    const zodError = z.number().safeParse("x").error;
    const error = new OuterError("Unknown option '--x'", { cause: new OuterError("bad", { cause: zodError }) });
    expect(describeError(new OuterError("Unknown option '--x'", { cause: new Error("Unknown option '--x'") }))).toBe("Unknown option '--x'");
    expect(describeError(error)).toBe("Unknown option '--x'\n  caused by: bad");
  });

  test("report-error - describes thrown non-errors", () => {
    expect(describeError("plain")).toBe("plain");
  });
});
