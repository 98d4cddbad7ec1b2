// The console server for bench:console: its model fed a synthetic grid (no NATS: the fan-out is what is measured), with
// every node's telemetry changed 10 times a second. Prints its URL, then serves until killed.
import { incidentEvents } from "@x0/shared/testing";
import { ConsoleModel } from "../cli/src/console/model.ts";
import { startConsoleServer } from "../cli/src/console/server.ts";

const side = Number(process.argv[2] ?? 8);
const encoder = new TextEncoder();
const json = (value: unknown) => encoder.encode(JSON.stringify(value));
const model = new ConsoleModel();
const name = (row: number, column: number) => `n${row * side + column + 1}`;
const interfaces = new Map<string, { name: string; operstate: "up"; xdp: "generic"; ipv4: string[] }[]>();
let subnet = 0;
for (let row = 0; row < side; row++) {
  for (let column = 0; column < side; column++) {
    for (const [other, ok] of [
      [name(row, column + 1), column + 1 < side],
      [name(row + 1, column), row + 1 < side],
    ] as const) {
      if (!ok) continue;
      const base = subnet++ * 4;
      const address = (offset: number) => `10.${Math.floor((base + offset) / 65536)}.${Math.floor((base + offset) / 256) % 256}.${(base + offset) % 256}`;
      const self = name(row, column);
      interfaces.set(self, [
        ...(interfaces.get(self) ?? []),
        { name: `${self}-${other}`.slice(0, 15), operstate: "up", xdp: "generic", ipv4: [`${address(1)}/30`] },
      ]);
      interfaces.set(other, [
        ...(interfaces.get(other) ?? []),
        { name: `${other}-${self}`.slice(0, 15), operstate: "up", xdp: "generic", ipv4: [`${address(2)}/30`] },
      ]);
    }
  }
}
for (const [node, list] of interfaces) model.applyTopologyKey(`node.${node}`, json({ node, interfaces: list, ebpf: true, updated_at: Date.now() }));
for (let index = 0; index < 200; index++) {
  for (const event of incidentEvents({
    kind: "link_down",
    link: ["n1", "n2"],
    alternative: "reroute-around",
    outcome: "verified",
    at: Date.now() - index * 60_000,
  }))
    model.applyEvent(event.subject, json(event.message));
}
model.takeChanges();
const server = startConsoleServer({
  hostname: "127.0.0.1",
  port: 0,
  model,
  meta: { identity: "bench", lab: false, jaeger_url: null },
  connection: () => ({ connected: true, server: null, syncs: 1, last_sync_at: Date.now(), history_events: 0, write_check: null }),
  services: () => null,
  checkSignature: () => Promise.reject(new Error("no signatures in the bench")),
  maxClients: 10_000,
});
// Each interface's peer loss changes every 100 ms: a link view changes, and a "changes" event goes to every page.
let tick = 0;
setInterval(() => {
  tick++;
  for (const [node, list] of interfaces) {
    model.applyTelemetry(
      json({
        v: 1,
        node,
        ts: Date.now(),
        seq: tick,
        interval_ms: 100,
        source: "ebpf",
        ebpf: true,
        interfaces: list.map((iface) => ({
          name: iface.name,
          operstate: "up",
          counters: { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 },
        })),
      }),
    );
  }
  model.applyEvent(
    "x0.anomaly.n1",
    json(
      incidentEvents({ kind: "link_degraded", link: ["n1", "n2"], alternative: "raise-cost", outcome: "verified", at: Date.now(), resolve: false })[0]?.message,
    ),
  );
}, 100);
process.stdout.write(`${server.url}\n`);
