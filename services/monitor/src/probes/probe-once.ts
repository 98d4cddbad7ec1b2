// An ad-hoc burst of hellos to one address from a fresh socket: the x0.probe.<node> endpoint (the executor's path check)
// and the lab's probes. Replies are matched by sequence number, so other traffic on the socket is ignored.
import type { ProbeRequest, ProbeResponse } from "@x0/shared";
import { decodeHello, encodeHello, HelloType } from "./hello.ts";

/** What one burst observed. */
export interface ProbeOutcome {
  sent: number;
  received: number;
  /** Round-trip times of the answered hellos, in reply order. */
  rttMs: number[];
}

/** Options of {@link probeOnce}. */
export interface ProbeOnceOptions {
  to: string;
  port: number;
  count: number;
  intervalMs: number;
  /** How long after the last hello replies are still awaited. */
  timeoutMs: number;
  /** Resolve at the first reply. */
  untilFirst: boolean;
}

/** Sends up to `count` hellos `intervalMs` apart and collects the replies. */
export async function probeOnce({ to, port, count, intervalMs, timeoutMs, untilFirst }: ProbeOnceOptions): Promise<ProbeOutcome> {
  const sentAt = new Map<number, number>();
  const outcome: ProbeOutcome = { sent: 0, received: 0, rttMs: [] };
  // Random first sequence: a late reply to an earlier burst on a recycled port is not taken for one of ours.
  const firstSeq = (Math.random() * 0x7fff_ffff) >>> 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const socket = await Bun.udpSocket({
    socket: {
      data(_sock, data) {
        const hello = decodeHello(data);
        const started = hello?.type === HelloType.REPLY ? sentAt.get(hello.seq) : undefined;
        if (hello === undefined || started === undefined) return;
        sentAt.delete(hello.seq);
        outcome.received++;
        outcome.rttMs.push(performance.now() - started);
        if (untilFirst) finish();
      },
      // ICMP errors (no route, port unreachable) surface here: the hello simply stays unanswered.
      error() {},
    },
  });
  const timers: ReturnType<typeof setTimeout>[] = [];
  try {
    for (let i = 0; i < count; i++) {
      timers.push(
        setTimeout(() => {
          const seq = (firstSeq + i) >>> 0;
          sentAt.set(seq, performance.now());
          outcome.sent++;
          try {
            socket.send(encodeHello({ type: HelloType.HELLO, seq, sentMs: performance.now(), repliedMs: 0 }), port, to);
          } catch {
            // Unreachable right now (no route): counted as sent and unanswered, which is what the caller asked to learn.
          }
        }, i * intervalMs),
      );
    }
    timers.push(setTimeout(finish, (count - 1) * intervalMs + timeoutMs));
    await done;
    return outcome;
  } finally {
    for (const timer of timers) clearTimeout(timer);
    socket.close();
  }
}

/** The x0.probe.<node> handler: a burst from inside this node to the request's address, at its port or `defaultPort`. */
export function probeResponder(node: string, defaultPort: number): (request: ProbeRequest) => Promise<ProbeResponse> {
  return async function answerProbe(request) {
    const outcome = await probeOnce({
      to: request.to,
      port: request.port ?? defaultPort,
      count: request.count,
      intervalMs: request.interval_ms,
      timeoutMs: request.timeout_ms,
      untilFirst: request.until_first,
    });
    return { v: 1, node, to: request.to, sent: outcome.sent, received: outcome.received, rtt_ms: outcome.rttMs };
  };
}
