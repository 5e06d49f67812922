// ndis-pool: the page source.
//
// Linear memory for slabs comes from the stub runtime's `heap.alloc` in large chunks (never
// from memory the runtime or as-pect may already use), aligned to 64 KiB units. Every unit we
// own is marked in `owned`; units not currently in a slab are marked in `free`. The slab table
// maps each unit to the base of the slab covering it (0 when the unit is in no slab), so any
// address is checked in O(1): `table[address >> UNIT_SHIFT]`.
//
// Growth never traps: before asking the stub for memory we grow memory ourselves, within the
// runtime's `maxPages`, so the stub never has to grow (and never reaches its `unreachable`).
// When the budget is spent, `unitsAlloc` returns 0 and the caller reports exhaustion (NULL).

import { UNIT_SHIFT, UNIT_SIZE, UNIT_MASK, MAX_UNITS } from "./layout";

// ---------------------------------------------------------------------------------------------
// Runtime root block (linear memory; its address is the only module global that matters)
//
//   0  table      u32[MAX_UNITS]  slab base per unit
//   4  freeMap    u32[MAX_UNITS/32] bit set: unit is owned and not in a slab
//   8  ownedMap   u32[MAX_UNITS/32] bit set: unit was obtained from the heap
//   12 freeUnits  count of set bits in freeMap
//   16 ownedUnits count of set bits in ownedMap
//   20 maxPages   memory budget in 64 KiB pages
//   24 hint       unit index where the next single-unit search starts
//   28 topUnit    one past the highest owned unit
//   32 serial     pool creation counter
//   36 tagSets    head of the tag-set list (slab.ts)
//   40 grows      times this runtime grew memory: JS compares it to refresh its views (reading
//                 it is far cheaper than WebAssembly.Memory#buffer)
//   44 fault      fault injection threshold: an allocation fails when the next random u32 is
//                 below it (0: off)
//   48 rng        xorshift32 state of the fault injector
//   52 faults     allocations failed by injection
//   56 quarantine  the quarantine ring (slab.ts), 0 until a quarantining pool frees
//   60 quarAll     1 in verifier mode: every pool created from now on quarantines
//   64 bump       threads build: next free heap byte. heap.alloc's bump pointer is a global of
//                 one instance, so instances sharing the memory take heap blocks from here
//   68 lock       runtime lock (threads build): 0 free, 1 held, 2 held with waiters
//   72 workers    instances attached to this memory (the creating one included)
//   76 workerIds  worker ids handed out so far (ids start at 1)
//   80 caches     head of the list of worker cache blocks (slab.ts), for statistics and detach
//   96 roots      root pool descriptors (slab.ts), ROOT_COUNT * POOL_DESC_SIZE bytes
// ---------------------------------------------------------------------------------------------
// @ts-ignore: decorator
@inline export const R_TABLE: u32 = 0;
// @ts-ignore: decorator
@inline export const R_FREE_MAP: u32 = 4;
// @ts-ignore: decorator
@inline export const R_OWNED_MAP: u32 = 8;
// @ts-ignore: decorator
@inline export const R_FREE_UNITS: u32 = 12;
// @ts-ignore: decorator
@inline export const R_OWNED_UNITS: u32 = 16;
// @ts-ignore: decorator
@inline export const R_MAX_PAGES: u32 = 20;
// @ts-ignore: decorator
@inline export const R_HINT: u32 = 24;
// @ts-ignore: decorator
@inline export const R_TOP_UNIT: u32 = 28;
// @ts-ignore: decorator
@inline export const R_SERIAL: u32 = 32;
// @ts-ignore: decorator
@inline export const R_TAG_SETS: u32 = 36;
// @ts-ignore: decorator
@inline export const R_GROWS: u32 = 40;
// @ts-ignore: decorator
@inline export const R_FAULT: u32 = 44;
// @ts-ignore: decorator
@inline export const R_RNG: u32 = 48;
// @ts-ignore: decorator
@inline export const R_FAULTS: u32 = 52;
// @ts-ignore: decorator
@inline export const R_QUAR: u32 = 56;
// @ts-ignore: decorator
@inline export const R_QALL: u32 = 60;
// @ts-ignore: decorator
@inline export const R_BUMP: u32 = 64;
// @ts-ignore: decorator
@inline export const R_LOCK: u32 = 68;
// @ts-ignore: decorator
@inline export const R_WORKERS: u32 = 72;
// @ts-ignore: decorator
@inline export const R_WORKER_IDS: u32 = 76;
// @ts-ignore: decorator
@inline export const R_CACHES: u32 = 80;
// @ts-ignore: decorator
@inline export const R_ROOTS: u32 = 96;

// @ts-ignore: decorator
@inline const MAP_WORDS: u32 = MAX_UNITS >> 5;
/** Smallest chunk taken from the heap, in units (1 MiB). */
// @ts-ignore: decorator
@inline const MIN_CHUNK_UNITS: u32 = 16;
/** Largest chunk taken at once when growing geometrically (16 MiB). */
// @ts-ignore: decorator
@inline const MAX_CHUNK_UNITS: u32 = 256;

/** Address of the runtime root block (set once by `pagesInit`). */
export let ROOT: usize = 0;
/** Address of the slab table (cached from the root block for the hot path). */
export let TABLE: usize = 0;

// @ts-ignore: decorator
@inline export function rootU32(off: u32): u32 { return load<u32>(ROOT + off); }
// @ts-ignore: decorator
@inline export function rootSetU32(off: u32, v: u32): void { store<u32>(ROOT + off, v); }

/** Slab base covering `addr`, or 0. O(1); `addr` may be any u32. */
// @ts-ignore: decorator
@inline export function slabOf(addr: usize): usize {
  return load<u32>(TABLE + ((addr >>> UNIT_SHIFT) << 2));
}

// @ts-ignore: decorator
@inline function bitGet(map: usize, i: u32): bool {
  return (load<u32>(map + ((i >>> 5) << 2)) & (1 << (i & 31))) != 0;
}
// @ts-ignore: decorator
@inline function bitSet(map: usize, i: u32): void {
  let a = map + ((i >>> 5) << 2);
  store<u32>(a, load<u32>(a) | (1 << (i & 31)));
}
// @ts-ignore: decorator
@inline function bitClear(map: usize, i: u32): void {
  let a = map + ((i >>> 5) << 2);
  store<u32>(a, load<u32>(a) & ~(1 << (i & 31)));
}

/**
 * Sets up the root block, slab table and unit maps. `rootBytes` is the size of the root block
 * the caller needs (it includes the root pool descriptors). Returns the root address.
 */
export function pagesInit(maxPages: u32, rootBytes: u32): usize {
  let tableBytes: usize = MAX_UNITS << 2;
  let mapBytes: usize = MAP_WORDS << 2;
  let total = <usize>rootBytes + tableBytes + 2 * mapBytes;
  // The stub may need to grow for this first block; make sure it can within the budget.
  if (!reserveFor(total, maxPages)) return 0;
  let block = heap.alloc(total);
  memory.fill(block, 0, total);
  ROOT = block;
  if (ASC_FEATURE_THREADS) rootSetU32(R_BUMP, <u32>(block + total));
  rootSetU32(R_WORKERS, 1);
  rootSetU32(R_WORKER_IDS, 1);
  TABLE = block + rootBytes;
  rootSetU32(R_TABLE, <u32>TABLE);
  rootSetU32(R_FREE_MAP, <u32>(TABLE + tableBytes));
  rootSetU32(R_OWNED_MAP, <u32>(TABLE + tableBytes + mapBytes));
  rootSetU32(R_MAX_PAGES, maxPages);
  return ROOT;
}

/**
 * Grows memory (within `maxPages`) so that a heap.alloc of `bytes` cannot make the stub grow.
 * The stub's bump pointer never exceeds the current memory size, so enough free pages above
 * the current size suffice.
 */
function reserveFor(bytes: usize, maxPages: u32): bool {
  let have = <u32>memory.size();
  let need = <u32>((bytes + 64 + UNIT_MASK) >>> UNIT_SHIFT);
  if (<u64>have + need > <u64>maxPages) return false;
  if (memory.grow(need) < 0) return false;
  if (ROOT != 0) rootSetU32(R_GROWS, rootU32(R_GROWS) + 1);
  return true;
}

/**
 * Takes `bytes` from the heap outside the page source (scratch arrays for bulk calls, which
 * must survive runtime.reset). Returns 0 when over budget.
 */
export function heapReserve(bytes: usize): usize {
  if (bytes > <usize>0x3FFF0000) return 0;
  if (!reserveFor(bytes, rootU32(R_MAX_PAGES))) return 0;
  let p = heapTake(bytes);
  memory.fill(p, 0, bytes);
  return p;
}

/**
 * A heap block of `bytes` (after `reserveFor`). The threads build takes it from the bump
 * pointer in the root block, which every instance on the shared memory sees (the stub's own
 * pointer is a global of one instance); callers hold the runtime lock there.
 */
// @ts-ignore: decorator
@inline function heapTake(bytes: usize): usize {
  if (ASC_FEATURE_THREADS) {
    let p = (<usize>rootU32(R_BUMP) + 15) & ~<usize>15;
    rootSetU32(R_BUMP, <u32>(p + bytes));
    return p;
  }
  return heap.alloc(bytes);
}

/**
 * Makes this instance use the runtime whose root block is at `root` (an instance attached to a
 * shared memory that another instance set up). Registers it and returns its worker id.
 */
export function pagesAttach(root: usize): u32 {
  ROOT = root;
  TABLE = <usize>rootU32(R_TABLE);
  rootSetU32(R_WORKERS, rootU32(R_WORKERS) + 1);
  let id = rootU32(R_WORKER_IDS) + 1;
  rootSetU32(R_WORKER_IDS, id);
  return id;
}

/** Unregisters this instance. Returns how many instances stay attached. */
export function pagesDetach(): u32 {
  let n = rootU32(R_WORKERS);
  if (n > 0) rootSetU32(R_WORKERS, --n);
  return n;
}

/** Bytes of linear memory (for stats). */
export function memoryBytes(): u64 {
  return <u64>memory.size() << 16;
}

/** Marks units [first, first + n) as owned and free (a fresh chunk). */
function adoptUnits(first: u32, n: u32): void {
  let freeMap = <usize>rootU32(R_FREE_MAP);
  let ownedMap = <usize>rootU32(R_OWNED_MAP);
  for (let i = first; i < first + n; i++) {
    bitSet(freeMap, i);
    bitSet(ownedMap, i);
  }
  rootSetU32(R_FREE_UNITS, rootU32(R_FREE_UNITS) + n);
  rootSetU32(R_OWNED_UNITS, rootU32(R_OWNED_UNITS) + n);
  if (first + n > rootU32(R_TOP_UNIT)) rootSetU32(R_TOP_UNIT, first + n);
}

/** Takes a chunk of at least `n` units from the heap. Returns false when over budget. */
function growUnits(n: u32): bool {
  let owned = rootU32(R_OWNED_UNITS);
  let want = max<u32>(n, min<u32>(MAX_CHUNK_UNITS, max<u32>(MIN_CHUNK_UNITS, owned >>> 1)));
  let maxPages = rootU32(R_MAX_PAGES);
  // Try the geometric chunk, then exactly what is needed.
  for (let attempt = 0; attempt < 2; attempt++) {
    let units = attempt == 0 ? want : n;
    if (attempt == 1 && units == want) break;
    let bytes64 = (<u64>units << UNIT_SHIFT) + UNIT_SIZE; // + slack for alignment
    if (bytes64 > 0x3FFF0000) continue; // beyond what one heap block can be
    let bytes = <usize>bytes64;
    if (!reserveFor(bytes, maxPages)) continue;
    let p = heapTake(bytes);
    let first = <u32>((p + UNIT_MASK) >>> UNIT_SHIFT);
    adoptUnits(first, units);
    return true;
  }
  return false;
}

/** Finds `n` contiguous free units; returns the first unit index or -1. */
function findRun(n: u32): i32 {
  let freeMap = <usize>rootU32(R_FREE_MAP);
  let top = rootU32(R_TOP_UNIT);
  if (n == 1) {
    let hint = rootU32(R_HINT);
    let words = (top + 31) >>> 5;
    for (let k: u32 = 0; k < words; k++) {
      let w = (hint + k) % words;
      let bits = load<u32>(freeMap + (w << 2));
      if (bits != 0) {
        let i = (w << 5) + <u32>ctz(bits);
        rootSetU32(R_HINT, w);
        return <i32>i;
      }
    }
    return -1;
  }
  let run: u32 = 0;
  for (let i: u32 = 0; i < top; i++) {
    if (bitGet(freeMap, i)) {
      if (++run == n) return <i32>(i + 1 - n);
    } else {
      run = 0;
    }
  }
  return -1;
}

/**
 * Returns the address of `n` contiguous, 64 KiB-aligned free units, or 0 when the memory
 * budget is spent. The units' slab-table entries are left for the caller to fill.
 */
export function unitsAlloc(n: u32): usize {
  if (n == 0 || n >= MAX_UNITS) return 0;
  let first = rootU32(R_FREE_UNITS) >= n ? findRun(n) : -1;
  if (first < 0) {
    if (!growUnits(n)) return 0;
    first = findRun(n);
    if (first < 0) return 0;
  }
  let freeMap = <usize>rootU32(R_FREE_MAP);
  for (let i = <u32>first; i < <u32>first + n; i++) bitClear(freeMap, i);
  rootSetU32(R_FREE_UNITS, rootU32(R_FREE_UNITS) - n);
  return <usize>first << UNIT_SHIFT;
}

/** Points the slab-table entries of units [base, base + n units) at `slab` (0 clears them). */
export function unitsMap(base: usize, n: u32, slab: usize): void {
  let first = <u32>(base >>> UNIT_SHIFT);
  for (let i = first; i < first + n; i++) store<u32>(TABLE + (<usize>i << 2), <u32>slab);
}

/** Gives `n` units starting at `base` back to the page source. */
export function unitsFree(base: usize, n: u32): void {
  unitsMap(base, n, 0);
  let freeMap = <usize>rootU32(R_FREE_MAP);
  let first = <u32>(base >>> UNIT_SHIFT);
  for (let i = first; i < first + n; i++) bitSet(freeMap, i);
  rootSetU32(R_FREE_UNITS, rootU32(R_FREE_UNITS) + n);
}

/** Forgets every slab: all owned units become free (runtime.reset). */
export function unitsResetAll(): void {
  memory.fill(TABLE, 0, <usize>MAX_UNITS << 2);
  let freeMap = <usize>rootU32(R_FREE_MAP);
  let ownedMap = <usize>rootU32(R_OWNED_MAP);
  memory.copy(freeMap, ownedMap, <usize>MAP_WORDS << 2);
  rootSetU32(R_FREE_UNITS, rootU32(R_OWNED_UNITS));
  rootSetU32(R_HINT, 0);
}

/** Units owned / free (stats, not for the data path). */
export function unitsOwned(): u32 { return rootU32(R_OWNED_UNITS); }
export function unitsFreeCount(): u32 { return rootU32(R_FREE_UNITS); }
export function unitsTop(): u32 { return rootU32(R_TOP_UNIT); }
export function maxPagesGet(): u32 { return rootU32(R_MAX_PAGES); }

// ---------------------------------------------------------------------------------------------
// The runtime lock (threads build). JS takes it around every export of a multi-worker runtime
// (src/shared.ts, same word and protocol); the lock-free exports (worker caches, cross-worker
// rings) take it here only on their slow paths. Protocol: Drepper's three-state mutex
// ("Futexes are tricky"): 0 free, 1 held, 2 held and maybe waited on.
// ---------------------------------------------------------------------------------------------

/** This instance may block in memory.atomic.wait (false on a browser's main thread). */
let gCanWait: bool = false;

/** Sets whether this instance may block while it waits for the lock. */
export function lockSetCanWait(canWait: bool): void { gCanWait = canWait; }

/** Takes the runtime lock (spins, then waits when allowed). */
export function lockAcquire(): void {
  if (ASC_FEATURE_THREADS) {
    let a = ROOT + R_LOCK;
    let c = atomic.cmpxchg<u32>(a, 0, 1);
    if (c == 0) return;
    for (let i = 0; i < 200; i++) {
      if (atomic.load<u32>(a) == 0 && (c = atomic.cmpxchg<u32>(a, 0, 1)) == 0) return;
    }
    if (c != 2) c = atomic.xchg<u32>(a, 2);
    while (c != 0) {
      if (gCanWait) atomic.wait<i32>(a, 2, 1000000); // 1 ms at most: never miss a wake-up for long
      c = atomic.xchg<u32>(a, 2);
    }
  }
}

/** Releases the runtime lock and wakes one waiter if there may be one. */
export function lockRelease(): void {
  if (ASC_FEATURE_THREADS) {
    let a = ROOT + R_LOCK;
    if (atomic.sub<u32>(a, 1) != 1) {
      atomic.store<u32>(a, 0);
      atomic.notify(a, 1);
    }
  }
}
