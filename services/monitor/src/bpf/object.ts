// One BPF object's lifecycle: open → set read-only config → pin paths → load → programs/maps/links → close.

import type { Pointer } from "bun:ffi";
import { toArrayBuffer } from "bun:ffi";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { X0Error } from "@x0/shared";
import { asPointer, BpfError, cstr, type Libbpf } from "./libbpf.ts";
import { BpfMap, type MapErrorSink } from "./map.ts";

/** The object file's read-only config section does not match what the loader writes. */
export class RodataMismatch extends X0Error {}

/** How to open and load an object. */
export interface LoadOptions {
  /** Bytes written to the start of the object's `.rodata` (its `const volatile` config struct) before load. */
  rodata?: Uint8Array;
  /** Folder to pin the named maps in; a restarted loader reuses the pinned maps and so keeps their contents. */
  pinDir?: string;
  /** Map names to pin under `pinDir`. */
  pinMaps?: readonly string[];
  /** Called with the operation name when a map operation fails. */
  onMapError?: MapErrorSink;
}

/** A loaded BPF object. */
export class BpfObject {
  private readonly maps = new Map<string, BpfMap>();
  private readonly links: Pointer[] = [];
  private closed = false;

  private constructor(
    private readonly lib: Libbpf,
    private readonly obj: Pointer,
    readonly path: string,
    private readonly onMapError: MapErrorSink,
  ) {}

  /**
   * Opens and loads `path`. When pinned maps exist but no longer match the object (a changed map definition),
   * they are removed and the load is retried once with fresh maps.
   */
  static load(lib: Libbpf, path: string, options: LoadOptions = {}): BpfObject {
    try {
      return BpfObject.loadOnce(lib, path, options);
    } catch (error) {
      if (!(error instanceof BpfError) || error.op !== `bpf_object__load(${path})` || !options.pinDir || !/pinned map|reuse/i.test(error.log)) throw error;
      for (const name of options.pinMaps ?? []) rmSync(join(options.pinDir, name), { force: true });
      return BpfObject.loadOnce(lib, path, options);
    }
  }

  private static loadOnce(lib: Libbpf, path: string, { rodata, pinDir, pinMaps = [], onMapError = () => {} }: LoadOptions): BpfObject {
    lib.takeLog();
    const obj = lib.checkPtr(`bpf_object__open_file(${path})`, lib.bpf.bpf_object__open_file(cstr(path), null));
    const object = new BpfObject(lib, obj, path, onMapError);
    try {
      if (pinDir && pinMaps.length > 0) mkdirSync(pinDir, { recursive: true });
      for (let map = asPointer(lib.bpf.bpf_object__next_map(obj, null)); map; map = asPointer(lib.bpf.bpf_object__next_map(obj, map))) {
        const name = String(lib.bpf.bpf_map__name(map));
        if (rodata && name.endsWith(".rodata")) object.writeRodata(map, name, rodata);
        if (pinDir && pinMaps.includes(name)) lib.check(`bpf_map__set_pin_path(${name})`, lib.bpf.bpf_map__set_pin_path(map, cstr(join(pinDir, name))));
      }
      lib.check(`bpf_object__load(${path})`, lib.bpf.bpf_object__load(obj));
      return object;
    } catch (error) {
      object.close();
      throw error;
    }
  }

  private writeRodata(map: Pointer, name: string, rodata: Uint8Array): void {
    const size = new BigUint64Array(1);
    const data = this.lib.checkPtr(`bpf_map__initial_value(${name})`, this.lib.bpf.bpf_map__initial_value(map, size));
    if (Number(size[0]) < rodata.length) {
      throw new RodataMismatch(`${this.path}: ${name} is ${size[0]} bytes, the loader writes ${rodata.length} (rebuild with make bpf)`);
    }
    new Uint8Array(toArrayBuffer(data, 0, rodata.length)).set(rodata);
  }

  /** The loaded map `name`. */
  map(name: string): BpfMap {
    let map = this.maps.get(name);
    if (!map) {
      let found: Pointer | null = null;
      for (let m = asPointer(this.lib.bpf.bpf_object__next_map(this.obj, null)); m; m = asPointer(this.lib.bpf.bpf_object__next_map(this.obj, m))) {
        if (String(this.lib.bpf.bpf_map__name(m)) === name) found = m;
      }
      if (!found) throw new BpfError(`map ${name} in ${this.path}`, 2);
      map = new BpfMap(this.lib, this.lib.check(`bpf_map__fd(${name})`, this.lib.bpf.bpf_map__fd(found)), name, this.onMapError);
      this.maps.set(name, map);
    }
    return map;
  }

  /** The fd of program `name`. */
  programFd(name: string): number {
    const prog = this.lib.checkPtr(`find program ${name}`, this.lib.bpf.bpf_object__find_program_by_name(this.obj, cstr(name)));
    return this.lib.check(`bpf_program__fd(${name})`, this.lib.bpf.bpf_program__fd(prog));
  }

  /** Attaches program `name` to tracepoint `category:event`; detached on {@link close}. */
  attachTracepoint(name: string, category: string, event: string): void {
    const prog = this.lib.checkPtr(`find program ${name}`, this.lib.bpf.bpf_object__find_program_by_name(this.obj, cstr(name)));
    const link = this.lib.checkPtr(
      `bpf_program__attach_tracepoint(${category}:${event})`,
      this.lib.bpf.bpf_program__attach_tracepoint(prog, cstr(category), cstr(event)),
    );
    this.links.push(link);
  }

  /** Detaches links and frees the object (pinned maps stay in bpffs). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links.splice(0)) this.lib.bpf.bpf_link__destroy(link);
    this.lib.bpf.bpf_object__close(this.obj);
  }
}
