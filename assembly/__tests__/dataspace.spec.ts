// Data space (dataspace.ts): nbRetreatFast (E_NEED_ALLOC / E_STATUS_FAILURE), retreatAllocDefault
// and retreatFreeDefault, nbPrepend (default and handler MDLs, E_BAD_HANDLER_MDL), nbAdvance
// (E_ADV1, E_ADV2, freeing retreat MDLs, the handler list in dsResult), nbAdjust, nbGetDataBuffer
// (E_GDB1), nbCopy and nbPhysicalCount, with exact field values (NDIS-SPEC §5; DESIGN 1-4, 14, 21).
import {
  NB_CURRENT_MDL, NB_CURRENT_MDL_OFFSET, NB_DATA_LENGTH, NB_MDL_CHAIN, NB_DATA_OFFSET,
  MDL_NEXT, MDL_FLAGS, MDL_START_VA, MDL_BYTE_COUNT, MDL_BYTE_OFFSET, MDL_NETWORK_HEADER,
  P_TAG, P_OUTSTANDING, P_ALLOCS, P_FREES, K_MDL, K_MEMORY, K_NB,
  E_OK, E_NOT_OURS, E_WRONG_KIND, E_NOT_ALLOCATED, ARG_SHIFT, E_NB_RANGE, E_MDL_LOOP,
  E_NEED_ALLOC, E_STATUS_FAILURE, E_ADV1, E_ADV2, E_GDB1, E_BAD_HANDLER_MDL,
  MDLR_DEFAULT, MDLR_HANDLER, TAG_RETREAT, PAGE_MASK, UNIT_SIZE,
} from "../layout";
import {
  init, resetAll, errPtr, errDetail, genericAllocate, memoryAllocate, mdlAllocate, mdlFree,
  nbPoolCreate, nbAllocate, nbFree,
  nbRetreatFast, retreatAllocDefault, retreatFreeDefault, retreatReleaseHandlerMdl, nbPrepend,
  nbAdvance, nbAdjust, nbGetDataBuffer, nbCopy, nbPhysicalCount, dsResult,
} from "../index";
import { lookup, lookedUpAux, lookedUpPool } from "../slab";
import { u32of, u64of } from "./util";

const ROOT_ADDR = init(1024); // 64 MiB

const TAG_GEN: u32 = 0x206e6547; // 'Gen '
const TAG_BUF: u32 = 0x66754273; // 'sBuf'
const TAG_NB: u32 = 0x4453424e;  // 'NBSD'

let g: usize = 0;
let pool: usize = 0;
// The standard NB: m1 (64 bytes over va1) -> m2 (128 bytes over va2), DataOffset 10, DataLength 150.
let va1: usize = 0;
let va2: usize = 0;
let m1: usize = 0;
let m2: usize = 0;
let nb: usize = 0;

function argErr(arg: u32, e: u32): u32 { return (arg << ARG_SHIFT) | e; }

/** Byte `i` of the pattern `salt`. */
function pat(salt: u32, i: u32): u8 { return <u8>((i * 31 + salt * 7 + 1) & 0xFF); }

/** `len` bytes of tagged memory holding the pattern of `salt`. */
function buf(len: u32, salt: u32): usize {
  let va = memoryAllocate(g, len > 0 ? len : 1, TAG_BUF);
  for (let i: u32 = 0; i < len; i++) store<u8>(va + i, pat(salt, i));
  return va;
}

function f(p: usize, off: u32): u32 { return load<u32>(p + off); }

/** Side word `w` of a live MDL (0: owner handle, 1: MDLR_* flags, 2: default buffer). */
function aux(mdl: usize, w: u32): u32 {
  if (lookup(mdl, K_MDL) != E_OK) return 0xDEAD;
  return load<u32>(lookedUpAux(w));
}

/** Outstanding count of the pool holding the live memory block `va` (0xDEAD when not live). */
function memOutstanding(va: usize): u32 {
  if (lookup(va, K_MEMORY) != E_OK) return 0xDEAD;
  return u32of(lookedUpPool(), P_OUTSTANDING);
}

/** Fresh runtime state and the standard NB. */
function fixture(): void {
  resetAll();
  g = genericAllocate(0, TAG_GEN, 0);
  pool = nbPoolCreate(g, TAG_NB, 0, 0);
  va1 = buf(64, 1);
  va2 = buf(128, 2);
  m1 = mdlAllocate(g, va1, 64);
  m2 = mdlAllocate(g, va2, 128);
  store<u32>(m1 + MDL_NEXT, <u32>m2);
  nb = nbAllocate(pool, m1, 10, 150);
}

/** True when the five data-space fields of `p` are exactly these. */
function fieldsAre(p: usize, chain: usize, cur: usize, curOff: u32, off: u32, len: u32): bool {
  return f(p, NB_MDL_CHAIN) == <u32>chain && f(p, NB_CURRENT_MDL) == <u32>cur
    && f(p, NB_CURRENT_MDL_OFFSET) == curOff && f(p, NB_DATA_OFFSET) == off && f(p, NB_DATA_LENGTH) == len;
}

/** Logical byte `pos` of the used data of `p` (walks the chain). */
function usedByte(p: usize, pos: u32): i32 {
  let o = f(p, NB_DATA_OFFSET) + pos;
  let m = <usize>f(p, NB_MDL_CHAIN);
  while (m != 0) {
    let bc = f(m, MDL_BYTE_COUNT);
    if (o < bc) return <i32>load<u8>(<usize>f(m, MDL_START_VA) + f(m, MDL_BYTE_OFFSET) + o);
    o -= bc;
    m = <usize>f(m, MDL_NEXT);
  }
  return -1;
}

describe("setup", () => {
  it("init succeeds and the fixture builds", () => {
    expect<usize>(ROOT_ADDR).toBeGreaterThan(0);
    fixture();
    expect<usize>(g).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<usize>(pool).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<usize>(m1).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<usize>(nb).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<bool>(fieldsAre(nb, m1, m1, 10, 10, 150)).toBe(true);
  });
});

describe("nbRetreatFast", () => {
  beforeEach(() => { fixture(); });

  it("moves DataOffset back within the unused space, Delta == DataOffset included (decision 1)", () => {
    expect<u32>(nbRetreatFast(nb, 4)).toBe(E_OK);
    expect<bool>(fieldsAre(nb, m1, m1, 6, 6, 154)).toBe(true);
    expect<u32>(nbRetreatFast(nb, 6)).toBe(E_OK);
    expect<bool>(fieldsAre(nb, m1, m1, 0, 0, 160)).toBe(true);
    expect<u32>(nbRetreatFast(nb, 0)).toBe(E_OK);
    expect<bool>(fieldsAre(nb, m1, m1, 0, 0, 160)).toBe(true);
  });

  it("moves the current pair back onto an earlier MDL", () => {
    store<u32>(nb + NB_DATA_OFFSET, 100);
    store<u32>(nb + NB_DATA_LENGTH, 50);
    expect<u32>(nbAdjust(nb)).toBe(E_OK);
    expect<bool>(fieldsAre(nb, m1, m2, 36, 100, 50)).toBe(true);
    expect<u32>(nbRetreatFast(nb, 36)).toBe(E_OK);
    expect<bool>(fieldsAre(nb, m1, m2, 0, 64, 86)).toBe(true);
    expect<u32>(nbRetreatFast(nb, 1)).toBe(E_OK);
    expect<bool>(fieldsAre(nb, m1, m1, 63, 63, 87)).toBe(true);
  });

  it("returns E_NEED_ALLOC (55) when Delta > DataOffset and changes nothing", () => {
    expect<u32>(E_NEED_ALLOC).toBe(55);
    expect<u32>(nbRetreatFast(nb, 11)).toBe(E_NEED_ALLOC);
    expect<bool>(fieldsAre(nb, m1, m1, 10, 10, 150)).toBe(true);
    // An NB with no chain: any Delta > 0 needs an MDL; 0 is a no-op.
    let empty = nbAllocate(pool, 0, 0, 0);
    expect<u32>(nbRetreatFast(empty, 0)).toBe(E_OK);
    expect<bool>(fieldsAre(empty, 0, 0, 0, 0, 0)).toBe(true);
    expect<u32>(nbRetreatFast(empty, 1)).toBe(E_NEED_ALLOC);
    expect<bool>(fieldsAre(empty, 0, 0, 0, 0, 0)).toBe(true);
  });

  it("returns E_STATUS_FAILURE (56) when DataLength + Delta > 0xFFFFFFFF, before E_NEED_ALLOC", () => {
    expect<u32>(E_STATUS_FAILURE).toBe(56);
    // A chain that claims 0xFFFFFFFF + 128 bytes (only ByteCount is consulted; no data is read).
    store<u32>(m1 + MDL_BYTE_COUNT, 0xFFFFFFFF);
    let big = nbAllocate(pool, m1, 0x100, 0xFFFFFF00);
    expect<usize>(big).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(nbRetreatFast(big, 0x100)).toBe(E_STATUS_FAILURE);
    expect<u32>(nbRetreatFast(big, 0x200)).toBe(E_STATUS_FAILURE);
    expect<bool>(fieldsAre(big, m1, m1, 0x100, 0x100, 0xFFFFFF00)).toBe(true);
    expect<u32>(nbRetreatFast(big, 0xFF)).toBe(E_OK);
    expect<bool>(fieldsAre(big, m1, m1, 1, 1, 0xFFFFFFFF)).toBe(true);
    expect<u32>(nbRetreatFast(big, 1)).toBe(E_STATUS_FAILURE);
    store<u32>(m1 + MDL_BYTE_COUNT, 64);
  });

  it("checks the NB and its chain: not an NB, a freed NB, a looped chain, fields beyond the chain", () => {
    expect<u32>(nbRetreatFast(m1, 1)).toBe(argErr(0, E_WRONG_KIND));
    expect<u32>(nbRetreatFast(12345, 1)).toBe(argErr(0, E_NOT_OURS));
    let other = nbAllocate(pool, 0, 0, 0);
    expect<u32>(nbFree(other)).toBe(E_OK);
    expect<u32>(nbRetreatFast(other, 1)).toBe(argErr(0, E_NOT_ALLOCATED));
    // NB-CONS: DataOffset + DataLength beyond the 192 bytes of the chain.
    store<u32>(nb + NB_DATA_LENGTH, 183);
    expect<u32>(nbRetreatFast(nb, 1)).toBe(E_NB_RANGE);
    expect<usize>(errPtr()).toBe(nb);
    expect<u32>(errDetail()).toBe(192);
    expect<u32>(f(nb, NB_DATA_OFFSET)).toBe(10);
    store<u32>(nb + NB_DATA_LENGTH, 150);
    // A loop.
    store<u32>(m2 + MDL_NEXT, <u32>m1);
    expect<u32>(nbRetreatFast(nb, 1)).toBe(E_MDL_LOOP);
    expect<bool>(fieldsAre(nb, m1, m1, 10, 10, 150)).toBe(true);
    store<u32>(m2 + MDL_NEXT, 0);
  });
});

describe("retreatAllocDefault / retreatFreeDefault", () => {
  beforeEach(() => { fixture(); });

  it("allocates an MDL over a new 'NdRt' buffer of exactly `size` bytes, marked MDLR_DEFAULT", () => {
    let d = retreatAllocDefault(64);
    expect<usize>(d).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(lookup(d, K_MDL)).toBe(E_OK);
    expect<u32>(f(d, MDL_BYTE_COUNT)).toBe(64);
    expect<u32>(f(d, MDL_NEXT)).toBe(0);
    expect<u16>(load<u16>(d + MDL_FLAGS) & MDL_NETWORK_HEADER).toBe(MDL_NETWORK_HEADER);
    expect<u32>(aux(d, 0)).toBe(0);
    expect<u32>(aux(d, 1)).toBe(MDLR_DEFAULT);
    let b = <usize>aux(d, 2);
    expect<u32>(f(d, MDL_START_VA) + f(d, MDL_BYTE_OFFSET)).toBe(<u32>b);
    expect<u32>(f(d, MDL_BYTE_OFFSET)).toBe(<u32>(b & PAGE_MASK));
    expect<u32>(lookup(b, K_MEMORY)).toBe(E_OK);
    let p = lookedUpPool();
    expect<u32>(u32of(p, P_TAG)).toBe(TAG_RETREAT);
    expect<u32>(u32of(p, P_OUTSTANDING)).toBe(1);
    // A second one shares the tag's size class.
    let d2 = retreatAllocDefault(64);
    expect<u32>(f(d2, MDL_BYTE_COUNT)).toBe(64);
    expect<u32>(memOutstanding(<usize>aux(d2, 2))).toBe(2);

    expect<u32>(retreatFreeDefault(d)).toBe(E_OK);
    expect<u32>(lookup(d, K_MDL)).toBe(E_NOT_ALLOCATED);
    expect<u32>(lookup(b, K_MEMORY)).toBe(E_NOT_ALLOCATED);
    expect<u32>(u32of(p, P_OUTSTANDING)).toBe(1);
    expect<u64>(u64of(p, P_ALLOCS)).toBe(2);
    expect<u64>(u64of(p, P_FREES)).toBe(1);
    expect<u32>(retreatFreeDefault(d2)).toBe(E_OK);
    expect<u32>(u32of(p, P_OUTSTANDING)).toBe(0);
  });

  it("returns 0 when no buffer can be had", () => {
    expect<usize>(retreatAllocDefault(0xFFF00001)).toBe(0);
    expect<usize>(retreatAllocDefault(0xF0000000)).toBe(0);
  });

  it("retreatFreeDefault refuses MDLs it does not own (E_ADV2) and dead pointers; mdlFree refuses default MDLs (E_ADV2)", () => {
    expect<u32>(retreatFreeDefault(m1)).toBe(E_ADV2);
    expect<u32>(lookup(m1, K_MDL)).toBe(E_OK);
    expect<u32>(retreatFreeDefault(nb)).not.toBe(E_OK);
    let d = retreatAllocDefault(16);
    expect<u32>(mdlFree(d)).toBe(E_ADV2);
    expect<usize>(errPtr()).toBe(d);
    expect<u32>(lookup(d, K_MDL)).toBe(E_OK);
    expect<u32>(retreatFreeDefault(d)).toBe(E_OK);
    expect<u32>(retreatFreeDefault(d)).not.toBe(E_OK); // already freed
    expect<u32>(lookup(d, K_MDL)).toBe(E_NOT_ALLOCATED);
  });
});

describe("nbPrepend", () => {
  beforeEach(() => { fixture(); });

  it("prepends a default MDL: DataOffset' = S + DataOffset - Delta, DataLength' = DataLength + Delta", () => {
    let d = retreatAllocDefault(64);
    expect<u32>(nbPrepend(nb, d, 40, MDLR_DEFAULT)).toBe(E_OK);
    expect<bool>(fieldsAre(nb, d, d, 34, 34, 190)).toBe(true);
    expect<u32>(f(d, MDL_NEXT)).toBe(<u32>m1);
    expect<u32>(aux(d, 1)).toBe(MDLR_DEFAULT);
    // The old used bytes keep their positions (shifted by Delta); the old unused space is used now.
    expect<i32>(usedByte(nb, 40)).toBe(<i32>pat(1, 10));
    expect<i32>(usedByte(nb, 30)).toBe(<i32>pat(1, 0));
    expect<i32>(usedByte(nb, 40 + 149)).toBe(<i32>pat(2, 95));
  });

  it("prepends a handler MDL (MDLR_HANDLER); a larger one leaves the extra as unused space", () => {
    let h = mdlAllocate(g, buf(164, 9), 164);
    expect<u32>(nbPrepend(nb, h, 40, MDLR_HANDLER)).toBe(E_OK);
    expect<bool>(fieldsAre(nb, h, h, 134, 134, 190)).toBe(true);
    expect<u32>(aux(h, 1)).toBe(MDLR_HANDLER);
    expect<u32>(f(h, MDL_NEXT)).toBe(<u32>m1);
    expect<i32>(usedByte(nb, 0)).toBe(<i32>pat(9, 134));
  });

  it("prepends onto an NB without a chain", () => {
    let empty = nbAllocate(pool, 0, 0, 0);
    let d = retreatAllocDefault(32);
    expect<u32>(nbPrepend(empty, d, 20, MDLR_DEFAULT)).toBe(E_OK);
    expect<bool>(fieldsAre(empty, d, d, 12, 12, 20)).toBe(true);
    expect<u32>(f(d, MDL_NEXT)).toBe(0);
  });

  it("E_BAD_HANDLER_MDL (60) for a handler MDL that is linked, already retreat-owned, or too small; nothing changes", () => {
    expect<u32>(E_BAD_HANDLER_MDL).toBe(60);
    let linked = mdlAllocate(g, buf(64, 3), 64);
    let tail = mdlAllocate(g, buf(8, 4), 8);
    store<u32>(linked + MDL_NEXT, <u32>tail);
    expect<u32>(nbPrepend(nb, linked, 40, MDLR_HANDLER)).toBe(E_BAD_HANDLER_MDL);
    expect<usize>(errPtr()).toBe(linked);
    expect<u32>(aux(linked, 1)).toBe(0);
    let d = retreatAllocDefault(64);
    expect<u32>(nbPrepend(nb, d, 40, MDLR_HANDLER)).toBe(E_BAD_HANDLER_MDL);
    let small = mdlAllocate(g, buf(8, 5), 8);
    expect<u32>(nbPrepend(nb, small, 30, MDLR_HANDLER)).toBe(E_BAD_HANDLER_MDL); // 8 + 10 < 30
    expect<usize>(errPtr()).toBe(small);
    expect<u32>(errDetail()).toBe(8);
    expect<u32>(aux(small, 1)).toBe(0);
    expect<bool>(fieldsAre(nb, m1, m1, 10, 10, 150)).toBe(true);
    // A handler MDL used once is retreat-owned: using it again is refused.
    let h = mdlAllocate(g, buf(64, 6), 64);
    expect<u32>(nbPrepend(nb, h, 40, MDLR_HANDLER)).toBe(E_OK);
    let other = nbAllocate(pool, 0, 0, 0);
    store<u32>(h + MDL_NEXT, 0); // even unlinked
    expect<u32>(nbPrepend(other, h, 4, MDLR_HANDLER)).toBe(E_BAD_HANDLER_MDL);
    store<u32>(h + MDL_NEXT, <u32>m1);
    // retreatReleaseHandlerMdl forgets the ownership.
    retreatReleaseHandlerMdl(h);
    expect<u32>(aux(h, 1)).toBe(0);
  });

  it("checks its arguments: not an NB (argument 0), not an MDL (argument 1)", () => {
    let d = retreatAllocDefault(64);
    expect<u32>(nbPrepend(m1, d, 40, MDLR_DEFAULT)).toBe(argErr(0, E_WRONG_KIND));
    expect<u32>(nbPrepend(nb, nb, 40, MDLR_DEFAULT)).toBe(argErr(1, E_WRONG_KIND));
    expect<bool>(fieldsAre(nb, m1, m1, 10, 10, 150)).toBe(true);
  });
});

describe("nbAdvance", () => {
  beforeEach(() => { fixture(); });

  it("moves DataOffset forward; the pair is canonical at a boundary and at the chain end", () => {
    expect<u32>(nbAdvance(nb, 54, false, false)).toBe(E_OK);
    expect<bool>(fieldsAre(nb, m1, m2, 0, 64, 96)).toBe(true);
    expect<u32>(nbAdvance(nb, 96, true, false)).toBe(E_OK);
    expect<bool>(fieldsAre(nb, m1, m2, 96, 160, 0)).toBe(true);
    expect<u32>(dsResult()).toBe(0);
    // To the very end of the chain.
    store<u32>(nb + NB_DATA_LENGTH, 32);
    expect<u32>(nbAdvance(nb, 32, true, true)).toBe(E_OK);
    expect<bool>(fieldsAre(nb, m1, m2, 128, 192, 0)).toBe(true);
  });

  it("E_ADV1 (57) when Delta > DataLength: errPtr = the NB, errDetail = DataLength; nothing changes", () => {
    expect<u32>(E_ADV1).toBe(57);
    expect<u32>(nbAdvance(nb, 151, true, true)).toBe(E_ADV1);
    expect<usize>(errPtr()).toBe(nb);
    expect<u32>(errDetail()).toBe(150);
    expect<bool>(fieldsAre(nb, m1, m1, 10, 10, 150)).toBe(true);
    expect<u32>(nbAdvance(nb, 0xFFFFFFFF, false, false)).toBe(E_ADV1);
    expect<bool>(fieldsAre(nb, m1, m1, 10, 10, 150)).toBe(true);
  });

  it("with freeMdl frees default MDLs once entirely unused; without it keeps them", () => {
    let d = retreatAllocDefault(64);
    let b = <usize>aux(d, 2);
    expect<u32>(nbPrepend(nb, d, 40, MDLR_DEFAULT)).toBe(E_OK); // 34 / 190
    expect<u32>(nbAdvance(nb, 40, false, false)).toBe(E_OK);
    expect<bool>(fieldsAre(nb, d, m1, 10, 74, 150)).toBe(true);
    expect<u32>(lookup(d, K_MDL)).toBe(E_OK);
    expect<u32>(nbRetreatFast(nb, 74)).toBe(E_OK); // reuses the kept space
    expect<bool>(fieldsAre(nb, d, d, 0, 0, 224)).toBe(true);
    expect<u32>(nbAdvance(nb, 63, true, false)).toBe(E_OK); // one byte of d still used
    expect<bool>(fieldsAre(nb, d, d, 63, 63, 161)).toBe(true);
    expect<u32>(nbAdvance(nb, 1, true, false)).toBe(E_OK);
    expect<bool>(fieldsAre(nb, m1, m1, 0, 0, 160)).toBe(true);
    expect<u32>(lookup(d, K_MDL)).toBe(E_NOT_ALLOCATED);
    expect<u32>(lookup(b, K_MEMORY)).toBe(E_NOT_ALLOCATED);
    expect<u32>(dsResult()).toBe(0);
  });

  it("frees several retreat MDLs at the head but never a caller MDL, nor the last MDL", () => {
    expect<u32>(nbRetreatFast(nb, 10)).toBe(E_OK); // 0 / 160
    let d1 = retreatAllocDefault(8);
    expect<u32>(nbPrepend(nb, d1, 8, MDLR_DEFAULT)).toBe(E_OK); // 0 / 168
    let d2 = retreatAllocDefault(20);
    expect<u32>(nbPrepend(nb, d2, 16, MDLR_DEFAULT)).toBe(E_OK); // 4 / 184
    expect<bool>(fieldsAre(nb, d2, d2, 4, 4, 184)).toBe(true);
    expect<u32>(f(d2, MDL_NEXT)).toBe(<u32>d1);
    expect<u32>(nbAdvance(nb, 94, true, false)).toBe(E_OK); // 98 - 20 - 8 = 70: m1 (caller's) stays
    expect<bool>(fieldsAre(nb, m1, m2, 6, 70, 90)).toBe(true);
    expect<u32>(lookup(d1, K_MDL)).toBe(E_NOT_ALLOCATED);
    expect<u32>(lookup(d2, K_MDL)).toBe(E_NOT_ALLOCATED);
    expect<u32>(lookup(m1, K_MDL)).toBe(E_OK);
    // The only MDL of a chain stays even when entirely unused (NdisFreeNetBuffer frees it).
    let empty = nbAllocate(pool, 0, 0, 0);
    let d = retreatAllocDefault(8);
    expect<u32>(nbPrepend(empty, d, 8, MDLR_DEFAULT)).toBe(E_OK);
    expect<u32>(nbAdvance(empty, 8, true, false)).toBe(E_OK);
    expect<bool>(fieldsAre(empty, d, d, 8, 8, 0)).toBe(true);
    expect<u32>(lookup(d, K_MDL)).toBe(E_OK);
    expect<u32>(nbFree(empty)).toBe(E_OK);
    expect<u32>(lookup(d, K_MDL)).toBe(E_NOT_ALLOCATED);
  });

  it("E_ADV2 (58) for a handler MDL to free without a handler (checked before anything changes)", () => {
    expect<u32>(E_ADV2).toBe(58);
    let h = mdlAllocate(g, buf(40, 7), 40);
    expect<u32>(nbPrepend(nb, h, 40, MDLR_HANDLER)).toBe(E_OK); // 10 / 190
    expect<u32>(nbAdvance(nb, 30, true, false)).toBe(E_ADV2);
    expect<usize>(errPtr()).toBe(h);
    expect<bool>(fieldsAre(nb, h, h, 10, 10, 190)).toBe(true);
    expect<u32>(aux(h, 1)).toBe(MDLR_HANDLER);
    // Still partly used: no handler needed.
    expect<u32>(nbAdvance(nb, 29, true, false)).toBe(E_OK);
    expect<bool>(fieldsAre(nb, h, h, 39, 39, 161)).toBe(true);
  });

  it("returns handler MDLs that became unused as a Next-linked list in dsResult, unlinked and no longer retreat-owned", () => {
    let h1 = mdlAllocate(g, buf(40, 7), 40);
    let h2 = mdlAllocate(g, buf(32, 8), 32);
    expect<u32>(nbPrepend(nb, h1, 40, MDLR_HANDLER)).toBe(E_OK); // 10 / 190
    expect<u32>(nbPrepend(nb, h2, 30, MDLR_HANDLER)).toBe(E_OK); // 32 + 10 - 30 = 12 / 220
    expect<bool>(fieldsAre(nb, h2, h2, 12, 12, 220)).toBe(true);
    expect<u32>(nbAdvance(nb, 60, true, true)).toBe(E_OK); // 72 - 32 - 40 = 0 in m1
    expect<bool>(fieldsAre(nb, m1, m1, 0, 0, 160)).toBe(true);
    expect<u32>(dsResult()).toBe(<u32>h2);
    expect<u32>(f(h2, MDL_NEXT)).toBe(<u32>h1);
    expect<u32>(f(h1, MDL_NEXT)).toBe(0);
    expect<u32>(aux(h1, 1)).toBe(0);
    expect<u32>(aux(h2, 1)).toBe(0);
    expect<u32>(lookup(h1, K_MDL)).toBe(E_OK); // the handler frees them, not NDIS
    expect<u32>(mdlFree(h1)).toBe(E_OK);
    expect<u32>(mdlFree(h2)).toBe(E_OK);
  });

  it("mixed: a default MDL over a handler MDL, both freed in one advance", () => {
    let h = mdlAllocate(g, buf(40, 7), 40);
    expect<u32>(nbPrepend(nb, h, 40, MDLR_HANDLER)).toBe(E_OK); // 10 / 190
    let d = retreatAllocDefault(24);
    expect<u32>(nbPrepend(nb, d, 20, MDLR_DEFAULT)).toBe(E_OK); // 24 + 10 - 20 = 14 / 210
    expect<bool>(fieldsAre(nb, d, d, 14, 14, 210)).toBe(true);
    expect<u32>(nbAdvance(nb, 60, true, false)).toBe(E_ADV2); // h would go; nothing changes
    expect<bool>(fieldsAre(nb, d, d, 14, 14, 210)).toBe(true);
    expect<u32>(lookup(d, K_MDL)).toBe(E_OK);
    expect<u32>(nbAdvance(nb, 60, true, true)).toBe(E_OK); // 74 - 24 - 40 = 10 in m1
    expect<bool>(fieldsAre(nb, m1, m1, 10, 10, 150)).toBe(true);
    expect<u32>(lookup(d, K_MDL)).toBe(E_NOT_ALLOCATED);
    expect<u32>(dsResult()).toBe(<u32>h);
  });
});

describe("nbAdjust", () => {
  beforeEach(() => { fixture(); });

  it("recomputes CurrentMdl / CurrentMdlOffset from DataOffset (decision 4)", () => {
    store<u32>(nb + NB_CURRENT_MDL, 0);
    store<u32>(nb + NB_CURRENT_MDL_OFFSET, 999);
    store<u32>(nb + NB_DATA_OFFSET, 64);
    store<u32>(nb + NB_DATA_LENGTH, 10);
    expect<u32>(nbAdjust(nb)).toBe(E_OK);
    expect<bool>(fieldsAre(nb, m1, m2, 0, 64, 10)).toBe(true);
    store<u32>(nb + NB_DATA_OFFSET, 63);
    expect<u32>(nbAdjust(nb)).toBe(E_OK);
    expect<bool>(fieldsAre(nb, m1, m1, 63, 63, 10)).toBe(true);
    store<u32>(nb + NB_DATA_OFFSET, 192);
    store<u32>(nb + NB_DATA_LENGTH, 0);
    expect<u32>(nbAdjust(nb)).toBe(E_OK);
    expect<bool>(fieldsAre(nb, m1, m2, 128, 192, 0)).toBe(true);
    store<u32>(nb + NB_DATA_OFFSET, 193);
    expect<u32>(nbAdjust(nb)).toBe(E_NB_RANGE);
  });
});

describe("nbGetDataBuffer", () => {
  beforeEach(() => { fixture(); });

  it("points into the data when contiguous and aligned", () => {
    let st = buf(256, 3);
    expect<usize>(nbGetDataBuffer(nb, 54, st, 1, 0)).toBe(va1 + 10);
    expect<usize>(nbGetDataBuffer(nb, 54, 0, 1, 0)).toBe(va1 + 10);
    expect<usize>(nbGetDataBuffer(nb, 0, 0, 1, 0)).toBe(va1 + 10);
    let a = <u32>(va1 + 10);
    expect<usize>(nbGetDataBuffer(nb, 8, 0, 8192, a & 8191)).toBe(va1 + 10);
    expect<usize>(nbGetDataBuffer(nb, 8, 0, 2, a & 1)).toBe(va1 + 10);
  });

  it("copies across MDLs (or when misaligned) into storage; 0 without storage", () => {
    let st = buf(256, 3);
    expect<usize>(nbGetDataBuffer(nb, 55, st, 1, 0)).toBe(st);
    let bad: u32 = 0;
    for (let i: u32 = 0; i < 54; i++) if (load<u8>(st + i) != pat(1, 10 + i)) bad++;
    if (load<u8>(st + 54) != pat(2, 0)) bad++;
    if (load<u8>(st + 55) != pat(3, 55)) bad++; // nothing past n
    expect<u32>(bad).toBe(0);
    expect<usize>(nbGetDataBuffer(nb, 55, 0, 1, 0)).toBe(0);
    let a = <u32>(va1 + 10);
    expect<usize>(nbGetDataBuffer(nb, 8, st, 16, (a + 1) & 15)).toBe(st);
    expect<usize>(nbGetDataBuffer(nb, 8, 0, 16, (a + 1) & 15)).toBe(0);
  });

  it("0 when n > DataLength", () => {
    let st = buf(256, 3);
    expect<usize>(nbGetDataBuffer(nb, 151, st, 1, 0)).toBe(0);
    expect<usize>(nbGetDataBuffer(nb, 151, 0, 1, 0)).toBe(0);
    expect<u8>(load<u8>(st)).toBe(pat(3, 0));
  });

  it("E_GDB1 (59) when storage does not hold n bytes of live memory", () => {
    expect<u32>(E_GDB1).toBe(59);
    let st = buf(16, 3);
    expect<usize>(nbGetDataBuffer(nb, 17, st, 1, 0)).toBe(E_GDB1);
    expect<usize>(errPtr()).toBe(st);
    expect<usize>(nbGetDataBuffer(nb, 16, st + 1, 1, 0)).toBe(E_GDB1);
    expect<usize>(nbGetDataBuffer(nb, 16, st, 1, 0)).toBe(va1 + 10);
    expect<usize>(nbGetDataBuffer(nb, 4, 12345, 1, 0)).toBe(E_GDB1);
  });
});

describe("nbCopy", () => {
  beforeEach(() => { fixture(); });

  it("copies min(bytes, both used spaces) across MDLs; dsResult = bytes copied", () => {
    // Destination: 16 -> 16 -> 64 bytes, DataOffset 3, DataLength 80.
    let d1 = mdlAllocate(g, buf(16, 11), 16);
    let d2 = mdlAllocate(g, buf(16, 12), 16);
    let d3 = mdlAllocate(g, buf(64, 13), 64);
    store<u32>(d1 + MDL_NEXT, <u32>d2);
    store<u32>(d2 + MDL_NEXT, <u32>d3);
    let dst = nbAllocate(pool, d1, 3, 80);
    expect<u32>(nbCopy(dst, 7, 60, nb, 11)).toBe(E_OK);
    expect<u32>(dsResult()).toBe(60);
    let bad: u32 = 0;
    for (let i: u32 = 0; i < 60; i++) if (usedByte(dst, 7 + i) != usedByte(nb, 11 + i)) bad++;
    if (usedByte(dst, 6) != <i32>pat(11, 9)) bad++;
    if (usedByte(dst, 67) != <i32>pat(13, 38)) bad++;
    expect<u32>(bad).toBe(0);
    expect<u32>(nbCopy(dst, 9, 1000, nb, 100)).toBe(E_OK);
    expect<u32>(dsResult()).toBe(50); // min(71, 50)
    expect<u32>(nbCopy(dst, 70, 1000, nb, 0)).toBe(E_OK);
    expect<u32>(dsResult()).toBe(10); // min(10, 150)
    expect<u32>(nbCopy(dst, 0, 0, nb, 0)).toBe(E_OK);
    expect<u32>(dsResult()).toBe(0);
  });

  it("E_STATUS_FAILURE when an offset is past its DataLength; checks both NBs", () => {
    let dst = nbAllocate(pool, m1, 0, 40);
    expect<u32>(nbCopy(dst, 41, 1, nb, 0)).toBe(E_STATUS_FAILURE);
    expect<u32>(dsResult()).toBe(0);
    expect<u32>(nbCopy(dst, 0, 1, nb, 151)).toBe(E_STATUS_FAILURE);
    expect<u32>(nbCopy(m1, 0, 1, nb, 0)).toBe(argErr(0, E_WRONG_KIND));
    expect<u32>(nbCopy(dst, 0, 1, m1, 0)).toBe(argErr(3, E_WRONG_KIND));
    store<u32>(m2 + MDL_NEXT, <u32>m1);
    expect<u32>(nbCopy(dst, 0, 1, nb, 0)).toBe(E_MDL_LOOP);
    store<u32>(m2 + MDL_NEXT, 0);
  });
});

describe("nbPhysicalCount", () => {
  beforeEach(() => { fixture(); });

  it("sums ((va & 0xFFF) + len + 0xFFF) >> 12 over the used part of each MDL", () => {
    let big = buf(8 * 4096, 4);
    let p1 = ((big + 200 + 4095) & ~<usize>4095);
    let p2 = p1 + 4096;
    let p3 = p1 + 3 * 4096;
    let a = mdlAllocate(g, p1 - 100, 300);
    let b = mdlAllocate(g, p2 + 10, 50);
    let c = mdlAllocate(g, p3 - 1, 4098);
    store<u32>(a + MDL_NEXT, <u32>b);
    store<u32>(b + MDL_NEXT, <u32>c);
    let x = nbAllocate(pool, a, 0, 4448);
    expect<u32>(nbPhysicalCount(x)).toBe(E_OK);
    expect<u32>(dsResult()).toBe(6);
    store<u32>(x + NB_DATA_LENGTH, 100);
    expect<u32>(nbPhysicalCount(x)).toBe(E_OK);
    expect<u32>(dsResult()).toBe(1);
    store<u32>(x + NB_DATA_LENGTH, 101);
    nbPhysicalCount(x);
    expect<u32>(dsResult()).toBe(2);
    store<u32>(x + NB_DATA_OFFSET, 150);
    store<u32>(x + NB_DATA_LENGTH, 4448 - 150);
    nbAdjust(x);
    nbPhysicalCount(x);
    expect<u32>(dsResult()).toBe(5);
    store<u32>(x + NB_DATA_OFFSET, 351);
    store<u32>(x + NB_DATA_LENGTH, 4096);
    nbAdjust(x);
    nbPhysicalCount(x);
    expect<u32>(dsResult()).toBe(1);
    store<u32>(x + NB_DATA_LENGTH, 4097);
    nbPhysicalCount(x);
    expect<u32>(dsResult()).toBe(2);
    store<u32>(x + NB_DATA_LENGTH, 0);
    nbPhysicalCount(x);
    expect<u32>(dsResult()).toBe(0);
    // Errors.
    store<u32>(x + NB_DATA_LENGTH, 4098);
    expect<u32>(nbPhysicalCount(x)).toBe(E_NB_RANGE);
    store<u32>(c + MDL_NEXT, <u32>a);
    store<u32>(x + NB_DATA_LENGTH, 0);
    expect<u32>(nbPhysicalCount(x)).toBe(E_MDL_LOOP);
    store<u32>(c + MDL_NEXT, 0);
    expect<u32>(nbPhysicalCount(m1)).toBe(argErr(0, E_WRONG_KIND));
  });

  it("counts a prepended retreat MDL", () => {
    let d = retreatAllocDefault(16);
    expect<u32>(nbPrepend(nb, d, 26, MDLR_DEFAULT)).toBe(E_OK); // 0 / 176: d, m1 and 96 bytes of m2
    expect<bool>(fieldsAre(nb, d, d, 0, 0, 176)).toBe(true);
    let dv = <u32>(f(d, MDL_START_VA) + f(d, MDL_BYTE_OFFSET));
    let want: u32 = (((dv & 0xFFF) + 16 + 0xFFF) >>> 12)
      + ((((<u32>va1) & 0xFFF) + 64 + 0xFFF) >>> 12)
      + ((((<u32>va2) & 0xFFF) + 96 + 0xFFF) >>> 12);
    expect<u32>(nbPhysicalCount(nb)).toBe(E_OK);
    expect<u32>(dsResult()).toBe(want);
  });
});

describe("NdisFreeNetBuffer and retreat MDLs (decision 21)", () => {
  beforeEach(() => { fixture(); });

  it("nbFree frees default retreat MDLs at the head and keeps caller MDLs", () => {
    let d1 = retreatAllocDefault(64);
    expect<u32>(nbPrepend(nb, d1, 40, MDLR_DEFAULT)).toBe(E_OK);
    let d2 = retreatAllocDefault(64);
    expect<u32>(nbPrepend(nb, d2, 64, MDLR_DEFAULT)).toBe(E_OK);
    let b = <usize>aux(d1, 2);
    expect<u32>(memOutstanding(b)).toBe(2);
    let p: usize = lookedUpPool();
    expect<u32>(nbFree(nb)).toBe(E_OK);
    expect<u32>(lookup(d1, K_MDL)).toBe(E_NOT_ALLOCATED);
    expect<u32>(lookup(d2, K_MDL)).toBe(E_NOT_ALLOCATED);
    expect<u32>(u32of(p, P_OUTSTANDING)).toBe(0);
    expect<u32>(lookup(m1, K_MDL)).toBe(E_OK);
    expect<u32>(lookup(m2, K_MDL)).toBe(E_OK);
    expect<u32>(f(m1, MDL_NEXT)).toBe(<u32>m2);
    expect<u32>(lookup(nb, K_NB)).toBe(E_NOT_ALLOCATED);
  });

  it("nbFree frees a default retreat MDL under a handler MDL", () => {
    let d = retreatAllocDefault(16);
    expect<u32>(nbPrepend(nb, d, 16, MDLR_DEFAULT)).toBe(E_OK);
    let h = mdlAllocate(g, buf(16, 7), 16);
    expect<u32>(nbPrepend(nb, h, 16, MDLR_HANDLER)).toBe(E_OK);
    expect<u32>(nbFree(nb)).toBe(E_OK);
    expect<u32>(lookup(d, K_MDL)).toBe(E_NOT_ALLOCATED); // leaked: nothing can free it later
  });
});
