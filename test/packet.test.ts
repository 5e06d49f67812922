/**
 * NDIS 5 packet and buffer pools (src/ndis/packet.ts, assembly/packet.ts; NDIS-SPEC §3, §4.5,
 * §7 PKT-*, §8; seed 003; DESIGN decisions 15-17): pool limits (static and overflow descriptors,
 * the 0xFFFF cap, RESOURCES without bug checks), the packet descriptor (zeroed, its fields, its
 * size and the room of ProtocolReserved), NdisReinitializePacket, buffer chains and
 * NdisQueryPacket, the packet accessors, and misuse: every bug check names its rule and leaves
 * poolmon, memory, the pools' counters and the descriptors exactly as they were.
 *
 * Not tested here: NDIS5-IN-6 (an NDIS 6 miniport must call no NDIS 5 packet/buffer API, Driver
 * Verifier 0x7C/0x15). It needs miniports, which come with a later issue; nothing in this
 * version can tell who is calling.
 */
import { describe, it, expect, beforeEach } from 'vitest';
import { createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import {
  NdisBugCheck,
  POOL_TAG,
  RULE_P1,
  BUGCODE_BAD_POOL_CALLER,
  BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION,
  NDIS_STATUS_SUCCESS,
  NDIS_STATUS_RESOURCES,
  NDIS_STATUS_FAILURE,
  NDIS_STATUS_PENDING,
  NDIS_PROTOCOL_ID_TCP_IP,
  NDIS_PROTOCOL_ID_MAX,
  NormalPoolPriority,
  fPACKET_ALLOCATED_BY_NDIS,
  fPACKET_CONTAINS_MEDIA_SPECIFIC_INFO,
  NDIS_PACKET_POOL_MAX_DESCRIPTORS,
  NDIS_PACKET_LAYOUT,
  NDIS_PACKET_OOB_LAYOUT,
  MDL_LAYOUT,
} from '../build/ts/index.js';
import { type Loose, type LooseRt, type Expect, loose, expectBug, u32At, u16At } from './helpers.js';

// -- fixtures and helpers ------------------------------------------------------------------------------

const C2 = BUGCODE_BAD_POOL_CALLER;
const C4 = BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION;
const PAGE = 65536;
const PK = NDIS_PACKET_LAYOUT;
const OOB = NDIS_PACKET_OOB_LAYOUT;
/** The packet tag as poolmon shows it. */
const NDPP = 'NDpp';
/** NDIS_PACKET_EXTENSION: MaxPerPacketInfo (12) pointers. */
const EXTENSION = 12 * 4;
/** Bytes of caller memory the buffers describe. */
const MEM_LEN = 0x9000;

const hex = (n: number) => '0x' + (n >>> 0).toString(16).toUpperCase().padStart(8, '0');
/** Where the OOB block starts for a ProtocolReservedLength (8-aligned after ProtocolReserved). */
const oobOffsetOf = (len: number) => (PK.ProtocolReserved + len + 7) & ~7;
/** Pages a buffer spans (an empty buffer counts 1). */
const spanPages = (va: number, len: number) => (len === 0 ? 1 : Math.floor(((va & 0xfff) + len + 0xfff) / 4096));

let rt: NdisRuntime;
let r: LooseRt;
let g: number; // generic object owning the caller memory
let mem: number; // MEM_LEN bytes of caller memory
beforeEach(() => {
  rt = createRuntimeSync();
  r = loose(rt);
  g = r.NdisAllocateGenericObject(0, POOL_TAG('Gen '), 0);
  mem = r.NdisAllocateMemoryWithTagPriority(g, MEM_LEN, POOL_TAG('Buf '), NormalPoolPriority);
  expect(mem).toBeGreaterThanOrEqual(PAGE);
});

interface Box { value: number }
const box = (v = 0): Box => ({ value: v });

/** NdisAllocatePacketPool(Ex) on `x`; returns [Status, PoolHandle]. */
function createPool(x: NdisRuntime, num: number, len: number, overflow?: number): [number, number] {
  const s = box(0x5a5a), h = box(0x1234);
  if (overflow === undefined) loose(x).NdisAllocatePacketPool(s, h, num, len);
  else loose(x).NdisAllocatePacketPoolEx(s, h, num, overflow, len);
  return [s.value, h.value];
}

/** A packet pool that must be created. */
function pool(num: number, len = 16, overflow?: number, x: NdisRuntime = rt): number {
  const [s, h] = createPool(x, num, len, overflow);
  expect(s).toBe(NDIS_STATUS_SUCCESS);
  expect(h).toBeGreaterThanOrEqual(PAGE);
  return h;
}

/** NdisAllocatePacket; returns [Status, Packet]. */
function tryAlloc(h: number, x: NdisRuntime = rt, fn: 'NdisAllocatePacket' | 'NdisDprAllocatePacket' | 'NdisDprAllocatePacketNonInterlocked' = 'NdisAllocatePacket'): [number, number] {
  const s = box(0x5a5a), p = box(0x1234);
  loose(x)[fn](s, p, h);
  return [s.value, p.value];
}

/** A packet that must be allocated. */
function alloc(h: number, x: NdisRuntime = rt): number {
  const [s, p] = tryAlloc(h, x);
  expect(s).toBe(NDIS_STATUS_SUCCESS);
  expect(p).toBeGreaterThanOrEqual(PAGE);
  return p;
}

/** An NDIS_BUFFER over caller memory [mem + off, + len) (buffer pool `bp`, or NULL). */
function buf(off: number, len: number, bp = 0): number {
  const s = box(0x5a5a), b = box(0x1234);
  r.NdisAllocateBuffer(s, b, bp, mem + off, len);
  expect(s.value).toBe(NDIS_STATUS_SUCCESS);
  expect(b.value).toBeGreaterThanOrEqual(PAGE);
  return b.value;
}

/** The packet's buffer chain, walked with NdisQueryPacket(FirstBuffer) and NdisGetNextBuffer. */
function chainOf(p: number): number[] {
  const first = box(0x1234);
  r.NdisQueryPacket(p, undefined, undefined, first, undefined);
  const out: number[] = [];
  for (let b = first.value; b !== 0; ) {
    out.push(b);
    if (out.length > 100) throw new Error('chain loops');
    const next = box(0x1234);
    r.NdisGetNextBuffer(b, next);
    b = next.value;
  }
  return out;
}

/** NdisQueryPacket with every out box. */
function query(p: number) {
  const phys = box(0x1234), count = box(0x1234), first = box(0x1234), total = box(0x1234);
  r.NdisQueryPacket(p, phys, count, first, total);
  return { phys: phys.value, count: count.value, first: first.value, total: total.value };
}

const validCounts = (p: number) => rt.bytes(p + PK.ValidCounts, 1)[0];
const head = (p: number) => u32At(rt, p + PK.Head);
const tail = (p: number) => u32At(rt, p + PK.Tail);
const next = (b: number) => u32At(rt, b + MDL_LAYOUT.Next);
const packetRow = (x: NdisRuntime = rt) => x.poolmon().find((q) => q.tag === NDPP && q.type === 'Packet');
const inUse = (x: NdisRuntime = rt) => {
  const m = x.memoryUsage();
  return m.slabBytes - m.freeSlabBytes;
};

/** Everything observable: poolmon, memory, the packet pools' counters, and some bytes. */
function snapshot(pools: number[] = [], blocks: [number, number][] = []) {
  return {
    poolmon: rt.poolmon(),
    memory: rt.memoryUsage(),
    info: pools.map((h) => r.packetPoolInfo(h)),
    bytes: blocks.map(([a, n]) => Array.from(rt.bytes(a, n))),
  };
}

/** `f` must throw the bug check `x` and leave the snapshot exactly as it was. */
function unchanged(f: () => unknown, x: Expect, pools: number[] = [], blocks: [number, number][] = []) {
  const before = snapshot(pools, blocks);
  const b = expectBug(f, x, { fullMessage: true });
  expect(snapshot(pools, blocks)).toEqual(before);
  return b;
}

// -- pools and their limits ----------------------------------------------------------------------

describe('NdisAllocatePacketPool: NumberOfDescriptors is a hard limit', () => {
  it('creates a pool: SUCCESS, a handle, usage 0, limit NumberOfDescriptors', () => {
    const h = pool(3, 16);
    expect(r.NdisPacketPoolUsage(h)).toBe(0);
    expect(r.packetPoolInfo(h)).toEqual({ usage: 0, overflowInUse: 0, staticInUse: 0, limit: 3 });
    const h2 = pool(3, 16);
    expect(h2).not.toBe(h);
    expect(packetRow()).toBeUndefined(); // poolmon lists a tag once it has been used
    r.NdisFreePacket(alloc(h2));
    expect(packetRow()).toMatchObject({ pools: 2, allocs: 1, frees: 1, outstanding: 0, bytes: 0 });
    alloc(h);
    expect(packetRow()).toMatchObject({ pools: 2, allocs: 2, outstanding: 1, bytes: r.NdisPacketSize(16) });
  });

  it('the allocation past the limit is RESOURCES with Packet NULL (no throw), and works again after a free', () => {
    const h = pool(3, 16);
    const ps = [alloc(h), alloc(h), alloc(h)];
    expect(new Set(ps).size).toBe(3);
    expect(r.NdisPacketPoolUsage(h)).toBe(3);
    for (const fn of ['NdisAllocatePacket', 'NdisDprAllocatePacket', 'NdisDprAllocatePacketNonInterlocked'] as const) {
      expect(tryAlloc(h, rt, fn)).toEqual([NDIS_STATUS_RESOURCES, 0]);
    }
    expect(r.NdisPacketPoolUsage(h)).toBe(3);
    expect(packetRow()).toMatchObject({ allocs: 3, outstanding: 3, failures: 3 });
    r.NdisFreePacket(ps[1]);
    expect(r.NdisPacketPoolUsage(h)).toBe(2);
    const [s, p] = tryAlloc(h, rt, 'NdisDprAllocatePacket');
    expect(s).toBe(NDIS_STATUS_SUCCESS);
    expect(p).toBe(ps[1]); // the freed descriptor
    expect(tryAlloc(h)).toEqual([NDIS_STATUS_RESOURCES, 0]);
    r.NdisDprFreePacket(ps[0]);
    r.NdisDprFreePacketNonInterlocked(ps[2]);
    expect(tryAlloc(h, rt, 'NdisDprAllocatePacketNonInterlocked')[0]).toBe(NDIS_STATUS_SUCCESS);
    expect(r.NdisPacketPoolUsage(h)).toBe(2);
  });

  it('reserves the static descriptors up front: allocating them takes no memory, the pool keeps it until freed', () => {
    r.NdisFreePacketPool(pool(0, 0)); // the pool root has its slab
    const before = inUse();
    const h = pool(200, 16);
    const reserved = inUse() - before;
    expect(reserved).toBeGreaterThanOrEqual(200 * r.NdisPacketSize(16));
    const ps = Array.from({ length: 200 }, () => alloc(h));
    expect(inUse() - before).toBe(reserved);
    for (const p of ps) r.NdisFreePacket(p);
    expect(inUse() - before).toBe(reserved);
    r.NdisFreePacketPool(h);
    expect(inUse()).toBe(before);
  });

  it('NumberOfDescriptors 0 gives a pool where every allocation fails', () => {
    const h = pool(0, 16);
    expect(r.packetPoolInfo(h)).toEqual({ usage: 0, overflowInUse: 0, staticInUse: 0, limit: 0 });
    for (let i = 0; i < 3; i++) expect(tryAlloc(h)).toEqual([NDIS_STATUS_RESOURCES, 0]);
    expect(r.NdisPacketPoolUsage(h)).toBe(0);
    r.NdisFreePacketPool(h);
  });

  it('NumberOfDescriptors above 0xFFFF is RESOURCES with PoolHandle NULL, and leaves nothing behind', () => {
    pool(1, 16); // the pool root has its slab
    const before = snapshot();
    for (const n of [0x10000, 0x7fffffff, 0xffffffff]) {
      expect(createPool(rt, n, 16)).toEqual([NDIS_STATUS_RESOURCES, 0]);
      expect(createPool(rt, n, 16, 0)).toEqual([NDIS_STATUS_RESOURCES, 0]);
      expect(createPool(rt, n, 16, 5)).toEqual([NDIS_STATUS_RESOURCES, 0]);
    }
    expect(snapshot()).toEqual(before);
  });

  it('NdisAllocatePacketPool accepts 0xFFFF descriptors (the cap)', () => {
    const h = pool(0xffff, 0);
    expect(r.packetPoolInfo(h).limit).toBe(NDIS_PACKET_POOL_MAX_DESCRIPTORS);
    expect(NDIS_PACKET_POOL_MAX_DESCRIPTORS).toBe(0xffff);
  });
});

describe('NdisAllocatePacketPoolEx: overflow descriptors (DESIGN decision 16)', () => {
  it('overflow descriptors are used only while every static one is in use; the total is the limit', () => {
    const h = pool(2, 16, 3);
    expect(r.packetPoolInfo(h)).toEqual({ usage: 0, overflowInUse: 0, staticInUse: 0, limit: 5 });
    const a = alloc(h);
    expect(r.packetPoolInfo(h)).toMatchObject({ staticInUse: 1, overflowInUse: 0 });
    const b = alloc(h);
    expect(r.packetPoolInfo(h)).toMatchObject({ staticInUse: 2, overflowInUse: 0 });
    const o = [alloc(h), alloc(h), alloc(h)];
    expect(r.packetPoolInfo(h)).toEqual({ usage: 5, overflowInUse: 3, staticInUse: 2, limit: 5 });
    expect(tryAlloc(h)).toEqual([NDIS_STATUS_RESOURCES, 0]);
    // A freed overflow descriptor is destroyed: the overflow count drops.
    r.NdisFreePacket(o[1]);
    expect(r.packetPoolInfo(h)).toEqual({ usage: 4, overflowInUse: 2, staticInUse: 2, limit: 5 });
    // All static ones still in use: the next one is an overflow descriptor again.
    o[1] = alloc(h);
    expect(r.packetPoolInfo(h)).toEqual({ usage: 5, overflowInUse: 3, staticInUse: 2, limit: 5 });
    for (const p of [...o, a, b]) r.NdisFreePacket(p);
    expect(r.packetPoolInfo(h)).toEqual({ usage: 0, overflowInUse: 0, staticInUse: 0, limit: 5 });
  });

  it('a freed static descriptor is reused before any overflow descriptor is created', () => {
    const h = pool(2, 16, 3);
    const a = alloc(h);
    alloc(h);
    alloc(h); // overflow
    expect(r.packetPoolInfo(h)).toEqual({ usage: 3, overflowInUse: 1, staticInUse: 2, limit: 5 });
    r.NdisFreePacket(a); // a static descriptor goes back to the free list
    expect(r.packetPoolInfo(h)).toEqual({ usage: 2, overflowInUse: 1, staticInUse: 1, limit: 5 });
    // One static descriptor is free, so this allocation takes it: no new overflow descriptor.
    alloc(h);
    expect(r.packetPoolInfo(h)).toEqual({ usage: 3, overflowInUse: 1, staticInUse: 2, limit: 5 });
  });

  it('NumberOfDescriptors 0 with overflow: every packet is an overflow descriptor', () => {
    const h = pool(0, 8, 2);
    const a = alloc(h);
    const b = alloc(h);
    expect(r.packetPoolInfo(h)).toEqual({ usage: 2, overflowInUse: 2, staticInUse: 0, limit: 2 });
    expect(tryAlloc(h)).toEqual([NDIS_STATUS_RESOURCES, 0]);
    r.NdisFreePacket(a);
    r.NdisFreePacket(b);
    expect(r.packetPoolInfo(h)).toEqual({ usage: 0, overflowInUse: 0, staticInUse: 0, limit: 2 });
  });

  it('NumberOfDescriptors + NumberOfOverflowDescriptors above 0xFFFF is capped at 0xFFFF', () => {
    expect(r.packetPoolInfo(pool(0xffff, 0, 1)).limit).toBe(0xffff);
    expect(r.packetPoolInfo(pool(1, 0, 0xffffffff)).limit).toBe(0xffff);
    expect(r.packetPoolInfo(pool(0, 0, 0xffffffff)).limit).toBe(0xffff);
    expect(r.packetPoolInfo(pool(0xfff0, 0, 0x0f)).limit).toBe(0xffff);
    expect(r.packetPoolInfo(pool(0xfff0, 0, 0x0e)).limit).toBe(0xfffe);
  });

  it('RESOURCES exactly at 0xFFFF outstanding (0xFF00 static + 0x1000 overflow)', () => {
    const h = pool(0xff00, 0, 0x1000);
    const ps = new Uint32Array(0xffff);
    const s = box(), p = box();
    let ok = true;
    for (let i = 0; i < 0xffff; i++) {
      r.NdisAllocatePacket(s, p, h);
      if (s.value !== NDIS_STATUS_SUCCESS || p.value === 0) ok = false;
      ps[i] = p.value;
    }
    expect(ok).toBe(true);
    expect(new Set(ps).size).toBe(0xffff);
    expect(r.packetPoolInfo(h)).toEqual({ usage: 0xffff, overflowInUse: 0xff, staticInUse: 0xff00, limit: 0xffff });
    expect(tryAlloc(h)).toEqual([NDIS_STATUS_RESOURCES, 0]);
    for (const q of ps) r.NdisFreePacket(q);
    expect(r.packetPoolInfo(h)).toEqual({ usage: 0, overflowInUse: 0, staticInUse: 0, limit: 0xffff });
    r.NdisFreePacketPool(h);
  });
});

describe('pool creation that cannot be served is RESOURCES, never a bug check, and leaves nothing behind', () => {
  it('a huge ProtocolReservedLength', () => {
    pool(1, 16);
    const before = snapshot();
    for (const len of [0xfffffff0, 0xffffffff, 0xfff00000]) {
      expect(createPool(rt, 4, len)).toEqual([NDIS_STATUS_RESOURCES, 0]);
      expect(createPool(rt, 4, len, 4)).toEqual([NDIS_STATUS_RESOURCES, 0]);
      expect(createPool(rt, 0, len, 0)).toEqual([NDIS_STATUS_RESOURCES, 0]);
    }
    expect(snapshot()).toEqual(before);
    expect(rt.NdisPacketSize(0xfffffff0)).toBe(0);
  });

  it('too many descriptors for a small runtime (maxMemory 2 MiB); a smaller pool succeeds on retry', () => {
    const small = createRuntimeSync({ maxMemory: 2 ** 21 });
    const s = loose(small);
    s.NdisFreePacketPool(pool(1, 16, undefined, small)); // the pool root has its slab
    const pm = small.poolmon();
    const used = inUse(small);
    expect(createPool(small, 0xffff, 16)).toEqual([NDIS_STATUS_RESOURCES, 0]);
    expect(createPool(small, 0x8000, 16, 0x100)).toEqual([NDIS_STATUS_RESOURCES, 0]);
    expect(small.poolmon()).toEqual(pm);
    expect(inUse(small)).toBe(used);
    // Memory may have grown to the budget once; after that, a failure changes nothing at all.
    const mem0 = small.memoryUsage();
    expect(createPool(small, 0xffff, 16)).toEqual([NDIS_STATUS_RESOURCES, 0]);
    expect(small.memoryUsage()).toEqual(mem0);
    expect(small.poolmon()).toEqual(pm);
    // "The caller might attempt to decrease NumberOfDescriptors and call again" (seed 003).
    const h = pool(1000, 16, undefined, small);
    for (let i = 0; i < 1000; i++) alloc(h, small);
    expect(s.packetPoolInfo(h)).toMatchObject({ usage: 1000, staticInUse: 1000 });
  });
});

describe('ProtocolReservedLength and the USHORT NdisPacketOobOffset', () => {
  // The OOB block's offset is a USHORT: 0x38 + ProtocolReservedLength (8-aligned) must fit.
  const LARGEST = 0xffff - 0x38 - 7;

  it('a length the offset cannot describe is NDIS_STATUS_RESOURCES, not a bug check', () => {
    const before = inUse();
    for (const len of [300000, LARGEST + 1, 0x10000]) {
      const [s, h] = createPool(rt, 2, len);
      expect(s).toBe(NDIS_STATUS_RESOURCES);
      expect(h).toBe(0);
    }
    expect(inUse()).toBe(before);
  });

  it('the largest representable length works: distinct descriptors, the OOB block after ProtocolReserved', () => {
    const [s, h] = createPool(rt, 2, LARGEST);
    expect(s).toBe(NDIS_STATUS_SUCCESS);
    const a = alloc(h);
    const b = alloc(h);
    expect(Math.abs(b - a)).toBeGreaterThanOrEqual(r.NdisPacketSize(LARGEST));
    r.NDIS_SET_PACKET_STATUS(a as Loose, -5);
    expect(r.NDIS_GET_PACKET_STATUS(a as Loose)).toBe(-5);
    expect(rt.u16[(a + PK.NdisPacketOobOffset) >>> 1]).toBeGreaterThanOrEqual(0x38 + LARGEST);
  });

  it('allocate/free cycles of an overflow-only pool of large descriptors do not take more memory each time', () => {
    const h = pool(0, LARGEST, 1);
    r.NdisFreePacket(alloc(h));
    const used = inUse();
    for (let i = 0; i < 8; i++) r.NdisFreePacket(alloc(h));
    expect(inUse()).toBe(used);
  });
});

// -- the descriptor --------------------------------------------------------------------------------

describe('NdisAllocatePacket: the descriptor', () => {
  it('is zeroed except Private.Pool, Flags (protocol ID), NdisPacketFlags and NdisPacketOobOffset, also when reused', () => {
    const LEN = 24;
    const size = r.NdisPacketSize(LEN);
    const h = pool(2, LEN);
    const keep = alloc(h);
    const p = alloc(h);
    const expected = new Uint8Array(size);
    new DataView(expected.buffer).setUint32(PK.Pool, h, true);
    expected[PK.NdisPacketFlags] = fPACKET_ALLOCATED_BY_NDIS;
    new DataView(expected.buffer).setUint16(PK.NdisPacketOobOffset, oobOffsetOf(LEN), true);
    expect(Array.from(rt.bytes(p, size))).toEqual(Array.from(expected));
    expect([head(p), tail(p), validCounts(p)]).toEqual([0, 0, 0]);
    // Dirty every byte but Private.Pool (which NdisFreePacket checks), free, reallocate the slot.
    const view = rt.bytes(p, size);
    for (let i = 0; i < size; i++) if (i < PK.Pool || i >= PK.Pool + 4) view[i] = 0xa5;
    r.NdisFreePacket(p);
    const again = alloc(h);
    expect(again).toBe(p);
    expect(Array.from(rt.bytes(again, size))).toEqual(Array.from(expected));
    expect(r.NdisGetPoolFromPacket(again)).toBe(h);
    expect(r.NdisGetPoolFromPacket(keep)).toBe(h);
  });

  it('NdisPacketSize(len) = 8-aligned OOB offset + 32 (OOB) + 48 (extension); NdisPacketOobOffset points there', () => {
    for (const len of [0, 1, 7, 8, 9, 16, 17, 100, 0x1000]) {
      const size = r.NdisPacketSize(len);
      expect(size, `len ${len}`).toBe(oobOffsetOf(len) + OOB.SIZE + EXTENSION);
      expect(size % 8).toBe(0);
      const h = pool(2, len);
      const p = alloc(h);
      const q = alloc(h);
      expect(u16At(rt, p + PK.NdisPacketOobOffset)).toBe(oobOffsetOf(len));
      expect(u16At(rt, p + PK.NdisPacketOobOffset) % 8).toBe(0);
      expect(u16At(rt, p + PK.NdisPacketOobOffset)).toBeGreaterThanOrEqual(PK.ProtocolReserved + len);
      expect(Math.abs(q - p)).toBeGreaterThanOrEqual(size);
    }
    expect(r.NdisPacketSize(16)).toBe(0x38 + 16 + 32 + 48);
  });

  it('ProtocolReserved, MiniportReserved and the OOB block of every packet of a pool never overlap another packet', () => {
    const LEN = 13;
    const N = 40;
    const size = r.NdisPacketSize(LEN);
    const h = pool(N, LEN);
    const ps = Array.from({ length: N }, () => alloc(h));
    const sorted = [...ps].sort((a, b) => a - b);
    for (let i = 1; i < N; i++) expect(sorted[i]! - sorted[i - 1]!).toBeGreaterThanOrEqual(size);
    ps.forEach((p, i) => {
      expect(r.NDIS_PACKET_PROTOCOL_RESERVED(p)).toBe(p + PK.ProtocolReserved);
      rt.bytes(r.NDIS_PACKET_PROTOCOL_RESERVED(p), LEN).fill(i + 1);
      rt.bytes(r.NDIS_PACKET_MINIPORT_RESERVED(p), 16).fill(0x80 + i);
      r.NDIS_SET_PACKET_STATUS(p, 0x1000 + i);
      r.NDIS_SET_PACKET_HEADER_SIZE(p, 14 + i);
    });
    ps.forEach((p, i) => {
      expect(Array.from(rt.bytes(p + PK.ProtocolReserved, LEN)), `packet ${i}`).toEqual(new Array(LEN).fill(i + 1));
      expect(Array.from(rt.bytes(p + PK.MiniportReserved, 16))).toEqual(new Array(16).fill(0x80 + i));
      expect(r.NDIS_GET_PACKET_STATUS(p)).toBe(0x1000 + i);
      expect(r.NDIS_GET_PACKET_HEADER_SIZE(p)).toBe(14 + i);
      expect(r.NdisGetPoolFromPacket(p)).toBe(h);
      expect(r.NdisGetPacketFlags(p)).toBe(0);
      expect(u16At(rt, p + PK.NdisPacketOobOffset)).toBe(oobOffsetOf(LEN));
    });
  });

  it('NdisSetPacketPoolProtocolId sets the low nibble of Private.Flags of later packets only', () => {
    const h = pool(8, 16);
    const other = pool(2, 16);
    const p0 = alloc(h);
    expect(r.NdisGetPacketFlags(p0)).toBe(0);
    r.NdisSetPacketPoolProtocolId(h, NDIS_PROTOCOL_ID_TCP_IP);
    const p1 = alloc(h);
    expect(r.NdisGetPacketFlags(p1)).toBe(NDIS_PROTOCOL_ID_TCP_IP);
    expect(u32At(rt, p1 + PK.Flags) & 0x0f).toBe(NDIS_PROTOCOL_ID_TCP_IP);
    expect(r.NdisGetPacketFlags(p0)).toBe(0); // earlier packets keep theirs
    expect(r.NdisGetPacketFlags(alloc(other))).toBe(0); // other pools are not affected
    r.NdisSetPacketPoolProtocolId(h, NDIS_PROTOCOL_ID_MAX);
    const p2 = alloc(h);
    expect(r.NdisGetPacketFlags(p2)).toBe(0x0f);
    expect(r.NdisGetPacketFlags(p1)).toBe(NDIS_PROTOCOL_ID_TCP_IP);
    // A reused descriptor gets the current ID.
    r.NdisFreePacket(p1);
    expect(r.NdisGetPacketFlags(alloc(h))).toBe(0x0f);
    r.NdisSetPacketPoolProtocolId(h, 0);
    expect(r.NdisGetPacketFlags(alloc(h))).toBe(0);
    // IDs above NDIS_PROTOCOL_ID_MAX are PARAM.
    unchanged(() => r.NdisSetPacketPoolProtocolId(h, 0x10), {
      fn: 'NdisSetPacketPoolProtocolId', arg: 'ProtocolId', code: C4, rule: 'PARAM', parameters: [RULE_P1.PARAM, 0x10, 0, 0],
    }, [h]);
    expect(r.NdisGetPacketFlags(alloc(h))).toBe(0);
  });

  it('NdisSetPacketFlags ORs flags into Private.Flags; NdisGetPacketFlags reads them', () => {
    const h = pool(1, 16);
    r.NdisSetPacketPoolProtocolId(h, 6);
    const p = alloc(h);
    r.NdisSetPacketFlags(p, fPACKET_CONTAINS_MEDIA_SPECIFIC_INFO);
    expect(r.NdisGetPacketFlags(p)).toBe(fPACKET_CONTAINS_MEDIA_SPECIFIC_INFO | 6);
    r.NdisSetPacketFlags(p, 0x80000000);
    expect(r.NdisGetPacketFlags(p)).toBe((0x80000000 | fPACKET_CONTAINS_MEDIA_SPECIFIC_INFO | 6) >>> 0);
    expect(rt.bytes(p + PK.NdisPacketFlags, 1)[0]).toBe(fPACKET_ALLOCATED_BY_NDIS);
  });

  it('NDIS_SET/GET_PACKET_STATUS (signed) and HEADER_SIZE live in the OOB block', () => {
    const h = pool(1, 20);
    const p = alloc(h);
    const oob = p + oobOffsetOf(20);
    expect(r.NDIS_GET_PACKET_STATUS(p)).toBe(NDIS_STATUS_SUCCESS);
    for (const st of [NDIS_STATUS_RESOURCES, NDIS_STATUS_PENDING, NDIS_STATUS_FAILURE, NDIS_STATUS_SUCCESS, 0xc0000001]) {
      r.NDIS_SET_PACKET_STATUS(p, st);
      expect(r.NDIS_GET_PACKET_STATUS(p)).toBe(st | 0);
      expect(u32At(rt, oob + OOB.Status)).toBe(st >>> 0);
    }
    r.NDIS_SET_PACKET_STATUS(p, NDIS_STATUS_RESOURCES);
    expect(r.NDIS_GET_PACKET_STATUS(p)).toBe(-1073741670);
    r.NDIS_SET_PACKET_HEADER_SIZE(p, 14);
    expect(r.NDIS_GET_PACKET_HEADER_SIZE(p)).toBe(14);
    expect(u32At(rt, oob + OOB.HeaderSize)).toBe(14);
    expect(r.NDIS_PACKET_MINIPORT_RESERVED(p)).toBe(p + 0x20);
    expect(r.NDIS_PACKET_PROTOCOL_RESERVED(p)).toBe(p + 0x38);
  });

  it('the OOB block never overlaps ProtocolReserved, even for ProtocolReservedLength near and past 0xFFC0', () => {
    // NdisPacketOobOffset is a USHORT: 0x38 + len rounded up to 8 must fit, or the pool must be refused.
    for (const len of [0xffc0, 0xffc8, 0x10000, 0x20000]) {
      const [s, h] = createPool(rt, 1, len);
      if (s !== NDIS_STATUS_SUCCESS) {
        expect([s, h]).toEqual([NDIS_STATUS_RESOURCES, 0]);
        continue;
      }
      const p = alloc(h);
      rt.bytes(p + PK.ProtocolReserved, len).fill(0xaa);
      r.NDIS_SET_PACKET_STATUS(p, 0x12345678);
      r.NDIS_SET_PACKET_HEADER_SIZE(p, 0x0e0e0e0e);
      expect(rt.bytes(p + PK.ProtocolReserved, len).every((x) => x === 0xaa), `ProtocolReservedLength ${hex(len)}`).toBe(true);
      expect(r.NDIS_GET_PACKET_STATUS(p)).toBe(0x12345678);
      const off = u16At(rt, p + PK.NdisPacketOobOffset);
      expect(off, `NdisPacketOobOffset for ${hex(len)}`).toBeGreaterThanOrEqual(PK.ProtocolReserved + len);
    }
  });
});

// -- NdisReinitializePacket ------------------------------------------------------------------------

describe('NdisReinitializePacket (DESIGN decision 15)', () => {
  it('clears Head, Tail and ValidCounts only: every other byte of the descriptor is unchanged', () => {
    const LEN = 16;
    const size = r.NdisPacketSize(LEN);
    const h = pool(2, LEN);
    r.NdisSetPacketPoolProtocolId(h, 2);
    const p = alloc(h);
    const b1 = buf(0, 100), b2 = buf(200, 300);
    r.NdisChainBufferAtBack(p, b1);
    r.NdisChainBufferAtBack(p, b2);
    expect(query(p)).toMatchObject({ count: 2, total: 400 });
    expect(validCounts(p)).toBe(1);
    r.NDIS_SET_PACKET_STATUS(p, NDIS_STATUS_PENDING);
    r.NDIS_SET_PACKET_HEADER_SIZE(p, 14);
    r.NdisSetPacketFlags(p, 0x100);
    rt.bytes(p + PK.MiniportReserved, 16).fill(0x11);
    rt.bytes(p + PK.Reserved, 8).fill(0x22);
    rt.bytes(p + PK.ProtocolReserved, LEN).fill(0x33);
    rt.bytes(p + oobOffsetOf(LEN) + OOB.SIZE, EXTENSION).fill(0x44); // NdisPacketInfo
    const before = Array.from(rt.bytes(p, size));
    const buffersBefore = [b1, b2].map((b) => Array.from(rt.bytes(b, MDL_LAYOUT.SIZE)));
    r.NdisReinitializePacket(p);
    const after = Array.from(rt.bytes(p, size));
    for (let i = 0; i < size; i++) {
      const cleared = (i >= PK.Head && i < PK.Tail + 4) || i === PK.ValidCounts;
      expect(after[i], `byte 0x${i.toString(16)}`).toBe(cleared ? 0 : before[i]);
    }
    // The buffers themselves are not touched (the caller saved them, PKT-2).
    expect([b1, b2].map((b) => Array.from(rt.bytes(b, MDL_LAYOUT.SIZE)))).toEqual(buffersBefore);
    expect(r.NdisPacketPoolUsage(h)).toBe(1);
    expect(chainOf(p)).toEqual([]);
    expect(query(p)).toEqual({ phys: 0, count: 0, first: 0, total: 0 });
    // The saved buffers are no longer chained: they can be chained again or freed.
    r.NdisChainBufferAtFront(p, b2);
    expect(chainOf(p)).toEqual([b2]);
    r.NdisFreeBuffer(b1);
  });
});

// -- buffers, chains, NdisQueryPacket -----------------------------------------------------------------

describe('NdisAllocateBuffer / NdisQueryBuffer / NdisBufferLength / NdisFreeBuffer', () => {
  it('describes caller memory, with or without a buffer pool', () => {
    const s = box(), bp = box(0x1234);
    r.NdisAllocateBufferPool(s, bp, 16);
    expect(s.value).toBe(NDIS_STATUS_SUCCESS);
    expect(bp.value).toBeGreaterThanOrEqual(PAGE);
    const a = buf(10, 100, bp.value);
    const b = buf(0, 0); // PoolHandle NULL, empty
    const c = buf(MEM_LEN - 7, 7);
    for (const [x, off, len] of [[a, 10, 100], [b, 0, 0], [c, MEM_LEN - 7, 7]] as const) {
      const va = box(0x1234), l = box(0x1234);
      r.NdisQueryBuffer(x, va, l);
      expect([va.value, l.value]).toEqual([mem + off, len]);
      const l2 = box();
      r.NdisQueryBuffer(x, undefined, l2); // VirtualAddress is optional
      expect(l2.value).toBe(len);
      expect(r.NdisBufferLength(x)).toBe(len);
      expect(next(x)).toBe(0);
      const n = box(0x1234);
      r.NdisGetNextBuffer(x, n);
      expect(n.value).toBe(0);
    }
    expect(rt.poolmon().find((q) => q.type === 'MDL')).toMatchObject({ outstanding: 3 });
    for (const x of [a, b, c]) r.NdisFreeBuffer(x);
    expect(rt.poolmon().find((q) => q.type === 'MDL')).toMatchObject({ outstanding: 0, frees: 3 });
    r.NdisFreeBufferPool(bp.value);
  });
});

describe('buffer chains', () => {
  it('NdisChainBufferAtFront / AtBack (with 2-buffer chains), NdisUnchainBufferAtFront / AtBack', () => {
    const h = pool(1, 16);
    const p = alloc(h);
    const [a, b, c, d, e] = [buf(0, 10), buf(100, 20), buf(200, 30), buf(300, 40), buf(400, 50)];
    r.NdisChainBufferAtBack(p, c);
    expect(chainOf(p)).toEqual([c]);
    expect([head(p), tail(p)]).toEqual([c, c]);
    // A 2-buffer chain at the front: Head = a, a -> b -> c, Tail stays c.
    r.NDIS_MDL_LINKAGE_SET(a, b);
    r.NdisChainBufferAtFront(p, a);
    expect(chainOf(p)).toEqual([a, b, c]);
    expect([head(p), tail(p)]).toEqual([a, c]);
    expect(validCounts(p)).toBe(0);
    expect(query(p)).toMatchObject({ count: 3, total: 60, first: a });
    // A 2-buffer chain at the back: Tail becomes e.
    r.NDIS_MDL_LINKAGE_SET(d, e);
    r.NdisChainBufferAtBack(p, d);
    expect(validCounts(p)).toBe(0);
    expect(chainOf(p)).toEqual([a, b, c, d, e]);
    expect([head(p), tail(p), next(e)]).toEqual([a, e, 0]);
    expect(query(p)).toMatchObject({ count: 5, total: 150 });
    const out = box(0x1234);
    r.NdisUnchainBufferAtFront(p, out);
    expect(out.value).toBe(a);
    expect(next(a)).toBe(0);
    expect(validCounts(p)).toBe(0);
    expect(chainOf(p)).toEqual([b, c, d, e]);
    r.NdisUnchainBufferAtBack(p, out);
    expect(out.value).toBe(e);
    expect([tail(p), next(d)]).toEqual([d, 0]);
    expect(chainOf(p)).toEqual([b, c, d]);
    expect(query(p)).toMatchObject({ count: 3, total: 90, first: b });
    r.NdisUnchainBufferAtBack(p, out);
    expect(out.value).toBe(d);
    r.NdisUnchainBufferAtFront(p, out);
    expect(out.value).toBe(b);
    expect([head(p), tail(p)]).toEqual([c, c]);
    r.NdisUnchainBufferAtBack(p, out);
    expect(out.value).toBe(c);
    expect([head(p), tail(p)]).toEqual([0, 0]);
    // Empty chain: NULL, from either end.
    out.value = 0x1234;
    r.NdisUnchainBufferAtFront(p, out);
    expect(out.value).toBe(0);
    out.value = 0x1234;
    r.NdisUnchainBufferAtBack(p, out);
    expect(out.value).toBe(0);
    // Every buffer is free again.
    for (const x of [a, b, c, d, e]) r.NdisFreeBuffer(x);
    r.NdisFreePacket(p);
  });

  it('a chain put at the front of an empty packet sets Tail to its last buffer', () => {
    const p = alloc(pool(1, 0));
    const [a, b, c] = [buf(0, 1), buf(1, 2), buf(3, 3)];
    r.NDIS_MDL_LINKAGE_SET(a, b);
    r.NDIS_MDL_LINKAGE_SET(b, c);
    r.NdisChainBufferAtFront(p, a);
    expect([head(p), tail(p)]).toEqual([a, c]);
    const d = buf(10, 4);
    r.NdisChainBufferAtBack(p, d);
    expect(chainOf(p)).toEqual([a, b, c, d]);
    expect(next(c)).toBe(d);
  });

  it('NdisFreePacket leaves chained buffers allocated (the caller frees them)', () => {
    const h = pool(1, 0);
    const p = alloc(h);
    const a = buf(0, 10);
    r.NdisChainBufferAtBack(p, a);
    r.NdisFreePacket(p);
    expect(r.NdisBufferLength(a)).toBe(10);
    r.NdisFreeBuffer(a); // no longer on a live packet
    expect(rt.poolmon().find((q) => q.type === 'MDL')).toMatchObject({ outstanding: 0 });
  });
});

describe('NdisQueryPacket', () => {
  /** Caller-memory offset of the first 4 KiB boundary after mem + 16. */
  const boundary = () => (((mem + 16 + 0xfff) & ~0xfff) - mem);

  it('recomputes when ValidCounts is FALSE: pages spanned per buffer (an empty one counts 1), buffers, first, Σ ByteCount', () => {
    const p = alloc(pool(1, 16));
    expect(query(p)).toEqual({ phys: 0, count: 0, first: 0, total: 0 });
    expect(validCounts(p)).toBe(1);
    const k = boundary();
    const specs: [number, number][] = [
      [k - 10, 20], // straddles a page boundary: 2 pages
      [k, 4096], // exactly one page: 1
      [k + 1, 4096], // one byte over: 2
      [k + 100, 0], // empty: 1
      [k - 1, 8194], // 4 pages
      [k + 0x800, 0x800], // ends on a boundary: 1
    ];
    let phys = 0, total = 0;
    const bs: number[] = [];
    for (const [off, len] of specs) {
      const b = buf(off, len);
      bs.push(b);
      r.NdisChainBufferAtBack(p, b);
      expect(validCounts(p)).toBe(0);
      phys += spanPages(mem + off, len);
      total += len;
      expect(query(p)).toEqual({ phys, count: bs.length, first: bs[0], total });
      expect(validCounts(p)).toBe(1);
    }
    expect(specs.map(([off, len]) => spanPages(mem + off, len))).toEqual([2, 1, 2, 1, 4, 1]);
    expect(phys).toBe(11);
    // The cached fields at their x86 offsets.
    expect([u32At(rt, p + PK.PhysicalCount), u32At(rt, p + PK.Count), u32At(rt, p + PK.TotalLength)]).toEqual([11, 6, total]);
  });

  it('caches: with ValidCounts TRUE the stored counts are returned as they are', () => {
    const p = alloc(pool(1, 16));
    const a = buf(0, 100), b = buf(1000, 50);
    r.NdisChainBufferAtBack(p, a);
    r.NdisChainBufferAtBack(p, b);
    const q = query(p);
    expect(q).toMatchObject({ count: 2, total: 150, first: a });
    // Change the cache behind NDIS's back: a query must not recompute.
    const dv = new DataView(rt.memory.buffer);
    dv.setUint32(p + PK.PhysicalCount, 77, true);
    dv.setUint32(p + PK.Count, 88, true);
    dv.setUint32(p + PK.TotalLength, 99, true);
    expect(query(p)).toEqual({ phys: 77, count: 88, first: a, total: 99 });
    // A ByteCount change is not seen either until something clears ValidCounts.
    new DataView(rt.memory.buffer).setUint32(a + MDL_LAYOUT.ByteCount, 10, true);
    expect(query(p).total).toBe(99);
    expect(r.NdisBufferLength(a)).toBe(10);
    const out = box();
    r.NdisUnchainBufferAtBack(p, out);
    expect(query(p)).toEqual({ phys: 1, count: 1, first: a, total: 10 });
    r.NdisReinitializePacket(p);
    expect(query(p)).toEqual({ phys: 0, count: 0, first: 0, total: 0 });
  });

  it('every out box is optional: each alone gets its value; FirstBuffer alone does not recompute', () => {
    const p = alloc(pool(1, 16));
    const a = buf(boundary() - 4, 8), b = buf(0, 30);
    r.NdisChainBufferAtBack(p, a);
    r.NdisChainBufferAtBack(p, b);
    r.NdisQueryPacket(p, undefined, undefined, undefined, undefined);
    r.NdisQueryPacket(p);
    expect(validCounts(p)).toBe(0);
    const fb = box(0x1234);
    r.NdisQueryPacket(p, undefined, undefined, fb, undefined);
    expect(fb.value).toBe(a);
    expect(validCounts(p)).toBe(0);
    const want = { phys: 2 + spanPages(mem, 30), count: 2, total: 38 };
    const only = (i: number) => {
      r.NdisReinitializePacket(p);
      r.NDIS_MDL_LINKAGE_SET(a, 0); // reinitializing left a -> b linked; chain them one by one
      r.NdisChainBufferAtBack(p, a);
      r.NdisChainBufferAtBack(p, b);
      const boxes: (Box | undefined)[] = [undefined, undefined, undefined, undefined];
      boxes[i] = box(0x1234);
      r.NdisQueryPacket(p, ...(boxes as [Box, Box, Box, Box]));
      expect(validCounts(p)).toBe(i === 2 ? 0 : 1);
      return boxes[i]!.value;
    };
    expect(only(0)).toBe(want.phys);
    expect(only(1)).toBe(want.count);
    expect(only(2)).toBe(a);
    expect(only(3)).toBe(want.total);
    // null works as a NULL pointer too.
    const t = box();
    r.NdisQueryPacket(p, null, null, null, t);
    expect(t.value).toBe(38);
  });
});

// -- misuse ----------------------------------------------------------------------------------------------

describe('misuse is a bug check naming the rule, and changes nothing', () => {
  const pkt1Forged = (fn: string, arg: string, p: number, code: 0x42 | 0x46): Expect => ({
    fn, arg, code: C2, rule: 'PKT-1', parameters: [code, p, 0, 0],
  });
  const freed = (fn: string, arg: string, p: number, rule: string): Expect => ({
    fn, arg, code: C2, rule, parameters: [0x07, 0, 0, p], message: /already freed/,
  });

  it('PKT-1: a forged packet (inside a descriptor, not ours, another kind of object)', () => {
    const h = pool(2, 16);
    const p = alloc(h);
    const b = buf(0, 10);
    const size = r.NdisPacketSize(16);
    const blocks: [number, number][] = [[p, size], [b, MDL_LAYOUT.SIZE]];
    for (const fn of ['NdisFreePacket', 'NdisDprFreePacket', 'NdisDprFreePacketNonInterlocked', 'NdisReinitializePacket', 'NdisGetPoolFromPacket', 'NDIS_GET_PACKET_STATUS', 'NdisGetPacketFlags'] as const) {
      unchanged(() => (r[fn] as Loose)(p + 8), pkt1Forged(fn, 'Packet', p + 8, 0x46), [h], blocks);
      unchanged(() => (r[fn] as Loose)(12345), pkt1Forged(fn, 'Packet', 12345, 0x42), [h], blocks);
      unchanged(() => (r[fn] as Loose)(b), pkt1Forged(fn, 'Packet', b, 0x46), [h], blocks);
    }
    unchanged(() => r.NdisChainBufferAtBack(p + 0x38, b), pkt1Forged('NdisChainBufferAtBack', 'Packet', p + 0x38, 0x46), [h], blocks);
    unchanged(() => r.NdisQueryPacket(mem, box(), box(), box(), box()), pkt1Forged('NdisQueryPacket', 'Packet', mem, 0x46), [h], blocks);
    unchanged(() => r.NdisUnchainBufferAtFront(0, box()), pkt1Forged('NdisUnchainBufferAtFront', 'Packet', 0, 0x42), [h], blocks);
    // A pool handle is not a packet either.
    unchanged(() => r.NdisFreePacket(h), { fn: 'NdisFreePacket', arg: 'Packet', code: C2, rule: 'PKT-1', message: /packet pool handle/ }, [h], blocks);
    r.NdisFreePacket(p);
  });

  it('PKT-1: a packet whose Private.Pool was overwritten (through runtime.bytes)', () => {
    const h = pool(2, 16);
    const h2 = pool(2, 16);
    const p = alloc(h);
    const b = buf(0, 10);
    const size = r.NdisPacketSize(16);
    for (const forged of [h2, 0, 0xdeadbeef]) {
      new DataView(rt.bytes(p + PK.Pool, 4).buffer).setUint32(p + PK.Pool, forged, true);
      const x = (fn: string): Expect => ({
        fn, arg: 'Packet', code: C4, rule: 'PKT-1', parameters: [RULE_P1['PKT-1'], p, forged >>> 0, 0],
        message: new RegExp(`${hex(p)}'s Private.Pool \\(${hex(forged)}\\) no longer names the pool`),
      });
      const blocks: [number, number][] = [[p, size]];
      unchanged(() => r.NdisFreePacket(p), x('NdisFreePacket'), [h, h2], blocks);
      unchanged(() => r.NdisChainBufferAtFront(p, b), x('NdisChainBufferAtFront'), [h, h2], blocks);
      unchanged(() => r.NdisQueryPacket(p, box()), x('NdisQueryPacket'), [h, h2], blocks);
      unchanged(() => r.NdisReinitializePacket(p), x('NdisReinitializePacket'), [h, h2], blocks);
      unchanged(() => r.NdisGetPoolFromPacket(p), x('NdisGetPoolFromPacket'), [h, h2], blocks);
      expect(r.NdisPacketPoolUsage(h)).toBe(1);
      expect(r.NdisPacketPoolUsage(h2)).toBe(0);
    }
    // Restored, it frees normally.
    new DataView(rt.memory.buffer).setUint32(p + PK.Pool, h, true);
    r.NdisFreePacket(p);
    expect(r.NdisPacketPoolUsage(h)).toBe(0);
  });

  it('PKT-1: a freed packet (double free, use after free)', () => {
    const h = pool(2, 16);
    const keep = alloc(h);
    const p = alloc(h);
    const b = buf(0, 10);
    r.NdisFreePacket(p);
    for (const fn of ['NdisFreePacket', 'NdisDprFreePacket', 'NdisReinitializePacket', 'NDIS_GET_PACKET_HEADER_SIZE'] as const) {
      unchanged(() => (r[fn] as Loose)(p), freed(fn, 'Packet', p, 'PKT-1'), [h]);
    }
    unchanged(() => r.NdisChainBufferAtBack(p, b), freed('NdisChainBufferAtBack', 'Packet', p, 'PKT-1'), [h]);
    unchanged(() => r.NDIS_SET_PACKET_STATUS(p, 0), freed('NDIS_SET_PACKET_STATUS', 'Packet', p, 'PKT-1'), [h]);
    unchanged(() => r.NdisQueryPacket(p, box()), freed('NdisQueryPacket', 'Packet', p, 'PKT-1'), [h]);
    expect(r.packetPoolInfo(h)).toMatchObject({ usage: 1 });
    r.NdisFreePacket(keep);
  });

  it('PKT-4: NdisFreePacketPool with packets outstanding; the pool still works', () => {
    const h = pool(4, 16, 2);
    const ps = [alloc(h), alloc(h)];
    const x: Expect = {
      fn: 'NdisFreePacketPool', arg: 'PoolHandle', code: C4, rule: 'PKT-4', parameters: [RULE_P1['PKT-4'], h, 2, 0],
      message: /still has 2 packet\(s\) allocated/,
    };
    unchanged(() => r.NdisFreePacketPool(h), x, [h], [[ps[0]!, r.NdisPacketSize(16)]]);
    r.NdisFreePacket(ps[0]);
    unchanged(() => r.NdisFreePacketPool(h), { ...x, parameters: [RULE_P1['PKT-4'], h, 1, 0], message: /still has 1 packet/ }, [h]);
    expect(r.NdisGetPoolFromPacket(ps[1])).toBe(h);
    alloc(h);
    r.NdisFreePacket(ps[1]);
    expect(r.NdisPacketPoolUsage(h)).toBe(1);
  });

  it('a freed pool handle: NdisAllocatePacket, NdisPacketPoolUsage, NdisSetPacketPoolProtocolId, a second free', () => {
    const keep = pool(1, 16);
    const h = pool(2, 16);
    r.NdisFreePacket(alloc(h));
    r.NdisFreePacketPool(h);
    expect(packetRow()).toMatchObject({ pools: 1, allocs: 1, frees: 1 });
    const s = box(0x77), p = box(0x88);
    unchanged(() => r.NdisAllocatePacket(s, p, h), freed('NdisAllocatePacket', 'PoolHandle', h, 'ALT-POOL'), [keep]);
    expect([s.value, p.value]).toEqual([0x77, 0x88]); // the out boxes are not written
    unchanged(() => r.NdisDprAllocatePacket(s, p, h), freed('NdisDprAllocatePacket', 'PoolHandle', h, 'ALT-POOL'), [keep]);
    unchanged(() => r.NdisPacketPoolUsage(h), freed('NdisPacketPoolUsage', 'PoolHandle', h, 'ALT-POOL'), [keep]);
    unchanged(() => r.packetPoolInfo(h), freed('packetPoolInfo', 'PoolHandle', h, 'ALT-POOL'), [keep]);
    unchanged(() => r.NdisSetPacketPoolProtocolId(h, 1), freed('NdisSetPacketPoolProtocolId', 'PacketPoolHandle', h, 'ALT-POOL'), [keep]);
    unchanged(() => r.NdisFreePacketPool(h), freed('NdisFreePacketPool', 'PoolHandle', h, 'ALT-POOL'), [keep]);
    // Another kind of handle is not a packet pool.
    const bp = box();
    r.NdisAllocateBufferPool(box(), bp, 4);
    unchanged(() => r.NdisAllocatePacket(s, p, bp.value), { fn: 'NdisAllocatePacket', arg: 'PoolHandle', code: C2, rule: 'ORIGIN', parameters: [0x46, bp.value, 0, 0] }, [keep]);
    unchanged(() => r.NdisAllocatePacket(s, p, 0), { fn: 'NdisAllocatePacket', arg: 'PoolHandle', code: C2, rule: 'ORIGIN', parameters: [0x42, 0, 0, 0] }, [keep]);
    alloc(keep);
  });

  it('PKT-2: NdisFreeBuffer of a buffer still chained (head, middle, tail)', () => {
    const h = pool(2, 16);
    const p = alloc(h);
    const bs = [buf(0, 10), buf(10, 10), buf(20, 10)];
    for (const b of bs) r.NdisChainBufferAtBack(p, b);
    const blocks: [number, number][] = [[p, r.NdisPacketSize(16)], ...bs.map((b): [number, number] => [b, MDL_LAYOUT.SIZE])];
    for (const b of bs) {
      unchanged(() => r.NdisFreeBuffer(b), {
        fn: 'NdisFreeBuffer', arg: 'Buffer', code: C4, rule: 'PKT-2', parameters: [RULE_P1['PKT-2'], b, p, 0],
        message: new RegExp(`still chained to packet ${hex(p)}`),
      }, [h], blocks);
    }
    expect(chainOf(p)).toEqual(bs);
    // Unchained, it frees; a second free is ALT-MDL.
    const out = box();
    r.NdisUnchainBufferAtFront(p, out);
    r.NdisFreeBuffer(out.value);
    unchanged(() => r.NdisFreeBuffer(out.value), freed('NdisFreeBuffer', 'Buffer', out.value, 'ALT-MDL'), [h]);
    // After NdisReinitializePacket the others are no longer chained.
    r.NdisReinitializePacket(p);
    r.NdisFreeBuffer(bs[1]);
    r.NdisFreeBuffer(bs[2]);
  });

  it('PKT-2: NdisFreeMdl of an NDIS_BUFFER still chained is caught like NdisFreeBuffer (NDIS_BUFFER is an MDL)', () => {
    const h = pool(1, 16);
    const p = alloc(h);
    const b = buf(0, 100);
    r.NdisChainBufferAtBack(p, b);
    query(p);
    unchanged(() => r.NdisFreeMdl(b), {
      fn: 'NdisFreeMdl', code: C4, rule: 'PKT-2', parameters: [RULE_P1['PKT-2'], b, p, 0],
    }, [h], [[p, r.NdisPacketSize(16)], [b, MDL_LAYOUT.SIZE]]);
    // Had it been freed, the slot would be reused by an unrelated MDL that then sits in the chain.
    const other = r.NdisAllocateMdl(g, mem + 500, 7);
    expect(other).not.toBe(b);
    expect(chainOf(p)).toEqual([b]);
    expect(query(p)).toMatchObject({ count: 1, total: 100 });
  });

  it('PKT-2: chaining a buffer already chained to this packet or to another one', () => {
    const h = pool(2, 16);
    const p = alloc(h), q = alloc(h);
    const [a, b, c, d] = [buf(0, 10), buf(10, 10), buf(20, 10), buf(30, 10)];
    r.NdisChainBufferAtBack(p, a);
    r.NdisChainBufferAtBack(p, b);
    r.NdisChainBufferAtBack(q, c);
    query(p);
    query(q);
    const size = r.NdisPacketSize(16);
    const blocks: [number, number][] = [[p, size], [q, size], ...[a, b, c, d].map((x): [number, number] => [x, MDL_LAYOUT.SIZE])];
    const x = (fn: string, buffer: number, owner: number, which: 'this' | 'another'): Expect => ({
      fn, arg: 'Buffer', code: C4, rule: 'PKT-2', parameters: [RULE_P1['PKT-2'], buffer, owner, 0],
      message: new RegExp(`${hex(buffer)} is already chained to ${which} packet \\(${hex(owner)}\\)`),
    });
    for (const fn of ['NdisChainBufferAtFront', 'NdisChainBufferAtBack'] as const) {
      unchanged(() => r[fn](p, a), x(fn, a, p, 'this'), [h], blocks);
      unchanged(() => r[fn](p, b), x(fn, b, p, 'this'), [h], blocks);
      unchanged(() => r[fn](q, a), x(fn, a, p, 'another'), [h], blocks);
      unchanged(() => r[fn](p, c), x(fn, c, q, 'another'), [h], blocks);
    }
    // A 2-buffer chain whose second buffer is on another packet: nothing is chained.
    r.NDIS_MDL_LINKAGE_SET(d, c);
    const blocks2: [number, number][] = blocks.map(([ad, n]) => [ad, n]);
    unchanged(() => r.NdisChainBufferAtBack(p, d), x('NdisChainBufferAtBack', c, q, 'another'), [h], blocks2);
    unchanged(() => r.NdisChainBufferAtFront(p, d), x('NdisChainBufferAtFront', c, q, 'another'), [h], blocks2);
    expect(chainOf(p)).toEqual([a, b]);
    expect(chainOf(q)).toEqual([c]);
    expect([validCounts(p), validCounts(q)]).toEqual([1, 1]);
    // d was never chained: it frees.
    r.NdisFreeBuffer(d);
  });

  it('PARAM: NdisAllocateBuffer over a range outside any live allocation', () => {
    const h = pool(1, 16);
    const p = alloc(h);
    const freedBlock = r.NdisAllocateMemoryWithTagPriority(g, 256, POOL_TAG('Gone'), NormalPoolPriority);
    r.NdisFreeMemoryWithTagPriority(g, freedBlock, POOL_TAG('Gone'));
    const bp = box();
    r.NdisAllocateBufferPool(box(), bp, 4);
    const cases: [number, number][] = [
      [mem + MEM_LEN - 10, 11], // one byte past the block
      [mem + MEM_LEN, 1], // just past it
      [freedBlock, 16], // freed memory
      [p, 16], // a packet descriptor is not caller memory
      [0, 0], // NULL
      [12345, 4], // below every slab
    ];
    for (const [va, len] of cases) {
      for (const pl of [0, bp.value]) {
        const s = box(0x77), b = box(0x88);
        unchanged(() => r.NdisAllocateBuffer(s, b, pl, va, len), {
          fn: 'NdisAllocateBuffer', arg: 'VirtualAddress', code: C4, rule: 'PARAM', parameters: [RULE_P1.PARAM, va, len, 0],
          message: /is not inside one live allocation/,
        }, [h]);
        expect([s.value, b.value]).toEqual([0x77, 0x88]);
      }
    }
  });

  it('a freed buffer pool handle (ALT-POOL); a freed buffer (ALT-MDL)', () => {
    const bp = box();
    r.NdisAllocateBufferPool(box(), bp, 4);
    const b = buf(0, 8, bp.value);
    r.NdisFreeBufferPool(bp.value);
    unchanged(() => r.NdisAllocateBuffer(box(), box(), bp.value, mem, 8), freed('NdisAllocateBuffer', 'PoolHandle', bp.value, 'ALT-POOL'));
    unchanged(() => r.NdisFreeBufferPool(bp.value), freed('NdisFreeBufferPool', 'PoolHandle', bp.value, 'ALT-POOL'));
    r.NdisFreeBuffer(b);
    const p = alloc(pool(1, 16));
    for (const [fn, f] of [
      ['NdisFreeBuffer', () => r.NdisFreeBuffer(b)],
      ['NdisBufferLength', () => r.NdisBufferLength(b)],
      ['NdisQueryBuffer', () => r.NdisQueryBuffer(b, box(), box())],
    ] as const) {
      unchanged(f, freed(fn, 'Buffer', b, 'ALT-MDL'));
    }
    unchanged(() => r.NdisChainBufferAtBack(p, b), freed('NdisChainBufferAtBack', 'Buffer', b, 'ALT-MDL'), [], [[p, 0x38]]);
  });

  it('out-parameters must be boxes; counts must be ULONGs (PARAM)', () => {
    const h = pool(1, 16);
    const param = (fn: string, arg: string, v = 0): Expect => ({ fn, arg, code: C4, rule: 'PARAM', parameters: [RULE_P1.PARAM, v, 0, 0] });
    unchanged(() => r.NdisAllocatePacket(undefined, box(), h), param('NdisAllocatePacket', 'Status'), [h]);
    unchanged(() => r.NdisAllocatePacket(box(), 5, h), param('NdisAllocatePacket', 'Packet', 5), [h]);
    unchanged(() => r.NdisAllocatePacketPool(box(), null, 1, 16), param('NdisAllocatePacketPool', 'PoolHandle'));
    unchanged(() => r.NdisAllocatePacketPool(box(), box(), -1, 16), param('NdisAllocatePacketPool', 'NumberOfDescriptors', 0xffffffff));
    unchanged(() => r.NdisAllocatePacketPoolEx(box(), box(), 1, 1.5, 16), param('NdisAllocatePacketPoolEx', 'NumberOfOverflowDescriptors', 1));
    unchanged(() => r.NdisAllocatePacketPool(box(), box(), 1, 2 ** 32), param('NdisAllocatePacketPool', 'ProtocolReservedLength', 0));
    const p = alloc(h);
    unchanged(() => r.NdisQueryPacket(p, 7), param('NdisQueryPacket', 'PhysicalBufferCount', 7), [h]);
    unchanged(() => r.NdisUnchainBufferAtBack(p, undefined), param('NdisUnchainBufferAtBack', 'Buffer'), [h]);
    expect(() => r.NdisPacketSize(-1)).toThrow(NdisBugCheck);
  });
});
