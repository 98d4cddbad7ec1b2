import { describe, expect, test } from "bun:test";
import { ConfigError } from "@x0/shared";
import { externalNatsServers, loadUpConfig, serviceEnvironment } from "./config.ts";

describe("up config", () => {
  test("up config - defaults: NATS on 4222/8222, services from 9101, node from the hostname", () => {
    const config = loadUpConfig({});
    expect(config).toMatchObject({ X0_NATS_PORT: 4222, X0_NATS_MONITOR_PORT: 8222, X0_HTTP_PORT_BASE: 9101, NATS_SERVER_BIN: "nats-server" });
    expect(config.X0_NODE).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  });

  test("up config - reads the ports, node and nats-server from the environment", () => {
    const config = loadUpConfig({
      X0_NATS_PORT: "14222",
      X0_NATS_MONITOR_PORT: "18222",
      X0_HTTP_PORT_BASE: "19000",
      X0_NODE: "edge-1",
      NATS_SERVER_BIN: "/opt/nats",
    });
    expect(config).toMatchObject({
      X0_NATS_PORT: 14222,
      X0_NATS_MONITOR_PORT: 18222,
      X0_HTTP_PORT_BASE: 19000,
      X0_NODE: "edge-1",
      NATS_SERVER_BIN: "/opt/nats",
    });
  });

  test("up config - X0_NATS_CLUSTER asks for the cluster, its routes from X0_NATS_CLUSTER_PORT", () => {
    expect(loadUpConfig({})).toMatchObject({ X0_NATS_CLUSTER: false, X0_NATS_CLUSTER_PORT: 6222 });
    expect(loadUpConfig({ X0_NATS_CLUSTER: "true", X0_NATS_CLUSTER_PORT: "16222" })).toMatchObject({ X0_NATS_CLUSTER: true, X0_NATS_CLUSTER_PORT: 16222 });
    expect(() => loadUpConfig({ X0_NATS_CLUSTER: "yes" })).toThrow(/X0_NATS_CLUSTER/);
  });

  test("up config - a bad value is a ConfigError naming the variable", () => {
    expect(() => loadUpConfig({ X0_NATS_PORT: "nope" })).toThrow(ConfigError);
    expect(() => loadUpConfig({ X0_HTTP_PORT_BASE: "0" })).toThrow(/X0_HTTP_PORT_BASE/);
    expect(() => loadUpConfig({ X0_NODE: "my.host" })).toThrow(/X0_NODE/);
  });

  test("up config - --no-nats uses X0_NATS_SERVERS, else the local port", () => {
    expect(externalNatsServers(loadUpConfig({ X0_NATS_SERVERS: "nats://a:4222,nats://b:4222" }))).toBe("nats://a:4222,nats://b:4222");
    expect(externalNatsServers(loadUpConfig({ X0_NATS_PORT: "5222" }))).toBe("nats://127.0.0.1:5222");
  });

  test("up config - services get the user's environment with NATS, port and node set", () => {
    const env = serviceEnvironment(
      { PATH: "/bin", X0_LOG_LEVEL: "debug", X0_HTTP_PORT: "1" },
      { natsServers: "nats://127.0.0.1:4222", httpPort: 9102, node: "n1" },
    );
    expect(env).toEqual({ PATH: "/bin", X0_LOG_LEVEL: "debug", X0_HTTP_PORT: "9102", X0_NATS_SERVERS: "nats://127.0.0.1:4222", X0_NODE: "n1" });
  });
});
