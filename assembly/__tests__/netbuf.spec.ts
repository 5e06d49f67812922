// NDIS side (netbuf.ts): NET_BUFFER pools and NET_BUFFERs, the MdlAndData object layout, MDLs,
// tagged memory, generic objects and protocol handles, and the NDIS-SPEC §7 rule errors
// (POOL-4, NB-ARGS, NB-CONS, POOL-5, POOL-6, wrong tag).
import {
  NB_NEXT, NB_CURRENT_MDL, NB_CURRENT_MDL_OFFSET, NB_DATA_LENGTH, NB_MDL_CHAIN, NB_DATA_OFFSET,
  NB_NDIS_POOL_HANDLE, NB_SIZE, NB_CHECKSUM_BIAS, NB_PROTOCOL_RESERVED, NB_DATA_PHYSICAL_ADDRESS,
  MDL_NEXT, MDL_SIZE_FIELD, MDL_FLAGS, MDL_PROCESS, MDL_MAPPED_SYSTEM_VA, MDL_START_VA,
  MDL_BYTE_COUNT, MDL_BYTE_OFFSET, MDL_SIZE,
  MDL_MAPPED_TO_SYSTEM_VA, MDL_SOURCE_IS_NONPAGED_POOL, MDL_ALLOCATED_FIXED_SIZE,
  MDAT_MDL, MDAT_DATA, PAGE_MASK, GOBJ_HEADER, GOBJ_DRIVER_OBJECT, GOBJ_SIZE,
  P_KIND, P_TAG, P_OBJ_SIZE, P_OUTSTANDING, P_ALLOCS, P_FREES, P_USER0, P_USER1, P_OWNER, P_BYTES,
  K_NB, K_NB_POOL, K_PROTOCOL, K_GENERIC, K_MDL, K_MEMORY,
  E_OK, E_NOT_OURS, E_WRONG_KIND, E_MISALIGNED, E_NOT_ALLOCATED, ARG_SHIFT,
  E_POOL4, E_NB_ARGS, E_NB_RANGE, E_POOL5, E_POOL6, E_WRONG_TAG, E_MDL_LOOP, E_BAD_RANGE,
  E_LIMIT, UNIT_SIZE, LARGEST_CLASS, N_CLASSES,
} from "../layout";
import {
  init, resetAll, errDetail, errPtr,
  protocolRegister, protocolDeregister, protocolCharsId, ownedPools,
  memoryAllocate, memoryFree, genericAllocate, genericFree, mdlAllocate, mdlFree, mdlCheck,
  nbPoolCreate, nbPoolFree, nbAllocate, nbAllocateMdlAndData, nbFree, nbPool, nbCheck,
  nbAdjustCurrent, chainCheck, rangeCheck, slabPoolCreate, classSize, sizeClass,
} from "../index";
import { heapReserve } from "../pages";
import { poolAlloc, poolFree, lookup } from "../slab";
import { at, put, u32of, u64of, minGap, Counters, checkInvariants } from "./util";

const ROOT_ADDR = init(1024); // 64 MiB
const A = heapReserve(4096 * 4);
const B = heapReserve(4096 * 4);

const TAG_NB: u32 = 0x4250424e;  // 'NBPB'
const TAG_MEM: u32 = 0x4d454d31; // '1MEM'

let prot: usize = 0;
let pool0: usize = 0;  // DataSize 0
let poolD: usize = 0;  // DataSize 1514
let nb: usize = 0;
let nb2: usize = 0;
let mem1: usize = 0;
let mem2: usize = 0;
let m1: usize = 0;
let m2: usize = 0;
let snap: Counters | null = null;

function argErr(arg: u32, e: u32): u32 { return (arg << ARG_SHIFT) | e; }

describe("setup", () => {
  it("init succeeds", () => {
    expect<usize>(ROOT_ADDR).toBeGreaterThan(0);
    expect<usize>(A).toBeGreaterThan(0);
    expect<usize>(B).toBeGreaterThan(0);
  });
});

describe("NET_BUFFER pools", () => {
  beforeAll(() => {
    resetAll();
    prot = protocolRegister(0x1234, 0x00000106, 0, 7);
  });

  it("protocolRegister returns a live protocol handle", () => {
    expect<usize>(prot).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(lookup(prot, K_PROTOCOL)).toBe(E_OK);
    expect<u32>(protocolCharsId(prot)).toBe(7);
    expect<u32>(load<u32>(prot)).toBe(0x1234); // ProtocolDriverContext
    expect<u32>(ownedPools(prot)).toBe(0);
  });

  it("nbPoolCreate records DataSize, flags, tag and owner, and counts the pool against the owner", () => {
    pool0 = nbPoolCreate(prot, TAG_NB, 0, 0);
    poolD = nbPoolCreate(prot, TAG_NB, 1514, 0x5);
    expect<usize>(pool0).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<usize>(poolD).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(lookup(pool0, K_NB_POOL)).toBe(E_OK);
    expect<u32>(u32of(pool0, P_KIND)).toBe(K_NB);
    expect<u32>(u32of(pool0, P_TAG)).toBe(TAG_NB);
    expect<u32>(u32of(pool0, P_USER0)).toBe(0);
    expect<u32>(u32of(pool0, P_OBJ_SIZE)).toBe(NB_SIZE);
    expect<u32>(u32of(poolD, P_USER0)).toBe(1514);
    expect<u32>(u32of(poolD, P_USER1)).toBe(0x5);
    expect<u32>(u32of(poolD, P_OWNER)).toBe(<u32>prot);
    // slot: NB + MDL + 1514 bytes of data, rounded up to 8
    expect<u32>(u32of(poolD, P_OBJ_SIZE)).toBe((MDAT_DATA + 1514 + 7) & ~7);
    expect<u32>(ownedPools(prot)).toBe(2);
  });

  it("nbPoolCreate rejects an owner that is not a live protocol / generic handle", () => {
    expect<usize>(nbPoolCreate(12345, TAG_NB, 0, 0)).toBe(argErr(0, E_NOT_OURS));
    expect<usize>(nbPoolCreate(pool0, TAG_NB, 0, 0)).toBe(argErr(0, E_WRONG_KIND));
    expect<usize>(nbPoolCreate(prot + 4, TAG_NB, 0, 0)).toBe(argErr(0, E_MISALIGNED));
    expect<u32>(ownedPools(prot)).toBe(2);
    // NULL is accepted (DESIGN, decision 7): no owner
    let anon = nbPoolCreate(0, TAG_NB, 0, 0);
    expect<usize>(anon).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(u32of(anon, P_OWNER)).toBe(0);
    expect<u32>(nbPoolFree(anon)).toBe(E_OK);
  });
});

describe("NdisAllocateNetBufferMdlAndData: one object, NB + MDL + data", () => {
  it("lays out NB at 0, MDL at MDAT_MDL, data at MDAT_DATA", () => {
    nb = nbAllocateMdlAndData(poolD);
    expect<usize>(nb).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<usize>(nb & 7).toBe(0);
    let mdl = nb + MDAT_MDL;
    let va = nb + MDAT_DATA;
    expect<u32>(load<u32>(nb + NB_NEXT)).toBe(0);
    expect<u32>(load<u32>(nb + NB_MDL_CHAIN)).toBe(<u32>mdl);
    expect<u32>(load<u32>(nb + NB_CURRENT_MDL)).toBe(<u32>mdl);
    expect<u32>(load<u32>(nb + NB_CURRENT_MDL_OFFSET)).toBe(0);
    expect<u32>(load<u32>(nb + NB_DATA_OFFSET)).toBe(0);
    expect<u32>(load<u32>(nb + NB_DATA_LENGTH)).toBe(1514);
    expect<u32>(load<u32>(nb + NB_NDIS_POOL_HANDLE)).toBe(<u32>poolD);
    expect<u16>(load<u16>(nb + NB_CHECKSUM_BIAS)).toBe(0);
    expect<u64>(load<u64>(nb + NB_DATA_PHYSICAL_ADDRESS)).toBe(0);
    // MDL
    expect<u32>(load<u32>(mdl + MDL_NEXT)).toBe(0);
    expect<u16>(load<u16>(mdl + MDL_SIZE_FIELD)).toBe(<u16>MDL_SIZE);
    let flags = load<u16>(mdl + MDL_FLAGS);
    expect<u16>(flags & MDL_MAPPED_TO_SYSTEM_VA).toBe(MDL_MAPPED_TO_SYSTEM_VA);
    expect<u16>(flags & MDL_SOURCE_IS_NONPAGED_POOL).toBe(MDL_SOURCE_IS_NONPAGED_POOL);
    expect<u16>(flags & MDL_ALLOCATED_FIXED_SIZE).toBe(MDL_ALLOCATED_FIXED_SIZE);
    expect<u32>(load<u32>(mdl + MDL_PROCESS)).toBe(0);
    expect<u32>(load<u32>(mdl + MDL_MAPPED_SYSTEM_VA)).toBe(<u32>va);
    expect<u32>(load<u32>(mdl + MDL_BYTE_COUNT)).toBe(1514);
    expect<u32>(load<u32>(mdl + MDL_START_VA)).toBe(<u32>(va & ~<usize>PAGE_MASK));
    expect<u32>(load<u32>(mdl + MDL_BYTE_OFFSET)).toBe(<u32>(va & PAGE_MASK));
    expect<u32>(load<u32>(mdl + MDL_START_VA) + load<u32>(mdl + MDL_BYTE_OFFSET)).toBe(<u32>va);
  });

  it("the data area is usable for DataSize bytes without touching the next NB", () => {
    nb2 = nbAllocateMdlAndData(poolD);
    expect<usize>(nb2).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<usize>(nb2).not.toBe(nb);
    let slot = <usize>u32of(poolD, P_OBJ_SIZE);
    expect<usize>(nb2 > nb ? nb2 - nb : nb - nb2).toBeGreaterThanOrEqual(slot);
    memory.fill(nb + MDAT_DATA, 0xAB, 1514);
    memory.fill(nb2 + MDAT_DATA, 0xCD, 1514);
    expect<u8>(load<u8>(nb + MDAT_DATA)).toBe(0xAB);
    expect<u8>(load<u8>(nb + MDAT_DATA + 1513)).toBe(0xAB);
    expect<u32>(load<u32>(nb2 + NB_MDL_CHAIN)).toBe(<u32>(nb2 + MDAT_MDL));
    expect<u32>(load<u32>(nb + NB_MDL_CHAIN)).toBe(<u32>(nb + MDAT_MDL));
    expect<u32>(load<u32>(nb2 + MDAT_MDL + MDL_BYTE_COUNT)).toBe(1514);
    expect<u32>(load<u32>(nb + MDAT_MDL + MDL_BYTE_COUNT)).toBe(1514);
    expect<u32>(rangeCheck(nb + MDAT_DATA, 1514)).toBe(E_OK);
  });

  it("the embedded MDL is a valid MDL while its NB is live", () => {
    expect<u32>(mdlCheck(nb + MDAT_MDL)).toBe(E_OK);
    expect<u32>(chainCheck(nb + MDAT_MDL)).toBe(E_OK);
    expect<u32>(mdlCheck(nb + MDAT_MDL + 4)).not.toBe(E_OK);
  });

  it("nbPool / nbCheck / counters of a DataSize pool", () => {
    expect<usize>(nbPool(nb)).toBe(poolD);
    expect<u32>(nbCheck(nb)).toBe(E_OK);
    expect<u32>(u32of(poolD, P_OUTSTANDING)).toBe(2);
    expect<u64>(u64of(poolD, P_BYTES)).toBe(2 * <u64>u32of(poolD, P_OBJ_SIZE));
  });

  it("many MdlAndData NBs are distinct and each MDL points into its own object", () => {
    let n: u32 = 300;
    let bad: u32 = 0;
    for (let i: u32 = 0; i < n; i++) {
      let x = nbAllocateMdlAndData(poolD);
      put(A, i, <u32>x);
      if (x < E_LIMIT) { bad++; continue; }
      if (load<u32>(x + MDAT_MDL + MDL_MAPPED_SYSTEM_VA) != <u32>(x + MDAT_DATA)) bad++;
      if (load<u32>(x + NB_CURRENT_MDL) != <u32>(x + MDAT_MDL)) bad++;
    }
    expect<u32>(bad).toBe(0);
    expect<u32>(minGap(A, B, n)).toBeGreaterThanOrEqual(u32of(poolD, P_OBJ_SIZE));
    for (let i: u32 = 0; i < n; i++) if (nbFree(at(A, i)) != E_OK) bad++;
    expect<u32>(bad).toBe(0);
    expect<u32>(u32of(poolD, P_OUTSTANDING)).toBe(2);
    expect<u32>(checkInvariants(poolD)).toBe(0);
  });
});

describe("POOL-4 and NB-ARGS", () => {
  it("nbAllocate on a DataSize pool is POOL-4, and changes nothing", () => {
    snap = new Counters(poolD);
    expect<usize>(nbAllocate(poolD, 0, 0, 0)).toBe(E_POOL4);
    expect<bool>(snap!.same(poolD)).toBe(true);
  });

  it("nbAllocateMdlAndData on a DataSize-0 pool is POOL-4, and changes nothing", () => {
    snap = new Counters(pool0);
    expect<usize>(nbAllocateMdlAndData(pool0)).toBe(E_POOL4);
    expect<bool>(snap!.same(pool0)).toBe(true);
  });

  it("NULL MdlChain with a non-zero DataOffset or DataLength is NB-ARGS", () => {
    snap = new Counters(pool0);
    expect<usize>(nbAllocate(pool0, 0, 1, 0)).toBe(E_NB_ARGS);
    expect<usize>(nbAllocate(pool0, 0, 0, 1)).toBe(E_NB_ARGS);
    expect<usize>(nbAllocate(pool0, 0, 0xFFFFFFFF, 0xFFFFFFFF)).toBe(E_NB_ARGS);
    expect<bool>(snap!.same(pool0)).toBe(true);
  });

  it("NULL MdlChain with zero offset and length gives an NB with every data field zero", () => {
    let x = nbAllocate(pool0, 0, 0, 0);
    expect<usize>(x).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(load<u32>(x + NB_MDL_CHAIN)).toBe(0);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL)).toBe(0);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL_OFFSET)).toBe(0);
    expect<u32>(load<u32>(x + NB_DATA_OFFSET)).toBe(0);
    expect<u32>(load<u32>(x + NB_DATA_LENGTH)).toBe(0);
    expect<u32>(load<u32>(x + NB_NDIS_POOL_HANDLE)).toBe(<u32>pool0);
    expect<u32>(nbFree(x)).toBe(E_OK);
  });

  it("a bad pool handle is an argument-0 error", () => {
    expect<usize>(nbAllocate(12345, 0, 0, 0)).toBe(argErr(0, E_NOT_OURS));
    expect<usize>(nbAllocate(prot, 0, 0, 0)).toBe(argErr(0, E_WRONG_KIND));
    expect<usize>(nbAllocateMdlAndData(nb)).toBe(argErr(0, E_WRONG_KIND));
    expect<usize>(nbAllocateMdlAndData(pool0 + 8)).toBe(argErr(0, E_MISALIGNED));
  });
});

describe("MDL chains: CurrentMdl / CurrentMdlOffset from DataOffset", () => {
  beforeAll(() => {
    mem1 = memoryAllocate(prot, 100, TAG_MEM);
    mem2 = memoryAllocate(prot, 200, TAG_MEM);
    m1 = mdlAllocate(prot, mem1, 100);
    m2 = mdlAllocate(prot, mem2, 200);
    if (m1 >= UNIT_SIZE && m2 >= UNIT_SIZE) store<u32>(m1 + MDL_NEXT, <u32>m2);
  });

  it("builds a 2-MDL chain of 300 bytes", () => {
    expect<usize>(mem1).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<usize>(mem2).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<usize>(m1).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<usize>(m2).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(lookup(m1, K_MDL)).toBe(E_OK);
    expect<u32>(load<u32>(m1 + MDL_MAPPED_SYSTEM_VA)).toBe(<u32>mem1);
    expect<u32>(load<u32>(m1 + MDL_BYTE_COUNT)).toBe(100);
    expect<u32>(load<u32>(m2 + MDL_BYTE_COUNT)).toBe(200);
    expect<u32>(load<u32>(m1 + MDL_NEXT)).toBe(<u32>m2);
    expect<u32>(chainCheck(m1)).toBe(E_OK);
  });

  it("offset inside the first MDL", () => {
    let x = nbAllocate(pool0, m1, 0, 300);
    expect<usize>(x).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL)).toBe(<u32>m1);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL_OFFSET)).toBe(0);
    expect<u32>(load<u32>(x + NB_MDL_CHAIN)).toBe(<u32>m1);
    expect<u32>(load<u32>(x + NB_DATA_LENGTH)).toBe(300);
    expect<u32>(nbFree(x)).toBe(E_OK);
    x = nbAllocate(pool0, m1, 99, 10);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL)).toBe(<u32>m1);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL_OFFSET)).toBe(99);
    expect<u32>(nbFree(x)).toBe(E_OK);
  });

  it("offset exactly at the end of the first MDL moves to the second MDL at offset 0", () => {
    let x = nbAllocate(pool0, m1, 100, 50);
    expect<usize>(x).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL)).toBe(<u32>m2);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL_OFFSET)).toBe(0);
    expect<u32>(load<u32>(x + NB_DATA_OFFSET)).toBe(100);
    expect<u32>(nbFree(x)).toBe(E_OK);
  });

  it("offset inside the second MDL", () => {
    let x = nbAllocate(pool0, m1, 101, 199);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL)).toBe(<u32>m2);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL_OFFSET)).toBe(1);
    expect<u32>(nbFree(x)).toBe(E_OK);
  });

  it("offset at the end of the chain stays on the last MDL with offset = ByteCount", () => {
    let x = nbAllocate(pool0, m1, 300, 0);
    expect<usize>(x).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL)).toBe(<u32>m2);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL_OFFSET)).toBe(200);
    expect<u32>(nbFree(x)).toBe(E_OK);
  });

  it("nbAdjustCurrent recomputes the pair after DataOffset changes", () => {
    let x = nbAllocate(pool0, m1, 10, 0);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL)).toBe(<u32>m1);
    store<u32>(x + NB_DATA_OFFSET, 100);
    nbAdjustCurrent(x);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL)).toBe(<u32>m2);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL_OFFSET)).toBe(0);
    store<u32>(x + NB_DATA_OFFSET, 250);
    nbAdjustCurrent(x);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL)).toBe(<u32>m2);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL_OFFSET)).toBe(150);
    store<u32>(x + NB_DATA_OFFSET, 0);
    nbAdjustCurrent(x);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL)).toBe(<u32>m1);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL_OFFSET)).toBe(0);
    expect<u32>(nbFree(x)).toBe(E_OK);
  });

  it("DataOffset + DataLength beyond the chain is NB-CONS (E_NB_RANGE), and changes nothing", () => {
    snap = new Counters(pool0);
    expect<usize>(nbAllocate(pool0, m1, 250, 51)).toBe(E_NB_RANGE);
    expect<u32>(errDetail()).toBe(300);
    expect<usize>(nbAllocate(pool0, m1, 301, 0)).toBe(E_NB_RANGE);
    expect<usize>(nbAllocate(pool0, m1, 0xFFFFFFFF, 2)).toBe(E_NB_RANGE); // no 32-bit wrap
    expect<bool>(snap!.same(pool0)).toBe(true);
  });

  it("a looping chain is E_MDL_LOOP; a non-MDL in the chain is an argument-1 error", () => {
    store<u32>(m2 + MDL_NEXT, <u32>m1);
    snap = new Counters(pool0);
    expect<usize>(nbAllocate(pool0, m1, 0, 0)).toBe(E_MDL_LOOP);
    store<u32>(m2 + MDL_NEXT, <u32>mem1); // tagged memory is not an MDL
    expect<usize>(nbAllocate(pool0, m1, 0, 0)).toBe(argErr(1, E_WRONG_KIND));
    store<u32>(m2 + MDL_NEXT, 8);
    expect<usize>(nbAllocate(pool0, m1, 0, 0)).toBe(argErr(1, E_NOT_OURS));
    store<u32>(m2 + MDL_NEXT, 0);
    expect<bool>(snap!.same(pool0)).toBe(true);
  });

  it("an MdlAndData NB's MDL can head another NB's chain", () => {
    let x = nbAllocate(pool0, nb + MDAT_MDL, 1000, 514);
    expect<usize>(x).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(load<u32>(x + NB_CURRENT_MDL)).toBe(<u32>(nb + MDAT_MDL));
    expect<u32>(load<u32>(x + NB_CURRENT_MDL_OFFSET)).toBe(1000);
    expect<u32>(nbFree(x)).toBe(E_OK);
  });

  it("mdlAllocate checks its handle and its range", () => {
    expect<usize>(mdlAllocate(0, mem1, 10)).toBe(argErr(0, E_NOT_OURS));
    expect<usize>(mdlAllocate(pool0, mem1, 10)).toBe(argErr(0, E_WRONG_KIND));
    expect<usize>(mdlAllocate(prot, mem1, 0x10000)).toBe(E_BAD_RANGE);
    expect<usize>(mdlAllocate(prot, 8, 4)).toBe(E_BAD_RANGE);
    expect<usize>(mdlAllocate(prot, pool0, 4)).toBe(E_BAD_RANGE); // a pool descriptor is not a buffer
    let m = mdlAllocate(prot, mem1 + 10, 20);
    expect<usize>(m).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(load<u32>(m + MDL_MAPPED_SYSTEM_VA)).toBe(<u32>(mem1 + 10));
    expect<u32>(mdlFree(m)).toBe(E_OK);
    expect<u32>(mdlFree(m)).toBe(argErr(0, E_NOT_ALLOCATED));
    expect<u32>(mdlFree(nb)).toBe(argErr(0, E_WRONG_KIND));
  });
});

describe("nbFree and POOL-5", () => {
  it("nbFree rejects wrong kinds, misaligned and freed NBs, with the counters unchanged", () => {
    let so = slabPoolCreate(64, 0x4f424a53, 0xFFFFFFFF);
    let obj = poolAlloc(so);
    let soSnap = new Counters(so);
    snap = new Counters(poolD);
    expect<u32>(nbFree(obj)).toBe(argErr(0, E_WRONG_KIND));
    expect<u32>(nbFree(m1)).toBe(argErr(0, E_WRONG_KIND));
    expect<u32>(nbFree(nb + MDAT_MDL)).toBe(argErr(0, E_MISALIGNED));
    expect<u32>(nbFree(8)).toBe(argErr(0, E_NOT_OURS));
    expect<bool>(snap!.same(poolD)).toBe(true);
    expect<bool>(soSnap.same(so)).toBe(true);
    expect<u32>(poolFree(so, obj)).toBe(E_OK);
  });

  it("nbPoolFree with NBs outstanding is POOL-5 (detail = count) and changes nothing", () => {
    snap = new Counters(poolD);
    expect<u32>(nbPoolFree(poolD)).toBe(E_POOL5);
    expect<u32>(errDetail()).toBe(2);
    expect<bool>(snap!.same(poolD)).toBe(true);
    expect<u32>(lookup(poolD, K_NB_POOL)).toBe(E_OK);
    expect<u32>(nbCheck(nb)).toBe(E_OK);
    expect<u32>(ownedPools(prot)).toBe(2);
  });

  it("after freeing its NBs the pool frees; a double nbFree is caught", () => {
    expect<u32>(nbFree(nb)).toBe(E_OK);
    expect<u32>(nbFree(nb)).toBe(argErr(0, E_NOT_ALLOCATED));
    expect<usize>(errPtr()).toBe(nb);
    expect<u32>(nbPoolFree(poolD)).toBe(E_POOL5);
    expect<u32>(errDetail()).toBe(1);
    expect<u32>(nbFree(nb2)).toBe(E_OK);
    expect<u64>(u64of(poolD, P_ALLOCS)).toBe(u64of(poolD, P_FREES));
    expect<u32>(nbPoolFree(poolD)).toBe(E_OK);
    expect<u32>(ownedPools(prot)).toBe(1);
  });

  it("a freed pool handle is rejected everywhere", () => {
    expect<u32>(lookup(poolD, K_NB_POOL)).not.toBe(E_OK);
    expect<usize>(nbAllocateMdlAndData(poolD)).toBe(argErr(0, E_NOT_ALLOCATED));
    expect<u32>(nbPoolFree(poolD)).toBe(argErr(0, E_NOT_ALLOCATED));
    expect<u32>(nbCheck(nb)).not.toBe(E_OK);
  });
});

describe("POOL-6: handles that own pools", () => {
  it("protocolDeregister while owning a pool is POOL-6 (detail = count)", () => {
    expect<u32>(ownedPools(prot)).toBe(1);
    expect<u32>(protocolDeregister(prot)).toBe(E_POOL6);
    expect<u32>(errDetail()).toBe(1);
    expect<u32>(lookup(prot, K_PROTOCOL)).toBe(E_OK); // still live
  });

  it("after the pool is freed the protocol deregisters; a second deregister is caught", () => {
    // pool0 has no NBs outstanding here
    expect<u32>(u32of(pool0, P_OUTSTANDING)).toBe(0);
    expect<u32>(nbPoolFree(pool0)).toBe(E_OK);
    expect<u32>(ownedPools(prot)).toBe(0);
    expect<u32>(memoryFree(prot, mem1, TAG_MEM)).toBe(E_OK);
    expect<u32>(memoryFree(prot, mem2, TAG_MEM)).toBe(E_OK);
    expect<u32>(mdlFree(m1)).toBe(E_OK);
    expect<u32>(mdlFree(m2)).toBe(E_OK);
    expect<u32>(protocolDeregister(prot)).toBe(E_OK);
    expect<u32>(protocolDeregister(prot)).toBe(argErr(0, E_NOT_ALLOCATED));
    expect<u32>(protocolCharsId(prot)).toBe(0);
  });

  it("genericFree while owning a pool is POOL-6", () => {
    let g = genericAllocate(0xD0D0, 0x4e454731, 40);
    expect<usize>(g).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(lookup(g, K_GENERIC)).toBe(E_OK);
    expect<u8>(load<u8>(g + GOBJ_HEADER)).toBe(0x80);
    expect<u8>(load<u8>(g + GOBJ_HEADER + 1)).toBe(1);
    expect<u16>(load<u16>(g + GOBJ_HEADER + 2)).toBe(<u16>GOBJ_SIZE);
    expect<u32>(load<u32>(g + GOBJ_DRIVER_OBJECT)).toBe(0xD0D0);
    let p1 = nbPoolCreate(g, TAG_NB, 0, 0);
    let p2 = nbPoolCreate(g, TAG_NB, 64, 0);
    expect<usize>(p1).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<usize>(p2).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(ownedPools(g)).toBe(2);
    expect<u32>(genericFree(g)).toBe(E_POOL6);
    expect<u32>(errDetail()).toBe(2);
    expect<u32>(nbPoolFree(p1)).toBe(E_OK);
    expect<u32>(genericFree(g)).toBe(E_POOL6);
    expect<u32>(errDetail()).toBe(1);
    expect<u32>(nbPoolFree(p2)).toBe(E_OK);
    expect<u32>(genericFree(g)).toBe(E_OK);
    expect<u32>(genericFree(g)).toBe(argErr(0, E_NOT_ALLOCATED));
  });

  it("a generic object can own tagged memory without owning pools", () => {
    let g = genericAllocate(0, 0x4e454732, 0);
    let m = memoryAllocate(g, 48, TAG_MEM);
    expect<usize>(m).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(genericFree(g)).toBe(E_OK);
    // memory outlives its handle; freeing it needs a live handle
    expect<u32>(memoryFree(g, m, TAG_MEM)).toBe(argErr(0, E_NOT_ALLOCATED));
    let h = protocolRegister(0, 0, 0, 0);
    expect<u32>(memoryFree(h, m, TAG_MEM)).toBe(E_OK);
    expect<u32>(protocolDeregister(h)).toBe(E_OK);
  });
});

describe("tagged memory", () => {
  beforeAll(() => {
    resetAll();
    prot = protocolRegister(0, 0, 0, 0);
  });

  it("memoryFree with the wrong tag is E_WRONG_TAG (detail = real tag) and frees nothing", () => {
    let m = memoryAllocate(prot, 100, TAG_MEM);
    expect<usize>(m).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(lookup(m, K_MEMORY)).toBe(E_OK);
    expect<u32>(memoryFree(prot, m, 0x58585858)).toBe(E_WRONG_TAG);
    expect<u32>(errDetail()).toBe(TAG_MEM);
    expect<u32>(lookup(m, K_MEMORY)).toBe(E_OK);
    expect<u32>(memoryFree(prot, m, TAG_MEM)).toBe(E_OK);
    expect<u32>(memoryFree(prot, m, TAG_MEM)).toBe(argErr(1, E_NOT_ALLOCATED));
  });

  it("memoryFree rejects non-memory pointers and bad handles", () => {
    let m = memoryAllocate(prot, 16, TAG_MEM);
    expect<u32>(memoryFree(prot, m + 8, TAG_MEM)).toBe(argErr(1, E_MISALIGNED));
    expect<u32>(memoryFree(prot, prot, TAG_MEM)).toBe(argErr(1, E_WRONG_KIND));
    expect<u32>(memoryFree(prot, 8, TAG_MEM)).toBe(argErr(1, E_NOT_OURS));
    expect<u32>(memoryFree(0, m, TAG_MEM)).toBe(argErr(0, E_NOT_OURS));
    expect<u32>(memoryFree(m, m, TAG_MEM)).toBe(argErr(0, E_WRONG_KIND));
    expect<u32>(memoryFree(prot, m, TAG_MEM)).toBe(E_OK);
  });

  it("memoryAllocate serves every size up to and beyond the largest class, writable end to end", () => {
    let sizes: u32[] = [1, 8, 16, 17, 63, 64, 65, 100, 1000, 4096, 5000, 32767, 32768, 32769, 100000, 300000];
    let bad: u32 = 0;
    for (let i = 0; i < sizes.length; i++) {
      let len = sizes[i];
      let m = memoryAllocate(prot, len, TAG_MEM);
      put(A, <u32>i, <u32>m);
      if (m < UNIT_SIZE || (m & 7) != 0) { bad++; continue; }
      memory.fill(m, <u8>(i + 1), len);
      if (rangeCheck(m, len) != E_OK) bad++;
    }
    expect<u32>(bad).toBe(0);
    for (let i = 0; i < sizes.length; i++) {
      let m = <usize>at(A, <u32>i);
      let len = sizes[i];
      if (load<u8>(m) != <u8>(i + 1) || load<u8>(m + len - 1) != <u8>(i + 1)) bad++;
      if (memoryFree(prot, m, TAG_MEM) != E_OK) bad++;
    }
    expect<u32>(bad).toBe(0);
  });

  it("size classes cover every length: classSize(sizeClass(len)) >= len, monotone, within 25%", () => {
    let bad: u32 = 0;
    let prev: u32 = 0;
    for (let len: u32 = 1; len <= LARGEST_CLASS; len++) {
      let c = sizeClass(len);
      if (c >= N_CLASSES) { bad++; break; }
      let s = classSize(c);
      if (s < len) bad++;
      if (c > 0 && classSize(c - 1) >= len) bad++; // smallest class that fits
      if (c < prev) bad++;
      if (len > 64 && <u64>s * 4 > <u64>len * 5 + 4 * 16) bad++;
      prev = c;
    }
    expect<u32>(bad).toBe(0);
    expect<u32>(classSize(N_CLASSES - 1)).toBe(LARGEST_CLASS);
    expect<u32>(sizeClass(LARGEST_CLASS)).toBe(N_CLASSES - 1);
  });
});
