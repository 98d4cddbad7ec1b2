// Hello probes to configured neighbours (RTT and loss per peer), and the answering side for neighbours probing us.

import { X0Error } from "@x0/shared";
import type { udp } from "bun";
import { decodeHello, encodeHello, HelloType } from "./hello.ts";

/** A probe peer is not host:port. */
export class ProbePeerError extends X0Error {}

/** A peer to probe. */
export interface ProbePeer {
  host: string;
  port: number;
}

/** `<ipv4>[:<port>]`. */
export const PEER_PATTERN = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/;

/** Parses "10.0.0.2:7471" (or "10.0.0.2", with `defaultPort`). */
export function parsePeer(text: string, defaultPort: number): ProbePeer {
  const match = PEER_PATTERN.exec(text.trim());
  const port = match?.[2] === undefined ? defaultPort : Number(match[2]);
  if (!match?.[1] || port < 1 || port > 65535) throw new ProbePeerError(`probe peer ${JSON.stringify(text)} is not <ipv4>[:<port>]`);
  return { host: match[1], port };
}

/** Probe results of one peer. */
export interface PeerStats {
  peer: string;
  host: string;
  sent: number;
  received: number;
  /** Unanswered share of the resolved hellos in the window (0 when none resolved yet). */
  loss: number;
  rttMs: number | null;
  rttAvgMs: number | null;
  /** Epoch ms of the latest reply; null before the first. */
  lastReplyTs: number | null;
  /** Mean and standard deviation of the time between consecutive replies over the window (phi-accrual's history). */
  replyIntervalMeanMs: number | null;
  replyIntervalStddevMs: number | null;
}

interface PeerState extends ProbePeer {
  id: string;
  seq: number;
  sent: number;
  received: number;
  /** seq → send time (monotonic ms) of hellos awaiting a reply. */
  pending: Map<number, number>;
  /** Resolved hellos, oldest first: RTT in ms, or null for lost. */
  window: (number | null)[];
  lastRttMs: number | null;
  /** Monotonic ms of the latest reply. */
  lastReplyAt: number | null;
  /** Times between consecutive replies (ms), oldest first, at most `window` of them. */
  gaps: number[];
}

/** Options of a {@link Prober}. */
export interface ProberOptions {
  peers: ProbePeer[];
  /** UDP port hellos are answered on (and sent from). */
  port: number;
  /** Address to bind; all by default. */
  host?: string;
  intervalMs: number;
  timeoutMs: number;
  /** Resolved hellos kept per peer for loss and mean RTT. */
  window: number;
  /** Monotonic clock in ms (injectable for tests). */
  now?: () => number;
  /** Called when a hello cannot be sent (it counts as lost). */
  onSendError?: (peer: string, error: unknown) => void;
  /** A peer is overdue once its latest reply is older than this (0: never), and reported for `overdueReportForMs` more. */
  overdueAfterMs?: number;
  overdueReportForMs?: number;
  /** Called after a round of hellos with the peers that are overdue now, when there are any. */
  onOverdue?: (overdue: PeerStats[]) => void;
}

/** Sends hellos every interval and answers others' hellos on the same socket. */
export class Prober {
  private readonly peers: PeerState[];
  private readonly now: () => number;
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastTickAt: number | undefined;

  private constructor(
    private readonly socket: udp.Socket<"buffer">,
    private readonly options: ProberOptions,
  ) {
    this.now = options.now ?? (() => performance.now());
    this.peers = options.peers.map((peer) => ({
      ...peer,
      id: `${peer.host}:${peer.port}`,
      seq: 0,
      sent: 0,
      received: 0,
      pending: new Map(),
      window: [],
      lastRttMs: null,
      lastReplyAt: null,
      gaps: [],
    }));
  }

  /** Binds the UDP port and starts probing (hellos every `intervalMs`). */
  static async start(options: ProberOptions): Promise<Prober> {
    let prober: Prober | undefined;
    const socket = await Bun.udpSocket({
      port: options.port,
      hostname: options.host ?? "0.0.0.0",
      socket: {
        data: (sock, data, port, address) => prober?.receive(sock, data, port, address),
        // Errors queued by ICMP (e.g. port unreachable) surface here; the hello they belong to times out as lost.
        error: () => {},
      },
    });
    prober = new Prober(socket, options);
    if (options.peers.length > 0) {
      prober.timer = setInterval(() => prober?.tick(), options.intervalMs);
      prober.tick();
    }
    return prober;
  }

  /** The bound port. */
  get port(): number {
    return this.socket.port;
  }

  private receive(sock: udp.Socket<"buffer">, data: Buffer, port: number, address: string): void {
    const hello = decodeHello(data);
    if (!hello) return;
    if (hello.type === HelloType.HELLO) {
      sock.send(encodeHello({ ...hello, type: HelloType.REPLY, repliedMs: this.now() }), port, address);
      return;
    }
    const peer = this.peers.find((p) => p.host === address && p.port === port);
    const sentAt = peer?.pending.get(hello.seq);
    if (!peer || sentAt === undefined) return; // late (already counted lost) or unknown
    peer.pending.delete(hello.seq);
    const now = this.now();
    const rtt = now - sentAt;
    if (peer.lastReplyAt !== null) {
      peer.gaps.push(now - peer.lastReplyAt);
      if (peer.gaps.length > this.options.window) peer.gaps.shift();
    }
    peer.lastReplyAt = now;
    peer.received++;
    peer.lastRttMs = rtt;
    this.resolve(peer, rtt);
  }

  private resolve(peer: PeerState, result: number | null): void {
    peer.window.push(result);
    if (peer.window.length > this.options.window) peer.window.shift();
  }

  /** Expires unanswered hellos and sends the next one to each peer. */
  tick(): void {
    const now = this.now();
    for (const peer of this.peers) {
      for (const [seq, sentAt] of peer.pending) {
        if (now - sentAt < this.options.timeoutMs) continue;
        peer.pending.delete(seq);
        this.resolve(peer, null);
      }
      peer.seq = (peer.seq + 1) >>> 0;
      const seq = peer.seq;
      peer.sent++;
      try {
        this.socket.send(encodeHello({ type: HelloType.HELLO, seq, sentMs: now, repliedMs: 0 }), peer.port, peer.host);
        peer.pending.set(seq, now);
      } catch (error) {
        // No route (e.g. the link is down): the hello is lost now rather than after the timeout.
        this.resolve(peer, null);
        this.options.onSendError?.(peer.id, error);
      }
    }
    this.reportOverdue(now);
  }

  /** Hands the overdue peers to `onOverdue`: silent longer than `overdueAfterMs`, for at most `overdueReportForMs` more. */
  private reportOverdue(now: number): void {
    const { overdueAfterMs = 0, overdueReportForMs = 0, onOverdue } = this.options;
    const late = this.lastTickAt !== undefined && now - this.lastTickAt > 2 * this.options.intervalMs;
    this.lastTickAt = now;
    // A tick far behind schedule means this process stalled: replies may wait unread in the socket, so the silence
    // may be ours. The next tick, after they are read, judges.
    if (overdueAfterMs <= 0 || !onOverdue || late) return;
    const overdue = this.peers.filter((peer) => {
      if (peer.lastReplyAt === null) return false;
      const silence = now - peer.lastReplyAt;
      return silence > overdueAfterMs && silence <= overdueAfterMs + overdueReportForMs;
    });
    if (overdue.length === 0) return;
    // Both clocks read now: `now` was taken when the tick began, and a late tick would shift every stamp by its delay.
    const epochOffset = Date.now() - this.now();
    onOverdue(overdue.map((peer) => this.statsOf(peer, epochOffset)));
  }

  /** Current results per peer. */
  stats(): PeerStats[] {
    // Monotonic → epoch once per call: replies are stamped with the monotonic clock, which never jumps.
    const epochOffset = Date.now() - this.now();
    return this.peers.map((peer) => this.statsOf(peer, epochOffset));
  }

  private statsOf(peer: PeerState, epochOffset: number): PeerStats {
    const answered = peer.window.filter((r): r is number => r !== null);
    const gapMean = peer.gaps.length === 0 ? null : peer.gaps.reduce((a, b) => a + b, 0) / peer.gaps.length;
    const gapStddev = gapMean === null ? null : Math.sqrt(peer.gaps.reduce((sum, gap) => sum + (gap - gapMean) ** 2, 0) / peer.gaps.length);
    return {
      lastReplyTs: peer.lastReplyAt === null ? null : Math.round(peer.lastReplyAt + epochOffset),
      replyIntervalMeanMs: gapMean,
      replyIntervalStddevMs: gapStddev,
      peer: peer.id,
      host: peer.host,
      sent: peer.sent,
      received: peer.received,
      loss: peer.window.length === 0 ? 0 : 1 - answered.length / peer.window.length,
      rttMs: answered.length === 0 ? null : peer.lastRttMs,
      rttAvgMs: answered.length === 0 ? null : answered.reduce((a, b) => a + b, 0) / answered.length,
    };
  }

  /** Stops probing and closes the socket. */
  close(): void {
    clearInterval(this.timer);
    this.socket.close();
  }
}
