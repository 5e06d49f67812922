// Slab core (DESIGN D5, D9): allocation and reuse, growth across memory.grow, O(1) validation
// with exact error codes, all-or-nothing bulk free, counters, limits and empty-slab hysteresis.
import {
  P_OUTSTANDING, P_ALLOCS, P_FREES, P_FAILURES, P_PEAK, P_BYTES, P_SLAB_COUNT, P_OBJ_SIZE,
  P_REQ_SIZE, P_CAP, P_SLAB_UNITS, P_MAX_OUT, P_KIND, P_FLAGS, PF_LARGE, K_SLAB_OBJ, K_NB,
  E_OK, E_NOT_OURS, E_WRONG_KIND, E_MISALIGNED, E_NOT_ALLOCATED, E_WRONG_POOL, E_DUPLICATE,
  UNIT_SHIFT, UNIT_SIZE, UNIT_MASK, SHARED_OBJECT_MAX, SL_OBJ_START, SL_CAP, SL_OBJ_SIZE,
  SL_FREE_TOP, P_SPARE,
} from "../layout";
import { init, resetAll, slabPoolCreate, slabPoolDestroy, nbPoolCreate, nbAllocate, nbFree } from "../index";
import { heapReserve, unitsFreeCount, unitsOwned, slabOf } from "../pages";
import {
  poolAlloc, poolFree, poolFreeMany, poolAllocMany, poolSetMax, lookup, gErrDetail, gErrPtr,
  poolFreeUnchecked, poolFreeManyUnchecked,
} from "../slab";
import {
  at, put, u32of, u64of, minGap, fillObj, checkObj, Counters, checkInvariants,
  freeEach, freeEachReverse, lookupMismatches, patternMismatches, fillEach, badPointers,
} from "./util";

const BUDGET: u32 = 4096; // 256 MiB
const ROOT_ADDR = init(BUDGET);

// Scratch arrays (outside the page source, so they survive resetAll).
const MAXN: u32 = 24000;
const A = heapReserve(<usize>MAXN << 2);
const B = heapReserve(<usize>MAXN << 2);
const C = heapReserve(<usize>MAXN << 2);

let pool: usize = 0;
let other: usize = 0;
let p: usize = 0;
let q: usize = 0;
let r: usize = 0;
let snap: Counters | null = null;

function outstanding(pl: usize): u32 { return u32of(pl, P_OUTSTANDING); }

describe("setup", () => {
  it("init returns a root address and scratch arrays were reserved", () => {
    expect<usize>(ROOT_ADDR).toBeGreaterThan(0);
    expect<usize>(A).toBeGreaterThan(0);
    expect<usize>(B).toBeGreaterThan(0);
    expect<usize>(C).toBeGreaterThan(0);
  });
});

describe("alloc / free", () => {
  beforeAll(() => { resetAll(); });

  it("creates a slab pool with the requested size rounded up to 8", () => {
    pool = slabPoolCreate(13, 0x31303030, 0xFFFFFFFF);
    expect<usize>(pool).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(u32of(pool, P_KIND)).toBe(K_SLAB_OBJ);
    expect<u32>(u32of(pool, P_REQ_SIZE)).toBe(13);
    expect<u32>(u32of(pool, P_OBJ_SIZE)).toBe(16);
    expect<u32>(outstanding(pool)).toBe(0);
  });

  it("hands out distinct, 8-aligned, non-overlapping objects", () => {
    let low: u32 = 0;
    for (let i: u32 = 0; i < 500; i++) {
      let o = poolAlloc(pool);
      put(A, i, <u32>o);
      if (o < UNIT_SIZE) low++;
    }
    expect<u32>(low).toBe(0);
    expect<u32>(badPointers(A, 500)).toBe(0);
    expect<u32>(minGap(A, B, 500)).toBeGreaterThanOrEqual(16);
    fillEach(A, 500, 16, 1);
    expect<u32>(patternMismatches(A, 500, 16, 1)).toBe(0);
    expect<u32>(outstanding(pool)).toBe(500);
    expect<u32>(checkInvariants(pool)).toBe(0);
  });

  it("frees every object exactly once", () => {
    expect<u32>(freeEach(pool, A, 0, 500)).toBe(0);
    expect<u32>(outstanding(pool)).toBe(0);
    expect<u32>(checkInvariants(pool)).toBe(0);
  });

  it("hands a freed object out again, LIFO", () => {
    pool = slabPoolCreate(64, 0x32303030, 0xFFFFFFFF);
    p = poolAlloc(pool);
    q = poolAlloc(pool);
    r = poolAlloc(pool);
    expect<usize>(p).not.toBe(q);
    expect<usize>(q).not.toBe(r);
    expect<usize>(p).not.toBe(r);
    expect<u32>(poolFree(pool, q)).toBe(E_OK);
    expect<u32>(poolFree(pool, r)).toBe(E_OK);
    // last freed comes back first
    expect<usize>(poolAlloc(pool)).toBe(r);
    expect<usize>(poolAlloc(pool)).toBe(q);
    expect<u32>(poolFree(pool, p)).toBe(E_OK);
    expect<usize>(poolAlloc(pool)).toBe(p);
    expect<u32>(outstanding(pool)).toBe(3);
  });

  it("fresh slabs fill in address order, one slot apart", () => {
    other = slabPoolCreate(24, 0x33303030, 0xFFFFFFFF);
    let first = poolAlloc(other);
    for (let i: u32 = 1; i < 50; i++) expect<usize>(poolAlloc(other)).toBe(first + <usize>i * 24);
  });

  it("never hands out an object that is still allocated (alloc/free churn)", () => {
    resetAll();
    pool = slabPoolCreate(40, 0x34303030, 0xFFFFFFFF);
    // keep a window of live objects, each tagged with its own pattern; free in a scrambled
    // order and re-allocate; every live object must keep its pattern.
    let live: u32 = 0;
    let serial: u32 = 0;
    let failedFrees: u32 = 0;
    let nullAllocs: u32 = 0;
    for (let round: u32 = 0; round < 40; round++) {
      while (live < 2000) {
        let o = poolAlloc(pool);
        if (o == 0) { nullAllocs++; break; }
        put(A, live, <u32>o);
        put(C, live, serial);
        fillObj(o, 40, 7, serial);
        live++;
        serial++;
      }
      // free ~ a third, chosen by a multiplicative hash
      let k: u32 = 0;
      while (k < 700 && live > 0) {
        let j = ((round * 7919 + k * 104729) >>> 0) % live;
        if (poolFree(pool, at(A, j)) != E_OK) failedFrees++;
        live--;
        put(A, j, at(A, live));
        put(C, j, at(C, live));
        k++;
      }
    }
    let bad: u32 = 0;
    expect<u32>(failedFrees).toBe(0);
    expect<u32>(nullAllocs).toBe(0);
    for (let i: u32 = 0; i < live; i++) if (!checkObj(at(A, i), 40, 7, at(C, i))) bad++;
    expect<u32>(bad).toBe(0);
    expect<u32>(minGap(A, B, live)).toBeGreaterThanOrEqual(40);
    expect<u32>(outstanding(pool)).toBe(live);
    expect<u32>(checkInvariants(pool)).toBe(0);
  });
});

describe("growth: thousands of objects across memory.grow", () => {
  beforeAll(() => { resetAll(); });

  it("keeps 20000 x 64 B, 600 x 2048 B, 6 x 300 KiB and 24 x 40000 B objects valid and distinct", () => {
    let pagesBefore = memory.size();
    let ownedBefore = unitsOwned();
    let small = slabPoolCreate(64, 0x41414141, 0xFFFFFFFF);
    let mid = slabPoolCreate(2048, 0x42424242, 0xFFFFFFFF);
    let big = slabPoolCreate(300 * 1024, 0x43434343, 0xFFFFFFFF);
    let multi = slabPoolCreate(40000, 0x44444444, 0xFFFFFFFF);
    expect<u32>(u32of(big, P_FLAGS) & PF_LARGE).toBe(PF_LARGE);
    expect<u32>(u32of(multi, P_SLAB_UNITS)).toBeGreaterThan(1); // multi-unit slabs

    // interleave the pools so that their slabs alternate in memory
    let ns: u32 = 0, nm: u32 = 0, nb: u32 = 0, nx: u32 = 0;
    for (let i: u32 = 0; i < 20000; i++) {
      let o = poolAlloc(small);
      put(A, ns++, <u32>o);
      if (i % 33 == 0 && nm < 600) put(B, nm++, <u32>poolAlloc(mid));
      if (i % 3000 == 0 && nb < 6) put(C, nb++, <u32>poolAlloc(big));
      if (i % 800 == 0 && nx < 24) put(C + 400, nx++, <u32>poolAlloc(multi));
    }
    while (nm < 600) put(B, nm++, <u32>poolAlloc(mid));
    expect<u32>(ns).toBe(20000);
    expect<u32>(nm).toBe(600);
    expect<u32>(nb).toBe(6);
    expect<u32>(nx).toBe(24);

    // memory grew (more than once: the page source takes geometric chunks)
    expect<i32>(memory.size()).toBeGreaterThan(pagesBefore);
    expect<u32>(unitsOwned() - ownedBefore).toBeGreaterThanOrEqual(21 + 20 + 30);

    // all non-zero, aligned
    expect<u32>(badPointers(A, 20000)).toBe(0);
    expect<u32>(badPointers(B, 600)).toBe(0);
    expect<u32>(badPointers(C, 6)).toBe(0);
    expect<u32>(badPointers(C + 400, 24)).toBe(0);

    // write a distinct pattern over every byte of every object ...
    fillEach(A, 20000, 64, 1);
    fillEach(B, 600, 2048, 2);
    fillEach(C, 6, 300 * 1024, 3);
    fillEach(C + 400, 24, 40000, 4);

    // ... grow memory further (another burst of objects) ...
    let pagesMid = memory.size();
    let burst = slabPoolCreate(1024, 0x45454545, 0xFFFFFFFF);
    let nburst = poolAllocMany(burst, C + 1024, 3000);
    expect<u32>(nburst).toBe(3000);
    fillEach(C + 1024, 3000, 1024, 5);
    expect<i32>(memory.size()).toBeGreaterThan(pagesMid);

    // ... and verify every object kept its own pattern (no overlap, nothing moved)
    expect<u32>(patternMismatches(A, 20000, 64, 1)).toBe(0);
    expect<u32>(patternMismatches(B, 600, 2048, 2)).toBe(0);
    expect<u32>(patternMismatches(C, 6, 300 * 1024, 3)).toBe(0);
    expect<u32>(patternMismatches(C + 400, 24, 40000, 4)).toBe(0);
    expect<u32>(patternMismatches(C + 1024, 3000, 1024, 5)).toBe(0);

    // distinct and non-overlapping inside each pool (sorted gaps >= slot size)
    expect<u32>(minGap(A, B + 4096, 20000)).toBeGreaterThanOrEqual(64);
    expect<u32>(minGap(B, A + 4 * 20000, 600)).toBeGreaterThanOrEqual(2048);
    expect<u32>(minGap(C + 400, A + 4 * 20000, 24)).toBeGreaterThanOrEqual(40000);
    expect<u32>(minGap(C, A + 4 * 20000, 6)).toBeGreaterThanOrEqual(300 * 1024);

    // every object validates as a live object of its pool
    expect<u32>(lookupMismatches(A, 20000, K_SLAB_OBJ, E_OK)).toBe(0);
    expect<u32>(lookupMismatches(B, 600, K_SLAB_OBJ, E_OK)).toBe(0);
    expect<u32>(lookupMismatches(C, 6, K_SLAB_OBJ, E_OK)).toBe(0);
    expect<u32>(lookupMismatches(C + 400, 24, K_SLAB_OBJ, E_OK)).toBe(0);

    // invariants, counters and bytes
    expect<u32>(checkInvariants(small)).toBe(0);
    expect<u32>(checkInvariants(mid)).toBe(0);
    expect<u32>(checkInvariants(big)).toBe(0);
    expect<u32>(checkInvariants(multi)).toBe(0);
    expect<u32>(outstanding(small)).toBe(20000);
    expect<u64>(u64of(small, P_BYTES)).toBe(20000 * 64);
    expect<u64>(u64of(mid, P_BYTES)).toBe(600 * 2048);
    expect<u64>(u64of(big, P_BYTES)).toBe(6 * 300 * 1024);
    expect<u32>(u32of(big, P_SLAB_COUNT)).toBe(6);

    // free everything; every free succeeds exactly once
    expect<u32>(freeEach(small, A, 0, 20000)).toBe(0);
    expect<u32>(freeEach(mid, B, 0, 600)).toBe(0);
    expect<u32>(freeEach(big, C, 0, 6)).toBe(0);
    expect<u32>(freeEach(multi, C + 400, 0, 24)).toBe(0);
    expect<u32>(poolFreeMany(burst, C + 1024, 3000)).toBe(E_OK);
    expect<u32>(outstanding(small) + outstanding(mid) + outstanding(big) + outstanding(multi) + outstanding(burst)).toBe(0);
    expect<u32>(u32of(big, P_SLAB_COUNT)).toBe(0);
    expect<u32>(checkInvariants(small)).toBe(0);
    expect<u32>(checkInvariants(multi)).toBe(0);
    // and a second free of any of them is caught: objects of kept slabs (current, spare) are
    // not allocated; objects of slabs given back to the page source are no longer ours
    expect<u32>(poolFree(small, at(A, 19999))).toBe(E_NOT_ALLOCATED); // current slab
    expect<u32>(poolFree(small, at(A, 0))).toBe(E_NOT_ALLOCATED);     // first to empty: the spare
    expect<u32>(poolFree(small, at(A, 5 * u32of(small, P_CAP)))).toBe(E_NOT_OURS); // released slab
    expect<u32>(poolFree(multi, at(C + 400, 23))).toBe(E_NOT_ALLOCATED);
    expect<u32>(poolFree(big, at(C, 5))).toBe(E_NOT_OURS); // large: its slab went back at once
    let again = freeEach(small, A, 0, 20000);
    expect<u32>(again).toBe(20000); // every second free is rejected
    expect<u32>(outstanding(small)).toBe(0);
    expect<u64>(u64of(small, P_FREES)).toBe(20000);
  });

  it("objects in the far units of multi-unit slabs validate and free", () => {
    let multi = slabPoolCreate(40000, 0x46464646, 0xFFFFFFFF);
    let cap = u32of(multi, P_CAP);
    let units = u32of(multi, P_SLAB_UNITS);
    expect<u32>(cap).toBeGreaterThan(1);
    for (let i: u32 = 0; i < cap; i++) put(A, i, <u32>poolAlloc(multi));
    let last = <usize>at(A, cap - 1);
    let base = slabOf(at(A, 0));
    // the last object lies in a unit other than the slab's first one, and maps to the same slab
    expect<usize>(last >>> UNIT_SHIFT).toBeGreaterThan(base >>> UNIT_SHIFT);
    expect<usize>(slabOf(last)).toBe(base);
    expect<usize>(slabOf(last + 39999)).toBe(base);
    expect<usize>(last + 40000).toBeLessThanOrEqual(base + (<usize>units << UNIT_SHIFT));
    expect<u32>(poolFree(multi, last + 20000)).toBe(E_MISALIGNED);
    expect<u32>(poolFree(multi, last)).toBe(E_OK);
    expect<u32>(poolFree(multi, last)).toBe(E_NOT_ALLOCATED);
    expect<u32>(poolFreeMany(multi, A, cap - 1)).toBe(E_OK);
    expect<u32>(outstanding(multi)).toBe(0);
  });
});

describe("validation: exact error codes, and nothing changes on an error", () => {
  beforeAll(() => {
    resetAll();
    pool = slabPoolCreate(64, 0x56414c31, 0xFFFFFFFF);
    other = slabPoolCreate(64, 0x56414c32, 0xFFFFFFFF);
    p = poolAlloc(pool);
    q = poolAlloc(other);
    r = poolAlloc(pool);
  });

  it("E_NOT_OURS for addresses no slab covers", () => {
    snap = new Counters(pool);
    expect<u32>(poolFree(pool, 0)).toBe(E_NOT_OURS);
    expect<u32>(poolFree(pool, 8)).toBe(E_NOT_OURS);
    expect<u32>(poolFree(pool, 0xFFFFFFF8)).toBe(E_NOT_OURS);
    expect<u32>(poolFree(pool, A)).toBe(E_NOT_OURS); // heap scratch, not a slab
    expect<u32>(poolFree(pool, ROOT_ADDR)).toBe(E_NOT_OURS);
    expect<u32>(lookup(8, 0)).toBe(E_NOT_OURS);
    expect<usize>(gErrPtr).toBe(8);
    expect<bool>(snap!.same(pool)).toBe(true);
  });

  it("E_MISALIGNED for a pointer inside an object, in the slab header, or past the last object", () => {
    snap = new Counters(pool);
    expect<u32>(poolFree(pool, p + 8)).toBe(E_MISALIGNED);
    expect<u32>(poolFree(pool, p + 1)).toBe(E_MISALIGNED);
    expect<u32>(poolFree(pool, p + 63)).toBe(E_MISALIGNED);
    expect<u32>(poolFree(pool, r - 4)).toBe(E_MISALIGNED);
    let base = slabOf(p);
    expect<u32>(poolFree(pool, base)).toBe(E_MISALIGNED); // slab header
    expect<u32>(poolFree(pool, base + 56)).toBe(E_MISALIGNED); // state bytes
    let end = <usize>load<u32>(base + SL_OBJ_START) + <usize>load<u32>(base + SL_CAP) * load<u32>(base + SL_OBJ_SIZE);
    if ((end & UNIT_MASK) != 0) {
      // unused tail of the slab
      expect<u32>(poolFree(pool, end)).toBe(E_MISALIGNED);
    }
    expect<bool>(snap!.same(pool)).toBe(true);
    // and the object itself is still live and frees normally later
    expect<u32>(lookup(p, K_SLAB_OBJ)).toBe(E_OK);
  });

  it("E_WRONG_POOL for an object of another pool of the same kind", () => {
    snap = new Counters(pool);
    let snapOther = new Counters(other);
    expect<u32>(poolFree(pool, q)).toBe(E_WRONG_POOL);
    expect<usize>(gErrDetail).toBe(other);
    expect<u32>(poolFree(other, p)).toBe(E_WRONG_POOL);
    expect<bool>(snap!.same(pool)).toBe(true);
    expect<bool>(snapOther.same(other)).toBe(true);
    expect<u32>(lookup(q, K_SLAB_OBJ)).toBe(E_OK); // still live
  });

  it("E_WRONG_KIND for an object of another kind (nbFree on a slab-pool object, and back)", () => {
    snap = new Counters(pool);
    expect<u32>(nbFree(p)).toBe(E_WRONG_KIND);
    expect<u32>(lookup(p, K_NB)).toBe(E_WRONG_KIND);
    expect<bool>(snap!.same(pool)).toBe(true);
    let nbp = nbPoolCreate(0, 0x4b4e4942, 0, 0);
    expect<usize>(nbp).toBeGreaterThanOrEqual(UNIT_SIZE);
    let nb = nbAllocate(nbp, 0, 0, 0);
    expect<usize>(nb).toBeGreaterThanOrEqual(UNIT_SIZE);
    let nbSnap = new Counters(nbp);
    expect<u32>(poolFree(pool, nb)).toBe(E_WRONG_KIND);
    expect<u32>(poolFree(pool, nbp)).toBe(E_WRONG_KIND); // a pool descriptor is not an object of ours
    expect<bool>(nbSnap.same(nbp)).toBe(true);
    expect<bool>(snap!.same(pool)).toBe(true);
    expect<u32>(nbFree(nb)).toBe(E_OK);
  });

  it("E_NOT_ALLOCATED for a double free and for a slot never handed out", () => {
    let s = poolAlloc(pool);
    expect<u32>(poolFree(pool, s)).toBe(E_OK);
    snap = new Counters(pool);
    expect<u32>(poolFree(pool, s)).toBe(E_NOT_ALLOCATED);
    expect<u32>(poolFree(pool, s)).toBe(E_NOT_ALLOCATED);
    // slot 100 of p's slab was never allocated
    expect<u32>(poolFree(pool, p + 100 * 64)).toBe(E_NOT_ALLOCATED);
    expect<u32>(lookup(s, 0)).toBe(E_NOT_ALLOCATED);
    expect<bool>(snap!.same(pool)).toBe(true);
    expect<u32>(checkInvariants(pool)).toBe(0);
  });

  it("after all the rejected calls, the live objects still free exactly once", () => {
    expect<u32>(poolFree(pool, p)).toBe(E_OK);
    expect<u32>(poolFree(pool, r)).toBe(E_OK);
    expect<u32>(poolFree(other, q)).toBe(E_OK);
    expect<u32>(outstanding(pool)).toBe(0);
    expect<u32>(outstanding(other)).toBe(0);
    expect<u64>(u64of(pool, P_ALLOCS)).toBe(3); // p, r and s
    expect<u64>(u64of(pool, P_FREES)).toBe(3);
    expect<u32>(poolFree(pool, p)).toBe(E_NOT_ALLOCATED);
  });

  it("a destroyed pool's objects are no longer ours", () => {
    let tmp = slabPoolCreate(32, 0x54504d31, 0xFFFFFFFF);
    let o = poolAlloc(tmp);
    expect<u32>(slabPoolDestroy(tmp, false)).toBe(43); // E_POOL5: outstanding
    expect<u32>(slabPoolDestroy(tmp, true)).toBe(E_OK);
    expect<u32>(lookup(o, 0)).toBe(E_NOT_OURS);
  });
});

describe("bulk: poolAllocMany / poolFreeMany", () => {
  beforeAll(() => {
    resetAll();
    pool = slabPoolCreate(64, 0x4b4c5542, 0xFFFFFFFF);
    other = slabPoolCreate(64, 0x4b4c5543, 0xFFFFFFFF);
  });

  it("poolAllocMany returns n distinct objects (across several slabs)", () => {
    let n = poolAllocMany(pool, A, 3000);
    expect<u32>(n).toBe(3000);
    expect<u32>(outstanding(pool)).toBe(3000);
    expect<u32>(u32of(pool, P_SLAB_COUNT)).toBeGreaterThanOrEqual(3);
    expect<u32>(minGap(A, B, 3000)).toBeGreaterThanOrEqual(64);
    expect<u32>(lookupMismatches(A, 3000, K_SLAB_OBJ, E_OK)).toBe(0);
    expect<u32>(checkInvariants(pool)).toBe(0);
  });

  it("poolFreeMany frees them all", () => {
    expect<u32>(poolFreeMany(pool, A, 3000)).toBe(E_OK);
    expect<u32>(outstanding(pool)).toBe(0);
    expect<u64>(u64of(pool, P_FREES)).toBe(3000);
    // none is live any more (E_NOT_ALLOCATED in kept slabs, E_NOT_OURS in released ones)
    expect<u32>(lookupMismatches(A, 3000, 0, E_OK)).toBe(3000);
    expect<u32>(checkInvariants(pool)).toBe(0);
  });

  it("poolFreeMany of 0 objects is a no-op", () => {
    snap = new Counters(pool);
    expect<u32>(poolFreeMany(pool, A, 0)).toBe(E_OK);
    expect<bool>(snap!.same(pool)).toBe(true);
  });

  it("is all-or-nothing: a misaligned pointer at the end frees nothing", () => {
    expect<u32>(poolAllocMany(pool, A, 1000)).toBe(1000);
    put(A, 1000, at(A, 500) + 8);
    snap = new Counters(pool);
    expect<u32>(poolFreeMany(pool, A, 1001)).toBe(E_MISALIGNED);
    expect<u32>(gErrDetail).toBe(1000);
    expect<bool>(snap!.same(pool)).toBe(true);
    expect<u32>(checkInvariants(pool)).toBe(0);
    expect<u32>(lookupMismatches(A, 1000, K_SLAB_OBJ, E_OK)).toBe(0);
  });

  it("is all-or-nothing: a duplicate entry returns E_DUPLICATE and frees nothing", () => {
    put(A, 1000, at(A, 17));
    snap = new Counters(pool);
    expect<u32>(poolFreeMany(pool, A, 1001)).toBe(E_DUPLICATE);
    expect<u32>(gErrDetail).toBe(1000);
    expect<bool>(snap!.same(pool)).toBe(true);
    expect<u32>(checkInvariants(pool)).toBe(0);
    // a duplicate early in the list too
    put(B, 0, at(A, 3));
    put(B, 1, at(A, 4));
    put(B, 2, at(A, 3));
    put(B, 3, at(A, 5));
    expect<u32>(poolFreeMany(pool, B, 4)).toBe(E_DUPLICATE);
    expect<u32>(gErrDetail).toBe(2);
    expect<bool>(snap!.same(pool)).toBe(true);
  });

  it("is all-or-nothing: foreign, unowned and already-freed entries", () => {
    let foreign = poolAlloc(other);
    snap = new Counters(pool);
    put(A, 1000, <u32>foreign);
    expect<u32>(poolFreeMany(pool, A, 1001)).toBe(E_WRONG_POOL);
    put(A, 1000, 8);
    expect<u32>(poolFreeMany(pool, A, 1001)).toBe(E_NOT_OURS);
    let gone = poolAlloc(pool);
    expect<u32>(poolFree(pool, gone)).toBe(E_OK);
    snap = new Counters(pool);
    put(A, 1000, <u32>gone);
    expect<u32>(poolFreeMany(pool, A, 1001)).toBe(E_NOT_ALLOCATED);
    // bad entry first
    put(B, 0, 8);
    put(B, 1, at(A, 0));
    expect<u32>(poolFreeMany(pool, B, 2)).toBe(E_NOT_OURS);
    expect<u32>(gErrDetail).toBe(0);
    expect<bool>(snap!.same(pool)).toBe(true);
    expect<u32>(lookup(foreign, K_SLAB_OBJ)).toBe(E_OK);
    expect<u32>(poolFree(other, foreign)).toBe(E_OK);
  });

  it("after the rejected bulk frees, every listed object frees individually", () => {
    expect<u32>(freeEach(pool, A, 0, 1000)).toBe(0);
    expect<u32>(outstanding(pool)).toBe(0);
    expect<u32>(checkInvariants(pool)).toBe(0);
  });

  it("poolAllocMany stops at the pool limit and reports how many it got", () => {
    poolSetMax(pool, 250);
    snap = new Counters(pool);
    expect<u32>(poolAllocMany(pool, A, 400)).toBe(250);
    expect<u32>(outstanding(pool)).toBe(250);
    expect<u64>(u64of(pool, P_FAILURES)).toBe(snap!.failures + 1);
    expect<u32>(poolFreeMany(pool, A, 250)).toBe(E_OK);
    poolSetMax(pool, 0xFFFFFFFF);
  });
});

// poolFreeMany checks and pushes each entry in one pass and settles slab lists at the end; on an
// error it pops what it pushed. These lists hop between slabs (A B A), end in a slab that was
// full, and empty whole slabs, with the bad entry placed after several runs.
const SLABS_MAX: u32 = 8;
const TOPS = heapReserve(<usize>SLABS_MAX << 2);
let cap: u32 = 0;
/** The free tops of the (up to 8) slabs holding A[0 .. 8*cap), in slab order. */
function saveTops(): void {
  for (let k: u32 = 0; k < SLABS_MAX; k++) put(TOPS, k, load<u32>(slabOf(at(A, k * cap)) + SL_FREE_TOP));
}
function sameTops(): bool {
  for (let k: u32 = 0; k < SLABS_MAX; k++) if (load<u32>(slabOf(at(A, k * cap)) + SL_FREE_TOP) != at(TOPS, k)) return false;
  return true;
}
/** B = A[from .. from+n) (object k of slab s is A[s*cap + k] after a fresh poolAllocMany). */
function take(dst: u32, from: u32, n: u32): u32 {
  for (let i: u32 = 0; i < n; i++) put(B, dst + i, at(A, from + i));
  return dst + n;
}

describe("bulk free in one pass: runs across slabs, undo, list changes", () => {
  beforeAll(() => {
    resetAll();
    pool = slabPoolCreate(64, 0x4e555242, 0xFFFFFFFF);
    other = slabPoolCreate(64, 0x4e555243, 0xFFFFFFFF);
    cap = u32of(pool, P_CAP);
  });

  it("fills 8 slabs; every slab but the current is full and on no list", () => {
    expect<u32>(poolAllocMany(pool, A, SLABS_MAX * cap)).toBe(SLABS_MAX * cap);
    expect<u32>(u32of(pool, P_SLAB_COUNT)).toBe(SLABS_MAX);
    for (let k: u32 = 0; k < SLABS_MAX; k++) expect<usize>(slabOf(at(A, k * cap))).toBe(slabOf(at(A, k * cap + cap - 1)));
    expect<u32>(checkInvariants(pool)).toBe(0);
  });

  it("a bad entry after runs in slabs 0, 1, 0 and 2 undoes every push", () => {
    let n = take(0, 0, 10);
    n = take(n, cap, 10);
    n = take(n, 10, 10);
    n = take(n, 2 * cap, cap); // slab 2 entirely: it would go from full to empty
    let foreign = poolAlloc(other);
    for (let bad: u32 = 0; bad < 5; bad++) {
      let e: u32 = E_OK;
      if (bad == 0) { put(B, n, at(B, 15)); e = E_DUPLICATE; }                 // twice, in slab 1
      else if (bad == 1) { put(B, n, <u32>foreign); e = E_WRONG_POOL; }         // another pool's object
      else if (bad == 2) { put(B, n, 8); e = E_NOT_OURS; }                      // no slab at all
      else if (bad == 3) { put(B, n, at(A, 3 * cap) + 4); e = E_MISALIGNED; }  // inside an object
      else { put(B, n, at(B, n - 1)); e = E_DUPLICATE; }                        // the last one again
      saveTops();
      snap = new Counters(pool);
      expect<u32>(poolFreeMany(pool, B, n + 1)).toBe(e);
      expect<u32>(gErrDetail).toBe(n);
      expect<u32>(<u32>gErrPtr).toBe(at(B, n));
      expect<bool>(sameTops()).toBe(true);
      expect<bool>(snap!.same(pool)).toBe(true);
      expect<u32>(checkInvariants(pool)).toBe(0);
      expect<u32>(lookupMismatches(B, n, K_SLAB_OBJ, E_OK)).toBe(0);
    }
    expect<u32>(poolFree(other, foreign)).toBe(E_OK);
  });

  it("a freed object (not a duplicate in the list) is E_NOT_ALLOCATED, with the same undo", () => {
    let lone = at(A, 5 * cap + 7);
    expect<u32>(poolFree(pool, lone)).toBe(E_OK);
    let n = take(0, 4 * cap, 50);
    put(B, n, lone);
    saveTops();
    snap = new Counters(pool);
    expect<u32>(poolFreeMany(pool, B, n + 1)).toBe(E_NOT_ALLOCATED);
    expect<bool>(sameTops()).toBe(true);
    expect<bool>(snap!.same(pool)).toBe(true);
    expect<u32>(checkInvariants(pool)).toBe(0);
    expect<usize>(poolAlloc(pool)).toBe(lone); // LIFO: the only free slot of a full slab
  });

  it("the same list without the bad entry frees: full slabs are listed, an emptied one is spared", () => {
    let n = take(0, 0, 10);
    n = take(n, cap, 10);
    n = take(n, 10, 10);
    n = take(n, 2 * cap, cap);
    let emptied = slabOf(at(A, 2 * cap));
    let out = outstanding(pool);
    expect<u32>(u32of(pool, P_SPARE)).toBe(0);
    expect<u32>(poolFreeMany(pool, B, n)).toBe(E_OK);
    expect<u32>(outstanding(pool)).toBe(out - n);
    expect<u32>(load<u32>(slabOf(at(A, 0)) + SL_FREE_TOP)).toBe(20);
    expect<u32>(load<u32>(slabOf(at(A, cap)) + SL_FREE_TOP)).toBe(10);
    expect<usize>(<usize>u32of(pool, P_SPARE)).toBe(emptied);
    expect<u32>(checkInvariants(pool)).toBe(0);
  });

  it("emptying two more slabs in one call keeps one spare and releases the other", () => {
    let slabs = u32of(pool, P_SLAB_COUNT);
    let n = take(0, 3 * cap, cap);
    n = take(n, 4 * cap, cap);
    expect<u32>(poolFreeMany(pool, B, n)).toBe(E_OK);
    expect<u32>(u32of(pool, P_SLAB_COUNT)).toBe(slabs - 2); // the old spare stays; both new empties go
    expect<u32>(checkInvariants(pool)).toBe(0);
  });

  it("unchecked frees keep the same invariants (valid input)", () => {
    let n = take(0, 6 * cap, 30);
    expect<u32>(poolFreeManyUnchecked(pool, B, n)).toBe(E_OK);
    expect<u32>(poolFreeUnchecked(pool, at(A, 6 * cap + 40))).toBe(E_OK);
    expect<u32>(checkInvariants(pool)).toBe(0);
    put(B, 0, 8);
    snap = new Counters(pool);
    expect<u32>(poolFreeManyUnchecked(pool, B, 1)).toBe(E_NOT_OURS); // outside every slab: refused
    expect<u32>(poolFreeUnchecked(pool, 8)).toBe(E_NOT_OURS);
    expect<bool>(snap!.same(pool)).toBe(true);
  });
});

describe("counters", () => {
  beforeAll(() => {
    resetAll();
    pool = slabPoolCreate(56, 0x544e4355, 0xFFFFFFFF);
  });

  it("track allocs, frees, outstanding, peak and bytes over a sequence", () => {
    for (let i: u32 = 0; i < 10; i++) put(A, i, <u32>poolAlloc(pool));
    for (let i: u32 = 0; i < 4; i++) expect<u32>(poolFree(pool, at(A, i))).toBe(E_OK);
    for (let i: u32 = 0; i < 3; i++) put(A, i, <u32>poolAlloc(pool));
    expect<u64>(u64of(pool, P_ALLOCS)).toBe(13);
    expect<u64>(u64of(pool, P_FREES)).toBe(4);
    expect<u32>(outstanding(pool)).toBe(9);
    expect<u32>(u32of(pool, P_PEAK)).toBe(10);
    expect<u64>(u64of(pool, P_FAILURES)).toBe(0);
    expect<u64>(u64of(pool, P_BYTES)).toBe(9 * 56);
    expect<u64>(u64of(pool, P_BYTES)).toBe(<u64>outstanding(pool) * u32of(pool, P_OBJ_SIZE));
    // peak rises only past its old value
    for (let i: u32 = 10; i < 15; i++) put(A, i, <u32>poolAlloc(pool));
    expect<u32>(outstanding(pool)).toBe(14);
    expect<u32>(u32of(pool, P_PEAK)).toBe(14);
    expect<u32>(poolFree(pool, at(A, 14))).toBe(E_OK);
    expect<u32>(u32of(pool, P_PEAK)).toBe(14);
    expect<u64>(u64of(pool, P_BYTES)).toBe(13 * 56);
    expect<u32>(checkInvariants(pool)).toBe(0);
  });

  it("maxOutstanding: alloc returns 0 at the limit, failures count, and it works again after a free", () => {
    expect<u32>(outstanding(pool)).toBe(13);
    poolSetMax(pool, 15);
    expect<u32>(u32of(pool, P_MAX_OUT)).toBe(15);
    put(A, 14, <u32>poolAlloc(pool)); // 13 -> 14
    put(A, 15, <u32>poolAlloc(pool)); // 14 -> 15
    expect<u32>(at(A, 14)).toBeGreaterThan(0);
    expect<u32>(at(A, 15)).toBeGreaterThan(0);
    let before = u64of(pool, P_FAILURES);
    let allocs = u64of(pool, P_ALLOCS);
    expect<usize>(poolAlloc(pool)).toBe(0);
    expect<usize>(poolAlloc(pool)).toBe(0);
    expect<u64>(u64of(pool, P_FAILURES)).toBe(before + 2);
    expect<u64>(u64of(pool, P_ALLOCS)).toBe(allocs);
    expect<u32>(outstanding(pool)).toBe(15);
    expect<u32>(u32of(pool, P_PEAK)).toBe(15);
    expect<u32>(poolFree(pool, at(A, 0))).toBe(E_OK);
    let again = poolAlloc(pool);
    expect<usize>(again).toBe(at(A, 0)); // LIFO
    expect<usize>(poolAlloc(pool)).toBe(0);
    expect<u64>(u64of(pool, P_FAILURES)).toBe(before + 3);
    poolSetMax(pool, 0xFFFFFFFF);
    expect<usize>(poolAlloc(pool)).toBeGreaterThan(0);
    expect<u32>(outstanding(pool)).toBe(16);
    expect<u32>(checkInvariants(pool)).toBe(0);
  });

  it("a limit at a slab boundary does not open a new slab", () => {
    let lp = slabPoolCreate(64, 0x54494d4c, 0xFFFFFFFF);
    let cap = u32of(lp, P_CAP);
    poolSetMax(lp, cap);
    expect<u32>(poolAllocMany(lp, A, cap + 5)).toBe(cap);
    expect<u32>(u32of(lp, P_SLAB_COUNT)).toBe(1);
    expect<u64>(u64of(lp, P_FAILURES)).toBe(1);
  });

  it("slabPoolCreate applies its maxOutstanding argument", () => {
    let lp = slabPoolCreate(8, 0x54494d32, 3);
    expect<usize>(poolAlloc(lp)).toBeGreaterThan(0);
    expect<usize>(poolAlloc(lp)).toBeGreaterThan(0);
    expect<usize>(poolAlloc(lp)).toBeGreaterThan(0);
    expect<usize>(poolAlloc(lp)).toBe(0);
    expect<u64>(u64of(lp, P_FAILURES)).toBe(1);
  });

  it("large-object pools count bytes by slot size and release each slab on free", () => {
    let lp = slabPoolCreate(SHARED_OBJECT_MAX + 8, 0x4752414c, 0xFFFFFFFF);
    let a = poolAlloc(lp);
    let b = poolAlloc(lp);
    expect<usize>(a).toBeGreaterThan(0);
    expect<usize>(b).toBeGreaterThan(0);
    expect<u64>(u64of(lp, P_BYTES)).toBe(2 * (<u64>SHARED_OBJECT_MAX + 8));
    expect<u32>(u32of(lp, P_SLAB_COUNT)).toBe(2);
    let freeBefore = unitsFreeCount();
    expect<u32>(poolFree(lp, a)).toBe(E_OK);
    expect<u32>(unitsFreeCount()).toBeGreaterThan(freeBefore);
    expect<u32>(u32of(lp, P_SLAB_COUNT)).toBe(1);
    expect<u64>(u64of(lp, P_BYTES)).toBe(<u64>SHARED_OBJECT_MAX + 8);
    expect<u32>(checkInvariants(lp)).toBe(0);
  });
});

describe("empty slabs go back to the page source, with hysteresis", () => {
  beforeAll(() => {
    resetAll();
    pool = slabPoolCreate(64, 0x54535948, 0xFFFFFFFF);
    other = slabPoolCreate(64, 0x54535949, 0xFFFFFFFF);
  });

  it("freeing everything (in address order) keeps at most current + one spare", () => {
    let cap = u32of(pool, P_CAP);
    let n = cap * 12 + 7;
    expect<u32>(poolAllocMany(pool, A, n)).toBe(n);
    expect<u32>(u32of(pool, P_SLAB_COUNT)).toBe(13);
    let freeBefore = unitsFreeCount();
    expect<u32>(freeEach(pool, A, 0, n)).toBe(0);
    expect<u32>(u32of(pool, P_SLAB_COUNT)).toBeLessThanOrEqual(2);
    expect<u32>(u32of(pool, P_SLAB_COUNT)).toBeGreaterThanOrEqual(1);
    let units = u32of(pool, P_SLAB_UNITS);
    expect<u32>(unitsFreeCount() - freeBefore).toBeGreaterThanOrEqual(11 * units);
    expect<u32>(checkInvariants(pool)).toBe(0);
  });

  it("the freed units are reused by another pool without growing memory", () => {
    let cap = u32of(other, P_CAP);
    let capPool = u32of(pool, P_CAP);
    let n = cap * 10;
    let freeBefore = unitsFreeCount();
    let ownedBefore = unitsOwned();
    let pagesBefore = memory.size();
    expect<u32>(poolAllocMany(other, B, n)).toBe(n);
    expect<u32>(unitsFreeCount()).toBeLessThan(freeBefore);
    expect<u32>(freeBefore - unitsFreeCount()).toBe(10 * u32of(other, P_SLAB_UNITS));
    expect<u32>(unitsOwned()).toBe(ownedBefore);
    expect<i32>(memory.size()).toBe(pagesBefore);
    // some of other's objects lie where pool's objects were
    let reused: u32 = 0;
    for (let i: u32 = 0; i < n; i += cap) {
      let base = slabOf(at(B, i));
      // A still lists pool's former objects; index j * capPool was the first object of a slab
      for (let j: u32 = 0; j < capPool * 12; j += capPool) if ((at(A, j) & ~<u32>UNIT_MASK) == <u32>base) reused++;
    }
    expect<u32>(reused).toBeGreaterThan(0);
    expect<u32>(poolFreeMany(other, B, n)).toBe(E_OK);
    expect<u32>(u32of(other, P_SLAB_COUNT)).toBeLessThanOrEqual(2);
  });

  it("freeing in reverse and interleaved orders also keeps at most 2 slabs", () => {
    let cap = u32of(pool, P_CAP);
    let n = cap * 8 + 3;
    expect<u32>(poolAllocMany(pool, A, n)).toBe(n);
    expect<u32>(freeEachReverse(pool, A, n)).toBe(0);
    expect<u32>(u32of(pool, P_SLAB_COUNT)).toBeLessThanOrEqual(2);
    expect<u32>(checkInvariants(pool)).toBe(0);
    expect<u32>(poolAllocMany(pool, A, n)).toBe(n);
    // evens, then odds: every slab passes through "partial" before it empties
    expect<u32>(freeEach(pool, A, 0, n, 2)).toBe(0);
    expect<u32>(checkInvariants(pool)).toBe(0);
    expect<u32>(freeEach(pool, A, 1, n, 2)).toBe(0);
    expect<u32>(u32of(pool, P_SLAB_COUNT)).toBeLessThanOrEqual(2);
    expect<u32>(outstanding(pool)).toBe(0);
    expect<u32>(checkInvariants(pool)).toBe(0);
  });

  it("the kept slabs serve the next burst without taking new units", () => {
    let cap = u32of(pool, P_CAP);
    let slabs = u32of(pool, P_SLAB_COUNT);
    let freeBefore = unitsFreeCount();
    expect<u32>(poolAllocMany(pool, A, cap * slabs)).toBe(cap * slabs);
    expect<u32>(u32of(pool, P_SLAB_COUNT)).toBe(slabs);
    expect<u32>(unitsFreeCount()).toBe(freeBefore);
    expect<u32>(poolFreeMany(pool, A, cap * slabs)).toBe(E_OK);
  });

  it("resetAll returns every unit to the page source", () => {
    let p1 = slabPoolCreate(128, 0x52535452, 0xFFFFFFFF);
    expect<u32>(poolAllocMany(p1, A, 5000)).toBe(5000);
    expect<u32>(unitsFreeCount()).toBeLessThan(unitsOwned());
    resetAll();
    expect<u32>(unitsFreeCount()).toBe(unitsOwned());
    expect<u32>(lookup(at(A, 0), 0)).toBe(E_NOT_OURS);
  });
});
