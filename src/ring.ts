/**
 * Descriptor rings (DESIGN's ring.ts; issue "virtual NIC" §1): fixed power-of-two capacity,
 * free-running u32 producer/consumer indices, DPDK-style burst (as many as fit) and bulk (all or
 * nothing) calls, one boundary crossing per call. All ring state lives in linear memory.
 *
 * A descriptor is five u32 words: address, length, flags, status, cookie (`RING_DESCRIPTOR`).
 * `src`/`out` arrays hold descriptors back to back; a `runtime.u32Batch` array is used in place,
 * any other Uint32Array is copied through a scratch area.
 */
import { RuntimeCore, isU32 } from './core.js';
import { NdisBugCheck, badParam } from './errors.js';
import { batchAddressOf } from './pool.js';

/** Field indices of a descriptor (five u32 words). */
export const RING_DESCRIPTOR = { Address: 0, Length: 1, Flags: 2, Status: 3, Cookie: 4, WORDS: 5 } as const;
/** Ring header (at the 64-byte boundary after the handle): byte offsets. */
export const RING_HEADER = { Capacity: 0, Mask: 4, HighWater: 8, Enqueued: 12, Dequeued: 20, Prod: 64, Cons: 128, Descriptors: 192 } as const;
/** Largest ring (2^20 descriptors). */
export const RING_MAX_CAPACITY = 1 << 20;

const BAD = 0xffffffff;
const W = RING_DESCRIPTOR.WORDS;

/** Options of `runtime.createRing`. */
export interface RingOptions {
  /** Descriptors the ring holds: a power of two in [1, 2^20]. */
  capacity: number;
  /** A name for messages and statistics. */
  name?: string;
}

/** Counters of a ring (not for the data path). */
export interface RingStats {
  name: string;
  capacity: number;
  count: number;
  freeCount: number;
  highWater: number;
  enqueued: number;
  dequeued: number;
}

/** A descriptor ring in Wasm linear memory. Create with `runtime.createRing`. */
export class DescriptorRing {
  /** Descriptors the ring holds. */
  readonly capacity: number;
  /** The ring's name. */
  readonly name: string;
  /** The ring's handle (its allocation's address); 0 once destroyed. */
  handle: number;
  readonly #rt: RuntimeCore;
  readonly #epoch: number;

  /** @internal use runtime.createRing */
  constructor(rt: RuntimeCore, handle: number, capacity: number, name: string) {
    this.#rt = rt;
    this.#epoch = rt.epoch;
    this.handle = handle;
    this.capacity = capacity;
    this.name = name;
  }

  #live(fn: string): number {
    const h = this.handle;
    if (h === 0 || this.#epoch !== this.#rt.epoch) {
      throw new NdisBugCheck(`DescriptorRing.${fn}`, undefined, 'ALT-POOL', 0xc2, [0x07, 0, 0, h],
        `ring '${this.name}' ${h === 0 ? 'was destroyed' : 'was freed by runtime.reset()'}`);
    }
    return h;
  }

  #base(): number {
    return (this.handle + 63) & ~63;
  }

  #move(fn: string, arr: Uint32Array, n: number | undefined, enqueue: boolean, bulk: boolean): number {
    const h = this.#live(fn);
    const rt = this.#rt;
    const name = enqueue ? 'src' : 'out';
    if (!(arr instanceof Uint32Array)) throw badParam(`DescriptorRing.${fn}`, name, arr, 'a Uint32Array of descriptors (5 words each)');
    const count = n ?? Math.floor(arr.length / W);
    if (!isU32(count) || count > RING_MAX_CAPACITY) throw badParam(`DescriptorRing.${fn}`, 'n', count, `a descriptor count in [0, ${RING_MAX_CAPACITY}]`);
    if (count * W > arr.length) {
      throw badParam(`DescriptorRing.${fn}`, name, arr.length, `at least n * 5 = ${count * W} words (the array is too short for ${count} descriptors)`);
    }
    let addr = batchAddressOf(rt, arr, `DescriptorRing.${fn}`, name);
    let copied = false;
    if (!addr) {
      addr = rt.scratchU32(count * W);
      if (!addr && count > 0) return this.#moveInChunks(fn, h, arr, count, enqueue, bulk);
      copied = true;
      if (enqueue) {
        rt.sync();
        rt.u32.set(arr.subarray(0, count * W), addr >>> 2);
      }
    }
    const r = (enqueue ? rt.wasm.ringEnqueue(h, addr, count, bulk ? 1 : 0) : rt.wasm.ringDequeue(h, addr, count, bulk ? 1 : 0)) >>> 0;
    if (r === BAD) throw rt.fail(`DescriptorRing.${fn}`, rt.wasm.ringCheck(h) >>> 0, ['ring'], [h], 'a live descriptor ring');
    if (copied && !enqueue && r > 0) {
      rt.sync();
      arr.set(rt.u32.subarray(addr >>> 2, (addr >>> 2) + r * W));
    }
    return r;
  }

  /**
   * The memory budget cannot hold a scratch area for `count` descriptors: move them through the
   * scratch area the runtime always has (256 words), a chunk per call. Bulk calls check first
   * that all of them fit (enqueue) or are there (dequeue), so they stay all or nothing.
   */
  #moveInChunks(fn: string, h: number, arr: Uint32Array, count: number, enqueue: boolean, bulk: boolean): number {
    const rt = this.#rt;
    const held = this.#count(fn);
    if (bulk && (enqueue ? this.capacity - held < count : held < count)) return 0;
    return moveThroughScratch(rt, arr, count, enqueue, (addr, k) => (enqueue ? rt.wasm.ringEnqueue(h, addr, k, 0) : rt.wasm.ringDequeue(h, addr, k, 0)) >>> 0,
      () => rt.fail(`DescriptorRing.${fn}`, rt.wasm.ringCheck(h) >>> 0, ['ring'], [h], 'a live descriptor ring'));
  }

  /** Enqueues as many of the first `n` descriptors of `src` as fit. @returns how many. */
  enqueueBurst(src: Uint32Array, n?: number): number {
    return this.#move('enqueueBurst', src, n, true, false);
  }
  /** Dequeues up to `n` descriptors into `out`. @returns how many. */
  dequeueBurst(out: Uint32Array, n?: number): number {
    return this.#move('dequeueBurst', out, n, false, false);
  }
  /** Enqueues all `n` descriptors or none. @returns n or 0. */
  enqueueBulk(src: Uint32Array, n?: number): number {
    return this.#move('enqueueBulk', src, n, true, true);
  }
  /** Dequeues exactly `n` descriptors or none. @returns n or 0. */
  dequeueBulk(out: Uint32Array, n?: number): number {
    return this.#move('dequeueBulk', out, n, false, true);
  }

  #count(fn: string): number {
    this.#live(fn);
    const rt = this.#rt;
    rt.sync();
    const b = this.#base();
    return (rt.rd32(b + RING_HEADER.Prod) - rt.rd32(b + RING_HEADER.Cons)) >>> 0;
  }
  /** Descriptors in the ring (not for the data path of another thread). */
  count(): number {
    return this.#count('count');
  }
  /** Free slots. */
  freeCount(): number {
    return this.capacity - this.#count('freeCount');
  }
  /** Most descriptors ever held at once. */
  highWater(): number {
    this.#live('highWater');
    this.#rt.sync();
    return this.#rt.rd32(this.#base() + RING_HEADER.HighWater);
  }
  /** All counters. */
  stats(): RingStats {
    const count = this.#count('stats');
    const rt = this.#rt;
    const b = this.#base();
    return {
      name: this.name,
      capacity: this.capacity,
      count,
      freeCount: this.capacity - count,
      highWater: rt.rd32(b + RING_HEADER.HighWater),
      enqueued: rt.rd64(b + RING_HEADER.Enqueued),
      dequeued: rt.rd64(b + RING_HEADER.Dequeued),
    };
  }
  /** Frees the ring; later calls are bug checks. */
  destroy(): void {
    const h = this.#live('destroy');
    this.#rt.wasm.ringDestroy(h);
    this.handle = 0;
  }
}

/** @internal */
export function createRing(rt: RuntimeCore, options: RingOptions): DescriptorRing | null {
  const fn = 'createRing';
  if (typeof options !== 'object' || options === null) throw badParam(fn, 'options', options, 'an object');
  const { capacity, name = 'ring' } = options;
  if (!isU32(capacity) || capacity === 0 || capacity > RING_MAX_CAPACITY || (capacity & (capacity - 1)) !== 0) {
    throw badParam(fn, 'options.capacity', capacity, `a power of two in [1, ${RING_MAX_CAPACITY}]`);
  }
  if (typeof name !== 'string') throw badParam(fn, 'options.name', name, 'a string');
  const h = rt.wasm.ringCreate(capacity) >>> 0;
  if (h === 0) return null; // exhaustion: the memory budget cannot hold the ring
  return new DescriptorRing(rt, h, capacity, name);
}

/**
 * @internal Moves `count` descriptors between `arr` and a ring through the scratch area every
 * runtime has (256 words), a chunk per call: `call(addr, k)` enqueues (or dequeues) `k`
 * descriptors at `addr` and returns how many it moved, or 0xFFFFFFFF for a bad ring (`bad()`
 * builds the error). Stops at the first short chunk. Returns how many moved.
 */
export function moveThroughScratch(rt: RuntimeCore, arr: Uint32Array, count: number, enqueue: boolean, call: (addr: number, k: number) => number, bad: () => Error): number {
  const addr = rt.scratchU32(1); // the existing area
  const chunk = Math.floor(rt.scratchCap / W);
  let done = 0;
  while (done < count) {
    const k = Math.min(chunk, count - done);
    rt.sync();
    if (enqueue) rt.u32.set(arr.subarray(done * W, (done + k) * W), addr >>> 2);
    const r = call(addr, k);
    if (r === BAD) throw bad();
    if (!enqueue && r > 0) {
      rt.sync();
      arr.set(rt.u32.subarray(addr >>> 2, (addr >>> 2) + r * W), done * W);
    }
    done += r;
    if (r < k) break;
  }
  return done;
}
