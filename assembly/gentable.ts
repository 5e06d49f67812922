// ndis-pool: generational handles for SlabPools (`handles: 'generational'`).
//
// A plain pointer cannot tell "the object I allocated" from "whatever now lives in that slot"
// once the slot was freed and reused (the ABA case). A generational pool hands out 32-bit
// handles instead:
//
//   handle = generation << indexBits | index        (index >= 1, so a handle is never 0)
//
// The index selects an entry of the pool's handle table; the entry holds the object's address
// and the handle currently issued for it. A handle is valid only while the entry holds exactly
// that handle, so a stale handle (its slot freed, maybe reused with the next generation) fails.
//
// The table is one block of tagged memory (kind K_HTABLE, the pool's tag), its address in the
// pool descriptor's P_USER0 (0: the pool hands out plain pointers):
//
//   +0   cap        entries the block holds (entry 0 is never used)
//   +4   used       next never-used index
//   +8   freeHead   oldest free index (0: none)      free indices form a FIFO list through
//   +12  freeTail   newest free index                the entries' address words
//   +16  freeCount
//   +20  indexBits  index field width; the generation takes the other 32 - indexBits bits
//   +24  limit      1 << indexBits: the table never grows past it
//   +32  entries[cap], 8 bytes each:
//          live: [address, handle]     free: [next free index, ~last handle]
//
// A free entry stores the complement of its last handle: its index bits are then the
// complement of the entry's own index, so no handle can ever match a free entry, and the next
// generation is recovered from it. Free indices are reused oldest first, and a new index is
// preferred while fewer than GEN_MIN_FREE are free (the idea of Bitsquid's entity manager): a
// given index comes back only after GEN_MIN_FREE other frees, so a stale handle is missed only
// after (2^generationBits) * GEN_MIN_FREE frees in between (2^32 with the default 20-bit
// index: 4096 generations x 1024).

import { E_OK, E_NOT_OURS, E_NOT_ALLOCATED, E_DUPLICATE, K_HTABLE, P_TAG, P_USER0, P_FAILURES } from "./layout";
import { lookup, freeLookedUp, poolAlloc, poolFree, pU32, pSet, pInc64, gErrDetail } from "./slab";
import { memAlloc } from "./netbuf";

// @ts-ignore: decorator
@inline const GT_CAP: u32 = 0;
// @ts-ignore: decorator
@inline const GT_USED: u32 = 4;
// @ts-ignore: decorator
@inline const GT_HEAD: u32 = 8;
// @ts-ignore: decorator
@inline const GT_TAIL: u32 = 12;
// @ts-ignore: decorator
@inline const GT_FREE: u32 = 16;
// @ts-ignore: decorator
@inline const GT_BITS: u32 = 20;
// @ts-ignore: decorator
@inline const GT_LIMIT: u32 = 24;
// @ts-ignore: decorator
@inline export const GT_ENTRIES: u32 = 32;
/** Free indices kept before an index is reused (while the table may still grow). */
// @ts-ignore: decorator
@inline export const GEN_MIN_FREE: u32 = 1024;
/** First table size, in entries. */
// @ts-ignore: decorator
@inline const GT_FIRST_CAP: u32 = 256;

// @ts-ignore: decorator
@inline function tU32(t: usize, off: u32): u32 { return load<u32>(t + off); }
// @ts-ignore: decorator
@inline function tSet(t: usize, off: u32, v: u32): void { store<u32>(t + off, v); }
// @ts-ignore: decorator
@inline function entry(t: usize, idx: u32): usize { return t + GT_ENTRIES + (<usize>idx << 3); }

/** Gives `pool` (a new, empty SlabPool) a handle table. false: no memory (nothing changed). */
export function genEnable(pool: usize, indexBits: u32): bool {
  if (indexBits < 8 || indexBits > 30) return false;
  let limit: u32 = 1 << indexBits;
  let cap = min<u32>(GT_FIRST_CAP, limit);
  let t = memAlloc(K_HTABLE, pU32(pool, P_TAG), GT_ENTRIES + (cap << 3), 1, 0);
  if (t == 0) return false;
  memory.fill(t, 0, GT_ENTRIES + 8);
  tSet(t, GT_CAP, cap);
  tSet(t, GT_USED, 1);
  tSet(t, GT_BITS, indexBits);
  tSet(t, GT_LIMIT, limit);
  pSet(pool, P_USER0, <u32>t);
  return true;
}

/** Frees the pool's handle table (pool destroy). */
export function genRelease(pool: usize): void {
  let t = <usize>pU32(pool, P_USER0);
  if (t == 0) return;
  pSet(pool, P_USER0, 0);
  if (lookup(t, K_HTABLE) == E_OK) freeLookedUp();
}

/** Doubles the table (within its limit). Returns the new table or 0 (no memory). */
function grow(pool: usize, t: usize): usize {
  let cap = tU32(t, GT_CAP);
  let ncap = min<u32>(cap << 1, tU32(t, GT_LIMIT));
  let n = memAlloc(K_HTABLE, pU32(pool, P_TAG), GT_ENTRIES + (ncap << 3), 1, 0);
  if (n == 0) return 0;
  memory.copy(n, t, <usize>GT_ENTRIES + (<usize>cap << 3));
  tSet(n, GT_CAP, ncap);
  lookup(t, K_HTABLE);
  freeLookedUp();
  pSet(pool, P_USER0, <u32>n);
  return n;
}

/** Allocates one object and issues a handle for it. Returns the handle, or 0 (exhaustion). */
export function genAlloc(pool: usize): u32 {
  let t = <usize>pU32(pool, P_USER0);
  let free = tU32(t, GT_FREE);
  let used = tU32(t, GT_USED);
  let fresh = free < GEN_MIN_FREE && used < tU32(t, GT_LIMIT);
  if (fresh && used >= tU32(t, GT_CAP)) {
    let n = grow(pool, t);
    if (n != 0) t = n;
    else fresh = false; // no memory for a bigger table: reuse a free index if there is one
  }
  if (!fresh && free == 0) { pInc64(pool, P_FAILURES); return 0; } // every index is live
  let p = poolAlloc(pool);
  if (p == 0) return 0;
  let bits = tU32(t, GT_BITS);
  let idx: u32, h: u32;
  if (fresh) {
    idx = used;
    tSet(t, GT_USED, used + 1);
    h = idx; // generation 0
  } else {
    idx = tU32(t, GT_HEAD);
    let e = entry(t, idx);
    let next = load<u32>(e);
    tSet(t, GT_HEAD, next);
    if (next == 0) tSet(t, GT_TAIL, 0);
    tSet(t, GT_FREE, free - 1);
    let gen = ((~load<u32>(e + 4)) >>> bits) + 1;
    h = (gen << bits) | idx; // the generation wraps within its bits (the shift drops the carry)
  }
  let e = entry(t, idx);
  store<u32>(e, <u32>p);
  store<u32>(e + 4, h);
  return h;
}

/** Returns the entry of live handle `h`, or 0 (gErrDetail: E_NOT_OURS never issued, E_NOT_ALLOCATED stale). */
// @ts-ignore: decorator
@inline function liveEntry(t: usize, h: u32): usize {
  let idx = h & (tU32(t, GT_LIMIT) - 1);
  if (idx == 0 || idx >= tU32(t, GT_USED)) { gErrDetail = E_NOT_OURS; return 0; }
  let e = entry(t, idx);
  if (load<u32>(e + 4) != h) { gErrDetail = E_NOT_ALLOCATED; return 0; }
  return e;
}

/** Puts the entry of `h` (live, at `e`) on the free list. */
// @ts-ignore: decorator
@inline function release(t: usize, e: usize, h: u32): void {
  let idx = h & (tU32(t, GT_LIMIT) - 1);
  store<u32>(e, 0);
  store<u32>(e + 4, ~h);
  let tail = tU32(t, GT_TAIL);
  if (tail != 0) store<u32>(entry(t, tail), idx);
  else tSet(t, GT_HEAD, idx);
  tSet(t, GT_TAIL, idx);
  tSet(t, GT_FREE, tU32(t, GT_FREE) + 1);
}

/** Frees the object of handle `h`. Returns E_OK, E_NOT_OURS (never issued) or E_NOT_ALLOCATED (stale). */
export function genFree(pool: usize, h: u32): u32 {
  let t = <usize>pU32(pool, P_USER0);
  let e = liveEntry(t, h);
  if (e == 0) return gErrDetail;
  let r = poolFree(pool, <usize>load<u32>(e));
  if (r != E_OK) return r; // cannot happen: the table and the slabs agree
  release(t, e, h);
  return E_OK;
}

/** Address of the object of handle `h`, or 0 (not a live handle of this pool). */
export function genPtr(pool: usize, h: u32): usize {
  let e = liveEntry(<usize>pU32(pool, P_USER0), h);
  return e == 0 ? 0 : <usize>load<u32>(e);
}

/** Allocates up to `n` objects, writing their handles to `out`. Returns how many. */
export function genAllocMany(pool: usize, out: usize, n: u32): u32 {
  for (let i: u32 = 0; i < n; i++) {
    let h = genAlloc(pool);
    if (h == 0) return i;
    store<u32>(out + (<usize>i << 2), h);
  }
  return n;
}

/**
 * Frees the `n` handles at `hs`, all or nothing: every handle is checked first (live, and no
 * handle twice). On a bad one nothing is freed; gErrDetail is its index and the result says
 * why (E_NOT_OURS, E_NOT_ALLOCATED, E_DUPLICATE).
 */
export function genFreeMany(pool: usize, hs: usize, n: u32): u32 {
  let t = <usize>pU32(pool, P_USER0);
  // Pass 1: check each handle and mark its entry (complemented handle) so a duplicate fails.
  for (let i: u32 = 0; i < n; i++) {
    let h = load<u32>(hs + (<usize>i << 2));
    let e = liveEntry(t, h);
    if (e == 0) {
      let why = gErrDetail;
      if (why == E_NOT_ALLOCATED) {
        for (let j: u32 = 0; j < i; j++) if (load<u32>(hs + (<usize>j << 2)) == h) { why = E_DUPLICATE; break; }
      }
      // Undo the marks.
      for (let j: u32 = 0; j < i; j++) {
        let hj = load<u32>(hs + (<usize>j << 2));
        let ej = entry(t, hj & (tU32(t, GT_LIMIT) - 1));
        if (load<u32>(ej + 4) == ~hj) store<u32>(ej + 4, hj);
      }
      gErrDetail = i;
      return why;
    }
    store<u32>(e + 4, ~h);
  }
  // Pass 2: free them all.
  for (let i: u32 = 0; i < n; i++) {
    let h = load<u32>(hs + (<usize>i << 2));
    let e = entry(t, h & (tU32(t, GT_LIMIT) - 1));
    poolFree(pool, <usize>load<u32>(e));
    release(t, e, h);
  }
  return E_OK;
}

/**
 * The live entry after index `after` (0: from the start): writes nothing, returns its index or
 * 0 at the end. JS reads [address, handle] from the table (forEachLive; not for the data path).
 */
export function genNextLive(pool: usize, after: u32): u32 {
  let t = <usize>pU32(pool, P_USER0);
  let used = tU32(t, GT_USED);
  let mask = tU32(t, GT_LIMIT) - 1;
  for (let i = after + 1; i < used; i++) {
    if ((load<u32>(entry(t, i) + 4) & mask) == i) return i;
  }
  return 0;
}

/** Address of the handle table of `pool` (0: plain pointers). */
export function genTable(pool: usize): usize { return <usize>pU32(pool, P_USER0); }
