// NDIS 5 packet and buffer pools on the Wasm side (packet.ts; NDIS-SPEC §4.5, §8; DESIGN
// decisions 15-17): the NDIS_PACKET layout is pinned, then packetSize, packetPoolCreate's limits,
// packetAllocate / packetFree, buffers, chain / unchain, packetReinitialize, packetQuery and the
// error codes E_PKT4 (61), E_BUF_CHAINED (62) and E_PKT1 (63).
import {
  PK_PHYSICAL_COUNT, PK_TOTAL_LENGTH, PK_HEAD, PK_TAIL, PK_POOL, PK_COUNT, PK_FLAGS, PK_VALID_COUNTS,
  PK_PACKET_FLAGS, PK_OOB_OFFSET, PK_MINIPORT_RESERVED, PK_RESERVED, PK_PROTOCOL_RESERVED,
  OOB_HEADER_SIZE, OOB_STATUS, OOB_SIZE, MAX_PER_PACKET_INFO, PACKET_EXTENSION_SIZE,
  PACKET_ALLOCATED_BY_NDIS, PACKET_POOL_MAX, E_PKT4, E_BUF_CHAINED, E_PKT1, E_OK, E_NOT_OURS,
  E_WRONG_KIND, E_MISALIGNED, E_NOT_ALLOCATED, E_BAD_RANGE, E_MDL_LOOP, E_LIMIT, E_POOL4, ARG_SHIFT,
  K_PACKET_POOL, K_BUFFER_POOL, K_PACKET, ROOT_PACKET_POOLS, ROOT_BUFFER_POOLS, MDL_NEXT,
  MDL_BYTE_COUNT, MDL_AUX_PACKET, P_MAX_OUT, P_OUTSTANDING, P_FAILURES, P_TAG, UNIT_SIZE,
} from "../layout";
import {
  init, resetAll, errPtr, errDetail, pkResult, protocolRegister, memoryAllocate, layout,
  unitsOwned, unitsFreeCount,
  packetSize, packetPoolCreate, packetPoolFree, packetPoolCheck, packetPoolSetProtocolId,
  packetAllocate, packetCheck, packetFree, bufferPoolCreate, bufferPoolFree, bufferAllocate,
  bufferFree, chainAtFront, chainAtBack, unchainAtFront, unchainAtBack, packetReinitialize,
  packetQuery, packetPoolOverflowInUse,
} from "../index";
import { u32of, u64of, Counters, checkInvariants } from "./util";

const ROOT_ADDR = init(1024); // 64 MiB

const TAG_MEM: u32 = 0x4d454d31; // '1MEM'
const MEM_LEN: u32 = 0x6000;

function argErr(arg: u32, e: u32): u32 { return (arg << ARG_SHIFT) | e; }

let prot: usize = 0;
let mem: usize = 0;
// Fixtures of the describe blocks (as-pect callbacks cannot close over locals).
let h: usize = 0;
let p1: usize = 0;
let p2: usize = 0;
let p: usize = 0;
let q: usize = 0;
let a: usize = 0;
let b: usize = 0;
let c: usize = 0;
let d: usize = 0;
let k: u32 = 0; // offset in mem of a 4 KiB boundary

/** An NDIS_BUFFER over [mem + off, + len) from no buffer pool. */
function buf(off: u32, len: u32): usize { return bufferAllocate(0, mem + off, len); }

describe("setup", () => {
  it("init succeeds", () => {
    expect<usize>(ROOT_ADDR).toBeGreaterThan(0);
  });
});

describe("NDIS_PACKET layout (x86, NDIS-SPEC §4.5, DESIGN D4)", () => {
  it("Private: 0x20 bytes of fields at their x86 offsets", () => {
    expect<u32>(PK_PHYSICAL_COUNT).toBe(0x00);
    expect<u32>(PK_TOTAL_LENGTH).toBe(0x04);
    expect<u32>(PK_HEAD).toBe(0x08);
    expect<u32>(PK_TAIL).toBe(0x0c);
    expect<u32>(PK_POOL).toBe(0x10);
    expect<u32>(PK_COUNT).toBe(0x14);
    expect<u32>(PK_FLAGS).toBe(0x18);
    expect<u32>(PK_VALID_COUNTS).toBe(0x1c);
    expect<u32>(PK_PACKET_FLAGS).toBe(0x1d);
    expect<u32>(PK_OOB_OFFSET).toBe(0x1e);
    expect<u32>(PK_OOB_OFFSET + 2).toBe(0x20); // sizeof(NDIS_PACKET_PRIVATE)
  });

  it("the reserved union at 0x20 (16 bytes), Reserved[2] at 0x30, ProtocolReserved at 0x38", () => {
    expect<u32>(PK_MINIPORT_RESERVED).toBe(0x20);
    expect<u32>(PK_RESERVED).toBe(0x30);
    expect<u32>(PK_RESERVED - PK_MINIPORT_RESERVED).toBe(16); // MacReserved[4]
    expect<u32>(PK_PROTOCOL_RESERVED).toBe(0x38);
    expect<u32>(PK_PROTOCOL_RESERVED - PK_RESERVED).toBe(8); // ULONG_PTR Reserved[2]
  });

  it("OOB data (32 bytes: HeaderSize at 16, Status at 28) and the extension (MaxPerPacketInfo 12)", () => {
    expect<u32>(OOB_SIZE).toBe(32);
    expect<u32>(OOB_HEADER_SIZE).toBe(16);
    expect<u32>(OOB_STATUS).toBe(28);
    expect<u32>(MAX_PER_PACKET_INFO).toBe(12);
    expect<u32>(PACKET_EXTENSION_SIZE).toBe(48);
    expect<u8>(PACKET_ALLOCATED_BY_NDIS).toBe(0x80);
    expect<u32>(PACKET_POOL_MAX).toBe(0xffff);
  });

  it("layout() reports the same values to src/", () => {
    expect<u32>(layout(93)).toBe(PK_PHYSICAL_COUNT);
    expect<u32>(layout(95)).toBe(PK_HEAD);
    expect<u32>(layout(97)).toBe(PK_POOL);
    expect<u32>(layout(102)).toBe(PK_OOB_OFFSET);
    expect<u32>(layout(103)).toBe(0x20);
    expect<u32>(layout(104)).toBe(0x30);
    expect<u32>(layout(105)).toBe(0x38);
    expect<u32>(layout(108)).toBe(32);
    expect<u32>(layout(109)).toBe(12);
  });

  it("kinds, roots and error codes", () => {
    expect<u32>(K_PACKET_POOL).toBe(7);
    expect<u32>(K_BUFFER_POOL).toBe(8);
    expect<u32>(K_PACKET).toBe(16);
    expect<u32>(ROOT_PACKET_POOLS).toBe(7);
    expect<u32>(ROOT_BUFFER_POOLS).toBe(8);
    expect<u32>(MDL_AUX_PACKET).toBe(3);
    expect<u32>(E_PKT4).toBe(61);
    expect<u32>(E_BUF_CHAINED).toBe(62);
    expect<u32>(E_PKT1).toBe(63);
    expect<bool>(E_PKT1 < E_LIMIT).toBe(true);
    expect<bool>(E_PKT4 > E_POOL4).toBe(true); // rule errors
  });
});

describe("packetSize", () => {
  it("is the 8-aligned end of ProtocolReserved + 32 (OOB) + 48 (extension)", () => {
    expect<u32>(packetSize(0)).toBe(0x38 + 80);
    expect<u32>(packetSize(1)).toBe(0x40 + 80);
    expect<u32>(packetSize(8)).toBe(0x40 + 80);
    expect<u32>(packetSize(9)).toBe(0x48 + 80);
    expect<u32>(packetSize(16)).toBe(0x48 + 80);
    expect<u32>(packetSize(16)).toBe(152);
    for (let len: u32 = 0; len < 64; len++) {
      let s = packetSize(len);
      if ((s & 7) != 0 || s < PK_PROTOCOL_RESERVED + len + OOB_SIZE + PACKET_EXTENSION_SIZE || s > PK_PROTOCOL_RESERVED + len + 7 + 80) {
        expect<u32>(len).toBe(0xffffffff); // names the failing length
      }
    }
  });

  it("is 0 when the block cannot be represented (no wrap-around)", () => {
    expect<u32>(packetSize(0xffffffff)).toBe(0);
    expect<u32>(packetSize(0xfffffff0)).toBe(0);
    expect<u32>(packetSize(0xfff00000)).toBe(0);
    expect<u32>(packetSize(0x7fffffff)).toBeGreaterThan(0x7fffffff);
  });
});

describe("packetPoolCreate limits", () => {
  beforeAll(() => {
    resetAll();
    prot = protocolRegister(0, 0, 0, 0);
    mem = memoryAllocate(prot, MEM_LEN, TAG_MEM);
  });

  it("limit = min(0xFFFF, NumberOfDescriptors + overflow); above 0xFFFF descriptors is 0 (RESOURCES)", () => {
    let pa = packetPoolCreate(3, 0, 16);
    expect<usize>(pa).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(u32of(pa, P_MAX_OUT)).toBe(3);
    expect<u32>(u32of(pa, P_TAG)).toBe(0x7070444e); // 'NDpp'
    let pb = packetPoolCreate(2, 5, 0);
    expect<u32>(u32of(pb, P_MAX_OUT)).toBe(7);
    let pc = packetPoolCreate(0xffff, 0, 0);
    expect<u32>(u32of(pc, P_MAX_OUT)).toBe(0xffff);
    let pd = packetPoolCreate(1, 0xffffffff, 0);
    expect<u32>(u32of(pd, P_MAX_OUT)).toBe(0xffff);
    let pe = packetPoolCreate(0, 0, 0);
    expect<usize>(pe).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(u32of(pe, P_MAX_OUT)).toBe(0);
    expect<usize>(packetPoolCreate(0x10000, 0, 16)).toBe(0);
    expect<usize>(packetPoolCreate(0xffffffff, 0, 16)).toBe(0);
    expect<usize>(packetPoolCreate(4, 0, 0xfffffff0)).toBe(0);
    expect<u32>(packetPoolFree(pa)).toBe(E_OK);
    expect<u32>(packetPoolFree(pb)).toBe(E_OK);
    expect<u32>(packetPoolFree(pc)).toBe(E_OK);
    expect<u32>(packetPoolFree(pd)).toBe(E_OK);
    expect<u32>(packetPoolFree(pe)).toBe(E_OK);
  });

  it("a pool whose static descriptors do not fit in memory is 0, and takes nothing", () => {
    let keep = packetPoolCreate(1, 0, 0); // the root pool has its slab
    let before = new Counters(keep);
    let used = unitsOwned() - unitsFreeCount();
    // 0xFFFF descriptors of ~60 KB each cannot be reserved in 64 MiB: some slabs are made, then
    // given back.
    expect<usize>(packetPoolCreate(0xffff, 0, 60000)).toBe(0);
    expect<u32>(unitsOwned() - unitsFreeCount()).toBe(used);
    expect<bool>(before.same(keep)).toBe(true);
    expect<u32>(checkInvariants(keep)).toBe(0);
    // A pool that fits is created after that.
    let fits = packetPoolCreate(100, 0, 60000);
    expect<usize>(fits).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(unitsOwned() - unitsFreeCount()).toBeGreaterThan(used + 100 * 60000 / UNIT_SIZE);
    expect<u32>(packetPoolFree(fits)).toBe(E_OK);
    expect<u32>(unitsOwned() - unitsFreeCount()).toBe(used);
    expect<u32>(packetPoolFree(keep)).toBe(E_OK);
  });

  it("NumberOfDescriptors 0: every allocation is NULL and counted as a failure", () => {
    let h = packetPoolCreate(0, 0, 16);
    expect<usize>(packetAllocate(h)).toBe(0);
    expect<usize>(packetAllocate(h)).toBe(0);
    expect<u64>(u64of(h, P_FAILURES)).toBe(2);
    expect<u32>(u32of(h, P_OUTSTANDING)).toBe(0);
    expect<u32>(packetPoolFree(h)).toBe(E_OK);
  });

  it("a ProtocolReservedLength past 0xFFC0 cannot wrap NdisPacketOobOffset (a USHORT) into ProtocolReserved", () => {
    let ok = packetPoolCreate(1, 0, 0xffc0);
    let p = packetAllocate(ok);
    expect<u16>(load<u16>(p + PK_OOB_OFFSET)).toBe(0xfff8);
    let h = packetPoolCreate(1, 0, 0xffc8);
    if (h != 0) {
      let q = packetAllocate(h);
      expect<u32>(<u32>load<u16>(q + PK_OOB_OFFSET)).toBeGreaterThanOrEqual(PK_PROTOCOL_RESERVED + 0xffc8);
    }
  });

  it("a ProtocolReservedLength the USHORT NdisPacketOobOffset cannot describe is 0 (RESOURCES)", () => {
    expect<usize>(packetPoolCreate(2, 0, 300000)).toBe(0);
    expect<usize>(packetPoolCreate(2, 0, 0xFFFF - 0x38 - 7 + 1)).toBe(0);
    let h = packetPoolCreate(2, 0, 0xFFFF - 0x38 - 7); // the largest that fits
    expect<usize>(h).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(packetPoolFree(h)).toBe(E_OK);
  });
});

describe("packetAllocate / packetFree", () => {
  beforeAll(() => {
    resetAll();
    prot = protocolRegister(0, 0, 0, 0);
    mem = memoryAllocate(prot, MEM_LEN, TAG_MEM);
    h = packetPoolCreate(2, 2, 20);
  });

  it("a zeroed descriptor with Pool, NdisPacketFlags and the OOB offset set", () => {
    p1 = packetAllocate(h);
    expect<usize>(p1).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(packetCheck(p1, 0)).toBe(E_OK);
    expect<u32>(load<u32>(p1 + PK_POOL)).toBe(<u32>h);
    expect<u8>(load<u8>(p1 + PK_PACKET_FLAGS)).toBe(PACKET_ALLOCATED_BY_NDIS);
    expect<u16>(load<u16>(p1 + PK_OOB_OFFSET)).toBe(0x50); // 0x38 + 20 -> 0x4C, 8-aligned
    expect<u32>(load<u32>(p1 + PK_HEAD)).toBe(0);
    expect<u32>(load<u32>(p1 + PK_TAIL)).toBe(0);
    expect<u8>(load<u8>(p1 + PK_VALID_COUNTS)).toBe(0);
    expect<u32>(load<u32>(p1 + PK_FLAGS)).toBe(0);
    // Dirty everything but Pool, free, reallocate: the same slot, zeroed again.
    let size = packetSize(20);
    memory.fill(p1 + PK_POOL + 4, 0xee, size - PK_POOL - 4);
    memory.fill(p1, 0xee, PK_POOL);
    expect<u32>(packetFree(p1)).toBe(E_OK);
    let again = packetAllocate(h);
    expect<usize>(again).toBe(p1);
    let bad: u32 = 0;
    for (let i: u32 = 0; i < size; i++) {
      let v = load<u8>(p1 + i);
      let want: u8 = 0;
      if (i >= PK_POOL && i < PK_POOL + 4) want = <u8>(h >>> ((i - PK_POOL) * 8));
      else if (i == PK_PACKET_FLAGS) want = 0x80;
      else if (i == PK_OOB_OFFSET) want = 0x50;
      if (v != want) bad++;
    }
    expect<u32>(bad).toBe(0);
  });

  it("the protocol ID set on the pool is the low nibble of later packets' Flags", () => {
    expect<u32>(packetPoolSetProtocolId(h, 2)).toBe(E_OK);
    p2 = packetAllocate(h);
    expect<u32>(load<u32>(p2 + PK_FLAGS)).toBe(2);
    expect<u32>(load<u32>(p1 + PK_FLAGS)).toBe(0);
    expect<u32>(packetPoolSetProtocolId(h, 0)).toBe(E_OK);
  });

  it("overflow descriptors after the static ones, up to the limit; then 0", () => {
    expect<u32>(packetPoolOverflowInUse(h)).toBe(0);
    let o1 = packetAllocate(h);
    let o2 = packetAllocate(h);
    expect<usize>(o1).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<usize>(o2).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(packetPoolOverflowInUse(h)).toBe(2);
    expect<usize>(packetAllocate(h)).toBe(0);
    expect<u32>(packetFree(o2)).toBe(E_OK);
    expect<u32>(packetPoolOverflowInUse(h)).toBe(1);
    expect<u32>(packetFree(o1)).toBe(E_OK);
    expect<u32>(packetPoolOverflowInUse(h)).toBe(0);
    expect<u32>(u32of(h, P_OUTSTANDING)).toBe(2);
    expect<u32>(checkInvariants(h)).toBe(0);
  });

  it("a packet allocated while a static descriptor is free is not an overflow descriptor", () => {
    // Its own pool (2 static + 2 overflow): a failure here leaves the shared fixture alone.
    let pool = packetPoolCreate(2, 2, 0);
    let s1 = packetAllocate(pool);
    packetAllocate(pool);
    packetAllocate(pool); // both static ones in use: an overflow descriptor
    expect<u32>(packetPoolOverflowInUse(pool)).toBe(1);
    expect<u32>(packetFree(s1)).toBe(E_OK); // a static one is free again
    packetAllocate(pool); // takes it
    expect<u32>(packetPoolOverflowInUse(pool)).toBe(1);
  });

  it("E_PKT1: Private.Pool overwritten; the detail names the value found", () => {
    store<u32>(p1 + PK_POOL, 0x12345678);
    expect<u32>(packetCheck(p1, 0)).toBe(E_PKT1);
    expect<usize>(errPtr()).toBe(p1);
    expect<u32>(errDetail()).toBe(0x12345678);
    let before = new Counters(h);
    expect<u32>(packetFree(p1)).toBe(E_PKT1);
    expect<u32>(packetReinitialize(p1)).toBe(E_PKT1);
    expect<u32>(packetQuery(p1)).toBe(E_PKT1);
    expect<bool>(before.same(h)).toBe(true);
    store<u32>(p1 + PK_POOL, <u32>h);
    expect<u32>(packetCheck(p1, 0)).toBe(E_OK);
  });

  it("forged and freed packets are lookup errors (src/ reports PKT-1)", () => {
    expect<u32>(packetCheck(p1 + 8, 0)).toBe(E_MISALIGNED);
    expect<u32>(packetCheck(12345, 0)).toBe(E_NOT_OURS);
    expect<u32>(packetCheck(mem, 0)).toBe(E_WRONG_KIND);
    expect<u32>(packetFree(p1)).toBe(E_OK);
    let before = new Counters(h);
    expect<u32>(packetFree(p1)).toBe(E_NOT_ALLOCATED);
    expect<u32>(chainAtBack(p1, 0)).toBe(E_NOT_ALLOCATED);
    expect<bool>(before.same(h)).toBe(true);
    p1 = packetAllocate(h);
  });

  it("E_PKT4: packetPoolFree with packets outstanding (detail = count); a freed pool is gone", () => {
    expect<u32>(packetPoolFree(h)).toBe(E_PKT4);
    expect<u32>(errDetail()).toBe(2);
    expect<u32>(packetPoolCheck(h, 0)).toBe(E_OK);
    expect<u32>(packetFree(p1)).toBe(E_OK);
    expect<u32>(packetPoolFree(h)).toBe(E_PKT4);
    expect<u32>(errDetail()).toBe(1);
    expect<u32>(packetFree(p2)).toBe(E_OK);
    expect<u32>(packetPoolFree(h)).toBe(E_OK);
    expect<u32>(packetPoolCheck(h, 0)).toBe(E_NOT_ALLOCATED);
    expect<usize>(packetAllocate(h)).toBe(argErr(2, E_NOT_ALLOCATED));
    expect<u32>(packetPoolFree(h)).toBe(E_NOT_ALLOCATED);
    expect<u32>(packetPoolSetProtocolId(h, 1)).toBe(E_NOT_ALLOCATED);
  });
});

describe("buffers, chain / unchain, packetQuery", () => {
  beforeAll(() => {
    resetAll();
    prot = protocolRegister(0, 0, 0, 0);
    mem = memoryAllocate(prot, MEM_LEN, TAG_MEM);
    h = packetPoolCreate(4, 0, 16);
    p = packetAllocate(h);
    q = packetAllocate(h);
    k = <u32>(((mem + 16 + 0xfff) & ~<usize>0xfff) - mem);
  });

  it("bufferAllocate: an MDL over live memory; outside it is E_BAD_RANGE", () => {
    let bp = bufferPoolCreate(8);
    expect<usize>(bp).toBeGreaterThanOrEqual(UNIT_SIZE);
    a = bufferAllocate(bp, mem + k - 10, 20); // 2 pages
    b = buf(k, 4096); // 1 page
    c = buf(k + 1, 4096); // 2 pages
    d = buf(k + 100, 0); // empty: 1
    expect<usize>(a).toBeGreaterThanOrEqual(UNIT_SIZE);
    expect<u32>(load<u32>(a + MDL_BYTE_COUNT)).toBe(20);
    expect<u32>(load<u32>(a + MDL_NEXT)).toBe(0);
    expect<usize>(bufferAllocate(0, mem + MEM_LEN - 4, 5)).toBe(E_BAD_RANGE);
    expect<usize>(bufferAllocate(0, 0, 0)).toBe(E_BAD_RANGE);
    expect<usize>(bufferAllocate(0, p, 8)).toBe(E_BAD_RANGE); // a packet is not caller memory
    expect<u32>(bufferPoolFree(bp)).toBe(E_OK);
    expect<usize>(bufferAllocate(bp, mem, 8)).toBe(argErr(2, E_NOT_ALLOCATED));
    expect<u32>(bufferPoolFree(bp)).toBe(E_NOT_ALLOCATED);
  });

  it("chainAtBack, chainAtFront of a 2-buffer chain; Head, Tail, Next; ValidCounts cleared", () => {
    store<u8>(p + PK_VALID_COUNTS, 1);
    expect<u32>(chainAtBack(p, c)).toBe(E_OK);
    expect<u32>(load<u32>(p + PK_HEAD)).toBe(<u32>c);
    expect<u32>(load<u32>(p + PK_TAIL)).toBe(<u32>c);
    expect<u8>(load<u8>(p + PK_VALID_COUNTS)).toBe(0);
    store<u32>(a + MDL_NEXT, <u32>b); // a -> b
    expect<u32>(chainAtFront(p, a)).toBe(E_OK);
    expect<u32>(load<u32>(p + PK_HEAD)).toBe(<u32>a);
    expect<u32>(load<u32>(b + MDL_NEXT)).toBe(<u32>c);
    expect<u32>(load<u32>(p + PK_TAIL)).toBe(<u32>c);
    expect<u32>(chainAtBack(p, d)).toBe(E_OK);
    expect<u32>(load<u32>(c + MDL_NEXT)).toBe(<u32>d);
    expect<u32>(load<u32>(p + PK_TAIL)).toBe(<u32>d);
    expect<u32>(load<u32>(d + MDL_NEXT)).toBe(0);
  });

  it("packetQuery: pages spanned (an empty buffer 1), count, total; then cached", () => {
    expect<u32>(packetQuery(p)).toBe(E_OK);
    expect<u32>(load<u32>(p + PK_PHYSICAL_COUNT)).toBe(2 + 1 + 2 + 1);
    expect<u32>(load<u32>(p + PK_COUNT)).toBe(4);
    expect<u32>(load<u32>(p + PK_TOTAL_LENGTH)).toBe(20 + 4096 + 4096);
    expect<u8>(load<u8>(p + PK_VALID_COUNTS)).toBe(1);
    store<u32>(p + PK_COUNT, 99);
    expect<u32>(packetQuery(p)).toBe(E_OK);
    expect<u32>(load<u32>(p + PK_COUNT)).toBe(99); // not recomputed
    expect<u32>(packetQuery(q)).toBe(E_OK); // empty
    expect<u32>(load<u32>(q + PK_PHYSICAL_COUNT)).toBe(0);
    expect<u32>(load<u32>(q + PK_COUNT)).toBe(0);
    expect<u32>(load<u32>(q + PK_TOTAL_LENGTH)).toBe(0);
  });

  it("E_BUF_CHAINED: freeing or chaining again a buffer on a live packet (detail = the packet)", () => {
    let before = new Counters(h);
    let head = load<u32>(p + PK_HEAD), tail = load<u32>(p + PK_TAIL);
    expect<u32>(bufferFree(b)).toBe(E_BUF_CHAINED);
    expect<usize>(errPtr()).toBe(b);
    expect<u32>(errDetail()).toBe(<u32>p);
    expect<u32>(chainAtBack(q, d)).toBe(E_BUF_CHAINED);
    expect<u32>(errDetail()).toBe(<u32>p);
    expect<u32>(chainAtFront(p, a)).toBe(E_BUF_CHAINED);
    expect<u32>(load<u32>(p + PK_HEAD)).toBe(head);
    expect<u32>(load<u32>(p + PK_TAIL)).toBe(tail);
    expect<u32>(load<u32>(q + PK_HEAD)).toBe(0);
    expect<u8>(load<u8>(p + PK_VALID_COUNTS)).toBe(1);
    expect<bool>(before.same(h)).toBe(true);
  });

  it("a buffer chain that loops back to its first buffer is E_MDL_LOOP", () => {
    let x = buf(0, 8), y = buf(8, 8);
    store<u32>(x + MDL_NEXT, <u32>y);
    store<u32>(y + MDL_NEXT, <u32>x);
    expect<u32>(chainAtBack(q, x)).toBe(E_MDL_LOOP);
    expect<u32>(load<u32>(q + PK_HEAD)).toBe(0);
    store<u32>(x + MDL_NEXT, 0);
    store<u32>(y + MDL_NEXT, 0);
    expect<u32>(bufferFree(x)).toBe(E_OK);
    expect<u32>(bufferFree(y)).toBe(E_OK);
  });

  it("unchainAtFront / unchainAtBack: the buffer in pkResult, its Next cleared; NULL when empty", () => {
    expect<u32>(unchainAtBack(p)).toBe(E_OK);
    expect<u32>(pkResult()).toBe(<u32>d);
    expect<u32>(load<u32>(p + PK_TAIL)).toBe(<u32>c);
    expect<u32>(load<u32>(c + MDL_NEXT)).toBe(0);
    expect<u8>(load<u8>(p + PK_VALID_COUNTS)).toBe(0);
    expect<u32>(unchainAtFront(p)).toBe(E_OK);
    expect<u32>(pkResult()).toBe(<u32>a);
    expect<u32>(load<u32>(a + MDL_NEXT)).toBe(0);
    expect<u32>(load<u32>(p + PK_HEAD)).toBe(<u32>b);
    expect<u32>(bufferFree(a)).toBe(E_OK); // no longer chained
    expect<u32>(bufferFree(d)).toBe(E_OK);
    expect<u32>(bufferFree(a)).toBe(E_NOT_ALLOCATED);
    expect<u32>(unchainAtBack(p)).toBe(E_OK);
    expect<u32>(pkResult()).toBe(<u32>c);
    expect<u32>(unchainAtBack(p)).toBe(E_OK);
    expect<u32>(pkResult()).toBe(<u32>b);
    expect<u32>(load<u32>(p + PK_HEAD)).toBe(0);
    expect<u32>(load<u32>(p + PK_TAIL)).toBe(0);
    expect<u32>(unchainAtFront(p)).toBe(E_OK);
    expect<u32>(pkResult()).toBe(0);
    expect<u32>(unchainAtBack(p)).toBe(E_OK);
    expect<u32>(pkResult()).toBe(0);
  });

  it("packetReinitialize: Head, Tail, ValidCounts only; the buffers are free to chain again", () => {
    expect<u32>(chainAtBack(p, b)).toBe(E_OK);
    expect<u32>(chainAtBack(p, c)).toBe(E_OK);
    expect<u32>(packetQuery(p)).toBe(E_OK);
    store<u32>(p + PK_MINIPORT_RESERVED, 0xabcdef01);
    store<u32>(p + PK_PROTOCOL_RESERVED, 0x10203040);
    let phys = load<u32>(p + PK_PHYSICAL_COUNT);
    expect<u32>(packetReinitialize(p)).toBe(E_OK);
    expect<u32>(load<u32>(p + PK_HEAD)).toBe(0);
    expect<u32>(load<u32>(p + PK_TAIL)).toBe(0);
    expect<u8>(load<u8>(p + PK_VALID_COUNTS)).toBe(0);
    expect<u32>(load<u32>(p + PK_PHYSICAL_COUNT)).toBe(phys);
    expect<u32>(load<u32>(p + PK_MINIPORT_RESERVED)).toBe(0xabcdef01);
    expect<u32>(load<u32>(p + PK_PROTOCOL_RESERVED)).toBe(0x10203040);
    expect<u32>(load<u32>(p + PK_POOL)).toBe(<u32>h);
    expect<u32>(load<u32>(b + MDL_NEXT)).toBe(<u32>c); // the saved chain is untouched
    expect<u32>(chainAtBack(q, b)).toBe(E_OK); // b -> c, both free now
    expect<u32>(load<u32>(q + PK_TAIL)).toBe(<u32>c);
    expect<u32>(packetQuery(q)).toBe(E_OK);
    expect<u32>(load<u32>(q + PK_COUNT)).toBe(2);
  });
});
