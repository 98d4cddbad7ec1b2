import { describe, expect, test } from "bun:test";
import { freePort } from "@x0/shared/testing";
import { natsServerArgv, parseNatsGreeting, planNatsServers, probePort, routeUrls } from "./nats.ts";

const greeting = 'INFO {"server_id":"NABC","version":"2.9.10","proto":1,"jetstream":true,"max_payload":1048576}\r\n';

function fakeServer(firstLine: string) {
  return Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        if (firstLine !== "") socket.write(firstLine);
      },
      data() {},
    },
  });
}

describe("nats", () => {
  test("nats - reads version and JetStream from a NATS greeting", () => {
    expect(parseNatsGreeting(greeting)).toEqual({ version: "2.9.10", jetstream: true });
    expect(parseNatsGreeting('INFO {"server_id":"N"}\r\n')).toEqual({ version: undefined, jetstream: false });
  });

  test("nats - other greetings are not NATS", () => {
    for (const text of ["", "SSH-2.0-OpenSSH_9.6\r\n", "INFO {broken}\r\n", 'INFO {"version":"1"}\r\n', "HTTP/1.1 400 Bad Request\r\n"]) {
      expect(parseNatsGreeting(text)).toBeUndefined();
    }
  });

  test("nats - probing a port tells NATS, something else and nothing apart", async () => {
    const nats = fakeServer(greeting);
    const other = fakeServer("SSH-2.0-OpenSSH_9.6\r\n");
    const silent = fakeServer("");
    try {
      expect(await probePort("127.0.0.1", nats.port)).toEqual({ kind: "nats", info: { version: "2.9.10", jetstream: true } });
      expect(await probePort("127.0.0.1", other.port)).toEqual({ kind: "other", greeting: "SSH-2.0-OpenSSH_9.6\r\n" });
      expect(await probePort("127.0.0.1", silent.port, 200)).toEqual({ kind: "other", greeting: "" });
    } finally {
      for (const server of [nats, other, silent]) server.stop(true);
    }
    expect(await probePort("127.0.0.1", freePort())).toEqual({ kind: "none" });
  });

  test("nats - runs nats-server with JetStream on localhost and the given store", () => {
    expect(natsServerArgv("nats-server", 4222, 8222, "/repo/.x0/nats")).toEqual([
      "nats-server",
      "-a",
      "127.0.0.1",
      "-p",
      "4222",
      "-m",
      "8222",
      "-js",
      "-sd",
      "/repo/.x0/nats",
    ]);
  });

  test("nats - one server by default; a cluster of three on consecutive ports, each with its own store and name", () => {
    const ports = { stateDir: "/s", port: 4222, monitorPort: 8222, clusterPort: 6222 };
    expect(planNatsServers({ ...ports, cluster: false })).toEqual([
      { name: "nats", serverName: undefined, port: 4222, monitorPort: 8222, clusterPort: undefined, storeDir: "/s/nats", configFile: "/s/nats.conf" },
    ]);
    const cluster = planNatsServers({ ...ports, cluster: true });
    expect(cluster.map(({ name, serverName, port, monitorPort, clusterPort }) => [name, serverName, port, monitorPort, clusterPort])).toEqual([
      ["nats-1", "x0-1", 4222, 8222, 6222],
      ["nats-2", "x0-2", 4223, 8223, 6223],
      ["nats-3", "x0-3", 4224, 8224, 6224],
    ]);
    expect(new Set(cluster.map((server) => server.storeDir)).size).toBe(3);
    expect(new Set(cluster.map((server) => server.configFile)).size).toBe(3);
    expect(routeUrls(cluster)).toEqual(["nats://127.0.0.1:6222", "nats://127.0.0.1:6223", "nats://127.0.0.1:6224"]);
    expect(routeUrls(planNatsServers({ ...ports, cluster: false }))).toEqual([]);
  });
});
