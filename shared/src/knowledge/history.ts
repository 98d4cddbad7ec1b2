// The MAPE-K history kept in X0_EVENTS, read back in order: what `x0 incidents`, the heal benchmark and the tests inspect.
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { ActionResult, Anomaly, Plan } from "../contracts/schemas.ts";
import { contracts, EVENTS_STREAM, SUBJECT_ROOT } from "../contracts/subjects.ts";
import { NatsSetupError } from "../errors.ts";

/** Incident states, plans and results from the stream (invalid messages are counted, not returned). */
export interface EventHistory {
  anomalies: Anomaly[];
  plans: Plan[];
  results: ActionResult[];
  invalid: number;
}

/** Reads every X0_EVENTS message stored since `sinceMs` (epoch ms) with an ordered consumer. */
export async function readEventHistory(nc: NatsConnection, { sinceMs }: { sinceMs: number }): Promise<EventHistory> {
  const history: EventHistory = { anomalies: [], plans: [], results: [], invalid: 0 };
  const js = jetstream(nc);
  let consumer: Awaited<ReturnType<typeof js.consumers.get>>;
  try {
    consumer = await js.consumers.get(EVENTS_STREAM, { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(sinceMs).toISOString() });
  } catch (error) {
    throw new NatsSetupError(`cannot read stream ${EVENTS_STREAM}`, { cause: error });
  }
  const info = await consumer.info(true);
  let remaining = info.num_pending;
  if (remaining === 0) return history;
  const messages = await consumer.consume();
  for await (const message of messages) {
    const kind = message.subject.split(".")[1];
    const contract = kind === contracts.anomaly.name ? contracts.anomaly : kind === contracts.plan.name ? contracts.plan : contracts.action;
    const parsed = message.subject.startsWith(`${SUBJECT_ROOT}.`) ? contract.schema.safeParse(safeJson(message.data)) : undefined;
    if (!parsed?.success) history.invalid++;
    else if (contract === contracts.anomaly) history.anomalies.push(parsed.data as Anomaly);
    else if (contract === contracts.plan) history.plans.push(parsed.data as Plan);
    else history.results.push(parsed.data as ActionResult);
    remaining = message.info.pending;
    if (remaining === 0) break;
  }
  await messages.close();
  return history;
}

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined; // counted as invalid by the caller's schema check
  }
}
