// Shared helpers for the as-pect specs (not a spec itself: imported by the *.spec.ts files).
import {
  P_OUTSTANDING, P_ALLOCS, P_FREES, P_FAILURES, P_PEAK, P_BYTES, P_SLAB_COUNT, P_OBJ_SIZE,
  P_CURRENT, P_SPARE, P_PARTIAL, P_FLAGS, PF_LARGE,
  SL_POOL, SL_FREE_TOP, SL_CAP, SL_UNITS, SL_STATE, SL_LISTED, SL_NEXT, ST_ALLOCATED,
  UNIT_SHIFT,
} from "../layout";
import { TABLE, unitsTop } from "../pages";
import { poolFree, lookup } from "../slab";

/** A u32 array of `n` entries at `base` (heapReserve'd scratch). */
// @ts-ignore: decorator
@inline export function at(base: usize, i: u32): u32 { return load<u32>(base + (<usize>i << 2)); }
// @ts-ignore: decorator
@inline export function put(base: usize, i: u32, v: u32): void { store<u32>(base + (<usize>i << 2), v); }

export function u64of(pool: usize, off: u32): u64 { return load<u64>(pool + off); }
export function u32of(pool: usize, off: u32): u32 { return load<u32>(pool + off); }

/** In-place heapsort of `n` u32 values at `base`. */
export function sortU32(base: usize, n: u32): void {
  if (n < 2) return;
  // build max-heap
  for (let start = <i32>(n >> 1) - 1; start >= 0; start--) siftDown(base, <u32>start, n);
  for (let end = n - 1; end > 0; end--) {
    let t = at(base, 0);
    put(base, 0, at(base, end));
    put(base, end, t);
    siftDown(base, 0, end);
  }
}

function siftDown(base: usize, i: u32, n: u32): void {
  while (true) {
    let l: u32 = 2 * i + 1;
    if (l >= n) return;
    let m = l;
    if (l + 1 < n && at(base, l + 1) > at(base, l)) m = l + 1;
    if (at(base, m) <= at(base, i)) return;
    let t = at(base, m);
    put(base, m, at(base, i));
    put(base, i, t);
    i = m;
  }
}

/**
 * Copies the `n` pointers at `src` to `dst`, sorts them and returns the smallest distance
 * between consecutive addresses (0xFFFFFFFF for n < 2). A result >= the slot size means the
 * objects are distinct and do not overlap.
 */
export function minGap(src: usize, dst: usize, n: u32): u32 {
  memory.copy(dst, src, <usize>n << 2);
  sortU32(dst, n);
  let gap: u32 = 0xFFFFFFFF;
  for (let i: u32 = 1; i < n; i++) {
    let d = at(dst, i) - at(dst, i - 1);
    if (d < gap) gap = d;
  }
  return gap;
}

/** Pattern word for object `i` of a run tagged `salt`. */
// @ts-ignore: decorator
@inline export function pattern(salt: u32, i: u32): u32 { return (salt << 24) ^ (i * 0x9E3779B1) ^ 0x5A5A0000; }

/** Fills the `size` bytes at `p` with the pattern word of (salt, i). */
export function fillObj(p: usize, size: u32, salt: u32, i: u32): void {
  let w = pattern(salt, i);
  for (let o: u32 = 0; o + 4 <= size; o += 4) store<u32>(p + o, w);
}

/** True when every word of the `size` bytes at `p` is the pattern word of (salt, i). */
export function checkObj(p: usize, size: u32, salt: u32, i: u32): bool {
  let w = pattern(salt, i);
  for (let o: u32 = 0; o + 4 <= size; o += 4) if (load<u32>(p + o) != w) return false;
  return true;
}

/** Snapshot of a pool's counters, to prove that a rejected call changed nothing. */
export class Counters {
  outstanding: u32;
  peak: u32;
  slabs: u32;
  allocs: u64;
  frees: u64;
  failures: u64;
  bytes: u64;
  constructor(pool: usize) {
    this.outstanding = u32of(pool, P_OUTSTANDING);
    this.peak = u32of(pool, P_PEAK);
    this.slabs = u32of(pool, P_SLAB_COUNT);
    this.allocs = u64of(pool, P_ALLOCS);
    this.frees = u64of(pool, P_FREES);
    this.failures = u64of(pool, P_FAILURES);
    this.bytes = u64of(pool, P_BYTES);
  }
  /** True when `pool`'s counters still equal this snapshot. */
  same(pool: usize): bool {
    return this.outstanding == u32of(pool, P_OUTSTANDING)
      && this.peak == u32of(pool, P_PEAK)
      && this.slabs == u32of(pool, P_SLAB_COUNT)
      && this.allocs == u64of(pool, P_ALLOCS)
      && this.frees == u64of(pool, P_FREES)
      && this.failures == u64of(pool, P_FAILURES)
      && this.bytes == u64of(pool, P_BYTES);
  }
}

/**
 * Walks the slab table and checks the slab.ts invariants for `pool`:
 *   per slab: freeTop + (objects in state ALLOCATED) == cap
 *   per pool: outstanding == allocs - frees == sum of allocated objects; slabCount == slabs found;
 *             every slab with a free object is the current one, the spare, or on the partial list
 *             (large-object pools: every slab is full)
 * Returns 0 when all hold, else a code naming the first violation.
 */
export function checkInvariants(pool: usize): u32 {
  let top = unitsTop();
  let slabs: u32 = 0;
  let allocated: u64 = 0;
  let current = <usize>u32of(pool, P_CURRENT);
  let spare = <usize>u32of(pool, P_SPARE);
  let large = (u32of(pool, P_FLAGS) & PF_LARGE) != 0;
  for (let u: u32 = 0; u < top; ) {
    let slab = <usize>load<u32>(TABLE + (<usize>u << 2));
    if (slab != 0 && (slab >>> UNIT_SHIFT) == <usize>u) {
      let units = load<u32>(slab + SL_UNITS);
      if (<usize>load<u32>(slab + SL_POOL) == pool) {
        slabs++;
        let cap = load<u32>(slab + SL_CAP);
        let freeTop = load<u32>(slab + SL_FREE_TOP);
        let n: u32 = 0;
        let quarantined: u32 = 0; // VERIFY pools park freed objects (neither free nor allocated)
        for (let i: u32 = 0; i < cap; i++) {
          let st = load<u8>(slab + SL_STATE + i);
          if (st == ST_ALLOCATED) n++;
          else if (st == 3) quarantined++;
        }
        if (freeTop + n + quarantined != cap) return 1;
        allocated += n;
        if (freeTop > 0) {
          if (large) return 2;
          if (slab != current && slab != spare && load<u32>(slab + SL_LISTED) == 0) return 3;
        }
        // every unit of the slab maps back to its base
        for (let k: u32 = 0; k < units; k++) {
          if (<usize>load<u32>(TABLE + ((<usize>u + k) << 2)) != slab) return 4;
        }
      }
      u += units > 0 ? units : 1;
    } else {
      u++;
    }
  }
  if (slabs != u32of(pool, P_SLAB_COUNT)) return 5;
  let out = <u64>u32of(pool, P_OUTSTANDING);
  if (allocated != out) return 6;
  if (u64of(pool, P_ALLOCS) - u64of(pool, P_FREES) != out) return 7;
  if (!large && u64of(pool, P_BYTES) != out * <u64>u32of(pool, P_OBJ_SIZE)) return 8;
  // the partial list holds only this pool's listed slabs, none of them full
  let s = <usize>u32of(pool, P_PARTIAL);
  let guard: u32 = 0;
  while (s != 0) {
    if (<usize>load<u32>(s + SL_POOL) != pool) return 9;
    if (load<u32>(s + SL_LISTED) != 1) return 10;
    if (load<u32>(s + SL_FREE_TOP) == 0) return 11;
    if (++guard > slabs) return 12;
    s = <usize>load<u32>(s + SL_NEXT);
  }
  return 0;
}

// Loop helpers: one expect per loop instead of one per object keeps the suite fast.

/** Frees arr[i] for i = start, start + step, ... < end; returns how many frees did not return E_OK. */
export function freeEach(pool: usize, arr: usize, start: u32, end: u32, step: u32 = 1): u32 {
  let bad: u32 = 0;
  for (let i = start; i < end; i += step) if (poolFree(pool, at(arr, i)) != 0) bad++;
  return bad;
}

/** Frees arr[n-1] .. arr[0]; returns how many frees did not return E_OK. */
export function freeEachReverse(pool: usize, arr: usize, n: u32): u32 {
  let bad: u32 = 0;
  for (let i = n; i > 0; i--) if (poolFree(pool, at(arr, i - 1)) != 0) bad++;
  return bad;
}

/** Number of arr[0..n) for which lookup(ptr, kind) is not `expected`. */
export function lookupMismatches(arr: usize, n: u32, kind: u32, expected: u32): u32 {
  let bad: u32 = 0;
  for (let i: u32 = 0; i < n; i++) if (lookup(at(arr, i), kind) != expected) bad++;
  return bad;
}

/** Number of arr[0..n) whose `size` bytes do not hold the pattern of (salt, i). */
export function patternMismatches(arr: usize, n: u32, size: u32, salt: u32): u32 {
  let bad: u32 = 0;
  for (let i: u32 = 0; i < n; i++) if (!checkObj(at(arr, i), size, salt, i)) bad++;
  return bad;
}

/** Fills object arr[i] with the pattern of (salt, i), for i < n. */
export function fillEach(arr: usize, n: u32, size: u32, salt: u32): void {
  for (let i: u32 = 0; i < n; i++) fillObj(at(arr, i), size, salt, i);
}

/** Number of arr[0..n) that are 0 or not 8-aligned. */
export function badPointers(arr: usize, n: u32): u32 {
  let bad: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    let v = at(arr, i);
    if (v == 0 || (v & 7) != 0) bad++;
  }
  return bad;
}
