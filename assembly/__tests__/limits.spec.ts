// Size limits (DESIGN D6: exhaustion is NULL, never a wrap-around). Requests that cannot fit in
// a 32-bit address space must return NULL (0) and leave the allocator intact. Its own Wasm
// instance: a failure here may leave the page maps damaged, so nothing else runs after it.
import {
  P_FAILURES, P_OUTSTANDING, P_OBJ_SIZE, E_OK, UNIT_SIZE, MAX_UNITS, MDAT_DATA, K_MEMORY,
} from "../layout";
import {
  init, protocolRegister, memoryAllocate, memoryFree, slabPoolCreate, nbPoolCreate,
  nbAllocateMdlAndData, unitsOwned, unitsFreeCount,
} from "../index";
import { unitsTop } from "../pages";
import { poolAlloc, poolFree, lookup, lookedUpSize } from "../slab";
import { u32of, u64of } from "./util";

const ROOT_ADDR = init(1024);
const TAG: u32 = 0x4d494c31; // '1LIM'
let prot: usize = 0;

/** Slot size of the live object at `p` (0 when `p` is not a live object). */
function slotOf(p: usize): u32 {
  return lookup(p, 0) == E_OK ? lookedUpSize() : 0;
}

describe("requests too large for the address space", () => {
  it("setup", () => {
    expect<usize>(ROOT_ADDR).toBeGreaterThan(0);
    prot = protocolRegister(0, 0, 0, 0);
    expect<usize>(prot).toBeGreaterThanOrEqual(UNIT_SIZE);
  });

  it("slabPoolCreate refuses sizes it cannot serve; a huge pool fails its allocations with NULL", () => {
    expect<usize>(slabPoolCreate(0xFFFFFFFF, TAG, 0xFFFFFFFF)).toBe(0);
    let huge = slabPoolCreate(0xFFF00000, TAG, 0xFFFFFFFF);
    expect<usize>(huge).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<usize>(poolAlloc(huge)).toBe(0);
    expect<u64>(u64of(huge, P_FAILURES)).toBe(1);
    expect<u32>(u32of(huge, P_OUTSTANDING)).toBe(0);
  });

  it("nbPoolCreate with a DataSize beyond 4 GiB is NULL; a near-4 GiB DataSize pool allocates NULL", () => {
    expect<usize>(nbPoolCreate(0, TAG, 0xFFFFFFFF, 0)).toBe(0);
    expect<usize>(nbPoolCreate(0, TAG, 0xFFF00000 - MDAT_DATA + 1, 0)).toBe(0);
    let h = nbPoolCreate(0, TAG, 0xFFE00000, 0);
    expect<usize>(h).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<usize>(nbAllocateMdlAndData(h)).toBe(0);
    expect<u64>(u64of(h, P_FAILURES)).toBe(1);
  });

  it("memoryAllocate of 2 GiB and of 1 GiB is NULL (over budget)", () => {
    expect<usize>(memoryAllocate(prot, 0x80000000, TAG)).toBe(0);
    expect<usize>(memoryAllocate(prot, 0x40000000, TAG)).toBe(0);
  });

  it("memoryAllocate(0xFFFFFFFF) is NULL, not an 8-byte block", () => {
    let m = memoryAllocate(prot, 0xFFFFFFFF, TAG);
    // a non-NULL result must at least be as large as requested
    if (m != 0) expect<u32>(slotOf(m)).toBeGreaterThanOrEqual(0xFFFFFFFF);
    expect<usize>(m).toBe(0);
  });

  it("memoryAllocate(0xFFFFFFF9) is NULL, not an 8-byte block", () => {
    let m = memoryAllocate(prot, 0xFFFFFFF9, TAG);
    if (m != 0) expect<u32>(slotOf(m)).toBeGreaterThanOrEqual(0xFFFFFFF9);
    expect<usize>(m).toBe(0);
  });

  it("the allocator still works after the refused requests", () => {
    let m = memoryAllocate(prot, 40, TAG);
    expect<usize>(m).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(lookup(m, K_MEMORY)).toBe(E_OK);
    expect<u32>(memoryFree(prot, m, TAG)).toBe(E_OK);
    let p = slabPoolCreate(64, TAG, 0xFFFFFFFF);
    let o = poolAlloc(p);
    expect<usize>(o).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(u32of(p, P_OBJ_SIZE)).toBe(64);
    expect<u32>(poolFree(p, o)).toBe(E_OK);
  });

  // Last: on failure this request corrupts the page maps of this instance.
  it("memoryAllocate(0xFFFFFF00) is NULL and leaves the page maps intact", () => {
    let ownedBefore = unitsOwned();
    let freeBefore = unitsFreeCount();
    let m = memoryAllocate(prot, 0xFFFFFF00, TAG);
    let owned = unitsOwned();
    let free = unitsFreeCount();
    let top = unitsTop();
    expect<u32>(owned).toBeLessThanOrEqual(MAX_UNITS);
    expect<u32>(top).toBeLessThanOrEqual(MAX_UNITS);
    expect<u32>(free).toBeLessThanOrEqual(owned);
    // a refused request may take a chunk from the heap, but never 4 GiB worth of units
    expect<u32>(owned - ownedBefore).toBeLessThan(1024);
    expect<u32>(free).toBeGreaterThanOrEqual(freeBefore);
    expect<usize>(m).toBe(0);
  });
});
