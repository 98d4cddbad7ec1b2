import { describe, expect, test } from "bun:test";
import { X0Error } from "../errors.ts";
import { createLogger, RateLimiter } from "./logger.ts";

describe("logger", () => {
  test("logger - writes one JSON object per line with service and node, above the level", () => {
    const lines: string[] = [];
    const logger = createLogger({ service: "svc", node: "n1", level: "info", write: (line) => lines.push(line) });
    logger.debug("hidden");
    logger.child({ incident_id: "i" }).warn("shown", { error: new X0Error("outer", { cause: new Error("inner") }) });
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] as string);
    expect(line).toMatchObject({ level: "warn", service: "svc", node: "n1", msg: "shown", incident_id: "i" });
    expect(line.error).toEqual({ name: "X0Error", message: "outer", cause: { name: "Error", message: "inner" } });
  });

  test("logger - the rate limiter lets a burst through, then counts what it suppressed", () => {
    let now = 0;
    const limiter = new RateLimiter(2, 1000, () => now);
    expect([limiter.take("k"), limiter.take("k"), limiter.take("k"), limiter.take("k")]).toEqual([0, 0, -1, -1]);
    expect(limiter.take("other")).toBe(0);
    now = 1000;
    expect(limiter.take("k")).toBe(2);
  });
});
