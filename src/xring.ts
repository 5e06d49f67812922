/**
 * Cross-worker descriptor rings (issue 10): DPDK `rte_ring` semantics between the workers of a
 * multi-worker runtime (`createRuntime({ shared: true })`, `attachRuntime`). The ring lives in
 * the shared linear memory (assembly/xring.ts); every worker that holds the runtime can use it
 * by its handle (`openSharedRing`). Descriptors are those of {@link DescriptorRing}: five u32
 * words (address, length, flags, status, cookie; `RING_DESCRIPTOR`).
 *
 * Modes, chosen at creation: `producers: 'multi'` (MP: any number of workers enqueue at once;
 * slots are reserved with a CAS) or `'single'` (SP: one worker at a time enqueues, on a cheaper
 * path); the same for `consumers` (MC / SC). An SP (SC) ring used by two producers (consumers)
 * at once is NOT detected: descriptors are lost or duplicated. Keep single-side rings to one
 * worker per side.
 *
 * Data-path calls (`enqueue*`, `dequeue*`) take no lock: they are the Wasm exports `xrEnqueue`
 * and `xrDequeue`. Creation, destruction and the waiter registration of `dequeueWait` and
 * friends run under the runtime lock. `count`, `free` and `stats()` are snapshots of indices
 * that other workers move: not for the data path.
 *
 * Caveats (as with rte_ring): MP/MC calls publish in reservation order, so a worker that stops
 * (`worker.terminate()`) inside an enqueue or dequeue stalls that side of the ring for good.
 * "Full" is conservative: a slot counts as free only once the consumer that took it has copied
 * it out (its tail), so a burst enqueue racing a dequeue may take fewer descriptors than an
 * instantaneous FIFO would.
 */
import { type RuntimeCore, isU32 } from './core.js';
import { NdisBugCheck, badParam } from './errors.js';
import { batchAddressOf } from './pool.js';
import { KIND } from './ndis/layout.js';
import { RING_DESCRIPTOR, moveThroughScratch } from './ring.js';
import { canBlock } from './shared.js';

/** Shared ring header (at the 64-byte boundary after the handle): byte offsets. */
export const SHARED_RING_HEADER = {
  Flags: 0, Capacity: 4, Mask: 8, ProdHead: 64, ProdTail: 128, Enqueued: 136, HighWater: 144,
  ConsHead: 192, ConsTail: 256, Dequeued: 264, ConsWaiters: 320, ProdWaiters: 324, Descriptors: 384,
} as const;
/** Mode bits of the header's flags word (rte_ring's RING_F_SP_ENQ / RING_F_SC_DEQ) and its magic. */
export const SHARED_RING_FLAGS = { SP: 1, SC: 2, MAGIC: 0x58520000 } as const;
/** Largest shared ring (2^20 descriptors), and the most descriptors one call moves. */
export const SHARED_RING_MAX_CAPACITY = 1 << 20;

const BAD = 0xffffffff;
const W = RING_DESCRIPTOR.WORDS;
const H = SHARED_RING_HEADER;
const SIDE_CONS = 0;
const SIDE_PROD = 1;
/** Longest single sleep (ms): a waiter re-checks its ring at least this often. */
const SLICE_MS = 20;
/**
 * Re-checks of the indices before a waiter registers and sleeps (a microsecond or so). Sleeping
 * costs both sides system calls (the other side then notifies on every call while a waiter is
 * registered), but spinning longer steals the CPU from the very worker we wait for whenever
 * workers outnumber cores: on a loaded 2-core machine every longer spin measured slower.
 */
const SPINS = 64;

const now = (): number => performance.now();
const waitAsync = (Atomics as unknown as {
  waitAsync?: (a: Int32Array, i: number, v: number, t?: number) => { async: boolean; value: Promise<string> | string };
}).waitAsync;

/** Options of {@link createSharedRing}. */
export interface SharedRingOptions {
  /** Descriptors the ring holds: a power of two in [1, 2^20]. */
  capacity: number;
  /**
   * `'multi'` (default): any number of workers may enqueue at once (rte_ring MP).
   * `'single'`: at most one worker enqueues at any time (SP; cheaper; misuse is not detected).
   */
  producers?: 'single' | 'multi';
  /** `'multi'` (default, MC) or `'single'` (SC), as `producers`. */
  consumers?: 'single' | 'multi';
}

/** Counters of a shared ring (not for the data path: a snapshot of moving indices). */
export interface SharedRingStats {
  capacity: number;
  producers: 'single' | 'multi';
  consumers: 'single' | 'multi';
  /** Descriptors held (published and not yet freed by their consumer). */
  count: number;
  /** capacity - count. */
  free: number;
  /** Most descriptors held at once, as seen by producers after they published. */
  highWater: number;
  /** Totals since creation (u64 in memory). enqueued - dequeued == count when no call is in flight. */
  enqueued: number;
  dequeued: number;
  /** Workers asleep in dequeueWait / dequeueAsync, and in enqueueWait. */
  consumersWaiting: number;
  producersWaiting: number;
}

/**
 * A descriptor ring that several workers share. Make one with {@link createSharedRing}; post its
 * `handle` to other workers, which open it with {@link openSharedRing} on their own runtime.
 */
export class SharedRing {
  /** Descriptors the ring holds. */
  readonly capacity: number;
  /** Producer mode chosen at creation. */
  readonly producers: 'single' | 'multi';
  /** Consumer mode chosen at creation. */
  readonly consumers: 'single' | 'multi';
  /** The ring's handle (its allocation's address), the same number in every worker; 0 once destroyed here. */
  handle: number;
  readonly #rt: RuntimeCore;
  readonly #epoch: number;
  /** The word a blocked caller sleeps on, as `#blocked` last read it. */
  #seen = 0;

  /** @internal use createSharedRing / openSharedRing */
  constructor(rt: RuntimeCore, handle: number, capacity: number, flags: number) {
    this.#rt = rt;
    this.#epoch = rt.epoch;
    this.handle = handle;
    this.capacity = capacity;
    this.producers = flags & SHARED_RING_FLAGS.SP ? 'single' : 'multi';
    this.consumers = flags & SHARED_RING_FLAGS.SC ? 'single' : 'multi';
  }

  /** u32 index of the header word at byte offset `off` (the header is at the 64-byte boundary after the handle). */
  #at(off: number): number {
    return ((((this.handle + 63) & ~63) >>> 0) + off) >>> 2;
  }

  #live(fn: string): number {
    const h = this.handle;
    if (h === 0 || this.#epoch !== this.#rt.epoch) {
      throw new NdisBugCheck(`SharedRing.${fn}`, undefined, 'ALT-POOL', 0xc2, [0x07, 0, 0, h],
        `shared ring ${h === 0 ? 'was destroyed' : 'was freed by runtime.reset()'}`);
    }
    return h;
  }

  /** The bug check for XR_BAD_HANDLE or a failed waiter registration (another worker destroyed the ring...). */
  #fail(fn: string, e?: number): NdisBugCheck {
    const h = this.handle;
    const code = e ?? this.#rt.wasm.sharedRingCheck(h) >>> 0;
    return this.#rt.fail(`SharedRing.${fn}`, code, ['ring'], [h], 'a shared descriptor ring', 'ALT-POOL');
  }

  /** Checks `n` and the array; returns the descriptor count. */
  #count(fn: string, arr: Uint32Array, n: number | undefined, name: string): number {
    if (!(arr instanceof Uint32Array)) throw badParam(`SharedRing.${fn}`, name, arr, 'a Uint32Array of descriptors (5 words each)');
    const count = n ?? Math.floor(arr.length / W);
    if (!isU32(count) || count > SHARED_RING_MAX_CAPACITY) {
      throw badParam(`SharedRing.${fn}`, 'n', count, `a descriptor count in [0, ${SHARED_RING_MAX_CAPACITY}]`);
    }
    if (count * W > arr.length) {
      throw badParam(`SharedRing.${fn}`, name, arr.length, `at least n * 5 = ${count * W} words (the array is too short for ${count} descriptors)`);
    }
    return count;
  }

  #move(fn: string, arr: Uint32Array, n: number | undefined, enqueue: boolean, bulk: boolean): number {
    const h = this.#live(fn);
    const rt = this.#rt;
    const name = enqueue ? 'src' : 'out';
    const count = this.#count(fn, arr, n, name);
    let addr = batchAddressOf(rt, arr, `SharedRing.${fn}`, name);
    if (addr) {
      const r = (enqueue ? rt.wasm.xrEnqueue(h, addr, count, bulk ? 1 : 0) : rt.wasm.xrDequeue(h, addr, count, bulk ? 1 : 0)) >>> 0;
      if (r === BAD) throw this.#fail(fn);
      return r;
    }
    addr = rt.scratchU32(count * W);
    if (!addr) {
      // No memory for a scratch copy of `count` descriptors. A bulk call moves nothing (it could
      // not stay all or nothing in chunks); a burst goes through the runtime's small scratch area.
      if (!bulk) return this.#burstInChunks(fn, h, arr, count, enqueue);
      const e = rt.wasm.sharedRingCheck(h) >>> 0;
      if (e !== 0) throw this.#fail(fn, e);
      return 0;
    }
    if (enqueue) {
      rt.sync();
      rt.u32.set(arr.subarray(0, count * W), addr >>> 2);
    }
    const r = (enqueue ? rt.wasm.xrEnqueue(h, addr, count, bulk ? 1 : 0) : rt.wasm.xrDequeue(h, addr, count, bulk ? 1 : 0)) >>> 0;
    if (r === BAD) throw this.#fail(fn);
    if (!enqueue && r > 0) {
      rt.sync();
      arr.set(rt.u32.subarray(addr >>> 2, (addr >>> 2) + r * W));
    }
    return r;
  }

  /** A burst through the runtime's 256-word scratch area, a chunk per call (MP: chunks may interleave with other producers'). */
  #burstInChunks(fn: string, h: number, arr: Uint32Array, count: number, enqueue: boolean): number {
    const rt = this.#rt;
    return moveThroughScratch(rt, arr, count, enqueue, (addr, k) => (enqueue ? rt.wasm.xrEnqueue(h, addr, k, 0) : rt.wasm.xrDequeue(h, addr, k, 0)) >>> 0, () => this.#fail(fn));
  }

  /**
   * Enqueues all of the first `n` descriptors of `src`, or none (rte_ring_enqueue_bulk).
   * `src`: descriptors back to back (a `runtime.u32Batch` array is used in place, any other
   * Uint32Array is copied). `n`: default all whole descriptors of `src`.
   * @returns n, or 0 when fewer than n slots are free (nothing enqueued; also when n is 0).
   * @throws NdisBugCheck PARAM for a bad `src` or `n`; BAD_POOL_CALLER when the ring is not live.
   */
  enqueueBulk(src: Uint32Array, n?: number): number {
    return this.#move('enqueueBulk', src, n, true, true);
  }
  /**
   * Enqueues as many of the first `n` descriptors of `src` as there are free slots, in order
   * (rte_ring_enqueue_burst). @returns how many (0: full). Errors as {@link enqueueBulk}.
   */
  enqueueBurst(src: Uint32Array, n?: number): number {
    return this.#move('enqueueBurst', src, n, true, false);
  }
  /**
   * Dequeues exactly `n` descriptors into `out`, or none (rte_ring_dequeue_bulk). `n`: default
   * all whole descriptors `out` holds. @returns n, or 0 when fewer are held (`out` untouched).
   * Errors as {@link enqueueBulk}.
   */
  dequeueBulk(out: Uint32Array, n?: number): number {
    return this.#move('dequeueBulk', out, n, false, true);
  }
  /** Dequeues up to `n` descriptors into `out` (rte_ring_dequeue_burst). @returns how many (0: empty). */
  dequeueBurst(out: Uint32Array, n?: number): number {
    return this.#move('dequeueBurst', out, n, false, false);
  }

  /**
   * Enqueues one descriptor (the n = 1 bulk call). `desc`: its five words (address, length,
   * flags, status, cookie), each a u32. @returns false when the ring is full.
   */
  enqueue(desc: ArrayLike<number>): boolean {
    const fn = 'enqueue';
    const h = this.#live(fn);
    if (desc === null || typeof desc !== 'object' || typeof desc.length !== 'number' || desc.length < W) {
      throw badParam(`SharedRing.${fn}`, 'desc', desc, 'five u32 words (address, length, flags, status, cookie)');
    }
    const rt = this.#rt;
    const addr = rt.scratchU32(W);
    rt.sync();
    const u = rt.u32;
    const i = addr >>> 2;
    for (let w = 0; w < W; w++) {
      const v = desc[w];
      if (!isU32(v)) throw badParam(`SharedRing.${fn}`, `desc[${w}]`, v, 'a u32');
      u[i + w] = v;
    }
    const r = rt.wasm.xrEnqueue(h, addr, 1, 1) >>> 0;
    if (r === BAD) throw this.#fail(fn);
    return r === 1;
  }

  /**
   * Dequeues one descriptor (the n = 1 bulk call) into `out` (five words; default a new array).
   * @returns `out`, or null when the ring is empty.
   */
  dequeue(out?: Uint32Array): Uint32Array | null {
    const fn = 'dequeue';
    const h = this.#live(fn);
    if (out !== undefined && (!(out instanceof Uint32Array) || out.length < W)) {
      throw badParam(`SharedRing.${fn}`, 'out', out instanceof Uint32Array ? out.length : out, 'a Uint32Array of at least 5 words');
    }
    const rt = this.#rt;
    const addr = rt.scratchU32(W);
    const r = rt.wasm.xrDequeue(h, addr, 1, 1) >>> 0;
    if (r === BAD) throw this.#fail(fn);
    if (r === 0) return null;
    rt.sync();
    const o = out ?? new Uint32Array(W);
    o.set(rt.u32.subarray(addr >>> 2, (addr >>> 2) + W));
    return o;
  }

  // -- blocking and async calls ------------------------------------------------------------------

  #timeout(fn: string, t: number | undefined): number {
    const v = t === undefined ? Infinity : t;
    if (typeof v !== 'number' || !(v >= 0)) throw badParam(`SharedRing.${fn}`, 'timeoutMs', v, 'a number of ms >= 0 (Infinity: no limit)');
    return v;
  }

  /** May this runtime block on the ring at all? (another worker must be able to fill it) */
  #canSleep(): boolean {
    return this.#rt.worker !== null && this.#rt.sharedMemory;
  }

  #waiter(fn: string, side: number, delta: number): void {
    const e = this.#rt.wasm.sharedRingWaiter(this.handle, side, delta) >>> 0;
    if (e !== 0) throw this.#fail(fn, e);
  }

  /**
   * True when the ring looks empty to a consumer (prod.tail == cons.head) or full to a producer
   * (prod.head - cons.tail == capacity); `#seen` receives the word to sleep on.
   */
  #blocked(side: number, i32: Int32Array): boolean {
    if (side === SIDE_CONS) {
      const t = (this.#seen = Atomics.load(i32, this.#at(H.ProdTail)));
      return t === Atomics.load(i32, this.#at(H.ConsHead));
    }
    const t = (this.#seen = Atomics.load(i32, this.#at(H.ConsTail)));
    return ((Atomics.load(i32, this.#at(H.ProdHead)) - t) >>> 0) >= this.capacity;
  }

  #i32(): Int32Array {
    const rt = this.#rt;
    rt.sync();
    return rt.i32;
  }

  /** The blocking loop of dequeueWait / enqueueWait: `attempt` until it moves something. */
  #waitLoop(fn: string, side: number, timeoutMs: number, attempt: () => number): number {
    let k = attempt();
    if (k !== 0 || timeoutMs === 0 || !this.#canSleep()) return k;
    if (!canBlock()) {
      throw new Error(`ndis-pool: SharedRing.${fn} cannot block on a browser's main thread; use ${side === SIDE_CONS ? 'dequeueAsync' : 'a worker'}`);
    }
    const deadline = now() + timeoutMs;
    for (;;) {
      const i32 = this.#i32();
      let blocked = this.#blocked(side, i32);
      for (let s = 0; blocked && s < SPINS; s++) blocked = this.#blocked(side, i32);
      if (blocked) {
        const left = deadline - now();
        if (left <= 0) return 0;
        this.#waiter(fn, side, 1);
        try {
          // Registered first, then re-checked: an enqueue that published before it saw no
          // waiter, so its descriptors must be visible now (all atomics are sequentially consistent).
          if (this.#blocked(side, i32)) {
            Atomics.wait(i32, this.#at(side === SIDE_CONS ? H.ProdTail : H.ConsTail), this.#seen, Math.min(left, SLICE_MS));
          }
        } finally {
          this.#waiter(fn, side, -1);
        }
      }
      k = attempt();
      if (k !== 0) return k;
      if (now() >= deadline) return 0;
    }
  }

  /**
   * Dequeues up to `maxCount` descriptors into `out`, blocking until at least one is there or
   * `timeoutMs` passed (Atomics.wait on the producers' tail; producers wake it). Not on a
   * browser's main thread (use {@link dequeueAsync}). On a runtime that no other worker can
   * share (not `createRuntime({ shared: true })` / `attachRuntime`) it does not block.
   * `maxCount`: default all whole descriptors of `out`. `timeoutMs`: default Infinity; 0 = burst.
   * @returns how many were dequeued (0 only on timeout or maxCount 0).
   * @throws NdisBugCheck as {@link dequeueBurst}, PARAM for a bad timeout, and BAD_POOL_CALLER
   * when another worker destroys the ring while this one waits (noticed within 20 ms).
   */
  dequeueWait(out: Uint32Array, maxCount?: number, timeoutMs?: number): number {
    const fn = 'dequeueWait';
    this.#live(fn);
    const t = this.#timeout(fn, timeoutMs);
    const n = this.#count(fn, out, maxCount, 'out');
    return this.#waitLoop(fn, SIDE_CONS, n === 0 ? 0 : t, () => this.#move(fn, out, n, false, false));
  }

  /**
   * Enqueues up to `n` descriptors of `src`, blocking until at least one fits or `timeoutMs`
   * passed (Atomics.wait on the consumers' tail; consumers wake it). As {@link dequeueWait}
   * otherwise. @returns how many were enqueued (0 only on timeout or n 0).
   */
  enqueueWait(src: Uint32Array, n?: number, timeoutMs?: number): number {
    const fn = 'enqueueWait';
    this.#live(fn);
    const t = this.#timeout(fn, timeoutMs);
    const k = this.#count(fn, src, n, 'src');
    return this.#waitLoop(fn, SIDE_PROD, k === 0 ? 0 : t, () => this.#move(fn, src, k, true, false));
  }

  /**
   * Dequeues up to `maxCount` descriptors into `out` once at least one is there, without
   * blocking the thread: `Atomics.waitAsync` on the producers' tail where the platform has it
   * (Node 16+, Chromium), else a 1 ms poll. Works on a browser's main thread. Arguments as
   * {@link dequeueWait}; argument errors throw at once (no promise).
   * @returns a promise of how many were dequeued (0 only on timeout or maxCount 0).
   */
  dequeueAsync(out: Uint32Array, maxCount?: number, timeoutMs?: number): Promise<number> {
    const fn = 'dequeueAsync';
    this.#live(fn);
    const t = this.#timeout(fn, timeoutMs);
    const n = this.#count(fn, out, maxCount, 'out');
    const k = this.#move(fn, out, n, false, false);
    if (k !== 0 || t === 0 || n === 0) return Promise.resolve(k);
    return this.#dequeueAsyncSlow(fn, out, n, now() + t);
  }

  async #dequeueAsyncSlow(fn: string, out: Uint32Array, n: number, deadline: number): Promise<number> {
    const useWait = typeof waitAsync === 'function' && this.#rt.sharedMemory;
    for (;;) {
      const left = deadline - now();
      if (left <= 0) return 0;
      if (useWait) {
        this.#waiter(fn, SIDE_CONS, 1);
        try {
          const i32 = this.#i32();
          if (this.#blocked(SIDE_CONS, i32)) {
            const r = waitAsync!(i32, this.#at(H.ProdTail), this.#seen, Math.min(left, SLICE_MS));
            if (r.async) await r.value;
          }
        } finally {
          if (this.handle !== 0) this.#waiter(fn, SIDE_CONS, -1);
        }
      } else {
        await new Promise((resolve) => setTimeout(resolve, Math.min(left, 1)));
      }
      const k = this.#move(fn, out, n, false, false);
      if (k !== 0) return k;
    }
  }

  // -- statistics (not for the data path) ----------------------------------------------------------

  #snapshot(fn: string): [number, Uint32Array, number] {
    const h = this.#live(fn);
    const rt = this.#rt;
    rt.sync();
    const u = rt.u32;
    // The Wasm lookup's O(1) test in JS, then the magic (another worker may have destroyed it).
    if (rt.liveIn(h, KIND.RING) < 64 || (Atomics.load(u, this.#at(H.Flags)) & 0xffff0000) !== SHARED_RING_FLAGS.MAGIC) {
      throw this.#fail(fn);
    }
    // cons.tail first: prod.tail only grows, so prod.tail - cons.tail >= 0; clamp a stale sum.
    const c = Atomics.load(u, this.#at(H.ConsTail));
    const p = Atomics.load(u, this.#at(H.ProdTail));
    return [Math.min((p - c) >>> 0, this.capacity), u, ((this.handle + 63) & ~63) >>> 0];
  }

  /** Descriptors held (a snapshot: not for the data path). */
  get count(): number {
    return this.#snapshot('count')[0];
  }
  /** Free slots (a snapshot: not for the data path). */
  get free(): number {
    return this.capacity - this.#snapshot('free')[0];
  }
  /** All counters (a snapshot: not for the data path). */
  stats(): SharedRingStats {
    const [count, u, b] = this.#snapshot('stats');
    const i = b >>> 2;
    const rd64 = (off: number): number => {
      for (;;) { // a consistent pair: the high word did not change while the low one was read
        const hi = Atomics.load(u, i + (off >>> 2) + 1);
        const lo = Atomics.load(u, i + (off >>> 2));
        if (Atomics.load(u, i + (off >>> 2) + 1) === hi) return hi * 4294967296 + lo;
      }
    };
    return {
      capacity: this.capacity,
      producers: this.producers,
      consumers: this.consumers,
      count,
      free: this.capacity - count,
      highWater: Atomics.load(u, i + (H.HighWater >>> 2)),
      enqueued: rd64(H.Enqueued),
      dequeued: rd64(H.Dequeued),
      consumersWaiting: Atomics.load(u, i + (H.ConsWaiters >>> 2)),
      producersWaiting: Atomics.load(u, i + (H.ProdWaiters >>> 2)),
    };
  }

  /**
   * Frees the ring for every worker. No worker may be inside an enqueue or dequeue of it; those
   * asleep in dequeueWait / enqueueWait / dequeueAsync wake and throw (the ring is gone). Later
   * calls through this object, or through other workers' objects, are bug checks (until the
   * address is reused by a new ring: other workers should drop their handles first).
   */
  destroy(): void {
    const h = this.#live('destroy');
    const e = this.#rt.wasm.sharedRingDestroy(h) >>> 0;
    if (e !== 0) throw this.#fail('destroy', e);
    this.handle = 0;
  }
}

function checkRuntime(rt: RuntimeCore, fn: string): void {
  if (rt === null || typeof rt !== 'object' || typeof (rt as { wasm?: unknown }).wasm !== 'object') {
    throw badParam(fn, 'runtime', rt, 'an NdisRuntime');
  }
  // This instance may nap while an earlier MP/MC reservation publishes (not on a browser's main thread).
  rt.wasm.xrSetCanWait(canBlock() ? 1 : 0);
}

/**
 * Creates a shared ring in `rt`'s memory. Use it from other workers through its `handle` and
 * {@link openSharedRing}; any runtime works, but only a multi-worker one
 * (`createRuntime({ shared: true })`) has other workers.
 * @returns the ring, or null when the memory budget cannot hold it.
 * @throws NdisBugCheck PARAM for a capacity that is not a power of two in [1, 2^20] or a mode
 * that is not 'single' or 'multi'.
 */
export function createSharedRing(rt: RuntimeCore, options: SharedRingOptions): SharedRing | null {
  const fn = 'createSharedRing';
  checkRuntime(rt, fn);
  if (typeof options !== 'object' || options === null) throw badParam(fn, 'options', options, 'an object');
  const { capacity, producers = 'multi', consumers = 'multi' } = options;
  if (!isU32(capacity) || capacity === 0 || capacity > SHARED_RING_MAX_CAPACITY || (capacity & (capacity - 1)) !== 0) {
    throw badParam(fn, 'options.capacity', capacity, `a power of two in [1, ${SHARED_RING_MAX_CAPACITY}]`);
  }
  if (producers !== 'single' && producers !== 'multi') throw badParam(fn, 'options.producers', producers, "'single' or 'multi'");
  if (consumers !== 'single' && consumers !== 'multi') throw badParam(fn, 'options.consumers', consumers, "'single' or 'multi'");
  const flags = (producers === 'single' ? SHARED_RING_FLAGS.SP : 0) | (consumers === 'single' ? SHARED_RING_FLAGS.SC : 0);
  const h = rt.wasm.sharedRingCreate(capacity, flags) >>> 0;
  if (h === 0) return null; // exhaustion
  return new SharedRing(rt, h, capacity, flags);
}

/**
 * Opens the shared ring `handle` (another worker's `ring.handle`) on this worker's runtime
 * (`attachRuntime` of the runtime the ring was created in).
 * @throws NdisBugCheck PARAM for a handle that is not a u32; BAD_POOL_CALLER when it is not a
 * live shared ring of this runtime (a plain DescriptorRing, a freed ring, any other address).
 */
export function openSharedRing(rt: RuntimeCore, handle: number): SharedRing {
  const fn = 'openSharedRing';
  checkRuntime(rt, fn);
  if (!isU32(handle)) throw badParam(fn, 'handle', handle, 'a shared ring handle (u32)');
  const e = rt.wasm.sharedRingCheck(handle) >>> 0;
  if (e !== 0) throw rt.fail(fn, e, ['handle'], [handle], 'a shared descriptor ring', 'ALT-POOL');
  rt.sync();
  const b = (handle + 63) & ~63;
  const flags = Atomics.load(rt.u32, (b + H.Flags) >>> 2);
  return new SharedRing(rt, handle, rt.rd32(b + H.Capacity), flags & (SHARED_RING_FLAGS.SP | SHARED_RING_FLAGS.SC));
}
