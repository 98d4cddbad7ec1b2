// bun run bench:loop: raw NATS baseline, analyzer ingest throughput and MAPE-K loop latency, measured in one run.
// Writes bench/results/loop.json. Method and knobs: bench/README.md.
import { cpus } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import type { Telemetry } from "@x0/shared";
import { type ServiceProcess, startNatsServer, startServiceProcess, waitFor } from "@x0/shared/testing";

const RAW_MESSAGES = 200_000;
const INGEST_NODES = Number(process.env.X0_BENCH_INGEST_NODES ?? 100);
const INGEST_SAMPLES_PER_NODE = 1_000;
const LOOP_INCIDENTS = Number(process.env.X0_BENCH_LOOP_INCIDENTS ?? 500);
/** Incidents run first and not counted: JIT warm-up and first-use paths in every process. */
const LOOP_WARMUP_INCIDENTS = 20;
const WARMUP = 5;
const BATCH = 1_000;
const zero = { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 };

/** A realistic sample: two interfaces with steady counters growing at 1 kB/s; `down` takes mesh0 down (one link_down). */
function sample(node: string, i: number, down = false): Telemetry {
  const grow = { ...zero, rx_bytes: i * 1000, tx_bytes: i * 900, rx_packets: i * 10, tx_packets: i * 9 };
  return {
    v: 1,
    node,
    ts: 1_700_000_000_000 + i * 1000,
    seq: i,
    interval_ms: 1000,
    source: "sysfs",
    ebpf: false,
    interfaces: [
      { name: "mesh0", operstate: down ? "down" : "up", counters: grow },
      { name: "mesh1", operstate: "up", counters: grow },
    ],
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const nats = await startNatsServer();
const services: ServiceProcess[] = [];
try {
  const publisher = await connect({ servers: nats.url, name: "bench-publisher" });
  const payload = new TextEncoder().encode(JSON.stringify(sample("bench", 1)));

  // 1. Baseline: raw NATS pub→sub with the same client library, same payload size.
  const subscriber = await connect({ servers: nats.url, name: "bench-subscriber" });
  let received = 0;
  const allReceived = Promise.withResolvers<void>();
  subscriber.subscribe("bench.raw", {
    callback: () => {
      received += 1;
      if (received === RAW_MESSAGES) allReceived.resolve();
    },
  });
  await subscriber.flush();
  const rawStart = performance.now();
  for (let i = 0; i < RAW_MESSAGES; i++) {
    publisher.publish("bench.raw", payload);
    if (i % BATCH === 0) await publisher.flush();
  }
  await allReceived.promise;
  const rawSeconds = (performance.now() - rawStart) / 1000;
  const rawRate = RAW_MESSAGES / rawSeconds;
  await subscriber.close();

  // 2. Analyzer ingest: a real analyzer process validating and analysing every sample.
  const common = { X0_NATS_SERVERS: nats.url, X0_NODE: "bench", X0_LOG_LEVEL: "warn" };
  const analyzer = startServiceProcess("analyzer", { ...common, X0_ANALYZER_WARMUP_SAMPLES: String(WARMUP), X0_ANALYZER_SILENCE_INTERVALS: "1000000" });
  services.push(analyzer, startServiceProcess("planner", common), startServiceProcess("executor", { ...common, X0_EXECUTOR_SCOPE: "all" }));
  await Promise.all(services.map((service) => service.waitReady()));
  const analyzed = async () =>
    ((await (await fetch(`http://127.0.0.1:${analyzer.port}/status`)).json()) as { counters: { telemetry_samples: number } }).counters.telemetry_samples;
  const ingestTotal = INGEST_NODES * INGEST_SAMPLES_PER_NODE;
  const encoded = Array.from({ length: INGEST_SAMPLES_PER_NODE }, (_, i) =>
    Array.from({ length: INGEST_NODES }, (_, n) => new TextEncoder().encode(JSON.stringify(sample(`ingest${n}`, i)))),
  );
  const ingestStart = performance.now();
  let sent = 0;
  for (const round of encoded) {
    for (const [n, data] of round.entries()) publisher.publish(`x0.telemetry.ingest${n}`, data);
    sent += round.length;
    // Flow control so the analyzer is measured, not the client's buffers or slow-consumer drops.
    if (sent % (BATCH * 5) === 0) {
      await publisher.flush();
      while (sent - (await analyzed()) > BATCH * 20) await Bun.sleep(10);
    }
  }
  await publisher.flush();
  await waitFor("analyzer ingest", async () => (await analyzed()) >= ingestTotal, 300_000, 10);
  const ingestSeconds = (performance.now() - ingestStart) / 1000;
  const ingestRate = ingestTotal / ingestSeconds;

  // 3. Loop latency: breaching sample published → executor result received, one incident at a time.
  const listener = await connect({ servers: nats.url, name: "bench-listener" });
  const latencies: number[] = [];
  // Phases as seen by a subscriber: breach→anomaly (analyze), anomaly→plan (plan), plan→result (execute).
  const phases: Record<"analyze" | "plan" | "execute", number[]> = { analyze: [], plan: [], execute: [] };
  for (let incident = 0; incident < LOOP_WARMUP_INCIDENTS + LOOP_INCIDENTS; incident++) {
    const node = `loop${incident}`;
    for (let i = 0; i <= WARMUP; i++) publisher.publish(`x0.telemetry.${node}`, JSON.stringify(sample(node, i)));
    await publisher.flush();
    await waitFor("warm-up analysed", async () => (await analyzed()) >= ingestTotal + (incident + 1) * (WARMUP + 1), 10_000, 2);
    const arrivals: Record<"anomaly" | "plan" | "action", PromiseWithResolvers<number>> = {
      anomaly: Promise.withResolvers(),
      plan: Promise.withResolvers(),
      action: Promise.withResolvers(),
    };
    const subscriptions = (["anomaly", "plan", "action"] as const).map((kind) =>
      listener.subscribe(`x0.${kind}.${node}`, { max: 1, callback: () => arrivals[kind].resolve(performance.now()) }),
    );
    await listener.flush();
    const breach = JSON.stringify(sample(node, WARMUP + 1, true));
    const start = performance.now();
    publisher.publish(`x0.telemetry.${node}`, breach);
    const timeout = Bun.sleep(10_000).then(() => Number.NaN);
    const [anomalyAt, planAt, actionAt] = await Promise.all(
      (["anomaly", "plan", "action"] as const).map((kind) => Promise.race([arrivals[kind].promise, timeout])),
    );
    for (const subscription of subscriptions) subscription.unsubscribe();
    if (actionAt === undefined || Number.isNaN(actionAt)) throw new Error(`no result for incident ${incident} within 10 s`);
    if (incident < LOOP_WARMUP_INCIDENTS) continue;
    latencies.push(actionAt - start);
    phases.analyze.push((anomalyAt as number) - start);
    phases.plan.push((planAt as number) - (anomalyAt as number));
    phases.execute.push(actionAt - (planAt as number));
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  if (process.env.X0_BENCH_DEBUG) {
    const worst = latencies
      .map((total, i) => ({ i, total, a: phases.analyze[i], p: phases.plan[i], e: phases.execute[i] }))
      .sort((x, y) => y.total - x.total)
      .slice(0, 12);
    console.error(JSON.stringify(worst.map((w) => [w.i, w.total, w.a, w.p, w.e].map((v) => Math.round((v as number) * 100) / 100))));
  }
  const loop = {
    incidents: LOOP_INCIDENTS,
    warmup_incidents_discarded: LOOP_WARMUP_INCIDENTS,
    p50_ms: percentile(sorted, 50),
    p95_ms: percentile(sorted, 95),
    p99_ms: percentile(sorted, 99),
    max_ms: sorted.at(-1) as number,
    phases_ms: Object.fromEntries(
      Object.entries(phases).map(([phase, values]) => {
        const phaseSorted = [...values].sort((a, b) => a - b);
        return [phase, { p50: percentile(phaseSorted, 50), p99: percentile(phaseSorted, 99) }];
      }),
    ),
  };

  const natsVersion = (await Bun.$`nats-server --version`.text()).trim();
  const results = {
    measured_at: new Date().toISOString(),
    command: "bun run bench:loop",
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, bun: Bun.version, nats_server: natsVersion },
    raw_nats: { messages: RAW_MESSAGES, payload_bytes: payload.byteLength, seconds: rawSeconds, msgs_per_s: Math.round(rawRate) },
    analyzer_ingest: {
      samples: ingestTotal,
      seconds: ingestSeconds,
      msgs_per_s: Math.round(ingestRate),
      ratio_to_raw: Number((ingestRate / rawRate).toFixed(4)),
    },
    loop_latency: loop,
    targets: { analyzer_ingest_ratio_min: 0.1, loop_p99_ms_max: 5 },
    meets_targets: { analyzer_ingest: ingestRate / rawRate >= 0.1, loop_p99: loop.p99_ms < 5 },
  };
  await Bun.write(join(import.meta.dir, "results", "loop.json"), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  await Promise.all([publisher.close(), listener.close()]);
} finally {
  await Promise.all(services.map((service) => service.stop()));
  await nats.dispose();
}
