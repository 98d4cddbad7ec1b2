// The console page: one event stream from the console server, the mesh drawn with cytoscape.js, tables for the rest.
import cytoscape from "cytoscape";
import type { StatusReport } from "../../status/report.ts";
import type {
  ConnectionView,
  ConsoleChanges,
  ConsoleMeta,
  ConsoleSnapshot,
  IncidentDetail,
  IncidentRow,
  LinkView,
  MalformedView,
  NodeView,
  SignatureCheck,
} from "../view.ts";

type State = ConsoleSnapshot & { meta: ConsoleMeta; connection: ConnectionView; services: StatusReport | null };

const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T;
const incidents = new Map<string, IncidentRow>();
const links = new Map<string, LinkView>();
let meta: ConsoleMeta = { identity: "", lab: false, jaeger_url: null };
let selectedLink: LinkView | undefined;

const COLOURS: Record<LinkView["status"], string> = { healthy: "#1f7a3f", degraded: "#b26b00", cut: "#a12a2a", held: "#6b4fa0" };
const DASH: Record<LinkView["status"], string> = { healthy: "solid", degraded: "dashed", cut: "dotted", held: "dashed" };

const cy = cytoscape({
  container: $("#mesh"),
  wheelSensitivity: 0.3,
  style: [
    {
      selector: "node",
      style: {
        label: "data(label)",
        "background-color": "#3b4a5a",
        color: "#1d232a",
        "font-size": 12,
        "text-valign": "bottom",
        "text-margin-y": 4,
        "text-wrap": "wrap",
      },
    },
    { selector: "node[?spof]", style: { "border-width": 3, "border-color": "#b26b00", "border-style": "double" } },
    { selector: "node[?incident]", style: { "background-color": "#a12a2a", shape: "diamond" } },
    {
      selector: "edge",
      style: {
        width: 3,
        "line-color": "data(colour)",
        "line-style": "data(dash)" as never,
        label: "data(label)",
        "font-size": 10,
        "text-background-color": "#fff",
        "text-background-opacity": 0.85,
        "text-background-padding": "1px",
        "curve-style": "bezier",
      },
    },
    { selector: "edge[moved = 'planned']", style: { width: 7, "line-color": "#0b5cad", "line-style": "dashed" } },
    { selector: "edge[moved = 'repaired']", style: { width: 7, "line-color": "#0b5cad" } },
    { selector: "edge:selected", style: { "overlay-color": "#0b5cad", "overlay-opacity": 0.25, "overlay-padding": 6 } },
  ],
  layout: { name: "preset" },
});

function edgeLabel(link: LinkView): string {
  const parts: string[] = [];
  if (link.status !== "healthy") parts.push(link.status.toUpperCase());
  if (link.moved === "planned") parts.push("→ planned");
  if (link.moved === "repaired") parts.push("→ repaired");
  if (link.bridge) parts.push("bridge");
  return parts.join(" · ");
}

function edgeData(link: LinkView) {
  return {
    id: link.id,
    source: link.a,
    target: link.b,
    status: link.status,
    moved: link.moved ?? "none",
    colour: COLOURS[link.status],
    dash: DASH[link.status],
    label: edgeLabel(link),
  };
}

function nodeData(node: NodeView) {
  const marks = [node.articulation_point ? "AP" : "", node.single_point_of_failure ? "SPOF" : "", node.incidents.length > 0 ? "DOWN?" : ""].filter(Boolean);
  return {
    id: node.id,
    label: marks.length > 0 ? `${node.id}\n${marks.join(" ")}` : node.id,
    spof: node.single_point_of_failure,
    incident: node.incidents.length > 0,
  };
}

function drawTopology(nodes: NodeView[], viewLinks: LinkView[]): void {
  links.clear();
  for (const link of viewLinks) links.set(link.id, link);
  cy.batch(() => {
    cy.elements().remove();
    cy.add(nodes.map((node) => ({ group: "nodes" as const, data: nodeData(node) })));
    cy.add(
      viewLinks
        .filter((link) => cy.getElementById(link.a).nonempty() && cy.getElementById(link.b).nonempty())
        .map((link) => ({ group: "edges" as const, data: edgeData(link) })),
    );
  });
  // A grid lab reads best as a grid: nodes named n1…n9 are laid out by number; anything else gets a force layout.
  const side = Math.ceil(Math.sqrt(nodes.length));
  const numbered = nodes.every((node) => /^n\d+$/.test(node.id));
  if (numbered && nodes.length > 0) {
    cy.layout({
      name: "grid",
      rows: side,
      sort: (a: cytoscape.NodeSingular, b: cytoscape.NodeSingular) => Number(a.id().slice(1)) - Number(b.id().slice(1)),
    } as cytoscape.LayoutOptions).run();
  } else cy.layout({ name: "cose", animate: false } as cytoscape.LayoutOptions).run();
  cy.fit(undefined, 30);
  renderLinks();
}

function updateLinks(viewLinks: LinkView[]): void {
  for (const link of viewLinks) {
    links.set(link.id, link);
    cy.getElementById(link.id).data(edgeData(link));
  }
  renderLinks();
}

function updateNodes(nodes: NodeView[]): void {
  for (const node of nodes) cy.getElementById(node.id).data(nodeData(node));
}

const percent = (value: number | null) => (value === null ? "–" : `${Math.round(value * 100)}%`);
const ms = (value: number | null | undefined) => (value === null || value === undefined ? "–" : `${Math.round(value)} ms`);

function cell(text: string, className?: string): HTMLTableCellElement {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function renderLinks(): void {
  const body = $<HTMLTableSectionElement>("#links tbody");
  body.replaceChildren(
    ...[...links.values()].map((link) => {
      const row = document.createElement("tr");
      row.dataset.link = link.id;
      row.dataset.status = link.status;
      const rtt = link.a_to_b.rtt_ms ?? link.b_to_a.rtt_ms;
      const tq = link.a_to_b.tq ?? link.b_to_a.tq;
      row.append(
        cell(`${link.a}–${link.b}`),
        cell(`${link.status}${link.moved ? ` (${link.moved})` : ""}`, `status-${link.status}`),
        cell(`${percent(link.a_to_b.loss)} / ${percent(link.b_to_a.loss)}`),
        cell(rtt === null ? "–" : `${rtt.toFixed(1)} ms`),
        cell(tq === null ? "–" : String(tq)),
        cell(link.cost === null ? "–" : String(link.cost)),
      );
      return row;
    }),
  );
  if (selectedLink) selectedLink = links.get(selectedLink.id);
  renderLabButtons();
}

function renderIncidents(): void {
  const rows = [...incidents.values()].sort((a, b) => b.opened_at - a.opened_at).slice(0, 200);
  $<HTMLTableSectionElement>("#incidents tbody").replaceChildren(
    ...rows.map((incident) => {
      const row = document.createElement("tr");
      row.tabIndex = 0;
      row.dataset.incident = incident.incident_id;
      row.dataset.state = incident.state;
      row.className = `state-${incident.state}`;
      row.append(
        cell(new Date(incident.opened_at).toLocaleTimeString()),
        cell(`${incident.kind}${incident.state === "open" ? " (open)" : ""}`),
        cell(incident.target),
        cell(ms(incident.mttd_ms)),
        cell(incident.plan ?? "–"),
        cell(incident.result ?? "–"),
        cell(ms(incident.mttr_ms)),
      );
      const open = () => void showIncident(incident.incident_id);
      row.addEventListener("click", open);
      row.addEventListener("keydown", (event) => event.key === "Enter" && open());
      return row;
    }),
  );
}

function renderServices(report: StatusReport | null): void {
  const body = $<HTMLTableSectionElement>("#services tbody");
  if (!report) {
    body.replaceChildren(Object.assign(document.createElement("tr"), { innerHTML: '<td colspan="8">no services known (start them with bun run up)</td>' }));
    return;
  }
  body.replaceChildren(
    ...report.services.map((service) => {
      const row = document.createElement("tr");
      row.dataset.service = service.name;
      const counter = (name: string) => String(service.counters[name] ?? "–");
      row.append(
        cell(service.name),
        cell(service.node ?? "–"),
        cell(service.state, service.state === "ready" ? "ok" : "bad"),
        cell(service.nats_connected === null ? "–" : service.nats_connected ? "connected" : "disconnected"),
        cell(counter("anomalies")),
        cell(counter("plans")),
        cell(counter("actions")),
        cell(counter("dlq")),
      );
      return row;
    }),
  );
}

function renderAnalysis(analysis: State["analysis"]): void {
  const target = $("#analysis");
  if (!analysis) {
    target.textContent = "no analysis yet (the planner writes one on every topology change)";
    return;
  }
  const lines = [
    `${analysis.nodes} nodes, ${analysis.links} usable links, ${analysis.components} part${analysis.components === 1 ? "" : "s"}, edge connectivity ${analysis.edge_connectivity}`,
    `bridges: ${analysis.bridges.join(", ") || "none"}`,
    `articulation points: ${analysis.articulation_points.join(", ") || "none"}`,
    `nodes one failure would cut off: ${analysis.single_point_of_failure_nodes.join(", ") || "none"}`,
  ];
  target.replaceChildren(...lines.map((line) => Object.assign(document.createElement("p"), { textContent: line })));
}

function renderMalformed(items: MalformedView[]): void {
  $("#malformed").replaceChildren(
    ...items.map((item) => {
      const line = document.createElement("p");
      line.className = "item";
      line.textContent = `malformed ${item.source}: ${item.reason}`;
      return line;
    }),
  );
}

function renderConnection(connection: ConnectionView): void {
  const badge = $("#connection");
  badge.textContent = connection.connected ? `NATS ${connection.server ?? ""} · synced ${connection.syncs}×` : "NATS disconnected";
  badge.className = `badge ${connection.connected ? "up" : "down"}`;
  $("#identity").textContent = `${meta.identity}${connection.write_check ? ` — write check: ${connection.write_check}` : ""}`;
}

function renderLabButtons(): void {
  const cut = $<HTMLButtonElement>("#lab-cut");
  const heal = $<HTMLButtonElement>("#lab-heal");
  cut.disabled = heal.disabled = !selectedLink;
  cut.textContent = selectedLink ? `cut ${selectedLink.a}–${selectedLink.b}` : "cut it";
  heal.textContent = selectedLink ? `heal ${selectedLink.a}–${selectedLink.b}` : "heal it";
}

async function labAction(action: "cut" | "heal"): Promise<void> {
  if (!selectedLink) return;
  const response = await fetch(`/api/lab/${action}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-x0-console": "lab" },
    body: JSON.stringify({ a: selectedLink.a, b: selectedLink.b }),
  });
  const body = (await response.json()) as { message?: string; error?: string };
  $("#lab-message").textContent = body.message ?? body.error ?? `HTTP ${response.status}`;
}

function section(title: string, content: Node | string): DocumentFragment {
  const fragment = document.createDocumentFragment();
  fragment.append(Object.assign(document.createElement("h3"), { textContent: title }));
  fragment.append(typeof content === "string" ? Object.assign(document.createElement("p"), { textContent: content }) : content);
  return fragment;
}

function pre(value: unknown): HTMLPreElement {
  return Object.assign(document.createElement("pre"), { textContent: JSON.stringify(value, null, 2) });
}

async function showIncident(id: string): Promise<void> {
  const dialog = $<HTMLDialogElement>("#detail");
  const body = $("#detail-body");
  body.textContent = "loading…";
  if (!dialog.open) dialog.showModal();
  history.replaceState(null, "", `#incident/${id}`);
  const response = await fetch(`/api/incidents/${encodeURIComponent(id)}`);
  const detail = (await response.json()) as (IncidentDetail & { signatures: SignatureCheck[] }) | { error: string };
  if ("error" in detail) {
    $("#detail-title").textContent = "Incident not found";
    body.textContent = detail.error;
    return;
  }
  const { summary } = detail;
  $("#detail-title").textContent = `${summary.kind} on ${summary.target} — ${summary.state}`;
  const parts = document.createDocumentFragment();
  parts.append(
    section(
      "Timing",
      `opened ${new Date(summary.opened_at).toLocaleString()}, detected in ${ms(summary.mttd_ms)}, repaired in ${ms(summary.mttr_ms)}${summary.resolution ? `, resolved (${summary.resolution})` : ""}`,
    ),
  );
  const opened = detail.anomalies.find((anomaly) => anomaly.state === "opened") ?? detail.anomalies[0];
  if (opened)
    parts.append(section("Anomaly evidence", pre({ metric: opened.metric, observed: opened.observed, score: opened.score, evidence: opened.evidence ?? [] })));
  for (const plan of detail.plans) {
    const check = detail.signatures.find((signature) => signature.plan_id === plan.plan_id);
    const signature = document.createElement("p");
    signature.className = check?.ok ? "ok signature" : "bad signature";
    signature.textContent = check
      ? `signature ${check.ok ? "valid" : "INVALID"}: ${check.detail}${check.key_id ? ` (key ${check.key_id})` : ""}`
      : "signature not checked";
    parts.append(section(`Plan ${plan.rule} (${plan.plan_id.slice(0, 8)})`, signature));
    parts.append(pre({ steps: plan.actions, expected_effect: plan.expected_effect ?? null }));
    if (plan.alternatives?.length) parts.append(section("Alternatives ranked", pre(plan.alternatives)));
    if (plan.trace_id) {
      const trace = document.createElement("p");
      if (meta.jaeger_url) {
        const href = `${meta.jaeger_url.replace(/\/$/, "")}/trace/${plan.trace_id}`;
        trace.append(Object.assign(document.createElement("a"), { href, textContent: plan.trace_id, target: "_blank", rel: "noopener" }));
      } else trace.textContent = plan.trace_id;
      parts.append(section("Trace", trace));
    }
  }
  for (const result of detail.results) {
    const status = document.createElement("p");
    status.className = `result ${result.status === "verified" ? "ok" : result.status === "rolled_back" || result.status === "failed" ? "bad" : ""}`;
    status.textContent = `${result.status}${result.detail ? `: ${result.detail}` : ""}`;
    parts.append(section(`Result of ${result.plan_id.slice(0, 8)} on ${result.node}`, status));
    parts.append(pre({ verification: result.verification ?? [], steps: result.steps, participants: result.participants ?? [] }));
  }
  body.replaceChildren(parts);
}

function applyState(state: State): void {
  meta = state.meta;
  $("#lab").hidden = !meta.lab;
  incidents.clear();
  for (const row of state.incidents) incidents.set(row.incident_id, row);
  drawTopology(state.nodes, state.links);
  renderIncidents();
  renderServices(state.services);
  renderAnalysis(state.analysis);
  renderMalformed(state.malformed);
  renderConnection(state.connection);
}

function applyChanges(changes: ConsoleChanges): void {
  if (changes.topology) drawTopology(changes.topology.nodes, changes.topology.links);
  if (changes.links) updateLinks(changes.links);
  if (changes.nodes) updateNodes(changes.nodes);
  if (changes.incidents) {
    for (const row of changes.incidents) incidents.set(row.incident_id, row);
    renderIncidents();
  }
  if (changes.analysis !== undefined) renderAnalysis(changes.analysis);
  if (changes.malformed) renderMalformed(changes.malformed);
}

function connect(): void {
  const events = new EventSource("/api/events");
  events.addEventListener("snapshot", (event) => applyState(JSON.parse((event as MessageEvent).data)));
  events.addEventListener("changes", (event) => applyChanges(JSON.parse((event as MessageEvent).data)));
  events.addEventListener("services", (event) => renderServices(JSON.parse((event as MessageEvent).data)));
  events.addEventListener("connection", (event) => renderConnection(JSON.parse((event as MessageEvent).data)));
  // EventSource reconnects by itself; the server then sends a fresh snapshot.
  events.addEventListener("error", () => {
    const badge = $("#connection");
    badge.textContent = "console unreachable, retrying…";
    badge.className = "badge down";
  });
}

cy.on("tap", "edge", (event) => {
  selectedLink = links.get(event.target.id());
  renderLabButtons();
});
$("#lab-cut").addEventListener("click", () => void labAction("cut"));
$("#lab-heal").addEventListener("click", () => void labAction("heal"));
$<HTMLDialogElement>("#detail").addEventListener("close", () => history.replaceState(null, "", location.pathname));
Object.assign(window, { x0Console: { cy, links, incidents, showIncident } });
connect();
// A link to an incident (#incident/<id>) opens its detail, on load and when the address changes.
const openLinked = () => {
  const linked = /^#incident\/([0-9a-f-]{36})$/.exec(location.hash);
  if (linked?.[1]) void showIncident(linked[1]);
};
window.addEventListener("hashchange", openLinked);
openLinked();
