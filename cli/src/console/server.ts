// The console's HTTP side: the page (bundled by Bun from web/index.html), a snapshot, one event stream per page fed from
// the model's changes, incident details with the plans' signature checks, services, and the lab's controls when enabled.
import type { Plan } from "@x0/shared";
import type { StatusReport } from "../status/report.ts";
import { EventFanout, encodeEvent } from "./fanout.ts";
import type { LabControls } from "./lab-controls.ts";
import type { ConsoleModel } from "./model.ts";
import type { ConnectionView, ConsoleMeta, SignatureCheck } from "./view.ts";
import page from "./web/index.html";

/** Options of {@link startConsoleServer}. */
export interface ConsoleServerOptions {
  hostname: string;
  port: number;
  model: ConsoleModel;
  meta: ConsoleMeta;
  connection: () => ConnectionView;
  services: () => StatusReport | null;
  checkSignature: (plan: Plan) => Promise<SignatureCheck>;
  lab?: LabControls;
  /** How often changes are sent to the pages. */
  flushMs?: number;
  maxClients?: number;
}

/** A running console server. */
export interface ConsoleServer {
  url: string;
  /** Tells the pages about the connection or the services. */
  notify(event: "connection" | "services", data: unknown): void;
  stop(): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NODE = /^[A-Za-z0-9_-]{1,64}$/;

function problem(status: number, error: string): Response {
  return Response.json({ error }, { status });
}

/** Starts the server. */
export function startConsoleServer(options: ConsoleServerOptions): ConsoleServer {
  const { model, meta } = options;
  const fanout = new EventFanout({ maxClients: options.maxClients });
  const state = () => ({
    ...model.snapshot(),
    meta,
    connection: options.connection(),
    services: options.services(),
    streams: { clients: fanout.clients, dropped: fanout.dropped },
  });
  // Pages that connect between two changes share one encoded snapshot: a thousand tabs opening cost one, not a thousand.
  let snapshot: Uint8Array | undefined;
  const snapshotEvent = () => {
    snapshot ??= encodeEvent("snapshot", state());
    return snapshot;
  };

  const labAction = async (request: Request, action: "cut" | "heal"): Promise<Response> => {
    if (!options.lab) return problem(404, "lab controls are off: start the console with --lab on the lab's machine");
    // Only the page itself may call: a custom header needs a CORS preflight, which this server never grants.
    if (request.headers.get("x-x0-console") !== "lab") return problem(403, "missing the x-x0-console: lab header");
    const origin = request.headers.get("origin");
    if (origin !== null && new URL(origin).host !== request.headers.get("host")) return problem(403, `origin ${origin} may not use the lab controls`);
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return problem(400, 'the body must be JSON: {"a": "n1", "b": "n2"}');
    }
    const { a, b } = (body ?? {}) as { a?: unknown; b?: unknown };
    if (typeof a !== "string" || typeof b !== "string" || !NODE.test(a) || !NODE.test(b) || a === b)
      return problem(400, "a and b must be two different node names");
    try {
      const message = action === "cut" ? await options.lab.cut(a, b) : await options.lab.heal(a, b);
      return Response.json({ ok: true, message });
    } catch (error) {
      return problem(409, (error as Error).message);
    }
  };

  const server = Bun.serve({
    hostname: options.hostname,
    port: options.port,
    development: false,
    routes: {
      "/": page,
      "/readyz": () => (options.connection().syncs > 0 ? Response.json({ ready: true }) : problem(503, "not synchronised with NATS yet")),
      "/api/state": () => Response.json(state()),
      "/api/events": (request, server) => {
        server.timeout(request, 0); // a stream stays open as long as the page does
        return fanout.connect(snapshotEvent(), request.signal);
      },
      "/api/incidents/:id": async (request) => {
        const { id } = request.params;
        if (!UUID.test(id)) return problem(400, `${JSON.stringify(id.slice(0, 64))} is not an incident id (a UUID)`);
        const detail = model.incident(id);
        if (!detail) return problem(404, `no incident ${id} among the ones this console keeps`);
        const signatures = await Promise.all(detail.plans.map((plan) => options.checkSignature(plan)));
        return Response.json({ ...detail, signatures, meta });
      },
      "/api/lab/cut": { POST: (request) => labAction(request, "cut") },
      "/api/lab/heal": { POST: (request) => labAction(request, "heal") },
    },
    fetch: () => problem(404, "not found"),
  });

  const flush = () => {
    const changes = model.takeChanges();
    if (!changes) return;
    snapshot = undefined;
    fanout.broadcast("changes", changes);
  };
  const timer = setInterval(flush, options.flushMs ?? 100);
  return {
    url: `http://${options.hostname.includes(":") ? `[${options.hostname}]` : options.hostname}:${server.port}`,
    notify: (event, data) => {
      snapshot = undefined;
      fanout.broadcast(event, data);
    },
    stop: async () => {
      clearInterval(timer);
      fanout.close();
      await server.stop(true);
    },
  };
}
