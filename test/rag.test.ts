// The rag service as a process on a real nats-server: cases from a stream of incidents, search over NATS, restart
// without re-indexing, rebuilds after corruption (index from the store, store from the stream), bad requests, and an
// embedder that cannot load.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { RAG_GROUP, type RagEndpoint, type RagResponse } from "@x0/shared";
import {
  type EventRecorder,
  incidentEvents,
  type LabIncident,
  REPO_ROOT,
  recordEvents,
  type SecureNats,
  type ServiceProcess,
  startSecureNats,
  startServiceProcess,
  waitFor,
} from "@x0/shared/testing";
import { testClient } from "./helpers.ts";

let secure: SecureNats;
let nc: NatsConnection;
let recorder: EventRecorder;
let dir: string;
let rag: ServiceProcess | undefined;
const started: ServiceProcess[] = [];

function startRag(env: Record<string, string> = {}): ServiceProcess {
  const service = startServiceProcess("rag", { ...secure.serviceEnv, X0_NODE: "rag1", X0_LOG_LEVEL: "info", X0_RAG_DIR: dir, X0_RAG_SAVE_MS: "200", ...env });
  started.push(service);
  return service;
}

beforeAll(async () => {
  secure = await startSecureNats({ nodes: ["n1"] });
  dir = mkdtempSync(join(tmpdir(), "x0-rag-"));
  nc = await testClient(secure.nats.url, secure.adminTls);
  recorder = await recordEvents(nc);
  rag = startRag();
  await rag.waitReady(30_000);
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await Promise.all(started.map((service) => service.stop()));
  await secure?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** A request to the rag: the reply body, or the ADR-32 error code and description. */
async function call<E extends RagEndpoint>(endpoint: E, body: unknown): Promise<{ data?: RagResponse<E>; code?: string; error?: string }> {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  const reply = await nc.request(`${RAG_GROUP}.${endpoint}`, payload, { timeout: 10_000 });
  const code = reply.headers?.get("Nats-Service-Error-Code");
  if (code) return { code, error: reply.headers?.get("Nats-Service-Error") };
  return { data: reply.json<RagResponse<E>>() };
}

async function publishIncident(incident: LabIncident): Promise<void> {
  const js = jetstream(nc);
  for (const { subject, message } of incidentEvents(incident)) await js.publish(subject, JSON.stringify(message), { msgID: crypto.randomUUID() });
}

async function metric(service: ServiceProcess, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text();
  // Every series carries the default label service="rag"; `labels` must appear among the others.
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

const cut36: LabIncident = { kind: "link_down", link: ["n3", "n6"], alternative: "reroute-around", outcome: "verified", at: Date.now() - 60_000 };
const cut36Again: LabIncident = { ...cut36, outcome: "rolled_back", at: Date.now() - 30_000 };
const loss12: LabIncident = { kind: "link_degraded", link: ["n1", "n2"], alternative: "raise-cost", outcome: "verified", loss: 0.3, at: Date.now() - 50_000 };
const flood: LabIncident = { kind: "traffic_spike", node: "n4", alternative: "quarantine", outcome: "verified", at: Date.now() - 40_000 };
const open: LabIncident = { kind: "link_down", link: ["n7", "n8"], alternative: "reroute-around", outcome: "verified", at: Date.now(), resolve: false };

describe("rag service", () => {
  test("rag - is discoverable through $SRV.INFO with search, get and stats in group x0.rag, naming its embedders", async () => {
    const info = (await nc.request("$SRV.INFO.x0-rag", "", { timeout: 5000 })).json<{ endpoints: { subject: string }[]; metadata: Record<string, string> }>();
    expect(info.endpoints.map((e) => e.subject).sort()).toEqual(["x0.rag.get", "x0.rag.search", "x0.rag.stats"]);
    expect(info.metadata.text_embedder).toBe("x0-lexical");
    expect(info.metadata.case_embedder).toBe("x0-case-features");
  });

  test("rag - builds one case per resolved incident from the stream, keeps open ones out of the index, and answers by incident, situation and text", async () => {
    for (const incident of [cut36, cut36Again, loss12, flood, open]) await publishIncident(incident);
    await waitFor(
      "four cases indexed and the stream read",
      async () => {
        const stats = (await call("stats", {})).data;
        return stats?.cases === 4 && stats.last_indexed_seq === stats.stream_last_seq;
      },
      20_000,
    );
    const stats = (await call("stats", {})).data;
    expect(stats?.open_cases).toBe(1);
    expect(stats?.runbook_sections).toBeGreaterThanOrEqual(15);
    expect(stats?.embedders.text.name).toBe("x0-lexical");
    expect(stats?.last_indexed_seq).toBe(stats?.stream_last_seq as number);

    const first = (await call("get", { incident_id: cut36.id })).data;
    expect(first?.indexed).toBe(true);
    expect(first?.case).toMatchObject({ kind: "link_down", outcome: "verified", alternative: "reroute-around", resolution: "cleared", flags: [] });
    expect(first?.case.mttd_ms).toBe(40);
    expect(first?.case.mttr_ms).toBe(190);
    expect((await call("get", { incident_id: open.id })).data?.indexed).toBe(false);

    // By incident: the same cut again ranks first, before the lossy link and the flood; the case itself is left out.
    const byIncident = (await call("search", { incident_id: cut36.id, k: 3 })).data;
    const caseIds = byIncident?.hits.flatMap((hit) => (hit.type === "case" ? [hit.case.incident_id] : []));
    expect(caseIds?.[0]).toBe(cut36Again.id as string);
    expect(caseIds).not.toContain(cut36.id as string);
    expect(byIncident?.hits.some((hit) => hit.type === "runbook" && hit.runbook.file === "link-cut.md")).toBe(true);

    // By situation (what the planner sends): the open cut of n3|n6's neighbour kind, no outcome yet.
    const bySituation = (
      await call("search", { case: { kind: "link_down", target: { type: "link", id: "link:n3|n6", nodes: ["n3", "n6"] } }, include: ["cases"] })
    ).data;
    expect(
      bySituation?.hits
        .slice(0, 2)
        .map((hit) => (hit.type === "case" ? hit.case.incident_id : ""))
        .sort(),
    ).toEqual([cut36.id, cut36Again.id].sort() as string[]);

    // By text: an operator's question finds the n3–n6 cases and the runbook on cuts.
    const byText = (await call("search", { text: "why does n3 keep losing its link to n6?", k: 3 })).data;
    expect(byText?.query).toBe("text");
    const topCase = byText?.hits.find((hit) => hit.type === "case");
    expect(topCase?.type === "case" && [cut36.id, cut36Again.id].includes(topCase.case.incident_id)).toBe(true);
  }, 60_000);

  test("rag - x0 ask answers a question and an incident with scores and citations, as text and as JSON", async () => {
    const env = {
      PATH: process.env.PATH ?? "",
      X0_NATS_SERVERS: secure.nats.url,
      X0_NATS_TLS_CA: secure.adminTls.caFile,
      X0_NATS_TLS_CERT: secure.adminTls.certFile,
      X0_NATS_TLS_KEY: secure.adminTls.keyFile,
    };
    const x0 = (...args: string[]) => Bun.spawnSync([process.execPath, join(REPO_ROOT, "cli", "src", "x0.ts"), ...args], { env, cwd: REPO_ROOT });
    const asked = x0("ask", "why does n3 keep losing its link to n6?", "-k", "2");
    const text = asked.stdout.toString();
    expect(asked.exitCode, asked.stderr.toString()).toBe(0);
    expect(text).toStartWith("Similar incidents:\n");
    // Each answer: its score, then the incident with its time, kind, element, outcome and repair times.
    expect(text).toMatch(new RegExp(`^  0\\.\\d{3}  incident (${cut36.id}|${cut36Again.id})  \\d{4}-\\d\\d-\\d\\dT[\\d:]+Z  link_down on link:n3\\|n6: `, "m"));
    expect(text).toContain("verified by reroute-around (MTTD 40 ms, MTTR 190 ms)");
    expect(text).toMatch(/^ {2}0\.\d{3} {2}runbooks\/link-cut\.md#[a-z-]+ {2}/m);
    const byIncident = x0("ask", "--incident", cut36.id as string, "--json");
    expect(byIncident.exitCode, byIncident.stderr.toString()).toBe(0);
    const reply = JSON.parse(byIncident.stdout.toString()) as RagResponse<"search">;
    expect(reply.query).toBe("incident");
    expect(reply.hits[0]?.type === "case" && reply.hits[0].case.incident_id).toBe(cut36Again.id as string);
    const usage = x0("ask");
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr.toString()).toContain("give a question (in quotes) or --incident <id>");
  }, 30_000);

  test("rag - a malformed, oversized or unknown request gets an ADR-32 error, is dead-lettered, and the service stays up", async () => {
    const invalidJson = await call("search", "{not json");
    expect(invalidJson.code).toBe("400");
    expect(invalidJson.error).toContain("invalid JSON");
    const tooMany = await call("search", { text: "link", k: 1000 });
    expect(tooMany.code).toBe("400");
    expect(tooMany.error).toContain("k");
    const tooLong = await call("search", { text: "x".repeat(5000) });
    expect(tooLong.code).toBe("400");
    expect(tooLong.error).toMatch(/2000/);
    const twoQueries = await call("search", { text: "link", incident_id: crypto.randomUUID() });
    expect(twoQueries.error).toContain("exactly one of incident_id, case or text");
    const unknown = await call("get", { incident_id: crypto.randomUUID() });
    expect(unknown.code).toBe("404");
    await waitFor("dead letters", () => recorder.deadLetters.filter((d) => d.subject === "x0.dlq.rag").length >= 4, 5000);
    expect(recorder.deadLetters.find((d) => d.subject === "x0.dlq.rag")?.message.error).toContain("invalid JSON");
    expect((await call("stats", {})).data?.cases).toBe(4);
  });

  test("rag - an invalid event in the stream is dead-lettered with the reason and the ones after it are still indexed", async () => {
    await jetstream(nc).publish("x0.anomaly.n1", JSON.stringify({ v: 1, state: "opened" }), { msgID: crypto.randomUUID() });
    const after: LabIncident = { kind: "node_unreachable", node: "n5", alternative: "reroute-around", outcome: "verified", at: Date.now() - 20_000 };
    await publishIncident(after);
    await waitFor("case after the invalid event", async () => (await call("get", { incident_id: after.id })).data?.indexed === true, 10_000);
    const letter = recorder.deadLetters.find((d) => d.subject === "x0.dlq.rag" && d.message.subject === "x0.anomaly.n1");
    expect(letter?.message.error).toContain("incident_id");
  });

  test("rag - a restart loads the saved index and re-indexes nothing; new events go on from where it stopped", async () => {
    const before = (await call("stats", {})).data;
    await rag?.stop();
    rag = startRag();
    await rag.waitReady(30_000);
    const after = (await call("stats", {})).data;
    expect(after?.cases).toBe(before?.cases as number);
    expect(after?.last_indexed_seq).toBe(before?.last_indexed_seq as number);
    expect(rag.output.some((line) => line.includes("saved index loaded"))).toBe(true);
    expect(await metric(rag, "x0_rag_rebuilds_total")).toBe(0);
    const later: LabIncident = {
      kind: "link_degraded",
      link: ["n2", "n3"],
      alternative: "reroute-around",
      outcome: "rolled_back",
      loss: 0.5,
      at: Date.now() - 10_000,
    };
    await publishIncident(later);
    await waitFor("the new case", async () => (await call("get", { incident_id: later.id })).data?.indexed === true, 10_000);
    // Only the new incident's events were read: the earlier ones were neither re-read nor indexed again.
    expect(await metric(rag, "x0_rag_events_total", 'outcome="indexed"')).toBe(1); // its resolved state: the case goes in
    expect(await metric(rag, "x0_rag_events_total", 'outcome="open"')).toBe(3); // its opened state, plan and result
    expect(await metric(rag, "x0_rag_events_total", 'outcome="skipped"')).toBe(0);
  }, 60_000);

  test("rag - a truncated index file is detected at start and rebuilt from the case store, with a log line that says so", async () => {
    const before = (await call("stats", {})).data;
    await rag?.stop();
    truncateSync(join(dir, "cases.usearch"), 100);
    rag = startRag();
    await rag.waitReady(30_000);
    expect(rag.output.some((line) => line.includes("rebuilt it from the case store") && line.includes("truncated or replaced"))).toBe(true);
    expect(await metric(rag, "x0_rag_rebuilds_total", 'from="store"')).toBe(1);
    expect(await metric(rag, "x0_rag_events_total", 'outcome="indexed"')).toBe(0); // nothing read again from the stream
    const after = (await call("stats", {})).data;
    expect(after?.cases).toBe(before?.cases as number);
    expect(after?.last_indexed_seq).toBe(before?.last_indexed_seq as number);
    const { data } = await call("search", { incident_id: cut36.id, k: 5, include: ["cases"] });
    expect(data?.hits.some((hit) => hit.type === "case" && hit.case.incident_id === cut36Again.id)).toBe(true);
  }, 60_000);

  test("rag - a damaged case store is detected at start and read again from the stream, with a log line that says so", async () => {
    const before = (await call("stats", {})).data;
    await rag?.stop();
    // Garbage over the pages after the first: SQLite's check finds it.
    const fd = openSync(join(dir, "cases.db"), "r+");
    writeSync(fd, Buffer.alloc(16_384, 0x5a), 0, 16_384, 4096);
    closeSync(fd);
    rag = startRag();
    await rag.waitReady(30_000);
    await waitFor("read again", async () => (await call("stats", {})).data?.last_indexed_seq === before?.last_indexed_seq, 20_000);
    expect(rag.output.some((line) => line.includes("reading them again from X0_EVENTS"))).toBe(true);
    expect(await metric(rag, "x0_rag_rebuilds_total", 'from="stream"')).toBe(1);
    const after = (await call("stats", {})).data;
    expect(after?.cases).toBe(before?.cases as number);
    expect((await call("get", { incident_id: cut36.id })).data?.case.outcome).toBe("verified");
  }, 60_000);

  test("rag - a runbook added or changed is indexed again while the service runs", async () => {
    const runbooks = mkdtempSync(join(tmpdir(), "x0-rag-runbooks-"));
    writeFileSync(join(runbooks, "link-cut.md"), "# Link cut\nA link stops carrying frames; reroute around it.\n");
    await rag?.stop();
    rag = startRag({ X0_RAG_RUNBOOKS: runbooks, X0_RAG_RUNBOOK_POLL_MS: "200" });
    await rag.waitReady(30_000);
    const sections = async (text: string) =>
      ((await call("search", { text, include: ["runbooks"], k: 5 })).data?.hits ?? []).map((hit) =>
        hit.type === "runbook" ? `${hit.runbook.file}#${hit.runbook.anchor}` : "",
      );
    expect(await sections("reroute around a cut link")).toEqual(["link-cut.md#link-cut"]);
    writeFileSync(join(runbooks, "solar.md"), "# Solar node brown-out\nA solar-powered node browns out at dusk: its links flap every evening.\n");
    await waitFor("the new runbook", async () => (await sections("solar node browns out at dusk")).includes("solar.md#solar-node-brown-out"), 10_000);
    writeFileSync(join(runbooks, "link-cut.md"), "# Cable pulled\nSomeone pulled the cable: plug it back in.\n");
    await waitFor("the changed runbook", async () => (await sections("someone pulled the cable")).includes("link-cut.md#cable-pulled"), 10_000);
    expect(await sections("reroute around a cut link")).not.toContain("link-cut.md#link-cut");
    expect((await call("stats", {})).data?.runbook_sections).toBe(2);
    rmSync(runbooks, { recursive: true, force: true });
  }, 60_000);

  test("rag - an embedder that cannot load leaves the service not ready, saying why, and nothing is indexed", async () => {
    const broken = startServiceProcess("rag", {
      ...secure.serviceEnv,
      X0_NODE: "rag2",
      X0_RAG_DIR: mkdtempSync(join(tmpdir(), "x0-rag-broken-")),
      X0_RAG_TEXT_EMBEDDER: "use-lite",
      X0_RAG_USE_LITE_WEIGHTS: "/nonexistent/model-embeddings",
    });
    started.push(broken);
    await waitFor(
      "the broken rag answers /readyz",
      async () => (await fetch(`http://127.0.0.1:${broken.port}/readyz`).catch(() => undefined)) !== undefined,
      20_000,
    );
    await waitFor("its log", () => broken.output.some((line) => line.includes("text embedder cannot load")), 20_000);
    const ready = await fetch(`http://127.0.0.1:${broken.port}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { not_live: string[] };
    expect(body.not_live.join(" ")).toContain("text embedder use-lite");
    const status = (await (await fetch(`http://127.0.0.1:${broken.port}/status`)).json()) as { details: { embedder: { error: string } } };
    expect(status.details.embedder.error).toContain("/nonexistent/model-embeddings");
    expect(await metric(broken, "x0_rag_events_total", 'outcome="indexed"')).toBe(0);
  }, 60_000);
});
