/**
 * NET_BUFFER_LIST pools, NET_BUFFER_LISTs, their contexts, accessors and chain helpers
 * (src/ndis/nbl.ts; NDIS-SPEC §2.1, §2.2, §2.4, §4.2, §4.3; DESIGN decisions 9-13). Every bug
 * check is also checked to leave poolmon and memory exactly as they were.
 */
import { describe, it, expect, beforeEach } from 'vitest';
import { createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import { netBufferListApi } from '../build/ts/ndis/nbl.js';
import {
  NdisBugCheck,
  POOL_TAG,
  RULE_P1,
  BUGCODE_BAD_POOL_CALLER,
  BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION,
  BUGCODE_NDIS_DRIVER,
  NDIS_STATUS_SUCCESS,
  NDIS_STATUS_RESOURCES,
  NDIS_STATUS_FAILURE,
  NDIS_STATUS_PENDING,
  NDIS_PROTOCOL_ID_DEFAULT,
  NDIS_PROTOCOL_ID_TCP_IP,
  NDIS_PROTOCOL_ID_IPX,
  NDIS_PROTOCOL_ID_MAX,
  NormalPoolPriority,
  NormalPagePriority,
  NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
  NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_2,
  NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
  NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_2,
  NET_BUFFER_LIST_POOL_FLAG_VERIFY,
  NetBufferListProtocolId,
  NetBufferListFrameType,
  MaxNetBufferListInfo,
  NET_BUFFER_LIST_LAYOUT,
  NET_BUFFER_LIST_CONTEXT_LAYOUT,
  NET_BUFFER_LAYOUT,
  MDL_AND_DATA_LAYOUT,
} from '../build/ts/index.js';
import { type Loose, type LooseRt, type Expect, loose, protocolChars, bugCheck, expectBug, row, u32At, u16At, slot, HDR1 as NB_HDR1 } from './helpers.js';

// -- fixtures and helpers ------------------------------------------------------------------------------

const C2 = BUGCODE_BAD_POOL_CALLER;
const C4 = BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION;
const PAGE = 65536;

/** NET_BUFFER_LIST_POOL_PARAMETERS headers: revision 1 (0x80, 1, 16) and revision 2 (0x80, 2, 20). */
const LH1 = { Type: 0x80, Revision: NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, Size: NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1 };
const LH2 = { Type: 0x80, Revision: NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_2, Size: NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_2 };

const TAG = {
  pool: POOL_TAG('NblT'),
  ctx: POOL_TAG('CtxT'),
  nb: POOL_TAG('NbT '),
  gen: POOL_TAG('GenT'),
  mem: POOL_TAG('MemT'),
};

const NBL = NET_BUFFER_LIST_LAYOUT;
const NBLC = NET_BUFFER_LIST_CONTEXT_LAYOUT;
const NB = NET_BUFFER_LAYOUT;
const MDAT = MDL_AND_DATA_LAYOUT;

let rt: NdisRuntime;
let r: LooseRt;
let g: number; // a generic object: an NdisHandle that is not a protocol

beforeEach(() => {
  rt = createRuntimeSync();
  r = loose(rt);
  g = r.NdisAllocateGenericObject(0, TAG.gen, 0);
  expect(g).toBeGreaterThanOrEqual(PAGE);
});

/** NET_BUFFER_LIST_POOL_PARAMETERS with defaults (revision 1, no context, no NB, tag TAG.pool). */
function lp(over: Record<string, unknown> = {}): Loose {
  return { Header: LH1, ProtocolId: 0, fAllocateNetBuffer: false, ContextSize: 0, PoolTag: TAG.pool, DataSize: 0, ...over };
}

/** An NBL pool; must succeed. */
function nblPool(over: Record<string, unknown> = {}, handle = 0): number {
  const h = r.NdisAllocateNetBufferListPool(handle, lp(over));
  expect(h).toBeGreaterThanOrEqual(PAGE);
  return h;
}

/** An NBL; must succeed. */
function nbl(pool: number, ctx = 0, backFill = 0): number {
  const n = r.NdisAllocateNetBufferList(pool, ctx, backFill);
  expect(n).toBeGreaterThanOrEqual(PAGE);
  return n;
}

/** A registered protocol driver's handle. */
function protocol(name = 'NBLTEST'): number {
  const out: Loose = { value: 0 };
  expect(r.NdisRegisterProtocolDriver(0, protocolChars(name), out)).toBe(NDIS_STATUS_SUCCESS);
  expect(out.value).toBeGreaterThanOrEqual(PAGE);
  return out.value;
}

/** A NET_BUFFER pool (DataSize 0) and `n` NBs from it (MdlChain NULL). */
function nbs(n: number): { pool: number; list: Loose[] } {
  const pool = r.NdisAllocateNetBufferPool(0, { Header: NB_HDR1, PoolTag: TAG.nb, DataSize: 0 });
  expect(pool).toBeGreaterThanOrEqual(PAGE);
  const list: Loose[] = [];
  for (let i = 0; i < n; i++) {
    const b = r.NdisAllocateNetBuffer(pool, 0, 0, 0);
    expect(b).toBeGreaterThanOrEqual(PAGE);
    list.push(b);
  }
  return { pool, list };
}

/** MDLs chained in order over one memory block of sizes' total. */
function mdlChain(sizes: number[]): { mem: number; mdls: Loose[] } {
  const total = sizes.reduce((a, b) => a + b, 0);
  const mem = r.NdisAllocateMemoryWithTagPriority(g, total, TAG.mem, NormalPoolPriority);
  expect(mem).toBeGreaterThanOrEqual(PAGE);
  const mdls: Loose[] = [];
  let off = 0;
  for (const s of sizes) {
    const m = r.NdisAllocateMdl(g, mem + off, s);
    expect(m).toBeGreaterThanOrEqual(PAGE);
    mdls.push(m);
    off += s;
  }
  for (let i = 0; i + 1 < mdls.length; i++) r.NDIS_MDL_LINKAGE_SET(mdls[i], mdls[i + 1]);
  return { mem, mdls };
}

/** Everything observable about the allocator state. */
function snapshot(x: NdisRuntime = rt) {
  return { poolmon: x.poolmon(), memory: x.memoryUsage() };
}

/** `f` must throw the bug check `x` and leave poolmon and memory exactly as they were. */
function unchanged(f: () => unknown, x: Expect): NdisBugCheck {
  const before = snapshot();
  const b = expectBug(f, x, { fullMessage: true });
  expect(snapshot()).toEqual(before);
  return b;
}

const rule = (fn: string, arg: string | undefined, id: keyof typeof RULE_P1, p2?: number, p3 = 0, p4 = 0): Expect => ({
  fn, arg, code: C4, rule: id, parameters: p2 === undefined ? undefined : [RULE_P1[id], p2 >>> 0, p3 >>> 0, p4 >>> 0],
});
/** `f` must throw rule `id` (unchanged state); only bug-check parameters 1 and 2 are checked. */
function unchangedP12(f: () => unknown, fn: string, arg: string, id: keyof typeof RULE_P1, p2: number): NdisBugCheck {
  const b = unchanged(f, rule(fn, arg, id));
  expect([...b.parameters].slice(0, 2)).toEqual([RULE_P1[id], p2 >>> 0]);
  return b;
}
const altNbl = (fn: string, arg: string, p: number): Expect => ({
  fn, arg, code: C2, rule: 'ALT-NBL', parameters: [0x07, 0, 0, p], message: /already freed/,
});
const origin46 = (fn: string, arg: string, p: number): Expect => ({ fn, arg, code: C2, rule: 'ORIGIN', parameters: [0x46, p, 0, 0] });
const origin42 = (fn: string, arg: string, p: number): Expect => ({ fn, arg, code: C2, rule: 'ORIGIN', parameters: [0x42, p, 0, 0] });
const hdr = (t: number, rev: number, s: number): Expect => ({
  fn: 'NdisAllocateNetBufferListPool', arg: 'Parameters.Header', code: BUGCODE_NDIS_DRIVER, rule: 'HDR-1', parameters: [0x21, t, rev, s],
});

/** The 0x88 bytes of an NBL. */
const nblBytes = (n: number) => rt.bytes(n, NBL.SIZE).slice();
const i32At = (addr: number) => new DataView(rt.memory.buffer).getInt32(addr, true);
const put32 = (addr: number, v: number) => new DataView(rt.memory.buffer).setUint32(addr, v >>> 0, true);

// -- constants --------------------------------------------------------------------------------------------

describe('constants and the exported layout', () => {
  it('NET_BUFFER_LIST_LAYOUT is the x86 layout of DESIGN D4 (13 info slots, 0x88 bytes)', () => {
    expect({ ...NBL }).toEqual({
      Next: 0x00, FirstNetBuffer: 0x04, Context: 0x08, ParentNetBufferList: 0x0c, NdisPoolHandle: 0x10,
      NdisReserved: 0x18, ProtocolReserved: 0x20, MiniportReserved: 0x30, Scratch: 0x38, SourceHandle: 0x3c,
      NblFlags: 0x40, ChildRefCount: 0x44, Flags: 0x48, Status: 0x4c, NetBufferListInfo: 0x50, SIZE: 0x88,
    });
    expect(NBL.NetBufferListInfo + 4 * MaxNetBufferListInfo).toBeLessThanOrEqual(NBL.SIZE);
    expect({ ...NBLC }).toEqual({ Next: 0, Size: 4, Offset: 6, ContextData: 8 });
  });

  it('parameter revisions, sizes, flag and info indices', () => {
    expect(NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1).toBe(1);
    expect(NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_2).toBe(2);
    expect(NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1).toBe(16);
    expect(NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_2).toBe(20);
    expect(NET_BUFFER_LIST_POOL_FLAG_VERIFY).toBe(1);
    expect(NetBufferListProtocolId).toBe(7);
    expect(NetBufferListFrameType).toBe(7);
    expect(MaxNetBufferListInfo).toBe(13);
  });
});

// -- pools --------------------------------------------------------------------------------------------------

describe('NdisAllocateNetBufferListPool / NdisFreeNetBufferListPool', () => {
  it('accepts revision-1 (Size 16) and revision-2 (Size 20) headers, and Size >= the revision size', () => {
    const pools = [
      nblPool({ Header: LH1 }),
      nblPool({ Header: LH2, Flags: 0 }),
      nblPool({ Header: LH2, Flags: NET_BUFFER_LIST_POOL_FLAG_VERIFY }),
      nblPool({ Header: LH2 }), // Flags omitted: 0
      nblPool({ Header: { Type: 0x80, Revision: 1, Size: 20 } }), // sizeof() with a WDK that has Flags
      nblPool({ Header: { Type: 0x80, Revision: 2, Size: 24 } }),
    ];
    expect(new Set(pools).size).toBe(pools.length);
    for (const p of pools) {
      const n = nbl(p);
      expect(r.NdisGetPoolFromNetBufferList(n)).toBe(p);
      r.NdisFreeNetBufferList(n);
      r.NdisFreeNetBufferListPool(p);
    }
    expect(row(rt, TAG.pool, 'NBL')).toMatchObject({ allocs: pools.length, frees: pools.length, outstanding: 0, pools: 0 });
  });

  it('ignores Flags in a revision-1 header', () => {
    const p = nblPool({ Header: LH1, Flags: 0xff });
    r.NdisFreeNetBufferList(nbl(p));
  });

  it('HDR-1 (0x7C/0x21) on a bad Type, Revision or Size, or a missing header', () => {
    unchanged(() => r.NdisAllocateNetBufferListPool(0, lp({ Header: { Type: 0x81, Revision: 1, Size: 16 } })), hdr(0x81, 1, 16));
    unchanged(() => r.NdisAllocateNetBufferListPool(0, lp({ Header: { Type: 0x80, Revision: 3, Size: 20 } })), hdr(0x80, 3, 20));
    unchanged(() => r.NdisAllocateNetBufferListPool(0, lp({ Header: { Type: 0x80, Revision: 0, Size: 16 } })), hdr(0x80, 0, 16));
    unchanged(() => r.NdisAllocateNetBufferListPool(0, lp({ Header: { Type: 0x80, Revision: 1, Size: 15 } })), hdr(0x80, 1, 15));
    unchanged(() => r.NdisAllocateNetBufferListPool(0, lp({ Header: { Type: 0x80, Revision: 2, Size: 16 } })), hdr(0x80, 2, 16));
    // The NET_BUFFER_POOL_PARAMETERS header (Size 12) is too small here.
    unchanged(() => r.NdisAllocateNetBufferListPool(0, lp({ Header: NB_HDR1 })), hdr(0x80, 1, 12));
    unchanged(() => r.NdisAllocateNetBufferListPool(0, lp({ Header: undefined })), hdr(0, 0, 0));
    expect(row(rt, TAG.pool, 'NBL')).toBeUndefined();
  });

  it('POOL-1: DataSize without fAllocateNetBuffer, ContextSize not a multiple of 8, unknown Flags', () => {
    const fn = 'NdisAllocateNetBufferListPool';
    unchanged(() => r.NdisAllocateNetBufferListPool(g, lp({ DataSize: 100 })), rule(fn, 'Parameters.DataSize', 'POOL-1', 100));
    unchanged(() => r.NdisAllocateNetBufferListPool(g, lp({ DataSize: 100, fAllocateNetBuffer: 0 })), rule(fn, 'Parameters.DataSize', 'POOL-1', 100));
    unchanged(() => r.NdisAllocateNetBufferListPool(g, lp({ ContextSize: 12 })), rule(fn, 'Parameters.ContextSize', 'POOL-1', 12));
    // A multiple of sizeof(PVOID) is not enough: MEMORY_ALLOCATION_ALIGNMENT is 8.
    unchanged(() => r.NdisAllocateNetBufferListPool(g, lp({ ContextSize: 4 })), rule(fn, 'Parameters.ContextSize', 'POOL-1', 4));
    unchanged(() => r.NdisAllocateNetBufferListPool(g, lp({ Header: LH2, Flags: 2 })), rule(fn, 'Parameters.Flags', 'POOL-1', 2));
    unchanged(() => r.NdisAllocateNetBufferListPool(g, lp({ Header: LH2, Flags: 3 })), rule(fn, 'Parameters.Flags', 'POOL-1', 3));
    unchanged(() => r.NdisAllocateNetBufferListPool(g, lp({ Header: LH2, Flags: 0x80000000 })), rule(fn, 'Parameters.Flags', 'POOL-1', 0x80000000));
    // Values outside their C types are PARAM.
    unchanged(() => r.NdisAllocateNetBufferListPool(g, lp({ ContextSize: 0x10000 })), rule(fn, 'Parameters.ContextSize', 'PARAM'));
    unchanged(() => r.NdisAllocateNetBufferListPool(g, lp({ fAllocateNetBuffer: 2 })), rule(fn, 'Parameters.fAllocateNetBuffer', 'PARAM'));
    unchanged(() => r.NdisAllocateNetBufferListPool(g, lp({ DataSize: -1 })), rule(fn, 'Parameters.DataSize', 'PARAM'));
    // The owner still owns nothing.
    r.NdisFreeGenericObject(g);
  });

  it('POOL-2: ProtocolId above 0x0F, or non-zero with a generic object or NULL handle', () => {
    const fn = 'NdisAllocateNetBufferListPool';
    const prot = protocol();
    let b = unchanged(() => r.NdisAllocateNetBufferListPool(prot, lp({ ProtocolId: 0x10 })), rule(fn, 'Parameters.ProtocolId', 'POOL-2', 0x10));
    expect(b.message).toMatch(/NDIS_PROTOCOL_ID_MAX/);
    unchanged(() => r.NdisAllocateNetBufferListPool(prot, lp({ ProtocolId: 0xff })), rule(fn, 'Parameters.ProtocolId', 'POOL-2', 0xff));
    b = unchanged(() => r.NdisAllocateNetBufferListPool(g, lp({ ProtocolId: NDIS_PROTOCOL_ID_TCP_IP })), rule(fn, 'Parameters.ProtocolId', 'POOL-2', 2));
    expect(b.message).toMatch(/NDIS_PROTOCOL_ID_DEFAULT/);
    unchanged(() => r.NdisAllocateNetBufferListPool(0, lp({ ProtocolId: NDIS_PROTOCOL_ID_TCP_IP })), rule(fn, 'Parameters.ProtocolId', 'POOL-2', 2));
    unchanged(() => r.NdisAllocateNetBufferListPool(0, lp({ ProtocolId: 0x10 })), rule(fn, 'Parameters.ProtocolId', 'POOL-2', 0x10));
    unchanged(() => r.NdisAllocateNetBufferListPool(prot, lp({ ProtocolId: 0x100 })), rule(fn, 'Parameters.ProtocolId', 'PARAM', 0x100));
    // None of them was counted against the owners.
    r.NdisDeregisterProtocolDriver(prot);
    r.NdisFreeGenericObject(g);
  });

  it('POOL-2: a protocol handle may use any ProtocolId up to NDIS_PROTOCOL_ID_MAX; others only DEFAULT', () => {
    const prot = protocol();
    for (const pid of [NDIS_PROTOCOL_ID_DEFAULT, NDIS_PROTOCOL_ID_TCP_IP, NDIS_PROTOCOL_ID_IPX, NDIS_PROTOCOL_ID_MAX]) {
      const p = nblPool({ ProtocolId: pid }, prot);
      const n = nbl(p);
      expect(r.NdisGetNetBufferListProtocolId(n)).toBe(pid);
      r.NdisFreeNetBufferList(n);
      r.NdisFreeNetBufferListPool(p);
    }
    for (const h of [0, g]) {
      const p = nblPool({ ProtocolId: NDIS_PROTOCOL_ID_DEFAULT }, h);
      r.NdisFreeNetBufferListPool(p);
    }
    r.NdisDeregisterProtocolDriver(prot);
  });

  it('rejects an NdisHandle that is not a protocol handle or generic object (ORIGIN)', () => {
    const p = nblPool();
    unchanged(() => r.NdisAllocateNetBufferListPool(p, lp()), origin46('NdisAllocateNetBufferListPool', 'NdisHandle', p));
    unchanged(() => r.NdisAllocateNetBufferListPool(12345, lp()), origin42('NdisAllocateNetBufferListPool', 'NdisHandle', 12345));
  });

  it('POOL-5: freeing a pool with NBLs outstanding; the pool frees once they are freed', () => {
    const fn = 'NdisFreeNetBufferListPool';
    const p = nblPool({ fAllocateNetBuffer: true, ContextSize: 8, DataSize: 64 });
    const a = nbl(p);
    const b = nbl(p, 32, 8); // with an allocated context block: still one NBL
    unchanged(() => r.NdisFreeNetBufferListPool(p), rule(fn, 'PoolHandle', 'POOL-5', p, 2));
    r.NdisFreeNetBufferList(a);
    unchanged(() => r.NdisFreeNetBufferListPool(p), rule(fn, 'PoolHandle', 'POOL-5', p, 1));
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(b)).toBe(40);
    r.NdisFreeNetBufferList(b);
    r.NdisFreeNetBufferListPool(p);
    // A freed pool handle is invalid.
    unchanged(() => r.NdisFreeNetBufferListPool(p), { fn, arg: 'PoolHandle', code: C2, rule: 'ALT-POOL', parameters: [0x07, 0, 0, p] });
    unchanged(() => r.NdisAllocateNetBufferList(p, 0, 0), { fn: 'NdisAllocateNetBufferList', arg: 'PoolHandle', code: C2, rule: 'ALT-POOL', parameters: [0x07, 0, 0, p] });
  });

  it('POOL-6: a protocol or generic object owning an NBL pool cannot go first', () => {
    const prot = protocol();
    const pp = nblPool({}, prot);
    const pg = nblPool({}, g);
    unchanged(() => r.NdisDeregisterProtocolDriver(prot), rule('NdisDeregisterProtocolDriver', 'NdisProtocolHandle', 'POOL-6', prot, 1));
    unchanged(() => r.NdisFreeGenericObject(g), rule('NdisFreeGenericObject', 'NdisObject', 'POOL-6', g, 1));
    r.NdisFreeNetBufferListPool(pp);
    r.NdisFreeNetBufferListPool(pg);
    r.NdisDeregisterProtocolDriver(prot);
    r.NdisFreeGenericObject(g);
  });

  it('NdisFreeNetBufferListPool / NdisAllocateNetBufferList reject handles that are not NBL pools', () => {
    const { pool: nbp } = nbs(0);
    unchanged(() => r.NdisFreeNetBufferListPool(nbp), origin46('NdisFreeNetBufferListPool', 'PoolHandle', nbp));
    unchanged(() => r.NdisAllocateNetBufferList(nbp, 0, 0), origin46('NdisAllocateNetBufferList', 'PoolHandle', nbp));
    unchanged(() => r.NdisAllocateNetBufferList(0, 0, 0), origin42('NdisAllocateNetBufferList', 'PoolHandle', 0));
    unchanged(() => r.NdisAllocateNetBufferList(g, 0, 0), origin46('NdisAllocateNetBufferList', 'PoolHandle', g));
  });

  it('NdisGetPoolFromNetBufferList returns the pool of each NBL and rejects anything else', () => {
    const fn = 'NdisGetPoolFromNetBufferList';
    const p1 = nblPool();
    const p2 = nblPool({ fAllocateNetBuffer: true, ContextSize: 16, DataSize: 100 });
    const a = nbl(p1);
    const b = nbl(p2);
    expect(r.NdisGetPoolFromNetBufferList(a)).toBe(p1);
    expect(r.NdisGetPoolFromNetBufferList(b)).toBe(p2);
    expect(u32At(rt, a + NBL.NdisPoolHandle)).toBe(p1);
    expect(u32At(rt, b + NBL.NdisPoolHandle)).toBe(p2);
    const nb = r.NET_BUFFER_LIST_FIRST_NB(b);
    unchanged(() => r.NdisGetPoolFromNetBufferList(nb), { fn, arg: 'NetBufferList', code: C2, rule: 'ORIGIN' });
    unchanged(() => r.NdisGetPoolFromNetBufferList(p1), origin46(fn, 'NetBufferList', p1));
    unchanged(() => r.NdisGetPoolFromNetBufferList(0), origin42(fn, 'NetBufferList', 0));
    unchanged(() => r.NdisGetPoolFromNetBufferList(a + 8), { fn, arg: 'NetBufferList', code: C2, rule: 'ORIGIN', parameters: [0x46, a + 8, 0, 0], message: /inside an object/ });
    r.NdisFreeNetBufferList(a);
    unchanged(() => r.NdisGetPoolFromNetBufferList(a), altNbl(fn, 'NetBufferList', a));
  });
});

// -- NBLs ---------------------------------------------------------------------------------------------------

describe('NdisAllocateNetBufferList: one slab object per NBL', () => {
  it('lays out NBL, context block (+0x88), NET_BUFFER, MDL (NB+0x58) and data (NB+0x78)', () => {
    const p = nblPool({ fAllocateNetBuffer: true, ContextSize: 16, DataSize: 200 });
    const n = nbl(p, 8, 0);
    const ctx = n + NBL.SIZE;
    const nb = ctx + NBLC.ContextData + 16;
    // NET_BUFFER_LIST
    expect(u32At(rt, n + NBL.Next)).toBe(0);
    expect(u32At(rt, n + NBL.FirstNetBuffer)).toBe(nb);
    expect(u32At(rt, n + NBL.Context)).toBe(ctx);
    expect(u32At(rt, n + NBL.ParentNetBufferList)).toBe(0);
    expect(u32At(rt, n + NBL.NdisPoolHandle)).toBe(p);
    for (const off of [NBL.Scratch, NBL.SourceHandle, NBL.NblFlags, NBL.ChildRefCount, NBL.Flags, NBL.Status]) expect(u32At(rt, n + off)).toBe(0);
    for (let i = 0; i < 13; i++) expect(u32At(rt, n + NBL.NetBufferListInfo + 4 * i)).toBe(0);
    // NET_BUFFER_LIST_CONTEXT: Size = pool ContextSize, Offset = Size - ContextSize
    expect(u32At(rt, ctx + NBLC.Next)).toBe(0);
    expect(u16At(rt, ctx + NBLC.Size)).toBe(16);
    expect(u16At(rt, ctx + NBLC.Offset)).toBe(8);
    expect(r.NET_BUFFER_LIST_CONTEXT(n)).toBe(ctx);
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_START(n)).toBe(ctx + 8 + 8);
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(n)).toBe(16);
    // NET_BUFFER with its MDL and data
    const mdl = nb + MDAT.Mdl;
    expect(MDAT.Mdl).toBe(0x58);
    expect(MDAT.Data).toBe(0x78);
    expect(u32At(rt, nb + NB.Next)).toBe(0);
    expect(u32At(rt, nb + NB.MdlChain)).toBe(mdl);
    expect(u32At(rt, nb + NB.CurrentMdl)).toBe(mdl);
    expect(u32At(rt, nb + NB.CurrentMdlOffset)).toBe(0);
    expect(u32At(rt, nb + NB.DataOffset)).toBe(0);
    expect(u32At(rt, nb + NB.DataLength)).toBe(200);
    expect(u32At(rt, nb + NB.NdisPoolHandle)).toBe(p);
    expect(r.MmGetMdlByteCount(mdl)).toBe(200);
    expect(r.MmGetMdlVirtualAddress(mdl)).toBe(nb + MDAT.Data);
    expect(r.MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority)).toBe(nb + MDAT.Data);
    expect(r.NDIS_MDL_LINKAGE(mdl)).toBe(0);
    // One object of exactly that size (rounded to 8).
    expect(row(rt, TAG.pool, 'NBL')).toMatchObject({ outstanding: 1, bytes: slot(0x88 + 8 + 16 + 0x78 + 200) });
    expect(rt.poolmon().filter((x) => x.type === 'Memory')).toEqual([]);
  });

  it('ContextSize equal to the pool ContextSize uses it all (Offset 0); ContextSize 0 leaves it unused', () => {
    const p = nblPool({ ContextSize: 24 });
    const a = nbl(p, 24, 0);
    const b = nbl(p, 0, 0);
    expect(u16At(rt, a + NBL.SIZE + NBLC.Offset)).toBe(0);
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_START(a)).toBe(a + NBL.SIZE + 8);
    expect(u16At(rt, b + NBL.SIZE + NBLC.Offset)).toBe(24);
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_START(b)).toBe(b + NBL.SIZE + 8 + 24);
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(b)).toBe(24);
    expect(r.NET_BUFFER_LIST_FIRST_NB(a)).toBe(0);
    expect(row(rt, TAG.pool, 'NBL')!.bytes).toBe(2 * slot(0x88 + 8 + 24));
  });

  it('data written into one NBL does not touch its neighbours', () => {
    const p = nblPool({ fAllocateNetBuffer: true, ContextSize: 8, DataSize: 100 });
    const list: Loose[] = Array.from({ length: 8 }, () => nbl(p, 8, 0));
    const before = list.map((n) => nblBytes(n));
    const first = r.NET_BUFFER_LIST_FIRST_NB(list[3]);
    rt.bytes(first + MDAT.Data, 100).fill(0xab);
    rt.bytes(r.NET_BUFFER_LIST_CONTEXT_DATA_START(list[3]), 8).fill(0xcd);
    list.forEach((n, i) => expect(nblBytes(n)).toEqual(before[i]));
    for (const n of list) if (n !== list[3]) expect(rt.bytes(r.NET_BUFFER_LIST_FIRST_NB(n) + MDAT.Data, 100).includes(0xab)).toBe(false);
    expect(rt.bytes(first + MDAT.Data, 100).every((x) => x === 0xab)).toBe(true);
  });

  it('fAllocateNetBuffer with DataSize 0: an NB with no MDL (decision 9), right after the NBL', () => {
    const p = nblPool({ fAllocateNetBuffer: true });
    const n = nbl(p);
    const nb = r.NET_BUFFER_LIST_FIRST_NB(n);
    expect(nb).toBe(n + NBL.SIZE);
    expect(r.NET_BUFFER_LIST_CONTEXT(n)).toBe(0);
    expect(r.NET_BUFFER_FIRST_MDL(nb)).toBe(0);
    expect(r.NET_BUFFER_CURRENT_MDL(nb)).toBe(0);
    expect(r.NET_BUFFER_CURRENT_MDL_OFFSET(nb)).toBe(0);
    expect(r.NET_BUFFER_DATA_OFFSET(nb)).toBe(0);
    expect(r.NET_BUFFER_DATA_LENGTH(nb)).toBe(0);
    expect(r.NET_BUFFER_NEXT_NB(nb)).toBe(0);
    expect(r.NdisGetPoolFromNetBuffer(nb)).toBe(p);
    expect(row(rt, TAG.pool, 'NBL')!.bytes).toBe(slot(0x88 + 0x58));
  });

  it('without fAllocateNetBuffer: FirstNetBuffer is NULL; with no context, Context is NULL', () => {
    const p = nblPool();
    const n = nbl(p);
    expect(r.NET_BUFFER_LIST_FIRST_NB(n)).toBe(0);
    expect(r.NET_BUFFER_LIST_CONTEXT(n)).toBe(0);
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(n)).toBe(0);
    unchanged(() => r.NET_BUFFER_LIST_CONTEXT_DATA_START(n), rule('NET_BUFFER_LIST_CONTEXT_DATA_START', 'NetBufferList', 'PARAM', n));
    expect(row(rt, TAG.pool, 'NBL')!.bytes).toBe(0x88);
  });

  it('a per-call ContextSize above the preallocated block gets a block of ContextSize + ContextBackFill (decision 13)', () => {
    const p = nblPool({ ContextSize: 8, fAllocateNetBuffer: true });
    const n = nbl(p, 24, 16);
    const ctx = r.NET_BUFFER_LIST_CONTEXT(n);
    expect(ctx).not.toBe(n + NBL.SIZE);
    expect(ctx).toBeGreaterThanOrEqual(PAGE);
    expect(u32At(rt, ctx + NBLC.Next)).toBe(0);
    expect(u16At(rt, ctx + NBLC.Size)).toBe(40);
    expect(u16At(rt, ctx + NBLC.Offset)).toBe(16);
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_START(n)).toBe(ctx + 8 + 16);
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(n)).toBe(40); // Size, as the macro (decision 12)
    // The preallocated NB keeps its place after the (unused) preallocated block.
    expect(r.NET_BUFFER_LIST_FIRST_NB(n)).toBe(n + NBL.SIZE + 8 + 8);
    // The block is tagged memory under the pool's tag; it goes with the NBL.
    expect(row(rt, TAG.pool, 'Memory')).toMatchObject({ outstanding: 1 });
    rt.bytes(r.NET_BUFFER_LIST_CONTEXT_DATA_START(n), 24).fill(0x77);
    r.NdisFreeNetBufferList(n);
    expect(row(rt, TAG.pool, 'Memory')).toMatchObject({ allocs: 1, frees: 1, outstanding: 0 });
    expect(row(rt, TAG.pool, 'NBL')).toMatchObject({ outstanding: 0 });
  });

  it('a pool without context gets a block for a per-call ContextSize', () => {
    const p = nblPool();
    const n = nbl(p, 8, 0);
    const ctx = r.NET_BUFFER_LIST_CONTEXT(n);
    expect(ctx).toBeGreaterThanOrEqual(PAGE);
    expect(u16At(rt, ctx + NBLC.Size)).toBe(8);
    expect(u16At(rt, ctx + NBLC.Offset)).toBe(0);
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_START(n)).toBe(ctx + 8);
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(n)).toBe(8);
    r.NdisFreeNetBufferList(n);
    expect(row(rt, TAG.pool, 'Memory')).toMatchObject({ outstanding: 0, frees: 1 });
  });

  it('CTX-ALIGN: NBL allocation sizes must be multiples of MEMORY_ALLOCATION_ALIGNMENT (8)', () => {
    const fn = 'NdisAllocateNetBufferList';
    const p = nblPool({ ContextSize: 16 });
    unchanged(() => r.NdisAllocateNetBufferList(p, 4, 0), rule(fn, 'ContextSize', 'CTX-ALIGN', 4, 8));
    unchanged(() => r.NdisAllocateNetBufferList(p, 9, 0), rule(fn, 'ContextSize', 'CTX-ALIGN', 9, 8));
    unchanged(() => r.NdisAllocateNetBufferList(p, 8, 12), rule(fn, 'ContextBackFill', 'CTX-ALIGN', 12, 8));
    unchanged(() => r.NdisAllocateNetBufferList(p, 0x10000, 0), rule(fn, 'ContextSize', 'PARAM'));
    unchanged(() => r.NdisAllocateNetBufferList(p, -8, 0), rule(fn, 'ContextSize', 'PARAM'));
    expect(row(rt, TAG.pool, 'NBL')).toBeUndefined();
  });

  it('NdisGetNetBufferListProtocolId returns the pool ProtocolId; NdisSetNetBufferListProtocolId changes it', () => {
    const prot = protocol();
    const p = nblPool({ ProtocolId: NDIS_PROTOCOL_ID_TCP_IP }, prot);
    const n = nbl(p);
    expect(r.NdisGetNetBufferListProtocolId(n)).toBe(NDIS_PROTOCOL_ID_TCP_IP);
    expect(r.NET_BUFFER_LIST_INFO(n, NetBufferListProtocolId)).toBe(NDIS_PROTOCOL_ID_TCP_IP);
    r.NdisSetNetBufferListProtocolId(n, NDIS_PROTOCOL_ID_IPX);
    expect(r.NdisGetNetBufferListProtocolId(n)).toBe(NDIS_PROTOCOL_ID_IPX);
    expect(u32At(rt, n + NBL.NetBufferListInfo + 7 * 4)).toBe(NDIS_PROTOCOL_ID_IPX);
    unchanged(() => r.NdisSetNetBufferListProtocolId(n, 0x100), rule('NdisSetNetBufferListProtocolId', 'ProtocolId', 'PARAM', 0x100));
    expect(r.NdisGetNetBufferListProtocolId(n)).toBe(NDIS_PROTOCOL_ID_IPX);
    // A new NBL gets the pool's ID again; a default pool gives 0.
    r.NdisFreeNetBufferList(n);
    expect(r.NdisGetNetBufferListProtocolId(nbl(p))).toBe(NDIS_PROTOCOL_ID_TCP_IP);
    expect(r.NdisGetNetBufferListProtocolId(nbl(nblPool()))).toBe(NDIS_PROTOCOL_ID_DEFAULT);
  });

  it('an object above the shared-slab size (DataSize 300000) works the same', () => {
    const p = nblPool({ fAllocateNetBuffer: true, ContextSize: 8, DataSize: 300_000 });
    const a = nbl(p, 8, 0);
    const b = nbl(p, 0, 0);
    for (const n of [a, b]) {
      const nb = r.NET_BUFFER_LIST_FIRST_NB(n);
      expect(nb).toBe(n + NBL.SIZE + 8 + 8);
      expect(r.NET_BUFFER_DATA_LENGTH(nb)).toBe(300_000);
      expect(r.MmGetMdlByteCount(r.NET_BUFFER_FIRST_MDL(nb))).toBe(300_000);
      expect(r.NdisGetPoolFromNetBuffer(nb)).toBe(p);
      expect(r.NdisGetPoolFromNetBufferList(n)).toBe(p);
    }
    rt.bytes(r.NET_BUFFER_LIST_FIRST_NB(a) + MDAT.Data, 300_000).fill(1);
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_START(b)).toBe(b + NBL.SIZE + 8 + 8);
    expect(r.freeNetBufferListChain(a)).toBe(1);
    r.NdisFreeNetBufferList(b);
    r.NdisFreeNetBufferListPool(p);
  });

  it('returns NULL for an object no 32-bit address space holds', () => {
    expect(r.NdisAllocateNetBufferListPool(0, lp({ fAllocateNetBuffer: true, DataSize: 0xffffffff }))).toBe(0);
    expect(r.NdisAllocateNetBufferListPool(0, lp({ fAllocateNetBuffer: true, DataSize: 0xfff00000, ContextSize: 0xfff8 }))).toBe(0);
  });

  it('ContextSize + ContextBackFill above 0xFFFF: the block Size still covers the context (USHORT Size)', () => {
    const n = r.NdisAllocateNetBufferList(nblPool(), 0xfff8, 0x10);
    if (n !== 0) {
      const ctx = r.NET_BUFFER_LIST_CONTEXT(n);
      // NDIS-SPEC §4.3: Offset = unused bytes, Size = used + unused; ContextSize bytes are in use.
      expect(r.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(n)).toBeGreaterThanOrEqual(0xfff8);
      expect(r.NET_BUFFER_LIST_CONTEXT_DATA_START(n) + 0xfff8).toBeLessThanOrEqual(ctx + 8 + r.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(n));
      r.NdisFreeNetBufferList(n);
    }
  });

  it('a reused NBL slot starts clean', () => {
    const p = nblPool({ fAllocateNetBuffer: true, ContextSize: 8 });
    const a = nbl(p, 8, 0);
    r.NET_BUFFER_LIST_FLAGS_SET(a, 0xffffffff);
    r.NET_BUFFER_LIST_NBL_FLAGS_SET(a, 0x1234);
    r.NET_BUFFER_LIST_STATUS_SET(a, NDIS_STATUS_FAILURE);
    r.NET_BUFFER_LIST_SOURCE_HANDLE_SET(a, 0x5678);
    r.NET_BUFFER_LIST_INFO_SET(a, 12, 0x9abc);
    r.NET_BUFFER_DATA_LENGTH_SET(r.NET_BUFFER_LIST_FIRST_NB(a), 77);
    rt.bytes(a + NBL.ProtocolReserved, 16).fill(0xee);
    r.NdisFreeNetBufferList(a);
    const b = nbl(p, 0, 0);
    expect(b).toBe(a); // the slab hands the slot back (LIFO)
    expect(r.NET_BUFFER_LIST_FLAGS(b)).toBe(0);
    expect(r.NET_BUFFER_LIST_NBL_FLAGS(b)).toBe(0);
    expect(r.NET_BUFFER_LIST_STATUS(b)).toBe(0);
    expect(r.NET_BUFFER_LIST_SOURCE_HANDLE(b)).toBe(0);
    expect(r.NET_BUFFER_LIST_INFO(b, 12)).toBe(0);
    expect(rt.bytes(b + NBL.ProtocolReserved, 16).every((x) => x === 0)).toBe(true);
    expect(r.NET_BUFFER_DATA_LENGTH(r.NET_BUFFER_LIST_FIRST_NB(b))).toBe(0);
    expect(u16At(rt, b + NBL.SIZE + NBLC.Offset)).toBe(8);
  });
});

describe('NdisAllocateNetBufferAndNetBufferList', () => {
  const fn = 'NdisAllocateNetBufferAndNetBufferList';

  it('POOL-3 on a pool with DataSize or without fAllocateNetBuffer', () => {
    const pd = nblPool({ fAllocateNetBuffer: true, DataSize: 100 });
    const pn = nblPool({ fAllocateNetBuffer: false });
    unchanged(() => r.NdisAllocateNetBufferAndNetBufferList(pd, 0, 0, 0, 0, 0), rule(fn, 'PoolHandle', 'POOL-3', pd));
    unchanged(() => r.NdisAllocateNetBufferAndNetBufferList(pn, 0, 0, 0, 0, 0), rule(fn, 'PoolHandle', 'POOL-3', pn));
    const { pool: nbp } = nbs(0);
    unchanged(() => r.NdisAllocateNetBufferAndNetBufferList(nbp, 0, 0, 0, 0, 0), origin46(fn, 'PoolHandle', nbp));
  });

  it('NB-ARGS: MdlChain NULL needs DataOffset = DataLength = 0; NB-CONS past the chain', () => {
    const p = nblPool({ fAllocateNetBuffer: true });
    unchanged(() => r.NdisAllocateNetBufferAndNetBufferList(p, 0, 0, 0, 1, 0), rule(fn, 'MdlChain', 'NB-ARGS', 1, 0));
    unchanged(() => r.NdisAllocateNetBufferAndNetBufferList(p, 0, 0, 0, 0, 5), rule(fn, 'MdlChain', 'NB-ARGS', 0, 5));
    const { mdls } = mdlChain([100, 150]);
    unchanged(() => r.NdisAllocateNetBufferAndNetBufferList(p, 0, 0, mdls[0], 200, 51), rule(fn, 'DataOffset', 'NB-CONS', 200, 51, 250));
    unchanged(() => r.NdisAllocateNetBufferAndNetBufferList(p, 8, 0, mdls[0], 251, 0), rule(fn, 'DataOffset', 'NB-CONS', 251, 0, 250));
    unchanged(() => r.NdisAllocateNetBufferAndNetBufferList(p, 4, 0, 0, 0, 0), rule(fn, 'ContextSize', 'CTX-ALIGN', 4, 8));
    unchanged(() => r.NdisAllocateNetBufferAndNetBufferList(p, 0, 20, 0, 0, 0), rule(fn, 'ContextBackFill', 'CTX-ALIGN', 20, 8));
    // A bad or freed MDL in the chain names the MDL.
    unchanged(() => r.NdisAllocateNetBufferAndNetBufferList(p, 0, 0, p, 0, 0), origin46(fn, 'MdlChain', p));
    r.NDIS_MDL_LINKAGE_SET(mdls[0], 0);
    r.NdisFreeMdl(mdls[1]);
    expect(r.NdisAllocateNetBufferAndNetBufferList(p, 0, 0, mdls[0], 0, 100)).toBeGreaterThanOrEqual(PAGE);
    unchanged(() => r.NdisAllocateNetBufferAndNetBufferList(p, 0, 0, mdls[1], 0, 0), { fn, arg: 'MdlChain', code: C2, rule: 'ALT-MDL', parameters: [0x07, 0, 0, mdls[1]] });
  });

  it('over a 2-MDL chain sets the NB fields and computes CurrentMdl', () => {
    const p = nblPool({ fAllocateNetBuffer: true, ContextSize: 8 });
    const { mdls } = mdlChain([100, 150]);
    const n = r.NdisAllocateNetBufferAndNetBufferList(p, 8, 0, mdls[0], 120, 100);
    expect(n).toBeGreaterThanOrEqual(PAGE);
    const nb = r.NET_BUFFER_LIST_FIRST_NB(n);
    expect(nb).toBe(n + NBL.SIZE + 8 + 8);
    expect(r.NET_BUFFER_FIRST_MDL(nb)).toBe(mdls[0]);
    expect(r.NET_BUFFER_CURRENT_MDL(nb)).toBe(mdls[1]);
    expect(r.NET_BUFFER_CURRENT_MDL_OFFSET(nb)).toBe(20);
    expect(r.NET_BUFFER_DATA_OFFSET(nb)).toBe(120);
    expect(r.NET_BUFFER_DATA_LENGTH(nb)).toBe(100);
    expect(r.NET_BUFFER_NEXT_NB(nb)).toBe(0);
    expect(r.NdisGetPoolFromNetBuffer(nb)).toBe(p);
    expect(r.NET_BUFFER_LIST_CONTEXT(n)).toBe(n + NBL.SIZE);
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_START(n)).toBe(n + NBL.SIZE + 8);
    // DataOffset exactly at the MDL boundary lands on the second MDL.
    const m = r.NdisAllocateNetBufferAndNetBufferList(p, 0, 0, mdls[0], 100, 150);
    expect(r.NET_BUFFER_CURRENT_MDL(r.NET_BUFFER_LIST_FIRST_NB(m))).toBe(mdls[1]);
    expect(r.NET_BUFFER_CURRENT_MDL_OFFSET(r.NET_BUFFER_LIST_FIRST_NB(m))).toBe(0);
    // Freeing the NBLs leaves the caller's MDLs alone.
    r.NdisFreeNetBufferList(n);
    r.NdisFreeNetBufferList(m);
    expect(r.MmGetMdlByteCount(mdls[0])).toBe(100);
    expect(r.MmGetMdlByteCount(mdls[1])).toBe(150);
    expect(r.NDIS_MDL_LINKAGE(mdls[0])).toBe(mdls[1]);
    r.NdisFreeMdl(mdls[0]);
    r.NdisFreeMdl(mdls[1]);
  });

  it('MdlChain NULL with 0/0 gives an empty NB', () => {
    const p = nblPool({ fAllocateNetBuffer: true });
    const n = r.NdisAllocateNetBufferAndNetBufferList(p, 0, 0, 0, 0, 0);
    const nb = r.NET_BUFFER_LIST_FIRST_NB(n);
    expect(nb).toBe(n + NBL.SIZE);
    expect(r.NET_BUFFER_FIRST_MDL(nb)).toBe(0);
    expect(r.NET_BUFFER_CURRENT_MDL(nb)).toBe(0);
    expect(r.NET_BUFFER_DATA_LENGTH(nb)).toBe(0);
    r.NdisFreeNetBufferList(n);
  });
});

describe('the preallocated NET_BUFFER', () => {
  it('works with every NET_BUFFER_* accessor and setter; NdisGetPoolFromNetBuffer gives the NBL pool', () => {
    const p = nblPool({ fAllocateNetBuffer: true, ContextSize: 8, DataSize: 64 });
    const n = nbl(p);
    const nb = r.NET_BUFFER_LIST_FIRST_NB(n);
    const mdl = nb + MDAT.Mdl;
    expect(r.NdisGetPoolFromNetBuffer(nb)).toBe(p);
    expect(r.NET_BUFFER_NEXT_NB(nb)).toBe(0);
    expect(r.NET_BUFFER_FIRST_MDL(nb)).toBe(mdl);
    expect(r.NET_BUFFER_CURRENT_MDL(nb)).toBe(mdl);
    expect(r.NET_BUFFER_CURRENT_MDL_OFFSET(nb)).toBe(0);
    expect(r.NET_BUFFER_DATA_OFFSET(nb)).toBe(0);
    expect(r.NET_BUFFER_DATA_LENGTH(nb)).toBe(64);
    expect(r.NET_BUFFER_CHECKSUM_BIAS(nb)).toBe(0);
    expect(r.NET_BUFFER_PROTOCOL_RESERVED(nb)).toBe(nb + NB.ProtocolReserved);
    expect(r.NET_BUFFER_MINIPORT_RESERVED(nb)).toBe(nb + NB.MiniportReserved);
    r.NET_BUFFER_DATA_OFFSET_SET(nb, 14);
    r.NET_BUFFER_DATA_LENGTH_SET(nb, 50);
    r.NET_BUFFER_CURRENT_MDL_OFFSET_SET(nb, 14);
    r.NET_BUFFER_CHECKSUM_BIAS_SET(nb, 0xbeef);
    r.NET_BUFFER_CURRENT_MDL_SET(nb, mdl);
    r.NET_BUFFER_FIRST_MDL_SET(nb, mdl);
    expect(u32At(rt, nb + NB.DataOffset)).toBe(14);
    expect(u32At(rt, nb + NB.DataLength)).toBe(50);
    expect(u32At(rt, nb + NB.CurrentMdlOffset)).toBe(14);
    expect(u16At(rt, nb + NB.ChecksumBias)).toBe(0xbeef);
    // Linking another NB after it, and back.
    const { list } = nbs(1);
    r.NET_BUFFER_NEXT_NB_SET(nb, list[0]);
    expect(r.NET_BUFFER_NEXT_NB(nb)).toBe(list[0]);
    expect(r.countNetBuffers(n)).toBe(2);
    r.NET_BUFFER_NEXT_NB_SET(nb, 0);
    // Its MDL and the NB itself are valid arguments elsewhere.
    const other = nblPool({ fAllocateNetBuffer: true });
    const m = r.NdisAllocateNetBufferAndNetBufferList(other, 0, 0, mdl, 10, 54);
    expect(r.NET_BUFFER_FIRST_MDL(r.NET_BUFFER_LIST_FIRST_NB(m))).toBe(mdl);
    r.NdisFreeNetBufferList(m);
    const n2 = nbl(nblPool());
    r.NET_BUFFER_LIST_FIRST_NB_SET(n2, nb);
    expect(r.NET_BUFFER_LIST_FIRST_NB(n2)).toBe(nb);
    r.NET_BUFFER_LIST_FIRST_NB_SET(n2, 0);
    // Interior addresses are not NBs.
    unchanged(() => r.NET_BUFFER_DATA_LENGTH(nb + 4), { fn: 'NET_BUFFER_DATA_LENGTH', arg: 'NetBuffer', code: C2, rule: 'ORIGIN' });
    unchanged(() => r.NET_BUFFER_DATA_LENGTH(n), { fn: 'NET_BUFFER_DATA_LENGTH', arg: 'NetBuffer', code: C2, rule: 'ORIGIN' });
  });

  it('NdisFreeNetBuffer on it is NBL-FREE-1 and frees nothing', () => {
    const p = nblPool({ fAllocateNetBuffer: true, DataSize: 32 });
    const n = nbl(p);
    const nb = r.NET_BUFFER_LIST_FIRST_NB(n);
    const b = unchanged(() => r.NdisFreeNetBuffer(nb), rule('NdisFreeNetBuffer', 'NetBuffer', 'NBL-FREE-1', nb));
    expect(b.message).toMatch(/preallocated/);
    expect(r.NET_BUFFER_DATA_LENGTH(nb)).toBe(32);
    // Its embedded MDL is not an NdisAllocateMdl MDL either.
    expect(() => r.NdisFreeMdl(nb + MDAT.Mdl)).toThrow(NdisBugCheck);
    expect(r.MmGetMdlByteCount(nb + MDAT.Mdl)).toBe(32);
    r.NdisFreeNetBufferList(n);
  });
});

describe('NdisFreeNetBufferList', () => {
  it('after the free, every accessor on the NBL throws ALT-NBL, and a double free throws', () => {
    const p = nblPool({ fAllocateNetBuffer: true, ContextSize: 8, DataSize: 16 });
    const n = nbl(p, 8, 0);
    r.NdisFreeNetBufferList(n);
    const calls: Record<string, (x: number) => unknown> = {
      NET_BUFFER_LIST_NEXT_NBL: (x) => r.NET_BUFFER_LIST_NEXT_NBL(x),
      NET_BUFFER_LIST_NEXT_NBL_SET: (x) => r.NET_BUFFER_LIST_NEXT_NBL_SET(x, 0),
      NET_BUFFER_LIST_FIRST_NB: (x) => r.NET_BUFFER_LIST_FIRST_NB(x),
      NET_BUFFER_LIST_FIRST_NB_SET: (x) => r.NET_BUFFER_LIST_FIRST_NB_SET(x, 0),
      NET_BUFFER_LIST_STATUS: (x) => r.NET_BUFFER_LIST_STATUS(x),
      NET_BUFFER_LIST_STATUS_SET: (x) => r.NET_BUFFER_LIST_STATUS_SET(x, 0),
      NET_BUFFER_LIST_FLAGS: (x) => r.NET_BUFFER_LIST_FLAGS(x),
      NET_BUFFER_LIST_FLAGS_SET: (x) => r.NET_BUFFER_LIST_FLAGS_SET(x, 0),
      NET_BUFFER_LIST_NBL_FLAGS: (x) => r.NET_BUFFER_LIST_NBL_FLAGS(x),
      NET_BUFFER_LIST_NBL_FLAGS_SET: (x) => r.NET_BUFFER_LIST_NBL_FLAGS_SET(x, 0),
      NET_BUFFER_LIST_INFO: (x) => r.NET_BUFFER_LIST_INFO(x, 0),
      NET_BUFFER_LIST_INFO_SET: (x) => r.NET_BUFFER_LIST_INFO_SET(x, 0, 0),
      NET_BUFFER_LIST_PROTOCOL_RESERVED: (x) => r.NET_BUFFER_LIST_PROTOCOL_RESERVED(x),
      NET_BUFFER_LIST_MINIPORT_RESERVED: (x) => r.NET_BUFFER_LIST_MINIPORT_RESERVED(x),
      NET_BUFFER_LIST_CONTEXT: (x) => r.NET_BUFFER_LIST_CONTEXT(x),
      NET_BUFFER_LIST_SOURCE_HANDLE: (x) => r.NET_BUFFER_LIST_SOURCE_HANDLE(x),
      NET_BUFFER_LIST_SOURCE_HANDLE_SET: (x) => r.NET_BUFFER_LIST_SOURCE_HANDLE_SET(x, 0),
      NET_BUFFER_LIST_CONTEXT_DATA_START: (x) => r.NET_BUFFER_LIST_CONTEXT_DATA_START(x),
      NET_BUFFER_LIST_CONTEXT_DATA_SIZE: (x) => r.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(x),
      NdisGetNetBufferListProtocolId: (x) => r.NdisGetNetBufferListProtocolId(x),
      NdisSetNetBufferListProtocolId: (x) => r.NdisSetNetBufferListProtocolId(x, 0),
      NdisGetPoolFromNetBufferList: (x) => r.NdisGetPoolFromNetBufferList(x),
      NdisAllocateNetBufferListContext: (x) => r.NdisAllocateNetBufferListContext(x, 8, 0, TAG.ctx),
      NdisFreeNetBufferListContext: (x) => r.NdisFreeNetBufferListContext(x, 8),
      NdisFreeNetBufferList: (x) => r.NdisFreeNetBufferList(x),
    };
    // Every NET_BUFFER_LIST_* macro of the API is in the list.
    const macros = Object.keys(netBufferListApi).filter((k) => k.startsWith('NET_BUFFER_LIST_'));
    expect(macros.length).toBeGreaterThanOrEqual(19);
    for (const k of macros) expect(Object.keys(calls)).toContain(k);
    for (const [fn, call] of Object.entries(calls)) unchanged(() => call(n), altNbl(fn, 'NetBufferList', n));
    // The chain helpers too.
    unchanged(() => r.countNetBufferLists(n), altNbl('countNetBufferLists', 'NetBufferListChain[0]', n));
    unchanged(() => r.freeNetBufferListChain(n), altNbl('freeNetBufferListChain', 'NetBufferListChain[0]', n));
    unchanged(() => [...r.nblChain(n)], altNbl('nblChain', 'NetBufferList', n));
  });

  it('after the free, its NET_BUFFER and MDL are dead too (ALT-NBL)', () => {
    const p = nblPool({ fAllocateNetBuffer: true, ContextSize: 8, DataSize: 16 });
    const n = nbl(p);
    const nb = r.NET_BUFFER_LIST_FIRST_NB(n);
    const mdl = nb + MDAT.Mdl;
    r.NdisFreeNetBufferList(n);
    const calls: Record<string, (x: number) => unknown> = {
      NET_BUFFER_NEXT_NB: (x) => r.NET_BUFFER_NEXT_NB(x),
      NET_BUFFER_FIRST_MDL: (x) => r.NET_BUFFER_FIRST_MDL(x),
      NET_BUFFER_DATA_LENGTH: (x) => r.NET_BUFFER_DATA_LENGTH(x),
      NET_BUFFER_DATA_OFFSET: (x) => r.NET_BUFFER_DATA_OFFSET(x),
      NET_BUFFER_CURRENT_MDL: (x) => r.NET_BUFFER_CURRENT_MDL(x),
      NET_BUFFER_CURRENT_MDL_OFFSET: (x) => r.NET_BUFFER_CURRENT_MDL_OFFSET(x),
      NET_BUFFER_CHECKSUM_BIAS: (x) => r.NET_BUFFER_CHECKSUM_BIAS(x),
      NET_BUFFER_PROTOCOL_RESERVED: (x) => r.NET_BUFFER_PROTOCOL_RESERVED(x),
      NET_BUFFER_MINIPORT_RESERVED: (x) => r.NET_BUFFER_MINIPORT_RESERVED(x),
      NET_BUFFER_NEXT_NB_SET: (x) => r.NET_BUFFER_NEXT_NB_SET(x, 0),
      NET_BUFFER_FIRST_MDL_SET: (x) => r.NET_BUFFER_FIRST_MDL_SET(x, 0),
      NET_BUFFER_CURRENT_MDL_SET: (x) => r.NET_BUFFER_CURRENT_MDL_SET(x, 0),
      NET_BUFFER_CURRENT_MDL_OFFSET_SET: (x) => r.NET_BUFFER_CURRENT_MDL_OFFSET_SET(x, 0),
      NET_BUFFER_DATA_LENGTH_SET: (x) => r.NET_BUFFER_DATA_LENGTH_SET(x, 0),
      NET_BUFFER_DATA_OFFSET_SET: (x) => r.NET_BUFFER_DATA_OFFSET_SET(x, 0),
      NET_BUFFER_CHECKSUM_BIAS_SET: (x) => r.NET_BUFFER_CHECKSUM_BIAS_SET(x, 0),
      NdisGetPoolFromNetBuffer: (x) => r.NdisGetPoolFromNetBuffer(x),
    };
    for (const [fn, call] of Object.entries(calls)) unchanged(() => call(nb), altNbl(fn, 'NetBuffer', nb));
    unchanged(() => r.MmGetMdlByteCount(mdl), altNbl('MmGetMdlByteCount', 'Mdl', mdl));
    // Passing it as an argument is caught too.
    const live = nbl(nblPool());
    unchanged(() => r.NET_BUFFER_LIST_FIRST_NB_SET(live, nb), altNbl('NET_BUFFER_LIST_FIRST_NB_SET', 'NetBuffer', nb));
    const b = bugCheck(() => r.NdisFreeNetBuffer(nb));
    expect(b.function).toBe('NdisFreeNetBuffer');
    expect(b.argument).toBe('NetBuffer');
  });

  it('a double free is ALT-NBL and changes nothing', () => {
    const p = nblPool({ ContextSize: 8 });
    const a = nbl(p, 16, 8); // with an allocated context block
    const b = nbl(p);
    r.NdisFreeNetBufferList(a);
    unchanged(() => r.NdisFreeNetBufferList(a), altNbl('NdisFreeNetBufferList', 'NetBufferList', a));
    expect(row(rt, TAG.pool, 'Memory')).toMatchObject({ allocs: 1, frees: 1 });
    expect(row(rt, TAG.pool, 'NBL')).toMatchObject({ outstanding: 1 });
    expect(r.NdisGetPoolFromNetBufferList(b)).toBe(p);
  });

  it('rejects what is not an NBL (ORIGIN)', () => {
    const fn = 'NdisFreeNetBufferList';
    const p = nblPool({ fAllocateNetBuffer: true });
    const n = nbl(p);
    unchanged(() => r.NdisFreeNetBufferList(0), origin42(fn, 'NetBufferList', 0));
    unchanged(() => r.NdisFreeNetBufferList(p), origin46(fn, 'NetBufferList', p));
    unchanged(() => r.NdisFreeNetBufferList(g), origin46(fn, 'NetBufferList', g));
    unchanged(() => r.NdisFreeNetBufferList(r.NET_BUFFER_LIST_FIRST_NB(n)), origin46(fn, 'NetBufferList', n + NBL.SIZE));
    unchanged(() => r.NdisFreeNetBufferList(1.5), rule(fn, 'NetBufferList', 'PARAM'));
  });

  it('an NB the driver allocated and attached is NOT freed (decision 10)', () => {
    const { list } = nbs(3);
    // On an NBL without a preallocated NB.
    const p = nblPool();
    const n = nbl(p);
    r.NET_BUFFER_NEXT_NB_SET(list[0], list[1]);
    r.NET_BUFFER_LIST_FIRST_NB_SET(n, list[0]);
    expect(r.countNetBuffers(n)).toBe(2);
    r.NdisFreeNetBufferList(n);
    expect(row(rt, TAG.nb, 'NB')).toMatchObject({ outstanding: 3 });
    expect(r.NET_BUFFER_NEXT_NB(list[0])).toBe(list[1]);
    expect(r.NET_BUFFER_DATA_LENGTH(list[1])).toBe(0);
    // On an NBL whose preallocated NB was replaced: the preallocated one goes, the driver's stays.
    const pp = nblPool({ fAllocateNetBuffer: true, DataSize: 16 });
    const m = nbl(pp);
    const pre = r.NET_BUFFER_LIST_FIRST_NB(m);
    r.NET_BUFFER_LIST_FIRST_NB_SET(m, list[2]);
    r.NdisFreeNetBufferList(m);
    expect(r.NdisGetPoolFromNetBuffer(list[2])).toBeGreaterThanOrEqual(PAGE);
    expect(() => r.NET_BUFFER_DATA_LENGTH(pre)).toThrow(NdisBugCheck);
    // On an NBL whose preallocated NB has a driver NB after it.
    const k = nbl(pp);
    r.NET_BUFFER_NEXT_NB_SET(r.NET_BUFFER_LIST_FIRST_NB(k), list[2]);
    r.NdisFreeNetBufferList(k);
    expect(r.NET_BUFFER_DATA_LENGTH(list[2])).toBe(0);
    expect(row(rt, TAG.nb, 'NB')).toMatchObject({ outstanding: 3 });
    // All three are still the driver's to free.
    r.NET_BUFFER_NEXT_NB_SET(list[0], 0);
    for (const x of list) r.NdisFreeNetBuffer(x);
    expect(row(rt, TAG.nb, 'NB')).toMatchObject({ outstanding: 0, frees: 3 });
  });
});

// -- contexts -----------------------------------------------------------------------------------------------

describe('NdisAllocateNetBufferListContext / NdisFreeNetBufferListContext', () => {
  it('uses unused space of the current block first, else pushes a block of ContextSize + ContextBackFill', () => {
    const p = nblPool({ ContextSize: 32 });
    const n = nbl(p, 8, 0);
    const base = n + NBL.SIZE;
    const s0 = r.NET_BUFFER_LIST_CONTEXT_DATA_START(n);
    expect(s0).toBe(base + 8 + 24);
    expect(r.NdisAllocateNetBufferListContext(n, 16, 0, TAG.ctx)).toBe(NDIS_STATUS_SUCCESS);
    expect(r.NET_BUFFER_LIST_CONTEXT(n)).toBe(base);
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_START(n)).toBe(s0 - 16);
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(n)).toBe(32);
    expect(row(rt, TAG.ctx, 'Memory')).toBeUndefined();
    // 8 bytes left: 12 do not fit, a block of 12 + 4 is pushed.
    expect(r.NdisAllocateNetBufferListContext(n, 12, 4, TAG.ctx)).toBe(NDIS_STATUS_SUCCESS);
    const blk = r.NET_BUFFER_LIST_CONTEXT(n);
    expect(blk).not.toBe(base);
    expect(u32At(rt, blk + NBLC.Next)).toBe(base);
    expect(u16At(rt, blk + NBLC.Size)).toBe(16);
    expect(u16At(rt, blk + NBLC.Offset)).toBe(4);
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_START(n)).toBe(blk + 8 + 4);
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(n)).toBe(16);
    expect(row(rt, TAG.ctx, 'Memory')).toMatchObject({ outstanding: 1 });
    // 4 unused bytes in the new block: a 4-byte context fits there (a multiple of sizeof(PVOID)).
    expect(r.NdisAllocateNetBufferListContext(n, 4, 0, TAG.ctx)).toBe(NDIS_STATUS_SUCCESS);
    expect(r.NET_BUFFER_LIST_CONTEXT(n)).toBe(blk);
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_START(n)).toBe(blk + 8);
    expect(row(rt, TAG.ctx, 'Memory')).toMatchObject({ outstanding: 1 });
  });

  it('stacked push/pop restores DATA_START and DATA_SIZE exactly, and each level keeps its data', () => {
    const p = nblPool({ ContextSize: 16, fAllocateNetBuffer: true, DataSize: 8 });
    const n = nbl(p, 8, 0);
    const levels: [number, number][] = [[8, 0], [16, 8], [4, 0], [24, 4], [8, 0], [0, 12], [40, 0]];
    const fill = (i: number, start: number, size: number) => rt.bytes(start, size).fill(0x10 + i);
    const intact = (i: number, start: number, size: number) => rt.bytes(start, size).every((x) => x === 0x10 + i);
    type Level = { start: number; size: number; ctx: number; dataSize: number };
    const stack: Level[] = [];
    // Level 0: the allocation's own context.
    const at0: Level = { start: r.NET_BUFFER_LIST_CONTEXT_DATA_START(n), size: 8, ctx: r.NET_BUFFER_LIST_CONTEXT(n), dataSize: 16 };
    fill(0, at0.start, 8);
    stack.push(at0);
    for (const [size, backFill] of levels) {
      const before = { start: r.NET_BUFFER_LIST_CONTEXT_DATA_START(n), ctx: r.NET_BUFFER_LIST_CONTEXT(n), dataSize: r.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(n) };
      const unused = u16At(rt, before.ctx + NBLC.Offset); // unused bytes of the current block
      expect(r.NdisAllocateNetBufferListContext(n, size, backFill, TAG.ctx)).toBe(NDIS_STATUS_SUCCESS);
      const start = r.NET_BUFFER_LIST_CONTEXT_DATA_START(n);
      const ctx = r.NET_BUFFER_LIST_CONTEXT(n);
      if (unused >= size) {
        expect(ctx).toBe(before.ctx);
        expect(start).toBe(before.start - size);
      } else {
        expect(ctx).not.toBe(before.ctx);
        expect(u32At(rt, ctx + NBLC.Next)).toBe(before.ctx);
        expect(u16At(rt, ctx + NBLC.Size)).toBe(size + backFill);
        expect(start).toBe(ctx + 8 + backFill);
      }
      fill(stack.length, start, size);
      stack.push({ start, size, ctx, dataSize: r.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(n) });
      stack.forEach((l, i) => expect(intact(i, l.start, l.size)).toBe(true));
      // Remember how to get back.
      (stack[stack.length - 1] as Level & { prev?: typeof before }).prev = before;
    }
    // Four blocks were pushed: [16,8], [24,4], [8,0] and [40,0] ([0,12] fit in place).
    expect(row(rt, TAG.ctx, 'Memory')).toMatchObject({ outstanding: 4 });
    while (stack.length > 1) {
      const top = stack.pop()! as Level & { prev: { start: number; ctx: number; dataSize: number } };
      r.NdisFreeNetBufferListContext(n, top.size);
      expect(r.NET_BUFFER_LIST_CONTEXT_DATA_START(n)).toBe(top.prev.start);
      expect(r.NET_BUFFER_LIST_CONTEXT(n)).toBe(top.prev.ctx);
      expect(r.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(n)).toBe(top.prev.dataSize);
      stack.forEach((l, i) => expect(intact(i, l.start, l.size)).toBe(true));
    }
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_START(n)).toBe(at0.start);
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(n)).toBe(16);
    expect(row(rt, TAG.ctx, 'Memory')).toMatchObject({ allocs: 4, frees: 4, outstanding: 0 });
    r.NdisFreeNetBufferList(n);
    expect(row(rt, TAG.pool, 'NBL')).toMatchObject({ outstanding: 0 });
  });

  it('NdisFreeNetBufferList with a pushed context not freed is NBL-FREE-2 and frees nothing', () => {
    const fn = 'NdisFreeNetBufferList';
    const p = nblPool({ ContextSize: 8 });
    // A block pushed.
    const a = nbl(p, 8, 0);
    expect(r.NdisAllocateNetBufferListContext(a, 16, 0, TAG.ctx)).toBe(NDIS_STATUS_SUCCESS);
    const blk = r.NET_BUFFER_LIST_CONTEXT(a);
    let b = unchanged(() => r.NdisFreeNetBufferList(a), rule(fn, 'NetBufferList', 'NBL-FREE-2', a, blk));
    expect(b.message).toMatch(/NdisFreeNetBufferListContext/);
    r.NdisFreeNetBufferListContext(a, 16);
    r.NdisFreeNetBufferList(a);
    // Space taken from the preallocated block only (no block pushed).
    const c = nbl(p, 0, 0);
    expect(r.NdisAllocateNetBufferListContext(c, 8, 0, TAG.ctx)).toBe(NDIS_STATUS_SUCCESS);
    expect(r.NET_BUFFER_LIST_CONTEXT(c)).toBe(c + NBL.SIZE);
    b = unchanged(() => r.NdisFreeNetBufferList(c), rule(fn, 'NetBufferList', 'NBL-FREE-2', c, c + NBL.SIZE));
    r.NdisFreeNetBufferListContext(c, 8);
    r.NdisFreeNetBufferList(c);
    // An NBL with no context at all that got one pushed.
    const d = nbl(nblPool(), 0, 0);
    expect(r.NdisAllocateNetBufferListContext(d, 8, 8, TAG.ctx)).toBe(NDIS_STATUS_SUCCESS);
    unchanged(() => r.NdisFreeNetBufferList(d), rule(fn, 'NetBufferList', 'NBL-FREE-2', d, r.NET_BUFFER_LIST_CONTEXT(d)));
    r.NdisFreeNetBufferListContext(d, 8);
    expect(r.NET_BUFFER_LIST_CONTEXT(d)).toBe(0);
    r.NdisFreeNetBufferList(d);
    expect(row(rt, TAG.ctx, 'Memory')).toMatchObject({ outstanding: 0 });
  });

  it('NdisFreeNetBufferListContext into the allocation-time context is NBL-FREE-2', () => {
    const fn = 'NdisFreeNetBufferListContext';
    const p = nblPool({ ContextSize: 16 });
    const n = nbl(p, 8, 0);
    const x = rule(fn, 'NetBufferList', 'NBL-FREE-2');
    let b = unchanged(() => r.NdisFreeNetBufferListContext(n, 8), x);
    expect(b.message).toMatch(/only 0 byte\(s\)/);
    expect(b.parameters[2]).toBe(0);
    expect(r.NdisAllocateNetBufferListContext(n, 4, 0, TAG.ctx)).toBe(NDIS_STATUS_SUCCESS);
    b = unchanged(() => r.NdisFreeNetBufferListContext(n, 8), x);
    expect(b.message).toMatch(/only 4 byte\(s\)/);
    expect(b.parameters[2]).toBe(4);
    r.NdisFreeNetBufferListContext(n, 4);
    unchanged(() => r.NdisFreeNetBufferListContext(n, 4), x);
    // The context of a decision-13 block is the allocation's too.
    const m = nbl(p, 32, 8);
    unchanged(() => r.NdisFreeNetBufferListContext(m, 8), x);
    r.NdisFreeNetBufferList(m);
    r.NdisFreeNetBufferList(n);
  });

  it('NBL-FREE-2 from NdisFreeNetBufferListContext names the NBL in bug-check parameter 2', () => {
    const fn = 'NdisFreeNetBufferListContext';
    const n = nbl(nblPool({ ContextSize: 8 }), 8, 0);
    // An earlier, unrelated bug check must not leak into this one's parameters.
    expect(() => r.NdisFreeNetBufferList(12345)).toThrow(NdisBugCheck);
    unchanged(() => r.NdisFreeNetBufferListContext(n, 8), rule(fn, 'NetBufferList', 'NBL-FREE-2', n, 0));
  });

  it('releasing more than a pushed block holds, or any context from an NBL without one, is a bug check', () => {
    const fn = 'NdisFreeNetBufferListContext';
    const n = nbl(nblPool());
    unchanged(() => r.NdisFreeNetBufferListContext(n, 8), rule(fn, 'ContextSize', 'NBL-FREE-2', 8, 0));
    expect(r.NdisAllocateNetBufferListContext(n, 8, 4, TAG.ctx)).toBe(NDIS_STATUS_SUCCESS);
    unchanged(() => r.NdisFreeNetBufferListContext(n, 16), rule(fn, 'ContextSize', 'NBL-FREE-2', 16, 8));
    r.NdisFreeNetBufferListContext(n, 8);
    r.NdisFreeNetBufferList(n);
  });

  it('CTX-ALIGN: context call sizes must be multiples of sizeof(PVOID) (4)', () => {
    const p = nblPool({ ContextSize: 16 });
    const n = nbl(p, 0, 0);
    const A = 'NdisAllocateNetBufferListContext';
    unchanged(() => r.NdisAllocateNetBufferListContext(n, 6, 0, TAG.ctx), rule(A, 'ContextSize', 'CTX-ALIGN', 6, 4));
    unchanged(() => r.NdisAllocateNetBufferListContext(n, 1, 0, TAG.ctx), rule(A, 'ContextSize', 'CTX-ALIGN', 1, 4));
    unchanged(() => r.NdisAllocateNetBufferListContext(n, 8, 2, TAG.ctx), rule(A, 'ContextBackFill', 'CTX-ALIGN', 2, 4));
    unchanged(() => r.NdisAllocateNetBufferListContext(n, 0x10000, 0, TAG.ctx), rule(A, 'ContextSize', 'PARAM'));
    unchanged(() => r.NdisAllocateNetBufferListContext(n, 8, 0, -1), rule(A, 'PoolTag', 'PARAM'));
    expect(r.NdisAllocateNetBufferListContext(n, 4, 0, TAG.ctx)).toBe(NDIS_STATUS_SUCCESS);
    unchanged(() => r.NdisFreeNetBufferListContext(n, 2), rule('NdisFreeNetBufferListContext', 'ContextSize', 'CTX-ALIGN', 2, 4));
    expect(r.NET_BUFFER_LIST_CONTEXT_DATA_START(n)).toBe(n + NBL.SIZE + 8 + 12);
    r.NdisFreeNetBufferListContext(n, 4);
    r.NdisFreeNetBufferList(n);
  });

  it('ContextSize + ContextBackFill above 0xFFFF: the pushed block covers the context and the matching free works', () => {
    const n = nbl(nblPool());
    const st = r.NdisAllocateNetBufferListContext(n, 0xfffc, 0x10, TAG.ctx);
    if (st === NDIS_STATUS_SUCCESS) {
      const ctx = r.NET_BUFFER_LIST_CONTEXT(n);
      expect(r.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(n)).toBeGreaterThanOrEqual(0xfffc);
      expect(r.NET_BUFFER_LIST_CONTEXT_DATA_START(n) + 0xfffc).toBeLessThanOrEqual(ctx + 8 + r.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(n));
      r.NdisFreeNetBufferListContext(n, 0xfffc);
    } else {
      expect(st).toBe(NDIS_STATUS_RESOURCES);
    }
    expect(r.NET_BUFFER_LIST_CONTEXT(n)).toBe(0);
    r.NdisFreeNetBufferList(n);
  });

  it('returns NDIS_STATUS_RESOURCES when the memory budget is spent, and changes nothing', () => {
    const small = createRuntimeSync({ maxMemory: 2 ** 20 * 2 });
    const s = loose(small);
    const gen = s.NdisAllocateGenericObject(0, TAG.gen, 0);
    const p = s.NdisAllocateNetBufferListPool(0, lp({ ContextSize: 8 }));
    const n = s.NdisAllocateNetBufferList(p, 8, 0);
    expect(n).toBeGreaterThanOrEqual(PAGE);
    s.NET_BUFFER_LIST_FLAGS_SET(n, 0x1234);
    // Spend the budget.
    const blocks: [number, number][] = [];
    for (const size of [256 * 1024, 64 * 1024, 4096, 256, 16]) {
      for (;;) {
        const m = s.NdisAllocateMemoryWithTagPriority(gen, size, TAG.mem, NormalPoolPriority);
        if (m === 0) break;
        blocks.push([m, size]);
      }
    }
    expect(blocks.length).toBeGreaterThan(0);
    expect(small.memoryUsage().freeSlabBytes).toBe(0);
    const keep = (x: NdisRuntime) => x.poolmon().filter((q) => q.allocs > 0).map(({ tag, type, allocs, frees, outstanding, bytes }) => ({ tag, type, allocs, frees, outstanding, bytes }));
    const before = { pm: keep(small), bytes: small.bytes(n, NBL.SIZE + 16).slice(), mem: small.memoryUsage() };
    // No unused space left in the preallocated block: a block is needed and cannot be had.
    expect(s.NdisAllocateNetBufferListContext(n, 64, 0, TAG.ctx)).toBe(NDIS_STATUS_RESOURCES);
    expect(s.NdisAllocateNetBufferListContext(n, 8, 8, TAG.mem)).toBe(NDIS_STATUS_RESOURCES);
    expect(keep(small)).toEqual(before.pm);
    expect(small.bytes(n, NBL.SIZE + 16).slice()).toEqual(before.bytes);
    expect(small.memoryUsage()).toEqual(before.mem);
    expect(s.NET_BUFFER_LIST_CONTEXT(n)).toBe(n + NBL.SIZE);
    expect(s.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(n)).toBe(8);
    expect(s.NET_BUFFER_LIST_FLAGS(n)).toBe(0x1234);
    // The NBL frees normally (nothing was pushed).
    s.NdisFreeNetBufferList(n);
    // With memory back, the call succeeds.
    const n2 = s.NdisAllocateNetBufferList(p, 8, 0);
    const [big] = blocks;
    s.NdisFreeMemoryWithTagPriority(gen, big![0], TAG.mem);
    expect(s.NdisAllocateNetBufferListContext(n2, 64, 0, TAG.ctx)).toBe(NDIS_STATUS_SUCCESS);
    s.NdisFreeNetBufferListContext(n2, 64);
    s.NdisFreeNetBufferList(n2);
  });
});

// -- accessors and setters ------------------------------------------------------------------------------------

describe('NET_BUFFER_LIST_* accessors and setters', () => {
  it('each accessor reads its x86 offset', () => {
    const p = nblPool();
    const n = nbl(p);
    const saved = nblBytes(n);
    const v = (off: number) => (0x5a000000 + off * 0x101) >>> 0;
    for (const off of [NBL.Next, NBL.FirstNetBuffer, NBL.Context, NBL.SourceHandle, NBL.NblFlags, NBL.Flags, NBL.Status]) put32(n + off, v(off));
    for (let i = 0; i < 13; i++) put32(n + NBL.NetBufferListInfo + 4 * i, v(NBL.NetBufferListInfo + 4 * i));
    expect(r.NET_BUFFER_LIST_NEXT_NBL(n)).toBe(v(0x00));
    expect(r.NET_BUFFER_LIST_FIRST_NB(n)).toBe(v(0x04));
    expect(r.NET_BUFFER_LIST_CONTEXT(n)).toBe(v(0x08));
    expect(r.NET_BUFFER_LIST_SOURCE_HANDLE(n)).toBe(v(0x3c));
    expect(r.NET_BUFFER_LIST_NBL_FLAGS(n)).toBe(v(0x40));
    expect(r.NET_BUFFER_LIST_FLAGS(n)).toBe(v(0x48));
    expect(r.NET_BUFFER_LIST_STATUS(n)).toBe(v(0x4c) | 0);
    for (let i = 0; i < 13; i++) expect(r.NET_BUFFER_LIST_INFO(n, i)).toBe(v(0x50 + 4 * i));
    expect(r.NdisGetNetBufferListProtocolId(n)).toBe(v(0x50 + 7 * 4) & 0xff);
    expect(r.NET_BUFFER_LIST_PROTOCOL_RESERVED(n)).toBe(n + 0x20);
    expect(r.NET_BUFFER_LIST_MINIPORT_RESERVED(n)).toBe(n + 0x30);
    expect(u32At(rt, n + 0x10)).toBe(p);
    rt.bytes(n, NBL.SIZE).set(saved);
    r.NdisFreeNetBufferList(n);
  });

  it('each setter writes its field and nothing else', () => {
    const n = nbl(nblPool());
    const other = nbl(nblPool());
    const { list } = nbs(1);
    const cases: [string, () => void, number, number][] = [
      ['NET_BUFFER_LIST_NEXT_NBL_SET', () => r.NET_BUFFER_LIST_NEXT_NBL_SET(n, other), 0x00, other],
      ['NET_BUFFER_LIST_FIRST_NB_SET', () => r.NET_BUFFER_LIST_FIRST_NB_SET(n, list[0]), 0x04, list[0]],
      ['NET_BUFFER_LIST_SOURCE_HANDLE_SET', () => r.NET_BUFFER_LIST_SOURCE_HANDLE_SET(n, 0xdeadbeef), 0x3c, 0xdeadbeef],
      ['NET_BUFFER_LIST_NBL_FLAGS_SET', () => r.NET_BUFFER_LIST_NBL_FLAGS_SET(n, 0x10200), 0x40, 0x10200],
      ['NET_BUFFER_LIST_FLAGS_SET', () => r.NET_BUFFER_LIST_FLAGS_SET(n, 0xfff00003), 0x48, 0xfff00003],
      ['NET_BUFFER_LIST_STATUS_SET', () => r.NET_BUFFER_LIST_STATUS_SET(n, NDIS_STATUS_PENDING), 0x4c, NDIS_STATUS_PENDING],
      ['NET_BUFFER_LIST_INFO_SET 0', () => r.NET_BUFFER_LIST_INFO_SET(n, 0, 0x11111111), 0x50, 0x11111111],
      ['NET_BUFFER_LIST_INFO_SET 12', () => r.NET_BUFFER_LIST_INFO_SET(n, 12, 0xcccccccc), 0x50 + 48, 0xcccccccc],
      ['NdisSetNetBufferListProtocolId', () => r.NdisSetNetBufferListProtocolId(n, 0x0f), 0x50 + 28, 0x0f],
    ];
    for (const [name, set, off, value] of cases) {
      const before = nblBytes(n);
      set();
      const after = nblBytes(n);
      expect(new DataView(after.buffer).getUint32(off, true), name).toBe(value >>> 0);
      for (let i = 0; i < NBL.SIZE; i++) if (i < off || i >= off + 4) expect(after[i], `${name}: byte ${i}`).toBe(before[i]);
    }
    // The bytes after the NBL (the next object) are untouched by INFO_SET(12).
    expect(r.NET_BUFFER_LIST_INFO(n, 12)).toBe(0xcccccccc);
    expect(r.NET_BUFFER_LIST_NEXT_NBL(n)).toBe(other);
    expect(r.NET_BUFFER_LIST_FIRST_NB(n)).toBe(list[0]);
  });

  it('STATUS accepts negative NDIS_STATUS values and reads back signed', () => {
    const n = nbl(nblPool());
    r.NET_BUFFER_LIST_STATUS_SET(n, NDIS_STATUS_FAILURE);
    expect(NDIS_STATUS_FAILURE).toBeLessThan(0);
    expect(r.NET_BUFFER_LIST_STATUS(n)).toBe(NDIS_STATUS_FAILURE);
    expect(u32At(rt, n + NBL.Status)).toBe(0xc0000001);
    r.NET_BUFFER_LIST_STATUS_SET(n, 0xc000009a); // the unsigned spelling
    expect(r.NET_BUFFER_LIST_STATUS(n)).toBe(NDIS_STATUS_RESOURCES);
    r.NET_BUFFER_LIST_STATUS_SET(n, -0x80000000);
    expect(r.NET_BUFFER_LIST_STATUS(n)).toBe(-0x80000000);
    r.NET_BUFFER_LIST_STATUS_SET(n, NDIS_STATUS_SUCCESS);
    expect(r.NET_BUFFER_LIST_STATUS(n)).toBe(0);
    expect(i32At(n + NBL.Status)).toBe(0);
    const fn = 'NET_BUFFER_LIST_STATUS_SET';
    for (const bad of [1.5, 2 ** 32, -0x80000001, NaN]) unchanged(() => r.NET_BUFFER_LIST_STATUS_SET(n, bad), rule(fn, 'Status', 'PARAM'));
    expect(r.NET_BUFFER_LIST_STATUS(n)).toBe(0);
  });

  it('NEXT_NBL_SET to itself or to something that is not an NBL throws, and changes nothing', () => {
    const fn = 'NET_BUFFER_LIST_NEXT_NBL_SET';
    const p = nblPool({ fAllocateNetBuffer: true });
    const a = nbl(p);
    const b = nbl(p);
    r.NET_BUFFER_LIST_NEXT_NBL_SET(a, b);
    const dead = nbl(p);
    r.NdisFreeNetBufferList(dead);
    const { list } = nbs(1);
    unchanged(() => r.NET_BUFFER_LIST_NEXT_NBL_SET(a, a), rule(fn, 'Next', 'PARAM', a));
    unchanged(() => r.NET_BUFFER_LIST_NEXT_NBL_SET(a, list[0]), origin46(fn, 'Next', list[0]));
    unchanged(() => r.NET_BUFFER_LIST_NEXT_NBL_SET(a, r.NET_BUFFER_LIST_FIRST_NB(b)), origin46(fn, 'Next', b + NBL.SIZE));
    unchanged(() => r.NET_BUFFER_LIST_NEXT_NBL_SET(a, p), origin46(fn, 'Next', p));
    unchanged(() => r.NET_BUFFER_LIST_NEXT_NBL_SET(a, 12345), origin42(fn, 'Next', 12345));
    unchanged(() => r.NET_BUFFER_LIST_NEXT_NBL_SET(a, dead), altNbl(fn, 'Next', dead));
    unchanged(() => r.NET_BUFFER_LIST_NEXT_NBL_SET(list[0], b), origin46(fn, 'NetBufferList', list[0]));
    expect(r.NET_BUFFER_LIST_NEXT_NBL(a)).toBe(b);
    r.NET_BUFFER_LIST_NEXT_NBL_SET(a, 0);
    expect(r.NET_BUFFER_LIST_NEXT_NBL(a)).toBe(0);
  });

  it('FIRST_NB_SET, INFO, INFO_SET and the other setters validate their arguments', () => {
    const p = nblPool();
    const n = nbl(p);
    const other = nbl(p);
    unchanged(() => r.NET_BUFFER_LIST_FIRST_NB_SET(n, other), origin46('NET_BUFFER_LIST_FIRST_NB_SET', 'NetBuffer', other));
    unchanged(() => r.NET_BUFFER_LIST_FIRST_NB_SET(n, 12345), origin42('NET_BUFFER_LIST_FIRST_NB_SET', 'NetBuffer', 12345));
    unchanged(() => r.NET_BUFFER_LIST_INFO(n, MaxNetBufferListInfo), rule('NET_BUFFER_LIST_INFO', 'Id', 'PARAM', 13));
    unchanged(() => r.NET_BUFFER_LIST_INFO(n, -1), rule('NET_BUFFER_LIST_INFO', 'Id', 'PARAM'));
    unchanged(() => r.NET_BUFFER_LIST_INFO_SET(n, 13, 1), rule('NET_BUFFER_LIST_INFO_SET', 'Id', 'PARAM', 13));
    unchanged(() => r.NET_BUFFER_LIST_INFO_SET(n, 100, 1), rule('NET_BUFFER_LIST_INFO_SET', 'Id', 'PARAM', 100));
    unchanged(() => r.NET_BUFFER_LIST_INFO_SET(n, 0, -1), rule('NET_BUFFER_LIST_INFO_SET', 'Value', 'PARAM'));
    unchanged(() => r.NET_BUFFER_LIST_FLAGS_SET(n, 2 ** 32), rule('NET_BUFFER_LIST_FLAGS_SET', 'Flags', 'PARAM'));
    unchanged(() => r.NET_BUFFER_LIST_NBL_FLAGS_SET(n, -1), rule('NET_BUFFER_LIST_NBL_FLAGS_SET', 'NblFlags', 'PARAM'));
    unchanged(() => r.NET_BUFFER_LIST_SOURCE_HANDLE_SET(n, 0.5), rule('NET_BUFFER_LIST_SOURCE_HANDLE_SET', 'SourceHandle', 'PARAM'));
    // Nothing was written: info slot 13 would be the byte after NetBufferListInfo.
    expect(rt.bytes(n, NBL.SIZE).every((x, i) => x === 0 || (i >= 0x10 && i < 0x14))).toBe(true);
    expect(r.NET_BUFFER_LIST_FIRST_NB(n)).toBe(0);
  });
});

// -- chains -------------------------------------------------------------------------------------------------

describe('chain helpers', () => {
  /** a -> b -> c -> d -> e over pools of every shape; returns the NBLs and how many NBs each has. */
  function chain5() {
    const plain = nblPool();
    const withNb = nblPool({ fAllocateNetBuffer: true, ContextSize: 8, DataSize: 32 });
    const { list } = nbs(3);
    const a = nbl(withNb); // 1 NB
    const b = nbl(plain); // 0 NBs
    const c = nbl(plain); // 2 driver NBs
    r.NET_BUFFER_NEXT_NB_SET(list[0], list[1]);
    r.NET_BUFFER_LIST_FIRST_NB_SET(c, list[0]);
    const d = nbl(withNb, 16, 8); // 1 NB + 1 driver NB after it, and a decision-13 context block
    r.NET_BUFFER_NEXT_NB_SET(r.NET_BUFFER_LIST_FIRST_NB(d), list[2]);
    const e = nbl(plain, 8, 0);
    const nbls: Loose[] = [a, b, c, d, e];
    for (let i = 0; i + 1 < nbls.length; i++) r.NET_BUFFER_LIST_NEXT_NBL_SET(nbls[i], nbls[i + 1]);
    return { nbls, nbCount: 5, driverNbs: list, pools: [plain, withNb] };
  }

  it('countNetBufferLists and countNetBuffers count every link', () => {
    const { nbls, nbCount } = chain5();
    expect(r.countNetBufferLists(nbls[0])).toBe(5);
    expect(r.countNetBufferLists(nbls[3])).toBe(2);
    expect(r.countNetBufferLists(nbls[4])).toBe(1);
    expect(r.countNetBufferLists(0)).toBe(0);
    expect(r.countNetBuffers(nbls[0])).toBe(nbCount);
    expect(r.countNetBuffers(nbls[1])).toBe(nbCount - 1);
    expect(r.countNetBuffers(nbls[4])).toBe(0);
    expect(r.countNetBuffers(0)).toBe(0);
  });

  it('nblChain iterates in order with one reused result object', () => {
    const { nbls } = chain5();
    expect([...r.nblChain(nbls[0])]).toEqual(nbls);
    const seen: number[] = [];
    for (const x of r.nblChain(nbls[2])) seen.push(x);
    expect(seen).toEqual(nbls.slice(2));
    const it = r.nblChain(nbls[0]);
    expect(it[Symbol.iterator]()).toBe(it);
    const first = it.next();
    expect(first).toEqual({ value: nbls[0], done: false });
    for (let i = 1; i < nbls.length; i++) {
      const step = it.next();
      expect(step).toBe(first);
      expect(step.value).toBe(nbls[i]);
      expect(step.done).toBe(false);
    }
    const end = it.next();
    expect(end).toBe(first);
    expect(end.done).toBe(true);
    expect([...r.nblChain(0)]).toEqual([]);
    unchanged(() => r.nblChain(-1), rule('nblChain', 'NetBufferListChain', 'PARAM'));
  });

  it('freeNetBufferListChain frees every NBL and returns the count; driver NBs stay', () => {
    const { nbls, driverNbs, pools } = chain5();
    expect(r.freeNetBufferListChain(nbls[0])).toBe(5);
    expect(row(rt, TAG.pool, 'NBL')).toMatchObject({ outstanding: 0, frees: 5 });
    expect(row(rt, TAG.pool, 'Memory')).toMatchObject({ outstanding: 0, frees: 2 });
    for (const n of nbls) expect(() => r.NET_BUFFER_LIST_FLAGS(n)).toThrow(NdisBugCheck);
    expect(row(rt, TAG.nb, 'NB')).toMatchObject({ outstanding: 3 });
    r.NET_BUFFER_NEXT_NB_SET(driverNbs[0], 0);
    for (const x of driverNbs) r.NdisFreeNetBuffer(x);
    for (const p of pools) r.NdisFreeNetBufferListPool(p);
    expect(r.freeNetBufferListChain(0)).toBe(0);
  });

  it('is all or nothing: a freed NBL in the middle names NetBufferListChain[i] and frees nothing', () => {
    const { nbls } = chain5();
    r.NdisFreeNetBufferList(nbls[2]); // still linked from b
    for (const fn of ['freeNetBufferListChain', 'countNetBufferLists', 'countNetBuffers'] as const) {
      unchanged(() => r[fn](nbls[0]), altNbl(fn, 'NetBufferListChain[2]', nbls[2]));
    }
    unchanged(() => r.freeNetBufferListChain(nbls[1]), altNbl('freeNetBufferListChain', 'NetBufferListChain[1]', nbls[2]));
    for (const n of [nbls[0], nbls[1], nbls[3], nbls[4]]) expect(r.NdisGetPoolFromNetBufferList(n)).toBeGreaterThanOrEqual(PAGE);
    // The iterator yields the live links, then throws at the freed one.
    const it = r.nblChain(nbls[0]);
    expect(it.next().value).toBe(nbls[0]);
    expect(it.next().value).toBe(nbls[1]);
    expectBug(() => it.next(), altNbl('nblChain', 'NetBufferList', nbls[2]));
    // Unlinked, the rest frees.
    r.NET_BUFFER_LIST_NEXT_NBL_SET(nbls[1], nbls[3]);
    expect(r.freeNetBufferListChain(nbls[0])).toBe(4);
  });

  it('is all or nothing: an NBL holding a pushed context is NBL-FREE-2 at NetBufferListChain[i]', () => {
    const { nbls } = chain5();
    expect(r.NdisAllocateNetBufferListContext(nbls[3], 16, 0, TAG.ctx)).toBe(NDIS_STATUS_SUCCESS);
    const blk = r.NET_BUFFER_LIST_CONTEXT(nbls[3]);
    expect(blk).toBeGreaterThanOrEqual(PAGE);
    const b = unchangedP12(() => r.freeNetBufferListChain(nbls[0]), 'freeNetBufferListChain', 'NetBufferListChain[3]', 'NBL-FREE-2', nbls[3]);
    expect(b.message).toMatch(/NdisFreeNetBufferListContext/);
    // Counting does not care about contexts.
    expect(r.countNetBufferLists(nbls[0])).toBe(5);
    // Context from the preallocated block's unused space counts too.
    r.NdisFreeNetBufferListContext(nbls[3], 16);
    expect(r.NdisAllocateNetBufferListContext(nbls[0], 8, 0, TAG.ctx)).toBe(NDIS_STATUS_SUCCESS);
    unchangedP12(() => r.freeNetBufferListChain(nbls[0]), 'freeNetBufferListChain', 'NetBufferListChain[0]', 'NBL-FREE-2', nbls[0]);
    r.NdisFreeNetBufferListContext(nbls[0], 8);
    expect(r.freeNetBufferListChain(nbls[0])).toBe(5);
  });

  it('a looping chain throws for count and free without hanging, and frees nothing', () => {
    const { nbls } = chain5();
    const [a, b, c, , e] = nbls;
    const loops: [string, () => void][] = [
      ['e -> a (whole chain)', () => r.NET_BUFFER_LIST_NEXT_NBL_SET(e, a)],
      ['e -> c (loop past the head)', () => r.NET_BUFFER_LIST_NEXT_NBL_SET(e, c)],
      ['b -> a (two-element loop)', () => r.NET_BUFFER_LIST_NEXT_NBL_SET(b, a)],
      ['a -> a (forged in memory)', () => put32(a + NBL.Next, a)],
    ];
    for (const [name, make] of loops) {
      make();
      for (const fn of ['countNetBufferLists', 'countNetBuffers', 'freeNetBufferListChain'] as const) {
        const x = unchangedP12(() => r[fn](a), fn, 'NetBufferListChain', 'PARAM', a);
        expect(x.message, name).toMatch(/loops back/);
      }
      // Restore the straight chain.
      for (let i = 0; i + 1 < nbls.length; i++) r.NET_BUFFER_LIST_NEXT_NBL_SET(nbls[i], nbls[i + 1]);
      r.NET_BUFFER_LIST_NEXT_NBL_SET(e, 0);
      expect(r.countNetBufferLists(a)).toBe(5);
    }
    expect(r.freeNetBufferListChain(a)).toBe(5);
  });

  it('countNetBuffers throws on a looping NET_BUFFER list', () => {
    const { nbls, driverNbs } = chain5();
    r.NET_BUFFER_NEXT_NB_SET(driverNbs[1], driverNbs[0]); // c: nb0 -> nb1 -> nb0
    const x = unchangedP12(() => r.countNetBuffers(nbls[0]), 'countNetBuffers', 'NetBufferListChain', 'PARAM', nbls[0]);
    expect(x.message).toMatch(/loops back/);
    expect(r.countNetBufferLists(nbls[0])).toBe(5);
    r.NET_BUFFER_NEXT_NB_SET(driverNbs[1], 0);
    expect(r.countNetBuffers(nbls[0])).toBe(5);
  });

  it('chain helpers reject non-u32 heads and non-NBL links', () => {
    for (const fn of ['countNetBufferLists', 'countNetBuffers', 'freeNetBufferListChain'] as const) {
      unchanged(() => r[fn](1.5), rule(fn, 'NetBufferListChain', 'PARAM'));
      unchanged(() => r[fn](g), origin46(fn, 'NetBufferListChain[0]', g));
    }
  });
});

// -- exhaustion ----------------------------------------------------------------------------------------------

describe('NBL allocation when memory is spent (maxMemory 2 MiB)', () => {
  it('NdisAllocateNetBufferList / NdisAllocateNetBufferAndNetBufferList return NULL and leak no context block', () => {
    const small = createRuntimeSync({ maxMemory: 2 ** 20 * 2 });
    const s = loose(small);
    const p = s.NdisAllocateNetBufferListPool(0, lp({ fAllocateNetBuffer: true }));
    expect(p).toBeGreaterThanOrEqual(PAGE);
    // One NBL with a per-call context block: the pool tag's memory class now has a slab.
    const first = s.NdisAllocateNetBufferList(p, 64, 0);
    expect(first).toBeGreaterThanOrEqual(PAGE);
    // Fill the budget with NBLs without context.
    const list: number[] = [];
    for (let i = 0; i < 100_000; i++) {
      const n = s.NdisAllocateNetBufferList(p, 0, 0);
      if (n === 0) break;
      list.push(n);
    }
    expect(list.length).toBeGreaterThan(1000);
    expect(s.NdisAllocateNetBufferAndNetBufferList(p, 0, 0, 0, 0, 0)).toBe(0);
    // The context block can be had (its slab has room) but the NBL cannot: the block goes back.
    const mem = row(small, TAG.pool, 'Memory')!;
    const nblRow = row(small, TAG.pool, 'NBL')!;
    expect(mem.outstanding).toBe(1);
    expect(s.NdisAllocateNetBufferList(p, 64, 0)).toBe(0);
    expect(s.NdisAllocateNetBufferAndNetBufferList(p, 64, 0, 0, 0, 0)).toBe(0);
    expect(row(small, TAG.pool, 'Memory')).toMatchObject({ outstanding: 1, bytes: mem.bytes });
    expect(row(small, TAG.pool, 'NBL')).toMatchObject({ outstanding: nblRow.outstanding, allocs: nblRow.allocs });
    // Everything frees; then allocation works again.
    expect(s.freeNetBufferListChain(0)).toBe(0);
    for (const n of list) s.NdisFreeNetBufferList(n);
    s.NdisFreeNetBufferList(first);
    expect(row(small, TAG.pool, 'NBL')).toMatchObject({ outstanding: 0 });
    expect(row(small, TAG.pool, 'Memory')).toMatchObject({ outstanding: 0 });
    const again = s.NdisAllocateNetBufferList(p, 64, 0);
    expect(again).toBeGreaterThanOrEqual(PAGE);
    s.NdisFreeNetBufferList(again);
    s.NdisFreeNetBufferListPool(p);
  });
});
