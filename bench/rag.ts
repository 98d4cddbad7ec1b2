// bun run bench:rag: the rag's HNSW index at 100k and 1M case vectors (build rate, bytes per vector, recall@10 against
// exact search in the same run, search latency), the real rag service over NATS (fed by events, and holding 1M cases),
// and the text path's retrieval quality on labelled questions. Writes bench/results/rag.json. Method: bench/README.md.
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import {
  CASE_DIMENSIONS,
  CaseStore,
  caseText,
  DEFAULT_HNSW,
  embedCase,
  Knowledge,
  loadTextEmbedder,
  readRunbooks,
  STORE_FILE,
  TEXT_EMBEDDERS,
  VectorIndex,
} from "@x0/rag";
import { type AnomalyKind, type CaseSituation, RAG_GROUP, RagCase } from "@x0/shared";
import { incidentEvents, type LabIncident, REPO_ROOT, startNatsServer, startServiceProcess } from "@x0/shared/testing";
import usearch, { type BatchMatches } from "usearch";
import questions from "./data/rag-questions.json" with { type: "json" };
import { ragLabScenario } from "./rag-lab.ts";
import { percentile } from "./stats.ts";

const SIZES = (process.env.X0_BENCH_RAG_SIZES ?? "100000,1000000").split(",").map(Number);
const QUERIES = Number(process.env.X0_BENCH_RAG_QUERIES ?? 2000);
const RECALL_QUERIES = Number(process.env.X0_BENCH_RAG_RECALL_QUERIES ?? 500);
const SERVICE_CASES = Number(process.env.X0_BENCH_RAG_SERVICE_CASES ?? 20_000);
const SEEDED_CASES = Number(process.env.X0_BENCH_RAG_SEEDED_CASES ?? 1_000_000);
/** expansion_search values tried on the same saved index (the candidate list's length when searching). */
const EXPANSIONS = (process.env.X0_BENCH_RAG_EXPANSIONS ?? "128,256,384,512").split(",").map(Number);
const loadAtStart = Number(loadavg()[0]?.toFixed(2));

// A deterministic generator, so two runs index the same vectors.
let seed = 42;
const random = () => {
  seed = (Math.imul(seed, 1_664_525) + 1_013_904_223) >>> 0;
  return seed / 2 ** 32;
};
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const KINDS: AnomalyKind[] = ["link_down", "link_degraded", "node_unreachable", "traffic_spike", "retransmit_storm"];
const NODES = 1024;

/** A random situation on a simulated mesh of 1,024 nodes, as the analyzer would report it. */
function situation(): CaseSituation {
  const kind = pick(KINDS);
  const a = 1 + Math.floor(random() * NODES);
  const b = 1 + ((a + Math.floor(random() * 4)) % NODES);
  const link = kind === "link_down" || kind === "link_degraded";
  const [x, y] = [`n${Math.min(a, b)}`, `n${Math.max(a, b)}`];
  const metric = link ? (kind === "link_down" ? "probe_silence_ms" : "probe_loss") : kind === "traffic_spike" ? "rx_packets_per_s" : "probe_silence_ms";
  return {
    kind,
    metric,
    score: random() * 30,
    target: link ? { type: "link", id: `link:${x}|${y}`, nodes: [x, y] } : { type: "node", id: `node:${x}`, nodes: [x] },
    evidence: [{ node: x, metric, observed: link && kind === "link_degraded" ? random() : 100 + random() * 400, ts: 0 }],
    degrees: [1 + Math.floor(random() * 6)],
  };
}

/** `count` case vectors back to back. */
function vectors(count: number): Float32Array {
  const all = new Float32Array(count * CASE_DIMENSIONS);
  for (let i = 0; i < count; i++) all.set(embedCase(situation()), i * CASE_DIMENSIONS);
  return all;
}

const rssMiB = () => process.memoryUsage().rss / 2 ** 20;

/** p50, p99 and max of durations in ms, to the microsecond. */
function percentiles(durations: number[]) {
  const sorted = [...durations].sort((a, b) => a - b);
  const round = (value: number | null) => (value === null ? null : Math.round(value * 1000) / 1000);
  return { n: sorted.length, p50_ms: round(percentile(sorted, 50)), p99_ms: round(percentile(sorted, 99)), max_ms: round(sorted.at(-1) ?? null) };
}

async function indexAt(size: number) {
  const data = vectors(size);
  const keys = BigUint64Array.from({ length: size }, (_, i) => BigInt(i));
  Bun.gc(true);
  const rssBefore = rssMiB();
  const index = new VectorIndex(CASE_DIMENSIONS);
  const started = performance.now();
  const batch = 10_000;
  for (let from = 0; from < size; from += batch)
    index.addMany(keys.subarray(from, from + batch), data.subarray(from * CASE_DIMENSIONS, (from + batch) * CASE_DIMENSIONS));
  const buildS = (performance.now() - started) / 1000;
  Bun.gc(true);
  const rssAfter = rssMiB();
  const dir = mkdtempSync(join(tmpdir(), "x0-bench-rag-"));
  const file = join(dir, "cases.usearch");
  const fileBytes = index.save(file);

  // Recall@10: HNSW against exact search over the same vectors, for the same queries.
  const recallQueries = Array.from({ length: RECALL_QUERIES }, () => embedCase(situation()));
  const flat = new Float32Array(RECALL_QUERIES * CASE_DIMENSIONS);
  recallQueries.forEach((query, i) => {
    flat.set(query, i * CASE_DIMENSIONS);
  });
  const exact = usearch.exactSearch(data, flat, CASE_DIMENSIONS, 10, usearch.MetricKind.Cos, 0) as BatchMatches;
  const recallOf = (searched: VectorIndex) => {
    let found = 0;
    let ties = 0;
    recallQueries.forEach((query, i) => {
      const truth = exact.get(i);
      const approximate = searched.search(query, 10);
      const keysFound = new Set(approximate.map((hit) => hit.key));
      const tenth = truth.distances[9] as number;
      // Strict: the exact top 10's keys. A key the HNSW missed still counts when it ties the 10th exact distance and
      // the HNSW's own 10th is as near (equal vectors are interchangeable).
      for (let j = 0; j < 10; j++) {
        if (keysFound.has(truth.keys[j] as bigint)) found++;
        else if (Math.abs((truth.distances[j] as number) - tenth) < 1e-6 && (approximate.at(-1)?.score ?? 0) >= 1 - tenth - 1e-6) {
          found++;
          ties++;
        }
      }
    });
    return { recall: Math.round((found / (RECALL_QUERIES * 10)) * 10_000) / 10_000, ties };
  };

  // Latency in process: one query at a time, as the service answers them.
  const queries = Array.from({ length: QUERIES }, () => embedCase(situation()));
  const latencyOf = (searched: VectorIndex) => {
    for (const query of queries.slice(0, 200)) searched.search(query, 10);
    const durations = queries.map((query) => {
      const t = performance.now();
      searched.search(query, 10);
      return performance.now() - t;
    });
    return percentiles(durations);
  };
  const { recall, ties } = recallOf(index);
  const latency = latencyOf(index);
  // The same graph searched with other candidate-list lengths: what recall each buys and what it costs.
  const expansions = EXPANSIONS.map((expansionSearch) => {
    const loaded = new VectorIndex(CASE_DIMENSIONS, { ...DEFAULT_HNSW, expansionSearch });
    loaded.load(file);
    return { expansion_search: expansionSearch, recall_at_10: recallOf(loaded).recall, search_in_process_ms: latencyOf(loaded) };
  });
  rmSync(dir, { recursive: true, force: true });
  return {
    vectors: size,
    dimensions: CASE_DIMENSIONS,
    build_s: Math.round(buildS * 100) / 100,
    build_vectors_per_s: Math.round(size / buildS),
    file_bytes: fileBytes,
    bytes_per_vector_file: Math.round(fileBytes / size),
    rss_growth_mib: Math.round(rssAfter - rssBefore),
    bytes_per_vector_rss: Math.round(((rssAfter - rssBefore) * 2 ** 20) / size),
    recall_at_10: recall,
    recall_ties_counted: ties,
    recall_queries: RECALL_QUERIES,
    search_in_process_ms: latency,
    expansion_search_sweep: expansions,
  };
}

/** The real rag process over NATS: cases ingested from X0_EVENTS, then `x0.rag.search` by situation, one at a time. */
async function overNats() {
  const nats = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), "x0-bench-rag-service-"));
  const rag = startServiceProcess("rag", { X0_NATS_SERVERS: nats.url, X0_RAG_DIR: dir, X0_LOG_LEVEL: "warn" });
  const nc = await connect({ servers: nats.url });
  try {
    await rag.waitReady(60_000);
    const started = performance.now();
    let published = 0;
    for (let i = 0; i < SERVICE_CASES; i++) {
      const s = situation();
      const incident: LabIncident = {
        kind: s.kind,
        ...(s.target?.type === "link" ? { link: s.target.nodes as [string, string] } : { node: s.target?.nodes[0] as string }),
        alternative: s.kind === "traffic_spike" ? "quarantine" : "reroute-around",
        outcome: random() < 0.8 ? "verified" : "rolled_back",
        at: Date.now() - 3_600_000,
      };
      for (const { subject, message } of incidentEvents(incident)) {
        nc.publish(subject, JSON.stringify(message));
        published++;
      }
      if (i % 500 === 0) await nc.flush();
    }
    await nc.flush();
    const stats = async () => (await nc.request(`${RAG_GROUP}.stats`, "{}", { timeout: 10_000 })).json<{ cases: number; last_indexed_seq: number }>();
    while ((await stats()).cases < SERVICE_CASES) await Bun.sleep(250);
    const ingestS = (performance.now() - started) / 1000;
    const bodies = Array.from({ length: QUERIES }, () => JSON.stringify({ case: situation(), k: 10, include: ["cases"] }));
    for (const body of bodies.slice(0, 200)) await nc.request(`${RAG_GROUP}.search`, body, { timeout: 5000 });
    const durations: number[] = [];
    for (const body of bodies) {
      const t = performance.now();
      await nc.request(`${RAG_GROUP}.search`, body, { timeout: 5000 });
      durations.push(performance.now() - t);
    }
    return {
      cases: SERVICE_CASES,
      events: published,
      ingest_s: Math.round(ingestS * 10) / 10,
      ingest_events_per_s: Math.round(published / ingestS),
      search_over_nats_ms: percentiles(durations),
    };
  } finally {
    await nc.close();
    await rag.stop();
    await nats.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

const ALTERNATIVES: Record<AnomalyKind, string> = {
  link_down: "reroute-around",
  link_degraded: "raise-cost",
  node_unreachable: "reroute-around",
  traffic_spike: "quarantine",
  retransmit_storm: "raise-cost",
} as Record<AnomalyKind, string>;

/** A finished case as the rag assembles it from an incident's events, around a random situation. */
function syntheticCase(index: number): RagCase {
  const s = situation();
  const openedAt = 1_767_225_600_000 + index * 1000;
  const planId = crypto.randomUUID();
  const alternative = ALTERNATIVES[s.kind] ?? "reroute-around";
  const verified = random() < 0.8;
  const mttr = 100 + Math.round(random() * 400);
  return RagCase.parse({
    ...s,
    v: 1,
    incident_id: crypto.randomUUID(),
    severity: "critical",
    node: s.target?.nodes[0],
    observed: s.evidence?.[0]?.observed,
    opened_at: openedAt,
    onset_at: openedAt - 40,
    detected_at: openedAt,
    resolved_at: openedAt + mttr + 500,
    resolution: "cleared",
    states: 2,
    plans: [{ plan_id: planId, rule: `${s.kind}/${alternative}`, alternative, actions: ["route_replace", "route_replace"], created_at: openedAt + 20 }],
    results: [
      verified
        ? { plan_id: planId, status: "verified", finished_at: openedAt + mttr, applied_at: openedAt + 60, verified_at: openedAt + mttr }
        : { plan_id: planId, status: "rolled_back", finished_at: openedAt + mttr, applied_at: openedAt + 60, detail: "verification failed: probes still lost" },
    ],
    outcome: verified ? "verified" : "rolled_back",
    alternative,
    mttd_ms: 40,
    mttr_ms: verified ? mttr + 40 : null,
    flags: [],
    first_seq: 1 + index * 4,
    last_seq: 4 + index * 4,
  });
}

/** Round trips to a responder that does nothing but answer `bytes` bytes: what any service over NATS costs here. */
async function echoFloor(url: string, bytes: number, count: number) {
  const responder = Bun.spawn([process.execPath, join(REPO_ROOT, "bench", "nats-echo.ts"), url, "bench.echo", String(bytes)], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const nc = await connect({ servers: url });
  try {
    await new Response(responder.stdout).body?.getReader().read();
    for (let i = 0; i < 200; i++) await nc.request("bench.echo", "{}", { timeout: 5000 });
    const durations: number[] = [];
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      await nc.request("bench.echo", "{}", { timeout: 5000 });
      durations.push(performance.now() - t);
    }
    return { ...percentiles(durations), reply_bytes: bytes };
  } finally {
    await nc.close();
    responder.kill();
    await responder.exited;
  }
}

/**
 * The real rag process holding `size` cases. Publishing 4 events per case would take longer than the rest of the bench,
 * so the case store is filled directly, as the service writes it, and the service builds its index from the store at
 * start (the path it takes when its index file is lost). Then `x0.rag.search` over NATS, by situation and by text.
 */
async function seededOverNats(size: number) {
  const nats = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), "x0-bench-rag-seeded-"));
  const env = { X0_NATS_SERVERS: nats.url, X0_RAG_DIR: dir, X0_LOG_LEVEL: "warn", X0_RAG_INDEX_SAVE_MS: "3600000" };
  // The first start creates X0_EVENTS and an empty store of that stream.
  let rag = startServiceProcess("rag", env);
  const nc = await connect({ servers: nats.url });
  try {
    await rag.waitReady(60_000);
    await rag.stop();
    const store = new CaseStore(join(dir, STORE_FILE));
    const seedStarted = performance.now();
    const batch = 10_000;
    for (let from = 0; from < size; from += batch) {
      store.transaction(() => {
        for (let i = from; i < Math.min(size, from + batch); i++) {
          const item = syntheticCase(i);
          store.put(item, true, caseText(item));
        }
      });
    }
    store.checkpoint();
    const seedS = (performance.now() - seedStarted) / 1000;
    const storeBytes = store.bytes();
    store.close();
    const startStarted = performance.now();
    rag = startServiceProcess("rag", env);
    await rag.waitReady(3_600_000);
    const startS = (performance.now() - startStarted) / 1000;
    const stats = (await nc.request(`${RAG_GROUP}.stats`, "{}", { timeout: 10_000 })).json<{ cases: number }>();
    if (stats.cases !== size) throw new Error(`the seeded rag reports ${stats.cases} cases, not ${size}`);
    const rssBytes = Number(
      (await (await fetch(`http://127.0.0.1:${rag.port}/metrics`)).text()).match(/^process_resident_memory_bytes(?:\{[^}]*\})? (\S+)$/m)?.[1] ?? Number.NaN,
    );
    // Round trip as the client sees it, and the part the service spent in its search (took_ms in the reply).
    let replyBytes = 0;
    const timed = async (bodies: string[]) => {
      for (const body of bodies.slice(0, 200)) await nc.request(`${RAG_GROUP}.search`, body, { timeout: 5000 });
      const durations: number[] = [];
      const inService: number[] = [];
      for (const body of bodies) {
        const t = performance.now();
        const reply = await nc.request(`${RAG_GROUP}.search`, body, { timeout: 5000 });
        durations.push(performance.now() - t);
        inService.push(reply.json<{ took_ms: number }>().took_ms);
        replyBytes += reply.data.length;
      }
      return { ...percentiles(durations), search_in_service: percentiles(inService), reply_bytes_mean: Math.round(replyBytes / bodies.length) };
    };
    const bySituation = await timed(Array.from({ length: QUERIES }, () => JSON.stringify({ case: situation(), k: 10, include: ["cases"] })));
    // The floor, on the same server and machine: a Bun process answering with a body of the same size, doing nothing.
    const floor = await echoFloor(nats.url, bySituation.reply_bytes_mean, QUERIES);
    replyBytes = 0;
    const byText = await timed(
      Array.from({ length: Math.min(QUERIES, 500) }, () => {
        const s = situation();
        return JSON.stringify({ text: `why does ${s.target?.nodes.join(" keep losing its link to ")} fail?`, k: 5, include: ["cases"] });
      }),
    );
    return {
      cases: size,
      seed_s: Math.round(seedS * 10) / 10,
      store_bytes: storeBytes,
      store_bytes_per_case: Math.round(storeBytes / size),
      start_s: Math.round(startS * 10) / 10,
      rss_mib: Math.round(rssBytes / 2 ** 20),
      search_over_nats_ms: bySituation,
      nats_round_trip_floor_ms: floor,
      text_search_over_nats_ms: byText,
    };
  } finally {
    await nc.close();
    await rag.stop();
    await nats.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Recall@3 (and @1) of each text embedder on the labelled questions about the shipped runbooks, by runbook file. */
async function textQuality() {
  const { sections } = readRunbooks(join(REPO_ROOT, "runbooks"));
  const results: Record<string, unknown> = {};
  for (const name of TEXT_EMBEDDERS) {
    const knowledge = new Knowledge(await loadTextEmbedder(name), new CaseStore(":memory:"));
    await knowledge.setRunbooks(sections);
    let atOne = 0;
    let atThree = 0;
    const misses: string[] = [];
    for (const { question, file } of questions.questions) {
      const { hits } = await knowledge.search({ text: question, k: 3, include: ["runbooks"], min_score: -1 });
      const files = hits.map((hit) => (hit.type === "runbook" ? hit.runbook.file : ""));
      if (files[0] === file) atOne++;
      if (files.includes(file)) atThree++;
      else misses.push(`${question} → ${files.join(", ")} (wanted ${file})`);
    }
    const n = questions.questions.length;
    results[name] = {
      identity: knowledge.embedders.text,
      recall_at_1: Math.round((atOne / n) * 1000) / 1000,
      recall_at_3: Math.round((atThree / n) * 1000) / 1000,
      misses,
    };
  }
  return { questions: questions.questions.length, sections: sections.length, by_embedder: results };
}

const index: Record<string, unknown> = {};
for (const size of SIZES) {
  process.stdout.write(`index at ${size} vectors…\n`);
  index[String(size)] = await indexAt(size);
  process.stdout.write(`${JSON.stringify(index[String(size)])}\n`);
}
process.stdout.write("the rag service over NATS…\n");
const service = await overNats();
process.stdout.write(`${JSON.stringify(service)}\n`);
process.stdout.write(`the rag service holding ${SEEDED_CASES} cases…\n`);
const seeded = SEEDED_CASES > 0 ? await seededOverNats(SEEDED_CASES) : { skipped: "X0_BENCH_RAG_SEEDED_CASES=0" };
process.stdout.write(`${JSON.stringify(seeded)}\n`);
const text = await textQuality();
process.stdout.write(`${JSON.stringify(text, null, 1)}\n`);
// The lab part needs root (namespaces, XDP); X0_BENCH_RAG_LAB=0 leaves it out.
const labWanted = process.env.X0_BENCH_RAG_LAB !== "0";
let lab: unknown = { skipped: labWanted ? "needs root" : "X0_BENCH_RAG_LAB=0" };
if (labWanted && process.getuid?.() === 0) {
  process.stdout.write("the lab: a recurring cut whose detour fails verification, with and without the rag…\n");
  lab = await ragLabScenario();
}

const result = {
  command: "bun run bench:rag",
  measured_at: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, load_at_start: loadAtStart, load_at_end: Number(loadavg()[0]?.toFixed(2)) },
  settings: {
    sizes: SIZES,
    queries: QUERIES,
    recall_queries: RECALL_QUERIES,
    service_cases: SERVICE_CASES,
    seeded_cases: SEEDED_CASES,
    expansions: EXPANSIONS,
    hnsw: { connectivity: DEFAULT_HNSW.connectivity, expansion_add: DEFAULT_HNSW.expansionAdd, expansion_search: DEFAULT_HNSW.expansionSearch },
  },
  index,
  service,
  seeded,
  text,
  lab,
};
await Bun.write(join(REPO_ROOT, "bench", "results", "rag.json"), `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write("wrote bench/results/rag.json\n");
