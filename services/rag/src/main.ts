// Rag: the mesh's incident memory. Cases from X0_EVENTS in a SQLite store and a usearch HNSW index, runbook sections,
// asked over x0.rag.
// Not ready (and says why) when its text embedder cannot load: it never answers with vectors it did not compute.
import { Buckets, type Live, openBucket, runService } from "@x0/shared";
import pkg from "../package.json" with { type: "json" };
import { serveRag } from "./api/service.ts";
import { ragConfigShape } from "./config.ts";
import { loadTextEmbedder } from "./embed/text-embedders.ts";
import { decodeEvent, followEvents, positionConsumer, streamPosition } from "./ingest/follow.ts";
import { NotFound } from "./knowledge/errors.ts";
import type { TextEmbedder } from "./knowledge/knowledge.ts";
import { createRagMetrics } from "./metrics.ts";
import { readRunbooks, runbookSignature } from "./runbooks/runbooks.ts";
import { indexBytesOf, openKnowledge, saveIndex } from "./store/store.ts";
import { Degrees, watchDegrees } from "./topology/degrees.ts";

await runService({
  name: "rag",
  version: pkg.version,
  httpPort: 9106,
  config: ragConfigShape,
  async start({ config, nc, bus, logger, metrics: { registry }, counters, details, track, onStop, ensureStreams, discovery }) {
    const metrics = createRagMetrics(registry);
    const embedderName = config.X0_RAG_TEXT_EMBEDDER;
    let loaded: TextEmbedder;
    try {
      loaded = await loadTextEmbedder(embedderName, config.X0_RAG_USE_LITE_WEIGHTS);
    } catch (error) {
      details.embedder = { name: embedderName, error: (error as Error).message };
      logger.error("text embedder cannot load: rag is not ready and indexes nothing", { embedder: embedderName, error });
      track({ name: `text embedder ${embedderName} (${(error as Error).message})`, isLive: () => false, stop: async () => {} });
      return;
    }
    // Every embedding is timed: the metric shows what a model costs against the lexical embedder.
    const text: TextEmbedder = {
      identity: loaded.identity,
      embed: async (texts) => {
        const end = metrics.embedDuration.startTimer({ embedder: loaded.identity.name });
        try {
          return await loaded.embed(texts);
        } finally {
          end();
        }
      },
    };
    details.embedder = loaded.identity;

    const manager = await ensureStreams();
    const degrees = new Degrees();
    track(await watchDegrees(await openBucket(nc, Buckets.topology), degrees, logger));
    const position = await streamPosition(manager);
    const stream = { name: "X0_EVENTS", created: position.streamCreated };
    const dir = config.X0_RAG_DIR;
    const opened = openKnowledge(dir, stream, text, (nodes) => degrees.of(nodes));
    const knowledge = opened.knowledge;
    let meta = opened.meta;
    if (opened.rebuild !== undefined) {
      metrics.rebuilds.inc({ from: "stream" });
      logger.warn("saved cases not used: reading them again from X0_EVENTS", { dir, reason: opened.rebuild, stream_first_seq: position.streamFirstSeq });
    } else if (opened.reindex !== undefined) {
      metrics.rebuilds.inc({ from: "store" });
      logger.warn("saved index not used: rebuilt it from the case store", { dir, reason: opened.reindex, cases: opened.caughtUp });
    } else {
      logger.info("saved index loaded", { dir, cases: knowledge.cases.size, caught_up: opened.caughtUp, last_seq: knowledge.lastSeq });
    }
    if (position.streamFirstSeq > knowledge.lastSeq + 1 && position.streamLastSeq > 0) {
      logger.warn("events aged out of X0_EVENTS before the rag read them", { from: knowledge.lastSeq + 1, to: position.streamFirstSeq - 1 });
    }
    await positionConsumer(manager, knowledge.lastSeq, logger);

    // Runbooks: read now and whenever the folder changes.
    let signature = "";
    const refreshRunbooks = async () => {
      if (runbookSignature(config.X0_RAG_RUNBOOKS) === signature) return;
      const read = readRunbooks(config.X0_RAG_RUNBOOKS);
      await knowledge.setRunbooks(read.sections);
      signature = read.signature;
      metrics.runbookSections.set(read.sections.length);
      logger.info("runbooks indexed", { dir: config.X0_RAG_RUNBOOKS, sections: read.sections.length });
    };
    await refreshRunbooks();
    const runbookTimer = setInterval(
      () => void refreshRunbooks().catch((error) => logger.error("runbook refresh failed", { error })),
      config.X0_RAG_RUNBOOK_POLL_MS,
    );
    onStop(() => clearInterval(runbookTimer));

    const publishCounts = () => {
      const counts = knowledge.counts();
      metrics.cases.set(counts.cases);
      metrics.openCases.set(counts.open);
      metrics.indexedSeq.set(knowledge.lastSeq);
      counters.cases = counts.cases;
      counters.open_cases = counts.open;
    };
    publishCounts();

    // The index is saved when it changed, at most every X0_RAG_INDEX_SAVE_MS; the store holds every event at once.
    let indexChanged = opened.rebuild !== undefined || opened.reindex !== undefined || opened.caughtUp > 0;
    const follow = await followEvents(
      nc,
      async (msg) => {
        const decoded = decodeEvent(msg.subject, msg.data, msg.seq);
        if (!decoded.ok) {
          metrics.events.inc({ outcome: "invalid" });
          if (msg.seq > knowledge.lastSeq) {
            bus.deadLetter(msg.subject, decoded.template, msg.data, msg.headers, decoded.error);
            // Stored like any other, so a restart does not dead-letter it again.
            knowledge.lastSeq = msg.seq;
          }
          return;
        }
        const outcome = knowledge.apply(decoded.event);
        metrics.events.inc({ outcome });
        if (outcome === "unmatched")
          logger.warn("result of an incident the rag has no case for", { seq: msg.seq, incident_id: decoded.event.message.incident_id });
        if (outcome === "indexed") indexChanged = true;
      },
      logger,
    );
    track(follow);

    // Every X0_RAG_SAVE_MS: the store's commits are made durable, and only then acknowledged (ack-all up to the
    // latest event handled). The index snapshot follows at its own, slower pace.
    let indexSavedAt = Date.now();
    let saving = Promise.resolve();
    const save = async (final = false) => {
      const staleIndexed = knowledge.indexStale(Date.now() - config.X0_RAG_STALE_AFTER_MS);
      if (staleIndexed > 0) indexChanged = true;
      // The stream's end at every tick: a stalled follow shows as a growing lag (alert X0RagIndexLagging).
      const now = await streamPosition(manager).catch(() => undefined);
      if (now) metrics.streamSeq.set(now.streamLastSeq);
      const latest = follow.latest();
      knowledge.store.checkpoint();
      // Everything handled up to `latest` is committed and on disk now.
      latest?.ack();
      publishCounts();
      if (!indexChanged || (!final && Date.now() - indexSavedAt < config.X0_RAG_INDEX_SAVE_MS)) return;
      indexChanged = false;
      indexSavedAt = Date.now();
      const end = metrics.saveDuration.startTimer();
      meta = saveIndex(dir, knowledge, Date.now());
      end();
      metrics.indexBytes.set(indexBytesOf(meta));
    };
    const saveTimer = setInterval(() => {
      saving = saving
        .then(() => save())
        .catch((error) => {
          indexChanged = true;
          logger.error("saving failed; events stay unacknowledged", { dir, error });
        });
    }, config.X0_RAG_SAVE_MS);
    onStop(async () => {
      clearInterval(saveTimer);
      await saving;
      await save(true).catch((error) => logger.error("final save failed", { dir, error }));
      knowledge.store.close();
    });

    const service = await serveRag({
      nc,
      bus,
      version: pkg.version,
      // discovery: where x0 status finds this instance's /status.
      metadata: { ...discovery, text_embedder: text.identity.name, case_embedder: knowledge.embedders.case.name },
      requests: metrics.requests,
      duration: metrics.requestDuration,
      logger,
      handlers: {
        search: async (request) => {
          const started = performance.now();
          const result = await knowledge.search(request);
          return { ...result, took_ms: Math.round((performance.now() - started) * 1000) / 1000 };
        },
        get: async ({ incident_id }) => {
          const stored = knowledge.store.get(incident_id);
          if (!stored) throw new NotFound(`no case for incident ${incident_id}`);
          return { case: stored.case, indexed: stored.indexed };
        },
        stats: async () => {
          const counts = knowledge.counts();
          const now = await streamPosition(manager).catch(() => undefined);
          return {
            cases: counts.cases,
            open_cases: counts.open,
            flagged_cases: counts.flagged,
            runbook_sections: counts.runbooks,
            memory_bytes: indexBytesOf(meta),
            store_bytes: knowledge.store.bytes(),
            embedders: knowledge.embedders,
            last_indexed_seq: knowledge.lastSeq,
            stream_last_seq: now?.streamLastSeq ?? null,
            saved_at: meta?.saved_at ?? null,
          };
        },
      },
    });
    // The endpoints' subscriptions reach the server before the service says it is ready.
    await nc.flush();
    const serviceLive: Live = { name: "service x0-rag", isLive: () => !service.isStopped, stop: async () => void (await service.stop()) };
    track(serviceLive);
    details.index = { dir, rebuilt: opened.rebuild ?? null };
  },
});
