// What user space assumes about a compiled BPF object (struct layouts, enums, maps, data sections, program names), and
// the check of those assumptions against the object's BTF, read with bpftool: cilium/tetragon's alignchecker, for TypeScript.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X0Error } from "@x0/shared";
import { z } from "zod";

/** The object `make bpf` compiles from the shared headers only for their BTF: every struct and enum of bpf/*.h. */
export const BTF_LAYOUT_OBJECT = "btf_layout.bpf.o";

/** BPF map types the monitor uses (enum bpf_map_type, include/uapi/linux/bpf.h). */
export const MapType = { HASH: 1, ARRAY: 2, PERCPU_HASH: 5, PERCPU_ARRAY: 6, LRU_HASH: 9, LRU_PERCPU_HASH: 10, RINGBUF: 27 } as const;

/** A struct field as user space reads or writes it: byte offset, size, and the struct it is when it is one. */
export interface FieldLayout {
  readonly offset: number;
  readonly size: number;
  readonly struct?: StructLayout;
}

/** A C struct as user space encodes it: every field, padding included. */
export interface StructLayout {
  readonly name: string;
  readonly size: number;
  readonly fields: Readonly<Record<string, FieldLayout>>;
}

/** A C type: a struct, or a scalar (or byte array) of that many bytes. */
export type TypeLayout = StructLayout | number;

/** A C enum: every enumerator by its C name. */
export interface EnumLayout {
  readonly name: string;
  readonly values: Readonly<Record<string, number>>;
}

/** A map definition of the `.maps` section, with key and value given by `__type` (both absent for a ring buffer). */
export interface MapLayout {
  readonly type: number;
  readonly maxEntries: number;
  readonly key?: TypeLayout;
  readonly value?: TypeLayout;
}

/** What one object's BTF must say. Maps and section variables are complete lists: one the object has and user space does not mirror is a mismatch. */
export interface BtfExpectation {
  readonly structs?: readonly StructLayout[];
  readonly enums?: readonly EnumLayout[];
  /** Every map of the object, by name. */
  readonly maps?: Readonly<Record<string, MapLayout>>;
  /** Every variable of each named data section (`.rodata`: the `const volatile` config), by name. */
  readonly sections?: Readonly<Record<string, Readonly<Record<string, FieldLayout>>>>;
  /** Programs user space finds by name. */
  readonly programs?: readonly string[];
}

/** The size in bytes of a {@link TypeLayout} (0 for an absent key or value). */
export function byteSize(type: TypeLayout | undefined): number {
  return type === undefined ? 0 : typeof type === "number" ? type : type.size;
}

/**
 * A {@link StructLayout} from each field's `[offset, size]`, or `[offset, size, struct]` for a struct field.
 * @example cStruct("x0_counter", 16, { packets: [0, 8], bytes: [8, 8] })
 */
export function cStruct<const Fields extends Record<string, readonly [number, number] | readonly [number, number, StructLayout]>>(
  name: string,
  size: number,
  fields: Fields,
): StructLayout & { readonly fields: { readonly [K in keyof Fields]: FieldLayout } } {
  const described = Object.fromEntries(
    Object.entries(fields).map(([field, [offset, bytes, struct]]) => [field, struct ? { offset, size: bytes, struct } : { offset, size: bytes }]),
  );
  return { name, size, fields: described as { readonly [K in keyof Fields]: FieldLayout } };
}

/**
 * An {@link EnumLayout} from a TypeScript constant object whose keys are the C names without `prefix`.
 * @example cEnum("x0_stat", "X0_STAT_", { TOTAL: 0, MAX: 1 }) // X0_STAT_TOTAL = 0, X0_STAT_MAX = 1
 */
export function cEnum(name: string, prefix: string, values: Readonly<Record<string, number>>): EnumLayout {
  return { name, values: Object.fromEntries(Object.entries(values).map(([key, value]) => [`${prefix}${key}`, value])) };
}

/** A BPF object or bpftool is missing, or bpftool cannot read the object. */
export class BtfUnavailable extends X0Error {}

const btfSchema = z.object({
  types: z.array(
    z.object({
      id: z.number(),
      kind: z.string(),
      name: z.string(),
      size: z.number().optional(),
      type_id: z.number().optional(),
      nr_elems: z.number().optional(),
      linkage: z.string().optional(),
      members: z.array(z.object({ name: z.string(), type_id: z.number(), bits_offset: z.number(), bitfield_size: z.number().optional() })).optional(),
      values: z.array(z.object({ name: z.string(), val: z.number() })).optional(),
      vars: z.array(z.object({ type_id: z.number(), offset: z.number(), size: z.number() })).optional(),
    }),
  ),
});

/** An object's BTF as `bpftool btf dump -j` gives it (the fields the check reads). */
export type Btf = z.infer<typeof btfSchema>;
type BtfType = Btf["types"][number];

function bpftool(): string {
  const found = Bun.which("bpftool") ?? ["/usr/sbin/bpftool", "/sbin/bpftool"].find((path) => existsSync(path));
  if (!found) throw new BtfUnavailable("bpftool is not installed (make deps installs it)");
  return found;
}

function run(argv: string[]): string {
  const result = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new BtfUnavailable(`${argv.join(" ")} exited ${result.exitCode}: ${result.stderr.toString().trim()}`);
  return result.stdout.toString();
}

/**
 * The BTF of `objectPath`. The compiler leaves the offsets of data section variables at 0 (libbpf fills them in at open):
 * the object goes through the BPF static linker (`bpftool gen object`) first, which fills them in the same way.
 */
export function readBtf(objectPath: string): Btf {
  if (!existsSync(objectPath)) throw new BtfUnavailable(`${objectPath} is missing: run make bpf (make test builds it before the tests)`);
  const tool = bpftool();
  const dir = mkdtempSync(join(tmpdir(), "x0-btf-"));
  try {
    const linked = join(dir, "linked.o");
    run([tool, "gen", "object", linked, objectPath]);
    return btfSchema.parse(JSON.parse(run([tool, "btf", "dump", "file", linked, "-j"])));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Type lookups over one object's BTF. */
class BtfIndex {
  private readonly byId = new Map<number, BtfType>();

  constructor(readonly btf: Btf) {
    for (const type of btf.types) this.byId.set(type.id, type);
  }

  type(id: number): BtfType | undefined {
    return this.byId.get(id);
  }

  named(kind: string, name: string): BtfType | undefined {
    return this.btf.types.find((type) => type.kind === kind && type.name === name);
  }

  /** The type behind typedefs and qualifiers. */
  resolve(id: number): BtfType | undefined {
    let type = this.byId.get(id);
    while (type && ["TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"].includes(type.kind)) type = this.byId.get(type.type_id ?? 0);
    return type;
  }

  sizeOf(id: number): number {
    const type = this.resolve(id);
    if (!type) return 0;
    if (type.kind === "PTR") return 8;
    if (type.kind === "ARRAY") return (type.nr_elems ?? 0) * this.sizeOf(type.type_id ?? 0);
    return type.size ?? 0;
  }

  /** The number a libbpf map definition encodes as `int (*name)[N]` (`__uint(name, N)`). */
  encodedNumber(id: number): number | undefined {
    const pointer = this.resolve(id);
    const array = pointer?.kind === "PTR" ? this.resolve(pointer.type_id ?? 0) : undefined;
    return array?.kind === "ARRAY" ? array.nr_elems : undefined;
  }
}

const bytes = (bits: number) => bits / 8;

function checkStruct(btf: BtfIndex, type: BtfType | undefined, expected: StructLayout, out: Set<string>): void {
  const where = `struct ${expected.name}`;
  if (type?.kind !== "STRUCT") {
    out.add(`${where}: not in the BTF`);
    return;
  }
  if (type.size !== expected.size) out.add(`${where}: ${type.size} bytes, user space expects ${expected.size}`);
  const members = new Map((type.members ?? []).map((member) => [member.name, member]));
  for (const [name, member] of members) {
    const field = expected.fields[name];
    const size = btf.sizeOf(member.type_id);
    if (!field) {
      out.add(`${where}: field ${name} (byte ${bytes(member.bits_offset)}, ${size} bytes) is not mirrored`);
      continue;
    }
    if (member.bitfield_size) out.add(`${where}: field ${name} is a bitfield, user space expects whole bytes`);
    if (bytes(member.bits_offset) !== field.offset) out.add(`${where}: field ${name} at byte ${bytes(member.bits_offset)}, user space expects ${field.offset}`);
    if (size !== field.size) out.add(`${where}: field ${name} is ${size} bytes, user space expects ${field.size}`);
    if (field.struct) checkStruct(btf, btf.resolve(member.type_id), field.struct, out);
  }
  for (const [name, field] of Object.entries(expected.fields)) {
    if (!members.has(name)) out.add(`${where}: no field ${name} (user space expects it at byte ${field.offset})`);
  }
}

/** Checks a key, value or variable type: a struct by name and layout, a scalar by size. */
function checkType(btf: BtfIndex, where: string, typeId: number | undefined, expected: TypeLayout | undefined, out: Set<string>): void {
  const size = typeId === undefined ? 0 : btf.sizeOf(typeId);
  if (size !== byteSize(expected)) out.add(`${where} is ${size} bytes, user space expects ${byteSize(expected)}`);
  if (typeof expected !== "object") return;
  const type = typeId === undefined ? undefined : btf.resolve(typeId);
  if (type?.kind !== "STRUCT" || type.name !== expected.name)
    out.add(`${where} is ${type ? `${type.kind.toLowerCase()} ${type.name}` : "absent"}, user space expects struct ${expected.name}`);
  else checkStruct(btf, type, expected, out);
}

function checkEnum(btf: BtfIndex, expected: EnumLayout, out: Set<string>): void {
  const where = `enum ${expected.name}`;
  const type = btf.named("ENUM", expected.name) ?? btf.named("ENUM64", expected.name);
  if (!type) {
    out.add(`${where}: not in the BTF`);
    return;
  }
  const values = new Map((type.values ?? []).map(({ name, val }) => [name, val]));
  for (const [name, value] of values) {
    const mirrored = expected.values[name];
    if (mirrored === undefined) out.add(`${where}: ${name} = ${value} is not mirrored`);
    else if (mirrored !== value) out.add(`${where}: ${name} is ${value}, user space expects ${mirrored}`);
  }
  for (const [name, value] of Object.entries(expected.values)) if (!values.has(name)) out.add(`${where}: no ${name} (user space expects ${value})`);
}

/** The variables of data section `name` by variable name, with their offset, size and type. */
function sectionVariables(btf: BtfIndex, name: string): Map<string, { offset: number; size: number; typeId: number | undefined }> | undefined {
  const section = btf.named("DATASEC", name);
  if (!section) return undefined;
  const variables = new Map<string, { offset: number; size: number; typeId: number | undefined }>();
  for (const entry of section.vars ?? []) {
    const variable = btf.type(entry.type_id);
    if (variable) variables.set(variable.name, { offset: entry.offset, size: entry.size, typeId: variable.type_id });
  }
  return variables;
}

function checkMaps(btf: BtfIndex, expected: Readonly<Record<string, MapLayout>>, out: Set<string>): void {
  const maps = sectionVariables(btf, ".maps") ?? new Map();
  for (const name of maps.keys()) if (!(name in expected)) out.add(`map ${name}: in .maps but not mirrored`);
  for (const [name, layout] of Object.entries(expected)) {
    const map = maps.get(name);
    const definition = map?.typeId === undefined ? undefined : btf.resolve(map.typeId);
    if (!definition) {
      out.add(`map ${name}: not in .maps`);
      continue;
    }
    const member = (field: string) => definition.members?.find((m) => m.name === field);
    const number = (field: string) => {
      const m = member(field);
      return m ? btf.encodedNumber(m.type_id) : undefined;
    };
    const type = number("type");
    if (type !== layout.type) out.add(`map ${name}: type ${type ?? "absent"}, user space expects ${layout.type}`);
    const maxEntries = number("max_entries");
    if (maxEntries !== layout.maxEntries) out.add(`map ${name}: max_entries ${maxEntries ?? "absent"}, user space expects ${layout.maxEntries}`);
    for (const part of ["key", "value"] as const) {
      const typed = member(part);
      const pointer = typed ? btf.resolve(typed.type_id) : undefined;
      checkType(btf, `map ${name}: ${part}`, pointer?.type_id, layout[part], out);
    }
  }
}

function checkSection(btf: BtfIndex, name: string, expected: Readonly<Record<string, FieldLayout>>, out: Set<string>): void {
  const variables = sectionVariables(btf, name);
  if (!variables) {
    out.add(`section ${name}: not in the BTF`);
    return;
  }
  for (const [variable, found] of variables) {
    const layout = expected[variable];
    if (!layout) {
      out.add(`section ${name}: variable ${variable} (byte ${found.offset}, ${found.size} bytes) is not mirrored`);
      continue;
    }
    if (found.offset !== layout.offset) out.add(`section ${name}: ${variable} at byte ${found.offset}, user space expects ${layout.offset}`);
    checkType(btf, `section ${name}: ${variable}`, found.typeId, layout.struct ?? layout.size, out);
  }
  for (const [variable, layout] of Object.entries(expected)) {
    if (!variables.has(variable)) out.add(`section ${name}: no variable ${variable} (user space expects it at byte ${layout.offset})`);
  }
}

/** Every way `btf` differs from what user space expects, one sentence each naming the struct, field, enum, map or section; empty when they agree. */
export function checkBtf(btf: Btf, expected: BtfExpectation): string[] {
  const index = new BtfIndex(btf);
  const out = new Set<string>();
  for (const layout of expected.structs ?? []) checkStruct(index, index.named("STRUCT", layout.name), layout, out);
  for (const layout of expected.enums ?? []) checkEnum(index, layout, out);
  if (expected.maps) checkMaps(index, expected.maps, out);
  for (const [name, variables] of Object.entries(expected.sections ?? {})) checkSection(index, name, variables, out);
  for (const program of expected.programs ?? []) {
    if (!index.btf.types.some((type) => type.kind === "FUNC" && type.name === program && type.linkage === "global")) {
      out.add(`program ${program}: no global function of that name`);
    }
  }
  return [...out];
}

/** {@link checkBtf} over the BTF of the object file at `objectPath`. */
export function checkObjectLayout(objectPath: string, expected: BtfExpectation): string[] {
  return checkBtf(readBtf(objectPath), expected);
}
