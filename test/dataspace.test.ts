/**
 * The NET_BUFFER data space (src/ndis/dataspace.ts over assembly/dataspace.ts; NDIS-SPEC §2.3,
 * §2.4, §5; DESIGN decisions 1-4, 14, 21): retreat and advance (NB and NBL forms, with and
 * without MDL handlers), NdisAdjustNetBufferCurrentMdl, NdisGetDataBuffer,
 * NdisCopyFromNetBufferToNetBuffer and NdisQueryNetBufferPhysicalCount, with exact field values,
 * byte contents and poolmon counters. Every test runs on a fresh runtime.
 */
import { describe, it, expect, beforeEach } from 'vitest';
import { createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import {
  POOL_TAG,
  NDIS_STATUS_SUCCESS,
  NDIS_STATUS_RESOURCES,
  NDIS_STATUS_FAILURE,
  NormalPoolPriority,
  NormalPagePriority,
} from '../build/ts/ndis/constants.js';
import { BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION, RULE_P1 } from '../build/ts/errors.js';
import { type Loose, type LooseRt, loose, nbPool, expectBug, row } from './helpers.js';

const C4 = BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION;
/** The default retreat allocator's tag as poolmon shows it, and the runtime's MDL tag. */
const NDRT = 'NdRt';
const MDLT = 'Mdl ';
const BUF_TAG = POOL_TAG('fuBs'); // 'sBuf'
const HDL_TAG = POOL_TAG('ldHs'); // 'sHdl': buffers of the tests' MDL handlers
const PAGE_4K = 4096;

let rt: NdisRuntime;
let r: LooseRt;
let g: number;
let pool: number;

beforeEach(() => {
  rt = createRuntimeSync();
  r = loose(rt);
  g = r.NdisAllocateGenericObject(0, POOL_TAG('Gen '), 0);
  pool = nbPool(rt, 0, POOL_TAG('NBsD'));
});

// -- helpers ---------------------------------------------------------------------------------------

/** Outstanding count of a poolmon row (0 when the row is absent). */
function out(tag: string | number, type: string): number {
  return row(rt, tag, type)?.outstanding ?? 0;
}
function allocs(tag: string | number, type: string): number {
  return row(rt, tag, type)?.allocs ?? 0;
}

/** Byte `i` of the test pattern `salt`. */
const pat = (salt: number, i: number) => (i * 31 + salt * 7 + 1) & 0xff;

/** `len` bytes of tagged memory filled with the pattern of `salt`. */
function buffer(len: number, salt = 1, tag = BUF_TAG): number {
  const va = r.NdisAllocateMemoryWithTagPriority(g, Math.max(len, 1), tag, NormalPoolPriority);
  expect(va).not.toBe(0);
  const b = rt.bytes(va, Math.max(len, 1));
  for (let i = 0; i < b.length; i++) b[i] = pat(salt, i);
  return va;
}

/** MDLs over separate buffers of `sizes` (buffer k holds the pattern of salt k + 1), chained in order. */
function chain(sizes: number[]): { mdls: number[]; vas: number[] } {
  const vas = sizes.map((s, k) => buffer(s, k + 1));
  const mdls = sizes.map((s, k) => r.NdisAllocateMdl(g, vas[k]!, s));
  for (let k = 0; k + 1 < mdls.length; k++) r.NDIS_MDL_LINKAGE_SET(mdls[k]!, mdls[k + 1]!);
  return { mdls, vas };
}

/** The logical bytes of a chain (every MDL's bytes end to end). */
function logical(mdls: number[]): number[] {
  const outB: number[] = [];
  for (const m of mdls) outB.push(...rt.bytes(r.MmGetSystemAddressForMdlSafe(m, NormalPagePriority), Math.max(r.MmGetMdlByteCount(m), 1)).subarray(0, r.MmGetMdlByteCount(m)));
  return outB;
}

/** The MDLs of an NB's chain, by NET_BUFFER_FIRST_MDL / NDIS_MDL_LINKAGE. */
function mdlsOf(nb: number): number[] {
  const a: number[] = [];
  for (let m = r.NET_BUFFER_FIRST_MDL(nb); m !== 0; m = r.NDIS_MDL_LINKAGE(m)) {
    a.push(m);
    if (a.length > 10000) throw new Error('chain too long');
  }
  return a;
}

/** The used bytes of an NB, read by walking its MDL chain from DataOffset. */
function used(nb: number): number[] {
  let off = r.NET_BUFFER_DATA_OFFSET(nb);
  let left = r.NET_BUFFER_DATA_LENGTH(nb);
  const a: number[] = [];
  for (let m = r.NET_BUFFER_FIRST_MDL(nb); m !== 0 && left > 0; m = r.NDIS_MDL_LINKAGE(m)) {
    const bc = r.MmGetMdlByteCount(m);
    if (off >= bc) {
      off -= bc;
      continue;
    }
    const k = Math.min(bc - off, left);
    a.push(...rt.bytes(r.MmGetSystemAddressForMdlSafe(m, NormalPagePriority) + off, k));
    off = 0;
    left -= k;
  }
  expect(left, 'the chain holds DataLength used bytes').toBe(0);
  return a;
}

/** The five data-space fields of an NB. */
function fields(nb: number) {
  return {
    MdlChain: r.NET_BUFFER_FIRST_MDL(nb),
    CurrentMdl: r.NET_BUFFER_CURRENT_MDL(nb),
    CurrentMdlOffset: r.NET_BUFFER_CURRENT_MDL_OFFSET(nb),
    DataOffset: r.NET_BUFFER_DATA_OFFSET(nb),
    DataLength: r.NET_BUFFER_DATA_LENGTH(nb),
  };
}

/** Writes `bytes` at used position `pos` of an NB, MDL by MDL. */
function writeUsed(nb: number, pos: number, bytes: number[]): void {
  let off = r.NET_BUFFER_DATA_OFFSET(nb) + pos;
  let i = 0;
  for (let m = r.NET_BUFFER_FIRST_MDL(nb); m !== 0 && i < bytes.length; m = r.NDIS_MDL_LINKAGE(m)) {
    const bc = r.MmGetMdlByteCount(m);
    if (off >= bc) {
      off -= bc;
      continue;
    }
    const k = Math.min(bc - off, bytes.length - i);
    rt.bytes(r.MmGetSystemAddressForMdlSafe(m, NormalPagePriority) + off, k).set(bytes.slice(i, i + k));
    i += k;
    off = 0;
  }
  expect(i).toBe(bytes.length);
}

/** An MDL handler that allocates (tagged memory + NdisAllocateMdl) `extra` more bytes than asked, recording calls. */
function allocHandler(extra = 0) {
  const calls: number[] = [];
  const given: number[] = [];
  const h = (b: { value: number }) => {
    calls.push(b.value);
    const len = b.value + extra;
    const va = buffer(len, 99, HDL_TAG);
    const m = r.NdisAllocateMdl(g, va, len);
    given.push(m);
    return m;
  };
  return { h: h as Loose, calls, given };
}

/** A free handler that records the MDLs it gets and frees them (MDL, then its buffer). */
function freeHandler() {
  const got: number[] = [];
  const h = (m: number) => {
    got.push(m);
    expect(r.NDIS_MDL_LINKAGE(m), 'an MDL handed back is unlinked').toBe(0);
    const va = r.MmGetMdlVirtualAddress(m);
    r.NdisFreeMdl(m);
    r.NdisFreeMemoryWithTagPriority(g, va, HDL_TAG);
  };
  return { h: h as Loose, got };
}

/** A NET_BUFFER_LIST pool (revision-1 header). */
function nblPool(fAllocateNetBuffer: boolean, DataSize: number): number {
  const p = r.NdisAllocateNetBufferListPool(0, {
    Header: { Type: 0x80, Revision: 1, Size: 16 }, ProtocolId: 0, fAllocateNetBuffer, ContextSize: 0, PoolTag: POOL_TAG('LBsD'), DataSize,
  });
  expect(p).not.toBe(0);
  return p;
}

/** A NET_BUFFER_LIST with the given NBs attached in order (NET_BUFFER_NEXT_NB_SET / NET_BUFFER_LIST_FIRST_NB_SET). */
function nblOf(nbs: number[]): number {
  const nbl = r.NdisAllocateNetBufferList(nblPool(false, 0), 0, 0);
  expect(nbl).not.toBe(0);
  for (let k = 0; k + 1 < nbs.length; k++) r.NET_BUFFER_NEXT_NB_SET(nbs[k]!, nbs[k + 1]!);
  r.NET_BUFFER_LIST_FIRST_NB_SET(nbl, nbs[0]!);
  return nbl;
}

/** Pages spanned by the used data, MDL by MDL: sum of ((va & 0xFFF) + len + 0xFFF) >> 12. */
function pagesOf(nb: number): number {
  let off = r.NET_BUFFER_DATA_OFFSET(nb);
  let left = r.NET_BUFFER_DATA_LENGTH(nb);
  let pages = 0;
  for (let m = r.NET_BUFFER_FIRST_MDL(nb); m !== 0 && left > 0; m = r.NDIS_MDL_LINKAGE(m)) {
    const bc = r.MmGetMdlByteCount(m);
    if (off >= bc) {
      off -= bc;
      continue;
    }
    const k = Math.min(bc - off, left);
    const va = r.MmGetSystemAddressForMdlSafe(m, NormalPagePriority) + off;
    pages += ((va & 0xfff) + k + 0xfff) >>> 12;
    left -= k;
    off = 0;
  }
  return pages;
}

// -- NdisRetreatNetBufferDataStart -------------------------------------------------------------------

describe('NdisRetreatNetBufferDataStart', () => {
  it('within the unused space only moves DataOffset back (no allocation; the pair can move to an earlier MDL)', () => {
    const { mdls } = chain([100, 200]);
    const [m1, m2] = mdls as [number, number];
    const nb = r.NdisAllocateNetBuffer(pool, m1, 150, 100);
    expect(fields(nb)).toEqual({ MdlChain: m1, CurrentMdl: m2, CurrentMdlOffset: 50, DataOffset: 150, DataLength: 100 });
    const space = logical(mdls);
    const before = JSON.stringify(rt.poolmon());
    const alloc = allocHandler();

    expect(r.NdisRetreatNetBufferDataStart(nb, 30, 64, alloc.h)).toBe(NDIS_STATUS_SUCCESS);
    expect(fields(nb)).toEqual({ MdlChain: m1, CurrentMdl: m2, CurrentMdlOffset: 20, DataOffset: 120, DataLength: 130 });
    expect(used(nb)).toEqual(space.slice(120, 250));

    expect(r.NdisRetreatNetBufferDataStart(nb, 60, 0)).toBe(NDIS_STATUS_SUCCESS);
    expect(fields(nb)).toEqual({ MdlChain: m1, CurrentMdl: m1, CurrentMdlOffset: 60, DataOffset: 60, DataLength: 190 });
    expect(used(nb)).toEqual(space.slice(60, 250));

    // Delta == DataOffset: still no allocation (DESIGN decision 1).
    expect(r.NdisRetreatNetBufferDataStart(nb, 60, 1000, alloc.h)).toBe(NDIS_STATUS_SUCCESS);
    expect(fields(nb)).toEqual({ MdlChain: m1, CurrentMdl: m1, CurrentMdlOffset: 0, DataOffset: 0, DataLength: 250 });
    expect(used(nb)).toEqual(space.slice(0, 250));

    // Delta 0 with no unused space left: nothing to do.
    expect(r.NdisRetreatNetBufferDataStart(nb, 0, 16)).toBe(NDIS_STATUS_SUCCESS);
    expect(fields(nb)).toEqual({ MdlChain: m1, CurrentMdl: m1, CurrentMdlOffset: 0, DataOffset: 0, DataLength: 250 });

    expect(alloc.calls).toEqual([]);
    expect(JSON.stringify(rt.poolmon())).toBe(before);
  });

  it('beyond the unused space prepends a default MDL of Delta + DataBackFill bytes; the used bytes keep their positions', () => {
    const { mdls } = chain([64, 128]);
    const [m1, m2] = mdls as [number, number];
    const nb = r.NdisAllocateNetBuffer(pool, m1, 10, 150);
    const space = logical(mdls);
    const old = used(nb);
    expect(old).toEqual(space.slice(10, 160));
    const mdlOut = out(MDLT, 'MDL');
    expect(out(NDRT, 'Memory')).toBe(0);

    expect(r.NdisRetreatNetBufferDataStart(nb, 40, 24)).toBe(NDIS_STATUS_SUCCESS);
    const n = r.NET_BUFFER_FIRST_MDL(nb);
    expect(n).not.toBe(m1);
    expect(mdlsOf(nb)).toEqual([n, m1, m2]);
    expect(r.MmGetMdlByteCount(n)).toBe(64); // Delta + DataBackFill
    // DataOffset' = newSize + DataOffset - Delta = 64 + 10 - 40; DataLength' = 150 + 40.
    expect(fields(nb)).toEqual({ MdlChain: n, CurrentMdl: n, CurrentMdlOffset: 34, DataOffset: 34, DataLength: 190 });
    const now = used(nb);
    // Used positions 40.. hold what 0.. held; 30..40 is the old unused space of m1, now used.
    expect(now.slice(40)).toEqual(old);
    expect(now.slice(30, 40)).toEqual(space.slice(0, 10));
    expect(out(NDRT, 'Memory')).toBe(1);
    expect(row(rt, NDRT, 'Memory')).toMatchObject({ allocs: 1, frees: 0, outstanding: 1 });
    expect(out(MDLT, 'MDL')).toBe(mdlOut + 1);

    // The new header is contiguous in the new MDL: write it in place through NdisGetDataBuffer.
    const hdr = r.NdisGetDataBuffer(nb, 30, 0, 1, 0);
    expect(hdr).toBe(r.MmGetSystemAddressForMdlSafe(n, NormalPagePriority) + 34);
    rt.bytes(hdr, 30).set(Array.from({ length: 30 }, (_, i) => 200 + i));
    expect(used(nb).slice(0, 30)).toEqual(Array.from({ length: 30 }, (_, i) => 200 + i));
    expect(used(nb).slice(40)).toEqual(old);

    r.NdisFreeNetBuffer(nb);
    expect(out(NDRT, 'Memory')).toBe(0);
    expect(out(MDLT, 'MDL')).toBe(mdlOut);
  });

  it('on an NB with no MDL chain prepends the first MDL (DataOffset = DataBackFill, DataLength = Delta)', () => {
    const nb = r.NdisAllocateNetBuffer(pool, 0, 0, 0);
    expect(r.NdisRetreatNetBufferDataStart(nb, 20, 12)).toBe(NDIS_STATUS_SUCCESS);
    const n = r.NET_BUFFER_FIRST_MDL(nb);
    expect(n).not.toBe(0);
    expect(r.NDIS_MDL_LINKAGE(n)).toBe(0);
    expect(r.MmGetMdlByteCount(n)).toBe(32);
    expect(fields(nb)).toEqual({ MdlChain: n, CurrentMdl: n, CurrentMdlOffset: 12, DataOffset: 12, DataLength: 20 });
    r.NdisFreeNetBuffer(nb);
    expect(out(NDRT, 'Memory')).toBe(0);
  });

  it('calls AllocateMdlHandler once with BufferSize = Delta + DataBackFill and prepends its MDL', () => {
    const { mdls } = chain([64, 128]);
    const [m1, m2] = mdls as [number, number];
    const nb = r.NdisAllocateNetBuffer(pool, m1, 10, 150);
    const old = used(nb);
    const alloc = allocHandler();
    const ndrt = allocs(NDRT, 'Memory');

    expect(r.NdisRetreatNetBufferDataStart(nb, 40, 24, alloc.h)).toBe(NDIS_STATUS_SUCCESS);
    expect(alloc.calls).toEqual([64]);
    const h = alloc.given[0]!;
    expect(mdlsOf(nb)).toEqual([h, m1, m2]);
    expect(fields(nb)).toEqual({ MdlChain: h, CurrentMdl: h, CurrentMdlOffset: 34, DataOffset: 34, DataLength: 190 });
    expect(used(nb).slice(40)).toEqual(old);
    // The handler's bytes (pattern 99) from offset 34 are the first used bytes.
    expect(used(nb).slice(0, 30)).toEqual(Array.from({ length: 30 }, (_, i) => pat(99, 34 + i)));
    expect(allocs(NDRT, 'Memory')).toBe(ndrt); // the default allocator was not used
  });

  it('accepts a larger MDL from the handler: the extra becomes unused space (backfill)', () => {
    const { mdls } = chain([64, 128]);
    const [m1] = mdls as [number];
    const nb = r.NdisAllocateNetBuffer(pool, m1, 10, 150);
    const alloc = allocHandler(100);

    expect(r.NdisRetreatNetBufferDataStart(nb, 40, 24, alloc.h)).toBe(NDIS_STATUS_SUCCESS);
    expect(alloc.calls).toEqual([64]);
    const h = alloc.given[0]!;
    expect(r.MmGetMdlByteCount(h)).toBe(164);
    // DataOffset' = 164 + 10 - 40 = 134.
    expect(fields(nb)).toEqual({ MdlChain: h, CurrentMdl: h, CurrentMdlOffset: 134, DataOffset: 134, DataLength: 190 });
    // The extra space serves the next retreat without a handler call.
    expect(r.NdisRetreatNetBufferDataStart(nb, 134, 0, alloc.h)).toBe(NDIS_STATUS_SUCCESS);
    expect(alloc.calls).toEqual([64]);
    expect(fields(nb)).toEqual({ MdlChain: h, CurrentMdl: h, CurrentMdlOffset: 0, DataOffset: 0, DataLength: 324 });
  });

  it('returns NDIS_STATUS_RESOURCES with nothing changed when the handler returns NULL', () => {
    const { mdls } = chain([64, 128]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 10, 150);
    const before = fields(nb);
    const pm = JSON.stringify(rt.poolmon());
    const calls: number[] = [];
    const h = ((b: { value: number }) => {
      calls.push(b.value);
      return 0;
    }) as Loose;
    expect(r.NdisRetreatNetBufferDataStart(nb, 11, 5, h)).toBe(NDIS_STATUS_RESOURCES);
    expect(calls).toEqual([16]);
    expect(fields(nb)).toEqual(before);
    expect(mdlsOf(nb)).toEqual(mdls);
    expect(JSON.stringify(rt.poolmon())).toBe(pm);
  });

  it('returns NDIS_STATUS_RESOURCES with nothing changed when the default allocator cannot allocate', () => {
    const { mdls } = chain([64]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 10, 20);
    const before = fields(nb);
    const mdlOut = out(MDLT, 'MDL');
    expect(r.NdisRetreatNetBufferDataStart(nb, 11, 0xf0000000)).toBe(NDIS_STATUS_RESOURCES);
    expect(fields(nb)).toEqual(before);
    expect(out(NDRT, 'Memory')).toBe(0);
    expect(out(MDLT, 'MDL')).toBe(mdlOut);
  });

  it('an MDL smaller than asked is a PARAM bug check; nothing changes', () => {
    const { mdls } = chain([64, 128]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 10, 150);
    const before = fields(nb);
    const small = r.NdisAllocateMdl(g, buffer(63), 63);
    const h = (() => small) as Loose;
    expectBug(() => r.NdisRetreatNetBufferDataStart(nb, 40, 24, h), {
      fn: 'NdisRetreatNetBufferDataStart', arg: 'AllocateMdlHandler', code: C4, rule: 'PARAM', parameters: [RULE_P1.PARAM, small, 64, 0],
    });
    expect(fields(nb)).toEqual(before);
    expect(mdlsOf(nb)).toEqual(mdls);
    expect(r.NDIS_MDL_LINKAGE(small)).toBe(0);
    r.NdisFreeMdl(small); // still the caller's
  });

  it('a handler MDL that is already linked to another MDL is a PARAM bug check; nothing changes', () => {
    const { mdls } = chain([64, 128]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 10, 150);
    const before = fields(nb);
    const other = chain([80, 8]).mdls[0]!;
    expectBug(() => r.NdisRetreatNetBufferDataStart(nb, 40, 24, (() => other) as Loose), {
      fn: 'NdisRetreatNetBufferDataStart', arg: 'AllocateMdlHandler', code: C4, rule: 'PARAM',
    });
    expect(fields(nb)).toEqual(before);
    expect(mdlsOf(nb)).toEqual(mdls);
  });

  it('a handler MDL that is already in the NB\'s own chain (its last MDL) is a PARAM bug check, not a looped chain', () => {
    const { mdls } = chain([64, 128]);
    const [m1, m2] = mdls as [number, number];
    const nb = r.NdisAllocateNetBuffer(pool, m1, 10, 150);
    const before = fields(nb);
    expectBug(() => r.NdisRetreatNetBufferDataStart(nb, 40, 0, (() => m2) as Loose), {
      fn: 'NdisRetreatNetBufferDataStart', arg: 'AllocateMdlHandler', code: C4, rule: 'PARAM',
    });
    expect(r.NDIS_MDL_LINKAGE(m2)).toBe(0);
    expect(fields(nb)).toEqual(before);
  });

  it('returns NDIS_STATUS_FAILURE when Delta + DataBackFill does not fit a ULONG (no handler call, nothing changed)', () => {
    const { mdls } = chain([64]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 10, 20);
    const before = fields(nb);
    const alloc = allocHandler();
    expect(r.NdisRetreatNetBufferDataStart(nb, 11, 0xffffffff, alloc.h)).toBe(NDIS_STATUS_FAILURE);
    expect(r.NdisRetreatNetBufferDataStart(nb, 0x80000000, 0x80000000)).toBe(NDIS_STATUS_FAILURE);
    expect(alloc.calls).toEqual([]);
    expect(fields(nb)).toEqual(before);
  });

  it('returns NDIS_STATUS_FAILURE when DataLength + Delta > 0xFFFFFFFF (chain of 1025 x 4 MiB MDLs over one buffer)', () => {
    const SZ = 4 << 20;
    const va = r.NdisAllocateMemoryWithTagPriority(g, SZ, BUF_TAG, NormalPoolPriority);
    expect(va).not.toBe(0);
    const ms: number[] = [];
    for (let k = 0; k < 1025; k++) ms.push(r.NdisAllocateMdl(g, va, SZ));
    for (let k = 0; k + 1 < ms.length; k++) r.NDIS_MDL_LINKAGE_SET(ms[k]!, ms[k + 1]!);
    const nb = r.NdisAllocateNetBuffer(pool, ms[0]!, 0x100, 0xfffffff0);
    expect(nb).not.toBe(0);
    const before = fields(nb);
    const alloc = allocHandler();
    // Within the unused space (0x20 <= 0x100) and beyond it: both overflow DataLength.
    expect(r.NdisRetreatNetBufferDataStart(nb, 0x20, 0)).toBe(NDIS_STATUS_FAILURE);
    expect(r.NdisRetreatNetBufferDataStart(nb, 0x200, 0, alloc.h)).toBe(NDIS_STATUS_FAILURE);
    expect(alloc.calls).toEqual([]);
    expect(fields(nb)).toEqual(before);
    // Up to exactly 0xFFFFFFFF is fine.
    expect(r.NdisRetreatNetBufferDataStart(nb, 0xf, 0)).toBe(NDIS_STATUS_SUCCESS);
    expect(r.NET_BUFFER_DATA_LENGTH(nb)).toBe(0xffffffff);
    expect(r.NET_BUFFER_DATA_OFFSET(nb)).toBe(0xf1);
    expect(out(NDRT, 'Memory')).toBe(0);
  });

  it('rejects bad arguments (PARAM) before touching the NB', () => {
    const { mdls } = chain([64]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 10, 20);
    const before = fields(nb);
    expectBug(() => r.NdisRetreatNetBufferDataStart(nb, -1, 0), { fn: 'NdisRetreatNetBufferDataStart', arg: 'DataOffsetDelta', code: C4, rule: 'PARAM' });
    expectBug(() => r.NdisRetreatNetBufferDataStart(nb, 1, 2 ** 32), { fn: 'NdisRetreatNetBufferDataStart', arg: 'DataBackFill', code: C4, rule: 'PARAM' });
    expectBug(() => r.NdisRetreatNetBufferDataStart(nb, 11, 0, 42 as Loose), { fn: 'NdisRetreatNetBufferDataStart', arg: 'AllocateMdlHandler', code: C4, rule: 'PARAM' });
    expect(fields(nb)).toEqual(before);
  });
});

// -- NdisAdvanceNetBufferDataStart ---------------------------------------------------------------------

describe('NdisAdvanceNetBufferDataStart', () => {
  it('moves DataOffset forward and shrinks DataLength; advancing by DataLength leaves 0 used bytes', () => {
    const { mdls } = chain([64, 128]);
    const [m1, m2] = mdls as [number, number];
    const space = logical(mdls);
    const nb = r.NdisAllocateNetBuffer(pool, m1, 10, 150);
    r.NdisAdvanceNetBufferDataStart(nb, 54, false);
    expect(fields(nb)).toEqual({ MdlChain: m1, CurrentMdl: m2, CurrentMdlOffset: 0, DataOffset: 64, DataLength: 96 });
    expect(used(nb)).toEqual(space.slice(64, 160));
    r.NdisAdvanceNetBufferDataStart(nb, 96, true);
    expect(fields(nb)).toEqual({ MdlChain: m1, CurrentMdl: m2, CurrentMdlOffset: 96, DataOffset: 160, DataLength: 0 });
    // Caller MDLs are never freed.
    expect(mdlsOf(nb)).toEqual([m1, m2]);
  });

  it('advancing by more than DataLength is ADV-1 and changes nothing', () => {
    const { mdls } = chain([64, 128]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 10, 150);
    expect(r.NdisRetreatNetBufferDataStart(nb, 40, 24)).toBe(NDIS_STATUS_SUCCESS);
    const before = fields(nb);
    const pm = JSON.stringify(rt.poolmon());
    for (const free of [false, true]) {
      expectBug(() => r.NdisAdvanceNetBufferDataStart(nb, 191, free), {
        fn: 'NdisAdvanceNetBufferDataStart', arg: 'DataOffsetDelta', code: C4, rule: 'ADV-1', parameters: [RULE_P1['ADV-1'], nb, 190, 0],
      });
      expect(fields(nb)).toEqual(before);
      expect(JSON.stringify(rt.poolmon())).toBe(pm);
    }
  });

  it('with FreeMdl TRUE frees a default retreat MDL once it is entirely unused (poolmon NdRt and Mdl back to 0 / baseline)', () => {
    const { mdls } = chain([64, 128]);
    const [m1, m2] = mdls as [number, number];
    const nb = r.NdisAllocateNetBuffer(pool, m1, 10, 150);
    const old = used(nb);
    const mdlOut = out(MDLT, 'MDL');
    expect(r.NdisRetreatNetBufferDataStart(nb, 40, 24)).toBe(NDIS_STATUS_SUCCESS);
    const n = r.NET_BUFFER_FIRST_MDL(nb);
    // Still partly used: stays.
    r.NdisAdvanceNetBufferDataStart(nb, 20, true);
    expect(fields(nb)).toEqual({ MdlChain: n, CurrentMdl: n, CurrentMdlOffset: 54, DataOffset: 54, DataLength: 170 });
    expect(out(NDRT, 'Memory')).toBe(1);
    // Now entirely unused: freed, and DataOffset loses its 64 bytes.
    r.NdisAdvanceNetBufferDataStart(nb, 20, true);
    expect(fields(nb)).toEqual({ MdlChain: m1, CurrentMdl: m1, CurrentMdlOffset: 10, DataOffset: 10, DataLength: 150 });
    expect(mdlsOf(nb)).toEqual([m1, m2]);
    expect(used(nb)).toEqual(old);
    expect(row(rt, NDRT, 'Memory')).toMatchObject({ allocs: 1, frees: 1, outstanding: 0 });
    expect(out(MDLT, 'MDL')).toBe(mdlOut);
  });

  it('with FreeMdl TRUE frees every entirely unused retreat MDL at the head, but never the caller\'s MDLs', () => {
    const { mdls } = chain([64, 128]);
    const [m1, m2] = mdls as [number, number];
    const nb = r.NdisAllocateNetBuffer(pool, m1, 0, 100);
    const mdlOut = out(MDLT, 'MDL');
    expect(r.NdisRetreatNetBufferDataStart(nb, 8, 0)).toBe(NDIS_STATUS_SUCCESS); // 8-byte MDL
    expect(r.NdisRetreatNetBufferDataStart(nb, 16, 4)).toBe(NDIS_STATUS_SUCCESS); // 20-byte MDL, DataOffset 4
    expect(fields(nb).DataOffset).toBe(4);
    expect(fields(nb).DataLength).toBe(124);
    expect(out(NDRT, 'Memory')).toBe(2);
    // Advance past both retreat MDLs and into m2: they go, m1 (caller's, now unused) stays.
    r.NdisAdvanceNetBufferDataStart(nb, 24 + 70, true);
    expect(mdlsOf(nb)).toEqual([m1, m2]);
    expect(fields(nb)).toEqual({ MdlChain: m1, CurrentMdl: m2, CurrentMdlOffset: 6, DataOffset: 70, DataLength: 30 });
    expect(out(NDRT, 'Memory')).toBe(0);
    expect(out(MDLT, 'MDL')).toBe(mdlOut);
  });

  it('with FreeMdl TRUE passes each handler MDL that became unused to FreeMdlHandler exactly once', () => {
    const { mdls } = chain([64, 128]);
    const [m1, m2] = mdls as [number, number];
    const nb = r.NdisAllocateNetBuffer(pool, m1, 10, 150);
    const alloc = allocHandler();
    const fr = freeHandler();
    expect(r.NdisRetreatNetBufferDataStart(nb, 40, 0, alloc.h)).toBe(NDIS_STATUS_SUCCESS); // 40 bytes, DataOffset 10
    expect(r.NdisRetreatNetBufferDataStart(nb, 30, 2, alloc.h)).toBe(NDIS_STATUS_SUCCESS); // 32 bytes, DataOffset 12
    expect(alloc.calls).toEqual([40, 32]);
    const [h1, h2] = alloc.given as [number, number];
    expect(mdlsOf(nb)).toEqual([h2, h1, m1, m2]);
    expect(fields(nb)).toEqual({ MdlChain: h2, CurrentMdl: h2, CurrentMdlOffset: 12, DataOffset: 12, DataLength: 220 });
    const mdlOut = out(MDLT, 'MDL');
    r.NdisAdvanceNetBufferDataStart(nb, 20, true, fr.h); // h2 now unused
    expect(fr.got).toEqual([h2]);
    expect(fields(nb)).toEqual({ MdlChain: h1, CurrentMdl: h1, CurrentMdlOffset: 0, DataOffset: 0, DataLength: 200 });
    r.NdisAdvanceNetBufferDataStart(nb, 45, true, fr.h); // h1 now unused too
    expect(fr.got).toEqual([h2, h1]);
    expect(fields(nb)).toEqual({ MdlChain: m1, CurrentMdl: m1, CurrentMdlOffset: 5, DataOffset: 5, DataLength: 155 });
    r.NdisAdvanceNetBufferDataStart(nb, 100, true, fr.h);
    expect(fr.got).toEqual([h2, h1]);
    expect(out(MDLT, 'MDL')).toBe(mdlOut - 2);
    expect(out(HDL_TAG, 'Memory')).toBe(0);
  });

  it('a handler MDL to free without a FreeMdlHandler is ADV-2 and changes nothing', () => {
    const { mdls } = chain([64, 128]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 10, 150);
    const alloc = allocHandler();
    expect(r.NdisRetreatNetBufferDataStart(nb, 40, 0, alloc.h)).toBe(NDIS_STATUS_SUCCESS);
    const h = alloc.given[0]!;
    const before = fields(nb);
    const pm = JSON.stringify(rt.poolmon());
    expectBug(() => r.NdisAdvanceNetBufferDataStart(nb, 40, true), {
      fn: 'NdisAdvanceNetBufferDataStart', arg: 'FreeMdl', code: C4, rule: 'ADV-2', parameters: [RULE_P1['ADV-2'], h, 0, 0],
    });
    expect(fields(nb)).toEqual(before);
    expect(mdlsOf(nb)).toEqual([h, ...mdls]);
    expect(JSON.stringify(rt.poolmon())).toBe(pm);
    // Without FreeMdl, or while the MDL is still used, no handler is needed.
    r.NdisAdvanceNetBufferDataStart(nb, 29, true);
    expect(fields(nb)).toEqual({ ...before, CurrentMdlOffset: 39, DataOffset: 39, DataLength: 161 });
    r.NdisAdvanceNetBufferDataStart(nb, 11, false);
    expect(fields(nb)).toEqual({ MdlChain: h, CurrentMdl: mdls[0]!, CurrentMdlOffset: 10, DataOffset: 50, DataLength: 150 });
  });

  it('with FreeMdl FALSE keeps retreat MDLs; a later retreat reuses that space without allocating', () => {
    const { mdls } = chain([64, 128]);
    const [m1] = mdls as [number];
    const nb = r.NdisAllocateNetBuffer(pool, m1, 10, 150);
    expect(r.NdisRetreatNetBufferDataStart(nb, 40, 24)).toBe(NDIS_STATUS_SUCCESS);
    const n = r.NET_BUFFER_FIRST_MDL(nb);
    r.NdisAdvanceNetBufferDataStart(nb, 40, false);
    expect(fields(nb)).toEqual({ MdlChain: n, CurrentMdl: m1, CurrentMdlOffset: 10, DataOffset: 74, DataLength: 150 });
    expect(row(rt, NDRT, 'Memory')).toMatchObject({ allocs: 1, outstanding: 1 });
    const alloc = allocHandler();
    expect(r.NdisRetreatNetBufferDataStart(nb, 74, 100, alloc.h)).toBe(NDIS_STATUS_SUCCESS);
    expect(alloc.calls).toEqual([]);
    expect(row(rt, NDRT, 'Memory')).toMatchObject({ allocs: 1, outstanding: 1 });
    expect(fields(nb)).toEqual({ MdlChain: n, CurrentMdl: n, CurrentMdlOffset: 0, DataOffset: 0, DataLength: 224 });
    // And FreeMdl TRUE frees it later.
    r.NdisAdvanceNetBufferDataStart(nb, 64, true);
    expect(fields(nb)).toEqual({ MdlChain: m1, CurrentMdl: m1, CurrentMdlOffset: 0, DataOffset: 0, DataLength: 160 });
    expect(row(rt, NDRT, 'Memory')).toMatchObject({ allocs: 1, frees: 1, outstanding: 0 });
  });

  it('NdisFreeMdl on a default retreat MDL is ADV-2 (the MDL stays on the chain)', () => {
    const { mdls } = chain([64]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 0, 64);
    expect(r.NdisRetreatNetBufferDataStart(nb, 8, 8)).toBe(NDIS_STATUS_SUCCESS);
    const n = r.NET_BUFFER_FIRST_MDL(nb);
    expectBug(() => r.NdisFreeMdl(n), { fn: 'NdisFreeMdl', arg: 'Mdl', code: C4, rule: 'ADV-2', parameters: [RULE_P1['ADV-2'], n, 0, 0] });
    expect(r.MmGetMdlByteCount(n)).toBe(16);
    expect(mdlsOf(nb)).toEqual([n, mdls[0]!]);
    expect(out(NDRT, 'Memory')).toBe(1);
  });

  it('rejects a non-BOOLEAN FreeMdl and a non-function FreeMdlHandler (PARAM)', () => {
    const { mdls } = chain([64]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 0, 64);
    const before = fields(nb);
    expectBug(() => r.NdisAdvanceNetBufferDataStart(nb, 1, 2 as Loose), { fn: 'NdisAdvanceNetBufferDataStart', arg: 'FreeMdl', code: C4, rule: 'PARAM' });
    expectBug(() => r.NdisAdvanceNetBufferDataStart(nb, 1, true, {} as Loose), { fn: 'NdisAdvanceNetBufferDataStart', arg: 'FreeMdlHandler', code: C4, rule: 'PARAM' });
    expect(fields(nb)).toEqual(before);
  });
});

// -- freeing NBs and NBLs with retreat MDLs (DESIGN decision 21) ------------------------------------

describe('NdisFreeNetBuffer / NdisFreeNetBufferList free default retreat MDLs still on the chain', () => {
  it('NdisFreeNetBuffer frees two stacked default retreat MDLs and leaves the caller MDLs', () => {
    const { mdls } = chain([64, 128]);
    const mdlOut = out(MDLT, 'MDL');
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 10, 150);
    expect(r.NdisRetreatNetBufferDataStart(nb, 40, 24)).toBe(NDIS_STATUS_SUCCESS);
    expect(r.NdisRetreatNetBufferDataStart(nb, 100, 0)).toBe(NDIS_STATUS_SUCCESS);
    expect(out(NDRT, 'Memory')).toBe(2);
    expect(out(MDLT, 'MDL')).toBe(mdlOut + 2);
    r.NdisFreeNetBuffer(nb);
    expect(row(rt, NDRT, 'Memory')).toMatchObject({ allocs: 2, frees: 2, outstanding: 0 });
    expect(out(MDLT, 'MDL')).toBe(mdlOut);
    // The caller's MDLs are still live and still linked.
    expect(r.NDIS_MDL_LINKAGE(mdls[0]!)).toBe(mdls[1]!);
    for (const m of mdls) r.NdisFreeMdl(m);
    expect(out(MDLT, 'MDL')).toBe(0);
  });

  it('NdisFreeNetBuffer frees a default retreat MDL that lies under a handler MDL', () => {
    const { mdls } = chain([64]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 0, 64);
    expect(r.NdisRetreatNetBufferDataStart(nb, 10, 0)).toBe(NDIS_STATUS_SUCCESS); // default MDL
    const alloc = allocHandler();
    expect(r.NdisRetreatNetBufferDataStart(nb, 10, 0, alloc.h)).toBe(NDIS_STATUS_SUCCESS); // handler MDL on top
    expect(mdlsOf(nb).length).toBe(3);
    expect(out(NDRT, 'Memory')).toBe(1);
    r.NdisFreeNetBuffer(nb);
    expect(out(NDRT, 'Memory'), 'the default retreat MDL under the handler MDL leaked').toBe(0);
  });

  it('a handler MDL left on a freed NB\'s chain is the handler\'s again: it can be handed out by a later retreat', () => {
    const { mdls } = chain([32]);
    const cached = r.NdisAllocateMdl(g, buffer(64, 3, HDL_TAG), 64); // a handler that recycles one MDL
    const h = (() => cached) as Loose;
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 0, 32);
    expect(r.NdisRetreatNetBufferDataStart(nb, 10, 0, h)).toBe(NDIS_STATUS_SUCCESS);
    r.NdisFreeNetBuffer(nb);
    r.NDIS_MDL_LINKAGE_SET(cached, 0);
    const nb2 = r.NdisAllocateNetBuffer(pool, chain([32]).mdls[0]!, 0, 32);
    expect(r.NdisRetreatNetBufferDataStart(nb2, 10, 0, h)).toBe(NDIS_STATUS_SUCCESS);
    expect(fields(nb2)).toEqual({ MdlChain: cached, CurrentMdl: cached, CurrentMdlOffset: 54, DataOffset: 54, DataLength: 42 });
  });

  it('NdisFreeNetBufferList frees the default retreat MDLs of its preallocated NB', () => {
    const p = nblPool(true, 256);
    const nbl = r.NdisAllocateNetBufferList(p, 0, 0);
    const nb = r.NET_BUFFER_LIST_FIRST_NB(nbl);
    expect(fields(nb).DataOffset).toBe(0);
    expect(fields(nb).DataLength).toBe(256);
    const first = r.NET_BUFFER_FIRST_MDL(nb);
    const mdlOut = out(MDLT, 'MDL');
    expect(r.NdisRetreatNetBufferListDataStart(nbl, 14, 50)).toBe(NDIS_STATUS_SUCCESS);
    const n = r.NET_BUFFER_FIRST_MDL(nb);
    expect(mdlsOf(nb)).toEqual([n, first]);
    expect(fields(nb)).toEqual({ MdlChain: n, CurrentMdl: n, CurrentMdlOffset: 50, DataOffset: 50, DataLength: 270 });
    expect(out(NDRT, 'Memory')).toBe(1);
    expect(out(MDLT, 'MDL')).toBe(mdlOut + 1);
    r.NdisFreeNetBufferList(nbl);
    expect(row(rt, NDRT, 'Memory')).toMatchObject({ allocs: 1, frees: 1, outstanding: 0 });
    expect(out(MDLT, 'MDL')).toBe(mdlOut);
    r.NdisFreeNetBufferListPool(p);
  });
});

// -- CurrentMdl / NdisAdjustNetBufferCurrentMdl (DESIGN decision 4) --------------------------------

describe('CurrentMdl placement and NdisAdjustNetBufferCurrentMdl', () => {
  it('at an MDL boundary the pair is the next MDL at offset 0; at the chain end the last MDL at its ByteCount', () => {
    const { mdls } = chain([64, 128]);
    const [m1, m2] = mdls as [number, number];
    const a = r.NdisAllocateNetBuffer(pool, m1, 64, 10);
    expect(fields(a)).toEqual({ MdlChain: m1, CurrentMdl: m2, CurrentMdlOffset: 0, DataOffset: 64, DataLength: 10 });
    const b = r.NdisAllocateNetBuffer(pool, m1, 192, 0);
    expect(fields(b)).toEqual({ MdlChain: m1, CurrentMdl: m2, CurrentMdlOffset: 128, DataOffset: 192, DataLength: 0 });
    const c = r.NdisAllocateNetBuffer(pool, m1, 63, 2);
    expect(fields(c)).toEqual({ MdlChain: m1, CurrentMdl: m1, CurrentMdlOffset: 63, DataOffset: 63, DataLength: 2 });
    r.NdisAdvanceNetBufferDataStart(c, 1, false);
    expect(fields(c)).toEqual({ MdlChain: m1, CurrentMdl: m2, CurrentMdlOffset: 0, DataOffset: 64, DataLength: 1 });
    r.NdisAdvanceNetBufferDataStart(c, 1, false);
    expect(fields(c)).toEqual({ MdlChain: m1, CurrentMdl: m2, CurrentMdlOffset: 1, DataOffset: 65, DataLength: 0 });
    expect(r.NdisRetreatNetBufferDataStart(c, 1, 0)).toBe(NDIS_STATUS_SUCCESS);
    expect(fields(c)).toEqual({ MdlChain: m1, CurrentMdl: m2, CurrentMdlOffset: 0, DataOffset: 64, DataLength: 1 });
    expect(r.NdisRetreatNetBufferDataStart(c, 1, 0)).toBe(NDIS_STATUS_SUCCESS);
    expect(fields(c)).toEqual({ MdlChain: m1, CurrentMdl: m1, CurrentMdlOffset: 63, DataOffset: 63, DataLength: 2 });
  });

  it('recomputes the pair after a driver sets DataOffset with NET_BUFFER_DATA_OFFSET_SET', () => {
    const { mdls } = chain([64, 128, 32]);
    const [m1, m2, m3] = mdls as [number, number, number];
    const nb = r.NdisAllocateNetBuffer(pool, m1, 0, 100);
    const cases: [number, number, number, number][] = [
      // DataOffset, DataLength, CurrentMdl, CurrentMdlOffset
      [100, 50, m2, 36],
      [64, 10, m2, 0],
      [63, 10, m1, 63],
      [192, 24, m3, 0],
      [200, 24, m3, 8],
      [224, 0, m3, 32],
      [0, 224, m1, 0],
    ];
    for (const [off, len, cm, co] of cases) {
      r.NET_BUFFER_DATA_OFFSET_SET(nb, off);
      r.NET_BUFFER_DATA_LENGTH_SET(nb, len);
      r.NdisAdjustNetBufferCurrentMdl(nb);
      expect(fields(nb)).toEqual({ MdlChain: m1, CurrentMdl: cm, CurrentMdlOffset: co, DataOffset: off, DataLength: len });
    }
    // A stale pair is replaced whatever it held.
    r.NET_BUFFER_CURRENT_MDL_SET(nb, m3);
    r.NET_BUFFER_CURRENT_MDL_OFFSET_SET(nb, 31);
    r.NET_BUFFER_DATA_OFFSET_SET(nb, 70);
    r.NET_BUFFER_DATA_LENGTH_SET(nb, 5);
    r.NdisAdjustNetBufferCurrentMdl(nb);
    expect(fields(nb)).toEqual({ MdlChain: m1, CurrentMdl: m2, CurrentMdlOffset: 6, DataOffset: 70, DataLength: 5 });
  });
});

// -- NBL forms -------------------------------------------------------------------------------------------

describe('NdisRetreatNetBufferListDataStart / NdisAdvanceNetBufferListDataStart', () => {
  /** Three NBs over their own two-MDL chains, DataOffset 8, 20, 40. */
  function threeNbs() {
    const chains = [chain([16, 100]), chain([30, 100]), chain([50, 100])];
    const offs = [8, 20, 40];
    const nbs = chains.map((c, k) => r.NdisAllocateNetBuffer(pool, c.mdls[0]!, offs[k]!, 60));
    return { chains, nbs, nbl: nblOf(nbs) };
  }

  it('retreats every NB of an NBL with 3 NBs (within the unused space, and with the default allocator)', () => {
    const { chains, nbs, nbl } = threeNbs();
    const olds = nbs.map(used);
    expect(r.NdisRetreatNetBufferListDataStart(nbl, 8, 4)).toBe(NDIS_STATUS_SUCCESS);
    expect(nbs.map((nb) => fields(nb).DataOffset)).toEqual([0, 12, 32]);
    expect(nbs.map((nb) => fields(nb).DataLength)).toEqual([68, 68, 68]);
    expect(out(NDRT, 'Memory')).toBe(0);
    // 25 > 0 and > 12, <= 32: NBs 1 and 2 get a 25 + 4 byte MDL.
    expect(r.NdisRetreatNetBufferListDataStart(nbl, 25, 4)).toBe(NDIS_STATUS_SUCCESS);
    expect(out(NDRT, 'Memory')).toBe(2);
    const f = nbs.map(fields);
    expect(f[0]).toMatchObject({ DataOffset: 4, DataLength: 93, CurrentMdlOffset: 4 });
    expect(f[1]).toMatchObject({ DataOffset: 29 + 12 - 25, DataLength: 93, CurrentMdlOffset: 16 });
    expect(f[2]).toEqual({ MdlChain: chains[2]!.mdls[0]!, CurrentMdl: chains[2]!.mdls[0]!, CurrentMdlOffset: 7, DataOffset: 7, DataLength: 93 });
    expect(mdlsOf(nbs[0]!).length).toBe(3);
    expect(mdlsOf(nbs[1]!).length).toBe(3);
    nbs.forEach((nb, k) => expect(used(nb).slice(33)).toEqual(olds[k]));
    // Advance the NBL back with FreeMdl TRUE: the two retreat MDLs go.
    r.NdisAdvanceNetBufferListDataStart(nbl, 33, true);
    expect(out(NDRT, 'Memory')).toBe(0);
    nbs.forEach((nb, k) => {
      expect(used(nb)).toEqual(olds[k]);
      expect(mdlsOf(nb)).toEqual(chains[k]!.mdls);
    });
    expect(nbs.map((nb) => fields(nb).DataOffset)).toEqual([8, 20, 40]);
  });

  it('is all-or-nothing: a handler failing on the 3rd NB leaves NBs 1 and 2 as before and returns their MDLs through FreeMdlHandler', () => {
    const { nbs, nbl } = threeNbs();
    const before = nbs.map(fields);
    const chainsBefore = nbs.map(mdlsOf);
    const calls: number[] = [];
    const given: number[] = [];
    const alloc = ((b: { value: number }) => {
      calls.push(b.value);
      if (calls.length === 3) return 0;
      const m = r.NdisAllocateMdl(g, buffer(b.value, 5, HDL_TAG), b.value);
      given.push(m);
      return m;
    }) as Loose;
    const fr = freeHandler();
    expect(r.NdisRetreatNetBufferListDataStart(nbl, 50, 6, alloc, fr.h)).toBe(NDIS_STATUS_RESOURCES);
    expect(calls).toEqual([56, 56, 56]);
    expect(nbs.map(fields)).toEqual(before);
    expect(nbs.map(mdlsOf)).toEqual(chainsBefore);
    expect([...fr.got].sort()).toEqual([...given].sort());
    expect(fr.got.length).toBe(2);
    expect(out(HDL_TAG, 'Memory')).toBe(0);
  });

  it('rolls back NBs already retreated with the default allocator when a later NB fails (bug check on NB 3)', () => {
    const { chains, nbs, nbl } = threeNbs();
    // NB 3's fields are made inconsistent (DataOffset + DataLength beyond its chain).
    r.NET_BUFFER_DATA_LENGTH_SET(nbs[2]!, 200);
    const before = nbs.map(fields);
    expectBug(() => r.NdisRetreatNetBufferListDataStart(nbl, 30, 2), { fn: 'NdisRetreatNetBufferListDataStart', code: C4, rule: 'NB-CONS' });
    expect(nbs.map(fields)).toEqual(before);
    nbs.forEach((nb, k) => expect(mdlsOf(nb)).toEqual(chains[k]!.mdls));
    expect(out(NDRT, 'Memory')).toBe(0);
  });

  it('NBL advance with ADV-1 on one NB changes none of them', () => {
    const { nbs, nbl } = threeNbs();
    r.NdisAdvanceNetBufferDataStart(nbs[1]!, 20, false); // NB 2 holds 40 bytes
    const before = nbs.map(fields);
    expectBug(() => r.NdisAdvanceNetBufferListDataStart(nbl, 41, true), {
      fn: 'NdisAdvanceNetBufferListDataStart', arg: 'DataOffsetDelta', code: C4, rule: 'ADV-1', parameters: [RULE_P1['ADV-1'], nbs[1]!, 40, 0],
    });
    expect(nbs.map(fields)).toEqual(before);
    r.NdisAdvanceNetBufferListDataStart(nbl, 40, false);
    expect(nbs.map((nb) => fields(nb).DataLength)).toEqual([20, 0, 20]);
  });

  it('NBL advance with ADV-2 on the 2nd NB changes none of them', () => {
    const { nbs, nbl } = threeNbs();
    const alloc = allocHandler();
    expect(r.NdisRetreatNetBufferDataStart(nbs[1]!, 30, 0, alloc.h)).toBe(NDIS_STATUS_SUCCESS); // 10-byte handler MDL
    const before = nbs.map(fields);
    expectBug(() => r.NdisAdvanceNetBufferListDataStart(nbl, 10, true), { fn: 'NdisAdvanceNetBufferListDataStart', code: C4, rule: 'ADV-2' });
    expect(nbs.map(fields)).toEqual(before);
  });

  it('NBL advance with NB-CONS on the 2nd NB (fields beyond its chain) changes none of them', () => {
    const { nbs, nbl } = threeNbs();
    r.NET_BUFFER_DATA_OFFSET_SET(nbs[1]!, 100); // 100 + 60 > 130
    const before = nbs.map(fields);
    expectBug(() => r.NdisAdvanceNetBufferListDataStart(nbl, 10, false), { fn: 'NdisAdvanceNetBufferListDataStart', code: C4, rule: 'NB-CONS' });
    expect(nbs.map(fields)).toEqual(before);
  });
});

// -- NdisGetDataBuffer -------------------------------------------------------------------------------

describe('NdisGetDataBuffer', () => {
  it('returns a pointer into the data when the bytes are contiguous and aligned', () => {
    const { mdls, vas } = chain([64, 128]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 10, 150);
    const storage = buffer(256, 7);
    expect(r.NdisGetDataBuffer(nb, 54, storage, 1, 0)).toBe(vas[0]! + 10);
    expect(r.NdisGetDataBuffer(nb, 54, 0, 1, 0)).toBe(vas[0]! + 10);
    expect(r.NdisGetDataBuffer(nb, 0, 0, 1, 0)).toBe(vas[0]! + 10);
    // At an MDL boundary the data starts in the next MDL.
    r.NdisAdvanceNetBufferDataStart(nb, 54, false);
    expect(r.NdisGetDataBuffer(nb, 96, 0, 1, 0)).toBe(vas[1]!);
    expect(r.NdisGetDataBuffer(nb, 96, 0, 8, vas[1]! & 7)).toBe(vas[1]!);
  });

  it('copies across MDLs into Storage (contents checked); NULL without Storage', () => {
    const { mdls } = chain([64, 128]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 10, 150);
    const storage = buffer(256, 7);
    const want = used(nb);
    expect(r.NdisGetDataBuffer(nb, 55, storage, 1, 0)).toBe(storage);
    expect([...rt.bytes(storage, 55)]).toEqual(want.slice(0, 55));
    expect(rt.bytes(storage, 56)[55]).toBe(pat(7, 55)); // nothing past BytesNeeded
    expect(r.NdisGetDataBuffer(nb, 150, storage, 1, 0)).toBe(storage);
    expect([...rt.bytes(storage, 150)]).toEqual(want);
    expect(r.NdisGetDataBuffer(nb, 55, 0, 1, 0)).toBe(0);
  });

  it('returns NULL when BytesNeeded > DataLength, with or without Storage', () => {
    const { mdls } = chain([64, 128]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 10, 150);
    const storage = buffer(256, 7);
    expect(r.NdisGetDataBuffer(nb, 151, storage, 1, 0)).toBe(0);
    expect(r.NdisGetDataBuffer(nb, 151, 0, 1, 0)).toBe(0);
    expect([...rt.bytes(storage, 8)]).toEqual(Array.from({ length: 8 }, (_, i) => pat(7, i)));
  });

  it('decides in place vs copy by (address & (AlignMultiple - 1)) == AlignOffset', () => {
    const { mdls, vas } = chain([256]);
    const base = vas[0]!;
    // Choose DataOffset so that the data address is 2 mod 8.
    const off = (((2 - base) % 8) + 8) % 8 + 8;
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, off, 100);
    const addr = base + off;
    expect(addr % 8).toBe(2);
    const storage = buffer(128, 3);
    for (const [mul, aoff] of [[1, 0], [2, 0], [4, 2], [8, 2], [8192, addr & 8191]] as const) {
      expect(r.NdisGetDataBuffer(nb, 20, storage, mul, aoff), `${mul}/${aoff}`).toBe(addr);
      expect(r.NdisGetDataBuffer(nb, 20, 0, mul, aoff), `${mul}/${aoff}`).toBe(addr);
    }
    for (const [mul, aoff] of [[4, 0], [8, 0], [8, 6], [16, 1], [4096, (addr + 1) & 4095]] as const) {
      expect(r.NdisGetDataBuffer(nb, 20, storage, mul, aoff), `${mul}/${aoff}`).toBe(storage);
      expect([...rt.bytes(storage, 20)]).toEqual(used(nb).slice(0, 20));
      expect(r.NdisGetDataBuffer(nb, 20, 0, mul, aoff), `${mul}/${aoff}`).toBe(0);
    }
  });

  it('GDB-1 for AlignMultiple 3, 0, 16384, AlignOffset >= AlignMultiple and a Storage too small', () => {
    const { mdls } = chain([64, 128]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 10, 150);
    const storage = buffer(256, 7);
    for (const mul of [3, 0, 16384, 6, 2 ** 32]) {
      expectBug(() => r.NdisGetDataBuffer(nb, 10, storage, mul, 0), { fn: 'NdisGetDataBuffer', arg: 'AlignMultiple', code: C4, rule: 'GDB-1' });
    }
    for (const [mul, aoff] of [[1, 1], [4, 4], [8, 9], [8192, 8192]] as const) {
      expectBug(() => r.NdisGetDataBuffer(nb, 10, storage, mul, aoff), { fn: 'NdisGetDataBuffer', arg: 'AlignOffset', code: C4, rule: 'GDB-1' });
    }
    const small = buffer(16, 8);
    expectBug(() => r.NdisGetDataBuffer(nb, 17, small, 1, 0), {
      fn: 'NdisGetDataBuffer', arg: 'Storage', code: C4, rule: 'GDB-1', parameters: [RULE_P1['GDB-1'], small, 17, 0],
    });
    expect([...rt.bytes(small, 16)]).toEqual(Array.from({ length: 16 }, (_, i) => pat(8, i)));
    // 16 bytes fit.
    expect(r.NdisGetDataBuffer(nb, 16, small, 1, 0)).toBe(r.MmGetSystemAddressForMdlSafe(mdls[0]!, NormalPagePriority) + 10);
    expect(r.NdisGetDataBuffer(nb, 60, storage, 1, 0)).toBe(storage);
  });

  it('after a retreat beyond the unused space: the header is in place; more than Delta bytes is a copy', () => {
    const { mdls } = chain([64, 128]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 0, 100);
    expect(r.NdisRetreatNetBufferDataStart(nb, 14, 2)).toBe(NDIS_STATUS_SUCCESS);
    const n = r.NET_BUFFER_FIRST_MDL(nb);
    const storage = buffer(64, 2);
    expect(r.NdisGetDataBuffer(nb, 14, storage, 1, 0)).toBe(r.MmGetSystemAddressForMdlSafe(n, NormalPagePriority) + 2);
    expect(r.NdisGetDataBuffer(nb, 15, storage, 1, 0)).toBe(storage);
    expect([...rt.bytes(storage, 15)]).toEqual(used(nb).slice(0, 15));
    expect(r.NdisGetDataBuffer(nb, 15, 0, 1, 0)).toBe(0);
  });
});

// -- NdisCopyFromNetBufferToNetBuffer -----------------------------------------------------------------

describe('NdisCopyFromNetBufferToNetBuffer', () => {
  it('copies across multi-MDL chains with offsets; BytesCopied is what both sides hold', () => {
    const src = r.NdisAllocateNetBuffer(pool, chain([30, 50, 20]).mdls[0]!, 5, 90);
    const dstChain = chain([16, 16, 64]).mdls;
    const dst = r.NdisAllocateNetBuffer(pool, dstChain[0]!, 3, 80);
    const s = used(src);
    const d0 = used(dst);
    const fs = fields(src);
    const fd = fields(dst);
    const copied = { value: -1 };
    expect(r.NdisCopyFromNetBufferToNetBuffer(dst, 7, 60, src, 11, copied)).toBe(NDIS_STATUS_SUCCESS);
    expect(copied.value).toBe(60);
    expect(used(dst)).toEqual([...d0.slice(0, 7), ...s.slice(11, 71), ...d0.slice(67)]);
    expect(used(src)).toEqual(s);
    expect(fields(src)).toEqual(fs);
    expect(fields(dst)).toEqual(fd);

    // More than either side holds: min(80 - 9, 90 - 30) = 60 bytes.
    const d1 = used(dst);
    expect(r.NdisCopyFromNetBufferToNetBuffer(dst, 9, 1000, src, 30, copied)).toBe(NDIS_STATUS_SUCCESS);
    expect(copied.value).toBe(60);
    expect(used(dst)).toEqual([...d1.slice(0, 9), ...s.slice(30, 90), ...d1.slice(69)]);
    // Destination-limited: min(80 - 70, 90 - 0) = 10.
    const d2 = used(dst);
    expect(r.NdisCopyFromNetBufferToNetBuffer(dst, 70, 50, src, 0, copied)).toBe(NDIS_STATUS_SUCCESS);
    expect(copied.value).toBe(10);
    expect(used(dst)).toEqual([...d2.slice(0, 70), ...s.slice(0, 10)]);
    // Zero bytes requested.
    expect(r.NdisCopyFromNetBufferToNetBuffer(dst, 0, 0, src, 0, copied)).toBe(NDIS_STATUS_SUCCESS);
    expect(copied.value).toBe(0);
  });

  it('returns NDIS_STATUS_FAILURE for an offset past DataLength (BytesCopied 0, nothing written)', () => {
    const src = r.NdisAllocateNetBuffer(pool, chain([30, 50]).mdls[0]!, 5, 70);
    const dst = r.NdisAllocateNetBuffer(pool, chain([16, 64]).mdls[0]!, 3, 60);
    const d0 = used(dst);
    const copied = { value: -1 };
    expect(r.NdisCopyFromNetBufferToNetBuffer(dst, 61, 5, src, 0, copied)).toBe(NDIS_STATUS_FAILURE);
    expect(copied.value).toBe(0);
    copied.value = -1;
    expect(r.NdisCopyFromNetBufferToNetBuffer(dst, 0, 5, src, 71, copied)).toBe(NDIS_STATUS_FAILURE);
    expect(copied.value).toBe(0);
    expect(used(dst)).toEqual(d0);
    // An offset exactly at DataLength leaves nothing to copy.
    r.NdisCopyFromNetBufferToNetBuffer(dst, 60, 5, src, 0, copied);
    expect(copied.value).toBe(0);
    expect(used(dst)).toEqual(d0);
  });

  it('copies into a retreated NB whose used range straddles a new MDL and the old chain', () => {
    const src = r.NdisAllocateNetBuffer(pool, chain([40]).mdls[0]!, 0, 40);
    const dst = r.NdisAllocateNetBuffer(pool, chain([32]).mdls[0]!, 0, 32);
    expect(r.NdisRetreatNetBufferDataStart(dst, 8, 0)).toBe(NDIS_STATUS_SUCCESS);
    const copied = { value: 0 };
    expect(r.NdisCopyFromNetBufferToNetBuffer(dst, 0, 40, src, 0, copied)).toBe(NDIS_STATUS_SUCCESS);
    expect(copied.value).toBe(40);
    expect(used(dst)).toEqual(used(src));
  });
});

// -- NdisQueryNetBufferPhysicalCount ------------------------------------------------------------------

describe('NdisQueryNetBufferPhysicalCount', () => {
  it('counts the pages the used part of each MDL spans', () => {
    const big = buffer(8 * PAGE_4K, 4);
    const P1 = (Math.ceil((big + 200) / PAGE_4K)) * PAGE_4K; // a page boundary with room before it
    const P2 = P1 + PAGE_4K;
    const P3 = P1 + 3 * PAGE_4K;
    const A = r.NdisAllocateMdl(g, P1 - 100, 300); // 2 pages
    const B = r.NdisAllocateMdl(g, P2 + 10, 50); // 1 page
    const C = r.NdisAllocateMdl(g, P3 - 1, PAGE_4K + 2); // 3 pages
    r.NDIS_MDL_LINKAGE_SET(A, B);
    r.NDIS_MDL_LINKAGE_SET(B, C);
    const total = 300 + 50 + PAGE_4K + 2;
    const nb = r.NdisAllocateNetBuffer(pool, A, 0, total);
    const cases: [number, number, number][] = [
      [0, total, 6],
      [0, 100, 1], // ends exactly at P1
      [0, 101, 2],
      [99, 2, 2],
      [100, 200, 1], // A's used part starts at P1
      [150, total - 150, 1 + 1 + 3],
      [300, 50, 1], // only B
      [300, 51, 2], // B and one byte of C
      [350, 1, 1], // the last byte before P3 ... in page P3 - 1
      [351, PAGE_4K, 1],
      [351, PAGE_4K + 1, 2],
      [0, 0, 0],
      [total, 0, 0],
    ];
    for (const [off, len, pages] of cases) {
      r.NET_BUFFER_DATA_OFFSET_SET(nb, off);
      r.NET_BUFFER_DATA_LENGTH_SET(nb, len);
      r.NdisAdjustNetBufferCurrentMdl(nb);
      expect(r.NdisQueryNetBufferPhysicalCount(nb), `${off}+${len}`).toBe(pages);
      expect(pagesOf(nb)).toBe(pages);
    }
  });

  it('counts a prepended retreat MDL too', () => {
    const { mdls } = chain([64]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 0, 64);
    const before = r.NdisQueryNetBufferPhysicalCount(nb);
    expect(before).toBe(pagesOf(nb));
    expect(r.NdisRetreatNetBufferDataStart(nb, 8, 0)).toBe(NDIS_STATUS_SUCCESS);
    expect(r.NdisQueryNetBufferPhysicalCount(nb)).toBe(pagesOf(nb));
    expect(r.NdisQueryNetBufferPhysicalCount(nb)).toBeGreaterThanOrEqual(before + 1);
  });
});

// -- NB-CONS: looped chains and inconsistent fields ---------------------------------------------------

describe('NB-CONS', () => {
  /** Every data-space function on `nb`, each expected to throw NB-CONS. */
  function everyFunction(nb: number, other: number) {
    const storage = buffer(64);
    const nbl = nblOf([nb]);
    const calls: [string, () => unknown][] = [
      ['NdisRetreatNetBufferDataStart', () => r.NdisRetreatNetBufferDataStart(nb, 1, 0)],
      ['NdisRetreatNetBufferDataStart', () => r.NdisRetreatNetBufferDataStart(nb, 1000, 0)],
      ['NdisAdvanceNetBufferDataStart', () => r.NdisAdvanceNetBufferDataStart(nb, 1, true)],
      ['NdisRetreatNetBufferListDataStart', () => r.NdisRetreatNetBufferListDataStart(nbl, 1, 0)],
      ['NdisAdvanceNetBufferListDataStart', () => r.NdisAdvanceNetBufferListDataStart(nbl, 1, false)],
      ['NdisAdjustNetBufferCurrentMdl', () => r.NdisAdjustNetBufferCurrentMdl(nb)],
      ['NdisGetDataBuffer', () => r.NdisGetDataBuffer(nb, 4, storage, 1, 0)],
      ['NdisCopyFromNetBufferToNetBuffer', () => r.NdisCopyFromNetBufferToNetBuffer(nb, 0, 4, other, 0, { value: 0 })],
      ['NdisCopyFromNetBufferToNetBuffer', () => r.NdisCopyFromNetBufferToNetBuffer(other, 0, 4, nb, 0, { value: 0 })],
      ['NdisQueryNetBufferPhysicalCount', () => r.NdisQueryNetBufferPhysicalCount(nb)],
    ];
    return calls;
  }

  it('an MDL chain made to loop with NDIS_MDL_LINKAGE_SET is caught by every function, without hanging', () => {
    const { mdls } = chain([64, 128, 32]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 10, 150);
    const other = r.NdisAllocateNetBuffer(pool, chain([64]).mdls[0]!, 0, 64);
    r.NDIS_MDL_LINKAGE_SET(mdls[2]!, mdls[0]!);
    const before = fields(nb);
    for (const [fn, call] of everyFunction(nb, other)) {
      expectBug(call, { fn, code: C4, rule: 'NB-CONS' });
      expect(fields(nb)).toEqual(before);
    }
    // A two-MDL loop, and an MDL linked back to itself through a neighbour, too.
    r.NDIS_MDL_LINKAGE_SET(mdls[1]!, mdls[0]!);
    expectBug(() => r.NdisQueryNetBufferPhysicalCount(nb), { fn: 'NdisQueryNetBufferPhysicalCount', code: C4, rule: 'NB-CONS' });
    expectBug(() => r.NdisAdvanceNetBufferDataStart(nb, 5, true), { fn: 'NdisAdvanceNetBufferDataStart', code: C4, rule: 'NB-CONS' });
  }, 10_000);

  it('DataOffset + DataLength beyond the chain (set with the _SET setters) is NB-CONS everywhere', () => {
    const { mdls } = chain([64, 128]);
    const nb = r.NdisAllocateNetBuffer(pool, mdls[0]!, 10, 150);
    const other = r.NdisAllocateNetBuffer(pool, chain([64]).mdls[0]!, 0, 64);
    r.NET_BUFFER_DATA_LENGTH_SET(nb, 183); // 10 + 183 = 193 > 192
    const before = fields(nb);
    for (const [fn, call] of everyFunction(nb, other)) {
      const b = expectBug(call, { fn, code: C4, rule: 'NB-CONS' });
      if (fn !== 'NdisCopyFromNetBufferToNetBuffer' && !fn.includes('List')) expect([...b.parameters]).toEqual([RULE_P1['NB-CONS'], nb, 192, 0]);
      expect(fields(nb)).toEqual(before);
    }
    r.NET_BUFFER_DATA_LENGTH_SET(nb, 150);
    r.NET_BUFFER_DATA_OFFSET_SET(nb, 43); // 43 + 150 = 193
    for (const [fn, call] of everyFunction(nb, other)) expectBug(call, { fn, code: C4, rule: 'NB-CONS' });
    // Exactly the chain's 192 bytes is consistent.
    r.NET_BUFFER_DATA_OFFSET_SET(nb, 42);
    r.NdisAdjustNetBufferCurrentMdl(nb);
    expect(fields(nb)).toEqual({ MdlChain: mdls[0]!, CurrentMdl: mdls[0]!, CurrentMdlOffset: 42, DataOffset: 42, DataLength: 150 });
    expect(r.NdisQueryNetBufferPhysicalCount(nb)).toBe(pagesOf(nb));
  });
});
