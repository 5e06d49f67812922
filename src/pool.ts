/**
 * The idiomatic API for people who just want a fast fixed-size pool. It shares the Wasm slab
 * core with the NDIS mirror (same validation, same errors, same statistics), without NDIS
 * vocabulary. Objects are addresses (numbers) in the runtime's linear memory; 0 is "none".
 */
import { RuntimeCore, isU32, type PoolStats } from './core.js';
import { NdisBugCheck, badParam, hexAddr } from './errors.js';
import { E, KIND, LCACHE_SIZE, POOL, SLAB, STATE, UNIT_SHIFT, WCACHE } from './ndis/layout.js';
import { recordRuntime, type RecordType } from './record.js';

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
  /**
   * What `alloc` hands out. 'pointer' (default): object addresses. 'generational': 32-bit
   * handles carrying a generation count, so a handle used after its object was freed (even
   * when the slot was reused since) is caught; `pool.ptr(handle)` gives the address.
   */
  handles?: 'pointer' | 'generational';
  /**
   * `false` trusts the caller (DESIGN D6, like a DPDK release build): `free` and `freeMany`
   * skip the checks that an address is a live object of this pool. A double, foreign or interior
   * free then corrupts this runtime's pools (inside Wasm linear memory, never the JS heap) instead
   * of throwing. An address outside every slab still throws. Only for pointer pools in a
   * single-worker runtime without the verifier. Default `true`.
   */
  checked?: boolean;
  /**
   * `true` (default): in a single-threaded runtime, a pool of objects up to 1 KiB (not
   * generational, without `maxOutstanding`, not under the verifier) keeps up to 64 freed
   * objects in a cache for the next `alloc()`s, and single `alloc`/`free` run in JS on it (same
   * checks, no Wasm call). It opens after the pool's first 32 allocations; `trim()` empties it,
   * and it empties by itself when memory runs out. In a multi-worker runtime the worker cache
   * (256 objects). `false`: every alloc and free goes to the slabs.
   */
  cache?: boolean;
}

/** Handle-table layout (assembly/gentable.ts). */
const GT = { Used: 4, Free: 16, Bits: 20, Limit: 24, Entries: 32 } as const;
/** Free indices a generational pool keeps before reusing one (assembly/gentable.ts GEN_MIN_FREE). */
export const GEN_MIN_FREE = 1024;

/** Index bits of a generational pool's handles for a given outstanding limit. */
export function handleIndexBits(maxOutstanding: number): number {
  if (maxOutstanding === 0xffffffff) return 20; // no limit: up to 2^20 - 1 live objects
  let bits = 12;
  while (bits < 24 && 2 ** bits < maxOutstanding + GEN_MIN_FREE + 1) bits++;
  return bits;
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
  /** What `alloc` returns: object addresses, or generational handles (`pool.ptr(h)`). */
  readonly handles: 'pointer' | 'generational';
  /** False for a pool made with `checked: false`: frees trust the caller. */
  readonly checked: boolean;
  readonly #gen: boolean;
  /** @internal */ protected readonly _rt: RuntimeCore;
  readonly #epoch: number;
  // The two hot exports, held directly: one call each, no property chain.
  readonly #spAlloc: (pool: number) => number;
  /** @internal */ protected readonly _spFree: (pool: number, ptr: number) => number;
  // `checked: false`: the unchecked free, in a field of its own (monomorphic call sites).
  readonly #spFreeU: (pool: number, ptr: number) => number;
  // The generational exports, in fields of their own: a call site that saw only spAlloc stays
  // monomorphic (V8 inlines its JS-to-Wasm call), whichever kinds of pool a program uses.
  readonly #genAlloc: (pool: number) => number;
  readonly #genFree: (pool: number, h: number) => number;
  /**
   * Multi-worker runtimes only: this worker's cache block for the pool (assembly/wcache.ts), or
   * -1 for a pool that takes no cache (generational, limited or quarantining: the shared path,
   * with the pool checked on every call since another worker may destroy it). 0 otherwise.
   */
  #cache = 0;
  /** The pool's serial (POOL.Id): tells it from a later pool in the same descriptor slot. */
  readonly #poolId: number;
  // The cache path's exports, unwrapped: lock-free, and a detached runtime's epoch check stops
  // calls before they reach a freed cache block.
  readonly #wcAlloc: (cache: number) => number;
  readonly #wcFree: (cache: number, ptr: number) => number;
  /** acquire() calls waiting for a slot, oldest first (null: none ever waited). */
  /** @internal */ protected _waiters: Waiter[] | null = null;
  /**
   * The handle while this pool takes the plain path (a pointer pool without a worker cache),
   * else 0; 0 too once destroyed. alloc() tests this one field (and the epoch) before its one
   * Wasm call; everything else takes the general path.
   */
  #plain = 0;
  /** The same for free(): `#plain` of a checked pool (0 for `checked: false`). */
  #plainFree = 0;
  /** The same for the free of a `checked: false` pool. */
  #plainFreeU = 0;
  // A single-threaded runtime's pool cache (assembly/wcache.ts, worker 0): a LIFO of free
  // objects in linear memory that alloc() pops and free() pushes in JS, without a Wasm call
  // (like DPDK's rte_mempool_get, inlined into its caller). Wasm refills and flushes it.
  /** Allocations left before the pool's cache opens (0: open, or none to open). */
  #lcLazy = 0;
  /** @internal u32 index of the cache block, 0 without one (and while faults are injected). */
  protected _lc = 0;
  /** Its byte address (for the Wasm calls), 0 without one. */
  #lcAddr = 0;
  /** @internal u32 index of the pool descriptor (outstanding, peak, current slab). */
  protected _pd = 0;
  /** @internal Slot size, and its reciprocal for the free check's object index. */
  protected _slot = 0;
  /** @internal */ protected _inv = NaN;
  readonly #maxWaiters: number;

  /** @internal use runtime.createSlabPool */
  constructor(rt: RuntimeCore, handle: number, objectSize: number, tag: number, maxWaiters = Infinity, generational = false, cache = 0, checked = true, local = false) {
    this.#cache = cache;
    this.checked = checked;
    this.#maxWaiters = maxWaiters;
    this._rt = rt;
    this.#epoch = rt.epoch;
    this.#gen = generational;
    this.handles = generational ? 'generational' : 'pointer';
    this.#spAlloc = rt.wasm.spAlloc;
    this._spFree = rt.wasm.spFree;
    this.#spFreeU = rt.wasm.spFreeU;
    this.#genAlloc = rt.wasm.genAlloc;
    this.#genFree = rt.wasm.genFree;
    rt.sync();
    this.#poolId = rt.rd32(handle + POOL.Id);
    const raw = rt.worker?.raw ?? rt.wasm;
    this.#wcAlloc = raw.wcAlloc;
    this.#wcFree = raw.wcFree;
    this.handle = handle;
    // A pool that takes a cache opens it after LCACHE_SIZE allocations (off the plain path): a
    // pool that allocates a few objects only, in a runtime of a few pages, never pays for one.
    this.#lcLazy = local ? LCACHE_SIZE : 0;
    this.#plain = !generational && cache === 0 && !local ? handle : 0;
    this.#plainFree = checked ? this.#plain : 0;
    this.#plainFreeU = checked ? 0 : this.#plain;
    this.objectSize = objectSize;
    this.tag = tag;
  }

  /** @internal this worker's cache block (assembly/wcache.ts), 0 without one */
  get cacheBlock(): number {
    return this.#cache > 0 ? this.#cache : 0;
  }

  #live(fn: string): number {
    const h = this.handle;
    if (h === 0 || this.#epoch !== this._rt.epoch) this.#dead(fn);
    return h;
  }

  #dead(fn: string): never {
    const w = this._rt.worker;
    if (w?.detached) throw w.detachedError();
    throw new NdisBugCheck(`SlabPool.${fn}`, undefined, 'ALT-POOL', 0xc2, [0x07, 0, 0, this.handle],
      this.handle === 0 ? 'the pool was destroyed' : 'the pool was freed by runtime.reset()');
  }

  /**
   * Allocates one object. Not zeroed (fresh memory is zero; reused slots keep old bytes).
   * @returns its address (its handle in a generational pool), or 0 when `maxOutstanding` or
   *   the runtime's memory budget is reached.
   */
  alloc(): number {
    const h = this.#plain;
    if (h !== 0 && this.#epoch === this._rt.epoch) return this.#spAlloc(h) >>> 0;
    // A multi-worker runtime's cache path (E.CACHE_DEAD, a pool destroyed elsewhere, goes on).
    const w = this.#cache;
    if (w > 0 && this.#epoch === this._rt.epoch) {
      const p = this.#wcAlloc(w) >>> 0;
      if (p !== E.CACHE_DEAD) return p;
    }
    return this.#allocOther();
  }

  /**
   * Opens this pool's cache (a single-threaded runtime's, worker id 0: assembly/wcache.ts). It
   * takes a small block of memory (from an internal root pool, like pool descriptors).
   */
  #openLocal(): void {
    const rt = this._rt;
    const h = this.handle;
    rt.sync();
    // Not while faults are injected (the block's allocation would roll, and count, as one of
    // the user's), nor without memory: another LCACHE_SIZE allocations later, then.
    const c = rt.u32[rt.faultIdx] !== 0 ? 0 : rt.wasm.cacheOpen(h, 0, LCACHE_SIZE) >>> 0;
    rt.sync();
    if (c === 0) {
      this.#lcLazy = LCACHE_SIZE;
      return;
    }
    if ((c & 7) !== 0 || rt.rd32(c + WCACHE.Size) !== LCACHE_SIZE) throw new Error(`ndis-pool: internal error: bad SlabPool cache block ${c}`);
    this.#lcAddr = c;
    this._lc = rt.u32[rt.faultIdx] === 0 ? c >>> 2 : 0;
    this._pd = h >>> 2;
    this._slot = rt.rd32(h + POOL.ObjSize);
    this._inv = 1 / this._slot;
    this.#setLow();
  }

  /** alloc() of a pool with a cache in a single-threaded runtime, off the hit path. */
  #allocLocal(): number {
    const h = this.handle;
    const rt = this._rt;
    if (h === 0 || this.#epoch !== rt.epoch) this.#dead('alloc');
    rt.sync();
    // Fault injection rolls for every allocation: the slab path, past the cache. Else the Wasm
    // pop, which refills an empty cache (0: exhausted).
    const p = (rt.u32[rt.faultIdx] !== 0 ? this.#spAlloc(h) : this.#wcAlloc(this.#lcAddr)) >>> 0;
    rt.sync();
    this.#setLow();
    return p;
  }

  /**
   * The hit path's peak check. The pool's live objects are its outstanding ones (which count
   * the cached) minus the cached; a JS pop leaving `k` cached raises the peak when
   * outstanding - k > peak, that is when k < outstanding - peak. The cache block keeps that
   * bound (`low`): the JS pop compares with it alone. JS pops and pushes change neither
   * outstanding nor peak; the Wasm calls that can raise the bound (refills and allocations)
   * are followed by #setLow, and those that lower it (frees, flushes) leave a bound that is only
   * too high, which costs a visit here and no more.
   * @internal
   */
  protected _raisePeak(k: number): void {
    const m = this._rt.u32;
    const pd = this._pd;
    const live = m[pd + PD_OUTSTANDING]! - k;
    if (live > m[pd + PD_PEAK]!) m[pd + PD_PEAK] = live;
    this.#setLow();
  }

  /** Sets the cache's `low` bound to max(0, outstanding - peak) (see _raisePeak). */
  #setLow(): void {
    const c = this.#lcAddr >>> 2;
    if (c === 0) return;
    const m = this._rt.u32;
    const out = m[this._pd + PD_OUTSTANDING]!;
    const peak = m[this._pd + PD_PEAK]!;
    m[c + LC_LOW] = out > peak ? out - peak : 0;
  }

  /** alloc() off the plain path: a dead pool, a worker cache or a generational pool. */
  #allocOther(): number {
    const h = this.handle;
    if (h === 0 || this.#epoch !== this._rt.epoch) this.#dead('alloc');
    if (this.#lcLazy !== 0 && --this.#lcLazy === 0) this.#openLocal();
    if (this.#lcAddr !== 0) return this.#allocLocal(); // faults injected (_lc is 0 then)
    if (this.#cache !== 0) return this.#allocShared('alloc');
    return (this.#gen ? this.#genAlloc(h) : this.#spAlloc(h)) >>> 0;
  }

  /** alloc() of either mode, for the slow paths. */
  #allocAny(h: number): number {
    if (this.#lcAddr !== 0) return this.alloc(); // the cache holds freed objects too
    if (this.#cache !== 0) return this.#allocShared('allocMany');
    return (this.#gen ? this.#genAlloc(h) : this.#spAlloc(h)) >>> 0;
  }

  /** alloc() in a multi-worker runtime: this worker's cache, or the checked shared path. */
  #allocShared(fn: string): number {
    const c = this.#cache;
    if (c > 0) {
      const p = this.#wcAlloc(c) >>> 0;
      if (p === E.CACHE_DEAD) this.#goneElsewhere(fn);
      return p;
    }
    const h = this.#sharedPool(fn);
    return (this.#gen ? this.#genAlloc(h) : this.#spAlloc(h)) >>> 0;
  }

  /** The pool handle, checked live (another worker may have destroyed it). */
  #sharedPool(fn: string): number {
    const h = this.handle;
    const rt = this._rt;
    rt.sync();
    if (rt.liveIn(h, KIND.SLAB_POOL) < E.LIMIT || rt.rd32(h + POOL.Id) !== this.#poolId) this.#goneElsewhere(fn);
    return h;
  }

  /** Another worker destroyed the pool: this object is dead too. */
  #goneElsewhere(fn: string): never {
    const h = this.handle;
    if (this.#cache > 0) this._rt.wasm.cacheClose(this.#cache);
    this.#cache = 0;
    SlabPool.#forget(this._rt, h);
    throw new NdisBugCheck(`SlabPool.${fn}`, undefined, 'ALT-POOL', 0xc2, [0x07, 0, 0, h], 'the pool was destroyed (by another worker)');
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
   * Frees an object of this pool (by its handle in a generational pool).
   * @throws NdisBugCheck for an address that is not a live object of this pool (double free,
   *   foreign or interior pointer), or a handle that is stale or was never issued; nothing
   *   changes then.
   */
  free(ptr: number): void {
    const h = this.#plainFree;
    if (h !== 0 && this.#epoch === this._rt.epoch && typeof ptr === 'number' && ptr >>> 0 === ptr) {
      const e = this._spFree(h, ptr);
      if (e !== E.OK) throw this.#freeFail('SlabPool.free', e >>> 0, 'ptr', ptr);
      if (this._waiters !== null && this._waiters.length !== 0) this.handOver();
      return;
    }
    const u = this.#plainFreeU;
    if (u !== 0 && this.#epoch === this._rt.epoch) return this.#freeUnchecked(u, ptr);
    // The cache path: on any error (which changed nothing) the general path reports it.
    const w = this.#cache;
    if (w > 0 && this.#epoch === this._rt.epoch && typeof ptr === 'number' && ptr >>> 0 === ptr && this.#wcFree(w, ptr) === E.OK) {
      if (this._waiters !== null && this._waiters.length !== 0) this.handOver();
      return;
    }
    this.#freeOther(ptr);
  }

  /** free() off the plain path (or of a bad argument): as free() says. */
  #freeOther(ptr: number): void {
    const h = this.handle;
    if (h === 0 || this.#epoch !== this._rt.epoch) this.#dead('free');
    if (!this.checked) return this.#freeUnchecked(h, ptr);
    if (typeof ptr !== 'number' || ptr >>> 0 !== ptr) throw badParam('SlabPool.free', 'ptr', ptr, this.#gen ? 'a handle (u32)' : 'an object address (u32)');
    const c = this.#cache;
    const e = this.#lcAddr !== 0 ? this.#freeLocal(h, ptr) : c === 0 ? (this.#gen ? this.#genFree(h, ptr) : this._spFree(h, ptr)) : this.#freeShared(c, ptr);
    if (e !== E.OK) throw this.#freeFail('SlabPool.free', e >>> 0, 'ptr', ptr);
    // Only when someone waits: hand the slot to the oldest waiter (one check otherwise).
    if (this._waiters !== null && this._waiters.length !== 0) this.handOver();
  }

  /** free() of a `checked: false` pool: only an address outside every slab is refused. */
  #freeUnchecked(h: number, ptr: number): void {
    const e = this.#spFreeU(h, ptr);
    if (e !== E.OK) throw this.#freeFail('SlabPool.free', e >>> 0, 'ptr', ptr);
    if (this._waiters !== null && this._waiters.length !== 0) this.handOver();
  }

  /** free() of a pool with a cache in a single-threaded runtime, off the hit path. */
  #freeLocal(h: number, ptr: number): number {
    const rt = this._rt;
    rt.sync();
    // An object outside the pool's current slab (or no object at all) goes to the slab path,
    // which checks it as the cache path would (and names the owner pool of a foreign object).
    if (rt.rd32(rt.table + (ptr >>> SHIFT) * 4) !== rt.rd32(h + POOL.Current)) return this._spFree(h, ptr) >>> 0;
    const e = this.#wcFree(this.#lcAddr, ptr) >>> 0; // checks, pushes, flushes a full cache
    rt.sync();
    // On an error nothing changed: the slab path fails the same way and records the details.
    return e === E.OK ? e : this._spFree(h, ptr) >>> 0;
  }

  /** free() in a multi-worker runtime: this worker's cache, or the checked shared path. */
  #freeShared(c: number, ptr: number): number {
    if (c > 0) {
      const e = this.#wcFree(c, ptr) >>> 0;
      if (e === E.CACHE_DEAD) this.#goneElsewhere('free');
      return e;
    }
    const h = this.#sharedPool('free');
    return this.#gen ? this.#genFree(h, ptr) : this._spFree(h, ptr);
  }

  /** The error of a failed free of `v` (an address, or a handle in a generational pool). */
  #freeFail(fn: string, e: number, arg: string, v: number): NdisBugCheck {
    if (!this.#gen) return this._rt.fail(fn, e, [arg], [v], 'an object of this pool', 'ALT-POOL');
    return this.#handleFail(fn, e, arg === 'ptr' ? 'handle' : arg, v);
  }

  /** Error for handle `v` of a generational pool: E.NOT_OURS never issued, E.NOT_ALLOCATED stale. */
  #handleFail(fn: string, e: number, arg: string, v: number): NdisBugCheck {
    const at = hexAddr(v);
    if (e === E.DUPLICATE) {
      return new NdisBugCheck(fn, arg, 'ALT-POOL', 0xc2, [0x07, 0, 0, v], `${at} appears twice in the list`);
    }
    if (e === E.NOT_ALLOCATED) {
      const rt = this._rt;
      rt.sync();
      const t = rt.rd32(this.handle + POOL.User0);
      const bits = rt.rd32(t + GT.Bits);
      const idx = v & (rt.rd32(t + GT.Limit) - 1);
      const cur = rt.rd32(t + GT.Entries + idx * 8 + 4);
      const live = (cur & (rt.rd32(t + GT.Limit) - 1)) === idx;
      const gen = (x: number) => Math.floor(x / 2 ** bits);
      return new NdisBugCheck(fn, arg, 'ALT-POOL', 0xc2, [0x07, 0, 0, v],
        `${at} is stale: its object was freed (handle generation ${gen(v)}; ` +
        (live ? `the slot now holds generation ${gen(cur)})` : 'the slot is free)'));
    }
    return new NdisBugCheck(fn, arg, 'ORIGIN', 0xc2, [0x42, v, 0, 0], `${at} is not a handle this pool issued`);
  }

  /**
   * The address of an object: in a generational pool, of the object of `handle` (checked: a
   * stale or foreign handle throws); in a pointer pool `handle` is the address, checked to be a
   * live object of this pool. One table lookup in JS, no boundary crossing.
   * @throws NdisBugCheck for a stale, foreign or never-issued handle.
   */
  ptr(handle: number): number {
    return this.#ptrOf('SlabPool.ptr', handle);
  }

  #ptrOf(fn: string, handle: number): number {
    const h = this.#live(fn.slice(9));
    if (!isU32(handle)) throw badParam(fn, 'handle', handle, this.#gen ? 'a handle (u32)' : 'an object address (u32)');
    const rt = this._rt;
    rt.sync();
    if (!this.#gen) {
      this.#checkPtr(fn, handle);
      return handle;
    }
    const u32 = rt.u32;
    const t = u32[(h + POOL.User0) >>> 2]! >>> 2;
    const idx = handle & (u32[t + (GT.Limit >>> 2)]! - 1);
    if (idx !== 0 && idx < u32[t + (GT.Used >>> 2)]! && u32[t + (GT.Entries >>> 2) + idx * 2 + 1] === handle) {
      return u32[t + (GT.Entries >>> 2) + idx * 2]!;
    }
    throw this.#handleFail(fn, this.#handleState(handle), 'handle', handle);
  }

  /** E.OK for a live handle of this generational pool; E.NOT_OURS never issued; E.NOT_ALLOCATED stale. */
  #handleState(v: number): number {
    const rt = this._rt;
    const t = rt.rd32(this.handle + POOL.User0);
    const idx = v & (rt.rd32(t + GT.Limit) - 1);
    if (idx === 0 || idx >= rt.rd32(t + GT.Used)) return E.NOT_OURS;
    return rt.rd32(t + GT.Entries + idx * 8 + 4) === v ? E.OK : E.NOT_ALLOCATED;
  }

  /** Checks that `ptr` is a live object of this pool (pointer pools). */
  #checkPtr(fn: string, ptr: number): void {
    const rt = this._rt;
    const slab = rt.liveIn(ptr, KIND.SLAB_OBJ);
    if (slab < E.LIMIT) throw rt.fail(fn, slab, ['ptr'], [ptr], 'an object of this pool', 'ALT-POOL');
    if (rt.rd32(slab + SLAB.Pool) !== this.handle) throw rt.fail(fn, E.WRONG_POOL, ['ptr'], [ptr], 'an object of this pool');
  }

  /** @internal Gives freed slots to waiters (see acquire). */
  protected handOver(): void {
    const q = this._waiters!;
    while (q.length !== 0) {
      const p = this.#allocAny(this.handle);
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
    const q = (this._waiters ??= []);
    if (q.length === 0) {
      const p = this.#allocAny(h);
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
    return this._waiters?.length ?? 0;
  }

  /**
   * Allocates up to `out.length` objects with one boundary crossing, writing their addresses to
   * `out`. Zero-copy when `out` comes from `runtime.u32Batch`.
   * @returns how many were allocated (fewer only when the limit or memory budget is reached).
   */
  allocMany(out: Uint32Array): number {
    const h = this.#live('allocMany');
    const rt = this._rt;
    if (!(out instanceof Uint32Array)) throw badParam('SlabPool.allocMany', 'out', out, 'a Uint32Array');
    const n = out.length;
    const direct = batchAddressOf(rt, out, 'SlabPool.allocMany', 'out');
    const allocMany = this.#lcAddr !== 0 ? this.#allocManyLocal : this.#cache > 0 ? this.#allocManyCached : this.#gen ? rt.wasm.genAllocMany : rt.wasm.spAllocMany;
    if (this.#cache < 0) this.#sharedPool('allocMany');
    if (direct) return allocMany(h, direct, n) >>> 0;
    const s = rt.scratchU32(n);
    if (s) {
      const got = allocMany(h, s, n) >>> 0;
      rt.sync();
      out.set(rt.u32.subarray(s >>> 2, (s >>> 2) + got));
      return got;
    }
    // The memory budget cannot hold a scratch array that large: one call per object.
    let i = 0;
    for (; i < n; i++) {
      const p = this.#allocAny(h);
      if (p === 0) break;
      out[i] = p;
    }
    return i;
  }

  /** wcAllocMany with the signature of spAllocMany (the pool argument is this worker's cache). */
  /** wcAllocManyLocal (the slabs, then the cached objects when they run short) likewise. */
  #allocManyLocal = (_pool: number, out: number, n: number): number => {
    const got = this._rt.wasm.wcAllocManyLocal(this.#lcAddr, out, n) >>> 0;
    this._rt.sync();
    this.#setLow();
    return got;
  };

  #allocManyCached = (_pool: number, out: number, n: number): number => {
    const r = this._rt.wasm.wcAllocMany(this.#cache, out, n) >>> 0;
    if (r === (E.CACHE_DEAD | 0x80000000) >>> 0) this.#goneElsewhere('allocMany');
    return r;
  };

  /**
   * Frees `count` objects (default: all of `ptrs`) with one boundary crossing. All or nothing:
   * every address is checked first; on a bad one (or a duplicate) nothing is freed.
   * @throws NdisBugCheck naming the index of the first bad entry.
   */
  freeMany(ptrs: Uint32Array, count?: number): void {
    const h = this.#live('freeMany');
    const rt = this._rt;
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
    const c = this.#cache;
    if (c < 0) this.#sharedPool('freeMany');
    // One call site per export: a site that saw only spFreeMany stays monomorphic.
    const e = (c > 0 ? rt.wasm.wcFreeMany(c, addr, n) : this.#gen ? rt.wasm.genFreeMany(h, addr, n)
      : this.checked ? rt.wasm.spFreeMany(h, addr, n) : rt.wasm.spFreeManyU(h, addr, n)) >>> 0;
    if (e !== E.OK) {
      if (e === E.CACHE_DEAD) this.#goneElsewhere('freeMany');
      const i = (c > 0 ? rt.wasm.cacheErrIndex() : rt.wasm.errDetail()) >>> 0;
      throw this.#freeFail('SlabPool.freeMany', e, `ptrs[${i}]`, ptrs[i]!);
    }
    if (this._waiters !== null && this._waiters.length !== 0) this.handOver();
  }

  /** freeMany without a scratch array: check every entry in JS first, then free one by one. */
  #freeEach(ptrs: Uint32Array, n: number): void {
    const h = this.handle;
    const rt = this._rt;
    rt.sync();
    const seen = new Set<number>();
    for (let i = 0; i < n; i++) {
      const p = ptrs[i]!;
      if (seen.has(p)) throw this.#freeFail('SlabPool.freeMany', E.DUPLICATE, `ptrs[${i}]`, p);
      if (this.#gen) {
        const e = this.#handleState(p);
        if (e !== E.OK) throw this.#handleFail('SlabPool.freeMany', e, `ptrs[${i}]`, p);
      } else {
        const slab = rt.liveIn(p, KIND.SLAB_OBJ);
        const e = slab < E.LIMIT ? slab : rt.rd32(slab + SLAB.Pool) !== h ? E.WRONG_POOL : E.OK;
        if (e !== E.OK) throw rt.fail('SlabPool.freeMany', e, [`ptrs[${i}]`], [p], 'an object of this pool', 'ALT-POOL');
      }
      seen.add(p);
    }
    for (let i = 0; i < n; i++) {
      const c = this.#cache;
      if (c === 0) (this.#gen ? this.#genFree : this._spFree)(h, ptrs[i]!);
      else this.#freeShared(c, ptrs[i]!);
    }
    if (this._waiters !== null && this._waiters.length !== 0) this.handOver();
  }

  /** A zero-copy view of the object at `ptr` (of handle `ptr` in a generational pool), objectSize bytes. */
  bytes(ptr: number): Uint8Array {
    return this._rt.bytes(this.#ptrOf('SlabPool.bytes', ptr), this.objectSize);
  }

  /**
   * Calls `fn(ptr, handle)` for every object live when it is called (a snapshot is taken first,
   * so `fn` may free objects). `handle` is what `alloc` returned: the address again in a pointer
   * pool. For debugging: it walks the pool's slabs (or its handle table), not for the data path.
   */
  forEachLive(fn: (ptr: number, handle: number) => void): void {
    const h = this.#live('forEachLive');
    if (typeof fn !== 'function') throw badParam('SlabPool.forEachLive', 'fn', fn, 'a function');
    const rt = this._rt;
    const x = rt.wasm;
    const live: number[] = [];
    if (this.#gen) {
      rt.sync();
      for (let i = x.genNextLive(h, 0) >>> 0; i !== 0; i = x.genNextLive(h, i) >>> 0) {
        const e = rt.rd32(h + POOL.User0) + GT.Entries + i * 8;
        live.push(rt.rd32(e), rt.rd32(e + 4));
      }
    } else {
      for (let p = x.liveNext(h, 0) >>> 0; p !== 0; p = x.liveNext(h, p) >>> 0) live.push(p, p);
    }
    for (let i = 0; i < live.length; i += 2) fn(live[i]!, live[i + 1]!);
  }

  /**
   * Returns the free objects this pool's cache holds to the pool's slabs, so that emptied slabs
   * go back to the page source (`runtime.memoryUsage().freeSlabBytes`). Only a pool of a
   * single-threaded runtime has such a cache: up to 2 * 32 objects freed by `free()`, kept for
   * the next `alloc()`s (see README "Limits"). The cache also empties by itself when memory runs
   * out, before any allocation fails.
   * @returns how many objects went back (0 without a cache).
   */
  trim(): number {
    this.#live('trim');
    if (this.#lcAddr === 0) return 0;
    const n = this._rt.wasm.cacheTrim(this.#lcAddr) >>> 0;
    this._rt.sync();
    return n;
  }

  /**
   * Counters of this pool (not for the data path): `inUse` (= outstanding), `free` (slots free
   * in the slabs the pool holds now, `cached` ones included), `cached` (free objects in the
   * pool's cache, see `trim`), `peak`, `failures`, `waiters`, `bytes`, and the rest of
   * {@link PoolStats}.
   */
  stats(): PoolStats & { inUse: number; free: number; cached: number; waiters: number } {
    const h = this.#live('stats');
    if (this.#cache < 0) this.#sharedPool('stats');
    const s = this._rt.poolStatsAt(h);
    const cap = this._rt.rd32(h + POOL.Cap);
    const cached = this._rt.wasm.cacheSums(h) >>> 0;
    return { ...s, inUse: s.outstanding, free: s.slabs * cap - s.outstanding, cached, waiters: this.waiters };
  }

  /**
   * Frees the pool and its memory. With objects outstanding this is an error unless
   * `{ force: true }`, which drops them (their addresses become invalid).
   * @throws NdisBugCheck POOL-5 when objects are outstanding and `force` is not set.
   */
  destroy(options?: { force?: boolean }): void {
    const h = this.#live('destroy');
    if (this.#cache < 0) this.#sharedPool('destroy');
    const e = this._rt.wasm.slabPoolDestroy(h, options?.force ? 1 : 0) >>> 0;
    if (e !== E.OK) throw this._rt.fail('SlabPool.destroy', e, ['pool'], [h], 'a SlabPool');
    if (this.#cache > 0) this._rt.wasm.cacheClose(this.#cache); // dead now: free this worker's block
    this.#cache = 0;
    SlabPool.#forget(this._rt, h);
  }

  /**
   * @internal Registers this object as one of the runtime's SlabPool objects of its pool (a
   * program may open a pool twice): destroying the pool through one kills them all, since they
   * share its descriptor and this thread's cache block.
   */
  register(): this {
    const objects = this._rt.slabPoolObjects;
    const list = objects.get(this.handle);
    if (list === undefined) objects.set(this.handle, [this]);
    else list.push(this);
    return this;
  }

  /** Every SlabPool object of pool `h` in runtime `rt` is dead (the pool was destroyed). */
  static #forget(rt: RuntimeCore, h: number): void {
    const list = rt.slabPoolObjects.get(h);
    rt.slabPoolObjects.delete(h);
    for (const o of list ?? []) o.kill();
  }

  /**
   * @internal Fault injection was turned on or off: while it is on, alloc() takes the slab path
   * (which rolls for every allocation) instead of the cache's hit path.
   */
  faults(on: boolean): void {
    if (this.#lcAddr !== 0) {
      this._lc = on ? 0 : this.#lcAddr >>> 2;
      if (!on) this.#setLow();
    }
  }

  /** @internal (tests) The cache block of a single-threaded runtime's pool, 0 without one. */
  get localCache(): number {
    return this.#lcAddr;
  }

  /**
   * @internal This object is dead: its pool was destroyed (waiters are rejected), or the runtime
   * reset (`reset`: the epoch check then names the reset). Every later call is a bug check.
   */
  kill(reset = false): void {
    this._lc = this.#lcAddr = 0;
    this.#lcLazy = 0;
    if (reset) return;
    this.handle = 0;
    this.#plain = this.#plainFree = this.#plainFreeU = 0;
    this.#cache = 0;
    // Waiters cannot be served any more.
    for (const w of this._waiters?.splice(0) ?? []) {
      w.settle();
      w.reject(new Error('SlabPool.acquire: the pool was destroyed'));
    }
  }
}

/**
 * @internal A SlabPool with a single-threaded runtime's cache (assembly/wcache.ts, worker 0):
 * alloc and free run in JS on hits. A class of its own, so that these two stay small (V8
 * inlines them into the caller's loop) whatever other kinds of pool a program uses.
 */
class CachedSlabPool extends SlabPool {
  override alloc(): number {
    const c = this._lc;
    if (c !== 0) {
      // The cache's hit path: pop, mark the object live, count the allocation, keep the pool's
      // peak of live objects. No other check is needed: a reset or the pool's destruction zeroes
      // _lc; views that memory growth detached read undefined (so `n > 0` fails) before any
      // write, and every address written was read through the same views or entered the cache
      // in a Wasm call after which the views were refreshed. While faults are injected _lc is 0
      // too: the slab path rolls for every allocation.
      const rt = this._rt;
      const m = rt.u32;
      const n = m[c + LC_COUNT]!;
      if (n > 0) {
        const k = n - 1;
        m[c + LC_COUNT] = k;
        rt.u8[m[c + LC_STATES + k]!] = ST_ALLOCATED;
        const a = m[c + LC_ALLOCS]! + 1; // a u64 in two words
        m[c + LC_ALLOCS] = a;
        if (a === 0x100000000) m[c + LC_ALLOCS + 1] = m[c + LC_ALLOCS + 1]! + 1;
        if (k < m[c + LC_LOW]!) this._raisePeak(k);
        return m[c + LC_ENTRIES + k]!;
      }
    }
    return super.alloc(); // a miss (refill), the cache not open yet, or faults injected
  }

  override free(ptr: number): void {
    const c = this._lc;
    if (c !== 0 && typeof ptr === 'number') {
      // The cache's hit path: the checks of the Wasm free (slab table, owner pool, object
      // boundary, state byte) on the same metadata, then push; the cache's frees follow from its
      // count (assembly/wcache.ts). Anything else (a bad address, a full cache, views detached by
      // memory growth) takes the Wasm path, which says what was wrong. The index is exact for
      // every u32 offset (rounded from off + 0.5, so the product's rounding cannot drop a whole
      // slot). A fractional offset never passes `idx * slot === off`, nor does a negative one:
      // `| 0` truncates toward zero, so idx * slot >= off + 0.5 (no wrap: |x| < 2^29 as slots
      // are at least 8 bytes).
      const rt = this._rt;
      const m = rt.u32;
      // The cache takes objects of the pool's current slab only (its slab, so the owner check
      // too), so that it never keeps an older slab from going back to the page source.
      const slab = m[rt.tableIdx + (ptr >>> SHIFT)]!;
      if (slab !== 0 && m[this._pd + PD_CURRENT] !== slab) {
        // Another slab: the slab path's one Wasm call (the same as without a cache). On an
        // error nothing changed, and super.free says what was wrong.
        if (ptr >>> 0 === ptr && this._spFree(this.handle, ptr) === E.OK) {
          if (this._waiters !== null && this._waiters.length !== 0) this.handOver();
          return;
        }
      } else if (slab !== 0) {
        const s = slab >>> 2;
        const off = ptr - m[s + SL_OBJ_START]!;
        const idx = ((off + 0.5) * this._inv) | 0;
        if (idx * this._slot === off && idx < m[s + SL_CAP]!) {
          const sa = slab + SL_STATE + idx;
          const u8 = rt.u8;
          const n = m[c + LC_COUNT]!;
          if (u8[sa] === ST_ALLOCATED && n < LC_ROOM) { // (a full cache: the Wasm push flushes)
            u8[sa] = ST_CACHED;
            m[c + LC_ENTRIES + n] = ptr;
            m[c + LC_STATES + n] = sa;
            m[c + LC_COUNT] = n + 1;
            if (this._waiters !== null && this._waiters.length !== 0) this.handOver();
            return;
          }
        }
      }
    }
    super.free(ptr); // a bad address, a full cache, another slab: the Wasm path
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
    const pool = this.#pool;
    if (pool === null) throw leaseOver('ptr', this.#ptr);
    return pool.handles === 'generational' ? pool.ptr(this.#ptr) : this.#ptr;
  }

  /** What `alloc` returned for the object: its handle in a generational pool, else its address. */
  get handle(): number {
    if (this.#pool === null) throw leaseOver('handle', this.#ptr);
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

// u32 indices of the fields the SlabPool cache's JS hit path touches.
/**
 * Largest slot of a SlabPool with a cache in a single-threaded runtime: the cache holds up to
 * 2 * LCACHE_SIZE free objects out of the slabs (64 KiB at this size) until memory runs short.
 */
const LOCAL_CACHE_MAX_SLOT = 1024;

// (Module constants, not the imported layout objects: V8 folds these into the hit paths, where
// each use of an imported binding costs a load, a hole check and a property load.)
const LC_COUNT = WCACHE.Count / 4;
const LC_ENTRIES = WCACHE.Entries / 4;
/** The state-byte addresses follow the 2 * LCACHE_SIZE entries. */
const LC_STATES = LC_ENTRIES + 2 * LCACHE_SIZE;
const LC_ALLOCS = WCACHE.Allocs / 4;
const LC_LOW = WCACHE.Low / 4;
/** A JS push needs count < this: the Wasm push flushes at twice the refill size. */
const LC_ROOM = 2 * LCACHE_SIZE - 1;
const PD_OUTSTANDING = POOL.Outstanding / 4;
const PD_PEAK = POOL.Peak / 4;
const PD_CURRENT = POOL.Current / 4;
const SL_OBJ_START = SLAB.ObjStart / 4;
const SL_CAP = SLAB.Cap / 4;
const SL_STATE = SLAB.State;
const ST_ALLOCATED = STATE.Allocated;
const ST_CACHED = STATE.Cached;
const SHIFT = UNIT_SHIFT;

/**
 * @internal Address in linear memory of a batch array of `rt`, or 0 for any other array.
 * @throws NdisBugCheck PARAM for a batch whose buffer memory growth detached (unshared memory).
 */
export function batchAddressOf(rt: RuntimeCore, a: Uint32Array, fn: string, arg: string): number {
  // Hot loops pass the same batch call after call: one identity compare instead of the WeakMap
  // (the runtime remembers the last batch of its own it was given).
  if (rt.lastBatch === a) {
    if (a.length === 0) throw detachedBatch(fn, arg);
    return rt.lastBatchAddr;
  }
  const b = batches.get(a);
  if (!b || b.rt !== rt) return 0;
  // A batch has at least one entry, so length 0 means its buffer was detached. (Not
  // a.buffer.byteLength: on a SharedArrayBuffer that getter costs about 37 ns, more than a
  // whole 32-object bulk call's work.)
  if (a.length === 0) throw detachedBatch(fn, arg);
  rt.lastBatch = a;
  rt.lastBatchAddr = b.addr;
  return b.addr;
}

function detachedBatch(fn: string, arg: string): NdisBugCheck {
  return badParam(fn, arg, 0, 'a live batch (this one was detached when memory grew; unshared memory detaches views: take a new u32Batch)');
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
  if (record !== undefined && (typeof record !== 'object' || record === null || recordRuntime(record) !== rt)) {
    throw badParam(fn, 'options.record', record, "a record type from this runtime's defineRecord (its accessors read this runtime's memory)");
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
  const { handles = 'pointer' } = options;
  if (handles !== 'pointer' && handles !== 'generational') throw badParam(fn, 'options.handles', handles, "'pointer' or 'generational'");
  const gen = handles === 'generational';
  const { checked = true, cache = true } = options;
  if (typeof checked !== 'boolean') throw badParam(fn, 'options.checked', checked, 'a boolean');
  if (typeof cache !== 'boolean') throw badParam(fn, 'options.cache', cache, 'a boolean');
  if (!checked) {
    if (gen) throw badParam(fn, 'options.checked', checked, "true in a generational pool (its handles exist to be checked)");
    if (rt.worker) throw badParam(fn, 'options.checked', checked, 'true in a multi-worker runtime (the worker caches always check)');
    if (rt.verifier) throw badParam(fn, 'options.checked', checked, 'true under the verifier (it quarantines every freed object)');
  }
  if (gen && max !== 0xffffffff && max > 2 ** 24 - GEN_MIN_FREE - 1) {
    throw badParam(fn, 'options.maxOutstanding', max, `at most ${2 ** 24 - GEN_MIN_FREE - 1} in a generational pool (24 index bits)`);
  }
  const h = rt.wasm.slabPoolCreate(objectSize, tagValue, max) >>> 0;
  if (h === 0) return null; // exhaustion: the memory budget cannot hold the pool descriptor
  if (gen && !rt.wasm.genEnable(h, handleIndexBits(max))) {
    rt.wasm.slabPoolDestroy(h, 1);
    return null; // no memory for the handle table
  }
  if (!checked) return new SlabPool(rt, h, objectSize, tagValue, maxWaiters, false, 0, false).register();
  return openPool(rt, h, objectSize, tagValue, maxWaiters, gen, cache ? WORKER_CACHE_SIZE : 0);
}

/** assembly/layout.ts PF_QUAR: the pool quarantines freed objects. */
const PF_QUAR = 16;
/** assembly/layout.ts PF_LARGE: one object per slab (such pools take no cache). */
const PF_LARGE = 2;


/**
 * Default refill size of a worker cache (objects; the cache holds up to twice as many). From
 * bench/workers.js pipe.cacheN (allocate in one worker, free in another): sizes from 32 up are
 * 4-10x faster than no cache and trade places from run to run; 256 was the best in two of four
 * sweeps, and 512 costs twice the memory.
 */
export const WORKER_CACHE_SIZE = 256;

/**
 * @internal The SlabPool object of pool `h` for this runtime. In a multi-worker runtime it gets
 * this worker's cache (unless the pool needs the shared path); null when memory is exhausted.
 */
function openPool(rt: RuntimeCore, h: number, objectSize: number, tag: number, maxWaiters: number, gen: boolean, cacheSize = WORKER_CACHE_SIZE): SlabPool | null {
  let cache = 0;
  let local = false;
  rt.sync();
  const uncached = gen || rt.rd32(h + POOL.MaxOut) !== 0xffffffff || (rt.rd32(h + POOL.Flags) & PF_QUAR) !== 0 || cacheSize === 0;
  if (rt.worker) {
    if (uncached) cache = -1;
    else if ((cache = rt.wasm.cacheOpen(h, rt.worker.id, cacheSize) >>> 0) === 0) return null;
  } else {
    // Single-threaded: a small cache for alloc/free of one object, opened at the first alloc.
    local = !uncached && !rt.verifier && (rt.rd32(h + POOL.Flags) & PF_LARGE) === 0 && rt.rd32(h + POOL.ObjSize) <= LOCAL_CACHE_MAX_SLOT;
  }
  return new (local ? CachedSlabPool : SlabPool)(rt, h, objectSize, tag, maxWaiters, gen, cache, true, local).register();
}

/**
 * @internal A SlabPool object for pool `handle` made by another worker of a multi-worker
 * runtime (or by this one). Null when memory cannot hold this worker's cache.
 */
export function openSlabPool(rt: RuntimeCore, handle: number, options?: { maxWaiters?: number; cacheSize?: number }): SlabPool | null {
  const fn = 'openSlabPool';
  if (!isU32(handle)) throw badParam(fn, 'handle', handle, 'a SlabPool handle (u32)');
  rt.sync();
  const e = rt.liveIn(handle, KIND.SLAB_POOL);
  if (e < E.LIMIT) throw rt.fail(fn, e, ['handle'], [handle], 'a SlabPool handle', 'ALT-POOL');
  const maxWaiters = options?.maxWaiters ?? Infinity;
  if (maxWaiters !== Infinity && !isU32(maxWaiters)) throw badParam(fn, 'options.maxWaiters', maxWaiters, 'a count (u32) or Infinity');
  const cacheSize = options?.cacheSize ?? WORKER_CACHE_SIZE;
  if (!isU32(cacheSize) || cacheSize > 4096) throw badParam(fn, 'options.cacheSize', cacheSize, 'an integer in [0, 4096]');
  const gen = rt.rd32(handle + POOL.User0) !== 0;
  return openPool(rt, handle, rt.rd32(handle + POOL.ReqSize), rt.rd32(handle + POOL.Tag), maxWaiters, gen, cacheSize);
}
