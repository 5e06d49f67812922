// ndis-pool: per-worker object caches of SlabPools and NET_BUFFER pools in a multi-worker
// runtime (issue 10).
//
// Every worker attached to a shared runtime holds, per pool it uses, a LIFO cache of free
// objects (DPDK's per-lcore mempool cache, NDIS's per-processor lookaside lists). Alloc pops
// from it and free pushes to it with plain loads and stores: the cache and the objects in it
// belong to one worker, so the common path takes no lock and no atomic operation. When the
// cache is empty, alloc refills `size` objects from the pool's slabs under the runtime lock;
// when it holds 2 * size, free flushes `size` of them (the oldest) back the same way.
//
// A cached object is in state ST_CACHED: not live (a second free, or an accessor, is caught as
// for any freed object), not free in its slab either. Counters stay exact: refills and flushes
// move objects between slabs and caches without counting as allocations or frees; the pool's
// P_OUTSTANDING counts the objects outside its slabs (live + cached), and each cache counts its
// own allocations and frees, summed on read (`cacheSums`) and folded into the pool when the pool
// is destroyed or the worker detaches. A cache counts its allocations (pops) and the objects
// refills and flushes moved in and out; its frees (pushes) follow: allocs + count - moved. So a
// free counts nothing but the push itself.
//
// Pools that quarantine (verifier mode), generational pools and pools with a maxOutstanding
// limit take no cache: their exact semantics need the shared path (src/pool.ts decides).
//
// Cache block (tagged memory, kind K_WCACHE), linked on the runtime list R_CACHES:
//   0  pool      the SlabPool or NB pool descriptor (0: the pool was destroyed)
//   4  worker    owning worker id
//   8  next      next cache block on the runtime list
//   12 count     objects in the cache
//   16 size      refill / flush amount; capacity is 2 * size
//   20 objSize   the pool's slot size (bytes counters)
//   24 allocs    u64 allocations served by this cache
//   32 moved     i64 objects refills moved in minus objects flushes moved out
//   40 slab      the slab refills draw from (its own slab, so that workers' objects and their
//                state bytes do not share cache lines); revalidated at every refill
//   44 low       worker 0 only: a JS pop leaving fewer than `low` objects may raise the pool's
//                peak (JS keeps it at least max(0, outstanding - peak); see src/pool.ts)
//   48 entries   u32[2 * size] object addresses, oldest first
//   48 + 8*size  states  u32[2 * size] the address of each entry's state byte (pop, push and
//                flush set it without finding the slab again; a JS hit path uses it too)
//
// Worker id 0 is a single-threaded runtime's cache of a SlabPool (src/pool.ts): there JS pops
// and pushes on hits itself (the same steps as pop and push below, on this block) and calls
// wcAlloc / wcFree only to refill or flush. Its refills draw from the pool's current slab as
// allocMany does, and leave the pool's peak and failure counters exact: the peak counts live
// objects (outstanding minus this cache: the pool is flagged PF_LCACHE with the cache in
// P_USER2, so that the slab paths raise the peak by live objects too), and a failure is
// counted only when nothing came.

import {
  E_OK, E_NOT_OURS, E_WRONG_KIND, E_WRONG_POOL, E_MISALIGNED, E_NOT_ALLOCATED, E_DUPLICATE,
  SL_POOL, SL_CAP, SL_OBJ_SIZE, SL_OBJ_START, SL_MAGIC, SL_STATE, SL_FREE_TOP, MAGIC_SHIFT, P_FLAGS, PF_LARGE,
  ST_ALLOCATED, ST_CACHED, P_KIND, P_OUTSTANDING, P_ALLOCS, P_FREES, P_BYTES, P_OBJ_SIZE, P_PEAK, P_FAILURES,
  K_WCACHE, K_SLAB_POOL, K_NB_POOL, K_NB, TAG_WCACHE, E_CACHE_DEAD, P_ID, P_USER0, P_USER2, P_MAX_OUT, PF_QUAR, PF_LCACHE, ROOT_LCACHES, P_CURRENT,
  NB_MDL_CHAIN, MDAT_MDL,
} from "./layout";
import { slabOf, rootU32, rootSetU32, R_CACHES, R_FAULT, lockAcquire, lockRelease, heapReserve } from "./pages";
import { pU32, pSet, poolAlloc, poolFree, root, poolAllocMany, poolFreeMany, poolTakeFrom, poolCacheSlab, poolUnclaim, lookup, freeLookedUp, gErrDetail, stateAddr } from "./slab";
import { memAlloc, nbInitPreallocated } from "./netbuf";

// @ts-ignore: decorator
@inline export const C_POOL: u32 = 0;
// @ts-ignore: decorator
@inline const C_WORKER: u32 = 4;
// @ts-ignore: decorator
@inline const C_NEXT: u32 = 8;
// @ts-ignore: decorator
@inline export const C_COUNT: u32 = 12;
// @ts-ignore: decorator
@inline export const C_SIZE: u32 = 16;
// @ts-ignore: decorator
@inline const C_OBJ_SIZE: u32 = 20;
// @ts-ignore: decorator
@inline export const C_ALLOCS: u32 = 24;
// @ts-ignore: decorator
@inline export const C_MOVED: u32 = 32;
// @ts-ignore: decorator
@inline const C_SLAB: u32 = 40;
// @ts-ignore: decorator
@inline export const C_LOW: u32 = 44;
// @ts-ignore: decorator
@inline export const C_ENTRIES: u32 = 48;
/**
 * Refill size of a single-threaded runtime's SlabPool cache (worker 0). Its block (LCACHE_BYTES)
 * comes from the root pool ROOT_LCACHES, internal like the pool descriptors.
 */
// @ts-ignore: decorator
@inline export const LCACHE_SIZE: u32 = 32;
// @ts-ignore: decorator
@inline export const LCACHE_BYTES: u32 = C_ENTRIES + (LCACHE_SIZE << 4);
/** Largest refill size (the cache holds twice as many). */
// @ts-ignore: decorator
@inline export const CACHE_MAX_SIZE: u32 = 4096;

/** Index in the list of the bad entry of the last failing wcFreeMany (for messages). */
let gCacheErrIdx: u32 = 0;
export function cacheErrIndex(): u32 { return gCacheErrIdx; }
/** Sums of the last `cacheSums` call (its count is the return value). */
let gSumAllocs: u64 = 0;
let gSumFrees: u64 = 0;

// @ts-ignore: decorator
@inline function cU32(c: usize, off: u32): u32 { return load<u32>(c + off); }
// @ts-ignore: decorator
@inline function cSet(c: usize, off: u32, v: u32): void { store<u32>(c + off, v); }
/** Frees taken by cache `c`: its allocations, plus what it holds, minus what was moved in. */
// @ts-ignore: decorator
@inline function frees_(c: usize): u64 {
  return <u64>(load<i64>(c + C_ALLOCS) + <i64>cU32(c, C_COUNT) - load<i64>(c + C_MOVED));
}
/** Counts `n` objects moved into (n > 0) or out of (n < 0) cache `c` by a refill or flush. */
// @ts-ignore: decorator
@inline function moved(c: usize, n: i64): void {
  store<i64>(c + C_MOVED, load<i64>(c + C_MOVED) + n);
}

/** Start of cache `c`'s state-byte addresses (parallel to its entries). */
// @ts-ignore: decorator
@inline function states(c: usize): usize { return c + C_ENTRIES + (<usize>cU32(c, C_SIZE) << 3); }

/**
 * The cache of worker `worker` for SlabPool `pool`, made on first use with refill size `size`.
 * Runs under the runtime lock. Returns 0 when memory is exhausted.
 */
export function cacheOpen(pool: usize, worker: u32, size: u32): usize {
  if (lookup(pool, K_SLAB_POOL) != E_OK) return 0;
  return open(pool, worker, size);
}

function open(pool: usize, worker: u32, size: u32): usize {
  for (let c = <usize>rootU32(R_CACHES); c != 0; c = <usize>cU32(c, C_NEXT)) {
    if (<usize>cU32(c, C_POOL) == pool && cU32(c, C_WORKER) == worker) return c;
  }
  size = max<u32>(1, min<u32>(size, CACHE_MAX_SIZE));
  let c: usize;
  if (worker == 0) {
    size = LCACHE_SIZE;
    c = poolAlloc(root(ROOT_LCACHES));
  } else {
    c = memAlloc(K_WCACHE, TAG_WCACHE, C_ENTRIES + (size << 4), 1, 0);
  }
  if (c == 0) return 0;
  memory.fill(c, 0, C_ENTRIES);
  cSet(c, C_POOL, <u32>pool);
  cSet(c, C_WORKER, worker);
  cSet(c, C_SIZE, size);
  cSet(c, C_OBJ_SIZE, pU32(pool, P_OBJ_SIZE));
  cSet(c, C_NEXT, rootU32(R_CACHES));
  rootSetU32(R_CACHES, <u32>c);
  if (worker == 0) {
    // The pool's only cache: its slab paths subtract the cached objects from the peak.
    pSet(pool, P_USER2, <u32>c);
    pSet(pool, P_FLAGS, pU32(pool, P_FLAGS) | PF_LCACHE);
  }
  return c;
}

/** Unlinks and frees cache `c` (under the lock; its objects were flushed or dropped). */
function cacheFree(c: usize): void {
  let prev: usize = 0;
  for (let x = <usize>rootU32(R_CACHES); x != 0; x = <usize>cU32(x, C_NEXT)) {
    if (x == c) {
      if (prev == 0) rootSetU32(R_CACHES, cU32(c, C_NEXT));
      else cSet(prev, C_NEXT, cU32(c, C_NEXT));
      break;
    }
    prev = x;
  }
  if (lookup(c, K_WCACHE) == E_OK) freeLookedUp();
}

/** Moves cache `c`'s counters into its pool (under the lock). */
function fold(c: usize, pool: usize): void {
  let allocs = load<u64>(c + C_ALLOCS);
  let frees = frees_(c);
  store<u64>(pool + P_ALLOCS, load<u64>(pool + P_ALLOCS) + allocs);
  store<u64>(pool + P_FREES, load<u64>(pool + P_FREES) + frees);
  store<u64>(pool + P_BYTES, load<u64>(pool + P_BYTES) + (allocs - frees) * <u64>cU32(c, C_OBJ_SIZE));
  store<u64>(c + C_ALLOCS, 0);
  store<i64>(c + C_MOVED, <i64>cU32(c, C_COUNT));
}

/**
 * Returns the oldest `n` cached objects of `c` to the slabs (under the lock). The objects were
 * counted outstanding by the pool; poolFreeMany counts them freed, which is undone here.
 */
function flush(c: usize, pool: usize, n: u32): void {
  if (n == 0) return;
  let e = <usize>c + C_ENTRIES;
  let st = states(c);
  let size = <u64>cU32(c, C_OBJ_SIZE);
  for (let i: u32 = 0; i < n; i++) store<u8>(<usize>load<u32>(st + (<usize>i << 2)), ST_ALLOCATED);
  poolFreeMany(pool, e, n); // every entry is an object of `pool` in state ALLOCATED: cannot fail
  store<u64>(pool + P_FREES, load<u64>(pool + P_FREES) - n);
  store<u64>(pool + P_BYTES, load<u64>(pool + P_BYTES) + <u64>n * size);
  let left = cU32(c, C_COUNT) - n;
  memory.copy(e, e + (<usize>n << 2), <usize>left << 2);
  memory.copy(st, st + (<usize>n << 2), <usize>left << 2);
  cSet(c, C_COUNT, left);
  moved(c, -<i64>n);
}

/**
 * Checks that `p` is a live object of `pool` without the lock (the slab header fields read here
 * do not change while the slab holds a live object). Returns the state byte's address, or 0
 * with the error in `gCacheErr`.
 */
let gCacheErr: u32 = 0;
// @ts-ignore: decorator
@inline function liveState(pool: usize, p: usize): usize {
  let slab = slabOf(p);
  if (slab == 0) { gCacheErr = E_NOT_OURS; return 0; }
  let owner = <usize>load<u32>(slab + SL_POOL);
  if (owner != pool) { gCacheErr = pU32(owner, P_KIND) == pU32(pool, P_KIND) ? E_WRONG_POOL : E_WRONG_KIND; return 0; }
  let size = load<u32>(slab + SL_OBJ_SIZE);
  let off = <u32>(p - <usize>load<u32>(slab + SL_OBJ_START));
  if (<u64>off >= <u64>load<u32>(slab + SL_CAP) * size) { gCacheErr = E_MISALIGNED; return 0; }
  let idx = <u32>((<u64>off * load<u64>(slab + SL_MAGIC)) >> MAGIC_SHIFT);
  if (idx * size != off) { gCacheErr = E_MISALIGNED; return 0; }
  let s = slab + SL_STATE + idx;
  if (load<u8>(s) != ST_ALLOCATED) { gCacheErr = E_NOT_ALLOCATED; return 0; }
  return s;
}

/**
 * Refills an empty cache with up to `size` objects (under the lock). Returns how many. Draws
 * from the cache's own slab while it has free objects (then another partial, spare or new one),
 * so that two workers' hot objects rarely share a slab.
 */
function refill(c: usize, pool: usize): u32 {
  lockAcquire();
  let want = cU32(c, C_SIZE);
  let e = c + C_ENTRIES;
  let got: u32 = 0;
  if (cU32(c, C_WORKER) == 0) {
    // A single-threaded runtime's cache: the current slab, as allocMany; not an allocation.
    let peak = pU32(pool, P_PEAK);
    let failures = load<u64>(pool + P_FAILURES);
    got = poolAllocMany(pool, e, want);
    pSet(pool, P_PEAK, peak);
    store<u64>(pool + P_FAILURES, failures + (got == 0 ? 1 : 0));
  } else if (rootU32(R_FAULT) == 0 && !(pU32(pool, P_FLAGS) & PF_LARGE)) {
    let s = <usize>cU32(c, C_SLAB);
    // Still a slab of this pool with free objects? (It may have been released since.)
    if (s == 0 || slabOf(s) != s || <usize>load<u32>(s + SL_POOL) != pool || load<u32>(s + SL_FREE_TOP) == 0) {
      poolUnclaim(pool, s, c);
      s = poolCacheSlab(pool, c);
      cSet(c, C_SLAB, <u32>s);
    }
    if (s != 0) got = poolTakeFrom(pool, s, e, want);
    if (got < want) got += poolAllocMany(pool, e + (<usize>got << 2), want - got);
  } else {
    got = poolAllocMany(pool, e, want);
  }
  // Moving objects into the cache is not an allocation: the cache counts its own.
  store<u64>(pool + P_ALLOCS, load<u64>(pool + P_ALLOCS) - got);
  store<u64>(pool + P_BYTES, load<u64>(pool + P_BYTES) - <u64>got * cU32(c, C_OBJ_SIZE));
  lockRelease();
  let st = states(c);
  for (let i: u32 = 0; i < got; i++) {
    let s = stateAddr(<usize>load<u32>(e + (<usize>i << 2)));
    store<u8>(s, ST_CACHED);
    store<u32>(st + (<usize>i << 2), <u32>s);
  }
  cSet(c, C_COUNT, got);
  moved(c, <i64>got);
  return got;
}

/**
 * Cache path of SlabPool.alloc (lock-free export). Returns the object, 0 when the pool is
 * exhausted, or E_CACHE_DEAD when the pool was destroyed.
 */
export function wcAlloc(c: usize): usize {
  let pool = <usize>cU32(c, C_POOL);
  if (pool == 0) return E_CACHE_DEAD;
  let p = pop(c, pool);
  if (cU32(c, C_WORKER) == 0) {
    // The only cache of the pool: its peak counts exactly the live objects.
    let live = pU32(pool, P_OUTSTANDING) - cU32(c, C_COUNT);
    if (live > pU32(pool, P_PEAK)) pSet(pool, P_PEAK, live);
  }
  return p;
}

/** Cache path of SlabPool.free (lock-free export). Returns E_OK or an error code. */
export function wcFree(c: usize, p: usize): u32 {
  let pool = <usize>cU32(c, C_POOL);
  if (pool == 0) return E_CACHE_DEAD;
  let s = liveState(pool, p);
  if (s == 0) return gCacheErr;
  // A worker-0 cache takes objects of the pool's current slab only (JS does the same): it never
  // keeps older slabs from going back to the page source.
  if (cU32(c, C_WORKER) == 0 && slabOf(p) != <usize>pU32(pool, P_CURRENT)) return poolFree(pool, p);
  push(c, pool, s, p);
  return E_OK;
}

/**
 * Cached objects (any cache's) in `slab`: they are free, though not on the slab's free stack
 * (runtime.memoryReport counts them so). For reports, not the data path.
 */
export function slabCached(slab: usize): u32 {
  let n: u32 = 0;
  for (let c = <usize>rootU32(R_CACHES); c != 0; c = <usize>cU32(c, C_NEXT)) {
    let e = c + C_ENTRIES;
    let k = cU32(c, C_COUNT);
    for (let i: u32 = 0; i < k; i++) if (slabOf(<usize>load<u32>(e + (<usize>i << 2))) == slab) n++;
  }
  return n;
}

/**
 * SlabPool.trim of a single-threaded runtime's pool with cache `c` (worker 0): its cached
 * objects go back to their slabs (emptied slabs then go back to the page source, as frees do).
 * Returns how many.
 */
export function cacheTrim(c: usize): u32 {
  let pool = <usize>cU32(c, C_POOL);
  let n = cU32(c, C_COUNT);
  if (pool == 0 || n == 0) return 0;
  flush(c, pool, n);
  return n;
}

/** Pushes live object `p` (state byte at `s`) of `pool` onto cache `c`; flushes a full cache. */
// @ts-ignore: decorator
@inline function push(c: usize, pool: usize, s: usize, p: usize): void {
  store<u8>(s, ST_CACHED);
  let n = cU32(c, C_COUNT);
  store<u32>(c + C_ENTRIES + (<usize>n << 2), <u32>p);
  store<u32>(states(c) + (<usize>n << 2), <u32>s);
  cSet(c, C_COUNT, ++n);
  if (n == cU32(c, C_SIZE) << 1) {
    lockAcquire();
    flush(c, pool, n >>> 1);
    lockRelease();
  }
}

/** Pops an object off cache `c` of `pool` (refilling an empty cache). 0: the pool is exhausted. */
// @ts-ignore: decorator
@inline function pop(c: usize, pool: usize): usize {
  let n = cU32(c, C_COUNT);
  if (n == 0) {
    n = refill(c, pool);
    if (n == 0) return 0;
  }
  n--;
  cSet(c, C_COUNT, n);
  let p = <usize>load<u32>(c + C_ENTRIES + (<usize>n << 2));
  store<u8>(<usize>load<u32>(states(c) + (<usize>n << 2)), ST_ALLOCATED);
  store<u64>(c + C_ALLOCS, load<u64>(c + C_ALLOCS) + 1);
  return p;
}

/** Cache path of SlabPool.allocMany: `n` objects into `out`. Returns how many (lock-free export). */
export function wcAllocMany(c: usize, out: usize, n: u32): u32 {
  let pool = <usize>cU32(c, C_POOL);
  if (pool == 0) return E_CACHE_DEAD | 0x80000000;
  let have = cU32(c, C_COUNT);
  let k = min<u32>(have, n);
  let e = c + C_ENTRIES;
  let st = states(c);
  for (let i: u32 = 0; i < k; i++) {
    let j = <usize>(have - 1 - i) << 2;
    store<u8>(<usize>load<u32>(st + j), ST_ALLOCATED);
    store<u32>(out + (<usize>i << 2), load<u32>(e + j));
  }
  cSet(c, C_COUNT, have - k);
  store<u64>(c + C_ALLOCS, load<u64>(c + C_ALLOCS) + k);
  if (k == n) return n;
  // The rest straight from the slabs: counted by the pool as ordinary allocations.
  lockAcquire();
  let got = poolAllocMany(pool, out + (<usize>k << 2), n - k);
  lockRelease();
  return k + got;
}

/**
 * SlabPool.allocMany of a single-threaded runtime's pool with cache `c` (worker 0): from the
 * slabs, as spAllocMany, and when they run short the cached objects go back to them first, so
 * that a pool at its memory budget hands out every free object. One failure is counted when
 * the call still comes short.
 */
export function wcAllocManyLocal(c: usize, out: usize, n: u32): u32 {
  let pool = <usize>cU32(c, C_POOL);
  let failures = load<u64>(pool + P_FAILURES);
  let got = poolAllocMany(pool, out, n);
  let have = cU32(c, C_COUNT);
  if (got < n && have != 0) {
    lockAcquire();
    flush(c, pool, have);
    lockRelease();
    got += poolAllocMany(pool, out + (<usize>got << 2), n - got);
    store<u64>(pool + P_FAILURES, failures + (got < n ? 1 : 0));
  }
  return got;
}

/**
 * Cache path of SlabPool.freeMany (lock-free export): all or nothing, like poolFreeMany. The
 * batch goes into the cache when it fits, else straight to the slabs under the lock.
 */
export function wcFreeMany(c: usize, ptrs: usize, n: u32): u32 {
  let pool = <usize>cU32(c, C_POOL);
  if (pool == 0) return E_CACHE_DEAD;
  let have = cU32(c, C_COUNT);
  if (have + n > cU32(c, C_SIZE) << 1) {
    lockAcquire();
    let r = poolFreeMany(pool, ptrs, n);
    lockRelease();
    if (r != E_OK) gCacheErrIdx = gErrDetail;
    return r;
  }
  // Check every entry first, marking each (a duplicate finds its own mark).
  let i: u32 = 0;
  let err: u32 = E_OK;
  let st = states(c) + (<usize>have << 2);
  for (; i < n; i++) {
    let p = <usize>load<u32>(ptrs + (<usize>i << 2));
    let s = liveState(pool, p);
    if (s == 0) {
      err = gCacheErr;
      if (err == E_NOT_ALLOCATED) {
        // Marked ST_CACHED by this call already: a duplicate in the list.
        for (let j: u32 = 0; j < i; j++) if (load<u32>(ptrs + (<usize>j << 2)) == <u32>p) { err = E_DUPLICATE; break; }
      }
      break;
    }
    store<u8>(s, ST_CACHED);
    store<u32>(st + (<usize>i << 2), <u32>s); // beyond the count until the batch is taken
  }
  if (err != E_OK) {
    gCacheErrIdx = i;
    for (let j: u32 = 0; j < i; j++) store<u8>(<usize>load<u32>(st + (<usize>j << 2)), ST_ALLOCATED);
    return err;
  }
  memory.copy(c + C_ENTRIES + (<usize>have << 2), ptrs, <usize>n << 2);
  cSet(c, C_COUNT, have + n);
  return E_OK;
}

/**
 * Sums the caches of `pool` (any worker's): cached objects, allocations and frees not yet folded
 * into the pool. Results via cacheSumCount/Allocs/Frees. Reads other workers' counters without
 * the lock: exact when they are quiet, as per-CPU statistics are.
 */
export function cacheSums(pool: usize): u32 {
  let count: u32 = 0, allocs: u64 = 0, frees: u64 = 0;
  for (let c = <usize>rootU32(R_CACHES); c != 0; c = <usize>cU32(c, C_NEXT)) {
    if (<usize>cU32(c, C_POOL) != pool) continue;
    count += cU32(c, C_COUNT);
    allocs += load<u64>(c + C_ALLOCS);
    frees += frees_(c);
  }
  gSumAllocs = allocs;
  gSumFrees = frees;
  return count;
}
export function cacheSumAllocs(): u64 { return gSumAllocs; }
export function cacheSumFrees(): u64 { return gSumFrees; }

/**
 * Before `pool` is destroyed (under the lock): marks every cache of it dead (their owners free
 * the blocks on their next call, or at detach), returns the cached objects to the slabs and
 * folds the caches' counters into the pool. Returns the live objects (outstanding minus
 * cached); `dryRun` only counts.
 */
export function cachesRetire(pool: usize, dryRun: bool): u32 {
  let cached: u32 = 0;
  for (let c = <usize>rootU32(R_CACHES); c != 0; c = <usize>cU32(c, C_NEXT)) {
    if (<usize>cU32(c, C_POOL) == pool) cached += cU32(c, C_COUNT);
  }
  let live = pU32(pool, P_OUTSTANDING) - cached;
  if (dryRun) return live;
  for (let c = <usize>rootU32(R_CACHES); c != 0; c = <usize>cU32(c, C_NEXT)) {
    if (<usize>cU32(c, C_POOL) != pool) continue;
    // Dead first (the owner's next call stops there), then its objects back to their slabs, so
    // that releasing the pool finds every slab (a slab holding cached objects is on no list).
    cSet(c, C_POOL, 0);
    flush(c, pool, cU32(c, C_COUNT));
    fold(c, pool);
    cSet(c, C_SLAB, 0);
    // A worker-0 cache goes with its pool (single-threaded: nobody else holds it).
    if (cU32(c, C_WORKER) == 0) {
      unlinkLocal(c, pool);
      cacheFree(c);
    }
  }
  return live;
}

/**
 * A worker leaves (under the lock): flushes and frees every cache it owns. Returns how many.
 */
export function cachesDetach(worker: u32): u32 {
  let n: u32 = 0;
  let c = <usize>rootU32(R_CACHES);
  while (c != 0) {
    let next = <usize>cU32(c, C_NEXT);
    if (cU32(c, C_WORKER) == worker) {
      retire(c);
      n++;
    }
    c = next;
  }
  return n;
}

/**
 * The memory budget is spent: every worker-0 cache (a single-threaded runtime's) returns its
 * objects to their slabs, so that an allocation fails only when no cached object could make
 * room (slab.ts poolAllocSlow retries). Returns how many objects moved.
 */
export function cachesShrink(): u32 {
  let n: u32 = 0;
  for (let c = <usize>rootU32(R_CACHES); c != 0; c = <usize>cU32(c, C_NEXT)) {
    let pool = <usize>cU32(c, C_POOL);
    let k = cU32(c, C_COUNT);
    if (cU32(c, C_WORKER) != 0 || pool == 0 || k == 0) continue;
    flush(c, pool, k);
    n += k;
  }
  return n;
}

/** Frees cache `c` (SlabPool.destroy, or its pool was destroyed elsewhere); under the lock. */
export function cacheClose(c: usize): void {
  if (lookup(c, K_WCACHE) == E_OK) retire(c);
}

/** Undoes what open() set on the pool of a worker-0 cache `c`. */
function unlinkLocal(c: usize, pool: usize): void {
  if (cU32(c, C_WORKER) == 0 && <usize>pU32(pool, P_USER2) == c) {
    pSet(pool, P_USER2, 0);
    pSet(pool, P_FLAGS, pU32(pool, P_FLAGS) & ~PF_LCACHE);
  }
}

/** Returns cache `c`'s objects and counters to its pool (if it is still alive) and frees it. */
function retire(c: usize): void {
  let pool = <usize>cU32(c, C_POOL);
  if (pool != 0) {
    flush(c, pool, cU32(c, C_COUNT));
    fold(c, pool);
    unlinkLocal(c, pool);
    poolUnclaim(pool, <usize>cU32(c, C_SLAB), c);
  }
  cacheFree(c);
}

/** Slot size of the live pool of cache `c`, or 0 when `c` is not a live cache of a live pool. */
export function cacheFrameSize(c: usize): u32 {
  if (lookup(c, K_WCACHE) != E_OK || cU32(c, C_POOL) == 0) return 0;
  return cU32(c, C_OBJ_SIZE);
}

// ---------------------------------------------------------------------------------------------
// NET_BUFFER pools (NdisAllocateNetBufferMdlAndData / NdisFreeNetBuffer)
//
// The NDIS calls name a pool (alloc) or only the NB (free), not a cache, so each instance keeps
// a small direct-mapped table from pool to this worker's cache: 64 entries of {pool, cache, pool
// id}. cache 1 marks a pool that takes no cache (DataSize 0, VERIFY or quarantining pools): its
// calls take the locked path at once. An entry is trusted only while the pool at that address
// still has the recorded id (P_ID, unique per pool) and, for a cache, while the cache is alive.
// ---------------------------------------------------------------------------------------------

/** Returned by the NB cache paths: no entry for the pool in this instance; open one, or go locked. */
// @ts-ignore: decorator
@inline export const WC_MISS: u32 = 0xFFFFFFFF;
/** Returned by the NB cache paths: the pool takes no cache (the locked path serves it). */
// @ts-ignore: decorator
@inline export const WC_SHARED: u32 = 0xFFFFFFFE;
// @ts-ignore: decorator
@inline const T_ENTRIES: u32 = 64;
/** This instance's pool -> cache table (heap block; 0 until the first NB cache is opened). */
let gTable: usize = 0;
/** The pool of the last WC_MISS of wcNbFree (for the caller to open a cache for). */
let gMissPool: usize = 0;
export function cacheMissPool(): usize { return gMissPool; }

// @ts-ignore: decorator
@inline function slot(pool: usize): usize {
  return gTable + ((((pool >>> 6) ^ (pool >>> 12)) & (T_ENTRIES - 1)) << 4);
}

/** This worker's cache of NB pool `pool`: the cache, 1 (none: locked path) or 0 (unknown). */
// @ts-ignore: decorator
@inline function cacheFor(pool: usize): usize {
  if (gTable == 0) return 0;
  let e = slot(pool);
  if (<usize>load<u32>(e) != pool || load<u32>(e + 8) != pU32(pool, P_ID)) return 0;
  let c = <usize>load<u32>(e + 4);
  if (c > 1 && <usize>cU32(c, C_POOL) != pool) return 0; // the pool was destroyed (id reused?)
  return c;
}

/**
 * Under the lock: opens this worker's cache of NB pool `pool` (or records that it takes none)
 * in this instance's table. Returns the cache, 1 for none, 0 when `pool` is not a live NB pool
 * or memory is exhausted.
 */
export function cacheOpenNb(pool: usize, worker: u32, size: u32): usize {
  if (lookup(pool, K_NB_POOL) != E_OK) return 0;
  if (gTable == 0) {
    gTable = heapReserve(T_ENTRIES << 4);
    if (gTable == 0) return 0;
  }
  let cacheable = pU32(pool, P_USER0) != 0 && !(pU32(pool, P_FLAGS) & (PF_QUAR | PF_LARGE)) && pU32(pool, P_MAX_OUT) == 0xFFFFFFFF;
  let c: usize = cacheable ? open(pool, worker, size) : 1;
  if (c == 0) return 0;
  let e = slot(pool);
  let old = <usize>load<u32>(e + 4);
  // A dead cache this entry held (its pool was destroyed) is this worker's to free.
  if (old > 1 && old != c && lookup(old, K_WCACHE) == E_OK && cU32(old, C_POOL) == 0) retire(old);
  store<u32>(e, <u32>pool);
  store<u32>(e + 4, <u32>c);
  store<u32>(e + 8, pU32(pool, P_ID));
  return c;
}

/**
 * NdisAllocateNetBufferMdlAndData through this worker's cache (lock-free export): the NB, 0 when
 * the pool is exhausted, WC_MISS / WC_SHARED when the locked path must serve the call.
 */
export function wcNbAlloc(pool: usize): usize {
  let c = cacheFor(pool);
  if (c <= 1) return c == 0 ? WC_MISS : WC_SHARED;
  let nb = pop(c, pool);
  if (nb != 0) nbInitPreallocated(nb, pool, pU32(pool, P_USER0));
  return nb;
}

/**
 * NdisFreeNetBuffer through this worker's cache (lock-free export): E_OK, or WC_MISS (then
 * cacheMissPool() names the pool) / WC_SHARED when the locked path must serve the call, which
 * also reports every error.
 */
export function wcNbFree(nb: usize): u32 {
  let slab = slabOf(nb);
  if (slab == 0) return WC_SHARED;
  let pool = <usize>load<u32>(slab + SL_POOL);
  if (pU32(pool, P_KIND) != K_NB) return WC_SHARED;
  let c = cacheFor(pool);
  if (c <= 1) {
    gMissPool = pool;
    return c == 0 ? WC_MISS : WC_SHARED;
  }
  // MDLs a retreat put in front of the NB's own MDL are freed by the locked path.
  if (<usize>load<u32>(nb + NB_MDL_CHAIN) != nb + MDAT_MDL) return WC_SHARED;
  let s = liveState(pool, nb);
  if (s == 0) return WC_SHARED; // not a live NB of that pool: the locked path says why
  push(c, pool, s, nb);
  return E_OK;
}

/** runtime.reset (one worker left): every cache is gone with the slabs; forget them. */
export function cachesReset(): void {
  rootSetU32(R_CACHES, 0);
  if (gTable != 0) memory.fill(gTable, 0, <usize>T_ENTRIES << 4);
}
