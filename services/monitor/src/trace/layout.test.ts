import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BTF_LAYOUT_OBJECT, checkObjectLayout } from "../bpf/btf-layout.ts";
import { BPF_FILES, DEFAULT_BPF_DIR } from "../sample/ebpf.ts";
import { decodeRetxKey, NET_TRACE_BTF, NET_TRACE_TYPES_BTF, parseDropReasons } from "./layout.ts";

describe("trace layout", () => {
  test("trace layout - decodes IPv4 and IPv6 retransmit destinations", () => {
    const v4 = Buffer.alloc(20);
    Buffer.from([10, 0, 0, 7]).copy(v4);
    v4.writeUInt16LE(2, 16);
    expect(decodeRetxKey(v4)).toBe("10.0.0.7");
    const v6 = Buffer.alloc(20);
    Buffer.from("fd000000000000000000000000000001", "hex").copy(v6);
    v6.writeUInt16LE(10, 16);
    expect(decodeRetxKey(v6)).toBe("fd00::1");
    expect(decodeRetxKey(Buffer.alloc(20))).toBeNull();
  });

  test("trace layout - reads drop reason names from the tracefs format", () => {
    const format = 'print fmt: "reason: %s", __print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, { 3, "NO_SOCKET" }, { 6, "SOCKET_RCVBUFF" })';
    expect([...parseDropReasons(format)]).toEqual([
      [2, "NOT_SPECIFIED"],
      [3, "NO_SOCKET"],
      [6, "SOCKET_RCVBUFF"],
    ]);
  });

  test("trace layout - agrees with the BTF of net_trace.bpf.o and of net_trace.h's types", () => {
    expect(checkObjectLayout(join(DEFAULT_BPF_DIR, BPF_FILES.trace), NET_TRACE_BTF)).toEqual([]);
    expect(checkObjectLayout(join(DEFAULT_BPF_DIR, BTF_LAYOUT_OBJECT), NET_TRACE_TYPES_BTF)).toEqual([]);
  });
});
