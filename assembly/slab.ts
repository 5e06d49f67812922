// ndis-pool: fixed-size object pools over slabs (DESIGN D5, D9).
//
// Glossary
//   pool     a descriptor (layout.ts P_*) plus the slabs it owns; every object has one size
//   slab     1..16 contiguous 64 KiB units serving one pool: header, per-object state bytes,
//            a stack of free object indices, optional per-object side words, then objects
//   current  the slab the fast path pops from; `partial` lists the pool's other slabs that
//            have free objects; full slabs are on no list; `spare` holds one empty slab
//
// Invariants (checked by the as-pect specs)
//   per slab:  freeTop + (objects in state ALLOCATED) == cap
//   per pool:  outstanding == allocs - frees;  bytes == outstanding * objSize (fixed pools)
//   every slab with freeTop > 0 is the current slab, on the partial list, or the spare
//   free lists live in the slab header, never inside an object: a stale write can damage data
//   but never the allocator
//
// The hot path (`poolAlloc`, `poolFreeAt`) pops or pushes one index; refilling, growing and
// returning slabs happen in separate slow-path functions.

import {
  E_OK, E_NOT_OURS, E_WRONG_KIND, E_MISALIGNED, E_NOT_ALLOCATED, E_WRONG_POOL, E_DUPLICATE,
  SL_POOL, SL_FREE_TOP, SL_CAP, SL_OBJ_SIZE, SL_MAGIC, SL_OBJ_START, SL_NEXT, SL_PREV,
  SL_UNITS, SL_LISTED, SL_AUX_WORDS, SL_AUX_START, SL_CLAIM, SL_STATE, MAGIC_SHIFT,
  ST_FREE, ST_ALLOCATED, ST_FREEING, ST_QUARANTINED, POISON, PF_QUAR, PF_LCACHE, P_USER2,
  P_KIND, P_TAG, P_OBJ_SIZE, P_CAP, P_MAGIC, P_SLAB_UNITS, P_OBJ_OFFSET, P_CURRENT, P_PARTIAL,
  P_SPARE, P_SLAB_COUNT, P_OUTSTANDING, P_PEAK, P_MAX_OUT, P_AUX_WORDS, P_ALLOCS, P_FREES,
  P_FAILURES, P_OWNER, P_FLAGS, P_BYTES, P_ID, P_REQ_SIZE, P_UNITS, POOL_DESC_SIZE,
  PF_LARGE, PF_KEEP, ROOT_COUNT,
  UNIT_SHIFT, UNIT_MASK, SLAB_MAX_UNITS, SHARED_OBJECT_MAX, MIN_OBJECT_SIZE, ALIGN_MASK,
} from "./layout";
import {
  ROOT, TABLE, slabOf, rootU32, rootSetU32, R_SERIAL, R_ROOTS, R_FAULT, R_RNG, R_FAULTS, R_QUAR, R_QALL,
  unitsAlloc, unitsFree, unitsMap, unitsTop, heapReserve,
} from "./pages";
import { C_COUNT, cachesShrink } from "./wcache";

// ---------------------------------------------------------------------------------------------
// Scratch results of the last lookup (per instance; not allocator state)
// ---------------------------------------------------------------------------------------------
/** Slab found by the last successful `lookup`. */
export let gSlab: usize = 0;
/** Object index found by the last successful `lookup`. */
export let gIdx: u32 = 0;
/** Pointer and a detail word of the last error (for messages). */
export let gErrPtr: usize = 0;
export let gErrDetail: u32 = 0;

// @ts-ignore: decorator
@inline export function pU32(pool: usize, off: u32): u32 { return load<u32>(pool + off); }
// @ts-ignore: decorator
@inline export function pSet(pool: usize, off: u32, v: u32): void { store<u32>(pool + off, v); }
// @ts-ignore: decorator
@inline export function pInc64(pool: usize, off: u32): void { store<u64>(pool + off, load<u64>(pool + off) + 1); }
// @ts-ignore: decorator
@inline export function sU32(slab: usize, off: u32): u32 { return load<u32>(slab + off); }
// @ts-ignore: decorator
@inline function sSet(slab: usize, off: u32, v: u32): void { store<u32>(slab + off, v); }

// @ts-ignore: decorator
@inline function stackBase(slab: usize, cap: u32): usize {
  return (slab + SL_STATE + cap + 1) & ~<usize>1;
}

/** ceil(2^40 / size): object index = (offset * magic) >> 40, exact for every object start. */
function magicFor(size: u32): u64 {
  return ((<u64>1 << MAGIC_SHIFT) + <u64>size - 1) / <u64>size;
}

/** Bytes of slab header + metadata for `cap` objects, up to the 16-aligned object start. */
function metaBytes(cap: u32, auxWords: u32): u32 {
  let stack = (SL_STATE + cap + 1) & ~1;
  let aux = (stack + 2 * cap + 3) & ~3;
  return (aux + 4 * auxWords * cap + 15) & ~15;
}

/** Object capacity of a slab of `units` units. */
function capFor(units: u32, objSize: u32, auxWords: u32): u32 {
  let bytes = units << UNIT_SHIFT;
  let cap = (bytes - SL_STATE - 32) / (objSize + 3 + 4 * auxWords);
  if (cap > 0xFFFF) cap = 0xFFFF; // indices are u16
  while (cap > 0 && metaBytes(cap, auxWords) + cap * objSize > bytes) cap--;
  return cap;
}

// ---------------------------------------------------------------------------------------------
// Pool set-up and tear-down
// ---------------------------------------------------------------------------------------------

/**
 * Initialises the descriptor at `pool` for objects of `reqSize` bytes. Returns false when the
 * size cannot be served at all (more than the address space).
 */
export function poolInit(
  pool: usize, kind: u32, tag: u32, reqSize: u32, auxWords: u32, flags: u32, owner: u32,
): bool {
  memory.fill(pool, 0, POOL_DESC_SIZE);
  if (reqSize > 0xFFF00000) return false;
  let objSize = max<u32>(MIN_OBJECT_SIZE, (reqSize + ALIGN_MASK) & ~ALIGN_MASK);
  pSet(pool, P_KIND, kind);
  pSet(pool, P_TAG, tag);
  pSet(pool, P_REQ_SIZE, reqSize);
  pSet(pool, P_AUX_WORDS, auxWords);
  pSet(pool, P_MAX_OUT, 0xFFFFFFFF);
  pSet(pool, P_OWNER, owner);
  let serial = rootU32(R_SERIAL) + 1;
  rootSetU32(R_SERIAL, serial);
  pSet(pool, P_ID, serial);
  pSet(pool, P_OBJ_SIZE, objSize);
  if (objSize > SHARED_OBJECT_MAX || (flags & PF_LARGE)) {
    // One object per slab, the slab sized to fit (or sized per allocation when objSize is 0).
    pSet(pool, P_FLAGS, flags | PF_LARGE | (rootU32(R_QALL) != 0 ? PF_QUAR : 0));
    if (flags & PF_LARGE) pSet(pool, P_OBJ_SIZE, 0);
    pSet(pool, P_CAP, 1);
    return true;
  }
  if (rootU32(R_QALL) != 0) flags |= PF_QUAR;
  pSet(pool, P_FLAGS, flags);
  // Smallest slab whose unused tail is at most 1/16 of it; else the best of 1..16 units.
  let bestUnits: u32 = 1, bestWaste: u32 = 0xFFFFFFFF;
  for (let u: u32 = 1; u <= SLAB_MAX_UNITS; u++) {
    let cap = capFor(u, objSize, auxWords);
    if (cap == 0) continue;
    let bytes = u << UNIT_SHIFT;
    let waste = bytes - metaBytes(cap, auxWords) - cap * objSize;
    // waste per object-byte, compared as waste/bytes
    if (<u64>waste * 16 <= <u64>bytes) { bestUnits = u; bestWaste = 0; break; }
    if (<u64>waste * (<u64>SLAB_MAX_UNITS << UNIT_SHIFT) / <u64>bytes < <u64>bestWaste) {
      bestWaste = <u32>(<u64>waste * (<u64>SLAB_MAX_UNITS << UNIT_SHIFT) / <u64>bytes);
      bestUnits = u;
    }
  }
  let cap = capFor(bestUnits, objSize, auxWords);
  pSet(pool, P_SLAB_UNITS, bestUnits);
  pSet(pool, P_CAP, cap);
  pSet(pool, P_OBJ_OFFSET, metaBytes(cap, auxWords));
  store<u64>(pool + P_MAGIC, magicFor(objSize));
  return true;
}

/** Sets the outstanding-object limit (0xFFFFFFFF: none). */
export function poolSetMax(pool: usize, maxOut: u32): void {
  pSet(pool, P_MAX_OUT, maxOut);
}

/** Creates a slab for `pool` (objects of `objSize`, `cap` of them). Returns 0 when out of memory. */
function slabNew(pool: usize, objSize: u32, cap: u32, units: u32, objOffset: u32): usize {
  let base = unitsAlloc(units);
  if (base == 0) return 0;
  let auxWords = pU32(pool, P_AUX_WORDS);
  unitsMap(base, units, base);
  memory.fill(base, 0, <usize>SL_STATE + cap); // header + state bytes (all ST_FREE)
  sSet(base, SL_POOL, <u32>pool);
  sSet(base, SL_CAP, cap);
  sSet(base, SL_OBJ_SIZE, objSize);
  store<u64>(base + SL_MAGIC, magicFor(objSize));
  sSet(base, SL_OBJ_START, <u32>(base + objOffset));
  sSet(base, SL_UNITS, units);
  sSet(base, SL_AUX_WORDS, auxWords);
  let stack = stackBase(base, cap);
  let aux = (stack + 2 * <usize>cap + 3) & ~<usize>3;
  sSet(base, SL_AUX_START, <u32>aux);
  if (auxWords) memory.fill(aux, 0, 4 * <usize>auxWords * cap);
  // Stack: pops hand out index 0 first, so fresh slabs fill in address order.
  for (let i: u32 = 0; i < cap; i++) store<u16>(stack + (<usize>i << 1), <u16>(cap - 1 - i));
  sSet(base, SL_FREE_TOP, cap);
  pSet(pool, P_SLAB_COUNT, pU32(pool, P_SLAB_COUNT) + 1);
  pSet(pool, P_UNITS, pU32(pool, P_UNITS) + units);
  return base;
}

/** Returns an empty slab's units to the page source. */
function slabRelease(pool: usize, slab: usize): void {
  let units = sU32(slab, SL_UNITS);
  pSet(pool, P_SLAB_COUNT, pU32(pool, P_SLAB_COUNT) - 1);
  pSet(pool, P_UNITS, pU32(pool, P_UNITS) - units);
  unitsFree(slab, units);
}

function listPush(pool: usize, slab: usize): void {
  let head = <usize>pU32(pool, P_PARTIAL);
  sSet(slab, SL_NEXT, <u32>head);
  sSet(slab, SL_PREV, 0);
  if (head) sSet(head, SL_PREV, <u32>slab);
  pSet(pool, P_PARTIAL, <u32>slab);
  sSet(slab, SL_LISTED, 1);
}

function listUnlink(pool: usize, slab: usize): void {
  let next = <usize>sU32(slab, SL_NEXT);
  let prev = <usize>sU32(slab, SL_PREV);
  if (prev) sSet(prev, SL_NEXT, <u32>next); else pSet(pool, P_PARTIAL, <u32>next);
  if (next) sSet(next, SL_PREV, <u32>prev);
  sSet(slab, SL_NEXT, 0);
  sSet(slab, SL_PREV, 0);
  sSet(slab, SL_LISTED, 0);
}

/**
 * Releases every slab of `pool`. With objects still allocated (forced destroy or reset), the
 * slab table is scanned for the pool's full slabs. The descriptor itself is not freed.
 */
export function poolRelease(pool: usize): void {
  if (pU32(pool, P_FLAGS) & PF_QUAR) quarantinePurge(pool);
  let top = unitsTop();
  if (pU32(pool, P_OUTSTANDING) == 0) {
    // Every slab is empty, so each is the current one, on the partial list or the spare.
    let slab = <usize>pU32(pool, P_PARTIAL);
    while (slab != 0) {
      let next = <usize>sU32(slab, SL_NEXT);
      slabRelease(pool, slab);
      slab = next;
    }
    let cur = <usize>pU32(pool, P_CURRENT);
    if (cur != 0) slabRelease(pool, cur);
    let spare = <usize>pU32(pool, P_SPARE);
    if (spare != 0) slabRelease(pool, spare);
  } else {
    // Walk the table: finds current, partial, spare and full slabs alike.
    for (let u: u32 = 0; u < top; ) {
      let slab = <usize>load<u32>(TABLE + (<usize>u << 2));
      if (slab != 0 && (slab >>> UNIT_SHIFT) == <usize>u && <usize>sU32(slab, SL_POOL) == pool) {
        let units = sU32(slab, SL_UNITS);
        slabRelease(pool, slab);
        u += units;
      } else {
        u++;
      }
    }
  }
  pSet(pool, P_CURRENT, 0);
  pSet(pool, P_PARTIAL, 0);
  pSet(pool, P_SPARE, 0);
  pSet(pool, P_OUTSTANDING, 0);
  store<u64>(pool + P_BYTES, 0);
}

// ---------------------------------------------------------------------------------------------
// Allocation
// ---------------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function popFrom(pool: usize, slab: usize, top: u32): usize {
  top--;
  sSet(slab, SL_FREE_TOP, top);
  let cap = sU32(slab, SL_CAP);
  let idx = <u32>load<u16>(stackBase(slab, cap) + (<usize>top << 1));
  store<u8>(slab + SL_STATE + idx, ST_ALLOCATED);
  let out = pU32(pool, P_OUTSTANDING) + 1;
  pSet(pool, P_OUTSTANDING, out);
  if (out > pU32(pool, P_PEAK)) raisePeak(pool, out);
  pInc64(pool, P_ALLOCS);
  let size = sU32(slab, SL_OBJ_SIZE);
  store<u64>(pool + P_BYTES, load<u64>(pool + P_BYTES) + size);
  return <usize>sU32(slab, SL_OBJ_START) + <usize>idx * size;
}

/**
 * The peak after `out` objects are outstanding (above the peak recorded): the live objects of a
 * pool with a single-threaded runtime's cache are the outstanding minus the cached.
 */
function raisePeak(pool: usize, out: u32): void {
  if (pU32(pool, P_FLAGS) & PF_LCACHE) {
    out -= load<u32>(<usize>pU32(pool, P_USER2) + C_COUNT);
    if (out <= pU32(pool, P_PEAK)) return;
  }
  pSet(pool, P_PEAK, out);
}

/**
 * Fault injection (runtime.injectFaults): true when this allocation must fail. One load and a
 * branch when injection is off.
 */
// @ts-ignore: decorator
@inline function faultHit(): bool {
  let t = rootU32(R_FAULT);
  if (t == 0) return false;
  let x = rootU32(R_RNG);
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  rootSetU32(R_RNG, x);
  if (x >= t) return false;
  rootSetU32(R_FAULTS, rootU32(R_FAULTS) + 1);
  return true;
}

/** Sets fault injection: allocations fail when a random u32 is below `threshold` (0: off). */
export function faultsSet(threshold: u32, seed: u32): void {
  rootSetU32(R_FAULT, threshold);
  rootSetU32(R_RNG, seed != 0 ? seed : 0x9E3779B9);
}

/** Allocations failed by injection so far. */
export function faultsInjected(): u32 {
  return rootU32(R_FAULTS);
}

/** Allocates one object; 0 when the pool limit or the memory budget is reached. */
// @ts-ignore: decorator
@inline export function poolAlloc(pool: usize): usize {
  if (faultHit()) return fail(pool);
  let slab = <usize>pU32(pool, P_CURRENT);
  if (slab != 0) {
    let top = sU32(slab, SL_FREE_TOP);
    if (top != 0 && pU32(pool, P_OUTSTANDING) < pU32(pool, P_MAX_OUT)) return popFrom(pool, slab, top);
  }
  return poolAllocSlow(pool, 0);
}

/**
 * Slow path: the current slab is empty (or absent), or the limit is reached. Takes a partial
 * slab, then the spare, then a new slab. `size` is used by large-object pools (objSize 0).
 */
// @ts-ignore: decorator
@inline function fail(pool: usize): usize {
  pInc64(pool, P_FAILURES);
  return 0;
}

export function poolAllocSlow(pool: usize, size: u32): usize {
  if (size != 0 && faultHit()) return fail(pool); // a direct large allocation (poolAlloc rolled already)
  if (pU32(pool, P_OUTSTANDING) >= pU32(pool, P_MAX_OUT)) return fail(pool);
  let flags = pU32(pool, P_FLAGS);
  if (flags & PF_LARGE) {
    let objSize = pU32(pool, P_OBJ_SIZE);
    if (objSize == 0) {
      // Round in 64 bits: sizes near 4 GiB must fail, not wrap to a tiny slot.
      let want = (<u64>size + ALIGN_MASK) & ~(<u64>ALIGN_MASK);
      if (want > 0xFFF00000) return fail(pool);
      objSize = max<u32>(MIN_OBJECT_SIZE, <u32>want);
    }
    let meta = metaBytes(1, pU32(pool, P_AUX_WORDS));
    let bytes = <u64>meta + objSize;
    let units = <u32>((bytes + UNIT_MASK) >> UNIT_SHIFT);
    let slab = slabNew(pool, objSize, 1, units, meta);
    if (slab == 0 && cachesShrink() != 0) slab = slabNew(pool, objSize, 1, units, meta); // see below
    if (slab == 0) return fail(pool);
    return popFrom(pool, slab, 1); // full at once; on no list
  }
  let cur = <usize>pU32(pool, P_CURRENT);
  if (cur != 0 && sU32(cur, SL_FREE_TOP) != 0) return popFrom(pool, cur, sU32(cur, SL_FREE_TOP));
  let slab = <usize>pU32(pool, P_PARTIAL);
  if (slab != 0) {
    listUnlink(pool, slab);
  } else if ((slab = <usize>pU32(pool, P_SPARE)) != 0) {
    pSet(pool, P_SPARE, 0);
  } else {
    slab = slabNew(pool, pU32(pool, P_OBJ_SIZE), pU32(pool, P_CAP), pU32(pool, P_SLAB_UNITS), pU32(pool, P_OBJ_OFFSET));
    // Out of memory: objects cached by single-threaded SlabPools go back to their slabs (which
    // may free units, or give this pool free objects), then the allocation starts over.
    if (slab == 0) return cachesShrink() != 0 ? poolAllocSlow(pool, 0) : fail(pool);
  }
  // The old current slab is full (it is on no list); a freed object will list it again.
  pSet(pool, P_CURRENT, <u32>slab);
  return popFrom(pool, slab, sU32(slab, SL_FREE_TOP));
}

/**
 * Allocates `n` objects into the u32 array at `out`. Returns how many were allocated (fewer
 * only at the pool limit or the memory budget). Pops whole runs from the current slab and
 * updates the counters once per run, not once per object.
 */
export function poolAllocMany(pool: usize, out: usize, n: u32): u32 {
  let i: u32 = 0;
  if (rootU32(R_FAULT) != 0) {
    // With fault injection each object gets its own roll.
    for (; i < n; i++) {
      let p = poolAlloc(pool);
      if (p == 0) return i;
      store<u32>(out + (<usize>i << 2), <u32>p);
    }
    return n;
  }
  while (i < n) {
    let slab = <usize>pU32(pool, P_CURRENT);
    let top = slab != 0 ? sU32(slab, SL_FREE_TOP) : 0;
    let outstanding = pU32(pool, P_OUTSTANDING);
    let room = pU32(pool, P_MAX_OUT) - outstanding; // outstanding <= max always
    let k = min<u32>(min<u32>(n - i, top), room);
    if (k == 0) {
      // Current slab empty (or the limit reached): the slow path refills or fails.
      let p = poolAllocSlow(pool, 0);
      if (p == 0) return i;
      store<u32>(out + (<usize>i << 2), <u32>p);
      i++;
      continue;
    }
    popRun(pool, slab, top, k, out + (<usize>i << 2));
    i += k;
  }
  return n;
}

/**
 * Pops `k` (<= top) objects off `slab` of `pool`, whose free top is `top`, into the u32 array at
 * `dst`, and counts them as allocations.
 */
// @ts-ignore: decorator
@inline function popRun(pool: usize, slab: usize, top: u32, k: u32, dst: usize): void {
  let stack = stackBase(slab, sU32(slab, SL_CAP));
  let start = <usize>sU32(slab, SL_OBJ_START);
  let size = sU32(slab, SL_OBJ_SIZE);
  for (let j: u32 = 0; j < k; j++) {
    top--;
    let idx = <u32>load<u16>(stack + (<usize>top << 1));
    store<u8>(slab + SL_STATE + idx, ST_ALLOCATED);
    store<u32>(dst + (<usize>j << 2), <u32>(start + <usize>idx * size));
  }
  sSet(slab, SL_FREE_TOP, top);
  let outstanding = pU32(pool, P_OUTSTANDING) + k;
  pSet(pool, P_OUTSTANDING, outstanding);
  if (outstanding > pU32(pool, P_PEAK)) raisePeak(pool, outstanding);
  store<u64>(pool + P_ALLOCS, load<u64>(pool + P_ALLOCS) + k);
  store<u64>(pool + P_BYTES, load<u64>(pool + P_BYTES) + <u64>k * size);
}

/**
 * Worker caches (wcache.ts): pops up to `n` objects from `slab` of `pool` (the current slab, a
 * partial one or the spare) into `out`, counted as allocations like poolAllocMany. A slab left
 * without free objects leaves the partial list unless it is the current slab. Not for PF_LARGE
 * pools.
 */
export function poolTakeFrom(pool: usize, slab: usize, out: usize, n: u32): u32 {
  let top = sU32(slab, SL_FREE_TOP);
  let k = min<u32>(n, top);
  if (k == 0) return 0;
  // The spare must stay empty (a spare that empties is released, not spared again): a spare a
  // cache draws from becomes a partial slab first.
  if (<usize>pU32(pool, P_SPARE) == slab) {
    pSet(pool, P_SPARE, 0);
    listPush(pool, slab);
  }
  popRun(pool, slab, top, k, out);
  if (top == k && slab != <usize>pU32(pool, P_CURRENT) && sU32(slab, SL_LISTED)) listUnlink(pool, slab);
  return k;
}

/**
 * Worker caches: a slab of `pool` with free objects for cache `cache` to draw from, claimed by
 * it (SL_CLAIM), other than the current slab (the shared path's): an unclaimed slab of the
 * partial list (the first 16 looked at), else the spare, else a new slab listed as partial,
 * else any partial slab. 0 when the pool has no free object and memory is exhausted. Not for
 * PF_LARGE pools.
 */
export function poolCacheSlab(pool: usize, cache: usize): usize {
  let s = <usize>pU32(pool, P_PARTIAL);
  for (let n = 0; s != 0 && n < 16; n++) {
    if (sU32(s, SL_CLAIM) == 0) { sSet(s, SL_CLAIM, <u32>cache); return s; }
    s = <usize>sU32(s, SL_NEXT);
  }
  s = <usize>pU32(pool, P_SPARE);
  if (s != 0) {
    pSet(pool, P_SPARE, 0);
    listPush(pool, s);
  } else {
    s = slabNew(pool, pU32(pool, P_OBJ_SIZE), pU32(pool, P_CAP), pU32(pool, P_SLAB_UNITS), pU32(pool, P_OBJ_OFFSET));
    if (s != 0) listPush(pool, s);
    else return <usize>pU32(pool, P_PARTIAL); // shared with another cache (or 0)
  }
  sSet(s, SL_CLAIM, <u32>cache);
  return s;
}

/** Drops cache `cache`'s claim on `slab` if the slab is still a claimed slab of `pool`. */
export function poolUnclaim(pool: usize, slab: usize, cache: usize): void {
  if (slab != 0 && slabOf(slab) == slab && <usize>sU32(slab, SL_POOL) == pool && <usize>sU32(slab, SL_CLAIM) == cache) {
    sSet(slab, SL_CLAIM, 0);
  }
}

// ---------------------------------------------------------------------------------------------
// Validation and free
// ---------------------------------------------------------------------------------------------

/**
 * Checks that `ptr` is the start of an allocated object in a pool of `kind` (0: any kind).
 * Returns E_OK and sets gSlab/gIdx, or an error code (and gErrPtr). O(1).
 */
// @ts-ignore: decorator
@inline export function lookup(ptr: usize, kind: u32): u32 {
  let slab = slabOf(ptr);
  if (slab == 0) { gErrPtr = ptr; return E_NOT_OURS; }
  let pool = <usize>sU32(slab, SL_POOL);
  if (kind != 0 && pU32(pool, P_KIND) != kind) { gErrPtr = ptr; gErrDetail = pU32(pool, P_KIND); return E_WRONG_KIND; }
  let size = sU32(slab, SL_OBJ_SIZE);
  let off = <u32>(ptr - <usize>sU32(slab, SL_OBJ_START));
  if (<u64>off >= <u64>sU32(slab, SL_CAP) * size) { gErrPtr = ptr; return E_MISALIGNED; }
  let idx = <u32>((<u64>off * load<u64>(slab + SL_MAGIC)) >> MAGIC_SHIFT);
  if (idx * size != off) { gErrPtr = ptr; gErrDetail = idx; return E_MISALIGNED; }
  if (load<u8>(slab + SL_STATE + idx) != ST_ALLOCATED) { gErrPtr = ptr; return E_NOT_ALLOCATED; }
  gSlab = slab;
  gIdx = idx;
  return E_OK;
}

/** Pool owning the slab found by the last successful lookup. */
// @ts-ignore: decorator
@inline export function lookedUpPool(): usize { return <usize>sU32(gSlab, SL_POOL); }

/** Address of side word `w` of the object found by the last lookup. */
// @ts-ignore: decorator
@inline export function lookedUpAux(w: u32): usize {
  return <usize>sU32(gSlab, SL_AUX_START) + ((<usize>gIdx * sU32(gSlab, SL_AUX_WORDS) + w) << 2);
}

/** Slot size of the object found by the last lookup. */
// @ts-ignore: decorator
@inline export function lookedUpSize(): u32 { return sU32(gSlab, SL_OBJ_SIZE); }

/**
 * Finds the live object containing `addr` (any offset inside it). Returns the object start or
 * 0, and sets gSlab/gIdx. Used to check that a buffer lies inside one allocation.
 */
export function containing(addr: usize): usize {
  let slab = slabOf(addr);
  if (slab == 0) return 0;
  let size = sU32(slab, SL_OBJ_SIZE);
  let start = <usize>sU32(slab, SL_OBJ_START);
  if (addr < start) return 0;
  let off = <u32>(addr - start);
  if (<u64>off >= <u64>sU32(slab, SL_CAP) * size) return 0;
  let idx = <u32>((<u64>off * load<u64>(slab + SL_MAGIC)) >> MAGIC_SHIFT);
  // The reciprocal can round up by one just below an object boundary when the offset is large
  // (one-object slabs of huge objects); step back so idx is floor(off / size).
  if (<u64>idx * size > <u64>off) idx--;
  if (load<u8>(slab + SL_STATE + idx) != ST_ALLOCATED) return 0;
  gSlab = slab;
  gIdx = idx;
  return start + <usize>idx * size;
}

/** Frees the object found by the last lookup (slab gSlab, index gIdx). */
export function freeLookedUp(): void {
  freeAt(gSlab, gIdx);
}

/**
 * Frees the `n` objects listed at `ptrs`, allocated objects of `pool` checked by the caller (in
 * any state byte: it is rewritten). Ordinary pools push them run by run and count once; a
 * quarantining or large-object pool frees them one by one.
 */
export function poolReleaseChecked(pool: usize, ptrs: usize, n: u32): void {
  if (pU32(pool, P_FLAGS) & (PF_QUAR | PF_LARGE)) {
    for (let j: u32 = 0; j < n; j++) {
      let p = <usize>load<u32>(ptrs + (<usize>j << 2));
      let slab = slabOf(p);
      freeAt(slab, indexIn(slab, p));
    }
    return;
  }
  pushMany(pool, ptrs, n);
  pSet(pool, P_OUTSTANDING, pU32(pool, P_OUTSTANDING) - n);
  store<u64>(pool + P_FREES, load<u64>(pool + P_FREES) + n);
  store<u64>(pool + P_BYTES, load<u64>(pool + P_BYTES) - <u64>n * pU32(pool, P_OBJ_SIZE));
}

// @ts-ignore: decorator
@inline function freeAt(slab: usize, idx: u32): void {
  let pool = <usize>sU32(slab, SL_POOL);
  pSet(pool, P_OUTSTANDING, pU32(pool, P_OUTSTANDING) - 1);
  pInc64(pool, P_FREES);
  store<u64>(pool + P_BYTES, load<u64>(pool + P_BYTES) - sU32(slab, SL_OBJ_SIZE));
  if (pU32(pool, P_FLAGS) & PF_QUAR) quarantine(slab, idx);
  else pushFree(pool, slab, idx);
}

// ---------------------------------------------------------------------------------------------
// Quarantine (verifier mode, VERIFY pools): a freed object is poisoned and parked in a FIFO ring
// shared by the runtime; it becomes reusable only when `capacity` later frees pushed it out.
// Until then lookups see it as not allocated, so a use after free is caught even though a plain
// pool would have handed the slot out again. Ring block (heapReserve, never freed):
//   0 capacity (power of two)   4 pushes (free-running)   8 pops (free-running)
//   12 objects parked (entries emptied by a pool's release no longer count)   16 entries[]
// ---------------------------------------------------------------------------------------------
// @ts-ignore: decorator
@inline const Q_CAP: u32 = 0;
// @ts-ignore: decorator
@inline const Q_PUSH: u32 = 4;
// @ts-ignore: decorator
@inline const Q_POP: u32 = 8;
// @ts-ignore: decorator
@inline const Q_LIVE: u32 = 12;
// @ts-ignore: decorator
@inline const Q_ENTRIES: u32 = 16;
/** Default quarantine length (frees an object waits before reuse). */
// @ts-ignore: decorator
@inline export const QUARANTINE_DEFAULT: u32 = 1024;

/**
 * Turns verifier quarantine on: every pool created from now on quarantines its frees, and so do
 * the root pools (re-flagged here). `capacity` (a power of two) is the quarantine length; the
 * ring is made once per runtime (a later call keeps the first ring). Returns false when the
 * memory budget cannot hold the ring.
 */
export function quarantineEnable(capacity: u32, all: bool): bool {
  if (capacity == 0 || (capacity & (capacity - 1)) != 0) return false;
  if (rootU32(R_QUAR) == 0) {
    let q = heapReserve(Q_ENTRIES + (capacity << 2));
    if (q == 0) return false;
    memory.fill(q, 0, Q_ENTRIES);
    store<u32>(q + Q_CAP, capacity);
    rootSetU32(R_QUAR, <u32>q);
  }
  if (all) {
    rootSetU32(R_QALL, 1);
    for (let i: u32 = 0; i < ROOT_COUNT; i++) {
      let r = root(i);
      if (pU32(r, P_KIND) != 0) pSet(r, P_FLAGS, pU32(r, P_FLAGS) | PF_QUAR);
    }
  }
  return true;
}

/** Marks `pool` as quarantining (a VERIFY pool in normal mode). False: no ring (no memory). */
export function quarantinePool(pool: usize): bool {
  if (rootU32(R_QUAR) == 0 && !quarantineEnable(QUARANTINE_DEFAULT, false)) return false;
  pSet(pool, P_FLAGS, pU32(pool, P_FLAGS) | PF_QUAR);
  return true;
}

/** Objects in quarantine now. */
export function quarantineCount(): u32 {
  let q = <usize>rootU32(R_QUAR);
  return q == 0 ? 0 : load<u32>(q + Q_LIVE);
}

/** Poisons object `idx` of `slab` and parks it; the oldest parked object goes back to its slab when the ring is full. */
function quarantine(slab: usize, idx: u32): void {
  let q = <usize>rootU32(R_QUAR);
  let size = sU32(slab, SL_OBJ_SIZE);
  let addr = <usize>sU32(slab, SL_OBJ_START) + <usize>idx * size;
  if (q == 0) { pushFree(<usize>sU32(slab, SL_POOL), slab, idx); return; }
  store<u8>(slab + SL_STATE + idx, ST_QUARANTINED);
  memory.fill(addr, POISON, size);
  let cap = load<u32>(q + Q_CAP);
  let push = load<u32>(q + Q_PUSH);
  if (push - load<u32>(q + Q_POP) == cap) releaseOldest(q);
  store<u32>(q + Q_ENTRIES + ((push & (cap - 1)) << 2), <u32>addr);
  store<u32>(q + Q_PUSH, push + 1);
  store<u32>(q + Q_LIVE, load<u32>(q + Q_LIVE) + 1);
}

/** Returns the oldest quarantined object to its slab's free stack. */
function releaseOldest(q: usize): void {
  let cap = load<u32>(q + Q_CAP);
  let pop = load<u32>(q + Q_POP);
  let addr = <usize>load<u32>(q + Q_ENTRIES + ((pop & (cap - 1)) << 2));
  store<u32>(q + Q_POP, pop + 1);
  if (addr == 0) return; // purged (its pool was freed)
  store<u32>(q + Q_LIVE, load<u32>(q + Q_LIVE) - 1);
  let slab = slabOf(addr);
  let off = <u32>(addr - <usize>sU32(slab, SL_OBJ_START));
  let idx = <u32>((<u64>off * load<u64>(slab + SL_MAGIC)) >> MAGIC_SHIFT);
  pushFree(<usize>sU32(slab, SL_POOL), slab, idx);
}

/**
 * Takes `pool`'s objects out of quarantine (back onto their slabs' free stacks): before the pool
 * releases its slabs, so that no ring entry points into memory the pool gave back.
 */
function quarantinePurge(pool: usize): void {
  let q = <usize>rootU32(R_QUAR);
  if (q == 0) return;
  let cap = load<u32>(q + Q_CAP);
  let push = load<u32>(q + Q_PUSH);
  for (let i = load<u32>(q + Q_POP); i != push; i++) {
    let e = q + Q_ENTRIES + ((i & (cap - 1)) << 2);
    let addr = <usize>load<u32>(e);
    if (addr == 0) continue;
    let slab = slabOf(addr);
    if (<usize>sU32(slab, SL_POOL) != pool) continue;
    store<u32>(e, 0); // the slot stays in the ring, empty
    store<u32>(q + Q_LIVE, load<u32>(q + Q_LIVE) - 1);
    let off = <u32>(addr - <usize>sU32(slab, SL_OBJ_START));
    let idx = <u32>((<u64>off * load<u64>(slab + SL_MAGIC)) >> MAGIC_SHIFT);
    pushFree(pool, slab, idx);
  }
}

/** Empties the quarantine (runtime reset: every slab is gone). */
export function quarantineReset(): void {
  let q = <usize>rootU32(R_QUAR);
  if (q != 0) {
    store<u32>(q + Q_PUSH, 0);
    store<u32>(q + Q_POP, 0);
    store<u32>(q + Q_LIVE, 0);
  }
}

/** Returns object `idx` to its slab's free stack (counters are the caller's). */
// @ts-ignore: decorator
@inline function pushFree(pool: usize, slab: usize, idx: u32): void {
  store<u8>(slab + SL_STATE + idx, ST_FREE);
  let cap = sU32(slab, SL_CAP);
  let top = sU32(slab, SL_FREE_TOP);
  store<u16>(stackBase(slab, cap) + (<usize>top << 1), <u16>idx);
  sSet(slab, SL_FREE_TOP, top + 1);
  if (top + 1 == cap || top == 0) slabStateChanged(pool, slab, top + 1, cap);
}

/** Slow path of free: a slab became non-full (list it) or empty (spare or release it). */
function slabStateChanged(pool: usize, slab: usize, free: u32, cap: u32): void {
  let current = <usize>pU32(pool, P_CURRENT);
  if (free == cap) {
    if (slab == current) return; // the current slab stays, empty or not
    if (pU32(pool, P_FLAGS) & PF_KEEP) {
      // Preallocated pools (NDIS 5 packet pools) keep their slabs: list it, never release it.
      if (!sU32(slab, SL_LISTED)) listPush(pool, slab);
      return;
    }
    if (sU32(slab, SL_LISTED)) listUnlink(pool, slab);
    if (!(pU32(pool, P_FLAGS) & PF_LARGE) && pU32(pool, P_SPARE) == 0) {
      pSet(pool, P_SPARE, <u32>slab); // hysteresis: keep one empty slab
    } else {
      slabRelease(pool, slab);
    }
    return;
  }
  // free == 1: the slab was full; list it unless it is the current one.
  if (slab != current) listPush(pool, slab);
}

/** Frees `ptr`, which must be an allocated object of `pool`. Returns E_OK or an error code. */
export function poolFree(pool: usize, ptr: usize): u32 {
  let slab = slabOf(ptr);
  if (slab == 0) { gErrPtr = ptr; return E_NOT_OURS; }
  if (<usize>sU32(slab, SL_POOL) != pool) return wrongPool(pool, slab, ptr);
  // The checks of lookup(), with the slab and pool already known.
  let size = sU32(slab, SL_OBJ_SIZE);
  let off = <u32>(ptr - <usize>sU32(slab, SL_OBJ_START));
  if (<u64>off >= <u64>sU32(slab, SL_CAP) * size) { gErrPtr = ptr; return E_MISALIGNED; }
  let idx = <u32>((<u64>off * load<u64>(slab + SL_MAGIC)) >> MAGIC_SHIFT);
  if (idx * size != off) { gErrPtr = ptr; gErrDetail = idx; return E_MISALIGNED; }
  if (load<u8>(slab + SL_STATE + idx) != ST_ALLOCATED) { gErrPtr = ptr; return E_NOT_ALLOCATED; }
  pSet(pool, P_OUTSTANDING, pU32(pool, P_OUTSTANDING) - 1);
  pInc64(pool, P_FREES);
  store<u64>(pool + P_BYTES, load<u64>(pool + P_BYTES) - size);
  if (pU32(pool, P_FLAGS) & PF_QUAR) quarantine(slab, idx);
  else pushFree(pool, slab, idx);
  return E_OK;
}

/** The error for `ptr`, an object of `slab`, which belongs to another pool than `pool`. */
function wrongPool(pool: usize, slab: usize, ptr: usize): u32 {
  let other = <usize>sU32(slab, SL_POOL);
  gErrPtr = ptr;
  gErrDetail = <u32>other;
  return pU32(other, P_KIND) == pU32(pool, P_KIND) ? E_WRONG_POOL : E_WRONG_KIND;
}

/**
 * Frees `n` objects listed at `ptrs` (u32 each), all of `pool`. All or nothing: on a bad entry
 * (a duplicate in the list included) nothing is freed, the index of the bad entry is left in
 * gErrDetail and the error code returned.
 */
export function poolFreeMany(pool: usize, ptrs: usize, n: u32): u32 {
  let flags = pU32(pool, P_FLAGS);
  let e = flags & (PF_QUAR | PF_LARGE) ? freeManyTwoPass(pool, ptrs, n, flags) : freeManyOnePass(pool, ptrs, n);
  if (e != E_OK) return e;
  // Counters once per call (every entry was checked to belong to `pool`).
  pSet(pool, P_OUTSTANDING, pU32(pool, P_OUTSTANDING) - n);
  store<u64>(pool + P_FREES, load<u64>(pool + P_FREES) + n);
  return E_OK;
}

/** No slab yet (slab addresses are multiples of the 64 KiB unit). */
// @ts-ignore: decorator
@inline const NO_SLAB: usize = 1;

/**
 * freeMany of an ordinary pool in one pass: each entry is checked and pushed at once, keeping
 * the fields of the slab in hand (start, size, reciprocal, stack top) in locals while a run of
 * entries stays in it. Slab list changes wait for the end (settleMany), so that an error can
 * pop the pushed entries back off their stacks in reverse order: nothing else moved.
 */
function freeManyOnePass(pool: usize, ptrs: usize, n: u32): u32 {
  let i: u32 = 0;
  let err: u32 = E_OK;
  let cur: usize = NO_SLAB; // not 0: an address outside every slab has slab 0
  let start: usize = 0;
  let size: u32 = 0;
  let span: u64 = 0;
  let magic: u64 = 0;
  let stack: usize = 0;
  let top: u32 = 0;
  for (; i < n; i++) {
    let p = <usize>load<u32>(ptrs + (<usize>i << 2));
    let off = <u32>(p - start);
    // Inside the objects of the slab in hand: that slab (no table lookup). Else look it up.
    if (<u64>off >= span) {
      let slab = slabOf(p);
      if (slab == 0) { err = E_NOT_OURS; break; }
      if (slab == cur) { err = E_MISALIGNED; break; } // in its header
      if (<usize>sU32(slab, SL_POOL) != pool) { err = wrongPool(pool, slab, p); break; }
      if (cur != NO_SLAB) sSet(cur, SL_FREE_TOP, top);
      cur = slab;
      start = <usize>sU32(slab, SL_OBJ_START);
      size = sU32(slab, SL_OBJ_SIZE);
      let cap = sU32(slab, SL_CAP);
      span = <u64>cap * size;
      magic = load<u64>(slab + SL_MAGIC);
      stack = stackBase(slab, cap);
      top = sU32(slab, SL_FREE_TOP);
      off = <u32>(p - start);
      if (<u64>off >= span) { err = E_MISALIGNED; break; }
    }
    let idx = <u32>((<u64>off * magic) >> MAGIC_SHIFT);
    if (idx * size != off) { err = E_MISALIGNED; break; }
    let st = cur + SL_STATE + idx;
    if (load<u8>(st) != ST_ALLOCATED) { err = E_NOT_ALLOCATED; break; }
    store<u8>(st, ST_FREE);
    store<u16>(stack + (<usize>top << 1), <u16>idx);
    top++;
  }
  if (cur != NO_SLAB) sSet(cur, SL_FREE_TOP, top);
  if (err == E_OK) {
    settleMany(pool, ptrs, n);
    store<u64>(pool + P_BYTES, load<u64>(pool + P_BYTES) - <u64>n * pU32(pool, P_OBJ_SIZE));
    return E_OK;
  }
  let bad = <usize>load<u32>(ptrs + (<usize>i << 2));
  gErrPtr = bad;
  gErrDetail = i;
  // Undo: pop entries i-1 .. 0 off their stacks (each is on top of its slab's stack then).
  for (let j = i; j > 0; j--) {
    let p = <usize>load<u32>(ptrs + ((<usize>j - 1) << 2));
    if (p == bad && err == E_NOT_ALLOCATED) err = E_DUPLICATE; // the bad entry was freed earlier in this list
    let slab = slabOf(p);
    let t = sU32(slab, SL_FREE_TOP) - 1;
    sSet(slab, SL_FREE_TOP, t);
    store<u8>(slab + SL_STATE + indexIn(slab, p), ST_ALLOCATED);
  }
  return err;
}

/**
 * After freeManyOnePass: puts each slab the entries went to where the free-list invariants want
 * it. A slab that was full is on no list and now has free objects: list it. A slab now empty
 * goes to the spare or is released, as pushFree would. The current slab and the spare stay.
 */
function settleMany(pool: usize, ptrs: usize, n: u32): void {
  let start: usize = 0;
  let span: u64 = 0;
  for (let j: u32 = 0; j < n; j++) {
    let p = <usize>load<u32>(ptrs + (<usize>j << 2));
    if (<u64><u32>(p - start) < span) continue; // the slab just settled
    let slab = slabOf(p);
    if (slab == 0) { span = 0; continue; } // released by an earlier run of this list
    start = <usize>sU32(slab, SL_OBJ_START);
    let cap = sU32(slab, SL_CAP);
    span = <u64>cap * sU32(slab, SL_OBJ_SIZE);
    if (slab == <usize>pU32(pool, P_CURRENT) || slab == <usize>pU32(pool, P_SPARE)) continue;
    if (sU32(slab, SL_FREE_TOP) == cap) slabStateChanged(pool, slab, cap, cap);
    else if (!sU32(slab, SL_LISTED)) listPush(pool, slab);
  }
}

/**
 * freeMany of a quarantining or large-object pool: every entry is checked and marked first,
 * then freed (quarantined, or pushed and its one-object slab released).
 */
function freeManyTwoPass(pool: usize, ptrs: usize, n: u32, flags: u32): u32 {
  let i: u32 = 0;
  let err: u32 = E_OK;
  for (; i < n; i++) {
    let p = <usize>load<u32>(ptrs + (<usize>i << 2));
    let slab = slabOf(p);
    if (slab == 0) { err = E_NOT_OURS; break; }
    if (<usize>sU32(slab, SL_POOL) != pool) { err = wrongPool(pool, slab, p); break; }
    let size = sU32(slab, SL_OBJ_SIZE);
    let off = <u32>(p - <usize>sU32(slab, SL_OBJ_START));
    if (<u64>off >= <u64>sU32(slab, SL_CAP) * size) { err = E_MISALIGNED; break; }
    let idx = <u32>((<u64>off * load<u64>(slab + SL_MAGIC)) >> MAGIC_SHIFT);
    if (idx * size != off) { err = E_MISALIGNED; break; }
    let st = slab + SL_STATE + idx;
    let v = load<u8>(st);
    if (v != ST_ALLOCATED) { err = v == ST_FREEING ? E_DUPLICATE : E_NOT_ALLOCATED; break; }
    store<u8>(st, ST_FREEING);
  }
  if (err != E_OK) {
    gErrPtr = <usize>load<u32>(ptrs + (<usize>i << 2));
    gErrDetail = i;
    // Undo the marks: state is exactly as before the call.
    for (let j: u32 = 0; j < i; j++) setState(<usize>load<u32>(ptrs + (<usize>j << 2)), ST_ALLOCATED);
    return err;
  }
  // Slot bytes before pushing: a large-object pool releases a slab when its object is freed.
  store<u64>(pool + P_BYTES, load<u64>(pool + P_BYTES) - bytesOf(ptrs, n));
  if (flags & PF_QUAR) {
    for (let j: u32 = 0; j < n; j++) {
      let p = <usize>load<u32>(ptrs + (<usize>j << 2));
      let slab = slabOf(p);
      quarantine(slab, indexIn(slab, p));
    }
  } else {
    pushMany(pool, ptrs, n);
  }
  return E_OK;
}

/** Slot bytes of the `n` objects at `ptrs` (large-object pools: one slab each, sizes differ). */
function bytesOf(ptrs: usize, n: u32): u64 {
  let b: u64 = 0;
  for (let j: u32 = 0; j < n; j++) b += sU32(slabOf(<usize>load<u32>(ptrs + (<usize>j << 2))), SL_OBJ_SIZE);
  return b;
}

/** Index of the object at `p` (a valid object start) in `slab`. */
// @ts-ignore: decorator
@inline export function indexIn(slab: usize, p: usize): u32 {
  let off = <u32>(p - <usize>sU32(slab, SL_OBJ_START));
  return <u32>((<u64>off * load<u64>(slab + SL_MAGIC)) >> MAGIC_SHIFT);
}

/** Sets the state byte of the object at `p` (a valid object start). */
// @ts-ignore: decorator
@inline export function setState(p: usize, st: u8): void {
  store<u8>(stateAddr(p), st);
}

/** Address of the state byte of the object at `p` (a valid object start). */
// @ts-ignore: decorator
@inline export function stateAddr(p: usize): usize {
  let slab = slabOf(p);
  return slab + SL_STATE + indexIn(slab, p);
}

/**
 * Pushes the `n` objects at `ptrs` (valid objects of `pool`, counted by the caller) on their
 * slabs' free stacks. A run of one slab keeps the stack top in a local and settles the slab's
 * list state once at the end of the run: the transitions pushFree would make one at a time
 * (full to non-full, then non-full to empty) happen in the same order.
 */
function pushMany(pool: usize, ptrs: usize, n: u32): void {
  let cur: usize = 0;
  let start: usize = 0;
  let span: u64 = 0;
  let magic: u64 = 0;
  let stack: usize = 0;
  let top0: u32 = 0;
  let top: u32 = 0;
  for (let j: u32 = 0; j < n; j++) {
    let p = <usize>load<u32>(ptrs + (<usize>j << 2));
    let off = <u32>(p - start);
    if (<u64>off >= span) { // another slab than the one in hand
      let slab = slabOf(p);
      if (cur != 0) endRun(pool, cur, top0, top);
      cur = slab;
      start = <usize>sU32(slab, SL_OBJ_START);
      let cap = sU32(slab, SL_CAP);
      span = <u64>cap * sU32(slab, SL_OBJ_SIZE);
      magic = load<u64>(slab + SL_MAGIC);
      stack = stackBase(slab, cap);
      top0 = top = sU32(slab, SL_FREE_TOP);
      off = <u32>(p - start);
    }
    let idx = <u32>((<u64>off * magic) >> MAGIC_SHIFT);
    store<u8>(cur + SL_STATE + idx, ST_FREE);
    store<u16>(stack + (<usize>top << 1), <u16>idx);
    top++;
  }
  if (cur != 0) endRun(pool, cur, top0, top);
}

/** End of a run of pushes on `slab`: its free top went from `top0` to `top`. */
// @ts-ignore: decorator
@inline function endRun(pool: usize, slab: usize, top0: u32, top: u32): void {
  sSet(slab, SL_FREE_TOP, top);
  let cap = sU32(slab, SL_CAP);
  // Full to empty in one run ends where the two steps would: listed is undone by the second.
  if (top == cap) slabStateChanged(pool, slab, cap, cap);
  else if (top0 == 0) slabStateChanged(pool, slab, top, cap);
}

/**
 * Unchecked free (SlabPool `checked: false`, DESIGN D6): `ptr` is trusted to be a live object
 * of `pool`. Only an address outside every slab is refused (E_NOT_OURS): the rest is not
 * checked, so a double or foreign free corrupts the pool (inside linear memory only).
 */
export function poolFreeUnchecked(pool: usize, ptr: usize): u32 {
  let slab = slabOf(ptr);
  if (slab == 0) { gErrPtr = ptr; return E_NOT_OURS; }
  let idx = indexIn(slab, ptr);
  pSet(pool, P_OUTSTANDING, pU32(pool, P_OUTSTANDING) - 1);
  pInc64(pool, P_FREES);
  store<u64>(pool + P_BYTES, load<u64>(pool + P_BYTES) - sU32(slab, SL_OBJ_SIZE));
  pushFree(pool, slab, idx);
  return E_OK;
}

/**
 * Unchecked freeMany (`checked: false`): the `n` objects at `ptrs` are trusted to be distinct
 * live objects of `pool`. One pass; an address outside every slab stops it before anything is
 * freed (E_NOT_OURS, its index in gErrDetail).
 */
export function poolFreeManyUnchecked(pool: usize, ptrs: usize, n: u32): u32 {
  let base: usize = 0;
  let units: usize = 0;
  for (let i: u32 = 0; i < n; i++) {
    let p = <usize>load<u32>(ptrs + (<usize>i << 2));
    if (p - base < units) continue; // inside the slab of the entry before
    let slab = slabOf(p);
    if (slab == 0) { gErrPtr = p; gErrDetail = i; return E_NOT_OURS; }
    base = slab;
    units = <usize>sU32(slab, SL_UNITS) << UNIT_SHIFT;
  }
  let bytes = pU32(pool, P_FLAGS) & PF_LARGE ? bytesOf(ptrs, n) : <u64>n * pU32(pool, P_OBJ_SIZE);
  pushMany(pool, ptrs, n);
  pSet(pool, P_OUTSTANDING, pU32(pool, P_OUTSTANDING) - n);
  store<u64>(pool + P_FREES, load<u64>(pool + P_FREES) + n);
  store<u64>(pool + P_BYTES, load<u64>(pool + P_BYTES) - bytes);
  return E_OK;
}

// ---------------------------------------------------------------------------------------------
// Root pools: static descriptors in the root block; their objects are descriptors and records
// ---------------------------------------------------------------------------------------------

/** Root pool `i`'s descriptor. */
// @ts-ignore: decorator
@inline export function root(i: u32): usize {
  return ROOT + R_ROOTS + <usize>i * POOL_DESC_SIZE;
}

/** Walks the table and writes up to `max` live objects of root pool `rootPool` to `out`. */
export function liveObjects(rootPool: usize, out: usize, max: u32): u32 {
  let top = unitsTop();
  let n: u32 = 0;
  for (let u: u32 = 0; u < top; ) {
    let slab = <usize>load<u32>(TABLE + (<usize>u << 2));
    if (slab != 0 && (slab >>> UNIT_SHIFT) == <usize>u) {
      if (<usize>sU32(slab, SL_POOL) == rootPool) {
        let cap = sU32(slab, SL_CAP);
        let size = sU32(slab, SL_OBJ_SIZE);
        let start = <usize>sU32(slab, SL_OBJ_START);
        for (let i: u32 = 0; i < cap; i++) {
          if (load<u8>(slab + SL_STATE + i) == ST_ALLOCATED) {
            if (n < max) store<u32>(out + (<usize>n << 2), <u32>(start + <usize>i * size));
            n++;
          }
        }
      }
      u += sU32(slab, SL_UNITS);
    } else {
      u++;
    }
  }
  return n;
}


/**
 * The first live object of root pool `rootPool` after `after` (0: from the start), in address
 * order, or 0 at the end. Needs no scratch memory, so statistics work even when the memory
 * budget is spent. Not for the data path.
 */
export function liveNext(rootPool: usize, after: usize): usize {
  let top = unitsTop();
  let u: u32 = 0;
  let startIdx: u32 = 0;
  if (after != 0) {
    let s = slabOf(after);
    if (s == 0) return 0;
    u = <u32>(s >>> UNIT_SHIFT);
    let off = <u32>(after - <usize>sU32(s, SL_OBJ_START));
    startIdx = <u32>((<u64>off * load<u64>(s + SL_MAGIC)) >> MAGIC_SHIFT) + 1;
  }
  while (u < top) {
    let slab = <usize>load<u32>(TABLE + (<usize>u << 2));
    if (slab != 0 && (slab >>> UNIT_SHIFT) == <usize>u) {
      if (<usize>sU32(slab, SL_POOL) == rootPool) {
        let cap = sU32(slab, SL_CAP);
        for (let i = startIdx; i < cap; i++) {
          if (load<u8>(slab + SL_STATE + i) == ST_ALLOCATED) {
            return <usize>sU32(slab, SL_OBJ_START) + <usize>i * sU32(slab, SL_OBJ_SIZE);
          }
        }
      }
      u += sU32(slab, SL_UNITS);
    } else {
      u++;
    }
    startIdx = 0;
  }
  return 0;
}

/**
 * Makes sure the pool's slabs hold room for at least `n` objects (creating slabs up front and
 * listing them as partial). With PF_KEEP they are never released, so the room stays reserved.
 * Returns false (nothing kept) when memory runs out.
 */
export function poolReserve(pool: usize, n: u32): bool {
  let cap = pU32(pool, P_CAP);
  if (cap == 0) return n == 0;
  let have = <u64>pU32(pool, P_SLAB_COUNT) * cap;
  let added: u32 = 0;
  while (have < <u64>n) {
    let slab = slabNew(pool, pU32(pool, P_OBJ_SIZE), cap, pU32(pool, P_SLAB_UNITS), pU32(pool, P_OBJ_OFFSET));
    if (slab == 0) {
      // Give back what this call took.
      while (added > 0) {
        let s = <usize>pU32(pool, P_PARTIAL);
        listUnlink(pool, s);
        slabRelease(pool, s);
        added--;
      }
      return false;
    }
    listPush(pool, slab);
    added++;
    have += cap;
  }
  return true;
}
