import { describe, expect, test } from "bun:test";
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { NoRespondersError, RequestError, TimeoutError } from "@nats-io/nats-core";
import { isTransient, isUnanswered, retryTransient, retryUnansweredPublishes } from "./jetstream-retry.ts";

/** What nats.js throws for a JetStream publish nobody answered: JetStreamNotEnabled caused by a no-responders RequestError. */
const unanswered = () => new Error("jetstream is not enabled", { cause: new RequestError("no responders", { cause: new NoRespondersError("$KV.b.k") }) });
const ack: PubAck = { stream: "KV_b", seq: 1, duplicate: false, domain: "" } as PubAck;

/** A client whose publish fails with `failures` in turn, then acknowledges. */
function flakyClient(failures: Error[]): { js: JetStreamClient; calls: () => number } {
  let calls = 0;
  const js = {
    publish: async () => {
      const failure = failures[calls];
      calls += 1;
      if (failure) throw failure;
      return ack;
    },
  } as unknown as JetStreamClient;
  return { js, calls: () => calls };
}

describe("jetstream retry", () => {
  test("jetstream-retry - unanswered and timed-out requests are transient, anything else is not", () => {
    expect(isUnanswered(unanswered())).toBe(true);
    expect(isTransient(new AggregateError([new Error("stream name already in use"), new TimeoutError()]))).toBe(true);
    expect(isUnanswered(new TimeoutError())).toBe(false);
    expect(isTransient(new Error("wrong last sequence"))).toBe(false);
  });

  test("jetstream-retry - a publish nobody answered is sent again until a stream acknowledges it", async () => {
    const { js, calls } = flakyClient([unanswered(), unanswered()]);
    expect(await retryUnansweredPublishes(js, 5000).publish("$KV.b.k")).toEqual(ack);
    expect(calls()).toBe(3);
  });

  test("jetstream-retry - a publish that timed out is not sent again (it may have been stored)", async () => {
    const { js, calls } = flakyClient([new TimeoutError()]);
    await expect(retryUnansweredPublishes(js, 5000).publish("$KV.b.k")).rejects.toBeInstanceOf(TimeoutError);
    expect(calls()).toBe(1);
  });

  test("jetstream-retry - an unanswered publish gives up when its time is spent", async () => {
    const { js } = flakyClient(Array.from({ length: 100 }, unanswered));
    const started = Date.now();
    await expect(retryUnansweredPublishes(js, 300).publish("$KV.b.k")).rejects.toThrow("jetstream is not enabled");
    expect(Date.now() - started).toBeLessThan(1500);
  });

  test("jetstream-retry - an idempotent call is repeated after a timeout, at most the given times", async () => {
    let calls = 0;
    const call = async () => {
      calls += 1;
      if (calls < 3) throw new TimeoutError();
      return "done";
    };
    expect(await retryTransient(call, { pauseMs: 1 })).toBe("done");
    calls = -10;
    await expect(retryTransient(call, { attempts: 2, pauseMs: 1 })).rejects.toBeInstanceOf(TimeoutError);
    await expect(retryTransient(() => Promise.reject(new Error("permissions violation")), { pauseMs: 1 })).rejects.toThrow("permissions");
  });
});
