// Riding out the moments a replicated stream has no leader (just created, or its server died): JetStream requests that
// no server answered are retried, and idempotent setup calls are retried after a timeout too.

import type { JetStreamClient } from "@nats-io/jetstream";
import { RequestError, TimeoutError } from "@nats-io/nats-core";

/** An error and every error behind it (its `cause` chain, and each error of an AggregateError). */
function* reasons(error: unknown): Generator<Error> {
  if (!(error instanceof Error)) return;
  yield error;
  if (error instanceof AggregateError) for (const inner of error.errors) yield* reasons(inner);
  yield* reasons(error.cause);
}

/** Whether no server answered a JetStream request (no stream leader yet, or no interest on this server yet): nothing was stored. */
export function isUnanswered(error: unknown): boolean {
  return reasons(error).some((reason) => reason instanceof RequestError && reason.isNoResponders());
}

/** Whether a JetStream request failed in a way that asking again may fix: unanswered, or timed out. */
export function isTransient(error: unknown): boolean {
  return isUnanswered(error) || reasons(error).some((reason) => reason instanceof TimeoutError);
}

/** Runs `call` (idempotent: a stream add or info, a bucket create) up to `attempts` times while it fails transiently. */
export async function retryTransient<T>(call: () => Promise<T>, { attempts = 3, pauseMs = 250 }: { attempts?: number; pauseMs?: number } = {}): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw error;
      await Bun.sleep(pauseMs * attempt);
    }
  }
}

/**
 * Makes `js` retry a publish that no server answered, for up to `budgetMs`: a retry cannot store twice, so compare-and-set
 * writes (KV create and update) stay exact. A publish that timed out is not retried (it may have been stored).
 */
export function retryUnansweredPublishes(js: JetStreamClient, budgetMs: number): JetStreamClient {
  const publish = js.publish.bind(js);
  js.publish = async (...args) => {
    const deadline = Date.now() + budgetMs;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await publish(...args);
      } catch (error) {
        if (!isUnanswered(error) || Date.now() >= deadline) throw error;
        await Bun.sleep(Math.min(25 * 2 ** attempt, 400));
      }
    }
  };
  return js;
}
