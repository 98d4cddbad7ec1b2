// bench:console: the console server's memory with 0, 100 and 1,000 open event streams, on a synthetic 8×8 grid with an
// event to every page every 100 ms; each client reads its stream. Writes bench/results/console.json. Method: bench/README.md.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const CLIENTS = [0, 100, 1000];
const SETTLE_MS = 10_000;
const log = (line: string) => process.stdout.write(`${line}\n`);

function rssKiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((text) => text.startsWith("VmRSS:"));
  return Number(line?.replace(/\D+/g, "") ?? Number.NaN);
}

const server = Bun.spawn([process.execPath, join(import.meta.dir, "console-server.ts"), "8"], { stdout: "pipe", stderr: "inherit" });
const reader = server.stdout.getReader();
const url = new TextDecoder().decode((await reader.read()).value).trim();
log(`console server ${url} (pid ${server.pid})`);

// Raw sockets, not fetch: fetch pools connections per host, and streams that never end would wait in its queue.
const { hostname, port } = new URL(url);
const streams: { socket: Bun.Socket<undefined> | undefined; events: number; bytes: number }[] = [];
async function open(): Promise<void> {
  const client: { socket: Bun.Socket<undefined> | undefined; events: number; bytes: number } = { socket: undefined, events: 0, bytes: 0 };
  streams.push(client);
  client.socket = await Bun.connect({
    hostname,
    port: Number(port),
    socket: {
      open: (socket) => void socket.write(`GET /api/events HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAccept: text/event-stream\r\n\r\n`),
      data: (_socket, chunk) => {
        client.bytes += chunk.length;
        client.events++;
      },
    },
  });
}

const rows: { clients: number; rss_mib: number; events_per_client_per_s: number; dropped_clients: number }[] = [];
// The snapshot a page gets first is ~120 KB here; the rows show what the open streams cost on top of the idle server.
for (const target of CLIENTS) {
  while (streams.length < target) await Promise.all(Array.from({ length: Math.min(100, target - streams.length) }, open));
  await Bun.sleep(2000);
  for (const client of streams) client.events = 0;
  await Bun.sleep(SETTLE_MS);
  const state = (await (await fetch(`${url}/api/state`)).json()) as { links: unknown[]; streams: { clients: number; dropped: number } };
  const eventsPerClient = streams.length === 0 ? 0 : streams.reduce((sum, client) => sum + client.events, 0) / streams.length / (SETTLE_MS / 1000);
  const row = {
    clients: target,
    rss_mib: Math.round(rssKiB(server.pid) / 102.4) / 10,
    events_per_client_per_s: Math.round(eventsPerClient * 10) / 10,
    dropped_clients: state.streams.dropped,
  };
  rows.push(row);
  log(`${target} clients: console RSS ${row.rss_mib} MiB, ${row.events_per_client_per_s} reads/s per client (${state.links.length} links)`);
}
for (const client of streams) client.socket?.end();
server.kill();
const baseline = rows[0]?.rss_mib ?? 0;
const result = {
  bench: "console",
  measured_at: new Date().toISOString(),
  machine: { cpus: navigator.hardwareConcurrency, bun: Bun.version },
  method: "bench/README.md#console",
  grid: "8x8 (64 nodes, 112 links), 200 incidents, an event to every page every 100 ms",
  settle_ms: SETTLE_MS,
  rows,
  per_client_kib: rows.length > 1 ? Math.round((((rows.at(-1)?.rss_mib ?? 0) - baseline) * 1024) / (CLIENTS.at(-1) ?? 1)) : null,
};
writeFileSync(join(import.meta.dir, "results", "console.json"), `${JSON.stringify(result, null, 2)}\n`);
log("wrote bench/results/console.json");
