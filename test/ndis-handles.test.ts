/**
 * The NDIS mirror's handles (src/ndis/handles.ts): protocol registration, generic objects,
 * tagged memory, MDLs and the MDL accessors, POOL_TAG / tagToString and runtime.bytes.
 * Every test runs on a fresh runtime; the misuse matrix with state checks is test/errors.test.ts.
 */
import { describe, it, expect, beforeEach } from 'vitest';
import { createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import {
  NdisBugCheck,
  POOL_TAG,
  tagToString,
  NDIS_STATUS_SUCCESS,
  NDIS_STATUS_BAD_CHARACTERISTICS,
  NDIS_STATUS_BAD_VERSION,
  NDIS_OBJECT_TYPE_DEFAULT,
  NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS,
  NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1,
  NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_2,
  NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1,
  NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_2,
  NET_BUFFER_POOL_PARAMETERS_REVISION_1,
  NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1,
  LowPoolPriority,
  NormalPoolPriority,
  HighPoolPriority,
  LowPagePriority,
  NormalPagePriority,
  HighPagePriority,
  MdlMappingNoWrite,
  MdlMappingNoExecute,
  MDL_MAPPED_TO_SYSTEM_VA,
  MDL_SOURCE_IS_NONPAGED_POOL,
  MDL_ALLOCATED_FIXED_SIZE,
  MDL_LAYOUT,
  NDIS_GENERIC_OBJECT_LAYOUT,
  MDL_AND_DATA_LAYOUT,
  BUGCODE_BAD_POOL_CALLER,
  BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION,
  RULE_P1,
} from '../build/ts/index.js';
import { type Loose, noop, protocolChars, expectBug, row, u32At, u16At } from './helpers.js';

// -- helpers ---------------------------------------------------------------------------------------

/** A complete NDIS_PROTOCOL_DRIVER_CHARACTERISTICS of revision `rev`, with overrides. */
function chars(rev: 1 | 2 = 1, over: Record<string, unknown> = {}): Loose {
  return protocolChars('NDISPROT', {
    Header: {
      Type: NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS,
      Revision: rev,
      Size: rev === 1 ? NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1 : NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_2,
    },
    MinorNdisVersion: rev === 1 ? 20 : 30,
    MajorDriverVersion: 1,
    MinorDriverVersion: 0,
    Flags: 0,
    SetOptionsHandler: null,
    UninstallHandler: noop,
    ...(rev === 2 ? { DirectOidRequestCompleteHandler: noop } : {}),
    ...over,
  });
}

const REQUIRED = [
  'BindAdapterHandlerEx',
  'UnbindAdapterHandlerEx',
  'OpenAdapterCompleteHandlerEx',
  'CloseAdapterCompleteHandlerEx',
  'NetPnPEventHandler',
  'OidRequestCompleteHandler',
  'StatusHandlerEx',
  'ReceiveNetBufferListsHandler',
  'SendNetBufferListsCompleteHandler',
];

function register(rt: NdisRuntime, c: Loose = chars(1), ctx = 0): number {
  const out = { value: 0 };
  expect(rt.NdisRegisterProtocolDriver(ctx, c, out as Loose)).toBe(NDIS_STATUS_SUCCESS);
  expect(out.value).toBeGreaterThanOrEqual(65536);
  return out.value;
}

let rt: NdisRuntime;

/** NdisAllocateGenericObject on the current runtime, typed loosely (tests pass the result back). */
const allocGeneric = (DriverObject: number, Tag: number, Size: number): Loose => rt.NdisAllocateGenericObject(DriverObject, Tag, Size);
beforeEach(() => {
  rt = createRuntimeSync();
});

// -- POOL_TAG / tagToString -----------------------------------------------------------------------

describe('POOL_TAG and tagToString', () => {
  it("builds tags like a C multi-character constant: 'looP' is 0x6C6F6F50, shown as 'Pool'", () => {
    expect(POOL_TAG('looP')).toBe(0x6c6f6f50);
    expect(tagToString(0x6c6f6f50)).toBe('Pool');
    expect(tagToString(POOL_TAG('looP'))).toBe('Pool');
    expect(POOL_TAG('A')).toBe(0x41);
    expect(POOL_TAG('AB')).toBe(0x4142);
    expect(POOL_TAG('\x7e\x7e\x7e\x7e')).toBe(0x7e7e7e7e);
    // High bit set: still an unsigned u32.
    expect(POOL_TAG('~~~~')).toBeGreaterThan(0);
  });

  it('shows bytes in memory order, zero bytes as spaces and unprintable bytes as ?', () => {
    expect(tagToString(0x41)).toBe('A   ');
    expect(tagToString(0)).toBe('    ');
    expect(tagToString(0x7f414101)).toBe('?AA?');
    expect(tagToString(0x206c644d)).toBe('Mdl ');
  });

  it('rejects empty, too long, non-string and unprintable tags', () => {
    expect(() => POOL_TAG('')).toThrow(TypeError);
    expect(() => POOL_TAG('abcde')).toThrow(TypeError);
    expect(() => POOL_TAG('a\x01')).toThrow(TypeError);
    expect(() => POOL_TAG('é')).toThrow(TypeError);
    expect(() => POOL_TAG(42 as Loose)).toThrow(TypeError);
  });
});

// -- NdisRegisterProtocolDriver / NdisDeregisterProtocolDriver ------------------------------------

describe('NdisRegisterProtocolDriver', () => {
  it('registers a revision-1 characteristics object (NDIS 6.20)', () => {
    const out = { value: 0xdead };
    const st = rt.NdisRegisterProtocolDriver(0x1234, chars(1), out as Loose);
    expect(st).toBe(NDIS_STATUS_SUCCESS);
    expect(out.value).toBeGreaterThanOrEqual(65536);
    expect(out.value % 8).toBe(0);
  });

  it('registers a revision-2 characteristics object (NDIS 6.30, DirectOidRequestCompleteHandler)', () => {
    const h = register(rt, chars(2));
    // Two registrations get two distinct handles.
    const h2 = register(rt, chars(2, { Name: 'OTHER' }));
    expect(h2).not.toBe(h);
  });

  it('accepts Size >= the revision size and every NDIS 6 minor version', () => {
    register(rt, chars(1, { Header: { Type: 0x95, Revision: 1, Size: 68 } }));
    register(rt, chars(2, { Header: { Type: 0x95, Revision: 2, Size: 200 } }));
    for (const minor of [0, 1, 20, 30, 40, 50, 51, 60, 70, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89]) {
      register(rt, chars(1, { MinorNdisVersion: minor }));
    }
    // Optional handlers may be absent or null.
    register(rt, chars(1, { SetOptionsHandler: undefined, UninstallHandler: null }));
  });

  const badChars: [string, Loose][] = [
    ['Header.Type NDIS_OBJECT_TYPE_DEFAULT', chars(1, { Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: 1, Size: 64 } })],
    ['Header.Type 0', chars(1, { Header: { Type: 0, Revision: 1, Size: 64 } })],
    ['no Header', chars(1, { Header: undefined })],
    ['Revision 3', chars(1, { Header: { Type: 0x95, Revision: 3, Size: 200 } })],
    ['Revision 0', chars(1, { Header: { Type: 0x95, Revision: 0, Size: 200 } })],
    [
      'rev-1 Size 63 (below NDIS_SIZEOF_..._REVISION_1)',
      chars(1, { Header: { Type: 0x95, Revision: NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1, Size: NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1 - 1 } }),
    ],
    [
      'rev-2 Size 64 (below NDIS_SIZEOF_..._REVISION_2)',
      chars(2, { Header: { Type: 0x95, Revision: NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_2, Size: NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1 } }),
    ],
    ['Size NaN', chars(1, { Header: { Type: 0x95, Revision: 1, Size: NaN } })],
    ['empty Name', chars(1, { Name: '' })],
    ['Name not a string', chars(1, { Name: 42 })],
    ['non-function required handler', chars(1, { ReceiveNetBufferListsHandler: 'handler' })],
    ['non-function optional handler', chars(1, { SetOptionsHandler: 42 })],
    ['MajorDriverVersion 256', chars(1, { MajorDriverVersion: 256 })],
  ];
  for (const [what, c] of badChars) {
    it(`returns NDIS_STATUS_BAD_CHARACTERISTICS for ${what}, and NULL in the out box`, () => {
      const out = { value: 0x12345678 };
      expect(rt.NdisRegisterProtocolDriver(0, c, out as Loose)).toBe(NDIS_STATUS_BAD_CHARACTERISTICS);
      expect(out.value).toBe(0);
    });
  }

  for (const h of REQUIRED) {
    it(`returns NDIS_STATUS_BAD_CHARACTERISTICS when ${h} is missing`, () => {
      const c = chars(2);
      delete c[h];
      const out = { value: 77 };
      expect(rt.NdisRegisterProtocolDriver(0, c, out as Loose)).toBe(NDIS_STATUS_BAD_CHARACTERISTICS);
      expect(out.value).toBe(0);
    });
  }

  const badVersions: [string, number, number][] = [
    ['MajorNdisVersion 5', 5, 0],
    ['MajorNdisVersion 7', 7, 0],
    ['unknown minor 6.2', 6, 2],
    ['unknown minor 6.31', 6, 31],
    ['unknown minor 6.90', 6, 90],
  ];
  for (const [what, major, minor] of badVersions) {
    it(`returns NDIS_STATUS_BAD_VERSION for ${what}, and NULL in the out box`, () => {
      const out = { value: 1 };
      const st = rt.NdisRegisterProtocolDriver(0, chars(1, { MajorNdisVersion: major, MinorNdisVersion: minor }), out as Loose);
      expect(st).toBe(NDIS_STATUS_BAD_VERSION);
      expect(out.value).toBe(0);
    });
  }

  it('status codes are signed 32-bit values, as NDIS_STATUS is', () => {
    expect(NDIS_STATUS_BAD_VERSION).toBe(0xc0010004 | 0);
    expect(NDIS_STATUS_BAD_CHARACTERISTICS).toBe(0xc0010005 | 0);
    expect(NDIS_STATUS_BAD_CHARACTERISTICS).toBeLessThan(0);
  });

  it('throws PARAM for a missing characteristics object, a missing out box or a bad context', () => {
    expectBug(() => rt.NdisRegisterProtocolDriver(0, null as Loose, { value: 0 } as Loose), {
      fn: 'NdisRegisterProtocolDriver', arg: 'ProtocolCharacteristics', code: 0xc4, rule: 'PARAM',
    });
    expectBug(() => rt.NdisRegisterProtocolDriver(0, chars(1), undefined as Loose), {
      fn: 'NdisRegisterProtocolDriver', arg: 'NdisProtocolHandle', code: 0xc4, rule: 'PARAM',
    });
    expectBug(() => rt.NdisRegisterProtocolDriver(-1, chars(1), { value: 0 } as Loose), {
      fn: 'NdisRegisterProtocolDriver', arg: 'ProtocolDriverContext', code: 0xc4, rule: 'PARAM',
      parameters: [RULE_P1.PARAM, 0xffffffff, 0, 0],
    });
  });
});

describe('NdisDeregisterProtocolDriver', () => {
  it('releases the handle: using it afterwards is a bug check', () => {
    const keep = register(rt);
    const h = register(rt, chars(1, { Name: 'SECOND' }));
    rt.NdisDeregisterProtocolDriver(h as Loose);
    expectBug(() => rt.NdisDeregisterProtocolDriver(h as Loose), {
      fn: 'NdisDeregisterProtocolDriver', arg: 'NdisProtocolHandle', code: BUGCODE_BAD_POOL_CALLER, rule: 'ORIGIN',
      parameters: [0x07, 0, 0, h],
    });
    // A deregistered handle no longer works as an NdisHandle either.
    expect(() => rt.NdisAllocateMemoryWithTagPriority(h as Loose, 16, 1, NormalPoolPriority)).toThrow(NdisBugCheck);
    // The other registration is untouched.
    const m = rt.NdisAllocateMemoryWithTagPriority(keep as Loose, 16, 1, NormalPoolPriority);
    expect(m).toBeGreaterThan(0);
    rt.NdisFreeMemoryWithTagPriority(keep as Loose, m as Loose, 1);
    rt.NdisDeregisterProtocolDriver(keep as Loose);
  });

  it('rejects forged handles and handles of other kinds', () => {
    expectBug(() => rt.NdisDeregisterProtocolDriver(12345 as Loose), {
      fn: 'NdisDeregisterProtocolDriver', arg: 'NdisProtocolHandle', code: 0xc2, rule: 'ORIGIN', parameters: [0x42, 12345, 0, 0],
    });
    const g = allocGeneric(0, POOL_TAG('Gen '), 0);
    expectBug(() => rt.NdisDeregisterProtocolDriver(g as Loose), {
      fn: 'NdisDeregisterProtocolDriver', arg: 'NdisProtocolHandle', code: 0xc2, rule: 'ORIGIN', parameters: [0x46, g, 0, 0],
    });
    rt.NdisFreeGenericObject(g);
  });

  it('is POOL-6 while the protocol owns a pool, and works once the pool is freed', () => {
    const h = register(rt);
    const pool = rt.NdisAllocateNetBufferPool(h as Loose, {
      Header: { Type: 0x80, Revision: NET_BUFFER_POOL_PARAMETERS_REVISION_1, Size: NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1 },
      PoolTag: POOL_TAG('Prot'),
      DataSize: 0,
    });
    expect(pool).toBeGreaterThan(0);
    expectBug(() => rt.NdisDeregisterProtocolDriver(h as Loose), {
      fn: 'NdisDeregisterProtocolDriver', arg: 'NdisProtocolHandle', code: BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION,
      rule: 'POOL-6', parameters: [RULE_P1['POOL-6'], h, 1, 0],
    });
    rt.NdisFreeNetBufferPool(pool as Loose);
    rt.NdisDeregisterProtocolDriver(h as Loose);
  });
});

// -- NdisAllocateGenericObject / NdisFreeGenericObject --------------------------------------------

describe('NdisAllocateGenericObject / NdisFreeGenericObject', () => {
  it('writes the NDIS_GENERIC_OBJECT header: Revision 1, Size 16, DriverObject at +12', () => {
    const g = allocGeneric(0xcafe1234, POOL_TAG('Gen '), 24);
    expect(g).toBeGreaterThanOrEqual(65536);
    expect(g % 8).toBe(0);
    expect(NDIS_GENERIC_OBJECT_LAYOUT.SIZE).toBe(16);
    expect(NDIS_GENERIC_OBJECT_LAYOUT.DriverObject).toBe(12);
    const b = rt.bytes(g, 16 + 24);
    expect(b[0]).toBe(NDIS_OBJECT_TYPE_DEFAULT); // README: Type value of GENERIC_OBJECT unknown, 0x80 used
    expect(b[1]).toBe(1); // Revision
    expect(u16At(rt, g + 2)).toBe(16); // Size
    expect(u32At(rt, g + NDIS_GENERIC_OBJECT_LAYOUT.DriverObject)).toBe(0xcafe1234);
    // The caller's bytes are zeroed.
    expect([...b.subarray(16)]).toEqual(new Array(24).fill(0));
    rt.NdisFreeGenericObject(g);
  });

  it('zeroes the caller bytes of a reused slot too', () => {
    const tag = POOL_TAG('Reus');
    const keep = allocGeneric(1, tag, 40);
    const g = allocGeneric(1, tag, 40);
    rt.bytes(g + 16, 40).fill(0xab);
    rt.NdisFreeGenericObject(g);
    const again: number[] = [];
    for (let i = 0; i < 4; i++) again.push(allocGeneric(2, tag, 40));
    expect(again).toContain(g); // the slot was reused
    for (const a of again) {
      expect([...rt.bytes(a + 16, 40)]).toEqual(new Array(40).fill(0));
      expect(u32At(rt, a + 12)).toBe(2);
      rt.NdisFreeGenericObject(a as Loose);
    }
    rt.NdisFreeGenericObject(keep);
  });

  it('handles Size 0 and Size 0xFFFF', () => {
    const a = allocGeneric(0, POOL_TAG('Gen0'), 0);
    const b = allocGeneric(0, POOL_TAG('GenF'), 0xffff);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
    const tail = rt.bytes(b + 16, 0xffff);
    expect(tail.every((x) => x === 0)).toBe(true);
    expect(row(rt, POOL_TAG('GenF'), 'GenericObject')!.bytes).toBeGreaterThanOrEqual(16 + 0xffff);
    rt.NdisFreeGenericObject(a);
    rt.NdisFreeGenericObject(b);
  });

  it('counts generic objects per tag in poolmon', () => {
    const tag = POOL_TAG('GCnt');
    const objs = [0, 1, 2].map(() => allocGeneric(0, tag, 8));
    let r = row(rt, tag, 'GenericObject')!;
    expect(r).toMatchObject({ tag: 'tnCG', allocs: 3, frees: 0, outstanding: 3, bytes: 3 * 24, peak: 3 });
    rt.NdisFreeGenericObject(objs[1]!);
    r = row(rt, tag, 'GenericObject')!;
    expect(r).toMatchObject({ allocs: 3, frees: 1, outstanding: 2, bytes: 2 * 24, peak: 3 });
    rt.NdisFreeGenericObject(objs[0]!);
    rt.NdisFreeGenericObject(objs[2]!);
    expect(row(rt, tag, 'GenericObject')!.outstanding).toBe(0);
  });

  it('is a usable NdisHandle for memory, MDLs and NET_BUFFER pools', () => {
    const g = allocGeneric(0, POOL_TAG('GenH'), 0);
    const m = rt.NdisAllocateMemoryWithTagPriority(g, 64, POOL_TAG('GMem'), NormalPoolPriority);
    const mdl = rt.NdisAllocateMdl(g, m as Loose, 64);
    const pool = rt.NdisAllocateNetBufferPool(g, { Header: { Type: 0x80, Revision: 1, Size: 12 }, PoolTag: POOL_TAG('GPol'), DataSize: 0 });
    expect(m && mdl && pool).toBeTruthy();
    // It owns the pool: POOL-6 until the pool is freed.
    expectBug(() => rt.NdisFreeGenericObject(g), {
      fn: 'NdisFreeGenericObject', arg: 'NdisObject', code: 0xc4, rule: 'POOL-6', parameters: [RULE_P1['POOL-6'], g, 1, 0],
    });
    rt.NdisFreeNetBufferPool(pool as Loose);
    rt.NdisFreeMdl(mdl as Loose);
    rt.NdisFreeMemoryWithTagPriority(g, m as Loose, POOL_TAG('GMem'));
    rt.NdisFreeGenericObject(g);
  });

  it('double free is ALT-GEN (0xC2/0x07)', () => {
    const keep = allocGeneric(0, POOL_TAG('GDbl'), 0);
    const g = allocGeneric(0, POOL_TAG('GDbl'), 0);
    rt.NdisFreeGenericObject(g);
    expectBug(() => rt.NdisFreeGenericObject(g), {
      fn: 'NdisFreeGenericObject', arg: 'NdisObject', code: 0xc2, rule: 'ALT-GEN', parameters: [0x07, 0, 0, g],
    });
    rt.NdisFreeGenericObject(keep);
  });

  it('rejects non-USHORT sizes and non-ULONG tags (PARAM)', () => {
    for (const v of [NaN, -1, 1.5, 0x10000, '12']) {
      expectBug(() => allocGeneric(0, 1, v as Loose), { fn: 'NdisAllocateGenericObject', arg: 'Size', code: 0xc4, rule: 'PARAM' });
    }
    expectBug(() => allocGeneric(0, 2 ** 32, 0), { fn: 'NdisAllocateGenericObject', arg: 'Tag', code: 0xc4, rule: 'PARAM' });
    expectBug(() => allocGeneric(-1, 1, 0), { fn: 'NdisAllocateGenericObject', arg: 'DriverObject', code: 0xc4, rule: 'PARAM' });
  });
});

// -- NdisAllocateMemoryWithTagPriority / NdisFreeMemoryWithTagPriority ----------------------------

describe('NdisAllocateMemoryWithTagPriority / NdisFreeMemoryWithTagPriority', () => {
  it('allocates 8-aligned, usable memory under a tag and frees it with the same tag', () => {
    const h = register(rt);
    const tag = POOL_TAG('Mem1');
    const m: Loose = rt.NdisAllocateMemoryWithTagPriority(h as Loose, 100, tag, NormalPoolPriority);
    expect(m).toBeGreaterThanOrEqual(65536);
    expect(m % 8).toBe(0);
    const v = rt.bytes(m, 100);
    v.set(Array.from({ length: 100 }, (_, i) => i));
    expect(rt.bytes(m + 99, 1)[0]).toBe(99);
    expect(row(rt, tag, 'Memory')).toMatchObject({ tag: '1meM', allocs: 1, frees: 0, outstanding: 1, peak: 1 });
    expect(row(rt, tag, 'Memory')!.bytes).toBeGreaterThanOrEqual(100);
    rt.NdisFreeMemoryWithTagPriority(h as Loose, m, tag);
    expect(row(rt, tag, 'Memory')).toMatchObject({ allocs: 1, frees: 1, outstanding: 0, bytes: 0 });
  });

  it('accepts every EX_POOL_PRIORITY, Length 0 and large lengths', () => {
    const g = allocGeneric(0, POOL_TAG('GenM'), 0);
    const got: number[] = [];
    for (const p of [LowPoolPriority, 8, 9, NormalPoolPriority, 24, 25, HighPoolPriority, 40, 41]) {
      got.push(rt.NdisAllocateMemoryWithTagPriority(g, 32, 7, p));
    }
    got.push(rt.NdisAllocateMemoryWithTagPriority(g, 0, 7, NormalPoolPriority));
    got.push(rt.NdisAllocateMemoryWithTagPriority(g, 300_000, 7, NormalPoolPriority));
    expect(got.every((m) => m >= 65536)).toBe(true);
    expect(new Set(got).size).toBe(got.length);
    rt.bytes(got[got.length - 1]!, 300_000).fill(1);
    for (const m of got) rt.NdisFreeMemoryWithTagPriority(g, m as Loose, 7);
    expect(row(rt, 7, 'Memory')!.outstanding).toBe(0);
    rt.NdisFreeGenericObject(g);
  });

  it('returns NULL (never a tiny block) for a Length the budget cannot hold', () => {
    const g = allocGeneric(0, POOL_TAG('GenB'), 0);
    for (const len of [0x80000000, 0xfffffff0, 0xfffffff9, 0xffffffff]) {
      const m = rt.NdisAllocateMemoryWithTagPriority(g, len, POOL_TAG('Huge'), NormalPoolPriority);
      expect(m, `Length 0x${len.toString(16)}`).toBe(0);
    }
    expect(row(rt, POOL_TAG('Huge'), 'Memory')?.outstanding ?? 0).toBe(0);
  });

  it('rejects a bad priority or length (PARAM) and a NULL or forged handle (ORIGIN)', () => {
    const g = allocGeneric(0, POOL_TAG('GenP'), 0);
    for (const p of [1, 17, -1, NaN, '16']) {
      expectBug(() => rt.NdisAllocateMemoryWithTagPriority(g, 8, 1, p as Loose), {
        fn: 'NdisAllocateMemoryWithTagPriority', arg: 'Priority', code: 0xc4, rule: 'PARAM',
      });
    }
    for (const len of [NaN, -1, 1.5, 2 ** 32, '12']) {
      expectBug(() => rt.NdisAllocateMemoryWithTagPriority(g, len as Loose, 1, NormalPoolPriority), {
        fn: 'NdisAllocateMemoryWithTagPriority', arg: 'Length', code: 0xc4, rule: 'PARAM',
      });
    }
    expectBug(() => rt.NdisAllocateMemoryWithTagPriority(0 as Loose, 8, 1, NormalPoolPriority), {
      fn: 'NdisAllocateMemoryWithTagPriority', arg: 'NdisHandle', code: 0xc2, rule: 'ORIGIN', parameters: [0x42, 0, 0, 0],
    });
    expectBug(() => rt.NdisAllocateMemoryWithTagPriority(12345 as Loose, 8, 1, NormalPoolPriority), {
      fn: 'NdisAllocateMemoryWithTagPriority', arg: 'NdisHandle', code: 0xc2, rule: 'ORIGIN', parameters: [0x42, 12345, 0, 0],
    });
  });

  it('freeing with the wrong tag is TAG (0xC2/0x0A: address, allocation tag, tag used)', () => {
    const g = allocGeneric(0, POOL_TAG('GenT'), 0);
    const m = rt.NdisAllocateMemoryWithTagPriority(g, 48, POOL_TAG('Good'), NormalPoolPriority);
    const b = expectBug(() => rt.NdisFreeMemoryWithTagPriority(g, m as Loose, POOL_TAG('Bad!')), {
      fn: 'NdisFreeMemoryWithTagPriority', arg: 'Tag', code: BUGCODE_BAD_POOL_CALLER, rule: 'TAG',
      parameters: [0x0a, m, POOL_TAG('Good'), POOL_TAG('Bad!')],
    });
    expect(b.message).toContain('dooG');
    expect(b.message).toContain('!daB');
    // Still allocated: the right tag frees it.
    rt.NdisFreeMemoryWithTagPriority(g, m as Loose, POOL_TAG('Good'));
    expect(row(rt, POOL_TAG('Good'), 'Memory')!.outstanding).toBe(0);
  });

  it('double free is 0xC2/0x07', () => {
    const g = allocGeneric(0, POOL_TAG('GenD'), 0);
    const keep = rt.NdisAllocateMemoryWithTagPriority(g, 48, 9, NormalPoolPriority);
    const m = rt.NdisAllocateMemoryWithTagPriority(g, 48, 9, NormalPoolPriority);
    rt.NdisFreeMemoryWithTagPriority(g, m as Loose, 9);
    expectBug(() => rt.NdisFreeMemoryWithTagPriority(g, m as Loose, 9), {
      fn: 'NdisFreeMemoryWithTagPriority', arg: 'VirtualAddress', code: 0xc2, rule: 'ALT-MEM', parameters: [0x07, 0, 0, m],
    });
    rt.NdisFreeMemoryWithTagPriority(g, keep as Loose, 9);
  });
});

// -- MDLs -----------------------------------------------------------------------------------------

describe('NdisAllocateMdl / NdisFreeMdl and the MDL accessors', () => {
  it('describes a range of a live allocation', () => {
    const g = allocGeneric(0, POOL_TAG('GenL'), 0);
    const m = rt.NdisAllocateMemoryWithTagPriority(g, 512, POOL_TAG('Buf '), NormalPoolPriority);
    const mdl = rt.NdisAllocateMdl(g, (m + 10) as Loose, 300);
    expect(mdl).toBeGreaterThanOrEqual(65536);
    expect(rt.MmGetMdlByteCount(mdl as Loose)).toBe(300);
    expect(rt.MmGetMdlVirtualAddress(mdl as Loose)).toBe(m + 10);
    expect(rt.MmGetSystemAddressForMdlSafe(mdl as Loose, NormalPagePriority)).toBe(m + 10);
    expect(rt.MmGetSystemAddressForMdlSafe(mdl as Loose, LowPagePriority)).toBe(m + 10);
    expect(rt.MmGetSystemAddressForMdlSafe(mdl as Loose, HighPagePriority | MdlMappingNoExecute)).toBe(m + 10);
    expect(rt.NDIS_MDL_LINKAGE(mdl as Loose)).toBe(0);
    // The MDL in memory (x86 layout).
    expect(MDL_LAYOUT.SIZE).toBe(28);
    expect(u32At(rt, mdl + MDL_LAYOUT.Next)).toBe(0);
    expect(u16At(rt, mdl + MDL_LAYOUT.Size)).toBe(28);
    const flags = u16At(rt, mdl + MDL_LAYOUT.MdlFlags);
    expect(flags & MDL_MAPPED_TO_SYSTEM_VA).toBe(MDL_MAPPED_TO_SYSTEM_VA);
    expect(flags & MDL_SOURCE_IS_NONPAGED_POOL).toBe(MDL_SOURCE_IS_NONPAGED_POOL);
    expect(u32At(rt, mdl + MDL_LAYOUT.MappedSystemVa)).toBe(m + 10);
    expect(u32At(rt, mdl + MDL_LAYOUT.ByteCount)).toBe(300);
    expect(u32At(rt, mdl + MDL_LAYOUT.StartVa) + u32At(rt, mdl + MDL_LAYOUT.ByteOffset)).toBe(m + 10);
    rt.NdisFreeMdl(mdl as Loose);
    expect(row(rt, 'Mdl ', 'MDL')).toMatchObject({ allocs: 1, frees: 1, outstanding: 0 });
  });

  it('accepts NormalPagePriority | MdlMappingNoWrite as JavaScript computes it', () => {
    const g = allocGeneric(0, POOL_TAG('GenW'), 64);
    const mdl = rt.NdisAllocateMdl(g, (g + 16) as Loose, 64);
    // As unsigned it works…
    expect(rt.MmGetSystemAddressForMdlSafe(mdl as Loose, (NormalPagePriority | MdlMappingNoWrite) >>> 0)).toBe(g + 16);
    // …and the plain C expression (a negative i32 in JS) must work too.
    expect(rt.MmGetSystemAddressForMdlSafe(mdl as Loose, NormalPagePriority | MdlMappingNoWrite)).toBe(g + 16);
    expect(rt.MmGetSystemAddressForMdlSafe(mdl as Loose, NormalPagePriority | MdlMappingNoWrite | MdlMappingNoExecute)).toBe(g + 16);
  });

  it('links MDLs with NDIS_MDL_LINKAGE_SET', () => {
    const g = allocGeneric(0, POOL_TAG('GenC'), 0);
    const m = rt.NdisAllocateMemoryWithTagPriority(g, 256, 3, NormalPoolPriority);
    const a = rt.NdisAllocateMdl(g, m as Loose, 100);
    const b = rt.NdisAllocateMdl(g, (m + 100) as Loose, 100);
    const c = rt.NdisAllocateMdl(g, (m + 200) as Loose, 56);
    rt.NDIS_MDL_LINKAGE_SET(a as Loose, b as Loose);
    rt.NDIS_MDL_LINKAGE_SET(b as Loose, c as Loose);
    expect(rt.NDIS_MDL_LINKAGE(a as Loose)).toBe(b);
    expect(rt.NDIS_MDL_LINKAGE(b as Loose)).toBe(c);
    expect(rt.NDIS_MDL_LINKAGE(c as Loose)).toBe(0);
    expect(u32At(rt, a + MDL_LAYOUT.Next)).toBe(b);
    rt.NDIS_MDL_LINKAGE_SET(a as Loose, 0);
    expect(rt.NDIS_MDL_LINKAGE(a as Loose)).toBe(0);
    expectBug(() => rt.NDIS_MDL_LINKAGE_SET(a as Loose, a as Loose), {
      fn: 'NDIS_MDL_LINKAGE_SET', arg: 'Next', code: 0xc4, rule: 'NB-CONS', parameters: [RULE_P1['NB-CONS'], a, 0, 0],
    });
    expect(rt.NDIS_MDL_LINKAGE(a as Loose)).toBe(0);
    expectBug(() => rt.NDIS_MDL_LINKAGE_SET(a as Loose, m as Loose), {
      fn: 'NDIS_MDL_LINKAGE_SET', arg: 'Next', code: 0xc2, rule: 'ORIGIN', parameters: [0x46, m, 0, 0],
    });
    for (const x of [a, b, c]) rt.NdisFreeMdl(x as Loose);
  });

  it('describes generic-object caller bytes and MdlAndData data', () => {
    const g = allocGeneric(0, POOL_TAG('GenR'), 32);
    const m1 = rt.NdisAllocateMdl(g, (g + 16) as Loose, 32);
    expect(rt.MmGetMdlByteCount(m1 as Loose)).toBe(32);
    const pool = rt.NdisAllocateNetBufferPool(0, { Header: { Type: 0x80, Revision: 1, Size: 12 }, PoolTag: 5, DataSize: 200 });
    const nb = rt.NdisAllocateNetBufferMdlAndData(pool as Loose);
    const data = nb + MDL_AND_DATA_LAYOUT.Data;
    const m2 = rt.NdisAllocateMdl(g, data as Loose, 200);
    expect(rt.MmGetSystemAddressForMdlSafe(m2 as Loose, NormalPagePriority)).toBe(data);
    // The MDL inside an MdlAndData NET_BUFFER answers the accessors.
    const inner = rt.NET_BUFFER_FIRST_MDL(nb as Loose);
    expect(inner).toBe(nb + MDL_AND_DATA_LAYOUT.Mdl);
    expect(rt.MmGetMdlByteCount(inner as Loose)).toBe(200);
    expect(rt.MmGetMdlVirtualAddress(inner as Loose)).toBe(data);
    expect(u16At(rt, inner + MDL_LAYOUT.MdlFlags) & MDL_ALLOCATED_FIXED_SIZE).toBe(MDL_ALLOCATED_FIXED_SIZE);
    rt.NdisFreeMdl(m1 as Loose);
    rt.NdisFreeMdl(m2 as Loose);
    rt.NdisFreeNetBuffer(nb as Loose);
    rt.NdisFreeNetBufferPool(pool as Loose);
  });

  it('rejects ranges outside one live allocation (PARAM)', () => {
    const g = allocGeneric(0, POOL_TAG('GenX'), 0);
    const m = rt.NdisAllocateMemoryWithTagPriority(g, 300, 4, NormalPoolPriority);
    for (const [va, len] of [
      [12345, 1],
      [0, 4],
      [0x7fff0000, 16],
      [m, 100_000],
    ] as const) {
      expectBug(() => rt.NdisAllocateMdl(g, va as Loose, len), {
        fn: 'NdisAllocateMdl', arg: 'VirtualAddress', code: 0xc4, rule: 'PARAM', parameters: [RULE_P1.PARAM, va, len, 0],
      });
    }
    // An MDL handle is not "nonpaged memory" a caller owns.
    const mdl = rt.NdisAllocateMdl(g, m as Loose, 8);
    expectBug(() => rt.NdisAllocateMdl(g, mdl as Loose, 8), { fn: 'NdisAllocateMdl', arg: 'VirtualAddress', code: 0xc4, rule: 'PARAM' });
    rt.NdisFreeMdl(mdl as Loose);
  });

  it('rejects a range that runs past the allocation’s requested length', () => {
    const g = allocGeneric(0, POOL_TAG('GenY'), 0);
    const m = rt.NdisAllocateMemoryWithTagPriority(g, 300, 4, NormalPoolPriority);
    // [m + 300, m + 304) is not part of the 300-byte block, whatever slot size serves it.
    expectBug(() => rt.NdisAllocateMdl(g, (m + 300) as Loose, 4), { fn: 'NdisAllocateMdl', arg: 'VirtualAddress', code: 0xc4, rule: 'PARAM' });
    expectBug(() => rt.NdisAllocateMdl(g, (m + 5) as Loose, 300), { fn: 'NdisAllocateMdl', arg: 'VirtualAddress', code: 0xc4, rule: 'PARAM' });
  });

  it('double free is ALT-MDL; MDL accessors on a freed MDL are ALT-MDL', () => {
    const g = allocGeneric(0, POOL_TAG('GenZ'), 64);
    const keep = rt.NdisAllocateMdl(g, (g + 16) as Loose, 8);
    const mdl = rt.NdisAllocateMdl(g, (g + 24) as Loose, 8);
    rt.NdisFreeMdl(mdl as Loose);
    expectBug(() => rt.NdisFreeMdl(mdl as Loose), { fn: 'NdisFreeMdl', arg: 'Mdl', code: 0xc2, rule: 'ALT-MDL', parameters: [0x07, 0, 0, mdl] });
    for (const [fn, call] of [
      ['NDIS_MDL_LINKAGE', () => rt.NDIS_MDL_LINKAGE(mdl as Loose)],
      ['MmGetMdlByteCount', () => rt.MmGetMdlByteCount(mdl as Loose)],
      ['MmGetMdlVirtualAddress', () => rt.MmGetMdlVirtualAddress(mdl as Loose)],
      ['MmGetSystemAddressForMdlSafe', () => rt.MmGetSystemAddressForMdlSafe(mdl as Loose, NormalPagePriority)],
    ] as const) {
      expectBug(call, { fn, arg: 'Mdl', code: 0xc2, rule: 'ALT-MDL', parameters: [0x07, 0, 0, mdl] });
    }
    expect(rt.MmGetMdlByteCount(keep as Loose)).toBe(8);
    rt.NdisFreeMdl(keep as Loose);
  });

  it('rejects a bad page priority (PARAM)', () => {
    const g = allocGeneric(0, POOL_TAG('GenQ'), 8);
    const mdl = rt.NdisAllocateMdl(g, (g + 16) as Loose, 8);
    for (const p of [1, 7, 0x20000000, NaN, '16', 2 ** 32]) {
      expectBug(() => rt.MmGetSystemAddressForMdlSafe(mdl as Loose, p as Loose), {
        fn: 'MmGetSystemAddressForMdlSafe', arg: 'Priority', code: 0xc4, rule: 'PARAM',
      });
    }
  });
});

// -- runtime.bytes --------------------------------------------------------------------------------

describe('runtime.bytes', () => {
  it('is zero-copy: writes through one view are seen through MmGetSystemAddressForMdlSafe and a new view', () => {
    const g = allocGeneric(0, POOL_TAG('GenV'), 0);
    const m = rt.NdisAllocateMemoryWithTagPriority(g, 64, 6, NormalPoolPriority);
    const mdl = rt.NdisAllocateMdl(g, m as Loose, 64);
    const v1 = rt.bytes(m, 64);
    v1.set([1, 2, 3, 4], 0);
    const va = rt.MmGetSystemAddressForMdlSafe(mdl as Loose, NormalPagePriority);
    const v2 = rt.bytes(va, 64);
    expect([...v2.subarray(0, 4)]).toEqual([1, 2, 3, 4]);
    v2[63] = 0x5a;
    expect(v1[63]).toBe(0x5a);
    expect(v1.byteOffset).toBe(m);
  });

  it('a view taken before memory grows still shows (and writes) the same bytes afterwards', () => {
    expect(rt.sharedMemory).toBe(true);
    const g = allocGeneric(0, POOL_TAG('GenG'), 0);
    const m = rt.NdisAllocateMemoryWithTagPriority(g, 256, 8, NormalPoolPriority);
    const view = rt.bytes(m, 256);
    for (let i = 0; i < 256; i++) view[i] = (i * 7) & 0xff;
    const before = rt.memory.buffer.byteLength;
    const pool = rt.NdisAllocateNetBufferPool(g, { Header: { Type: 0x80, Revision: 1, Size: 12 }, PoolTag: 9, DataSize: 1514 });
    const nbs: number[] = [];
    for (let i = 0; i < 4000; i++) nbs.push(rt.NdisAllocateNetBufferMdlAndData(pool as Loose));
    expect(nbs.every((n) => n > 0)).toBe(true);
    expect(rt.memory.buffer.byteLength).toBeGreaterThan(before + 4 * 1024 * 1024);
    expect(view.length).toBe(256);
    for (let i = 0; i < 256; i++) expect(view[i]).toBe((i * 7) & 0xff);
    view[0] = 0xee;
    expect(rt.bytes(m, 1)[0]).toBe(0xee);
    for (const n of nbs) rt.NdisFreeNetBuffer(n as Loose);
    rt.NdisFreeNetBufferPool(pool as Loose);
  });

  it('rejects NULL, non-u32 and out-of-memory ranges (PARAM)', () => {
    for (const p of [0, NaN, -1, 1.5, 2 ** 32, '12']) {
      expectBug(() => rt.bytes(p as Loose, 1), { fn: 'bytes', arg: 'ptr', code: 0xc4, rule: 'PARAM' });
    }
    for (const l of [NaN, -1, 1.5, '12']) {
      expectBug(() => rt.bytes(65536, l as Loose), { fn: 'bytes', arg: 'length', code: 0xc4, rule: 'PARAM' });
    }
    expectBug(() => rt.bytes(65536, rt.memory.buffer.byteLength), { fn: 'bytes', arg: 'length', code: 0xc4, rule: 'PARAM' });
  });
});
