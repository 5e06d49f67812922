/**
 * Memory exhaustion, allocator by allocator (README "Memory model", "Errors": exhaustion never
 * throws, it returns NULL / NDIS_STATUS_RESOURCES). Every allocator of the public API runs in a
 * small runtime (`maxMemory` 2–4 MiB) until it fails; the count is recorded, the failure
 * counters must have risen, everything is freed, and a second round must reach the same count
 * (nothing leaked) while a pattern written into every object of both rounds stays intact (the
 * objects never overlap, and reused slots are re-initialised where the README says so). Then a
 * mixed round (several allocators interleaved until memory runs out, freed in a seeded random
 * order, three times), fault injection (every allocator fails only as exhaustion does and the
 * state stays consistent) and verifier mode (the quarantine holds memory back).
 *
 * Where a second round legitimately differs, the exact rule is asserted: the per-tag counter
 * block ("tag set") that freeing a pool creates is one permanent 64 KiB unit, and a verifier
 * quarantine keeps its freed objects' slots.
 */
import { describe, it, expect } from 'vitest';
import { createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import type { Adapter } from '../build/ts/index.js';
import type { SlabPool } from '../build/ts/pool.js';
import type { DescriptorRing } from '../build/ts/ring.js';
import {
  NdisBugCheck,
  POOL_TAG,
  tagToString,
  NDIS_STATUS_SUCCESS,
  NDIS_STATUS_RESOURCES,
  NDIS_STATUS_FAILURE,
  NDIS_OBJECT_TYPE_DEFAULT,
  NormalPoolPriority,
  NormalPagePriority,
  NET_BUFFER_LAYOUT,
  NET_BUFFER_LIST_LAYOUT,
  NDIS_GENERIC_OBJECT_LAYOUT,
  MDL_AND_DATA_LAYOUT,
} from '../build/ts/index.js';
import { ROOT } from '../build/ts/ndis/layout.js';
import { type Loose, loose, protocolChars, row, HDR1, slot } from './helpers.js';

// -- fixtures ---------------------------------------------------------------------------------------

const MiB = 2 ** 20;
const UNIT = 65536;
/** NET_BUFFER_LIST_POOL_PARAMETERS revision-1 header. */
const LH1 = { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: 1, Size: 16 };
const NB = NET_BUFFER_LAYOUT;
const NBL = NET_BUFFER_LIST_LAYOUT;
const GOBJ_SIZE = NDIS_GENERIC_OBJECT_LAYOUT.SIZE;

/** Calls `alloc(i)` until it returns 0; the objects it returned. Fails the test if it never does. */
function exhaust(alloc: (i: number) => number, limit = 1_000_000): number[] {
  const out: number[] = [];
  for (let i = 0; i < limit; i++) {
    const x = alloc(i);
    if (x === 0) return out;
    out.push(x);
  }
  throw new Error(`no exhaustion after ${limit} allocations`);
}

/** An out box (C: a pointer to a result). */
const box = (value = 0): Loose => ({ value });

/** A cheap assertion for hot loops (vitest's expect costs microseconds). */
function must(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

/** Byte `k` of the pattern with key `key` (object number and round). */
const pat = (key: number, k: number) => (key * 37 + k * 11 + 1) & 0xff;
function writePattern(rt: NdisRuntime, addr: number, len: number, key: number): void {
  const b = rt.bytes(addr, len);
  for (let k = 0; k < len; k++) b[k] = pat(key, k);
}
/** null when the pattern is intact, else a description of the first bad byte. */
function patternError(rt: NdisRuntime, addr: number, len: number, key: number): string | null {
  const b = rt.bytes(addr, len);
  for (let k = 0; k < len; k++) if (b[k] !== pat(key, k)) return `0x${addr.toString(16)}+${k}: ${b[k]} != ${pat(key, k)}`;
  return null;
}
const isZero = (rt: NdisRuntime, addr: number, len: number) => rt.bytes(addr, len).every((x) => x === 0);

/** Counters of a runtime-internal root pool (pool descriptors, protocol handles…): poolmon does not list them. */
const rootStats = (rt: NdisRuntime, r: number) => rt.poolStatsAt(rt.wasm.rootPool(r) >>> 0);
/** Live objects of a root pool (live pools of one family, protocol / driver handles…). */
const rootLive = (rt: NdisRuntime, r: number) => rootStats(rt, r).outstanding;
/** Sum of every poolmon row's failures. */
const allFailures = (rt: NdisRuntime) => rt.poolmon().reduce((s, r) => s + r.failures, 0);
/** poolmon failures of one row (0 when the row does not exist). */
const rowFailures = (rt: NdisRuntime, tag: number | string, type: string) => row(rt, tag, type)?.failures ?? 0;
const rowOutstanding = (rt: NdisRuntime, tag: number | string, type: string) => row(rt, tag, type)?.outstanding ?? 0;
/** Live pools of a type (and tag) per memoryReport (it lists every live pool, used or not). */
const livePools = (rt: NdisRuntime, type: string, tag?: number) =>
  rt.memoryReport().pools.filter((p) => p.type === type && (tag === undefined || p.tag === tagToString(tag))).length;

/** A memoryReport snapshot by pool handle, taken by `beginCheck` (one report per verification). */
function reportCache(rt: NdisRuntime) {
  let byHandle = new Map<number, { type: string; tag: string; objectSize: number }>();
  return {
    refresh: () => void (byHandle = new Map(rt.memoryReport().pools.map((p) => [p.handle, p]))),
    get: (h: number) => byHandle.get(h),
  };
}

/** Every poolmon row shows nothing outstanding (`except`: rows allowed to keep objects). */
function expectNothingOutstanding(rt: NdisRuntime, except: string[] = []): void {
  for (const r of rt.poolmon()) {
    if (except.includes(`${r.tag}/${r.type}`)) continue;
    expect(r.outstanding, `${r.tag}/${r.type} outstanding`).toBe(0);
  }
}

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function shuffle<T>(a: T[], rnd: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function registerProtocol(rt: NdisRuntime, name = 'ExhProt', context = 0): number {
  const out = box(0);
  const s = loose(rt).NdisRegisterProtocolDriver(context, protocolChars(name), out as Loose);
  expect(s).toBe(NDIS_STATUS_SUCCESS);
  return out.value;
}

function nblPoolParams(tag: number, dataSize: number, fAllocateNetBuffer = true, contextSize = 0) {
  return { Header: LH1, ProtocolId: 0, fAllocateNetBuffer, ContextSize: contextSize, PoolTag: tag, DataSize: dataSize };
}

// -- the allocators ------------------------------------------------------------------------------------

/**
 * One allocator under test, bound to a runtime. `alloc` returns an object (an address or a
 * handle) or 0 for the documented failure; it must never throw.
 */
interface Alloc {
  /** Allocates object number `i`: its address / handle, or 0 (NULL, RESOURCES, FAILURE). */
  alloc(i: number): number;
  /** Frees an object `alloc` returned. Objects are freed last-allocated first unless `anyOrder`. */
  free(obj: number): void;
  /** Objects may be freed in any order (the mixed round frees in random order). */
  anyOrder: boolean;
  /** Checks on an object just allocated (re-initialised on reuse where the README says so); an error text or null. */
  fresh?(obj: number): string | null;
  /** Writes the pattern `key` into the object's caller-owned bytes. */
  write?(obj: number, key: number): void;
  /** Verifies pattern `key` (and the object's NDIS fields); an error text or null. */
  check?(obj: number, key: number): string | null;
  /** Called once before a series of `check` calls. */
  beginCheck?(): void;
  /** The failure counter the allocator's NULL returns raise. */
  failures(): number;
  /** Objects of this allocator the runtime counts as live. */
  outstanding(): number;
  /** Frees what the setup allocated. */
  teardown(): void;
  /** poolmon rows that may keep objects after teardown ("tag/type"). */
  keeps?: string[];
  /** `outstanding` reads a counter other allocators share (the runtime's one MDL pool). */
  shared?: string;
}

type Factory = (rt: NdisRuntime) => Alloc;

const T = {
  nbPool: POOL_TAG('PnbX'),
  nb: POOL_TAG('BnbX'),
  nbData: POOL_TAG('DnbX'),
  nblPool: POOL_TAG('PlbX'),
  nbl: POOL_TAG('LbnX'),
  nblNb: POOL_TAG('NbnX'),
  ctxNbl: POOL_TAG('CbnX'),
  ctx: POOL_TAG('CtxX'),
  rtNb: POOL_TAG('RbnX'),
  rtNbl: POOL_TAG('RlbX'),
  mem: POOL_TAG('MemX'),
  big: POOL_TAG('BigX'),
  gen: POOL_TAG('GenX'),
  host: POOL_TAG('HstX'),
} as const;

/** NdisAllocateNetBufferPool: pools of DataSize i % 8 * 8 (each pool's descriptor checked at the end). */
const nbPoolCase: Factory = (rt) => {
  const r = loose(rt);
  // Freeing a pool creates the (kind, tag) counter block once ("tag set", a permanent unit):
  // create it now so that both rounds see the same memory.
  r.NdisFreeNetBufferPool(r.NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: T.nbPool, DataSize: 0 }));
  const size = new Map<number, number>();
  const report = reportCache(rt);
  return {
    anyOrder: true,
    alloc(i) {
      const h = r.NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: T.nbPool, DataSize: (i % 8) * 8 });
      if (h) size.set(h, (i % 8) * 8);
      return h;
    },
    free: (h) => r.NdisFreeNetBufferPool(h),
    beginCheck: report.refresh,
    check(h) {
      const p = report.get(h);
      const d = size.get(h)!;
      const objectSize = d === 0 ? NB.SIZE : slot(MDL_AND_DATA_LAYOUT.Data + d);
      return p && p.type === 'NB' && p.tag === tagToString(T.nbPool) && p.objectSize === objectSize
        ? null : `pool 0x${h.toString(16)} is not a live NB pool of DataSize ${d}: ${JSON.stringify(p)}`;
    },
    failures: () => rootStats(rt, ROOT.NB_POOLS).failures,
    outstanding: () => livePools(rt, 'NB', T.nbPool),
    teardown: () => undefined,
  };
};

/** NdisAllocateNetBuffer (MdlChain NULL) from a DataSize-0 pool; pattern in ProtocolReserved + MiniportReserved. */
const nbCase: Factory = (rt) => {
  const r = loose(rt);
  const pool = r.NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: T.nb, DataSize: 0 });
  return {
    anyOrder: true,
    alloc: () => r.NdisAllocateNetBuffer(pool, 0, 0, 0),
    free: (nb) => r.NdisFreeNetBuffer(nb),
    fresh: (nb) =>
      r.NET_BUFFER_DATA_LENGTH(nb) === 0 && r.NET_BUFFER_DATA_OFFSET(nb) === 0 && r.NET_BUFFER_FIRST_MDL(nb) === 0 &&
      r.NET_BUFFER_CURRENT_MDL(nb) === 0 && r.NET_BUFFER_NEXT_NB(nb) === 0 && r.NdisGetPoolFromNetBuffer(nb) === pool
        ? null : `NB 0x${nb.toString(16)} not initialised`,
    write(nb, key) {
      writePattern(rt, nb + NB.ProtocolReserved, NB.DataPhysicalAddress - NB.ProtocolReserved, key);
    },
    check(nb, key) {
      if (r.NdisGetPoolFromNetBuffer(nb) !== pool || r.NET_BUFFER_DATA_LENGTH(nb) !== 0) return `NB 0x${nb.toString(16)} fields changed`;
      return patternError(rt, nb + NB.ProtocolReserved, NB.DataPhysicalAddress - NB.ProtocolReserved, key);
    },
    failures: () => rowFailures(rt, T.nb, 'NB'),
    outstanding: () => rowOutstanding(rt, T.nb, 'NB'),
    teardown: () => r.NdisFreeNetBufferPool(pool),
  };
};

/** NdisAllocateNetBufferMdlAndData (DataSize 200): pattern over the whole data. */
const mdlAndDataCase: Factory = (rt) => {
  const r = loose(rt);
  const DATA = 200;
  const pool = r.NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: T.nbData, DataSize: DATA });
  const data = (nb: number) => r.MmGetSystemAddressForMdlSafe(r.NET_BUFFER_FIRST_MDL(nb), NormalPagePriority);
  return {
    anyOrder: true,
    alloc: () => r.NdisAllocateNetBufferMdlAndData(pool),
    free: (nb) => r.NdisFreeNetBuffer(nb),
    fresh(nb) {
      const mdl = r.NET_BUFFER_FIRST_MDL(nb);
      return r.NET_BUFFER_DATA_LENGTH(nb) === DATA && r.NET_BUFFER_DATA_OFFSET(nb) === 0 && mdl !== 0 &&
        r.NET_BUFFER_CURRENT_MDL(nb) === mdl && r.MmGetMdlByteCount(mdl) === DATA && r.NDIS_MDL_LINKAGE(mdl) === 0
        ? null : `MdlAndData NB 0x${nb.toString(16)} not initialised`;
    },
    write: (nb, key) => writePattern(rt, data(nb), DATA, key),
    check: (nb, key) => (r.NET_BUFFER_DATA_LENGTH(nb) !== DATA ? 'DataLength changed' : patternError(rt, data(nb), DATA, key)),
    failures: () => rowFailures(rt, T.nbData, 'NB'),
    outstanding: () => rowOutstanding(rt, T.nbData, 'NB'),
    teardown: () => r.NdisFreeNetBufferPool(pool),
  };
};

/** NdisAllocateNetBufferListPool (the tag set created up front, as for NB pools). */
const nblPoolCase: Factory = (rt) => {
  const r = loose(rt);
  r.NdisFreeNetBufferListPool(r.NdisAllocateNetBufferListPool(0, nblPoolParams(T.nblPool, 0, false)));
  const report = reportCache(rt);
  return {
    anyOrder: true,
    alloc: (i) => r.NdisAllocateNetBufferListPool(0, nblPoolParams(T.nblPool, 0, i % 2 === 0)),
    free: (h) => r.NdisFreeNetBufferListPool(h),
    beginCheck: report.refresh,
    check(h) {
      const p = report.get(h);
      return p && p.type === 'NBL' ? null : `pool 0x${h.toString(16)} is not a live NBL pool`;
    },
    failures: () => rootStats(rt, ROOT.NBL_POOLS).failures,
    outstanding: () => livePools(rt, 'NBL', T.nblPool),
    teardown: () => undefined,
  };
};

/** NdisAllocateNetBufferList (fAllocateNetBuffer, DataSize 128): pattern in ProtocolReserved and the NB's data. */
const nblCase: Factory = (rt) => {
  const r = loose(rt);
  const DATA = 128;
  const pool = r.NdisAllocateNetBufferListPool(0, nblPoolParams(T.nbl, DATA));
  const data = (nbl: number) => r.MmGetSystemAddressForMdlSafe(r.NET_BUFFER_FIRST_MDL(r.NET_BUFFER_LIST_FIRST_NB(nbl)), NormalPagePriority);
  return {
    anyOrder: true,
    alloc: () => r.NdisAllocateNetBufferList(pool, 0, 0),
    free: (nbl) => r.NdisFreeNetBufferList(nbl),
    fresh(nbl) {
      const nb = r.NET_BUFFER_LIST_FIRST_NB(nbl);
      return nb !== 0 && r.NET_BUFFER_LIST_NEXT_NBL(nbl) === 0 && r.NET_BUFFER_DATA_LENGTH(nb) === DATA && r.NET_BUFFER_DATA_OFFSET(nb) === 0 &&
        r.NdisGetPoolFromNetBufferList(nbl) === pool
        ? null : `NBL 0x${nbl.toString(16)} not initialised`;
    },
    write(nbl, key) {
      writePattern(rt, r.NET_BUFFER_LIST_PROTOCOL_RESERVED(nbl), NBL.MiniportReserved - NBL.ProtocolReserved, key);
      writePattern(rt, data(nbl), DATA, key + 1);
    },
    check(nbl, key) {
      return patternError(rt, r.NET_BUFFER_LIST_PROTOCOL_RESERVED(nbl), NBL.MiniportReserved - NBL.ProtocolReserved, key) ??
        patternError(rt, data(nbl), DATA, key + 1);
    },
    failures: () => rowFailures(rt, T.nbl, 'NBL'),
    outstanding: () => rowOutstanding(rt, T.nbl, 'NBL'),
    teardown: () => r.NdisFreeNetBufferListPool(pool),
  };
};

/** NdisAllocateNetBufferAndNetBufferList (MdlChain NULL): pattern in the NBL's and the NB's ProtocolReserved. */
const nbAndNblCase: Factory = (rt) => {
  const r = loose(rt);
  const pool = r.NdisAllocateNetBufferListPool(0, nblPoolParams(T.nblNb, 0));
  const PR = NB.MiniportReserved - NB.ProtocolReserved;
  return {
    anyOrder: true,
    alloc: () => r.NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, 0, 0, 0),
    free: (nbl) => r.NdisFreeNetBufferList(nbl),
    fresh(nbl) {
      const nb = r.NET_BUFFER_LIST_FIRST_NB(nbl);
      return nb !== 0 && r.NET_BUFFER_DATA_LENGTH(nb) === 0 && r.NET_BUFFER_FIRST_MDL(nb) === 0 ? null : `NBL 0x${nbl.toString(16)} not initialised`;
    },
    write(nbl, key) {
      writePattern(rt, r.NET_BUFFER_LIST_PROTOCOL_RESERVED(nbl), 16, key);
      writePattern(rt, r.NET_BUFFER_PROTOCOL_RESERVED(r.NET_BUFFER_LIST_FIRST_NB(nbl)), PR, key + 1);
    },
    check: (nbl, key) =>
      patternError(rt, r.NET_BUFFER_LIST_PROTOCOL_RESERVED(nbl), 16, key) ??
      patternError(rt, r.NET_BUFFER_PROTOCOL_RESERVED(r.NET_BUFFER_LIST_FIRST_NB(nbl)), PR, key + 1),
    failures: () => rowFailures(rt, T.nblNb, 'NBL'),
    outstanding: () => rowOutstanding(rt, T.nblNb, 'NBL'),
    teardown: () => r.NdisFreeNetBufferListPool(pool),
  };
};

/**
 * NdisAllocateNetBufferListContext: 64-byte context pushes on 32 NBLs (round robin) until
 * NDIS_STATUS_RESOURCES. The "object" is the context data's address; frees are LIFO per NBL.
 */
const contextCase: Factory = (rt) => {
  const r = loose(rt);
  const SIZE = 64;
  const pool = r.NdisAllocateNetBufferListPool(0, nblPoolParams(T.ctxNbl, 0, false));
  const nbls = Array.from({ length: 32 }, () => r.NdisAllocateNetBufferList(pool, 0, 0));
  const owner = new Map<number, number>();
  return {
    anyOrder: false,
    alloc(i) {
      const nbl = nbls[i % nbls.length]!;
      const s = r.NdisAllocateNetBufferListContext(nbl, SIZE, 0, T.ctx);
      if (s === NDIS_STATUS_RESOURCES) return 0;
      must(s === NDIS_STATUS_SUCCESS, `status ${s}`);
      const a = r.NET_BUFFER_LIST_CONTEXT_DATA_START(nbl);
      owner.set(a, nbl);
      return a;
    },
    free(a) {
      const nbl = owner.get(a)!;
      must(r.NET_BUFFER_LIST_CONTEXT_DATA_START(nbl) === a, 'LIFO: the top block'); // LIFO: it is the top block
      r.NdisFreeNetBufferListContext(nbl, SIZE);
      owner.delete(a);
    },
    write: (a, key) => writePattern(rt, a, SIZE, key),
    check: (a, key) => patternError(rt, a, SIZE, key),
    failures: () => rowFailures(rt, T.ctx, 'Memory'),
    outstanding: () => rowOutstanding(rt, T.ctx, 'Memory'),
    teardown() {
      for (const n of nbls) r.NdisFreeNetBufferList(n);
      r.NdisFreeNetBufferListPool(pool);
    },
  };
};

/** Retreats of 96 bytes beyond the headroom (each allocates an MDL and a buffer, tag NdRt) on 16 NBs or NBLs. */
function retreatCase(nblForm: boolean): Factory {
  return (rt) => {
    const r = loose(rt);
    const DELTA = 96;
    const DATA = 64;
    const tag = nblForm ? T.rtNbl : T.rtNb;
    let pool: number;
    let holders: number[];
    if (nblForm) {
      pool = r.NdisAllocateNetBufferListPool(0, nblPoolParams(tag, DATA));
      holders = Array.from({ length: 16 }, () => r.NdisAllocateNetBufferList(pool, 0, 0));
    } else {
      pool = r.NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: tag, DataSize: DATA });
      holders = Array.from({ length: 16 }, () => r.NdisAllocateNetBufferMdlAndData(pool));
    }
    const nbOf = (h: number) => (nblForm ? r.NET_BUFFER_LIST_FIRST_NB(h) : h);
    const firstMdl = new Map(holders.map((h) => [h, r.NET_BUFFER_FIRST_MDL(nbOf(h))]));
    const owner = new Map<number, number>();
    const mdlRow = () => rt.poolmon().find((x) => x.type === 'MDL');
    return {
      anyOrder: false,
      alloc(i) {
        const h = holders[i % holders.length]!;
        const s = nblForm ? r.NdisRetreatNetBufferListDataStart(h, DELTA, 0) : r.NdisRetreatNetBufferDataStart(h, DELTA, 0);
        if (s === NDIS_STATUS_RESOURCES) return 0;
        must(s === NDIS_STATUS_SUCCESS, `status ${s}`);
        // The new front: DELTA contiguous bytes in the MDL the retreat prepended.
        const a = r.NdisGetDataBuffer(nbOf(h), DELTA, 0, 1, 0);
        must(a !== 0, 'NdisGetDataBuffer NULL after a retreat');
        owner.set(a, h);
        return a;
      },
      free(a) {
        const h = owner.get(a)!;
        must(r.NdisGetDataBuffer(nbOf(h), DELTA, 0, 1, 0) === a, 'LIFO per NB');
        if (nblForm) r.NdisAdvanceNetBufferListDataStart(h, DELTA, true);
        else r.NdisAdvanceNetBufferDataStart(h, DELTA, true);
        owner.delete(a);
      },
      write: (a, key) => writePattern(rt, a, DELTA, key),
      check: (a, key) => patternError(rt, a, DELTA, key),
      failures: () => rowFailures(rt, 'NdRt', 'Memory') + (mdlRow()?.failures ?? 0),
      outstanding: () => rowOutstanding(rt, 'NdRt', 'Memory'),
      teardown() {
        for (const h of holders) {
          const nb = nbOf(h);
          // Every retreat was undone: the NB is as allocated.
          expect(r.NET_BUFFER_DATA_LENGTH(nb)).toBe(DATA);
          expect(r.NET_BUFFER_DATA_OFFSET(nb)).toBe(0);
          expect(r.NET_BUFFER_FIRST_MDL(nb)).toBe(firstMdl.get(h));
          expect(r.NDIS_MDL_LINKAGE(firstMdl.get(h)!)).toBe(0);
          if (nblForm) r.NdisFreeNetBufferList(h);
          else r.NdisFreeNetBuffer(h);
        }
        if (nblForm) r.NdisFreeNetBufferListPool(pool);
        else r.NdisFreeNetBufferPool(pool);
        expect(mdlRow()?.outstanding ?? 0).toBe(0);
      },
    };
  };
}

/** NdisAllocateMdl over ranges of one 4 KiB block: each MDL's address and length are checked at the end. */
const mdlCase: Factory = (rt) => {
  const r = loose(rt);
  const g = r.NdisAllocateGenericObject(0, T.host, 0);
  const block = r.NdisAllocateMemoryWithTagPriority(g, 4096, T.host, NormalPoolPriority);
  const want = new Map<number, [number, number]>();
  return {
    anyOrder: true,
    alloc(i) {
      const va = block + (i % 64) * 8;
      const len = 1 + (i % 1000);
      const m = r.NdisAllocateMdl(g, va, len);
      if (m) want.set(m, [va, len]);
      return m;
    },
    free(m) {
      r.NdisFreeMdl(m);
      want.delete(m);
    },
    fresh: (m) => (r.NDIS_MDL_LINKAGE(m) === 0 ? null : 'MDL Next not NULL'),
    check(m) {
      const [va, len] = want.get(m)!;
      return r.MmGetMdlVirtualAddress(m) === va && r.MmGetMdlByteCount(m) === len && r.MmGetSystemAddressForMdlSafe(m, NormalPagePriority) === va
        ? null : `MDL 0x${m.toString(16)} changed`;
    },
    failures: () => rt.poolmon().find((x) => x.type === 'MDL')?.failures ?? 0,
    outstanding: () => rt.poolmon().find((x) => x.type === 'MDL')?.outstanding ?? 0,
    shared: 'MDL',
    teardown() {
      r.NdisFreeMemoryWithTagPriority(g, block, T.host);
      r.NdisFreeGenericObject(g);
    },
  };
};

/** NdisAllocateMemoryWithTagPriority of `len` bytes: pattern over the whole block. */
function memoryCase(len: number, tag: number): Factory {
  return (rt) => {
    const r = loose(rt);
    const g = r.NdisAllocateGenericObject(0, T.host, 0);
    return {
      anyOrder: true,
      alloc: () => r.NdisAllocateMemoryWithTagPriority(g, len, tag, NormalPoolPriority),
      free: (a) => r.NdisFreeMemoryWithTagPriority(g, a, tag),
      write: (a, key) => writePattern(rt, a, len, key),
      check: (a, key) => patternError(rt, a, len, key),
      failures: () => rowFailures(rt, tag, 'Memory'),
      outstanding: () => rowOutstanding(rt, tag, 'Memory'),
      teardown: () => r.NdisFreeGenericObject(g),
    };
  };
}

/** NdisAllocateGenericObject (Size 40): reused objects must come back zeroed (README "Memory model"). */
const genericCase: Factory = (rt) => {
  const r = loose(rt);
  const SIZE = 40;
  return {
    anyOrder: true,
    alloc: (i) => r.NdisAllocateGenericObject(i, T.gen, SIZE),
    fresh: (o) => (isZero(rt, o + GOBJ_SIZE, SIZE) ? null : `generic object 0x${o.toString(16)} not zeroed`),
    free: (o) => r.NdisFreeGenericObject(o),
    write: (o, key) => writePattern(rt, o + GOBJ_SIZE, SIZE, key),
    check(o, key) {
      if (rt.bytes(o, 1)[0] !== NDIS_OBJECT_TYPE_DEFAULT) return `generic object 0x${o.toString(16)} header changed`;
      return patternError(rt, o + GOBJ_SIZE, SIZE, key);
    },
    failures: () => rowFailures(rt, T.gen, 'GenericObject'),
    outstanding: () => rowOutstanding(rt, T.gen, 'GenericObject'),
    teardown: () => undefined,
  };
};

/** NdisRegisterProtocolDriver until NDIS_STATUS_RESOURCES (handles are runtime records). */
const protocolCase: Factory = (rt) => {
  const r = loose(rt);
  const chars = protocolChars('ExhaustProt');
  return {
    anyOrder: true,
    alloc(i) {
      const out = box(0xdead);
      const s = r.NdisRegisterProtocolDriver(i, chars, out as Loose);
      if (s === NDIS_STATUS_RESOURCES) {
        must(out.value === 0, 'handle not NULL on RESOURCES');
        return 0;
      }
      must(s === NDIS_STATUS_SUCCESS, `status ${s}`);
      return out.value;
    },
    free: (h) => r.NdisDeregisterProtocolDriver(h),
    failures: () => rootStats(rt, ROOT.PROTOCOLS).failures,
    outstanding: () => rootLive(rt, ROOT.PROTOCOLS),
    teardown: () => expect(rt.pnp()).toBeGreaterThan(0), // the deferred bind work items are harmless
  };
};

/** NdisAllocatePacketPool(Ex) of 8 static descriptors (each pool's descriptors are reserved at creation). */
function packetPoolCase(ex: boolean): Factory {
  return (rt) => {
    const r = loose(rt);
    // The first NdisFreePacketPool creates the packet pools' counter block (see nbPoolCase).
    const st0 = box(0), ph0 = box(0);
    r.NdisAllocatePacketPool(st0, ph0, 1, 0);
    r.NdisFreePacketPool(ph0.value);
    return {
      anyOrder: true,
      alloc() {
        const st = box(0x1234), ph = box(0x1234);
        if (ex) r.NdisAllocatePacketPoolEx(st, ph, 8, 100, 16);
        else r.NdisAllocatePacketPool(st, ph, 8, 16);
        if (st.value === NDIS_STATUS_RESOURCES) {
          must(ph.value === 0, 'pool not NULL on RESOURCES');
          return 0;
        }
        must(st.value === NDIS_STATUS_SUCCESS, `status ${st.value}`);
        return ph.value;
      },
      free: (h) => r.NdisFreePacketPool(h),
      check(h) {
        const info = rt.packetPoolInfo(h as Loose);
        return info.limit === (ex ? 108 : 8) && info.usage === 0 ? null : `packet pool 0x${h.toString(16)}: ${JSON.stringify(info)}`;
      },
      // A failed pool creation is counted nowhere (not in poolmon, not in the root pool).
      failures: () => rootStats(rt, ROOT.PACKET_POOLS).failures,
      outstanding: () => rootLive(rt, ROOT.PACKET_POOLS),
      teardown: () => undefined,
    };
  };
}

/** NdisAllocatePacket from an Ex pool of 4 static and 0xFFFB overflow descriptors: overflow ones until memory runs out. */
const overflowPacketCase: Factory = (rt) => {
  const r = loose(rt);
  const st = box(0), ph = box(0);
  r.NdisAllocatePacketPoolEx(st, ph, 4, 0xffff - 4, 16);
  expect(st.value).toBe(NDIS_STATUS_SUCCESS);
  const pool = ph.value;
  return {
    anyOrder: true,
    alloc() {
      const s = box(0x1234), p = box(0x1234);
      r.NdisAllocatePacket(s, p, pool);
      if (s.value === NDIS_STATUS_RESOURCES) {
        must(p.value === 0, 'packet not NULL on RESOURCES');
        return 0;
      }
      must(s.value === NDIS_STATUS_SUCCESS, `status ${s.value}`);
      return p.value;
    },
    free: (p) => r.NdisFreePacket(p),
    // NdisAllocatePacket zeroes the whole descriptor (decision 15), also a reused one.
    fresh: (p) => (isZero(rt, r.NDIS_PACKET_PROTOCOL_RESERVED(p), 16) && r.NdisGetPoolFromPacket(p) === pool ? null : `packet 0x${p.toString(16)} not zeroed`),
    write: (p, key) => writePattern(rt, r.NDIS_PACKET_PROTOCOL_RESERVED(p), 16, key),
    check: (p, key) => patternError(rt, r.NDIS_PACKET_PROTOCOL_RESERVED(p), 16, key),
    failures: () => rowFailures(rt, 'NDpp', 'Packet'),
    outstanding: () => r.NdisPacketPoolUsage(pool),
    teardown() {
      expect(rt.packetPoolInfo(pool as Loose)).toMatchObject({ usage: 0, overflowInUse: 0 });
      r.NdisFreePacketPool(pool);
    },
  };
};

/** NdisAllocateBufferPool until NDIS_STATUS_RESOURCES. */
const bufferPoolCase: Factory = (rt) => {
  const r = loose(rt);
  return {
    anyOrder: true,
    alloc() {
      const st = box(0x1234), ph = box(0x1234);
      r.NdisAllocateBufferPool(st, ph, 16);
      if (st.value === NDIS_STATUS_RESOURCES) {
        must(ph.value === 0, 'pool not NULL on RESOURCES');
        return 0;
      }
      must(st.value === NDIS_STATUS_SUCCESS, `status ${st.value}`);
      return ph.value;
    },
    free: (h) => r.NdisFreeBufferPool(h),
    failures: () => rootStats(rt, ROOT.BUFFER_POOLS).failures,
    outstanding: () => rootLive(rt, ROOT.BUFFER_POOLS),
    teardown: () => undefined,
  };
};

/** NdisAllocateBuffer over ranges of one block until NDIS_STATUS_FAILURE (not RESOURCES: README). */
const bufferCase: Factory = (rt) => {
  const r = loose(rt);
  const g = r.NdisAllocateGenericObject(0, T.host, 0);
  const block = r.NdisAllocateMemoryWithTagPriority(g, 2048, T.host, NormalPoolPriority);
  const st0 = box(0), bp = box(0);
  r.NdisAllocateBufferPool(st0, bp, 8);
  const want = new Map<number, number>();
  return {
    anyOrder: true,
    alloc(i) {
      const st = box(0x1234), b = box(0x1234);
      const len = 1 + (i % 2000);
      r.NdisAllocateBuffer(st, b, bp.value, block + (i % 48), len);
      if (st.value === NDIS_STATUS_FAILURE) {
        must(b.value === 0, 'buffer not NULL on FAILURE');
        return 0;
      }
      must(st.value === NDIS_STATUS_SUCCESS, `status ${st.value}`);
      want.set(b.value, len);
      return b.value;
    },
    free(b) {
      r.NdisFreeBuffer(b);
      want.delete(b);
    },
    check: (b) => (r.NdisBufferLength(b) === want.get(b) ? null : `buffer 0x${b.toString(16)} length changed`),
    failures: () => rt.poolmon().find((x) => x.type === 'MDL')?.failures ?? 0,
    outstanding: () => rt.poolmon().find((x) => x.type === 'MDL')?.outstanding ?? 0,
    shared: 'MDL',
    teardown() {
      r.NdisFreeBufferPool(bp.value);
      r.NdisFreeMemoryWithTagPriority(g, block, T.host);
      r.NdisFreeGenericObject(g);
    },
  };
};

/** runtime.createRing (capacity 256) until null: each ring holds one descriptor whose cookie is checked. */
const ringCase: Factory = (rt) => {
  const rings = new Map<number, DescriptorRing>();
  const d = new Uint32Array(5);
  return {
    anyOrder: true,
    alloc(i) {
      const ring = rt.createRing({ capacity: 256, name: `r${i}` });
      if (!ring) return 0;
      rings.set(ring.handle, ring);
      return ring.handle;
    },
    free(h) {
      rings.get(h)!.destroy();
      rings.delete(h);
    },
    write(h, key) {
      d.set([h, 1514, 0, 0, key]);
      must(rings.get(h)!.enqueueBurst(d, 1) === 1, 'enqueue into an empty ring');
    },
    check(h, key) {
      const ring = rings.get(h)!;
      if (ring.count() !== 1 || ring.dequeueBurst(d, 1) !== 1) return `ring 0x${h.toString(16)} lost its descriptor`;
      return d[0] === h && d[4] === key ? null : `ring 0x${h.toString(16)} descriptor changed: ${[...d]}`;
    },
    failures: () => rowFailures(rt, 'Ring', 'Ring'),
    outstanding: () => rowOutstanding(rt, 'Ring', 'Ring'),
    teardown: () => undefined,
  };
};

/** runtime.createSlabPool until null (pool descriptors). */
function slabPoolCreateCase(generational: boolean): Factory {
  return (rt) => {
    const pools = new Map<number, SlabPool>();
    const tag = generational ? 'SpgX' : 'SppX';
    // The first destroy creates the tag's counter blocks (see nbPoolCase).
    rt.createSlabPool({ objectSize: 8, tag, handles: generational ? 'generational' : 'pointer' })!.destroy();
    return {
      anyOrder: true,
      alloc(i) {
        const p = rt.createSlabPool({ objectSize: 8 + (i % 16) * 8, tag, handles: generational ? 'generational' : 'pointer' });
        if (!p) return 0;
        pools.set(p.handle, p);
        return p.handle;
      },
      free(h) {
        pools.get(h)!.destroy();
        pools.delete(h);
      },
      check(h) {
        const p = pools.get(h)!;
        return p.stats().outstanding === 0 && p.handles === (generational ? 'generational' : 'pointer') ? null : `SlabPool 0x${h.toString(16)} changed`;
      },
      failures: () => rootStats(rt, ROOT.SLAB_POOLS).failures + (generational ? rowFailures(rt, tag, 'HandleTable') : 0),
      outstanding: () => rootLive(rt, ROOT.SLAB_POOLS),
      teardown: () => undefined,
    };
  };
}

/** SlabPool.alloc (48-byte objects, pointer or generational handles): pattern over the object. */
function slabAllocCase(generational: boolean, cache = true): Factory {
  return (rt) => {
    const SIZE = 48;
    const pool = rt.createSlabPool({ objectSize: SIZE, tag: 'SalX', handles: generational ? 'generational' : 'pointer', cache })!;
    return {
      anyOrder: true,
      alloc: () => pool.alloc(),
      free: (p) => pool.free(p),
      write(p, key) {
        const b = pool.bytes(p);
        for (let k = 0; k < SIZE; k++) b[k] = pat(key, k);
      },
      check(p, key) {
        const b = pool.bytes(p);
        for (let k = 0; k < SIZE; k++) if (b[k] !== pat(key, k)) return `object ${p.toString(16)}+${k} changed`;
        return null;
      },
      failures: () => pool.stats().failures,
      outstanding: () => pool.stats().outstanding,
      teardown: () => pool.destroy(),
    };
  };
}

/** createAdapter on the virtual miniport (explicit hub, 8 RCBs / TCBs) until null. */
const adapterCase: Factory = (rt) => {
  const mp = rt.registerVirtualMiniport({ rcbCount: 8, tcbCount: 8 });
  const hub = rt.createHub('exh')!;
  const adapters = new Map<number, Adapter>();
  return {
    anyOrder: true,
    alloc(i) {
      const a = rt.createAdapter(mp, { name: `vx${i}`, hub });
      if (!a) return 0;
      adapters.set(a.handle, a);
      return a.handle;
    },
    free(h) {
      adapters.get(h)!.remove();
      adapters.delete(h);
    },
    check(h) {
      const a = adapters.get(h)!;
      const c = rt.nicCounters(h);
      return a.state === 'running' && c !== undefined && c.framesSent === 0 ? null : `adapter 0x${h.toString(16)} is ${a.state}`;
    },
    // Whichever of the adapter's allocations failed (handle, NBL pool, NIC, receive NBLs) counts.
    failures: () => allFailures(rt) + rootStats(rt, ROOT.PROTOCOLS).failures + rootStats(rt, ROOT.NBL_POOLS).failures,
    outstanding: () => rt.adapters().length,
    teardown() {
      expect(hub.counters()).toEqual([]);
      hub.destroy();
      loose(rt).NdisMDeregisterMiniportDriver(mp);
    },
  };
};

interface CaseSpec {
  name: string;
  factory: Factory;
  maxMemory: number;
  /** At least this many objects fit (sanity: the budget is not spent on something else). */
  min: number;
}

const CASES: CaseSpec[] = [
  { name: 'NdisAllocateNetBufferPool', factory: nbPoolCase, maxMemory: 2 * MiB, min: 5000 },
  { name: 'NdisAllocateNetBuffer', factory: nbCase, maxMemory: 2 * MiB, min: 5000 },
  { name: 'NdisAllocateNetBufferMdlAndData', factory: mdlAndDataCase, maxMemory: 2 * MiB, min: 2000 },
  { name: 'NdisAllocateNetBufferListPool', factory: nblPoolCase, maxMemory: 2 * MiB, min: 5000 },
  { name: 'NdisAllocateNetBufferList', factory: nblCase, maxMemory: 2 * MiB, min: 1500 },
  { name: 'NdisAllocateNetBufferAndNetBufferList', factory: nbAndNblCase, maxMemory: 2 * MiB, min: 2000 },
  { name: 'NdisAllocateNetBufferListContext', factory: contextCase, maxMemory: 2 * MiB, min: 5000 },
  { name: 'NdisRetreatNetBufferDataStart (allocates an MDL)', factory: retreatCase(false), maxMemory: 2 * MiB, min: 2000 },
  { name: 'NdisRetreatNetBufferListDataStart (allocates an MDL)', factory: retreatCase(true), maxMemory: 2 * MiB, min: 2000 },
  { name: 'NdisAllocateMdl', factory: mdlCase, maxMemory: 2 * MiB, min: 5000 },
  { name: 'NdisAllocateMemoryWithTagPriority (200 bytes)', factory: memoryCase(200, T.mem), maxMemory: 2 * MiB, min: 3000 },
  { name: 'NdisAllocateMemoryWithTagPriority (300 KiB, a slab each)', factory: memoryCase(300 * 1024, T.big), maxMemory: 4 * MiB, min: 5 },
  { name: 'NdisAllocateGenericObject', factory: genericCase, maxMemory: 2 * MiB, min: 5000 },
  { name: 'NdisRegisterProtocolDriver', factory: protocolCase, maxMemory: 1 * MiB, min: 2000 },
  { name: 'NdisAllocatePacketPool', factory: packetPoolCase(false), maxMemory: 2 * MiB, min: 10 },
  { name: 'NdisAllocatePacketPoolEx', factory: packetPoolCase(true), maxMemory: 2 * MiB, min: 10 },
  { name: 'NdisAllocatePacket (overflow descriptors)', factory: overflowPacketCase, maxMemory: 2 * MiB, min: 2000 },
  { name: 'NdisAllocateBufferPool', factory: bufferPoolCase, maxMemory: 1 * MiB, min: 5000 },
  { name: 'NdisAllocateBuffer', factory: bufferCase, maxMemory: 2 * MiB, min: 5000 },
  { name: 'runtime.createRing', factory: ringCase, maxMemory: 2 * MiB, min: 50 },
  { name: 'runtime.createSlabPool (pointer)', factory: slabPoolCreateCase(false), maxMemory: 2 * MiB, min: 5000 },
  { name: 'runtime.createSlabPool (generational)', factory: slabPoolCreateCase(true), maxMemory: 2 * MiB, min: 100 },
  { name: 'SlabPool.alloc (pointer)', factory: slabAllocCase(false), maxMemory: 2 * MiB, min: 5000 },
  { name: 'SlabPool.alloc (generational)', factory: slabAllocCase(true), maxMemory: 2 * MiB, min: 5000 },
  { name: 'createAdapter (virtual miniport)', factory: adapterCase, maxMemory: 2 * MiB, min: 5 },
];

/** Allocates until failure, checking each new object and writing pattern `round * 1e6 + i` into it. */
function round(a: Alloc, n: number): number[] {
  const objs = exhaust((i) => {
    const o = a.alloc(i);
    if (o !== 0) {
      const e = a.fresh?.(o);
      if (e) throw new Error(`object ${i}: ${e}`);
      a.write?.(o, n * 1_000_000 + i);
    }
    return o;
  });
  return objs;
}
function verify(a: Alloc, objs: number[], n: number): void {
  expect(new Set(objs).size, 'objects are distinct').toBe(objs.length);
  a.beginCheck?.();
  const bad: string[] = [];
  objs.forEach((o, i) => {
    const e = a.check?.(o, n * 1_000_000 + i);
    if (e && bad.length < 5) bad.push(`#${i}: ${e}`);
  });
  expect(bad).toEqual([]);
}
function freeAll(a: Alloc, objs: number[]): void {
  for (let i = objs.length - 1; i >= 0; i--) a.free(objs[i]!);
}

// -- one allocator at a time ------------------------------------------------------------------------

describe('each allocator: exhaustion returns the documented failure, and a second round reaches the same count', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const rt = createRuntimeSync({ maxMemory: c.maxMemory });
      const a = c.factory(rt);
      const f0 = a.failures();
      const out0 = a.outstanding();

      const one = round(a, 1);
      expect(one.length).toBeGreaterThanOrEqual(c.min);
      expect(rt.memory.buffer.byteLength).toBeLessThanOrEqual(c.maxMemory);
      const f1 = a.failures();
      if (c.name.startsWith('NdisAllocatePacketPool')) {
        // Observed: a failed NdisAllocatePacketPool(Ex) is counted nowhere (no poolmon row, no root counter).
        expect(f1).toBe(f0);
      } else {
        expect(f1, 'the failure counter rose').toBeGreaterThan(f0);
      }
      // It keeps failing the same way, without throwing.
      expect(a.alloc(one.length)).toBe(0);
      expect(a.alloc(one.length + 1)).toBe(0);
      expect(a.outstanding()).toBe(out0 + one.length);
      verify(a, one, 1); // nothing overlapped
      freeAll(a, one);
      expect(a.outstanding()).toBe(out0);

      const two = round(a, 2);
      expect(two.length, 'second round count').toBe(one.length);
      expect(a.outstanding()).toBe(out0 + two.length);
      verify(a, two, 2);
      freeAll(a, two);
      a.teardown();
      expectNothingOutstanding(rt, a.keeps);
    });
  }
});

// -- rules where a second round differs, and allocators with their own shape ------------------------

describe('pool handles: the first free of a (kind, tag) creates its counter block, a permanent 64 KiB unit', () => {
  it('the counter block of a (kind, tag) is made when its first pool is created, so every round allocates as many pools', () => {
    const rt = createRuntimeSync({ maxMemory: 2 * MiB });
    const r = loose(rt);
    const tag = POOL_TAG('TstX');
    const create = () => r.NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: tag, DataSize: 0 });
    const rounds: number[] = [];
    for (let k = 0; k < 3; k++) {
      const pools = exhaust(create);
      rounds.push(pools.length);
      const s = rootStats(rt, ROOT.NB_POOLS);
      // Every descriptor slab is full at exhaustion: the count is slabs × descriptors per slab.
      expect(pools.length % s.slabs).toBe(0);
      const tagSetUnits = rootStats(rt, ROOT.TAG_SETS).slabBytes / UNIT;
      for (const p of pools) r.NdisFreeNetBufferPool(p);
      const grew = rootStats(rt, ROOT.TAG_SETS).slabBytes / UNIT - tagSetUnits;
      expect(grew).toBe(0); // the frees need no memory: the block exists from the first creation on
    }
    expect(rounds[0]).toBeGreaterThan(100);
    expect(rounds[1]).toBe(rounds[0]);
    expect(rounds[2]).toBe(rounds[1]);
  });

  // Regression test for a bug fixed since (README "Limits": "A pool's peak and per-tag counters are exact"): the counter block is
  // allocated lazily by the pool's free (assembly/netbuf.ts retire → tagSetFind(create)); when
  // memory is exhausted at that moment the freed pool's allocs/frees/peak/failures are silently
  // dropped ("Statistics only: dropped if out of memory") and its poolmon row disappears.
  it('a pool freed while memory is exhausted keeps its per-tag poolmon counters', () => {
    const rt = createRuntimeSync({ maxMemory: 2 * MiB });
    const r = loose(rt);
    const tag = POOL_TAG('LstX');
    const pool = r.NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: tag, DataSize: 0 });
    const nbs = Array.from({ length: 100 }, () => r.NdisAllocateNetBuffer(pool, 0, 0, 0));
    for (const nb of nbs) r.NdisFreeNetBuffer(nb);
    expect(row(rt, tag, 'NB')).toMatchObject({ allocs: 100, frees: 100, peak: 100 });
    const fill = rt.createSlabPool({ objectSize: 64, tag: 'FilX' })!;
    const objs = exhaust(() => fill.alloc());
    r.NdisFreeNetBufferPool(pool); // memory is exhausted now
    for (const o of objs) fill.free(o);
    fill.destroy();
    expect(row(rt, tag, 'NB'), 'the NB row of the freed pool').toMatchObject({ allocs: 100, frees: 100, peak: 100, outstanding: 0 });
  });
});

describe('SlabPool.allocMany / freeMany', () => {
  for (const handles of ['pointer', 'generational'] as const) {
    for (const batchKind of ['u32Batch', 'plain Uint32Array'] as const) {
      it(`${handles} handles, ${batchKind}: allocMany returns fewer at exhaustion, never throws, and round 2 matches`, () => {
        const rt = createRuntimeSync({ maxMemory: 2 * MiB });
        const SIZE = 40;
        const pool = rt.createSlabPool({ objectSize: SIZE, tag: 'AmnX', handles })!;
        const batch = batchKind === 'u32Batch' ? rt.u32Batch(256) : new Uint32Array(256);
        const roundMany = (key: number): number[] => {
          const got: number[] = [];
          for (let calls = 0; ; calls++) {
            expect(calls).toBeLessThan(10_000);
            const k = pool.allocMany(batch);
            expect(k).toBeLessThanOrEqual(256);
            for (let i = 0; i < k; i++) got.push(batch[i]!);
            if (k < 256) break;
          }
          expect(pool.allocMany(batch)).toBe(0); // still exhausted
          got.forEach((h, i) => writePattern(rt, pool.ptr(h), SIZE, key + i));
          return got;
        };
        const check = (hs: number[], key: number) => {
          const bad = hs.map((h, i) => patternError(rt, pool.ptr(h), SIZE, key + i)).filter((e) => e !== null);
          expect(bad.slice(0, 3)).toEqual([]);
        };
        const freeMany = (hs: number[]) => {
          for (let i = 0; i < hs.length; i += 256) {
            const part = hs.slice(i, i + 256);
            batch.set(part);
            pool.freeMany(batch, part.length);
          }
        };
        const one = roundMany(1_000_000);
        expect(one.length).toBeGreaterThan(10_000);
        expect(new Set(one).size).toBe(one.length);
        check(one, 1_000_000);
        const s = pool.stats();
        expect(s.outstanding).toBe(one.length);
        expect(s.failures).toBeGreaterThan(0);
        freeMany(one);
        expect(pool.stats().outstanding).toBe(0);
        const two = roundMany(2_000_000);
        expect(two.length).toBe(one.length);
        check(two, 2_000_000);
        freeMany(two);
        pool.destroy();
        expectNothingOutstanding(rt);
      });
    }
  }

  it('a generational pool stops where its handle table cannot double (2^k - 1 objects), before the slab memory is spent', () => {
    const rt = createRuntimeSync({ maxMemory: 4 * MiB });
    const pool = rt.createSlabPool({ objectSize: 64, tag: 'GtbX', handles: 'generational' })!;
    const hs = exhaust(() => pool.alloc());
    // Index 0 is never issued: a full table of 2^k entries holds 2^k - 1 objects.
    expect(Math.log2(hs.length + 1) % 1).toBe(0);
    expect(hs.length).toBe(2 ** 15 - 1); // 4 MiB, 64-byte objects: a 2^16-entry table (512 KiB) does not fit
    expect(row(rt, 'GtbX', 'HandleTable')!.failures).toBeGreaterThan(0);
    // A pointer pool of the same size in the same runtime still finds slab memory.
    const plain = rt.createSlabPool({ objectSize: 8, tag: 'PtrX' })!;
    expect(plain.alloc()).not.toBe(0);
  });
});

describe('NDIS 5 static packet descriptors', () => {
  it('are reserved at pool creation: they all allocate after memory ran out, then NdisAllocatePacket gives RESOURCES at the limit', () => {
    const rt = createRuntimeSync({ maxMemory: 2 * MiB });
    const r = loose(rt);
    const st = box(0), ph = box(0);
    r.NdisAllocatePacketPool(st, ph, 64, 16);
    expect(st.value).toBe(NDIS_STATUS_SUCCESS);
    const fill = rt.createSlabPool({ objectSize: 64, tag: 'FilX' })!;
    const objs = exhaust(() => fill.alloc());
    const pk = box(0);
    const packets = exhaust(() => {
      r.NdisAllocatePacket(st, pk, ph.value);
      expect(st.value).toBe(pk.value ? NDIS_STATUS_SUCCESS : NDIS_STATUS_RESOURCES);
      return pk.value;
    });
    expect(packets.length).toBe(64);
    expect(rt.packetPoolInfo(ph.value as Loose)).toMatchObject({ usage: 64, staticInUse: 64, overflowInUse: 0, limit: 64 });
    for (const p of packets) r.NdisFreePacket(p);
    r.NdisFreePacketPool(ph.value);
    for (const o of objs) fill.free(o);
  });
});

describe('runtime.u32Batch', () => {
  it('throws a RangeError (not NULL, not an NdisBugCheck) when the budget cannot hold a batch; earlier batches stay intact', () => {
    const rt = createRuntimeSync({ maxMemory: 2 * MiB });
    const batches: Uint32Array[] = [];
    let err: unknown;
    for (let i = 0; i < 1000; i++) {
      try {
        const b = rt.u32Batch(16384); // 64 KiB
        b.fill(i * 7 + 1);
        batches.push(b);
      } catch (e) {
        err = e;
        break;
      }
    }
    // Observed and documented only in src (pool.ts makeBatch): every other allocator returns NULL.
    expect(err).toBeInstanceOf(RangeError);
    expect(err).not.toBeInstanceOf(NdisBugCheck);
    expect(batches.length).toBeGreaterThan(10);
    expect(() => rt.u32Batch(16384)).toThrow(RangeError);
    // Smaller batches may still fit in the remaining pages; slab allocators fail by NULL.
    const pool = rt.createSlabPool({ objectSize: 64 });
    if (pool) exhaust(() => pool.alloc());
    batches.forEach((b, i) => expect(b.every((x) => x === i * 7 + 1), `batch ${i}`).toBe(true));
    // Batches are never freed (they live as long as the runtime, even across reset()).
    rt.reset();
    expect(() => rt.u32Batch(16384)).toThrow(RangeError);
  });
});

describe('createAdapter (virtual miniport) with the default hub', () => {
  // Regression test for a bug fixed since (src/vnic.ts InitializeHandlerEx): `o.hub ?? (defaultHub ??= createHub(...))` is null when
  // the hub record cannot be allocated, and the `instanceof Hub` check then throws the PARAM bug
  // check "options.hub must be a Hub of this runtime (got undefined)" instead of the miniport
  // returning NDIS_STATUS_RESOURCES (createAdapter → null). README: exhaustion never throws.
  it('returns null (no throw) when memory runs out at the default hub', () => {
    const rt = createRuntimeSync({ maxMemory: 2 * MiB });
    const mp = rt.registerVirtualMiniport({ rcbCount: 2, tcbCount: 2 });
    const fill = rt.createSlabPool({ objectSize: 64, tag: 'FilX' })!;
    const objs = exhaust(() => fill.alloc());
    // The adapter handle still fits in the handle slab; the hub record ('vHub') does not.
    let a: Adapter | null | undefined;
    let thrown: unknown;
    try {
      a = rt.createAdapter(mp, { name: 'late' });
    } catch (e) {
      thrown = e;
    }
    expect(thrown, `createAdapter threw: ${(thrown as Error | undefined)?.message}`).toBeUndefined();
    expect(a).toBeNull();
    expect(rt.adapters()).toEqual([]);
    for (const o of objs) fill.free(o);
    // With memory back the same call works.
    const b = rt.createAdapter(mp, { name: 'late' })!;
    expect(b.state).toBe('running');
    b.remove();
  });
});

// -- several allocators at once ------------------------------------------------------------------

type Mixed = [string, Factory][];

/** Allocators of the mixed round whose slabs are one unit and whose bookkeeping never grows: exact counts. */
const MIXED: Mixed = [
  ['NB', nbCase],
  ['MdlAndData', mdlAndDataCase],
  ['NBL', nblCase],
  ['NB+NBL', nbAndNblCase],
  ['MDL', mdlCase],
  ['memory 200', memoryCase(200, T.mem)],
  ['generic', genericCase],
  ['overflow packet', overflowPacketCase],
  ['buffer', bufferCase],
  ['ring', ringCase],
  ['SlabPool', slabAllocCase(false)],
];
/**
 * Plus a generational SlabPool (its handle table grows) and 300 KiB blocks (5 contiguous units
 * each). The pointer SlabPool here has no cache: this run counts units exactly under the page
 * source's rules, and which slab a cache's objects keep busy when memory runs out depends on the
 * order of the rounds (test/local-cache.test.ts has the cache's own accounting).
 */
const MIXED_GROWING: Mixed = [
  ...MIXED.map(([name, f]): Mixed[number] => [name, name === 'SlabPool' ? slabAllocCase(false, false) : f]),
  ['SlabPool gen', slabAllocCase(true)],
  ['memory 300 KiB', memoryCase(300 * 1024, T.big)],
];

interface MixedRound {
  /** Objects per allocator. */
  n: number[];
  /** memoryUsage() when memory ran out, and after everything was freed. */
  full: ReturnType<NdisRuntime['memoryUsage']>;
  freed: ReturnType<NdisRuntime['memoryUsage']>;
}

/**
 * Three rounds: allocators picked by prng(seed) (the same interleaving every round; an allocator
 * that fails leaves the round, nothing is freed meanwhile) until all failed, every pattern
 * verified, then everything freed in a random order (another seed per round).
 */
function mixedRounds(rt: NdisRuntime, mixed: Mixed, allocs: Alloc[], seed: number): MixedRound[] {
  const base = allocs.map((a) => a.outstanding());
  const rounds: MixedRound[] = [];
  for (let k = 0; k < 3; k++) {
    const pick = prng(seed);
    const live: [number, number, number][] = []; // [allocator, object, key]
    const active = allocs.map((_, i) => i);
    const n = allocs.map(() => 0);
    const f0 = allocFailures(allocs);
    while (active.length) {
      const j = Math.floor(pick() * active.length);
      const i = active[j]!;
      const a = allocs[i]!;
      const o = a.alloc(n[i]!);
      if (o === 0) {
        active.splice(j, 1);
        continue;
      }
      const e = a.fresh?.(o);
      if (e) throw new Error(`${mixed[i]![0]}: ${e}`);
      const key = (k + 1) * 1_000_000 + live.length;
      a.write?.(o, key);
      live.push([i, o, key]);
      n[i]!++;
    }
    expect(allocFailures(allocs)).toBeGreaterThan(f0);
    expectOutstanding(mixed, allocs, base, n);
    allocs.forEach((a) => a.beginCheck?.());
    const bad: string[] = [];
    for (const [i, o, key] of live) {
      const e = allocs[i]!.check?.(o, key);
      if (e && bad.length < 5) bad.push(`${mixed[i]![0]}: ${e}`);
    }
    expect(bad).toEqual([]);
    const full = rt.memoryUsage();
    for (const [i, o] of shuffle(live, prng(seed * 31 + k))) allocs[i]!.free(o);
    expectOutstanding(mixed, allocs, base, allocs.map(() => 0));
    expectUnitsAccounted(rt);
    rounds.push({ n, full, freed: rt.memoryUsage() });
  }
  return rounds;
}

/**
 * No unit is lost: every unit the page source owns is free, or in a slab of a live pool (or of
 * one of the runtime's root pools), and every pool without live objects holds at most its
 * current slab and one spare, both empty.
 */
function expectUnitsAccounted(rt: NdisRuntime): void {
  const u = rt.memoryUsage();
  const pools = rt.memoryReport().pools;
  let inSlabs = 0;
  for (const p of pools) {
    inSlabs += p.slabBytes;
    if (p.live === 0) {
      expect(p.slabs, `${p.tag}/${p.type} keeps at most current + spare`).toBeLessThanOrEqual(2);
      expect(p.emptySlabs).toBe(p.slabs);
    }
  }
  for (const r of [ROOT.NB_POOLS, ROOT.SLAB_POOLS, ROOT.MEM_POOLS, ROOT.TAG_SETS, ROOT.PROTOCOLS, ROOT.NBL_POOLS, ROOT.PACKET_POOLS, ROOT.BUFFER_POOLS, ROOT.LCACHES]) {
    inSlabs += rootStats(rt, r).slabBytes;
  }
  expect(u.freeSlabBytes + inSlabs).toBe(u.slabBytes);
}

/** Each allocator's live count is its base + `n`; allocators sharing a counter are summed. */
function expectOutstanding(mixed: Mixed, allocs: Alloc[], base: number[], n: number[]): void {
  const shared = new Map<string, number>();
  allocs.forEach((a, i) => {
    if (a.shared === undefined) expect(a.outstanding(), mixed[i]![0]).toBe(base[i]! + n[i]!);
    else shared.set(a.shared, (shared.get(a.shared) ?? 0) + n[i]!);
  });
  for (const [key, sum] of shared) {
    const b = allocs.findIndex((x) => x.shared === key);
    expect(allocs[b]!.outstanding(), key).toBe(base[b]! + sum);
  }
}

function allocFailures(allocs: Alloc[]): number {
  return allocs.reduce((s, a) => s + a.failures(), 0);
}

const sum = (x: number[]) => x.reduce((s, v) => s + v, 0);

describe('mixed round: interleaved allocators until memory runs out, random frees, three times', () => {
  for (const seed of [1, 0xc0ffee]) {
    it(`seed ${seed}: every round allocates exactly as many objects of each kind, and they never overlap`, () => {
      const rt = createRuntimeSync({ maxMemory: 4 * MiB });
      const allocs = MIXED.map(([, f]) => f(rt));
      const rounds = mixedRounds(rt, MIXED, allocs, seed);
      expect(sum(rounds[0]!.n)).toBeGreaterThan(5000);
      expect(rounds[1]!.n).toEqual(rounds[0]!.n);
      expect(rounds[2]!.n).toEqual(rounds[0]!.n);
      expect(rounds[0]!.full.freeSlabBytes).toBe(0); // the budget was spent
      expect(rounds.map((x) => x.freed)).toEqual([rounds[0]!.freed, rounds[0]!.freed, rounds[0]!.freed]);
      for (const a of allocs) a.teardown();
      expectNothingOutstanding(rt);
    });
  }

  it('with a generational SlabPool and 300 KiB blocks: units are conserved; counts move only as the documented rules say', () => {
    const rt = createRuntimeSync({ maxMemory: 4 * MiB });
    const allocs = MIXED_GROWING.map(([, f]) => f(rt));
    const gen = MIXED_GROWING.findIndex(([name]) => name === 'SlabPool gen');
    const tables = () => rt.memoryReport().pools.filter((p) => p.type === 'HandleTable').length;
    const t0 = tables();
    const rounds = mixedRounds(rt, MIXED_GROWING, allocs, 7);
    // Every round spends the whole budget (the page source owns the same units).
    for (const x of rounds) {
      expect(x.full.slabBytes).toBe(rounds[0]!.full.slabBytes);
      expect(x.full.freeSlabBytes).toBe(0);
    }
    // A generational pool reuses a freed index only once 1024 are free (README): while fewer
    // were ever freed, each round takes new indices, so its handle table doubles every round
    // (2^k - 1 handles) and each outgrown table leaves its (tag, size class) memory pool with
    // one empty current slab: one 64 KiB unit fewer for everyone per round.
    const g = rounds.map((x) => x.n[gen]!);
    expect(g[1]! + 1).toBe(2 * (g[0]! + 1));
    expect(g[2]! + 1).toBe(2 * (g[1]! + 1));
    expect(tables() - t0).toBe(3);
    expect(rounds[1]!.freed.freeSlabBytes).toBe(rounds[0]!.freed.freeSlabBytes - UNIT);
    expect(rounds[2]!.freed.freeSlabBytes).toBe(rounds[1]!.freed.freeSlabBytes - UNIT);
    for (const a of allocs) a.teardown();
    expectNothingOutstanding(rt);
  });
});

// -- retention by the runtime's implicit pools ------------------------------------------------------

describe('tagged memory: every (kind, tag, size class) is a pool of its own that keeps its empty current slab', () => {
  // Observed; README "Memory model" says emptied slabs go back to the page source, each pool
  // keeping one empty slab as a spare. These pools are created implicitly per tag and size class
  // and never freed, so freeing every block can leave most of the budget in empty slabs.
  it('one 100-byte block under each of 30 tags, all freed: 30 units stay held, the page source gets none back', () => {
    const rt = createRuntimeSync({ maxMemory: 4 * MiB });
    const r = loose(rt);
    const g = r.NdisAllocateGenericObject(0, T.host, 0);
    const tags = Array.from({ length: 30 }, (_, i) => POOL_TAG(`T${String(i).padStart(2, '0')}X`.slice(0, 4)));
    const blocks = tags.map((t) => r.NdisAllocateMemoryWithTagPriority(g, 100, t, NormalPoolPriority));
    expect(blocks.every((b) => b !== 0)).toBe(true);
    const before = rt.memoryUsage().freeSlabBytes;
    blocks.forEach((b, i) => r.NdisFreeMemoryWithTagPriority(g, b, tags[i]!));
    expect(rt.memoryUsage().freeSlabBytes).toBe(before);
    const held = rt.memoryReport().pools.filter((p) => p.type === 'Memory' && p.live === 0 && p.slabs > 0);
    expect(held.length).toBe(30);
    expect(held.every((p) => p.slabs === 1 && p.emptySlabs === 1)).toBe(true);
    expectUnitsAccounted(rt);
    // The held units serve no other pool: a SlabPool gets ~30 units' worth fewer objects.
    const fresh = createRuntimeSync({ maxMemory: 4 * MiB });
    loose(fresh).NdisAllocateGenericObject(0, T.host, 0);
    const count = (x: NdisRuntime) => {
      const pool = x.createSlabPool({ objectSize: 64, tag: 'CntX' })!;
      return exhaust(() => pool.alloc()).length;
    };
    const perUnit = Math.floor((UNIT - 64) / 67); // 64-byte slots + 3 bytes of metadata each
    expect(count(fresh) - count(rt)).toBeGreaterThanOrEqual(29 * perUnit);
  });
});

// -- fault injection -----------------------------------------------------------------------------

describe('fault injection (probability 0.3): every allocator fails only as exhaustion does', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const rt = createRuntimeSync({ maxMemory: 4 * MiB });
      const a = c.factory(rt);
      const base = a.outstanding();
      const rnd = prng(c.name.length * 7919);
      rt.injectFaults({ probability: 0.3, seed: (0x9e3779b9 ^ (c.name.length * 0x10001)) >>> 0 });
      const injected0 = rt.faultsInjected();
      const held: [number, number][] = [];
      let failed = 0;
      for (let i = 0; i < 200; i++) {
        if (a.anyOrder && held.length && rnd() < 0.25) {
          const [o] = held.splice(Math.floor(rnd() * held.length), 1)[0]!;
          a.free(o);
          continue;
        }
        const o = a.alloc(i); // never throws: NULL / RESOURCES / FAILURE only
        if (o === 0) {
          failed++;
          continue;
        }
        const e = a.fresh?.(o);
        if (e) throw new Error(e);
        a.write?.(o, 5_000_000 + i);
        held.push([o, 5_000_000 + i]);
      }
      expect(failed).toBeGreaterThan(0);
      expect(rt.faultsInjected()).toBeGreaterThan(injected0);
      // Consistent: the runtime counts exactly the objects held.
      expect(a.outstanding()).toBe(base + held.length);
      a.beginCheck?.();
      const bad = held.map(([o, key]) => a.check?.(o, key) ?? null).filter((e) => e !== null);
      expect(bad.slice(0, 3)).toEqual([]);
      rt.injectFaults({ probability: 0 });
      for (let i = held.length - 1; i >= 0; i--) a.free(held[i]![0]);
      expect(a.outstanding()).toBe(base);
      a.teardown();
      expectNothingOutstanding(rt, a.keeps);
    });
  }
});

// -- verifier mode -----------------------------------------------------------------------------------

describe('verifier mode: exhaustion still returns NULL; the quarantine holds freed memory back', () => {
  for (const quarantine of [16, 1024, 4096]) {
    it(`NdisAllocateNetBufferMdlAndData, quarantine ${quarantine}: round 2 = round 1 − min(round 1, quarantine)`, () => {
      const rt = createRuntimeSync({ verifier: true, maxMemory: 2 * MiB, quarantine });
      const r = loose(rt);
      const pool = r.NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: T.nbData, DataSize: 200 });
      const data = (nb: number) => r.MmGetSystemAddressForMdlSafe(r.NET_BUFFER_FIRST_MDL(nb), NormalPagePriority);
      const one = exhaust(() => r.NdisAllocateNetBufferMdlAndData(pool));
      expect(one.length).toBeGreaterThan(2000);
      expect(rowFailures(rt, T.nbData, 'NB')).toBe(1);
      const addrs = one.map(data);
      one.forEach((nb, i) => writePattern(rt, addrs[i]!, 200, i));
      for (const nb of one) r.NdisFreeNetBuffer(nb);
      const held = Math.min(one.length, quarantine);
      expect(rt.quarantined()).toBe(held);
      // The last `held` frees are quarantined: poisoned with 0xDD, and still bug checks to touch.
      expect(rt.bytes(addrs[one.length - 1]!, 200).every((x) => x === 0xdd)).toBe(true);
      expect(() => r.NET_BUFFER_DATA_LENGTH(one[one.length - 1]!)).toThrow(NdisBugCheck);
      const two = exhaust(() => r.NdisAllocateNetBufferMdlAndData(pool));
      expect(two.length).toBe(one.length - held);
      // Nothing handed out in round 2 is a quarantined object.
      const quarantined = new Set(one.slice(one.length - held));
      expect(two.filter((nb) => quarantined.has(nb))).toEqual([]);
      two.forEach((nb) => writePattern(rt, data(nb), 200, nb));
      expect(two.map((nb) => patternError(rt, data(nb), 200, nb)).filter((e) => e !== null)).toEqual([]);
      for (const nb of two) r.NdisFreeNetBuffer(nb);
      // A quarantine longer than the objects ever freed never gives memory back: with 4096 the
      // runtime is out of memory although nothing is allocated (README "Verifier mode").
      if (quarantine > one.length) {
        expect(two.length).toBe(0);
        expect(rt.createSlabPool({ objectSize: 64 })?.alloc() ?? 0).toBe(0);
      }
      r.NdisFreeNetBufferPool(pool); // takes the pool's objects out of the quarantine…
      expect(rt.quarantined()).toBe(1); // …and the pool descriptor itself goes in (root pools quarantine too)
      expectNothingOutstanding(rt);
    });
  }

  it('the verifier costs budget of its own: a verifier runtime fits fewer objects than a plain one', () => {
    const count = (verifier: boolean) => {
      const rt = createRuntimeSync({ verifier, maxMemory: 2 * MiB });
      const pool = loose(rt).NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: T.nbData, DataSize: 200 });
      return exhaust(() => loose(rt).NdisAllocateNetBufferMdlAndData(pool)).length;
    };
    const plain = count(false);
    const verified = count(true);
    expect(verified).toBeLessThan(plain);
    expect(verified).toBeGreaterThan(plain * 0.9);
  });

  it('every allocator of the NDIS mirror returns NULL / RESOURCES at exhaustion in verifier mode too (a SlabPool fills memory)', () => {
    const rt = createRuntimeSync({ verifier: true, maxMemory: 2 * MiB });
    const r = loose(rt);
    const prot = registerProtocol(rt);
    const nbPool = r.NdisAllocateNetBufferPool(prot, { Header: HDR1, PoolTag: T.nb, DataSize: 0 });
    const nblPool = r.NdisAllocateNetBufferListPool(prot, nblPoolParams(T.nbl, 64));
    const nbl = r.NdisAllocateNetBufferList(nblPool, 0, 0);
    const block = r.NdisAllocateMemoryWithTagPriority(prot, 256, T.mem, NormalPoolPriority);
    const fill = rt.createSlabPool({ objectSize: 16, tag: 'FilX' })!;
    const objs = exhaust(() => fill.alloc());
    // Fill every partly used slab too: allocate from each allocator until it fails.
    const nbs = exhaust(() => r.NdisAllocateNetBuffer(nbPool, 0, 0, 0));
    const nbls = exhaust(() => r.NdisAllocateNetBufferList(nblPool, 0, 0));
    const mems = exhaust(() => r.NdisAllocateMemoryWithTagPriority(prot, 256, T.mem, NormalPoolPriority));
    const mdls = exhaust(() => r.NdisAllocateMdl(prot, block, 16));
    const gens = exhaust(() => r.NdisAllocateGenericObject(0, T.gen, 8));
    // Pool descriptors come from partly used descriptor slabs until those are full too.
    const nbPools = exhaust(() => r.NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: T.nbPool, DataSize: 0 }));
    const nblPools = exhaust(() => r.NdisAllocateNetBufferListPool(0, nblPoolParams(T.nblPool, 0)));
    expect(r.NdisAllocateNetBufferListContext(nbl, 4096, 0, T.ctx)).toBe(NDIS_STATUS_RESOURCES);
    expect(r.NdisRetreatNetBufferListDataStart(nbl, 4096, 0)).toBe(NDIS_STATUS_RESOURCES);
    const st = box(0), h = box(0);
    r.NdisAllocatePacketPool(st, h, 8, 16);
    expect(st.value).toBe(NDIS_STATUS_RESOURCES);
    expect(rt.createRing({ capacity: 1024 })).toBeNull();
    expect(rt.createSlabPool({ objectSize: 4096 })?.alloc() ?? 0).toBe(0);
    for (const p of nblPools) r.NdisFreeNetBufferListPool(p);
    for (const p of nbPools) r.NdisFreeNetBufferPool(p);
    // Everything frees cleanly; the quarantine then holds the last 1024 frees.
    for (const x of gens) r.NdisFreeGenericObject(x);
    for (const x of mdls) r.NdisFreeMdl(x);
    for (const x of mems) r.NdisFreeMemoryWithTagPriority(prot, x, T.mem);
    for (const x of nbls) r.NdisFreeNetBufferList(x);
    for (const x of nbs) r.NdisFreeNetBuffer(x);
    for (const o of objs) fill.free(o);
    expect(rt.quarantined()).toBe(1024);
    r.NdisFreeMemoryWithTagPriority(prot, block, T.mem);
    r.NdisFreeNetBufferList(nbl);
    r.NdisFreeNetBufferListPool(nblPool);
    r.NdisFreeNetBufferPool(nbPool);
    r.NdisDeregisterProtocolDriver(prot);
    fill.destroy();
    expect(rt.leaks()).toEqual([]);
    expectNothingOutstanding(rt);
  });
});
