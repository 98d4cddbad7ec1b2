import { describe, expect, test } from "bun:test";
import { PortAssignmentError } from "../errors.ts";
import { assignPorts, isPortFree } from "./ports.ts";

describe("ports", () => {
  test("ports - the loop services get 9101-9104 by default", () => {
    expect([...assignPorts(["monitor", "analyzer", "planner", "executor"])]).toEqual([
      ["monitor", 9101],
      ["analyzer", 9102],
      ["planner", 9103],
      ["executor", 9104],
    ]);
  });

  test("ports - other services get the next ports from 9105 up, in order", () => {
    const ports = assignPorts(["monitor", "crypto", "rag", "swarm"]);
    expect(Object.fromEntries(ports)).toEqual({ monitor: 9101, crypto: 9105, rag: 9106, swarm: 9107 });
  });

  test("ports - a missing known service keeps its port reserved", () => {
    expect(Object.fromEntries(assignPorts(["rag"]))).toEqual({ rag: 9105 });
  });

  test("ports - X0_HTTP_PORT_BASE shifts every port", () => {
    expect(Object.fromEntries(assignPorts(["executor", "monitor", "rag"], 20000))).toEqual({ executor: 20003, monitor: 20000, rag: 20004 });
  });

  test("ports - ports that are not free are skipped for the other services", () => {
    const busy = new Set([9105, 9107]);
    expect(Object.fromEntries(assignPorts(["crypto", "rag"], 9101, (port) => !busy.has(port)))).toEqual({ crypto: 9106, rag: 9108 });
  });

  test("ports - running out of ports is a PortAssignmentError", () => {
    expect(() => assignPorts(["monitor", "rag"], 65533)).toThrow(PortAssignmentError);
    expect(() => assignPorts(["executor"], 65534)).toThrow(PortAssignmentError);
  });

  test("ports - a port someone listens on is not free", () => {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      expect(isPortFree(listener.port)).toBe(false);
    } finally {
      listener.stop(true);
    }
    expect(isPortFree(listener.port)).toBe(true);
  });
});
