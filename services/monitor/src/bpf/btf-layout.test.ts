import { beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BPF_FILES, DEFAULT_BPF_DIR } from "../sample/ebpf.ts";
import { EVENT, Stat, XDP_MAPS, XDP_MESH_BTF, XDP_MESH_TYPES_BTF } from "../xdp/layout.ts";
import { BTF_LAYOUT_OBJECT, type Btf, BtfUnavailable, checkBtf, checkObjectLayout, MapType, readBtf } from "./btf-layout.ts";

let xdp: Btf;
let types: Btf;

beforeAll(() => {
  xdp = readBtf(join(DEFAULT_BPF_DIR, BPF_FILES.xdp));
  types = readBtf(join(DEFAULT_BPF_DIR, BTF_LAYOUT_OBJECT));
});

type BtfType = Btf["types"][number];

/** A copy of `btf` changed by `change`, which gets a finder of named types. */
function mutated(btf: Btf, change: (find: (kind: string, name: string) => BtfType) => void): Btf {
  const copy = structuredClone(btf);
  change((kind, name) => {
    const found = copy.types.find((type) => type.kind === kind && type.name === name);
    if (!found) throw new Error(`no ${kind} ${name} in the BTF`);
    return found;
  });
  return copy;
}

/** The BTF type a map definition's member points at (its `int (*max_entries)[N]` array, for one). */
function mapMember(btf: Btf, map: string, member: string): BtfType {
  const byId = (id: number | undefined) => btf.types.find((type) => type.id === id) as BtfType;
  const definition = byId(btf.types.find((type) => type.kind === "VAR" && type.name === map)?.type_id);
  return byId(byId(definition.members?.find((m) => m.name === member)?.type_id).type_id);
}

describe("btf layout", () => {
  test("btf layout - a missing object fails naming make bpf, not a skip", () => {
    expect(() => readBtf(join(tmpdir(), "x0-absent", BPF_FILES.xdp))).toThrow(BtfUnavailable);
    expect(() => checkObjectLayout(join(tmpdir(), "x0-absent", BPF_FILES.xdp), XDP_MESH_BTF)).toThrow(/run make bpf/);
  });

  test("btf layout - a moved field, a changed size, enum value or max_entries, a missing map, config or program is named", () => {
    expect(checkBtf(xdp, XDP_MESH_BTF)).toEqual([]);
    const moved = mutated(xdp, (find) => {
      const scope = find("STRUCT", "x0_neigh_key").members?.find((member) => member.name === "scope");
      if (scope) scope.bits_offset = 64;
    });
    expect(checkBtf(moved, XDP_MESH_BTF)).toContain("struct x0_neigh_key: field scope at byte 8, user space expects 6");
    const grown = mutated(xdp, (find) => {
      find("STRUCT", "x0_deny").size = 24;
    });
    expect(checkBtf(grown, XDP_MESH_BTF)).toContain("struct x0_deny: 24 bytes, user space expects 16");
    expect(checkBtf(grown, XDP_MESH_BTF)).toContain("map deny: value is 24 bytes, user space expects 16");
    const bigger = structuredClone(xdp);
    mapMember(bigger, "deny", "max_entries").nr_elems = 2048;
    expect(checkBtf(bigger, XDP_MESH_BTF)).toContain("map deny: max_entries 2048, user space expects 1024");
    const retyped = structuredClone(xdp);
    mapMember(retyped, "totals", "type").nr_elems = MapType.ARRAY;
    expect(checkBtf(retyped, XDP_MESH_BTF)).toContain(`map totals: type ${MapType.ARRAY}, user space expects ${MapType.PERCPU_ARRAY}`);
    const noEvents = mutated(xdp, (find) => {
      const events = find("VAR", "events").id;
      const maps = find("DATASEC", ".maps");
      maps.vars = maps.vars?.filter((entry) => entry.type_id !== events);
    });
    expect(checkBtf(noEvents, XDP_MESH_BTF)).toEqual(["map events: not in .maps"]);
    const shifted = mutated(xdp, (find) => {
      const cfg = find("VAR", "cfg").id;
      const entry = find("DATASEC", ".rodata").vars?.find((v) => v.type_id === cfg);
      if (entry) entry.offset = 8;
    });
    expect(checkBtf(shifted, XDP_MESH_BTF)).toEqual(["section .rodata: cfg at byte 8, user space expects 0"]);
    const renamed = mutated(xdp, (find) => {
      find("FUNC", "x0_xdp").name = "x0_xdp_v2";
    });
    expect(checkBtf(renamed, XDP_MESH_BTF)).toEqual(["program x0_xdp: no global function of that name"]);

    expect(checkBtf(types, XDP_MESH_TYPES_BTF)).toEqual([]);
    const renumbered = mutated(types, (find) => {
      const hit = find("ENUM", "x0_event_type").values?.find((value) => value.name === "X0_EVENT_DENY_HIT");
      if (hit) hit.val = 3;
    });
    expect(checkBtf(renumbered, XDP_MESH_TYPES_BTF)).toEqual(["enum x0_event_type: X0_EVENT_DENY_HIT is 3, user space expects 2"]);
    const extended = mutated(types, (find) => {
      const stat = find("ENUM", "x0_stat");
      stat.values = [
        ...(stat.values ?? []).filter((value) => value.name !== "X0_STAT_MAX"),
        { name: "X0_STAT_DROP_OTHER", val: 3 },
        { name: "X0_STAT_MAX", val: 4 },
      ];
    });
    expect(checkBtf(extended, XDP_MESH_TYPES_BTF)).toEqual([
      "enum x0_stat: X0_STAT_DROP_OTHER = 3 is not mirrored",
      "enum x0_stat: X0_STAT_MAX is 4, user space expects 3",
    ]);
  });

  test("btf layout - a wrong expectation is reported naming its struct, field, map or enum", () => {
    const wrongEvent = { ...EVENT, fields: { ...EVENT.fields, ts_ns: { offset: 20, size: 8 } } };
    expect(checkBtf(types, { structs: [wrongEvent] })).toEqual(["struct x0_event: field ts_ns at byte 24, user space expects 20"]);
    const { pad: _pad, ...withoutPad } = EVENT.fields;
    expect(checkBtf(types, { structs: [{ ...EVENT, fields: withoutPad }] })).toEqual(["struct x0_event: field pad (byte 20, 4 bytes) is not mirrored"]);
    const maps = { ...XDP_MAPS, fault: { ...XDP_MAPS.fault, value: 8 }, totals: { ...XDP_MAPS.totals, maxEntries: Stat.DROP_FAULT } };
    expect(checkBtf(xdp, { maps })).toEqual(["map totals: max_entries 3, user space expects 2", "map fault: value is 4 bytes, user space expects 8"]);
    const { events: _events, ...withoutEvents } = XDP_MAPS;
    expect(checkBtf(xdp, { maps: withoutEvents })).toEqual(["map events: in .maps but not mirrored"]);
    expect(checkBtf(types, { enums: [{ name: "x0_key_scope", values: { X0_KEY_EXACT: 0, X0_KEY_ANY_IPV4: 2 } }] })).toEqual([
      "enum x0_key_scope: X0_KEY_ANY_IPV4 is 1, user space expects 2",
    ]);
    expect(checkBtf(types, { structs: [{ name: "x0_absent", size: 4, fields: {} }] })).toEqual(["struct x0_absent: not in the BTF"]);
  });

  test(
    "btf layout - objects compiled by bpf/Makefile from a changed header are rejected",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "x0-btf-header-"));
      try {
        const bpf = join(DEFAULT_BPF_DIR, "..");
        for (const file of readdirSync(bpf)) if (/\.(c|h)$|^Makefile$/.test(file)) copyFileSync(join(bpf, file), join(dir, file));
        mkdirSync(join(dir, "build"));
        // The generated vmlinux.h is newer than the kernel's BTF, so make does not regenerate it.
        copyFileSync(join(DEFAULT_BPF_DIR, "vmlinux.h"), join(dir, "build", "vmlinux.h"));
        const header = join(dir, "xdp_mesh.h");
        let text = readFileSync(header, "utf8");
        for (const [from, to] of [
          ["\t__u16 scope;", "\t__u32 scope;"],
          ["#define X0_DENY_MAX 1024", "#define X0_DENY_MAX 2048"],
          ["X0_EVENT_DENY_HIT = 2,", "X0_EVENT_DENY_HIT = 3,"],
          [
            "\t__u32 ifindex;                /* copied into events */\n\t__u32 pad;",
            "\t__u32 ifindex;                /* copied into events */\n\t__u32 flags;",
          ],
        ] as const) {
          if (!text.includes(from)) throw new Error(`xdp_mesh.h no longer contains ${JSON.stringify(from)}: update this test`);
          text = text.replace(from, to);
        }
        writeFileSync(header, text);
        const make = Bun.spawnSync(["make", "-C", dir, `build/${BPF_FILES.xdp}`, `build/${BTF_LAYOUT_OBJECT}`], { stdout: "pipe", stderr: "pipe" });
        expect(`${make.exitCode} ${make.stderr.toString()}`).toBe("0 ");

        const program = checkObjectLayout(join(dir, "build", BPF_FILES.xdp), XDP_MESH_BTF);
        expect(program).toContain("struct x0_neigh_key: 16 bytes, user space expects 12");
        expect(program).toContain("struct x0_neigh_key: field scope is 4 bytes, user space expects 2");
        expect(program).toContain("struct x0_neigh_key: field ipv4 at byte 12, user space expects 8");
        expect(program).toContain("map deny: max_entries 2048, user space expects 1024");
        expect(program).toContain("struct x0_xdp_config: field flags (byte 12, 4 bytes) is not mirrored");
        expect(program).toContain("struct x0_xdp_config: no field pad (user space expects it at byte 12)");
        const headerTypes = checkObjectLayout(join(dir, "build", BTF_LAYOUT_OBJECT), XDP_MESH_TYPES_BTF);
        expect(headerTypes).toContain("enum x0_event_type: X0_EVENT_DENY_HIT is 3, user space expects 2");
        expect(headerTypes).toContain("struct x0_event: 40 bytes, user space expects 32");
        expect(headerTypes).toContain("struct x0_event: field ts_ns at byte 32, user space expects 24");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { timeout: 60_000 },
  );
});
