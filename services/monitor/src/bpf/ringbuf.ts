// A BPF ring buffer consumed on the JS thread: ring_buffer__consume never blocks, so the callback runs synchronously
// inside the call (bun:ffi callbacks must not be called from libbpf's own threads).
import { JSCallback, type Pointer, toArrayBuffer } from "bun:ffi";
import type { Libbpf } from "./libbpf.ts";

/** Consumes records of one BPF_MAP_TYPE_RINGBUF map. */
export class RingBuffer {
  private rb: Pointer | null;
  private readonly callback: JSCallback;
  private failure: unknown;

  /** Wraps ring_buffer__new on `mapFd`; `onRecord` gets a copy of each record. */
  constructor(
    private readonly lib: Libbpf,
    mapFd: number,
    onRecord: (record: Buffer) => void,
  ) {
    // libbpf's sample callback returns int; an exception must not unwind through C, so it is kept and rethrown by poll().
    this.callback = new JSCallback(
      (_ctx: Pointer, data: Pointer, size: number | bigint) => {
        try {
          onRecord(Buffer.from(toArrayBuffer(data, 0, Number(size)).slice(0)));
          return 0;
        } catch (error) {
          this.failure ??= error;
          return -1;
        }
      },
      { args: ["ptr", "ptr", "u64"], returns: "i32" },
    );
    try {
      this.rb = lib.checkPtr("ring_buffer__new", lib.bpf.ring_buffer__new(mapFd, this.callback.ptr, null, null));
    } catch (error) {
      this.callback.close();
      throw error;
    }
  }

  /**
   * Consumes every record available now; returns how many. ring_buffer__consume reads the producer position from the
   * shared pages, so an empty buffer (nearly every interval) costs no system call, where ring_buffer__poll(rb, 0) makes an
   * epoll_wait each time.
   */
  poll(): number {
    if (!this.rb) return 0;
    const ret = this.lib.bpf.ring_buffer__consume(this.rb);
    const failure = this.failure;
    this.failure = undefined;
    if (failure) throw failure;
    return this.lib.check("ring_buffer__consume", ret);
  }

  /** Frees the ring buffer and the callback. */
  close(): void {
    if (this.rb) this.lib.bpf.ring_buffer__free(this.rb);
    this.rb = null;
    this.callback.close();
  }
}
