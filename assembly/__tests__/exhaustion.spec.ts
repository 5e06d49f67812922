// Exhaustion (DESIGN D5, D6): with a small memory budget, allocation returns NULL (0) and never
// traps; failures are counted; freed objects are handed out again afterwards.
import {
  P_OUTSTANDING, P_FAILURES, P_ALLOCS, P_FREES, P_BYTES, P_OBJ_SIZE, P_SLAB_COUNT,
  E_OK, UNIT_SIZE, ROOT_PROTOCOLS, ROOT_SLAB_POOLS, ROOT_TAG_SETS, P_SLAB_UNITS,
} from "../layout";
import { init, slabPoolCreate, maxPagesGet, protocolRegister, nbPoolCreate, nbAllocate, rootPool } from "../index";
import { heapReserve, unitsFreeCount, unitsOwned } from "../pages";
import { poolAlloc, poolFree, poolAllocMany, poolFreeMany } from "../slab";
import { at, put, u32of, u64of, minGap, checkInvariants, freeEach, badPointers } from "./util";

const TOO_SMALL = init(2); // the runtime's tables alone need more than 2 pages
const BUDGET: u32 = 64;    // 4 MiB
const ROOT_ADDR = init(BUDGET);
const MAXN: u32 = 80000;
const A = heapReserve(<usize>MAXN << 2);
const B = heapReserve(<usize>MAXN << 2);

let pool: usize = 0;
let n: u32 = 0;
let failuresAtEnd: u64 = 0;

describe("small budget", () => {
  it("init refuses a budget too small for its tables, then accepts 64 pages", () => {
    expect<usize>(TOO_SMALL).toBe(0);
    expect<usize>(ROOT_ADDR).toBeGreaterThan(0);
    expect<u32>(maxPagesGet()).toBe(BUDGET);
    expect<usize>(A).toBeGreaterThan(0);
    expect<usize>(B).toBeGreaterThan(0);
  });

  it("heapReserve over the budget returns 0 instead of growing", () => {
    let pages = memory.size();
    expect<usize>(heapReserve(<usize>BUDGET << 16)).toBe(0);
    expect<i32>(memory.size()).toBe(pages);
  });

  it("allocating 64 B objects until NULL returns 0 without trapping, within the budget", () => {
    pool = slabPoolCreate(64, 0x54534858, 0xFFFFFFFF);
    expect<usize>(pool).toBeGreaterThan(0);
    n = 0;
    while (n < MAXN) {
      let o = poolAlloc(pool);
      if (o == 0) break;
      put(A, n++, <u32>o);
    }
    expect<u32>(n).toBeLessThan(MAXN); // it did run out
    // it served most of the budget: at least 32 units' worth of 64-byte objects
    expect<u32>(n).toBeGreaterThan(32 * 900);
    expect<i32>(memory.size()).toBeLessThanOrEqual(<i32>BUDGET);
    expect<u64>(u64of(pool, P_FAILURES)).toBe(1);
    expect<u32>(u32of(pool, P_OUTSTANDING)).toBe(n);
    expect<u64>(u64of(pool, P_ALLOCS)).toBe(n);
    expect<u32>(badPointers(A, n)).toBe(0);
    expect<u32>(minGap(A, B, n)).toBeGreaterThanOrEqual(64);
    expect<u32>(checkInvariants(pool)).toBe(0);
  });

  it("keeps returning 0 and counting failures while exhausted", () => {
    for (let i: u32 = 0; i < 10; i++) expect<usize>(poolAlloc(pool)).toBe(0);
    expect<u64>(u64of(pool, P_FAILURES)).toBe(11);
    expect<u32>(poolAllocMany(pool, B, 100)).toBe(0);
    expect<u64>(u64of(pool, P_FAILURES)).toBe(12);
    expect<u32>(u32of(pool, P_OUTSTANDING)).toBe(n);
    failuresAtEnd = u64of(pool, P_FAILURES);
  });

  it("other pools and the NDIS side get NULL too, never a trap", () => {
    // a new pool's descriptor fits in the existing descriptor slab, but its 1 MiB object does not
    let big = slabPoolCreate(1024 * 1024, 0x47494258, 0xFFFFFFFF);
    expect<usize>(big).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<usize>(poolAlloc(big)).toBe(0);
    expect<usize>(poolAlloc(big)).toBe(0);
    expect<u64>(u64of(big, P_FAILURES)).toBe(2);
    expect<u32>(u32of(big, P_OUTSTANDING)).toBe(0);
    // the protocol-record root pool has no slab yet and cannot get one
    let protos = rootPool(ROOT_PROTOCOLS);
    let before = u64of(protos, P_FAILURES);
    expect<usize>(protocolRegister(1, 0, 0, 0)).toBe(0);
    expect<u64>(u64of(protos, P_FAILURES)).toBe(before + 1);
  });

  it("after freeing some objects, allocation works again (and reuses exactly those)", () => {
    // free the last 500 objects
    expect<u32>(freeEach(pool, A, n - 500, n)).toBe(0);
    expect<u32>(u32of(pool, P_OUTSTANDING)).toBe(n - 500);
    expect<u32>(poolAllocMany(pool, B, 500)).toBe(500);
    expect<u64>(u64of(pool, P_FAILURES)).toBe(failuresAtEnd);
    // exactly the freed objects came back
    memory.copy(B + (<usize>1000 << 2), A + ((<usize>n - 500) << 2), 500 << 2);
    expect<u32>(sameSet(B, B + (<usize>1000 << 2), 500, B + (<usize>2000 << 2), B + (<usize>3000 << 2))).toBe(true);
    expect<usize>(poolAlloc(pool)).toBe(0);
    expect<u64>(u64of(pool, P_FAILURES)).toBe(failuresAtEnd + 1);
  });

  it("freeing everything gives the units back, and a 512 KiB object then fits", () => {
    // B[0..500) holds A[n-500..n) again: free A[0..n-500) and B[0..500)
    expect<u32>(freeEach(pool, A, 0, n - 500)).toBe(0);
    expect<u32>(poolFreeMany(pool, B, 500)).toBe(E_OK);
    expect<u32>(u32of(pool, P_OUTSTANDING)).toBe(0);
    expect<u64>(u64of(pool, P_BYTES)).toBe(0);
    expect<u32>(u32of(pool, P_SLAB_COUNT)).toBeLessThanOrEqual(2);
    // units still in use: this pool's kept slabs, the slab of pool descriptors and the slab of
    // tag sets (the pool's per-tag counter block, reserved when it was created): 1 unit each
    let kept = u32of(pool, P_SLAB_COUNT) + u32of(rootPool(ROOT_SLAB_POOLS), P_SLAB_COUNT) + u32of(rootPool(ROOT_TAG_SETS), P_SLAB_COUNT);
    expect<u32>(u32of(pool, P_SLAB_UNITS)).toBe(1);
    expect<u32>(unitsOwned() - unitsFreeCount()).toBe(kept);
    // (a 512 KiB object needs 9 contiguous units: the page source took its first chunks
    // 16 units at a time, and the second one is now entirely free)
    let big = slabPoolCreate(512 * 1024, 0x47494259, 0xFFFFFFFF);
    let o = poolAlloc(big);
    expect<usize>(o).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(poolFree(big, o)).toBe(E_OK);
    expect<u32>(checkInvariants(pool)).toBe(0);
  });

  it("an NB pool runs out with NULL too", () => {
    let h = nbPoolCreate(0, 0x4e425058, 0, 0);
    expect<usize>(h).toBeGreaterThanOrEqual(UNIT_SIZE);
    let got: u32 = 0;
    let bad: u32 = 0;
    while (got < MAXN) {
      let nb = nbAllocate(h, 0, 0, 0);
      if (nb == 0) break;
      if (nb < UNIT_SIZE) { bad++; break; } // an error code would be a bug here
      got++;
    }
    expect<u32>(bad).toBe(0);
    expect<u32>(got).toBeLessThan(MAXN);
    expect<u32>(got).toBeGreaterThan(1000);
    expect<u64>(u64of(h, P_FAILURES)).toBe(1);
    expect<u32>(u32of(h, P_OUTSTANDING)).toBe(got);
  });
});

/** True when the n u32 values at x and y are the same set (sorted copies at tx, ty compared). */
function sameSet(x: usize, y: usize, count: u32, tx: usize, ty: usize): bool {
  minGap(x, tx, count);
  minGap(y, ty, count);
  for (let i: u32 = 0; i < count; i++) if (at(tx, i) != at(ty, i)) return false;
  return true;
}
