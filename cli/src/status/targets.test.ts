import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "@x0/shared/testing";
import { stackFileFixture } from "../testing.ts";
import { discoverServices } from "../up/discover.ts";
import { assignPorts, DEFAULT_HTTP_PORT_BASE } from "../up/ports.ts";
import { resolveTargets, STACK_SERVICE_OFFSETS } from "./targets.ts";

const stack = stackFileFixture();

describe("status targets", () => {
  test("status targets - --url wins over everything", () => {
    expect(resolveTargets(["http://h:1"], stack, 9101)).toEqual([{ name: undefined, url: "http://h:1", found_by: "url" }]);
  });

  test("status targets - the stack file's services and ports come next, discovery or not", () => {
    const found = [{ name: "x0-crypto", id: "a", version: "1", url: "http://10.0.0.9:9105" }];
    expect(resolveTargets([], stack, 9101, found)).toEqual([
      { name: "monitor", url: "http://127.0.0.1:19101", found_by: "stack" },
      { name: "rag", url: "http://127.0.0.1:19105", found_by: "stack" },
    ]);
  });

  test("status targets - without a stack file, all seven services on their default ports from the base", () => {
    expect(resolveTargets([], undefined, 9101).map(({ name, url, found_by }) => `${name} ${url} ${found_by}`)).toEqual([
      "monitor http://127.0.0.1:9101 port",
      "analyzer http://127.0.0.1:9102 port",
      "planner http://127.0.0.1:9103 port",
      "executor http://127.0.0.1:9104 port",
      "crypto http://127.0.0.1:9105 port",
      "rag http://127.0.0.1:9106 port",
      "swarm http://127.0.0.1:9107 port",
    ]);
    expect(resolveTargets([], undefined, 20000)[6]?.url).toBe("http://127.0.0.1:20006");
  });

  test("status targets - what NATS discovery found replaces the default port of that service, and adds services it does not know", () => {
    const found = [
      { name: "x0-crypto", id: "c1", version: "0.1.0", url: "http://10.0.0.9:19105" },
      { name: "x0-crypto", id: "c2", version: "0.1.0", url: "http://10.0.0.8:19105" },
      { name: "x0-rag", id: "r1", version: "0.1.0", url: "http://127.0.0.1:9106" },
      { name: "x0-gateway", id: "g1", version: "2.0.0", url: "http://10.0.0.7:8080" },
      { name: "x0-swarm", id: "s1", version: "0.1.0", url: undefined },
    ];
    expect(resolveTargets([], undefined, 9101, found).map(({ name, url, found_by }) => `${name} ${url} ${found_by}`)).toEqual([
      "monitor http://127.0.0.1:9101 port",
      "analyzer http://127.0.0.1:9102 port",
      "planner http://127.0.0.1:9103 port",
      "executor http://127.0.0.1:9104 port",
      "crypto http://10.0.0.9:19105 nats",
      "crypto http://10.0.0.8:19105 nats",
      "rag http://127.0.0.1:9106 nats",
      "swarm http://127.0.0.1:9107 port",
      "gateway http://10.0.0.7:8080 nats",
    ]);
  });

  test("status targets - the default ports are the ones up gives the whole stack, and each service's own default", () => {
    const services = discoverServices(join(REPO_ROOT, "services"));
    expect(services.toSorted()).toEqual(Object.keys(STACK_SERVICE_OFFSETS).toSorted());
    const assigned = assignPorts(services, DEFAULT_HTTP_PORT_BASE);
    for (const [name, offset] of Object.entries(STACK_SERVICE_OFFSETS)) {
      expect(assigned.get(name), name).toBe(DEFAULT_HTTP_PORT_BASE + offset);
      const main = readFileSync(join(REPO_ROOT, "services", name, "src", "main.ts"), "utf8");
      expect(main, name).toContain(`httpPort: ${DEFAULT_HTTP_PORT_BASE + offset},`);
    }
  });
});
