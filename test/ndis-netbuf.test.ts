/**
 * NET_BUFFER pools and NET_BUFFERs (src/ndis/netbuf.ts): pool creation and headers, the two NB
 * allocators, CurrentMdl placement, the NET_BUFFER_* accessors and setters, poolmon rows,
 * exhaustion, runtime.reset and the package-level functions on defaultRuntime.
 */
import { describe, it, expect, beforeEach } from 'vitest';
import { createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import * as pkg from '../build/ts/index.js';
import {
  NdisBugCheck,
  POOL_TAG,
  NDIS_STATUS_SUCCESS,
  NET_BUFFER_POOL_FLAG_VERIFY,
  NormalPoolPriority,
  NormalPagePriority,
  NET_BUFFER_LAYOUT,
  MDL_AND_DATA_LAYOUT,
  MDL_LAYOUT,
  RULE_P1,
} from '../build/ts/index.js';
import { type Loose, HDR1, HDR2, protocolChars, expectBug, row, u32At, u16At, slot } from './helpers.js';

// -- helpers ---------------------------------------------------------------------------------------

function params(tag: number, dataSize = 0, header: object = HDR1, flags?: number): Loose {
  return flags === undefined ? { Header: header, PoolTag: tag, DataSize: dataSize } : { Header: header, PoolTag: tag, DataSize: dataSize, Flags: flags };
}

/** Every NB data field as the accessors report it. */
function nbFields(rt: NdisRuntime, nb: number) {
  const b = nb as Loose;
  return {
    next: rt.NET_BUFFER_NEXT_NB(b),
    firstMdl: rt.NET_BUFFER_FIRST_MDL(b),
    currentMdl: rt.NET_BUFFER_CURRENT_MDL(b),
    currentMdlOffset: rt.NET_BUFFER_CURRENT_MDL_OFFSET(b),
    dataOffset: rt.NET_BUFFER_DATA_OFFSET(b),
    dataLength: rt.NET_BUFFER_DATA_LENGTH(b),
    checksumBias: rt.NET_BUFFER_CHECKSUM_BIAS(b),
  };
}

let rt: NdisRuntime;
let g: number; // a generic object used as NdisHandle
beforeEach(() => {
  rt = createRuntimeSync();
  g = rt.NdisAllocateGenericObject(0, POOL_TAG('Gen '), 0);
});

/** A buffer of `sizes.length` MDLs chained in order over one memory block. Returns the MDLs. */
function chain(sizes: number[]): number[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  const m = rt.NdisAllocateMemoryWithTagPriority(g as Loose, Math.max(total, 1), POOL_TAG('Chn '), NormalPoolPriority);
  const mdls: number[] = [];
  let off = 0;
  for (const s of sizes) {
    mdls.push(rt.NdisAllocateMdl(g as Loose, (m + off) as Loose, s));
    off += s;
  }
  for (let i = 0; i + 1 < mdls.length; i++) rt.NDIS_MDL_LINKAGE_SET(mdls[i] as Loose, mdls[i + 1] as Loose);
  return mdls;
}

// -- NdisAllocateNetBufferPool / NdisFreeNetBufferPool --------------------------------------------

describe('NdisAllocateNetBufferPool / NdisFreeNetBufferPool', () => {
  it('creates pools from revision-1 and revision-2 headers', () => {
    const a = rt.NdisAllocateNetBufferPool(g as Loose, params(POOL_TAG('Rev1')));
    const b = rt.NdisAllocateNetBufferPool(g as Loose, params(POOL_TAG('Rev2'), 0, HDR2, 0));
    const c = rt.NdisAllocateNetBufferPool(g as Loose, params(POOL_TAG('Ver2'), 256, HDR2, NET_BUFFER_POOL_FLAG_VERIFY));
    for (const p of [a, b, c]) expect(p).toBeGreaterThanOrEqual(65536);
    expect(new Set([a, b, c]).size).toBe(3);
    // They work.
    const nb = rt.NdisAllocateNetBuffer(a as Loose, 0, 0, 0);
    const nb2 = rt.NdisAllocateNetBuffer(b as Loose, 0, 0, 0);
    const nb3 = rt.NdisAllocateNetBufferMdlAndData(c as Loose);
    expect(rt.NdisGetPoolFromNetBuffer(nb as Loose)).toBe(a);
    expect(rt.NdisGetPoolFromNetBuffer(nb2 as Loose)).toBe(b);
    expect(rt.NdisGetPoolFromNetBuffer(nb3 as Loose)).toBe(c);
    for (const n of [nb, nb2, nb3]) rt.NdisFreeNetBuffer(n as Loose);
    for (const p of [a, b, c]) rt.NdisFreeNetBufferPool(p as Loose);
  });

  it('accepts Size >= the revision size: a revision-1 header with Size 16, revision 2 with Size 20', () => {
    const a = rt.NdisAllocateNetBufferPool(g as Loose, params(1, 0, { Type: 0x80, Revision: 1, Size: 16 }));
    const b = rt.NdisAllocateNetBufferPool(g as Loose, params(2, 0, { Type: 0x80, Revision: 2, Size: 20 }));
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
  });

  it('ignores Flags in a revision-1 header (a revision-1 reader does not see them)', () => {
    const p = rt.NdisAllocateNetBufferPool(g as Loose, params(3, 0, { Type: 0x80, Revision: 1, Size: 16 }, 0xff));
    expect(p).toBeGreaterThan(0);
  });

  it('accepts NdisHandle NULL, a protocol handle and a generic object', () => {
    const out = { value: 0 };
    expect(rt.NdisRegisterProtocolDriver(0, protocolChars('NBTEST', { MinorNdisVersion: 20 }), out as Loose)).toBe(NDIS_STATUS_SUCCESS);
    for (const h of [0, out.value, g]) {
      const p = rt.NdisAllocateNetBufferPool(h as Loose, params(4));
      expect(p).toBeGreaterThan(0);
      rt.NdisFreeNetBufferPool(p as Loose);
    }
    // With its pool freed the protocol deregisters.
    rt.NdisDeregisterProtocolDriver(out.value as Loose);
  });

  it('returns NULL for a DataSize no address space can hold', () => {
    expect(rt.NdisAllocateNetBufferPool(g as Loose, params(5, 0xffffffff))).toBe(0);
    expect(rt.NdisAllocateNetBufferPool(g as Loose, params(5, 0xfff00000))).toBe(0);
  });

  it('a freed pool handle is invalid (ALT-POOL on a second free); its tag keeps its counters', () => {
    const keep = rt.NdisAllocateNetBufferPool(g as Loose, params(POOL_TAG('Keep')));
    const p = rt.NdisAllocateNetBufferPool(g as Loose, params(POOL_TAG('Gone')));
    const nb = rt.NdisAllocateNetBuffer(p as Loose, 0, 0, 0);
    rt.NdisFreeNetBuffer(nb as Loose);
    rt.NdisFreeNetBufferPool(p as Loose);
    expectBug(() => rt.NdisFreeNetBufferPool(p as Loose), {
      fn: 'NdisFreeNetBufferPool', arg: 'PoolHandle', code: 0xc2, rule: 'ALT-POOL', parameters: [0x07, 0, 0, p],
    });
    expect(() => rt.NdisAllocateNetBuffer(p as Loose, 0, 0, 0)).toThrow(NdisBugCheck);
    expect(row(rt, POOL_TAG('Gone'), 'NB')).toMatchObject({ allocs: 1, frees: 1, outstanding: 0, bytes: 0 });
    expect(rt.NdisAllocateNetBuffer(keep as Loose, 0, 0, 0)).toBeGreaterThan(0);
  });
});

// -- NdisAllocateNetBuffer --------------------------------------------------------------------------

describe('NdisAllocateNetBuffer', () => {
  it('with MdlChain NULL: 0/0, no MDL, NdisPoolHandle = pool', () => {
    const pool = rt.NdisAllocateNetBufferPool(g as Loose, params(POOL_TAG('Null')));
    const nb = rt.NdisAllocateNetBuffer(pool as Loose, 0, 0, 0);
    expect(nb).toBeGreaterThanOrEqual(65536);
    expect(nb % 8).toBe(0);
    expect(nbFields(rt, nb)).toEqual({ next: 0, firstMdl: 0, currentMdl: 0, currentMdlOffset: 0, dataOffset: 0, dataLength: 0, checksumBias: 0 });
    expect(rt.NdisGetPoolFromNetBuffer(nb as Loose)).toBe(pool);
    expect(u32At(rt, nb + NET_BUFFER_LAYOUT.NdisPoolHandle)).toBe(pool);
    expect(NET_BUFFER_LAYOUT.SIZE).toBe(0x58);
  });

  const cases: [string, number, number, 0 | 1, number][] = [
    // [what, DataOffset, DataLength, current MDL index, CurrentMdlOffset]
    ['offset 0', 0, 300, 0, 0],
    ['inside the first MDL', 50, 10, 0, 50],
    ['the last byte of the first MDL', 99, 1, 0, 99],
    ['DataOffset == first ByteCount (boundary -> second MDL, offset 0)', 100, 0, 1, 0],
    ['boundary with data', 100, 200, 1, 0],
    ['inside the second MDL', 150, 150, 1, 50],
    ['the last byte of the chain', 299, 1, 1, 199],
    ['the end of the chain (stays on the last MDL, offset = ByteCount)', 300, 0, 1, 200],
  ];
  for (const [what, off, len, cur, curOff] of cases) {
    it(`over a caller's 2-MDL chain (100 + 200 bytes): ${what}`, () => {
      const pool = rt.NdisAllocateNetBufferPool(g as Loose, params(POOL_TAG('Chai')));
      const mdls = chain([100, 200]);
      const nb = rt.NdisAllocateNetBuffer(pool as Loose, mdls[0] as Loose, off, len);
      expect(nb).toBeGreaterThan(0);
      expect(nbFields(rt, nb)).toEqual({
        next: 0, firstMdl: mdls[0], currentMdl: mdls[cur], currentMdlOffset: curOff, dataOffset: off, dataLength: len, checksumBias: 0,
      });
      // The raw fields at their x86 offsets agree with the accessors.
      expect(u32At(rt, nb + NET_BUFFER_LAYOUT.MdlChain)).toBe(mdls[0]);
      expect(u32At(rt, nb + NET_BUFFER_LAYOUT.CurrentMdl)).toBe(mdls[cur]);
      expect(u32At(rt, nb + NET_BUFFER_LAYOUT.CurrentMdlOffset)).toBe(curOff);
      expect(u32At(rt, nb + NET_BUFFER_LAYOUT.DataOffset)).toBe(off);
      expect(u32At(rt, nb + NET_BUFFER_LAYOUT.DataLength)).toBe(len);
    });
  }

  it('skips zero-length MDLs only as far as the data starts, and takes a 1-MDL chain', () => {
    const pool = rt.NdisAllocateNetBufferPool(g as Loose, params(POOL_TAG('One ')));
    const [m] = chain([64]);
    const nb = rt.NdisAllocateNetBuffer(pool as Loose, m as Loose, 14, 50);
    expect(rt.NET_BUFFER_CURRENT_MDL(nb as Loose)).toBe(m);
    expect(rt.NET_BUFFER_CURRENT_MDL_OFFSET(nb as Loose)).toBe(14);
    const three = chain([10, 20, 30]);
    const nb3 = rt.NdisAllocateNetBuffer(pool as Loose, three[0] as Loose, 35, 25);
    expect(rt.NET_BUFFER_CURRENT_MDL(nb3 as Loose)).toBe(three[2]);
    expect(rt.NET_BUFFER_CURRENT_MDL_OFFSET(nb3 as Loose)).toBe(5);
  });

  it('initialises a reused NET_BUFFER afresh', () => {
    const pool = rt.NdisAllocateNetBufferPool(g as Loose, params(POOL_TAG('Reus')));
    const keep = rt.NdisAllocateNetBuffer(pool as Loose, 0, 0, 0);
    const nb = rt.NdisAllocateNetBuffer(pool as Loose, 0, 0, 0);
    rt.NET_BUFFER_DATA_LENGTH_SET(nb as Loose, 99);
    rt.NET_BUFFER_CHECKSUM_BIAS_SET(nb as Loose, 7);
    rt.NET_BUFFER_NEXT_NB_SET(nb as Loose, keep as Loose);
    rt.NdisFreeNetBuffer(nb as Loose);
    const again = rt.NdisAllocateNetBuffer(pool as Loose, 0, 0, 0);
    expect(again).toBe(nb); // LIFO reuse of the slot
    expect(nbFields(rt, again)).toEqual({ next: 0, firstMdl: 0, currentMdl: 0, currentMdlOffset: 0, dataOffset: 0, dataLength: 0, checksumBias: 0 });
  });

  it("NdisFreeNetBuffer leaves the caller's MDLs allocated", () => {
    const pool = rt.NdisAllocateNetBufferPool(g as Loose, params(POOL_TAG('Own ')));
    const mdls = chain([40, 60]);
    const nb = rt.NdisAllocateNetBuffer(pool as Loose, mdls[0] as Loose, 0, 100);
    rt.NdisFreeNetBuffer(nb as Loose);
    expect(rt.MmGetMdlByteCount(mdls[0] as Loose)).toBe(40);
    expect(rt.NDIS_MDL_LINKAGE(mdls[0] as Loose)).toBe(mdls[1]);
    for (const m of mdls) rt.NdisFreeMdl(m as Loose);
    expect(row(rt, POOL_TAG('Own '), 'NB')).toMatchObject({ outstanding: 0 });
  });
});

// -- NdisAllocateNetBufferMdlAndData --------------------------------------------------------------

describe('NdisAllocateNetBufferMdlAndData', () => {
  it('returns NB + MDL + DataSize bytes in one object', () => {
    const pool = rt.NdisAllocateNetBufferPool(g as Loose, params(POOL_TAG('Mdat'), 1514));
    const nb = rt.NdisAllocateNetBufferMdlAndData(pool as Loose);
    expect(nb).toBeGreaterThanOrEqual(65536);
    const mdl = rt.NET_BUFFER_FIRST_MDL(nb as Loose);
    expect(mdl).toBe(nb + MDL_AND_DATA_LAYOUT.Mdl);
    expect(rt.NET_BUFFER_CURRENT_MDL(nb as Loose)).toBe(mdl);
    expect(rt.NET_BUFFER_CURRENT_MDL_OFFSET(nb as Loose)).toBe(0);
    expect(rt.MmGetMdlByteCount(mdl as Loose)).toBe(1514);
    expect(rt.NET_BUFFER_DATA_LENGTH(nb as Loose)).toBe(1514);
    expect(rt.NET_BUFFER_DATA_OFFSET(nb as Loose)).toBe(0);
    expect(rt.NET_BUFFER_NEXT_NB(nb as Loose)).toBe(0);
    expect(rt.NDIS_MDL_LINKAGE(mdl as Loose)).toBe(0);
    expect(u32At(rt, nb + NET_BUFFER_LAYOUT.NdisPoolHandle)).toBe(pool);
    expect(rt.NdisGetPoolFromNetBuffer(nb as Loose)).toBe(pool);
    const va = rt.MmGetSystemAddressForMdlSafe(mdl as Loose, NormalPagePriority);
    expect(va).toBe(nb + MDL_AND_DATA_LAYOUT.Data);
    expect(rt.MmGetMdlVirtualAddress(mdl as Loose)).toBe(va);
    expect(u16At(rt, mdl + MDL_LAYOUT.Size)).toBe(28);
  });

  it('gives each NET_BUFFER its own data, writable through runtime.bytes', () => {
    const pool = rt.NdisAllocateNetBufferPool(g as Loose, params(POOL_TAG('Data'), 100));
    const nbs = Array.from({ length: 50 }, () => rt.NdisAllocateNetBufferMdlAndData(pool as Loose));
    nbs.forEach((nb, i) => {
      const va = rt.MmGetSystemAddressForMdlSafe(rt.NET_BUFFER_FIRST_MDL(nb as Loose) as Loose, NormalPagePriority);
      rt.bytes(va, 100).fill(i + 1);
    });
    nbs.forEach((nb, i) => {
      const va = rt.MmGetSystemAddressForMdlSafe(rt.NET_BUFFER_FIRST_MDL(nb as Loose) as Loose, NormalPagePriority);
      expect(rt.bytes(va, 100).every((b) => b === i + 1)).toBe(true);
      // The NB header was not overwritten by its neighbour's data.
      expect(rt.NET_BUFFER_DATA_LENGTH(nb as Loose)).toBe(100);
    });
  });

  it('re-initialises NB and MDL on reuse, and NdisFreeNetBuffer frees the MDL with it', () => {
    const pool = rt.NdisAllocateNetBufferPool(g as Loose, params(POOL_TAG('MdaR'), 64));
    const keep = rt.NdisAllocateNetBufferMdlAndData(pool as Loose);
    const nb = rt.NdisAllocateNetBufferMdlAndData(pool as Loose);
    const mdl = rt.NET_BUFFER_FIRST_MDL(nb as Loose);
    rt.NET_BUFFER_DATA_OFFSET_SET(nb as Loose, 10);
    rt.NET_BUFFER_DATA_LENGTH_SET(nb as Loose, 54);
    rt.NdisFreeNetBuffer(nb as Loose);
    // The MDL went with its NET_BUFFER.
    expect(() => rt.MmGetMdlByteCount(mdl as Loose)).toThrow(NdisBugCheck);
    const again = rt.NdisAllocateNetBufferMdlAndData(pool as Loose);
    expect(again).toBe(nb);
    expect(rt.NET_BUFFER_DATA_OFFSET(again as Loose)).toBe(0);
    expect(rt.NET_BUFFER_DATA_LENGTH(again as Loose)).toBe(64);
    expect(rt.MmGetMdlByteCount(rt.NET_BUFFER_FIRST_MDL(again as Loose) as Loose)).toBe(64);
    expect(rt.NET_BUFFER_DATA_LENGTH(keep as Loose)).toBe(64);
  });
});

// -- accessors and setters --------------------------------------------------------------------------

describe('NET_BUFFER accessors and setters', () => {
  it('each _SET writes the field at its x86 offset and the accessor reads it back', () => {
    const pool = rt.NdisAllocateNetBufferPool(g as Loose, params(POOL_TAG('Acc ')));
    const nb = rt.NdisAllocateNetBuffer(pool as Loose, 0, 0, 0) as Loose;
    const nb2 = rt.NdisAllocateNetBuffer(pool as Loose, 0, 0, 0) as Loose;
    const [m1, m2] = chain([30, 70]);

    rt.NET_BUFFER_NEXT_NB_SET(nb, nb2);
    expect(rt.NET_BUFFER_NEXT_NB(nb)).toBe(nb2);
    expect(u32At(rt, nb + NET_BUFFER_LAYOUT.Next)).toBe(nb2);
    rt.NET_BUFFER_NEXT_NB_SET(nb, 0);
    expect(rt.NET_BUFFER_NEXT_NB(nb)).toBe(0);

    rt.NET_BUFFER_FIRST_MDL_SET(nb, m1 as Loose);
    expect(rt.NET_BUFFER_FIRST_MDL(nb)).toBe(m1);
    expect(u32At(rt, nb + NET_BUFFER_LAYOUT.MdlChain)).toBe(m1);

    rt.NET_BUFFER_CURRENT_MDL_SET(nb, m2 as Loose);
    expect(rt.NET_BUFFER_CURRENT_MDL(nb)).toBe(m2);
    expect(u32At(rt, nb + NET_BUFFER_LAYOUT.CurrentMdl)).toBe(m2);

    rt.NET_BUFFER_CURRENT_MDL_OFFSET_SET(nb, 12);
    expect(rt.NET_BUFFER_CURRENT_MDL_OFFSET(nb)).toBe(12);
    expect(u32At(rt, nb + NET_BUFFER_LAYOUT.CurrentMdlOffset)).toBe(12);

    rt.NET_BUFFER_DATA_OFFSET_SET(nb, 42);
    expect(rt.NET_BUFFER_DATA_OFFSET(nb)).toBe(42);
    expect(u32At(rt, nb + NET_BUFFER_LAYOUT.DataOffset)).toBe(42);

    rt.NET_BUFFER_DATA_LENGTH_SET(nb, 0xffffffff);
    expect(rt.NET_BUFFER_DATA_LENGTH(nb)).toBe(0xffffffff);
    expect(u32At(rt, nb + NET_BUFFER_LAYOUT.DataLength)).toBe(0xffffffff);
    rt.NET_BUFFER_DATA_LENGTH_SET(nb, 58);
    expect(rt.NET_BUFFER_DATA_LENGTH(nb)).toBe(58);

    rt.NET_BUFFER_CHECKSUM_BIAS_SET(nb, 0xffff);
    expect(rt.NET_BUFFER_CHECKSUM_BIAS(nb)).toBe(0xffff);
    expect(u16At(rt, nb + NET_BUFFER_LAYOUT.ChecksumBias)).toBe(0xffff);
    // The neighbouring Reserved USHORT and NdisPoolHandle are untouched.
    expect(u16At(rt, nb + NET_BUFFER_LAYOUT.ChecksumBias + 2)).toBe(0);
    expect(u32At(rt, nb + NET_BUFFER_LAYOUT.NdisPoolHandle)).toBe(pool);

    rt.NET_BUFFER_FIRST_MDL_SET(nb, 0);
    rt.NET_BUFFER_CURRENT_MDL_SET(nb, 0);
    expect(rt.NET_BUFFER_FIRST_MDL(nb)).toBe(0);
    expect(rt.NET_BUFFER_CURRENT_MDL(nb)).toBe(0);
    // nb2 was not touched by any of this.
    expect(nbFields(rt, nb2)).toEqual({ next: 0, firstMdl: 0, currentMdl: 0, currentMdlOffset: 0, dataOffset: 0, dataLength: 0, checksumBias: 0 });
  });

  it('PROTOCOL_RESERVED and MINIPORT_RESERVED are the addresses of those areas', () => {
    const pool = rt.NdisAllocateNetBufferPool(g as Loose, params(POOL_TAG('Rsv ')));
    const nb = rt.NdisAllocateNetBuffer(pool as Loose, 0, 0, 0) as Loose;
    const pr = rt.NET_BUFFER_PROTOCOL_RESERVED(nb);
    const mr = rt.NET_BUFFER_MINIPORT_RESERVED(nb);
    expect(pr).toBe(nb + NET_BUFFER_LAYOUT.ProtocolReserved);
    expect(pr).toBe(nb + 0x28);
    expect(mr).toBe(nb + NET_BUFFER_LAYOUT.MiniportReserved);
    expect(mr).toBe(nb + 0x40);
    rt.bytes(pr, 24).fill(0x11);
    rt.bytes(mr, 16).fill(0x22);
    // Writing the reserved areas leaves the data fields alone.
    expect(nbFields(rt, nb)).toEqual({ next: 0, firstMdl: 0, currentMdl: 0, currentMdlOffset: 0, dataOffset: 0, dataLength: 0, checksumBias: 0 });
    expect(rt.bytes(pr, 24).every((b) => b === 0x11)).toBe(true);
    expect(rt.bytes(mr, 16).every((b) => b === 0x22)).toBe(true);
    expect(rt.NdisGetPoolFromNetBuffer(nb)).toBe(pool);
  });

  it('setters validate their values', () => {
    const pool = rt.NdisAllocateNetBufferPool(g as Loose, params(POOL_TAG('SetV')));
    const nb = rt.NdisAllocateNetBuffer(pool as Loose, 0, 0, 0) as Loose;
    const [m] = chain([16]);
    expectBug(() => rt.NET_BUFFER_NEXT_NB_SET(nb, nb), {
      fn: 'NET_BUFFER_NEXT_NB_SET', arg: 'Next', code: 0xc4, rule: 'NB-CONS', parameters: [RULE_P1['NB-CONS'], nb, 0, 0],
    });
    expectBug(() => rt.NET_BUFFER_NEXT_NB_SET(nb, m as Loose), {
      fn: 'NET_BUFFER_NEXT_NB_SET', arg: 'Next', code: 0xc2, rule: 'ORIGIN', parameters: [0x46, m, 0, 0],
    });
    expectBug(() => rt.NET_BUFFER_FIRST_MDL_SET(nb, nb), { fn: 'NET_BUFFER_FIRST_MDL_SET', arg: 'Mdl', code: 0xc2, rule: 'ORIGIN', parameters: [0x46, nb, 0, 0] });
    expectBug(() => rt.NET_BUFFER_CURRENT_MDL_SET(nb, 12345 as Loose), {
      fn: 'NET_BUFFER_CURRENT_MDL_SET', arg: 'Mdl', code: 0xc2, rule: 'ORIGIN', parameters: [0x42, 12345, 0, 0],
    });
    for (const v of [NaN, -1, 1.5, 2 ** 32, '12']) {
      expectBug(() => rt.NET_BUFFER_DATA_LENGTH_SET(nb, v as Loose), { fn: 'NET_BUFFER_DATA_LENGTH_SET', arg: 'Length', code: 0xc4, rule: 'PARAM' });
      expectBug(() => rt.NET_BUFFER_DATA_OFFSET_SET(nb, v as Loose), { fn: 'NET_BUFFER_DATA_OFFSET_SET', arg: 'Offset', code: 0xc4, rule: 'PARAM' });
      expectBug(() => rt.NET_BUFFER_CURRENT_MDL_OFFSET_SET(nb, v as Loose), { fn: 'NET_BUFFER_CURRENT_MDL_OFFSET_SET', arg: 'Offset', code: 0xc4, rule: 'PARAM' });
      expectBug(() => rt.NET_BUFFER_CHECKSUM_BIAS_SET(nb, v as Loose), { fn: 'NET_BUFFER_CHECKSUM_BIAS_SET', arg: 'Bias', code: 0xc4, rule: 'PARAM' });
    }
    expectBug(() => rt.NET_BUFFER_CHECKSUM_BIAS_SET(nb, 0x10000), {
      fn: 'NET_BUFFER_CHECKSUM_BIAS_SET', arg: 'Bias', code: 0xc4, rule: 'PARAM', parameters: [RULE_P1.PARAM, 0x10000, 0, 0],
    });
    // Nothing was written by the rejected calls.
    expect(nbFields(rt, nb)).toEqual({ next: 0, firstMdl: 0, currentMdl: 0, currentMdlOffset: 0, dataOffset: 0, dataLength: 0, checksumBias: 0 });
  });
});

// -- poolmon ----------------------------------------------------------------------------------------

describe('poolmon rows per tag', () => {
  it('counts allocs, frees, outstanding, bytes and peak of an NB pool', () => {
    const tag = POOL_TAG('NbPm');
    const pool = rt.NdisAllocateNetBufferPool(g as Loose, params(tag));
    const nbs = Array.from({ length: 5 }, () => rt.NdisAllocateNetBuffer(pool as Loose, 0, 0, 0));
    expect(row(rt, tag, 'NB')).toMatchObject({ tag: 'mPbN', allocs: 5, frees: 0, outstanding: 5, bytes: 5 * 0x58, peak: 5, failures: 0, pools: 1 });
    for (const nb of nbs.slice(0, 3)) rt.NdisFreeNetBuffer(nb as Loose);
    rt.NdisAllocateNetBuffer(pool as Loose, 0, 0, 0);
    expect(row(rt, tag, 'NB')).toMatchObject({ allocs: 6, frees: 3, outstanding: 3, bytes: 3 * 0x58, peak: 5, failures: 0, pools: 1 });
  });

  it('counts MdlAndData slots (NB + MDL + data, rounded to 8) and sums pools of one tag', () => {
    const tag = POOL_TAG('MdPm');
    const a = rt.NdisAllocateNetBufferPool(g as Loose, params(tag, 1500));
    const b = rt.NdisAllocateNetBufferPool(g as Loose, params(tag, 1500));
    const size = slot(MDL_AND_DATA_LAYOUT.Data + 1500);
    for (let i = 0; i < 3; i++) rt.NdisAllocateNetBufferMdlAndData(a as Loose);
    const fromB = [rt.NdisAllocateNetBufferMdlAndData(b as Loose), rt.NdisAllocateNetBufferMdlAndData(b as Loose)];
    expect(row(rt, tag, 'NB')).toMatchObject({ allocs: 5, frees: 0, outstanding: 5, bytes: 5 * size, pools: 2 });
    rt.NdisFreeNetBuffer(fromB[0] as Loose);
    expect(row(rt, tag, 'NB')).toMatchObject({ allocs: 5, frees: 1, outstanding: 4, bytes: 4 * size, pools: 2 });
    // Separate tags are separate rows.
    expect(row(rt, POOL_TAG('NbPm'), 'NB')).toBeUndefined();
  });

  it('counts MDLs and tagged memory under their own rows', () => {
    const before = rt.poolmon().find((r) => r.type === 'MDL')?.allocs ?? 0;
    const mdls = chain([8, 8, 8]);
    const mdlRow = rt.poolmon().find((r) => r.type === 'MDL')!;
    expect(mdlRow.tag).toBe('Mdl ');
    expect(mdlRow.allocs - before).toBe(3);
    expect(mdlRow.outstanding).toBe(3);
    expect(row(rt, POOL_TAG('Chn '), 'Memory')).toMatchObject({ allocs: 1, outstanding: 1 });
    for (const m of mdls) rt.NdisFreeMdl(m as Loose);
    expect(rt.poolmon().find((r) => r.type === 'MDL')!.outstanding).toBe(0);
  });
});

// -- exhaustion ---------------------------------------------------------------------------------------

describe('exhaustion (maxMemory 4 MiB)', () => {
  it('returns NULL without throwing when the budget is spent, and allocates again after frees', () => {
    const small = createRuntimeSync({ maxMemory: 4 * 65536 * 16 });
    const gen = small.NdisAllocateGenericObject(0, POOL_TAG('GenE'), 0);
    const tag = POOL_TAG('Full');
    const pool = small.NdisAllocateNetBufferPool(gen as Loose, params(tag, 1500));
    const unused = small.NdisAllocateNetBufferPool(gen as Loose, params(POOL_TAG('Idle')));
    // Statistics are first taken before the budget is spent (the next test takes them after).
    expect(small.poolmon().find((x) => x.tagValue === POOL_TAG('GenE'))).toMatchObject({ outstanding: 1 });
    expect(pool).toBeGreaterThan(0);
    expect(unused).toBeGreaterThan(0);
    const nbs: number[] = [];
    let nb = 0;
    for (let i = 0; i < 10_000; i++) {
      nb = small.NdisAllocateNetBufferMdlAndData(pool as Loose);
      if (nb === 0) break;
      nbs.push(nb);
    }
    expect(nb).toBe(0);
    expect(nbs.length).toBeGreaterThan(1000);
    expect(small.memory.buffer.byteLength).toBeLessThanOrEqual(4 * 65536 * 16);
    // Every allocator now returns NULL; none throws.
    expect(small.NdisAllocateNetBufferMdlAndData(pool as Loose)).toBe(0);
    expect(small.NdisAllocateNetBuffer(unused as Loose, 0, 0, 0)).toBe(0);
    expect(small.NdisAllocateMemoryWithTagPriority(gen as Loose, 128 * 1024, POOL_TAG('Big '), NormalPoolPriority)).toBe(0);
    const r = small.poolmon().find((x) => x.tagValue === tag && x.type === 'NB')!;
    expect(r.outstanding).toBe(nbs.length);
    expect(r.failures).toBeGreaterThanOrEqual(2);
    // The live NBs are intact.
    expect(small.NET_BUFFER_DATA_LENGTH(nbs[nbs.length - 1] as Loose)).toBe(1500);
    // Free them: the pool and other pools allocate again.
    for (const x of nbs) small.NdisFreeNetBuffer(x as Loose);
    const again = small.NdisAllocateNetBufferMdlAndData(pool as Loose);
    expect(again).toBeGreaterThan(0);
    small.NdisFreeNetBuffer(again as Loose);
    const big = small.NdisAllocateMemoryWithTagPriority(gen as Loose, 128 * 1024, POOL_TAG('Big '), NormalPoolPriority);
    expect(big).toBeGreaterThan(0);
    const nb0 = small.NdisAllocateNetBuffer(unused as Loose, 0, 0, 0);
    expect(nb0).toBeGreaterThan(0);
    small.NdisFreeNetBuffer(nb0 as Loose);
    small.NdisFreeMemoryWithTagPriority(gen as Loose, big as Loose, POOL_TAG('Big '));
    small.NdisFreeNetBufferPool(pool as Loose);
    small.NdisFreeNetBufferPool(unused as Loose);
    small.NdisFreeGenericObject(gen as Loose);
  });

  it('poolmon works when first called after the budget is spent', () => {
    const small = createRuntimeSync({ maxMemory: 4 * 65536 * 16 });
    const tag = POOL_TAG('Stat');
    const pool = small.NdisAllocateNetBufferPool(0, params(tag, 1500));
    let n = 0;
    while (small.NdisAllocateNetBufferMdlAndData(pool as Loose) !== 0) n++;
    expect(n).toBeGreaterThan(1000);
    const rows = small.poolmon();
    expect(rows.find((x) => x.tagValue === tag)).toMatchObject({ outstanding: n, failures: 1 });
  });
});

// -- runtime.reset ------------------------------------------------------------------------------------

describe('runtime.reset', () => {
  it('invalidates every handle and object: using one afterwards is a bug check', () => {
    const out = { value: 0 };
    expect(rt.NdisRegisterProtocolDriver(0, protocolChars('NBTEST', { MinorNdisVersion: 20 }), out as Loose)).toBe(NDIS_STATUS_SUCCESS);
    const prot = out.value;
    const pool = rt.NdisAllocateNetBufferPool(prot as Loose, params(POOL_TAG('Rst ')));
    const dpool = rt.NdisAllocateNetBufferPool(g as Loose, params(POOL_TAG('RstD'), 256));
    const [m] = chain([32]);
    const nb = rt.NdisAllocateNetBuffer(pool as Loose, m as Loose, 0, 32);
    const dnb = rt.NdisAllocateNetBufferMdlAndData(dpool as Loose);
    const mem = rt.NdisAllocateMemoryWithTagPriority(g as Loose, 64, 1, NormalPoolPriority);
    expect(rt.poolmon().find((r) => r.tagValue === POOL_TAG('RstD'))).toMatchObject({ outstanding: 1 });
    const memBytes = rt.memory.buffer.byteLength;

    rt.reset();

    const orig = (fn: string, arg: string, ptr: number) => ({ fn, arg, code: 0xc2, rule: 'ORIGIN', parameters: [0x42, ptr, 0, 0] });
    expectBug(() => rt.NET_BUFFER_DATA_LENGTH(nb as Loose), orig('NET_BUFFER_DATA_LENGTH', 'NetBuffer', nb));
    expectBug(() => rt.NdisFreeNetBuffer(dnb as Loose), orig('NdisFreeNetBuffer', 'NetBuffer', dnb));
    expectBug(() => rt.NdisGetPoolFromNetBuffer(nb as Loose), orig('NdisGetPoolFromNetBuffer', 'NetBuffer', nb));
    expectBug(() => rt.NdisFreeNetBufferPool(pool as Loose), orig('NdisFreeNetBufferPool', 'PoolHandle', pool));
    expectBug(() => rt.NdisAllocateNetBuffer(pool as Loose, 0, 0, 0), orig('NdisAllocateNetBuffer', 'PoolHandle', pool));
    expectBug(() => rt.NdisAllocateNetBufferMdlAndData(dpool as Loose), orig('NdisAllocateNetBufferMdlAndData', 'PoolHandle', dpool));
    expectBug(() => rt.NdisFreeMdl(m as Loose), orig('NdisFreeMdl', 'Mdl', m!));
    expectBug(() => rt.MmGetMdlByteCount(m as Loose), orig('MmGetMdlByteCount', 'Mdl', m!));
    expectBug(() => rt.NdisFreeMemoryWithTagPriority(g as Loose, mem as Loose, 1), orig('NdisFreeMemoryWithTagPriority', 'NdisHandle', g));
    expectBug(() => rt.NdisFreeGenericObject(g as Loose), orig('NdisFreeGenericObject', 'NdisObject', g));
    expectBug(() => rt.NdisDeregisterProtocolDriver(prot as Loose), orig('NdisDeregisterProtocolDriver', 'NdisProtocolHandle', prot));

    // Statistics start over; memory is kept and reused.
    expect(rt.poolmon()).toEqual([]);
    expect(rt.memory.buffer.byteLength).toBe(memBytes);
    const usage = rt.memoryUsage();
    expect(usage.freeSlabBytes).toBe(usage.slabBytes);

    // The runtime works as new.
    const p2 = rt.NdisAllocateNetBufferPool(0, params(POOL_TAG('New ')));
    const nb2 = rt.NdisAllocateNetBuffer(p2 as Loose, 0, 0, 0);
    expect(rt.NdisGetPoolFromNetBuffer(nb2 as Loose)).toBe(p2);
    expect(rt.poolmon().find((r) => r.tagValue === POOL_TAG('New '))).toMatchObject({ allocs: 1, outstanding: 1 });
    expect(rt.memory.buffer.byteLength).toBe(memBytes);
  });
});

// -- package-level functions --------------------------------------------------------------------------

describe('package-level functions act on defaultRuntime', () => {
  it('exports every NDIS function of NdisRuntime', () => {
    expect(pkg.NDIS_FUNCTIONS.length).toBeGreaterThanOrEqual(35);
    const mod = pkg as unknown as Record<string, unknown>;
    for (const name of pkg.NDIS_FUNCTIONS) expect(typeof mod[name], name).toBe('function');
  });

  it('allocates in defaultRuntime, which its methods and poolmon see', () => {
    const d = pkg.defaultRuntime;
    const tag = POOL_TAG('Dflt');
    const pool = pkg.NdisAllocateNetBufferPool(0, params(tag, 128));
    expect(pool).toBeGreaterThan(0);
    const nb = pkg.NdisAllocateNetBufferMdlAndData(pool as Loose);
    expect(d.NdisGetPoolFromNetBuffer(nb as Loose)).toBe(pool);
    expect(d.NET_BUFFER_DATA_LENGTH(nb as Loose)).toBe(128);
    expect(pkg.NET_BUFFER_DATA_LENGTH(nb as Loose)).toBe(128);
    expect(d.poolmon().find((r) => r.tagValue === tag)).toMatchObject({ allocs: 1, outstanding: 1 });
    // A runtime of its own does not see this pool's tag.
    expect(rt.poolmon().find((r) => r.tagValue === tag)).toBeUndefined();

    const mdl = pkg.NET_BUFFER_FIRST_MDL(nb as Loose);
    const va = pkg.MmGetSystemAddressForMdlSafe(mdl as Loose, NormalPagePriority);
    d.bytes(va, 4).set([9, 8, 7, 6]);
    expect([...d.bytes(va, 4)]).toEqual([9, 8, 7, 6]);

    pkg.NdisFreeNetBuffer(nb as Loose);
    expectBug(() => d.NET_BUFFER_DATA_LENGTH(nb as Loose), { fn: 'NET_BUFFER_DATA_LENGTH', arg: 'NetBuffer', code: 0xc2, rule: 'ALT-NB' });
    pkg.NdisFreeNetBufferPool(pool as Loose);
    expect(d.poolmon().find((r) => r.tagValue === tag)).toMatchObject({ allocs: 1, frees: 1, outstanding: 0 });
  });

  it('registers protocols and allocates generic objects, memory and MDLs in defaultRuntime', () => {
    const d = pkg.defaultRuntime;
    const out = { value: 0 };
    expect(pkg.NdisRegisterProtocolDriver(0, protocolChars('NBTEST', { MinorNdisVersion: 20 }), out as Loose)).toBe(NDIS_STATUS_SUCCESS);
    const gen = pkg.NdisAllocateGenericObject(0, POOL_TAG('DGen'), 8);
    const mem = pkg.NdisAllocateMemoryWithTagPriority(out.value as Loose, 32, POOL_TAG('DMem'), NormalPoolPriority);
    const mdl = pkg.NdisAllocateMdl(gen as Loose, mem as Loose, 32);
    expect(d.MmGetMdlByteCount(mdl as Loose)).toBe(32);
    expect(pkg.MmGetMdlVirtualAddress(mdl as Loose)).toBe(mem);
    expect(pkg.NDIS_MDL_LINKAGE(mdl as Loose)).toBe(0);
    expect(d.poolmon().find((r) => r.tagValue === POOL_TAG('DGen') && r.type === 'GenericObject')).toMatchObject({ outstanding: 1 });
    pkg.NdisFreeMdl(mdl as Loose);
    pkg.NdisFreeMemoryWithTagPriority(out.value as Loose, mem as Loose, POOL_TAG('DMem'));
    pkg.NdisFreeGenericObject(gen as Loose);
    pkg.NdisDeregisterProtocolDriver(out.value as Loose);
    expect(() => d.NdisFreeGenericObject(gen as Loose)).toThrow(NdisBugCheck);
  });
});
