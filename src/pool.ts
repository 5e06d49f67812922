/**
 * The idiomatic API for people who just want a fast fixed-size pool. It shares the Wasm slab
 * core with the NDIS mirror (same validation, same errors, same statistics), without NDIS
 * vocabulary. Objects are addresses (numbers) in the runtime's linear memory; 0 is "none".
 */
import { RuntimeCore, isU32, type PoolStats } from './core.js';
import { NdisBugCheck, badParam } from './errors.js';
import { E, KIND, SLAB } from './ndis/layout.js';
import type { RecordType } from './record.js';

/** Options of `runtime.createSlabPool`. */
export interface SlabPoolOptions {
  /** Bytes per object (1 .. 0xFFF00000); slots are rounded up to a multiple of 8. */
  objectSize?: number;
  /** A record type from `runtime.defineRecord`: the objects are such records (sets objectSize). */
  record?: RecordType;
  /**
   * Pool tag for statistics: up to 4 printable characters as poolmon shows them (e.g. 'Part'),
   * or a number. Default 'Slab'.
   */
  tag?: string | number;
  /** At most this many objects outstanding; `alloc` returns 0 beyond it. Default: no limit. */
  maxOutstanding?: number;
  /**
   * Most `acquire()` calls that may wait at once; beyond it `acquire` rejects at once.
   * Default: no limit.
   */
  maxWaiters?: number;
}

/** Tag value whose memory-order bytes read `s` (so poolmon shows `s`). */
export function tagFromDisplay(s: string): number {
  let v = 0;
  for (let i = 0; i < s.length; i++) v |= s.charCodeAt(i) << (8 * i);
  return v >>> 0;
}

/** A fixed-size object pool in Wasm linear memory. Create with `runtime.createSlabPool`. */
export class SlabPool {
  /** Requested bytes per object. */
  readonly objectSize: number;
  /** The pool tag value. */
  readonly tag: number;
  /** The pool's handle (its descriptor's address), 0 once destroyed. */
  handle: number;
  readonly #rt: RuntimeCore;
  readonly #epoch: number;
  // The two hot exports, held directly: one call each, no property chain.
  readonly #spAlloc: (pool: number) => number;
  readonly #spFree: (pool: number, ptr: number) => number;
  /** acquire() calls waiting for a slot, oldest first (null: none ever waited). */
  #waiters: Waiter[] | null = null;
  readonly #maxWaiters: number;

  /** @internal use runtime.createSlabPool */
  constructor(rt: RuntimeCore, handle: number, objectSize: number, tag: number, maxWaiters = Infinity) {
    this.#maxWaiters = maxWaiters;
    this.#rt = rt;
    this.#epoch = rt.epoch;
    this.#spAlloc = rt.wasm.spAlloc;
    this.#spFree = rt.wasm.spFree;
    this.handle = handle;
    this.objectSize = objectSize;
    this.tag = tag;
  }

  #live(fn: string): number {
    const h = this.handle;
    if (h === 0 || this.#epoch !== this.#rt.epoch) this.#dead(fn);
    return h;
  }

  #dead(fn: string): never {
    throw new NdisBugCheck(`SlabPool.${fn}`, undefined, 'ALT-POOL', 0xc2, [0x07, 0, 0, this.handle],
      this.handle === 0 ? 'the pool was destroyed' : 'the pool was freed by runtime.reset()');
  }

  /**
   * Allocates one object. Not zeroed (fresh memory is zero; reused slots keep old bytes).
   * @returns its address, or 0 when `maxOutstanding` or the runtime's memory budget is reached.
   */
  alloc(): number {
    const h = this.handle;
    if (h === 0 || this.#epoch !== this.#rt.epoch) this.#dead('alloc');
    return this.#spAlloc(h) >>> 0;
  }

  /** `alloc()` under the name pools with waiting use: it never waits (0 when none is free). */
  tryAlloc(): number {
    return this.alloc();
  }

  /**
   * Allocates one object wrapped in a {@link Lease} that frees it when disposed: with
   * `using lease = pool.lease()` the slot is freed at scope exit. Costs one small JS object per
   * call (the plain alloc/free path allocates none).
   * @returns the lease, or null when `alloc()` would return 0 (`using` accepts null).
   */
  lease(): Lease | null {
    const p = this.alloc();
    return p === 0 ? null : new Lease(this, p);
  }

  /**
   * Frees an object of this pool.
   * @throws NdisBugCheck for an address that is not a live object of this pool (double free,
   *   foreign or interior pointer); nothing changes then.
   */
  free(ptr: number): void {
    const h = this.handle;
    if (h === 0 || this.#epoch !== this.#rt.epoch) this.#dead('free');
    if (ptr >>> 0 !== ptr) throw badParam('SlabPool.free', 'ptr', ptr, 'an object address (u32)');
    const e = this.#spFree(h, ptr);
    if (e !== E.OK) throw this.#rt.fail('SlabPool.free', e >>> 0, ['ptr'], [ptr], 'an object of this pool', 'ALT-POOL');
    // Only when someone waits: hand the slot to the oldest waiter (one check otherwise).
    if (this.#waiters !== null && this.#waiters.length !== 0) this.#handOver();
  }

  /** Gives freed slots to waiters, oldest first, while slots can be had. */
  #handOver(): void {
    const q = this.#waiters!;
    while (q.length !== 0) {
      const p = this.#spAlloc(this.handle) >>> 0;
      if (p === 0) return;
      const w = q.shift()!;
      w.settle();
      w.resolve(p);
    }
  }

  /**
   * Allocates one object, waiting (FIFO) while the pool is at `maxOutstanding` or the memory
   * budget: a `free` hands its slot to the oldest waiter. Costs nothing on alloc/free while
   * nobody waits.
   * @param options.signal an AbortSignal: aborting rejects with its reason and takes no slot.
   * @param options.timeoutMs reject with a TimeoutError after this many ms (takes no slot).
   * @returns the object's address. Rejects at once when `maxWaiters` are already waiting.
   */
  acquire(options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<number> {
    const h = this.#live('acquire');
    const signal = options?.signal;
    const timeoutMs = options?.timeoutMs;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw badParam('SlabPool.acquire', 'options.signal', signal, 'an AbortSignal');
    if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs >= 0 && Number.isFinite(timeoutMs))) {
      throw badParam('SlabPool.acquire', 'options.timeoutMs', timeoutMs, 'a finite number of ms >= 0');
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const q = (this.#waiters ??= []);
    if (q.length === 0) {
      const p = this.#spAlloc(h) >>> 0;
      if (p !== 0) return Promise.resolve(p);
    }
    if (q.length >= this.#maxWaiters) {
      return Promise.reject(new RangeError(`SlabPool.acquire: ${q.length} callers already wait (maxWaiters ${this.#maxWaiters})`));
    }
    return new Promise<number>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => leave(signal!.reason);
      const w: Waiter = {
        resolve,
        reject,
        settle() {
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      // Leaving the queue before a slot was handed over: no slot is taken, none is lost.
      const leave = (reason: unknown) => {
        const i = q.indexOf(w);
        if (i < 0) return; // already handed a slot: the acquire resolved
        q.splice(i, 1);
        w.settle();
        reject(reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => leave(new DOMException(`SlabPool.acquire: no slot within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
      }
      q.push(w);
    });
  }

  /** Number of acquire() calls waiting. */
  get waiters(): number {
    return this.#waiters?.length ?? 0;
  }

  /**
   * Allocates up to `out.length` objects with one boundary crossing, writing their addresses to
   * `out`. Zero-copy when `out` comes from `runtime.u32Batch`.
   * @returns how many were allocated (fewer only when the limit or memory budget is reached).
   */
  allocMany(out: Uint32Array): number {
    const h = this.#live('allocMany');
    const rt = this.#rt;
    if (!(out instanceof Uint32Array)) throw badParam('SlabPool.allocMany', 'out', out, 'a Uint32Array');
    const n = out.length;
    const direct = batchAddressOf(rt, out, 'SlabPool.allocMany', 'out');
    if (direct) return rt.wasm.spAllocMany(h, direct, n) >>> 0;
    const s = rt.scratchU32(n);
    if (s) {
      const got = rt.wasm.spAllocMany(h, s, n) >>> 0;
      rt.sync();
      out.set(rt.u32.subarray(s >>> 2, (s >>> 2) + got));
      return got;
    }
    // The memory budget cannot hold a scratch array that large: one call per object.
    let i = 0;
    for (; i < n; i++) {
      const p = rt.wasm.spAlloc(h) >>> 0;
      if (p === 0) break;
      out[i] = p;
    }
    return i;
  }

  /**
   * Frees `count` objects (default: all of `ptrs`) with one boundary crossing. All or nothing:
   * every address is checked first; on a bad one (or a duplicate) nothing is freed.
   * @throws NdisBugCheck naming the index of the first bad entry.
   */
  freeMany(ptrs: Uint32Array, count?: number): void {
    const h = this.#live('freeMany');
    const rt = this.#rt;
    if (!(ptrs instanceof Uint32Array)) throw badParam('SlabPool.freeMany', 'ptrs', ptrs, 'a Uint32Array');
    const n = count ?? ptrs.length;
    if (!isU32(n) || n > ptrs.length) throw badParam('SlabPool.freeMany', 'count', n, `an integer in [0, ${ptrs.length}]`);
    let addr = batchAddressOf(rt, ptrs, 'SlabPool.freeMany', 'ptrs');
    if (!addr) {
      addr = rt.scratchU32(n);
      if (!addr) return this.#freeEach(ptrs, n);
      rt.sync();
      rt.u32.set(ptrs.subarray(0, n), addr >>> 2);
    }
    const e = rt.wasm.spFreeMany(h, addr, n) >>> 0;
    if (e !== E.OK) {
      const i = rt.wasm.errDetail() >>> 0;
      throw rt.fail('SlabPool.freeMany', e, [`ptrs[${i}]`], [ptrs[i]!], 'an object of this pool', 'ALT-POOL');
    }
    if (this.#waiters !== null && this.#waiters.length !== 0) this.#handOver();
  }

  /** freeMany without a scratch array: check every entry in JS first, then free one by one. */
  #freeEach(ptrs: Uint32Array, n: number): void {
    const h = this.handle;
    const rt = this.#rt;
    rt.sync();
    const seen = new Set<number>();
    for (let i = 0; i < n; i++) {
      const p = ptrs[i]!;
      const slab = rt.liveIn(p, KIND.SLAB_OBJ);
      const e = slab < E.LIMIT ? slab : rt.rd32(slab + SLAB.Pool) !== h ? E.WRONG_POOL : seen.has(p) ? E.DUPLICATE : E.OK;
      if (e !== E.OK) throw rt.fail('SlabPool.freeMany', e, [`ptrs[${i}]`], [p], 'an object of this pool', 'ALT-POOL');
      seen.add(p);
    }
    for (let i = 0; i < n; i++) rt.wasm.spFree(h, ptrs[i]!);
    if (this.#waiters !== null && this.#waiters.length !== 0) this.#handOver();
  }

  /** A zero-copy view of the object at `ptr` (objectSize bytes). */
  bytes(ptr: number): Uint8Array {
    const h = this.#live('bytes');
    const rt = this.#rt;
    if (!isU32(ptr)) throw badParam('SlabPool.bytes', 'ptr', ptr, 'an object address (u32)');
    rt.sync();
    const slab = rt.liveIn(ptr, KIND.SLAB_OBJ);
    if (slab < E.LIMIT) throw rt.fail('SlabPool.bytes', slab, ['ptr'], [ptr], 'an object of this pool', 'ALT-POOL');
    if (rt.rd32(slab + SLAB.Pool) !== h) throw rt.fail('SlabPool.bytes', E.WRONG_POOL, ['ptr'], [ptr], 'an object of this pool');
    return rt.bytes(ptr, this.objectSize);
  }

  /** Counters of this pool (not for the data path). */
  stats(): PoolStats & { waiters: number } {
    return { ...this.#rt.poolStatsAt(this.#live('stats')), waiters: this.waiters };
  }

  /**
   * Frees the pool and its memory. With objects outstanding this is an error unless
   * `{ force: true }`, which drops them (their addresses become invalid).
   * @throws NdisBugCheck POOL-5 when objects are outstanding and `force` is not set.
   */
  destroy(options?: { force?: boolean }): void {
    const h = this.#live('destroy');
    const e = this.#rt.wasm.slabPoolDestroy(h, options?.force ? 1 : 0) >>> 0;
    if (e !== E.OK) throw this.#rt.fail('SlabPool.destroy', e, ['pool'], [h], 'a SlabPool');
    this.handle = 0;
    // Waiters cannot be served any more.
    for (const w of this.#waiters?.splice(0) ?? []) {
      w.settle();
      w.reject(new Error('SlabPool.acquire: the pool was destroyed'));
    }
  }
}

interface Waiter {
  resolve(ptr: number): void;
  reject(reason: unknown): void;
  /** Stops the waiter's timer and abort listener. */
  settle(): void;
}

/** One leased object: its address while the lease is held; disposing frees it. */
export class Lease implements Disposable {
  #pool: SlabPool | null;
  readonly #ptr: number;

  /** @internal use pool.lease() */
  constructor(pool: SlabPool, ptr: number) {
    this.#pool = pool;
    this.#ptr = ptr;
  }

  /** The object's address. @throws NdisBugCheck after the lease was disposed. */
  get ptr(): number {
    if (this.#pool === null) throw leaseOver('ptr', this.#ptr);
    return this.#ptr;
  }

  /** True until disposed. */
  get active(): boolean {
    return this.#pool !== null;
  }

  /** Frees the object. @throws NdisBugCheck when the lease was already disposed. */
  [Symbol.dispose](): void {
    const pool = this.#pool;
    if (pool === null) throw leaseOver('dispose', this.#ptr);
    this.#pool = null;
    pool.free(this.#ptr);
  }

  /** The same as disposing. */
  release(): void {
    this[Symbol.dispose]();
  }
}

function leaseOver(fn: string, ptr: number): NdisBugCheck {
  return new NdisBugCheck(`Lease.${fn}`, undefined, 'ALT-POOL', 0xc2, [0x07, 0, 0, ptr],
    `the lease of ${'0x' + ptr.toString(16).toUpperCase().padStart(8, '0')} was already disposed`);
}

const batches = new WeakMap<Uint32Array, { rt: RuntimeCore; addr: number }>();

/**
 * @internal Address in linear memory of a batch array of `rt`, or 0 for any other array.
 * @throws NdisBugCheck PARAM for a batch whose buffer memory growth detached (unshared memory).
 */
export function batchAddressOf(rt: RuntimeCore, a: Uint32Array, fn: string, arg: string): number {
  const b = batches.get(a);
  if (!b || b.rt !== rt) return 0;
  if (a.buffer.byteLength === 0) {
    throw badParam(fn, arg, 0, 'a live batch (this one was detached when memory grew; unshared memory detaches views: take a new u32Batch)');
  }
  return b.addr;
}

/**
 * @internal A Uint32Array of `n` entries living in the runtime's linear memory, for zero-copy
 * bulk calls. Lives as long as the runtime (it survives reset).
 */
export function makeBatch(rt: RuntimeCore, n: number): Uint32Array {
  if (!isU32(n) || n === 0 || n > 1 << 24) throw badParam('u32Batch', 'n', n, 'an integer in [1, 16777216]');
  const addr = rt.wasm.heapReserve(n * 4) >>> 0;
  if (!addr) throw new RangeError(`ndis-pool: no memory left for a ${n}-entry batch`);
  rt.sync();
  const a = new Uint32Array(rt.memory.buffer, addr, n);
  batches.set(a, { rt, addr });
  return a;
}

/** @internal Creates a SlabPool on `rt`. */
export function createSlabPool(rt: RuntimeCore, options: SlabPoolOptions): SlabPool | null {
  const fn = 'createSlabPool';
  if (typeof options !== 'object' || options === null) throw badParam(fn, 'options', options, 'an object');
  const { record, tag = 'Slab', maxOutstanding } = options;
  if (record !== undefined && (typeof record !== 'object' || record === null || !isU32((record as RecordType).size))) {
    throw badParam(fn, 'options.record', record, 'a record type from runtime.defineRecord');
  }
  const objectSize = options.objectSize ?? record?.size;
  const maxWaiters = options.maxWaiters ?? Infinity;
  if (maxWaiters !== Infinity && !isU32(maxWaiters)) throw badParam(fn, 'options.maxWaiters', maxWaiters, 'a count (u32) or Infinity');
  if (record && options.objectSize !== undefined && options.objectSize < record.size) {
    throw badParam(fn, 'options.objectSize', options.objectSize, `at least the record's size (${record.size})`);
  }
  if (!isU32(objectSize) || objectSize === 0 || objectSize > 0xfff00000) throw badParam(fn, 'options.objectSize', objectSize, 'an integer in [1, 0xFFF00000]');
  let tagValue: number;
  if (typeof tag === 'string') {
    if (tag.length < 1 || tag.length > 4 || !/^[\x20-\x7e]+$/.test(tag)) throw badParam(fn, 'options.tag', tag, '1 to 4 printable ASCII characters');
    tagValue = tagFromDisplay(tag);
  } else if (isU32(tag)) {
    tagValue = tag;
  } else {
    throw badParam(fn, 'options.tag', tag, 'a string or a u32');
  }
  let max = 0xffffffff;
  if (maxOutstanding !== undefined) {
    if (!isU32(maxOutstanding) || maxOutstanding === 0xffffffff) throw badParam(fn, 'options.maxOutstanding', maxOutstanding, 'an integer in [0, 0xFFFFFFFE]');
    max = maxOutstanding;
  }
  const h = rt.wasm.slabPoolCreate(objectSize, tagValue, max) >>> 0;
  if (h === 0) return null; // exhaustion: the memory budget cannot hold the pool descriptor
  return new SlabPool(rt, h, objectSize, tagValue, maxWaiters);
}
