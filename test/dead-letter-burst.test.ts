// A burst of invalid messages in X0_EVENTS drains at the consumers' own pace: each is dead-lettered and terminated once
// (nats-server 2.9 ignores a `+TERM` carrying a reason, and such messages used to come back for ever), and a valid
// anomaly published right after 4,000 of them is planned within 5 s of the burst's end.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { jetstream } from "@nats-io/jetstream";
import { anomalyFixture, type EventRecorder, recordEvents, waitFor } from "@x0/shared/testing";
import { type SecureLoop, startSecureLoop } from "./helpers.ts";

const NODE = "burst";
let loop: SecureLoop;
let recorder: EventRecorder;

/** Dead letters a service counted for one subject template. */
async function deadLetters(port: number, template: string): Promise<number> {
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = metrics.split("\n").find((l) => l.startsWith(`x0_dlq_messages_total{subject="${template}"`));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

beforeAll(async () => {
  loop = await startSecureLoop(NODE);
  recorder = await recordEvents(loop.nc);
}, 60_000);

afterAll(async () => {
  await recorder?.stop();
  await loop?.stop();
});

describe("dead-letter burst", () => {
  test("burst - 4,000 invalid events are each dead-lettered once, and a valid anomaly right after them is planned within 5 s", async () => {
    const js = jetstream(loop.nc);
    // Bad JSON, wrong version and types, empty, 500-deep, 200 KB, and bytes that are not UTF-8.
    const invalid: (string | Uint8Array)[] = [
      "{not json",
      JSON.stringify({ v: 2 }),
      JSON.stringify({ v: 1, kind: 5 }),
      "",
      JSON.stringify({ v: 1, deep: JSON.parse(`${"[".repeat(500)}${"]".repeat(500)}`) }),
      JSON.stringify({ v: 1, big: "x".repeat(200_000) }),
      new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
    ];
    const subjects = [`x0.anomaly.${NODE}`, `x0.plan.${NODE}`, `x0.action.${NODE}`];
    for (let i = 0; i < 4000; i++) await js.publish(subjects[i % 3] as string, invalid[i % invalid.length] as string | Uint8Array);
    const burstEnd = Date.now();
    const anomaly = anomalyFixture({ node: NODE, kind: "link_down", opened_at: burstEnd, ts: burstEnd });
    await js.publish(`x0.anomaly.${NODE}`, JSON.stringify(anomaly));
    const planFor = () => recorder.plans.find((entry) => entry.message.incident_id === anomaly.incident_id);
    await waitFor("a plan for the valid anomaly", () => planFor() !== undefined, 20_000, 25);
    const plan = planFor();
    const planner = loop.services.find((service) => service.name === "planner");
    const executor = loop.services.find((service) => service.name === "executor");
    // Planned within the bound, measured from the burst's last publish to the plan's arrival at a subscriber.
    expect((plan?.at ?? Number.POSITIVE_INFINITY) - burstEnd).toBeLessThan(5000);
    // Each invalid message was dead-lettered once: 1,334 anomalies and 1,333 results by the planner, 1,333 plans by the
    // executor; counted again after a wait longer than nothing would come back sooner than (a nak'd or unterminated
    // message returns within the consumers' 1 s nak delay or their 30 s ack wait: the count must stay put).
    const expected = async () => [
      await deadLetters(planner?.port ?? 0, "x0.anomaly.{node}"),
      await deadLetters(planner?.port ?? 0, "x0.action.{node}"),
      await deadLetters(executor?.port ?? 0, "x0.plan.{node}"),
    ];
    await waitFor("every invalid message dead-lettered", async () => (await expected()).join() === "1334,1333,1333", 20_000, 100);
    await Bun.sleep(3000);
    expect(await expected()).toEqual([1334, 1333, 1333]);
  }, 90_000);
});
