/**
 * The TypeScript layout mirror (src/ndis/layout.ts) against the Wasm module, against
 * assembly/layout.ts, and against what the allocator actually writes; the x86 layouts of
 * NDIS-SPEC §4 (DESIGN D4); and the NDIS constants of NDIS-SPEC §1 exported by the package.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { createRuntimeSync } from '../build/ts/runtime.js';
import * as L from '../build/ts/ndis/layout.js';
import * as pkg from '../build/ts/index.js';
import { loose, protocolChars } from './helpers.js';

const { NB, MDL, MDAT, GOBJ, POOL, SLAB, KIND, ROOT, E, NBL, NBL_CONTEXT, PACKET, OOB } = L;
const TAG_SET = (L as Record<string, unknown>).TAG_SET as Record<string, number> | undefined;

const src = (p: string) => readFileSync(new URL(`../${p}`, import.meta.url), 'utf8');

/** `case N: return NAME;` pairs of `layout()` in assembly/index.ts, in source order. */
function layoutSwitch(): [number, string][] {
  const text = src('assembly/index.ts');
  const start = text.indexOf('export function layout(');
  expect(start).toBeGreaterThan(0);
  const body = text.slice(start, text.indexOf('\n}', start));
  return [...body.matchAll(/case\s+(\d+)\s*:\s*return\s+(\w+)\s*;/g)].map((m) => [Number(m[1]), m[2]!]);
}

/** Numeric-literal `@inline export const NAME: T = literal;` constants of assembly/layout.ts. */
function asConstants(): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of src('assembly/layout.ts').matchAll(/export const (\w+)\s*:\s*\w+\s*=\s*(0x[0-9a-fA-F]+|\d+)\s*;/g)) {
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** What each name of the Wasm layout table is in the TS mirror. */
const MIRROR: Record<string, () => number | undefined> = {
  NB_SIZE: () => NB.SIZE,
  NB_NEXT: () => NB.Next,
  NB_CURRENT_MDL: () => NB.CurrentMdl,
  NB_CURRENT_MDL_OFFSET: () => NB.CurrentMdlOffset,
  NB_DATA_LENGTH: () => NB.DataLength,
  NB_MDL_CHAIN: () => NB.MdlChain,
  NB_DATA_OFFSET: () => NB.DataOffset,
  NB_CHECKSUM_BIAS: () => NB.ChecksumBias,
  NB_NDIS_POOL_HANDLE: () => NB.NdisPoolHandle,
  NB_NDIS_RESERVED: () => NB.NdisReserved,
  NB_PROTOCOL_RESERVED: () => NB.ProtocolReserved,
  NB_MINIPORT_RESERVED: () => NB.MiniportReserved,
  NB_DATA_PHYSICAL_ADDRESS: () => NB.DataPhysicalAddress,
  MDL_SIZE: () => MDL.SIZE,
  MDL_NEXT: () => MDL.Next,
  MDL_SIZE_FIELD: () => MDL.Size,
  MDL_FLAGS: () => MDL.MdlFlags,
  MDL_PROCESS: () => MDL.Process,
  MDL_MAPPED_SYSTEM_VA: () => MDL.MappedSystemVa,
  MDL_START_VA: () => MDL.StartVa,
  MDL_BYTE_COUNT: () => MDL.ByteCount,
  MDL_BYTE_OFFSET: () => MDL.ByteOffset,
  MDAT_MDL: () => MDAT.Mdl,
  MDAT_DATA: () => MDAT.Data,
  GOBJ_SIZE: () => GOBJ.SIZE,
  POOL_DESC_SIZE: () => POOL.SIZE,
  P_KIND: () => POOL.Kind,
  P_TAG: () => POOL.Tag,
  P_OBJ_SIZE: () => POOL.ObjSize,
  P_OUTSTANDING: () => POOL.Outstanding,
  P_PEAK: () => POOL.Peak,
  P_ALLOCS: () => POOL.Allocs,
  P_FREES: () => POOL.Frees,
  P_FAILURES: () => POOL.Failures,
  P_BYTES: () => POOL.Bytes,
  P_ID: () => POOL.Id,
  P_REQ_SIZE: () => POOL.ReqSize,
  P_MAX_OUT: () => POOL.MaxOut,
  P_USER0: () => POOL.User0,
  P_USER1: () => POOL.User1,
  P_OWNER: () => POOL.Owner,
  P_SLAB_COUNT: () => POOL.SlabCount,
  P_SLAB_UNITS: () => POOL.SlabUnits,
  P_CAP: () => POOL.Cap,
  P_FLAGS: () => POOL.Flags,
  P_UNITS: () => (POOL as Record<string, number>).Units,
  ROOT_MDLS: () => ROOT.MDLS,
  ROOT_NB_POOLS: () => ROOT.NB_POOLS,
  ROOT_SLAB_POOLS: () => ROOT.SLAB_POOLS,
  ROOT_MEM_POOLS: () => ROOT.MEM_POOLS,
  ROOT_PROTOCOLS: () => ROOT.PROTOCOLS,
  ROOT_TAG_SETS: () => ROOT.TAG_SETS,
  UNIT_SHIFT: () => L.UNIT_SHIFT,
  SL_POOL: () => SLAB.Pool,
  SL_STATE: () => SLAB.State,
  SL_OBJ_START: () => SLAB.ObjStart,
  SL_OBJ_SIZE: () => SLAB.ObjSize,
  SL_CAP: () => SLAB.Cap,
  SL_FREE_TOP: () => SLAB.FreeTop,
  SL_UNITS: () => SLAB.Units,
  C_POOL: () => L.WCACHE.Pool,
  C_COUNT: () => L.WCACHE.Count,
  C_SIZE: () => L.WCACHE.Size,
  C_ALLOCS: () => L.WCACHE.Allocs,
  C_MOVED: () => L.WCACHE.Moved,
  C_ENTRIES: () => L.WCACHE.Entries,
  ST_ALLOCATED: () => L.STATE.Allocated,
  ST_CACHED: () => L.STATE.Cached,
  R_FAULT: () => L.ROOT_FAULT_OFFSET,
  C_LOW: () => L.WCACHE.Low,
  LCACHE_SIZE: () => L.LCACHE_SIZE,
  TS_KIND: () => TAG_SET?.Kind,
  TS_TAG: () => TAG_SET?.Tag,
  TS_R_ALLOCS: () => TAG_SET?.RetiredAllocs,
  TS_R_FREES: () => TAG_SET?.RetiredFrees,
  TS_R_FAILURES: () => TAG_SET?.RetiredFailures,
  TS_R_PEAK: () => TAG_SET?.RetiredPeak,
  TS_R_POOLS: () => TAG_SET?.RetiredPools,
  NBL_NEXT: () => NBL.Next,
  NBL_FIRST_NB: () => NBL.FirstNetBuffer,
  NBL_CONTEXT: () => NBL.Context,
  NBL_PARENT: () => NBL.ParentNetBufferList,
  NBL_NDIS_POOL_HANDLE: () => NBL.NdisPoolHandle,
  NBL_NDIS_RESERVED: () => NBL.NdisReserved,
  NBL_PROTOCOL_RESERVED: () => NBL.ProtocolReserved,
  NBL_MINIPORT_RESERVED: () => NBL.MiniportReserved,
  NBL_SCRATCH: () => NBL.Scratch,
  NBL_SOURCE_HANDLE: () => NBL.SourceHandle,
  NBL_NBL_FLAGS: () => NBL.NblFlags,
  NBL_CHILD_REF_COUNT: () => NBL.ChildRefCount,
  NBL_FLAGS: () => NBL.Flags,
  NBL_STATUS: () => NBL.Status,
  NBL_INFO: () => NBL.NetBufferListInfo,
  NBL_INFO_COUNT: () => L.MAX_NET_BUFFER_LIST_INFO,
  NBL_INFO_PROTOCOL_ID: () => pkg.NetBufferListProtocolId,
  NBL_SIZE: () => NBL.SIZE,
  NBLC_NEXT: () => NBL_CONTEXT.Next,
  NBLC_SIZE: () => NBL_CONTEXT.Size,
  NBLC_OFFSET: () => NBL_CONTEXT.Offset,
  NBLC_DATA: () => NBL_CONTEXT.ContextData,
  ROOT_NBL_POOLS: () => ROOT.NBL_POOLS,
  K_PACKET_POOL: () => KIND.PACKET_POOL,
  K_BUFFER_POOL: () => KIND.BUFFER_POOL,
  K_PACKET: () => KIND.PACKET,
  ROOT_PACKET_POOLS: () => ROOT.PACKET_POOLS,
  ROOT_BUFFER_POOLS: () => ROOT.BUFFER_POOLS,
  ROOT_LCACHES: () => ROOT.LCACHES,
  P_CURRENT: () => POOL.Current,
  PK_PHYSICAL_COUNT: () => PACKET.PhysicalCount,
  PK_TOTAL_LENGTH: () => PACKET.TotalLength,
  PK_HEAD: () => PACKET.Head,
  PK_TAIL: () => PACKET.Tail,
  PK_POOL: () => PACKET.Pool,
  PK_COUNT: () => PACKET.Count,
  PK_FLAGS: () => PACKET.Flags,
  PK_VALID_COUNTS: () => PACKET.ValidCounts,
  PK_PACKET_FLAGS: () => PACKET.NdisPacketFlags,
  PK_OOB_OFFSET: () => PACKET.NdisPacketOobOffset,
  PK_MINIPORT_RESERVED: () => PACKET.MiniportReserved,
  PK_RESERVED: () => PACKET.Reserved,
  PK_PROTOCOL_RESERVED: () => PACKET.ProtocolReserved,
  OOB_HEADER_SIZE: () => OOB.HeaderSize,
  OOB_STATUS: () => OOB.Status,
  OOB_SIZE: () => OOB.SIZE,
  MAX_PER_PACKET_INFO: () => L.MAX_PER_PACKET_INFO,
};

/** The switch as read when this test was written (indices are an interface: they must not move). */
const KNOWN_INDICES: string[] = [
  'NB_SIZE', 'NB_NEXT', 'NB_CURRENT_MDL', 'NB_CURRENT_MDL_OFFSET', 'NB_DATA_LENGTH', 'NB_MDL_CHAIN',
  'NB_DATA_OFFSET', 'NB_CHECKSUM_BIAS', 'NB_NDIS_POOL_HANDLE', 'NB_NDIS_RESERVED', 'NB_PROTOCOL_RESERVED',
  'NB_MINIPORT_RESERVED', 'NB_DATA_PHYSICAL_ADDRESS', 'MDL_SIZE', 'MDL_NEXT', 'MDL_SIZE_FIELD', 'MDL_FLAGS',
  'MDL_PROCESS', 'MDL_MAPPED_SYSTEM_VA', 'MDL_START_VA', 'MDL_BYTE_COUNT', 'MDL_BYTE_OFFSET', 'MDAT_MDL',
  'MDAT_DATA', 'GOBJ_SIZE', 'POOL_DESC_SIZE', 'P_KIND', 'P_TAG', 'P_OBJ_SIZE', 'P_OUTSTANDING', 'P_PEAK',
  'P_ALLOCS', 'P_FREES', 'P_FAILURES', 'P_BYTES', 'P_ID', 'P_REQ_SIZE', 'P_MAX_OUT', 'P_USER0', 'P_USER1',
  'P_OWNER', 'P_SLAB_COUNT', 'P_SLAB_UNITS', 'P_CAP', 'P_FLAGS', 'ROOT_MDLS', 'ROOT_NB_POOLS',
  'ROOT_SLAB_POOLS', 'ROOT_MEM_POOLS', 'UNIT_SHIFT', 'SL_POOL', 'SL_STATE', 'SL_OBJ_START', 'SL_OBJ_SIZE',
  'SL_CAP', 'ROOT_PROTOCOLS', 'ROOT_TAG_SETS', 'TS_KIND', 'TS_TAG', 'TS_R_ALLOCS', 'TS_R_FREES',
  'TS_R_FAILURES', 'TS_R_PEAK', 'TS_R_POOLS', 'P_UNITS', 'NBL_NEXT', 'NBL_FIRST_NB', 'NBL_CONTEXT',
  'NBL_PARENT', 'NBL_NDIS_POOL_HANDLE', 'NBL_NDIS_RESERVED', 'NBL_PROTOCOL_RESERVED', 'NBL_MINIPORT_RESERVED',
  'NBL_SCRATCH', 'NBL_SOURCE_HANDLE', 'NBL_NBL_FLAGS', 'NBL_CHILD_REF_COUNT', 'NBL_FLAGS', 'NBL_STATUS',
  'NBL_INFO', 'NBL_INFO_COUNT', 'NBL_INFO_PROTOCOL_ID', 'NBL_SIZE', 'NBLC_NEXT', 'NBLC_SIZE', 'NBLC_OFFSET',
  'NBLC_DATA', 'ROOT_NBL_POOLS', 'K_PACKET_POOL', 'K_BUFFER_POOL', 'K_PACKET', 'ROOT_PACKET_POOLS',
  'ROOT_BUFFER_POOLS', 'PK_PHYSICAL_COUNT', 'PK_TOTAL_LENGTH', 'PK_HEAD', 'PK_TAIL', 'PK_POOL', 'PK_COUNT',
  'PK_FLAGS', 'PK_VALID_COUNTS', 'PK_PACKET_FLAGS', 'PK_OOB_OFFSET', 'PK_MINIPORT_RESERVED', 'PK_RESERVED',
  'PK_PROTOCOL_RESERVED', 'OOB_HEADER_SIZE', 'OOB_STATUS', 'OOB_SIZE', 'MAX_PER_PACKET_INFO',
  'SL_FREE_TOP', 'SL_UNITS', 'C_POOL', 'C_COUNT', 'C_SIZE', 'C_ALLOCS', 'C_MOVED', 'C_ENTRIES',
  'ST_ALLOCATED', 'ST_CACHED', 'R_FAULT', 'C_LOW', 'LCACHE_SIZE', 'ROOT_LCACHES', 'P_CURRENT',
];

describe('TS layout mirror == Wasm layout()', () => {
  const rt = createRuntimeSync();
  const wasm = (i: number) => rt.wasm.layout(i) >>> 0;
  const table = layoutSwitch();

  it('the switch in assembly/index.ts is dense and keeps the known indices', () => {
    expect(table.length).toBeGreaterThanOrEqual(KNOWN_INDICES.length);
    table.forEach(([i], k) => expect(i).toBe(k));
    KNOWN_INDICES.forEach((name, i) => expect(table[i]?.[1], `layout(${i})`).toBe(name));
  });

  it('every layout() entry has a TS mirror value equal to the Wasm value', () => {
    const mismatches: string[] = [];
    for (const [i, name] of table) {
      const mirror = MIRROR[name];
      if (!mirror) {
        mismatches.push(`layout(${i}) = ${name}: no TS mirror known to this test`);
        continue;
      }
      const ts = mirror();
      if (ts !== wasm(i)) mismatches.push(`layout(${i}) = ${name}: Wasm ${wasm(i)}, TS ${ts}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('each known index, one by one', () => {
    KNOWN_INDICES.forEach((name, i) => expect(MIRROR[name]!(), `layout(${i}) ${name}`).toBe(wasm(i)));
  });

  it('out-of-range indices return 0xFFFFFFFF', () => {
    expect(wasm(table.length)).toBe(0xffffffff);
    expect(wasm(1000)).toBe(0xffffffff);
    expect(wasm(0xffffffff)).toBe(0xffffffff);
  });

  it('every field of NB, MDL, MDAT, POOL, SLAB, ROOT, NBL and NBL_CONTEXT is covered by layout()', () => {
    const names = new Set(table.map(([, n]) => n));
    const need: [string, Record<string, number>, Record<string, string>][] = [
      ['NB', NB, { Next: 'NB_NEXT', CurrentMdl: 'NB_CURRENT_MDL', CurrentMdlOffset: 'NB_CURRENT_MDL_OFFSET', DataLength: 'NB_DATA_LENGTH', MdlChain: 'NB_MDL_CHAIN', DataOffset: 'NB_DATA_OFFSET', ChecksumBias: 'NB_CHECKSUM_BIAS', NdisPoolHandle: 'NB_NDIS_POOL_HANDLE', NdisReserved: 'NB_NDIS_RESERVED', ProtocolReserved: 'NB_PROTOCOL_RESERVED', MiniportReserved: 'NB_MINIPORT_RESERVED', DataPhysicalAddress: 'NB_DATA_PHYSICAL_ADDRESS', SIZE: 'NB_SIZE' }],
      ['MDL', MDL, { Next: 'MDL_NEXT', Size: 'MDL_SIZE_FIELD', MdlFlags: 'MDL_FLAGS', Process: 'MDL_PROCESS', MappedSystemVa: 'MDL_MAPPED_SYSTEM_VA', StartVa: 'MDL_START_VA', ByteCount: 'MDL_BYTE_COUNT', ByteOffset: 'MDL_BYTE_OFFSET', SIZE: 'MDL_SIZE' }],
      ['MDAT', MDAT, { Mdl: 'MDAT_MDL', Data: 'MDAT_DATA' }],
      ['POOL', POOL, { Kind: 'P_KIND', Tag: 'P_TAG', ObjSize: 'P_OBJ_SIZE', Cap: 'P_CAP', SlabUnits: 'P_SLAB_UNITS', Current: 'P_CURRENT', SlabCount: 'P_SLAB_COUNT', Outstanding: 'P_OUTSTANDING', Peak: 'P_PEAK', MaxOut: 'P_MAX_OUT', Allocs: 'P_ALLOCS', Frees: 'P_FREES', Failures: 'P_FAILURES', Owner: 'P_OWNER', Flags: 'P_FLAGS', User0: 'P_USER0', User1: 'P_USER1', Units: 'P_UNITS', Bytes: 'P_BYTES', Id: 'P_ID', ReqSize: 'P_REQ_SIZE', SIZE: 'POOL_DESC_SIZE' }],
      ['SLAB', SLAB, { Pool: 'SL_POOL', FreeTop: 'SL_FREE_TOP', Cap: 'SL_CAP', ObjSize: 'SL_OBJ_SIZE', ObjStart: 'SL_OBJ_START', Units: 'SL_UNITS', State: 'SL_STATE' }],
      ['ROOT', ROOT, { NB_POOLS: 'ROOT_NB_POOLS', SLAB_POOLS: 'ROOT_SLAB_POOLS', MEM_POOLS: 'ROOT_MEM_POOLS', TAG_SETS: 'ROOT_TAG_SETS', PROTOCOLS: 'ROOT_PROTOCOLS', MDLS: 'ROOT_MDLS', NBL_POOLS: 'ROOT_NBL_POOLS', PACKET_POOLS: 'ROOT_PACKET_POOLS', BUFFER_POOLS: 'ROOT_BUFFER_POOLS', LCACHES: 'ROOT_LCACHES' }],
      ['PACKET', PACKET, { PhysicalCount: 'PK_PHYSICAL_COUNT', TotalLength: 'PK_TOTAL_LENGTH', Head: 'PK_HEAD', Tail: 'PK_TAIL', Pool: 'PK_POOL', Count: 'PK_COUNT', Flags: 'PK_FLAGS', ValidCounts: 'PK_VALID_COUNTS', NdisPacketFlags: 'PK_PACKET_FLAGS', NdisPacketOobOffset: 'PK_OOB_OFFSET', MiniportReserved: 'PK_MINIPORT_RESERVED', Reserved: 'PK_RESERVED', ProtocolReserved: 'PK_PROTOCOL_RESERVED' }],
      ['OOB', OOB, { HeaderSize: 'OOB_HEADER_SIZE', Status: 'OOB_STATUS', SIZE: 'OOB_SIZE' }],
      ['NBL', NBL, { Next: 'NBL_NEXT', FirstNetBuffer: 'NBL_FIRST_NB', Context: 'NBL_CONTEXT', ParentNetBufferList: 'NBL_PARENT', NdisPoolHandle: 'NBL_NDIS_POOL_HANDLE', NdisReserved: 'NBL_NDIS_RESERVED', ProtocolReserved: 'NBL_PROTOCOL_RESERVED', MiniportReserved: 'NBL_MINIPORT_RESERVED', Scratch: 'NBL_SCRATCH', SourceHandle: 'NBL_SOURCE_HANDLE', NblFlags: 'NBL_NBL_FLAGS', ChildRefCount: 'NBL_CHILD_REF_COUNT', Flags: 'NBL_FLAGS', Status: 'NBL_STATUS', NetBufferListInfo: 'NBL_INFO', SIZE: 'NBL_SIZE' }],
      ['NBL_CONTEXT', NBL_CONTEXT, { Next: 'NBLC_NEXT', Size: 'NBLC_SIZE', Offset: 'NBLC_OFFSET', ContextData: 'NBLC_DATA' }],
      ['WCACHE', L.WCACHE, { Pool: 'C_POOL', Count: 'C_COUNT', Size: 'C_SIZE', Allocs: 'C_ALLOCS', Moved: 'C_MOVED', Low: 'C_LOW', Entries: 'C_ENTRIES' }],
      ['STATE', L.STATE, { Allocated: 'ST_ALLOCATED', Cached: 'ST_CACHED' }],
    ];
    const missing: string[] = [];
    for (const [obj, mirror, map] of need) {
      for (const key of Object.keys(mirror)) {
        const asName = map[key];
        if (!asName || !names.has(asName)) missing.push(`${obj}.${key}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('TS layout mirror == assembly/layout.ts constants', () => {
  const c = asConstants();

  it('KIND == K_* (both ways)', () => {
    for (const [k, v] of Object.entries(KIND)) expect(c.get(`K_${k}`), `K_${k}`).toBe(v);
    for (const [name, v] of c) if (name.startsWith('K_')) expect((KIND as Record<string, number>)[name.slice(2)], name).toBe(v);
  });

  it('ROOT == ROOT_* (both ways)', () => {
    for (const [k, v] of Object.entries(ROOT)) expect(c.get(`ROOT_${k}`), `ROOT_${k}`).toBe(v);
    for (const [name, v] of c) {
      if (name.startsWith('ROOT_') && name !== 'ROOT_COUNT') expect((ROOT as Record<string, number>)[name.slice(5)], name).toBe(v);
    }
    expect(Object.keys(ROOT).length).toBe(c.get('ROOT_COUNT'));
  });

  it('E == E_* and ARG_SHIFT (both ways)', () => {
    for (const [k, v] of Object.entries(E)) expect(c.get(k === 'ARG_SHIFT' ? 'ARG_SHIFT' : `E_${k}`), k).toBe(v);
    for (const [name, v] of c) if (name.startsWith('E_')) expect((E as Record<string, number>)[name.slice(2)], name).toBe(v);
  });

  it('GOBJ, SLAB, MDL and NB fields', () => {
    expect(GOBJ).toEqual({ Header: c.get('GOBJ_HEADER'), Caller: c.get('GOBJ_CALLER'), CallersCaller: c.get('GOBJ_CALLERS_CALLER'), DriverObject: c.get('GOBJ_DRIVER_OBJECT'), SIZE: c.get('GOBJ_SIZE') });
    expect(SLAB).toEqual({ Pool: c.get('SL_POOL'), FreeTop: c.get('SL_FREE_TOP'), Cap: c.get('SL_CAP'), ObjSize: c.get('SL_OBJ_SIZE'), ObjStart: c.get('SL_OBJ_START'), Units: c.get('SL_UNITS'), State: c.get('SL_STATE') });
    expect(MDL.SIZE).toBe(c.get('MDL_SIZE'));
    expect(NB.SIZE).toBe(c.get('NB_SIZE'));
    expect(L.UNIT_SHIFT).toBe(c.get('UNIT_SHIFT'));
    expect(L.PAGE_SIZE).toBe(2 ** L.UNIT_SHIFT);
  });
});

describe('the layout as the allocator writes it', () => {
  it('SlabPool descriptor and slab header', () => {
    const rt = createRuntimeSync();
    const pool = rt.createSlabPool({ objectSize: 20, tag: 'Lay', maxOutstanding: 1000 })!;
    const ptrs = [pool.alloc(), pool.alloc(), pool.alloc()];
    pool.free(ptrs[1]!);
    const h = pool.handle;
    rt.sync();
    const u8 = rt.u8;
    expect(rt.rd32(h + POOL.Kind)).toBe(KIND.SLAB_OBJ);
    expect(rt.rd32(h + POOL.Tag)).toBe(pool.tag);
    expect(rt.rd32(h + POOL.ObjSize)).toBe(24);
    expect(rt.rd32(h + POOL.ReqSize)).toBe(20);
    expect(rt.rd32(h + POOL.MaxOut)).toBe(1000);
    expect(rt.rd32(h + POOL.Outstanding)).toBe(2);
    expect(rt.rd32(h + POOL.Peak)).toBe(3);
    expect(rt.rd64(h + POOL.Allocs)).toBe(3);
    expect(rt.rd64(h + POOL.Frees)).toBe(1);
    expect(rt.rd64(h + POOL.Bytes)).toBe(48);
    expect(rt.rd32(h + POOL.SlabCount)).toBe(1);
    expect(rt.kindAt(h)).toBe(KIND.SLAB_POOL);
    expect(rt.kindAt(ptrs[0]!)).toBe(KIND.SLAB_OBJ);

    const slab = rt.rd32(rt.table + (ptrs[0]! >>> L.UNIT_SHIFT) * 4);
    expect(slab % L.PAGE_SIZE).toBe(0);
    expect(rt.rd32(slab + SLAB.Pool)).toBe(h);
    expect(rt.rd32(slab + SLAB.ObjSize)).toBe(24);
    const start = rt.rd32(slab + SLAB.ObjStart);
    const cap = rt.rd32(slab + SLAB.Cap);
    expect(cap).toBe(rt.rd32(h + POOL.Cap));
    expect(start).toBeGreaterThan(slab + SLAB.State + cap - 1);
    const state = ptrs.map((p) => {
      expect((p - start) % 24).toBe(0);
      const idx = (p - start) / 24;
      expect(idx).toBeLessThan(cap);
      return u8[slab + SLAB.State + idx];
    });
    expect(state).toEqual([1, 0, 1]);
  });

  it('root pool descriptors carry the kinds of their objects', () => {
    const rt = createRuntimeSync();
    const kindOfRoot = (r: number) => rt.rd32((rt.wasm.rootPool(r) >>> 0) + POOL.Kind);
    expect(kindOfRoot(ROOT.NB_POOLS)).toBe(KIND.NB_POOL);
    expect(kindOfRoot(ROOT.SLAB_POOLS)).toBe(KIND.SLAB_POOL);
    expect(kindOfRoot(ROOT.MEM_POOLS)).toBe(KIND.MEM_POOL);
    expect(kindOfRoot(ROOT.TAG_SETS)).toBe(KIND.TAG_SET);
    expect(kindOfRoot(ROOT.PROTOCOLS)).toBe(KIND.PROTOCOL);
    expect(kindOfRoot(ROOT.MDLS)).toBe(KIND.MDL);
  });

  it('NET_BUFFER, its MDL and data, generic objects, memory and MDLs', () => {
    const rt = createRuntimeSync();
    const dataSize = 1000;
    const nbp = loose(rt).NdisAllocateNetBufferPool(0, { Header: { Type: 0x80, Revision: 1, Size: 12 }, PoolTag: 0x31424e4c, DataSize: dataSize });
    const nb = loose(rt).NdisAllocateNetBufferMdlAndData(nbp);
    expect(nb).not.toBe(0);
    rt.sync();
    expect(rt.kindAt(nbp)).toBe(KIND.NB_POOL);
    expect(rt.rd32(nbp + POOL.Kind)).toBe(KIND.NB);
    expect(rt.rd32(nbp + POOL.User0)).toBe(dataSize);
    expect(rt.rd32(nbp + POOL.Tag)).toBe(0x31424e4c);
    expect(rt.kindAt(nb)).toBe(KIND.NB);
    const mdl = nb + MDAT.Mdl;
    expect(rt.rd32(nb + NB.Next)).toBe(0);
    expect(rt.rd32(nb + NB.MdlChain)).toBe(mdl);
    expect(rt.rd32(nb + NB.CurrentMdl)).toBe(mdl);
    expect(rt.rd32(nb + NB.CurrentMdlOffset)).toBe(0);
    expect(rt.rd32(nb + NB.DataLength)).toBe(dataSize);
    expect(rt.rd32(nb + NB.DataOffset)).toBe(0);
    expect(rt.rd32(nb + NB.NdisPoolHandle)).toBe(nbp);
    expect(rt.rd32(mdl + MDL.Next)).toBe(0);
    expect(rt.u16[(mdl + MDL.Size) >>> 1]).toBe(MDL.SIZE);
    expect(rt.u16[(mdl + MDL.MdlFlags) >>> 1]! & pkg.MDL_ALLOCATED_FIXED_SIZE).toBe(pkg.MDL_ALLOCATED_FIXED_SIZE);
    expect(rt.rd32(mdl + MDL.Process)).toBe(0);
    expect(rt.rd32(mdl + MDL.MappedSystemVa)).toBe(nb + MDAT.Data);
    expect(rt.rd32(mdl + MDL.StartVa) + rt.rd32(mdl + MDL.ByteOffset)).toBe(nb + MDAT.Data);
    expect(rt.rd32(mdl + MDL.StartVa) % 4096).toBe(0);
    expect(rt.rd32(mdl + MDL.ByteCount)).toBe(dataSize);
    // the setters write where the layout says
    loose(rt).NET_BUFFER_CHECKSUM_BIAS_SET(nb, 0x1234);
    expect(rt.u16[(nb + NB.ChecksumBias) >>> 1]).toBe(0x1234);
    expect(loose(rt).NET_BUFFER_PROTOCOL_RESERVED(nb)).toBe(nb + NB.ProtocolReserved);
    expect(loose(rt).NET_BUFFER_MINIPORT_RESERVED(nb)).toBe(nb + NB.MiniportReserved);

    const gen = loose(rt).NdisAllocateGenericObject(0x1000, 0x6e656747, 32);
    expect(gen).not.toBe(0);
    rt.sync();
    expect(rt.kindAt(gen)).toBe(KIND.GENERIC);
    expect(rt.rd32(gen + GOBJ.DriverObject)).toBe(0x1000);
    expect(rt.u8[gen + GOBJ.Header]).toBe(pkg.NDIS_OBJECT_TYPE_DEFAULT);
    const mem = loose(rt).NdisAllocateMemoryWithTagPriority(gen, 200, 0x206d654d, pkg.NormalPoolPriority);
    expect(mem).not.toBe(0);
    rt.sync();
    expect(rt.kindAt(mem)).toBe(KIND.MEMORY);
    const memSlab = rt.rd32(rt.table + (mem >>> L.UNIT_SHIFT) * 4);
    expect(rt.kindAt(rt.rd32(memSlab + SLAB.Pool))).toBe(KIND.MEM_POOL);
    const m = loose(rt).NdisAllocateMdl(gen, mem, 200);
    expect(m).not.toBe(0);
    rt.sync();
    expect(rt.kindAt(m)).toBe(KIND.MDL);
    expect(rt.rd32(m + MDL.ByteCount)).toBe(200);
    const tagSets = rt.liveObjectsOf(ROOT.TAG_SETS);
    expect(tagSets.length).toBeGreaterThan(0);
    for (const t of tagSets) expect(rt.kindAt(t)).toBe(KIND.TAG_SET);

    const out = { value: 0 };
    const status = loose(rt).NdisRegisterProtocolDriver(0, protocolChars('layout'), out as never);
    expect(status).toBe(pkg.NDIS_STATUS_SUCCESS);
    rt.sync();
    expect(rt.kindAt(out.value)).toBe(KIND.PROTOCOL);
  });
});

describe('x86 layouts of NDIS-SPEC §4 (DESIGN D4)', () => {
  it('NET_BUFFER (§4.1, x86 column)', () => {
    expect(NB).toEqual({
      Next: 0x00, CurrentMdl: 0x04, CurrentMdlOffset: 0x08, DataLength: 0x0c, MdlChain: 0x10, DataOffset: 0x14,
      ChecksumBias: 0x18, NdisPoolHandle: 0x1c, NdisReserved: 0x20, ProtocolReserved: 0x28, MiniportReserved: 0x40,
      DataPhysicalAddress: 0x50, SIZE: 0x58,
    });
    // ProtocolReserved[6] and MiniportReserved[4] of 4-byte PVOIDs
    expect(NB.MiniportReserved - NB.ProtocolReserved).toBe(6 * 4);
    expect(NB.DataPhysicalAddress - NB.MiniportReserved).toBe(4 * 4);
  });

  it('MDL (§4.4, x86)', () => {
    expect(MDL).toEqual({ Next: 0, Size: 4, MdlFlags: 6, Process: 8, MappedSystemVa: 12, StartVa: 16, ByteCount: 20, ByteOffset: 24, SIZE: 28 });
  });

  it('MdlAndData: NB, then the MDL, then data at MEMORY_ALLOCATION_ALIGNMENT', () => {
    expect(MDAT.Mdl).toBe(NB.SIZE);
    expect(MDAT.Data).toBe(Math.ceil((NB.SIZE + MDL.SIZE) / 8) * 8);
    expect(MDAT.Data).toBe(0x78);
  });

  it('NDIS_GENERIC_OBJECT (x86)', () => {
    expect(GOBJ).toEqual({ Header: 0, Caller: 4, CallersCaller: 8, DriverObject: 12, SIZE: 16 });
  });

  it('the package exports the same layouts', () => {
    expect(pkg.NET_BUFFER_LAYOUT).toEqual(NB);
    expect(pkg.MDL_LAYOUT).toEqual(MDL);
    expect(pkg.MDL_AND_DATA_LAYOUT).toEqual(MDAT);
    expect(pkg.NDIS_GENERIC_OBJECT_LAYOUT).toEqual(GOBJ);
  });
});

describe('NDIS constants (NDIS-SPEC §1) exported by the package', () => {
  const P = pkg as unknown as Record<string, unknown>;
  const i32 = (u: number) => u | 0;

  it('§1.1 status codes, as signed i32', () => {
    const want: Record<string, number> = {
      NDIS_STATUS_SUCCESS: 0,
      NDIS_STATUS_PENDING: 0x103,
      NDIS_STATUS_FAILURE: -1073741823,
      NDIS_STATUS_RESOURCES: -1073741670,
      NDIS_STATUS_INVALID_PARAMETER: i32(0xc000000d),
      NDIS_STATUS_NOT_SUPPORTED: i32(0xc00000bb),
      NDIS_STATUS_BAD_VERSION: i32(0xc0010004),
      NDIS_STATUS_BAD_CHARACTERISTICS: i32(0xc0010005),
    };
    for (const [name, v] of Object.entries(want)) {
      expect(P[name], name).toBe(v);
      expect(((P[name] as number) | 0) === P[name], `${name} is an i32`).toBe(true);
    }
    expect(pkg.NDIS_STATUS_FAILURE).toBe(i32(0xc0000001));
    expect(pkg.NDIS_STATUS_RESOURCES).toBe(i32(0xc000009a));
    expect(pkg.NDIS_STATUS_RESOURCES).toBeLessThan(0);
  });

  it('§1.1 further status codes, when exported, have the spec values', () => {
    const optional: Record<string, number> = {
      NDIS_STATUS_RESET_IN_PROGRESS: i32(0xc001000d),
      NDIS_STATUS_ADAPTER_NOT_READY: i32(0xc0010011),
      NDIS_STATUS_INVALID_LENGTH: i32(0xc0010014),
      NDIS_STATUS_INVALID_DATA: i32(0xc0010015),
      NDIS_STATUS_BUFFER_TOO_SHORT: i32(0xc0010016),
      NDIS_STATUS_INVALID_ADDRESS: i32(0xc0010022),
      NDIS_STATUS_SEND_ABORTED: i32(0xc023000c),
      NDIS_STATUS_PAUSED: i32(0xc023002a),
      NDIS_STATUS_LOW_POWER_STATE: i32(0xc023002f),
    };
    for (const [name, v] of Object.entries(optional)) if (name in P) expect(P[name], name).toBe(v);
  });

  it('§1.2 object header, revisions and sizes', () => {
    expect(pkg.NDIS_OBJECT_TYPE_DEFAULT).toBe(0x80);
    expect(pkg.NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS).toBe(0x95);
    expect(pkg.NET_BUFFER_POOL_PARAMETERS_REVISION_1).toBe(1);
    expect(pkg.NET_BUFFER_POOL_PARAMETERS_REVISION_2).toBe(2);
    expect(pkg.NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1).toBe(12);
    expect(pkg.NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_2).toBe(16);
    expect(pkg.NET_BUFFER_POOL_FLAG_VERIFY).toBe(1);
    const optional: Record<string, number> = {
      NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1: 1,
      NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_2: 2,
      NET_BUFFER_LIST_POOL_FLAG_VERIFY: 1,
      NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1: 16,
      NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_2: 20,
      NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS: 0x97,
      NDIS_OBJECT_TYPE_FILTER_ATTACH_PARAMETERS: 0x99,
    };
    for (const [name, v] of Object.entries(optional)) if (name in P) expect(P[name], name).toBe(v);
  });

  it('§1.3 protocol IDs, reserved sizes, alignment (32-bit values)', () => {
    expect(pkg.NDIS_PROTOCOL_ID_DEFAULT).toBe(0x00);
    expect(pkg.NDIS_PROTOCOL_ID_TCP_IP).toBe(0x02);
    expect(pkg.NDIS_PROTOCOL_ID_IPX).toBe(0x06);
    expect(pkg.NDIS_PROTOCOL_ID_NBF).toBe(0x07);
    expect(pkg.NDIS_PROTOCOL_ID_MAX).toBe(0x0f);
    expect(pkg.NDIS_PROTOCOL_ID_MASK).toBe(0x0f);
    expect(pkg.PROTOCOL_RESERVED_SIZE_IN_PACKET).toBe(16);
    expect(pkg.MEMORY_ALLOCATION_ALIGNMENT).toBe(8);
    for (const [name, v] of Object.entries({ PASSIVE_LEVEL: 0, APC_LEVEL: 1, DISPATCH_LEVEL: 2 })) if (name in P) expect(P[name], name).toBe(v);
  });

  it('§1.4 MDL flags', () => {
    expect(pkg.MDL_MAPPED_TO_SYSTEM_VA).toBe(0x1);
    expect(pkg.MDL_PAGES_LOCKED).toBe(0x2);
    expect(pkg.MDL_SOURCE_IS_NONPAGED_POOL).toBe(0x4);
    expect(pkg.MDL_ALLOCATED_FIXED_SIZE).toBe(0x8);
    expect(pkg.MDL_PARTIAL).toBe(0x10);
    expect(pkg.MDL_NETWORK_HEADER).toBe(0x1000);
  });

  it('§1.5 bug-check codes', () => {
    expect(pkg.BUGCODE_NDIS_DRIVER).toBe(0x7c);
    expect(pkg.BUGCODE_BAD_POOL_CALLER).toBe(0xc2);
    expect(pkg.BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION).toBe(0xc4);
  });

  it('pool priorities and POOL_TAG', () => {
    expect([pkg.LowPoolPriority, pkg.NormalPoolPriority, pkg.HighPoolPriority]).toEqual([0, 16, 32]);
    expect([pkg.LowPagePriority, pkg.NormalPagePriority, pkg.HighPagePriority]).toEqual([0, 16, 32]);
    expect(pkg.MdlMappingNoWrite).toBe(0x80000000);
    expect(pkg.MdlMappingNoExecute).toBe(0x40000000);
    expect(pkg.POOL_TAG('looP')).toBe(0x6c6f6f50);
    expect(pkg.tagToString(0x6c6f6f50)).toBe('Pool');
  });

  it('the constants agree with the Wasm side', () => {
    const rt = createRuntimeSync();
    // MdlAndData data is MEMORY_ALLOCATION_ALIGNMENT-aligned and slots are multiples of it
    expect(MDAT.Data % pkg.MEMORY_ALLOCATION_ALIGNMENT).toBe(0);
    const pool = rt.createSlabPool({ objectSize: 1 })!;
    expect(pool.stats().objectSize).toBe(pkg.MEMORY_ALLOCATION_ALIGNMENT);
    expect(asConstants().get('MEMORY_ALLOCATION_ALIGNMENT')).toBe(pkg.MEMORY_ALLOCATION_ALIGNMENT);
    expect(asConstants().get('MDL_ALLOCATED_FIXED_SIZE')).toBe(pkg.MDL_ALLOCATED_FIXED_SIZE);
    expect(asConstants().get('MDL_MAPPED_TO_SYSTEM_VA')).toBe(pkg.MDL_MAPPED_TO_SYSTEM_VA);
    expect(asConstants().get('MDL_SOURCE_IS_NONPAGED_POOL')).toBe(pkg.MDL_SOURCE_IS_NONPAGED_POOL);
    expect(asConstants().get('MDL_NETWORK_HEADER')).toBe(pkg.MDL_NETWORK_HEADER);
  });
});
