// NBL side (nbl.ts, embedded.ts): NET_BUFFER_LIST pools and NBLs as one slab object (NBL,
// context block, NET_BUFFER, MDL, data), contexts, chains, and the interior-object checks, with
// their E_* codes; the NBL layout constants are pinned.
import {
  NBL_NEXT, NBL_FIRST_NB, NBL_CONTEXT, NBL_PARENT, NBL_NDIS_POOL_HANDLE, NBL_NDIS_RESERVED,
  NBL_PROTOCOL_RESERVED, NBL_MINIPORT_RESERVED, NBL_SCRATCH, NBL_SOURCE_HANDLE, NBL_NBL_FLAGS,
  NBL_CHILD_REF_COUNT, NBL_FLAGS, NBL_STATUS, NBL_INFO, NBL_INFO_COUNT, NBL_INFO_PROTOCOL_ID, NBL_SIZE,
  NBLC_NEXT, NBLC_SIZE, NBLC_OFFSET, NBLC_DATA,
  NB_NEXT, NB_CURRENT_MDL, NB_CURRENT_MDL_OFFSET, NB_DATA_LENGTH, NB_MDL_CHAIN, NB_DATA_OFFSET,
  NB_NDIS_POOL_HANDLE, NB_SIZE, MDL_NEXT, MDL_BYTE_COUNT, MDL_MAPPED_SYSTEM_VA, MDL_FLAGS,
  MDL_ALLOCATED_FIXED_SIZE, MDAT_MDL, MDAT_DATA,
  P_KIND, P_TAG, P_OBJ_SIZE, P_OUTSTANDING, P_USER0, P_USER1, P_USER2, P_OWNER,
  K_NBL, K_NBL_POOL, K_MEMORY, ROOT_NBL_POOLS, ROOT_COUNT,
  E_OK, E_NOT_OURS, E_WRONG_KIND, E_MISALIGNED, E_NOT_ALLOCATED, ARG_SHIFT, E_LIMIT,
  E_POOL4, E_NB_ARGS, E_NB_RANGE, E_POOL5, E_POOL6, E_MDL_LOOP, E_POOL2, E_POOL3, E_NBL_FREE2,
  E_NBL_FREE1, E_RESOURCES, E_CTX_RANGE, E_NBL_LOOP, UNIT_SIZE,
} from "../layout";
import {
  init, resetAll, errPtr, errDetail, lastResult, protocolRegister, protocolDeregister, ownedPools,
  genericAllocate, genericFree, memoryAllocate, memoryFree, mdlAllocate, mdlFree, mdlCheck,
  nbPoolCreate, nbAllocate, nbFree, nbPool, nbCheck,
  nblPoolCreate, nblPoolFree, nblAllocate, nblAllocateWithNb, nblFree, nblPool, nblCheck,
  nblFreeChain, nblCountChain, nbCountChain, ctxAllocate, ctxFree, preallocNb, embeddedMdl,
} from "../index";
import { gNbl } from "../embedded";
import { lookup } from "../slab";
import { u32of, Counters, checkInvariants } from "./util";

const ROOT_ADDR = init(1024); // 64 MiB

const TAG_NBL: u32 = 0x4c424e31; // '1NBL'
const TAG_CTX: u32 = 0x58544331; // '1CTX'
const TAG_MEM: u32 = 0x4d454d31; // '1MEM'
const TAG_NB: u32 = 0x42424e31;  // '1NBB'

/** P_USER2 of an NBL pool: ContextSize | fAllocateNetBuffer << 16 | ProtocolId << 24. */
function packed(ctx: u32, allocNb: bool, pid: u32): u32 { return ctx | (allocNb ? 0x10000 : 0) | (pid << 24); }
function argErr(arg: u32, e: u32): u32 { return (arg << ARG_SHIFT) | e; }

let prot: usize = 0;
let gen: usize = 0;
let plain: usize = 0;   // no context, no NB
let full: usize = 0;    // ContextSize 16, fAllocateNetBuffer, DataSize 200
let nbOnly: usize = 0;  // fAllocateNetBuffer, DataSize 0
let ctxPool: usize = 0; // ContextSize 8
let nbPool0: usize = 0; // an NB pool (DataSize 0)
let n1: usize = 0;
let n2: usize = 0;
let n3: usize = 0;
let n4: usize = 0;
let n5: usize = 0;
let nb: usize = 0;
let mem: usize = 0;
let m1: usize = 0;
let m2: usize = 0;
let blk: usize = 0;
let snap: Counters | null = null;

describe("setup", () => {
  it("init succeeds", () => {
    expect<usize>(ROOT_ADDR).toBeGreaterThan(0);
  });
});

describe("NBL layout constants (x86, DESIGN D4)", () => {
  it("NET_BUFFER_LIST field offsets and size", () => {
    expect<u32>(NBL_NEXT).toBe(0x00);
    expect<u32>(NBL_FIRST_NB).toBe(0x04);
    expect<u32>(NBL_CONTEXT).toBe(0x08);
    expect<u32>(NBL_PARENT).toBe(0x0c);
    expect<u32>(NBL_NDIS_POOL_HANDLE).toBe(0x10);
    expect<u32>(NBL_NDIS_RESERVED).toBe(0x18);
    expect<u32>(NBL_PROTOCOL_RESERVED).toBe(0x20);
    expect<u32>(NBL_MINIPORT_RESERVED).toBe(0x30);
    expect<u32>(NBL_SCRATCH).toBe(0x38);
    expect<u32>(NBL_SOURCE_HANDLE).toBe(0x3c);
    expect<u32>(NBL_NBL_FLAGS).toBe(0x40);
    expect<u32>(NBL_CHILD_REF_COUNT).toBe(0x44);
    expect<u32>(NBL_FLAGS).toBe(0x48);
    expect<u32>(NBL_STATUS).toBe(0x4c);
    expect<u32>(NBL_INFO).toBe(0x50);
    expect<u32>(NBL_INFO_COUNT).toBe(13);
    expect<u32>(NBL_INFO_PROTOCOL_ID).toBe(7);
    expect<u32>(NBL_SIZE).toBe(0x88);
    expect<bool>(NBL_INFO + NBL_INFO_COUNT * 4 <= NBL_SIZE).toBe(true);
    expect<u32>(NBL_SIZE & 7).toBe(0); // the context block after it is 8-aligned
  });

  it("NET_BUFFER_LIST_CONTEXT and the MdlAndData tail", () => {
    expect<u32>(NBLC_NEXT).toBe(0);
    expect<u32>(NBLC_SIZE).toBe(4);
    expect<u32>(NBLC_OFFSET).toBe(6);
    expect<u32>(NBLC_DATA).toBe(8);
    expect<u32>(NB_SIZE).toBe(0x58);
    expect<u32>(MDAT_MDL).toBe(0x58);
    expect<u32>(MDAT_DATA).toBe(0x78);
  });

  it("kinds, root pool and error codes", () => {
    expect<u32>(K_NBL_POOL).toBe(6);
    expect<u32>(K_NBL).toBe(15);
    expect<u32>(ROOT_NBL_POOLS).toBe(6);
    expect<u32>(ROOT_COUNT).toBe(10);
    expect<u32>(E_POOL2).toBe(48);
    expect<u32>(E_POOL3).toBe(49);
    expect<u32>(E_NBL_FREE2).toBe(50);
    expect<u32>(E_NBL_FREE1).toBe(51);
    expect<u32>(E_RESOURCES).toBe(52);
    expect<u32>(E_CTX_RANGE).toBe(53);
    expect<u32>(E_NBL_LOOP).toBe(54);
    expect<bool>(E_NBL_LOOP < E_LIMIT).toBe(true);
    expect<bool>(E_POOL2 > E_POOL4).toBe(true); // rule errors: src/ maps them with ruleFail
  });
});

describe("nblPoolCreate / nblPoolFree", () => {
  beforeAll(() => {
    resetAll();
    prot = protocolRegister(0x42, 0x00000106, 0, 3);
    gen = genericAllocate(0, TAG_MEM, 0);
  });

  it("records tag, DataSize, Flags, the packed geometry and the owner; sizes the object", () => {
    plain = nblPoolCreate(0, TAG_NBL, 0, 0, packed(0, false, 0));
    full = nblPoolCreate(prot, TAG_NBL, 200, 1, packed(16, true, 2));
    nbOnly = nblPoolCreate(gen, TAG_NBL, 0, 0, packed(0, true, 0));
    ctxPool = nblPoolCreate(0, TAG_NBL, 0, 0, packed(8, false, 0));
    expect<usize>(plain).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<usize>(full).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<usize>(nbOnly).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<usize>(ctxPool).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(lookup(full, K_NBL_POOL)).toBe(E_OK);
    expect<u32>(u32of(full, P_KIND)).toBe(K_NBL);
    expect<u32>(u32of(full, P_TAG)).toBe(TAG_NBL);
    expect<u32>(u32of(full, P_USER0)).toBe(200);
    expect<u32>(u32of(full, P_USER1)).toBe(1);
    expect<u32>(u32of(full, P_USER2)).toBe(packed(16, true, 2));
    expect<u32>(u32of(full, P_OWNER)).toBe(<u32>prot);
    expect<u32>(u32of(plain, P_OWNER)).toBe(0);
    // NBL + context block (8 + 16) + NB + MDL (padded) + 200 bytes of data
    expect<u32>(u32of(full, P_OBJ_SIZE)).toBe((NBL_SIZE + NBLC_DATA + 16 + MDAT_DATA + 200 + 7) & ~7);
    expect<u32>(u32of(plain, P_OBJ_SIZE)).toBe(NBL_SIZE);
    expect<u32>(u32of(nbOnly, P_OBJ_SIZE)).toBe(NBL_SIZE + NB_SIZE);
    expect<u32>(u32of(ctxPool, P_OBJ_SIZE)).toBe(NBL_SIZE + NBLC_DATA + 8);
    expect<u32>(ownedPools(prot)).toBe(1);
    expect<u32>(ownedPools(gen)).toBe(1);
  });

  it("E_POOL2: ProtocolId above 0x0F, or non-zero for a caller that is not a protocol", () => {
    snap = new Counters(full);
    expect<usize>(nblPoolCreate(prot, TAG_NBL, 0, 0, packed(0, false, 0x10))).toBe(E_POOL2);
    expect<u32>(errDetail()).toBe(0x10);
    expect<usize>(nblPoolCreate(prot, TAG_NBL, 0, 0, packed(0, false, 0xff))).toBe(E_POOL2);
    expect<usize>(nblPoolCreate(gen, TAG_NBL, 0, 0, packed(0, false, 2))).toBe(E_POOL2);
    expect<u32>(errDetail()).toBe(2);
    expect<usize>(nblPoolCreate(0, TAG_NBL, 0, 0, packed(0, false, 2))).toBe(E_POOL2);
    expect<u32>(ownedPools(prot)).toBe(1);
    expect<u32>(ownedPools(gen)).toBe(1);
    // A protocol may use 0x0F.
    let p = nblPoolCreate(prot, TAG_NBL, 0, 0, packed(0, false, 0x0f));
    expect<usize>(p).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(nblPoolFree(p)).toBe(E_OK);
    expect<u32>(ownedPools(prot)).toBe(1);
  });

  it("rejects an owner that is not a protocol or generic object (argument 0)", () => {
    expect<usize>(nblPoolCreate(12345, TAG_NBL, 0, 0, 0)).toBe(argErr(0, E_NOT_OURS));
    expect<usize>(nblPoolCreate(plain, TAG_NBL, 0, 0, 0)).toBe(argErr(0, E_WRONG_KIND));
    expect<usize>(nblPoolCreate(prot + 4, TAG_NBL, 0, 0, 0)).toBe(argErr(0, E_MISALIGNED));
  });

  it("returns 0 for an object no 32-bit address space holds", () => {
    expect<usize>(nblPoolCreate(0, TAG_NBL, 0xffffffff, 0, packed(0, true, 0))).toBe(0);
    expect<usize>(nblPoolCreate(0, TAG_NBL, 0xfff00000, 0, packed(0xfff8, true, 0))).toBe(0);
  });

  it("nblPoolFree rejects non-NBL-pool handles (argument 0)", () => {
    nbPool0 = nbPoolCreate(0, TAG_NB, 0, 0);
    expect<u32>(nblPoolFree(nbPool0)).toBe(argErr(0, E_WRONG_KIND));
    expect<u32>(nblPoolFree(0)).toBe(argErr(0, E_NOT_OURS));
    expect<u32>(nblPoolFree(full + 8)).toBe(argErr(0, E_MISALIGNED));
  });
});

describe("nblAllocate: one object", () => {
  it("lays out NBL, context block, NB, MDL and data", () => {
    n1 = nblAllocate(full, 8, 0);
    expect<usize>(n1).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<usize>(n1 & 7).toBe(0);
    let ctx = n1 + NBL_SIZE;
    nb = ctx + NBLC_DATA + 16;
    let mdl = nb + MDAT_MDL;
    expect<u32>(load<u32>(n1 + NBL_NEXT)).toBe(0);
    expect<u32>(load<u32>(n1 + NBL_FIRST_NB)).toBe(<u32>nb);
    expect<u32>(load<u32>(n1 + NBL_CONTEXT)).toBe(<u32>ctx);
    expect<u32>(load<u32>(n1 + NBL_NDIS_POOL_HANDLE)).toBe(<u32>full);
    expect<u32>(load<u32>(n1 + NBL_INFO + NBL_INFO_PROTOCOL_ID * 4)).toBe(2);
    expect<u32>(load<u32>(n1 + NBL_STATUS)).toBe(0);
    expect<u32>(load<u32>(ctx + NBLC_NEXT)).toBe(0);
    expect<u16>(load<u16>(ctx + NBLC_SIZE)).toBe(16);
    expect<u16>(load<u16>(ctx + NBLC_OFFSET)).toBe(8);
    expect<u32>(load<u32>(nb + NB_NEXT)).toBe(0);
    expect<u32>(load<u32>(nb + NB_MDL_CHAIN)).toBe(<u32>mdl);
    expect<u32>(load<u32>(nb + NB_CURRENT_MDL)).toBe(<u32>mdl);
    expect<u32>(load<u32>(nb + NB_CURRENT_MDL_OFFSET)).toBe(0);
    expect<u32>(load<u32>(nb + NB_DATA_OFFSET)).toBe(0);
    expect<u32>(load<u32>(nb + NB_DATA_LENGTH)).toBe(200);
    expect<u32>(load<u32>(nb + NB_NDIS_POOL_HANDLE)).toBe(<u32>full);
    expect<u32>(load<u32>(mdl + MDL_NEXT)).toBe(0);
    expect<u32>(load<u32>(mdl + MDL_BYTE_COUNT)).toBe(200);
    expect<u32>(load<u32>(mdl + MDL_MAPPED_SYSTEM_VA)).toBe(<u32>(nb + MDAT_DATA));
    expect<u16>(load<u16>(mdl + MDL_FLAGS) & MDL_ALLOCATED_FIXED_SIZE).toBe(MDL_ALLOCATED_FIXED_SIZE);
    expect<u32>(u32of(full, P_OUTSTANDING)).toBe(1);
    expect<usize>(nblPool(n1)).toBe(full);
    expect<u32>(nblCheck(n1)).toBe(E_OK);
  });

  it("fAllocateNetBuffer with DataSize 0: an NB with no MDL right after the NBL (decision 9)", () => {
    n2 = nblAllocate(nbOnly, 0, 0);
    expect<usize>(n2).toBeGreaterThanOrEqual(UNIT_SIZE);
    let b = n2 + NBL_SIZE;
    expect<u32>(load<u32>(n2 + NBL_FIRST_NB)).toBe(<u32>b);
    expect<u32>(load<u32>(n2 + NBL_CONTEXT)).toBe(0);
    expect<u32>(load<u32>(b + NB_MDL_CHAIN)).toBe(0);
    expect<u32>(load<u32>(b + NB_CURRENT_MDL)).toBe(0);
    expect<u32>(load<u32>(b + NB_DATA_LENGTH)).toBe(0);
    expect<u32>(load<u32>(b + NB_NDIS_POOL_HANDLE)).toBe(<u32>nbOnly);
  });

  it("no fAllocateNetBuffer: FirstNetBuffer NULL", () => {
    n3 = nblAllocate(plain, 0, 0);
    expect<u32>(load<u32>(n3 + NBL_FIRST_NB)).toBe(0);
    expect<u32>(load<u32>(n3 + NBL_CONTEXT)).toBe(0);
  });

  it("a ContextSize above the pool's gets a tagged block of ContextSize + ContextBackFill (decision 13)", () => {
    n4 = nblAllocate(ctxPool, 24, 16);
    expect<usize>(n4).toBeGreaterThanOrEqual(UNIT_SIZE);
    blk = <usize>load<u32>(n4 + NBL_CONTEXT);
    expect<usize>(blk).not.toBe(n4 + NBL_SIZE);
    expect<u32>(lookup(blk, K_MEMORY)).toBe(E_OK);
    expect<u32>(load<u32>(blk + NBLC_NEXT)).toBe(0);
    expect<u16>(load<u16>(blk + NBLC_SIZE)).toBe(40);
    expect<u16>(load<u16>(blk + NBLC_OFFSET)).toBe(16);
    expect<u32>(nblFree(n4)).toBe(E_OK);
    expect<u32>(lookup(blk, K_MEMORY)).toBe(E_NOT_ALLOCATED);
  });

  it("rejects handles that are not NBL pools (argument 0)", () => {
    expect<usize>(nblAllocate(nbPool0, 0, 0)).toBe(argErr(0, E_WRONG_KIND));
    expect<usize>(nblAllocate(0, 0, 0)).toBe(argErr(0, E_NOT_OURS));
    expect<usize>(nblAllocate(n1, 0, 0)).toBe(argErr(0, E_WRONG_KIND));
  });
});

describe("preallocNb / embeddedMdl / nbFree on interior objects", () => {
  it("preallocNb recognises the NB inside a live NBL and sets gNbl", () => {
    expect<u32>(preallocNb(nb)).toBe(E_OK);
    expect<usize>(gNbl).toBe(n1);
    expect<u32>(preallocNb(n2 + NBL_SIZE)).toBe(E_OK);
    expect<usize>(gNbl).toBe(n2);
    expect<u32>(nbCheck(nb)).toBe(E_OK);
    expect<usize>(nbPool(nb)).toBe(full);
  });

  it("preallocNb rejects other addresses", () => {
    expect<u32>(preallocNb(nb + 4)).toBe(E_MISALIGNED);
    expect<u32>(preallocNb(n1)).not.toBe(E_OK);
    expect<u32>(preallocNb(n3 + NBL_SIZE)).toBe(E_WRONG_KIND); // pool without fAllocateNetBuffer
    expect<u32>(preallocNb(full)).toBe(E_WRONG_KIND);           // a pool descriptor
    expect<u32>(preallocNb(12345)).toBe(E_NOT_OURS);
  });

  it("embeddedMdl recognises the MDL of a DataSize NBL pool only", () => {
    expect<u32>(embeddedMdl(nb + MDAT_MDL)).toBe(E_OK);
    expect<usize>(gNbl).toBe(n1);
    expect<u32>(mdlCheck(nb + MDAT_MDL)).toBe(E_OK);
    expect<u32>(embeddedMdl(nb + MDAT_MDL + 4)).toBe(E_WRONG_KIND);
    expect<u32>(embeddedMdl(n2 + NBL_SIZE + MDAT_MDL)).toBe(E_WRONG_KIND); // DataSize 0
    expect<u32>(embeddedMdl(12345)).toBe(E_NOT_OURS);
  });

  it("nbFree on a preallocated NB is E_NBL_FREE1 and frees nothing", () => {
    snap = new Counters(full);
    expect<u32>(nbFree(nb)).toBe(E_NBL_FREE1);
    expect<u32>(nbFree(n2 + NBL_SIZE)).toBe(E_NBL_FREE1);
    expect<bool>(snap!.same(full)).toBe(true);
    expect<u32>(nblCheck(n1)).toBe(E_OK);
    expect<u32>(mdlFree(nb + MDAT_MDL)).toBe(argErr(0, E_WRONG_KIND));
  });
});

describe("nblAllocateWithNb", () => {
  beforeAll(() => {
    mem = memoryAllocate(gen, 250, TAG_MEM);
    m1 = mdlAllocate(gen, mem, 100);
    m2 = mdlAllocate(gen, mem + 100, 150);
    store<u32>(m1 + MDL_NEXT, <u32>m2);
  });

  it("E_POOL3 on a pool with DataSize or without fAllocateNetBuffer", () => {
    snap = new Counters(full);
    expect<usize>(nblAllocateWithNb(full, 0, 0, 0, 0, 0)).toBe(E_POOL3);
    expect<bool>(snap!.same(full)).toBe(true);
    expect<usize>(nblAllocateWithNb(plain, 0, 0, 0, 0, 0)).toBe(E_POOL3);
    expect<usize>(nblAllocateWithNb(nbPool0, 0, 0, 0, 0, 0)).toBe(argErr(0, E_WRONG_KIND));
  });

  it("E_NB_ARGS, E_NB_RANGE, E_MDL_LOOP and argument-3 MDL errors, changing nothing", () => {
    snap = new Counters(nbOnly);
    expect<usize>(nblAllocateWithNb(nbOnly, 0, 0, 0, 1, 0)).toBe(E_NB_ARGS);
    expect<usize>(nblAllocateWithNb(nbOnly, 0, 0, 0, 0, 1)).toBe(E_NB_ARGS);
    expect<usize>(nblAllocateWithNb(nbOnly, 0, 0, m1, 200, 51)).toBe(E_NB_RANGE);
    expect<u32>(errDetail()).toBe(250);
    expect<usize>(nblAllocateWithNb(nbOnly, 0, 0, plain, 0, 0)).toBe(argErr(3, E_WRONG_KIND));
    store<u32>(m2 + MDL_NEXT, <u32>m1);
    expect<usize>(nblAllocateWithNb(nbOnly, 0, 0, m1, 0, 0)).toBe(E_MDL_LOOP);
    store<u32>(m2 + MDL_NEXT, 0);
    expect<bool>(snap!.same(nbOnly)).toBe(true);
  });

  it("sets the NB over a 2-MDL chain with CurrentMdl computed", () => {
    n5 = nblAllocateWithNb(nbOnly, 0, 0, m1, 120, 100);
    expect<usize>(n5).toBeGreaterThanOrEqual(UNIT_SIZE);
    let b = <usize>load<u32>(n5 + NBL_FIRST_NB);
    expect<usize>(b).toBe(n5 + NBL_SIZE);
    expect<u32>(load<u32>(b + NB_MDL_CHAIN)).toBe(<u32>m1);
    expect<u32>(load<u32>(b + NB_CURRENT_MDL)).toBe(<u32>m2);
    expect<u32>(load<u32>(b + NB_CURRENT_MDL_OFFSET)).toBe(20);
    expect<u32>(load<u32>(b + NB_DATA_OFFSET)).toBe(120);
    expect<u32>(load<u32>(b + NB_DATA_LENGTH)).toBe(100);
    // The NBL's own MDL (inside another NBL) heads a chain as well.
    let n6 = nblAllocateWithNb(nbOnly, 0, 0, nb + MDAT_MDL, 0, 200);
    expect<usize>(n6).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(nblFree(n6)).toBe(E_OK);
    // Freeing the NBL leaves the caller's MDLs.
    expect<u32>(nblFree(n5)).toBe(E_OK);
    expect<u32>(mdlCheck(m1)).toBe(E_OK);
    expect<u32>(mdlCheck(m2)).toBe(E_OK);
  });
});

describe("ctxAllocate / ctxFree", () => {
  it("uses unused space first, then pushes a block", () => {
    n4 = nblAllocate(ctxPool, 0, 0);
    let base = n4 + NBL_SIZE;
    expect<u16>(load<u16>(base + NBLC_OFFSET)).toBe(8);
    expect<u32>(ctxAllocate(n4, 4, 0, TAG_CTX)).toBe(E_OK);
    expect<u32>(load<u32>(n4 + NBL_CONTEXT)).toBe(<u32>base);
    expect<u16>(load<u16>(base + NBLC_OFFSET)).toBe(4);
    expect<u32>(ctxAllocate(n4, 12, 4, TAG_CTX)).toBe(E_OK);
    blk = <usize>load<u32>(n4 + NBL_CONTEXT);
    expect<usize>(blk).not.toBe(base);
    expect<u32>(lookup(blk, K_MEMORY)).toBe(E_OK);
    expect<u32>(load<u32>(blk + NBLC_NEXT)).toBe(<u32>base);
    expect<u16>(load<u16>(blk + NBLC_SIZE)).toBe(16);
    expect<u16>(load<u16>(blk + NBLC_OFFSET)).toBe(4);
  });

  it("nblFree with context still allocated is E_NBL_FREE2 (errPtr = NBL, detail = context) and frees nothing", () => {
    snap = new Counters(ctxPool);
    expect<u32>(nblFree(n4)).toBe(E_NBL_FREE2);
    expect<usize>(errPtr()).toBe(n4);
    expect<u32>(errDetail()).toBe(<u32>blk);
    expect<bool>(snap!.same(ctxPool)).toBe(true);
    expect<u32>(lookup(blk, K_MEMORY)).toBe(E_OK);
  });

  it("ctxFree pops the block when it is entirely unused, then releases into the base", () => {
    expect<u32>(ctxFree(n4, 12)).toBe(E_OK);
    expect<u32>(load<u32>(n4 + NBL_CONTEXT)).toBe(<u32>(n4 + NBL_SIZE));
    expect<u32>(lookup(blk, K_MEMORY)).toBe(E_NOT_ALLOCATED);
    // The 4 bytes from the base block's unused space still block the free.
    expect<u32>(nblFree(n4)).toBe(E_NBL_FREE2);
    expect<u32>(ctxFree(n4, 4)).toBe(E_OK);
    expect<u16>(load<u16>(n4 + NBL_SIZE + NBLC_OFFSET)).toBe(8);
  });

  it("ctxFree into the allocation's context is E_NBL_FREE2; more than a pushed block is E_CTX_RANGE", () => {
    expect<u32>(ctxFree(n4, 4)).toBe(E_NBL_FREE2);
    expect<u32>(errDetail()).toBe(0);
    expect<u16>(load<u16>(n4 + NBL_SIZE + NBLC_OFFSET)).toBe(8);
    expect<u32>(ctxFree(n3, 4)).toBe(E_CTX_RANGE); // no context at all
    expect<u32>(ctxAllocate(n3, 8, 0, TAG_CTX)).toBe(E_OK);
    expect<u32>(ctxFree(n3, 12)).toBe(E_CTX_RANGE);
    expect<u32>(errDetail()).toBe(8);
    expect<u32>(ctxFree(n3, 8)).toBe(E_OK);
    expect<u32>(load<u32>(n3 + NBL_CONTEXT)).toBe(0);
    expect<u32>(ctxAllocate(n1 + 4, 8, 0, TAG_CTX)).toBe(argErr(0, E_MISALIGNED));
    expect<u32>(ctxFree(nbPool0, 8)).toBe(argErr(0, E_WRONG_KIND));
  });

});

describe("chains", () => {
  it("nblCountChain / nbCountChain count a chain (lastResult)", () => {
    // n1 (1 NB) -> n2 (1 NB) -> n3 (0) -> n4 (0)
    store<u32>(n1 + NBL_NEXT, <u32>n2);
    store<u32>(n2 + NBL_NEXT, <u32>n3);
    store<u32>(n3 + NBL_NEXT, <u32>n4);
    store<u32>(n4 + NBL_NEXT, 0);
    expect<u32>(nblCountChain(n1)).toBe(E_OK);
    expect<u32>(lastResult()).toBe(4);
    expect<u32>(nbCountChain(n1)).toBe(E_OK);
    expect<u32>(lastResult()).toBe(2);
    expect<u32>(nblCountChain(0)).toBe(E_OK);
    expect<u32>(lastResult()).toBe(0);
    expect<u32>(nbCountChain(n3)).toBe(E_OK);
    expect<u32>(lastResult()).toBe(0);
  });

  it("a bad link is argument-0 error with errPtr = the link and errDetail = its index", () => {
    store<u32>(n2 + NBL_NEXT, <u32>nbPool0);
    expect<u32>(nblCountChain(n1)).toBe(argErr(0, E_WRONG_KIND));
    expect<usize>(errPtr()).toBe(nbPool0);
    expect<u32>(errDetail()).toBe(2);
    store<u32>(n2 + NBL_NEXT, <u32>(n3 + 8));
    expect<u32>(nbCountChain(n1)).toBe(argErr(0, E_MISALIGNED));
    expect<u32>(errDetail()).toBe(2);
    store<u32>(n2 + NBL_NEXT, <u32>n3);
  });

  it("loops are E_NBL_LOOP for every chain call, without hanging", () => {
    store<u32>(n4 + NBL_NEXT, <u32>n1);
    expect<u32>(nblCountChain(n1)).toBe(E_NBL_LOOP);
    expect<u32>(nbCountChain(n1)).toBe(E_NBL_LOOP);
    snap = new Counters(full);
    expect<u32>(nblFreeChain(n1)).toBe(E_NBL_LOOP);
    expect<bool>(snap!.same(full)).toBe(true);
    store<u32>(n4 + NBL_NEXT, <u32>n3); // n3 <-> n4
    expect<u32>(nblCountChain(n1)).toBe(E_NBL_LOOP);
    store<u32>(n1 + NBL_NEXT, <u32>n1); // self
    expect<u32>(nblCountChain(n1)).toBe(E_NBL_LOOP);
    store<u32>(n1 + NBL_NEXT, <u32>n2);
    store<u32>(n4 + NBL_NEXT, 0);
    // An NB list that loops.
    let nbA = nbAllocate(nbPool0, 0, 0, 0);
    let nbB = nbAllocate(nbPool0, 0, 0, 0);
    store<u32>(nbA + NB_NEXT, <u32>nbB);
    store<u32>(nbB + NB_NEXT, <u32>nbA);
    store<u32>(n3 + NBL_FIRST_NB, <u32>nbA);
    expect<u32>(nbCountChain(n1)).toBe(E_NBL_LOOP);
    expect<usize>(errPtr()).toBe(n3);
    store<u32>(nbB + NB_NEXT, 0);
    expect<u32>(nbCountChain(n1)).toBe(E_OK);
    expect<u32>(lastResult()).toBe(4);
    store<u32>(n3 + NBL_FIRST_NB, 0);
    store<u32>(nbA + NB_NEXT, 0);
    expect<u32>(nbFree(nbA)).toBe(E_OK);
    expect<u32>(nbFree(nbB)).toBe(E_OK);
  });

  it("nblFreeChain is all or nothing: a pushed context is E_NBL_FREE2 at its index", () => {
    expect<u32>(ctxAllocate(n3, 8, 0, TAG_CTX)).toBe(E_OK);
    snap = new Counters(plain);
    let s2 = new Counters(full);
    expect<u32>(nblFreeChain(n1)).toBe(E_NBL_FREE2);
    expect<usize>(errPtr()).toBe(n3);
    expect<u32>(errDetail()).toBe(2);
    expect<bool>(snap!.same(plain)).toBe(true);
    expect<bool>(s2.same(full)).toBe(true);
    expect<u32>(nblCheck(n1)).toBe(E_OK);
    expect<u32>(nblCheck(n2)).toBe(E_OK);
    expect<u32>(ctxFree(n3, 8)).toBe(E_OK);
  });

  it("nblFreeChain is all or nothing: a freed NBL in the middle", () => {
    let x = nblAllocate(plain, 0, 0);
    store<u32>(n2 + NBL_NEXT, <u32>x);
    store<u32>(x + NBL_NEXT, <u32>n3);
    expect<u32>(nblFree(x)).toBe(E_OK);
    snap = new Counters(full);
    expect<u32>(nblFreeChain(n1)).toBe(argErr(0, E_NOT_ALLOCATED));
    expect<usize>(errPtr()).toBe(x);
    expect<u32>(errDetail()).toBe(2);
    expect<bool>(snap!.same(full)).toBe(true);
    expect<u32>(nblCheck(n1)).toBe(E_OK);
    store<u32>(n2 + NBL_NEXT, <u32>n3);
  });

  it("nblFreeChain frees every link (lastResult = count), then nblFree is a double free", () => {
    expect<u32>(nblFreeChain(n1)).toBe(E_OK);
    expect<u32>(lastResult()).toBe(4);
    expect<u32>(nblCheck(n1)).toBe(E_NOT_ALLOCATED);
    expect<u32>(nblCheck(n4)).toBe(E_NOT_ALLOCATED);
    expect<u32>(nblFree(n1)).toBe(argErr(0, E_NOT_ALLOCATED));
    expect<u32>(preallocNb(nb)).toBe(E_NOT_ALLOCATED);
    expect<u32>(embeddedMdl(nb + MDAT_MDL)).toBe(E_NOT_ALLOCATED);
    expect<u32>(u32of(full, P_OUTSTANDING)).toBe(0);
    expect<u32>(u32of(nbOnly, P_OUTSTANDING)).toBe(0);
    expect<u32>(u32of(plain, P_OUTSTANDING)).toBe(0);
    expect<u32>(u32of(ctxPool, P_OUTSTANDING)).toBe(0);
    expect<u32>(checkInvariants(full)).toBe(0);
    expect<u32>(checkInvariants(plain)).toBe(0);
    expect<u32>(nblFreeChain(0)).toBe(E_OK);
    expect<u32>(lastResult()).toBe(0);
  });
});

describe("POOL-5, POOL-6 and nblPool", () => {
  it("nblPoolFree with NBLs outstanding is E_POOL5 (detail = count)", () => {
    n1 = nblAllocate(full, 0, 0);
    n2 = nblAllocate(full, 16, 8);
    expect<u32>(nblPoolFree(full)).toBe(E_POOL5);
    expect<u32>(errDetail()).toBe(2);
    expect<u32>(nblFree(n1)).toBe(E_OK);
    expect<u32>(nblFree(n2)).toBe(E_OK);
    expect<usize>(nblPool(n1)).toBe(argErr(0, E_NOT_ALLOCATED));
  });

  it("a protocol or generic object owning an NBL pool is E_POOL6", () => {
    expect<u32>(protocolDeregister(prot)).toBe(E_POOL6);
    expect<u32>(errDetail()).toBe(1);
    expect<u32>(genericFree(gen)).toBe(E_POOL6);
    expect<u32>(nblPoolFree(full)).toBe(E_OK);
    expect<u32>(ownedPools(prot)).toBe(0);
    expect<u32>(protocolDeregister(prot)).toBe(E_OK);
    expect<u32>(nblPoolFree(nbOnly)).toBe(E_OK);
    expect<u32>(memoryFree(gen, mem, TAG_MEM)).toBe(E_OK);
    expect<u32>(mdlFree(m1)).toBe(E_OK);
    expect<u32>(mdlFree(m2)).toBe(E_OK);
    expect<u32>(genericFree(gen)).toBe(E_OK);
    // A freed pool handle is rejected.
    expect<usize>(nblAllocate(full, 0, 0)).toBe(argErr(0, E_NOT_ALLOCATED));
    expect<u32>(nblPoolFree(full)).toBe(argErr(0, E_NOT_ALLOCATED));
  });
});

describe("context sizes near 0xFFFF", () => {
  // Each test uses its own NBL: a failure leaves it behind without disturbing the others.
  it("ctxAllocate: a pushed block's Size holds ContextSize + ContextBackFill (no USHORT overflow)", () => {
    n5 = nblAllocate(plain, 0, 0);
    let e = ctxAllocate(n5, 0xfffc, 0x10, TAG_CTX);
    if (e == E_OK) {
      let c = <usize>load<u32>(n5 + NBL_CONTEXT);
      // Offset (unused bytes) + the bytes in use fit in Size (NDIS-SPEC §4.3).
      expect<u32>(<u32>load<u16>(c + NBLC_OFFSET) + 0xfffc).toBeLessThanOrEqual(<u32>load<u16>(c + NBLC_SIZE));
      expect<u32>(ctxFree(n5, 0xfffc)).toBe(E_OK);
    } else {
      expect<u32>(e).toBe(E_RESOURCES);
    }
    expect<u32>(load<u32>(n5 + NBL_CONTEXT)).toBe(0);
    expect<u32>(nblFree(n5)).toBe(E_OK);
  });

  it("nblAllocate: a decision-13 block's Size holds ContextSize + ContextBackFill (no USHORT overflow)", () => {
    n5 = nblAllocate(plain, 0xfff8, 0x10);
    if (n5 != 0) {
      let c = <usize>load<u32>(n5 + NBL_CONTEXT);
      expect<u32>(<u32>load<u16>(c + NBLC_OFFSET) + 0xfff8).toBeLessThanOrEqual(<u32>load<u16>(c + NBLC_SIZE));
      expect<u32>(nblFree(n5)).toBe(E_OK);
    }
  });
});

describe("E_RESOURCES", () => {
  it("ctxAllocate returns E_RESOURCES when memory is spent, and changes nothing", () => {
    resetAll();
    gen = genericAllocate(0, TAG_MEM, 0);
    ctxPool = nblPoolCreate(0, TAG_NBL, 0, 0, packed(8, false, 0));
    n1 = nblAllocate(ctxPool, 8, 0);
    expect<usize>(n1).toBeGreaterThanOrEqual(UNIT_SIZE);
    // Spend the budget: 1 MiB blocks, then smaller ones.
    let n: u32 = 0;
    let first: usize = 0;
    let size: u32 = 1 << 20;
    while (size >= 16 && n < 4096) {
      let m = memoryAllocate(gen, size, TAG_MEM);
      if (m == 0) { size >>= 2; continue; }
      if (first == 0) first = m;
      n++;
    }
    expect<u32>(n).toBeGreaterThan(16);
    expect<usize>(first).toBeGreaterThan(0);
    let base = n1 + NBL_SIZE;
    expect<u32>(ctxAllocate(n1, 64, 0, TAG_CTX)).toBe(E_RESOURCES);
    expect<u32>(load<u32>(n1 + NBL_CONTEXT)).toBe(<u32>base);
    expect<u16>(load<u16>(base + NBLC_OFFSET)).toBe(0);
    expect<u32>(nblFree(n1)).toBe(E_OK); // nothing was pushed
    // nblAllocate with a block it cannot get returns 0 and leaks nothing.
    snap = new Counters(ctxPool);
    expect<usize>(nblAllocate(ctxPool, 64, 0)).toBe(0);
    expect<bool>(snap!.same(ctxPool)).toBe(true);
    // With a block back the calls succeed.
    expect<u32>(memoryFree(gen, first, TAG_MEM)).toBe(E_OK);
    n1 = nblAllocate(ctxPool, 8, 0);
    expect<u32>(ctxAllocate(n1, 64, 0, TAG_CTX)).toBe(E_OK);
    expect<u32>(ctxFree(n1, 64)).toBe(E_OK);
    expect<u32>(nblFree(n1)).toBe(E_OK);
    resetAll();
  });
});
