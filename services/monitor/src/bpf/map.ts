// A BPF map reached through its fd: typed lookups, updates, deletes and whole-map reads (batched where the kernel can).
import { X0Error } from "@x0/shared";
import { byteSize, type MapLayout, MapType } from "./btf-layout.ts";
import { BpfError, cstr, type Libbpf } from "./libbpf.ts";

const PER_CPU_TYPES: ReadonlySet<number> = new Set([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH]);

/** Update flags (BPF_ANY, BPF_NOEXIST, BPF_EXIST). */
export const UpdateFlag = { ANY: 0, NOEXIST: 1, EXIST: 2 } as const;

/** A map's key or value does not have the size the user-space layout expects. */
export class MapLayoutMismatch extends X0Error {}

/** What bpf_obj_get_info_by_fd says about a map. */
export interface MapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  name: string;
}

/** Reads a map's info (struct bpf_map_info: type, id, key_size, value_size, max_entries, map_flags, name[16]). */
export function mapInfo(lib: Libbpf, fd: number): MapInfo {
  const info = Buffer.alloc(96);
  const length = new Uint32Array([info.length]);
  lib.check("bpf_obj_get_info_by_fd(map)", lib.bpf.bpf_obj_get_info_by_fd(fd, info, length));
  const name = info.subarray(24, 40);
  return {
    type: info.readUInt32LE(0),
    id: info.readUInt32LE(4),
    keySize: info.readUInt32LE(8),
    valueSize: info.readUInt32LE(12),
    maxEntries: info.readUInt32LE(16),
    name: name.subarray(0, name.indexOf(0) < 0 ? 16 : name.indexOf(0)).toString("utf8"),
  };
}

/** Counters of map operations that failed, by operation (for metrics). */
export type MapErrorSink = (op: string) => void;

/** A BPF map. Per-CPU maps return one value slot per possible CPU, each `valueSize` rounded up to 8 bytes. */
export class BpfMap {
  readonly info: MapInfo;
  readonly perCpu: boolean;
  /** Bytes of one lookup result: valueSize, or one 8-byte-aligned slot per possible CPU. */
  readonly valueBytes: number;
  /** Bytes between per-CPU slots. */
  readonly slotBytes: number;
  private batchUnsupported = false;

  constructor(
    private readonly lib: Libbpf,
    readonly fd: number,
    readonly label: string,
    private readonly onError: MapErrorSink = () => {},
    private readonly owned = false,
  ) {
    this.info = mapInfo(lib, fd);
    this.perCpu = PER_CPU_TYPES.has(this.info.type);
    this.slotBytes = this.perCpu ? Math.ceil(this.info.valueSize / 8) * 8 : this.info.valueSize;
    this.valueBytes = this.perCpu ? this.slotBytes * lib.possibleCpus : this.info.valueSize;
  }

  /** Opens a pinned map (e.g. /sys/fs/bpf/x0/mesh0/deny); the fd is closed by {@link close}. */
  static openPinned(lib: Libbpf, path: string, onError?: MapErrorSink): BpfMap {
    const fd = lib.bpf.bpf_obj_get(cstr(path));
    if (fd < 0) throw new BpfError(`bpf_obj_get(${path})`, -fd, lib.takeLog());
    return new BpfMap(lib, fd, path, onError, true);
  }

  /** Throws {@link MapLayoutMismatch} unless key and value sizes are what the caller's layout encodes. */
  expectLayout({ key, value }: Pick<MapLayout, "key" | "value">): this {
    const keySize = byteSize(key);
    const valueSize = byteSize(value);
    if (this.info.keySize !== keySize || this.info.valueSize !== valueSize) {
      throw new MapLayoutMismatch(
        `map ${this.label}: key/value ${this.info.keySize}/${this.info.valueSize} bytes, expected ${keySize}/${valueSize} (rebuild with make bpf)`,
      );
    }
    return this;
  }

  private fail(op: string, ret: number): never {
    this.onError(op);
    throw new BpfError(`${op}(${this.label})`, -ret, this.lib.takeLog());
  }

  /** The value at `key`, or undefined when absent. */
  lookup(key: Uint8Array): Buffer | undefined {
    const value = Buffer.alloc(this.valueBytes);
    const ret = this.lib.bpf.bpf_map_lookup_elem(this.fd, key, value);
    if (ret === -2) return undefined;
    if (ret < 0) this.fail("lookup", ret);
    return value;
  }

  /** Reads the value at `key` into `value` (at least {@link valueBytes} long, reused by the caller); false when absent. */
  lookupInto(key: Uint8Array, value: Buffer): boolean {
    // The kernel writes valueBytes whatever the buffer's size.
    if (value.length < this.valueBytes) throw new MapLayoutMismatch(`map ${this.label}: lookup into ${value.length} bytes, values take ${this.valueBytes}`);
    const ret = this.lib.bpf.bpf_map_lookup_elem(this.fd, key, value);
    if (ret === -2) return false;
    if (ret < 0) this.fail("lookup", ret);
    return true;
  }

  /** Writes `value` at `key` (for per-CPU maps, `value` holds every CPU's slot). */
  update(key: Uint8Array, value: Uint8Array, flags: number = UpdateFlag.ANY): void {
    const ret = this.lib.bpf.bpf_map_update_elem(this.fd, key, value, flags);
    if (ret < 0) this.fail("update", ret);
  }

  /** Deletes `key`; returns false when it was absent. */
  delete(key: Uint8Array): boolean {
    const ret = this.lib.bpf.bpf_map_delete_elem(this.fd, key);
    if (ret === -2) return false;
    if (ret < 0) this.fail("delete", ret);
    return true;
  }

  /** Whether the map has no entry (one get_next_key call; for hash maps). */
  isEmpty(): boolean {
    this.scratchKey ??= Buffer.alloc(this.info.keySize);
    const ret = this.lib.bpf.bpf_map_get_next_key(this.fd, null, this.scratchKey);
    if (ret === -2) return true;
    if (ret < 0) this.fail("get_next_key", ret);
    return false;
  }

  private scratchKey: Buffer | undefined;

  /** Every entry as [key, value] (copies), read with batch lookups when the kernel supports them, else key by key. */
  entries(): [Buffer, Buffer][] {
    const out: [Buffer, Buffer][] = [];
    this.forEach((keys, keyOffset, values, valueOffset) => {
      out.push([
        Buffer.from(keys.subarray(keyOffset, keyOffset + this.info.keySize)),
        Buffer.from(values.subarray(valueOffset, valueOffset + this.valueBytes)),
      ]);
    });
    return out;
  }

  /**
   * Visits every entry without copying: `keys` and `values` are buffers reused by the next call, valid only during `visit`.
   * Batch lookups when the kernel supports them, else key by key.
   */
  forEach(visit: (keys: Buffer, keyOffset: number, values: Buffer, valueOffset: number) => void): void {
    if (!this.batchUnsupported) {
      try {
        this.batchForEach(visit);
        return;
      } catch (error) {
        // Arrays before 5.6 and some map types cannot batch; fall back once and remember.
        if (!(error instanceof BpfError) || (error.errno !== 22 && error.errno !== 95 && error.errno !== 524)) throw error;
        this.batchUnsupported = true;
      }
    }
    this.iterForEach(visit);
  }

  private batchBuffers: { keys: Buffer; values: Buffer; cursorA: Buffer; cursorB: Buffer; count: Uint32Array } | undefined;

  private batchForEach(visit: (keys: Buffer, keyOffset: number, values: Buffer, valueOffset: number) => void): void {
    const { keySize, maxEntries } = this.info;
    const chunk = Math.max(1, maxEntries);
    // Reused between calls: a whole-map buffer every 100 ms would be most of the monitor's garbage.
    this.batchBuffers ??= {
      keys: Buffer.allocUnsafe(keySize * chunk),
      values: Buffer.allocUnsafe(this.valueBytes * chunk),
      // Hash maps use a 4-byte bucket cursor, arrays a key: room for either.
      cursorA: Buffer.alloc(Math.max(keySize, 8)),
      cursorB: Buffer.alloc(Math.max(keySize, 8)),
      count: new Uint32Array(1),
    };
    const { keys, values, cursorA, cursorB, count } = this.batchBuffers;
    let inBatch: Buffer | null = null;
    let outBatch = cursorA;
    for (;;) {
      count[0] = chunk;
      const ret = this.lib.bpf.bpf_map_lookup_batch(this.fd, inBatch, outBatch, keys, values, count, null);
      if (ret < 0 && ret !== -2) {
        this.onError("lookup_batch");
        throw new BpfError(`lookup_batch(${this.label})`, -ret, this.lib.takeLog());
      }
      const n = count[0] ?? 0;
      for (let i = 0; i < n; i++) visit(keys, i * keySize, values, i * this.valueBytes);
      if (ret === -2) return; // ENOENT: no more entries
      inBatch = outBatch;
      outBatch = outBatch === cursorA ? cursorB : cursorA;
    }
  }

  private iterForEach(visit: (keys: Buffer, keyOffset: number, values: Buffer, valueOffset: number) => void): void {
    let previous: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(this.info.keySize);
      const ret = this.lib.bpf.bpf_map_get_next_key(this.fd, previous, next);
      if (ret === -2) return;
      if (ret < 0) this.fail("get_next_key", ret);
      // An entry deleted between the two calls is simply skipped.
      const value = this.lookup(next);
      if (value) visit(next, 0, value, 0);
      previous = next;
    }
  }

  /** Closes the fd when this object opened it (maps of a loaded object are closed with the object). */
  close(): void {
    if (this.owned) this.lib.libc.close(this.fd);
  }
}

/** Sums a little-endian u64 field at `offset` over every CPU slot of a per-CPU value. */
export function sumPerCpu(value: Buffer, slotBytes: number, offset: number): bigint {
  let total = 0n;
  for (let slot = 0; slot + slotBytes <= value.length; slot += slotBytes) total += value.readBigUInt64LE(slot + offset);
  return total;
}

/** The largest u64 field at `offset` over every CPU slot of a per-CPU value. */
export function maxPerCpu(value: Buffer, slotBytes: number, offset: number): bigint {
  let max = 0n;
  for (let slot = 0; slot + slotBytes <= value.length; slot += slotBytes) {
    const v = value.readBigUInt64LE(slot + offset);
    if (v > max) max = v;
  }
  return max;
}
