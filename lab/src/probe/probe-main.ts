// The lab's prober process, run inside a node's namespace by LabProber (prober.ts): hellos every interval to a service
// address, answered by that node's monitor; one JSON line per event on stdout (see outage.ts), until SIGTERM or SIGINT.
// usage: bun probe-main.ts --from n1 --to n9 --address 10.255.0.9 [--port 7471] [--interval-ms 10] [--summary-ms 1000]
import { parseArgs } from "node:util";
import { HELLO_PORT } from "../kernel/commands.ts";
import { decodeHello, encodeHello, HelloType } from "../monitor-api.ts";
import { OutageTracker, type ProbeEvent } from "./outage.ts";
import { parseProbeScriptArgs } from "./probe-options.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    from: { type: "string" },
    to: { type: "string" },
    address: { type: "string" },
    port: { type: "string", default: String(HELLO_PORT) },
    "interval-ms": { type: "string", default: "10" },
    "summary-ms": { type: "string", default: "1000" },
  },
  strict: true,
});
const options = parseProbeScriptArgs(values);

const print = (event: ProbeEvent | { event: "start"; from: string; to: string; ts: number }) => process.stdout.write(`${JSON.stringify(event)}\n`);
const tracker = new OutageTracker({ from: options.from, to: options.to, intervalMs: options.intervalMs, startedAt: Date.now() });
/** seq → monotonic send time of hellos awaiting a reply; old ones are dropped so the map stays small through long outages. */
const pending = new Map<number, number>();
const PENDING_LIMIT = 4096;
let seq = 0;

const socket = await Bun.udpSocket({
  port: 0,
  socket: {
    data(_socket, data) {
      const hello = decodeHello(data);
      if (hello?.type !== HelloType.REPLY) return;
      const sentAt = pending.get(hello.seq);
      if (sentAt === undefined) return;
      pending.delete(hello.seq);
      const restored = tracker.reply(Date.now(), performance.now() - sentAt);
      if (restored) print(restored);
    },
    // ICMP errors (unreachable while a path is cut) arrive here; the hello simply goes unanswered.
    error() {},
  },
});

print({ event: "start", from: options.from, to: options.to, ts: Date.now() });
const sendTimer = setInterval(() => {
  const outage = tracker.tick(Date.now());
  if (outage) print(outage);
  seq = (seq + 1) >>> 0;
  const now = performance.now();
  pending.set(seq, now);
  if (pending.size > PENDING_LIMIT) pending.delete(pending.keys().next().value as number);
  tracker.sent();
  try {
    socket.send(encodeHello({ type: HelloType.HELLO, seq, sentMs: now, repliedMs: 0 }), options.port, options.address);
  } catch {
    // No route or neighbour while the path is broken: counted as sent and unanswered, which is what happened.
  }
}, options.intervalMs);
const summaryTimer = setInterval(() => print(tracker.summary(Date.now())), options.summaryMs);

const finish = () => {
  clearInterval(sendTimer);
  clearInterval(summaryTimer);
  print(tracker.summary(Date.now()));
  socket.close();
  process.exit(0);
};
process.once("SIGTERM", finish);
process.once("SIGINT", finish);
