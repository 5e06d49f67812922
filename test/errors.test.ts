/**
 * Misuse is a bug check (DESIGN D6, NDIS-SPEC §7): every error path of the NDIS mirror throws an
 * NdisBugCheck with the right code, rule, parameters and message, and leaves the state exactly as
 * before the call. Each test runs on a fresh runtime with a fixture of live objects; after each
 * test the fixture is checked (every object still answers its accessors) and freed exactly once.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import {
  NdisBugCheck,
  BUGCODE_BAD_POOL_CALLER,
  BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION,
  BUGCODE_NDIS_DRIVER,
  RULE_P1,
  NDIS_TIMED_DATA_SEND,
  NDIS_TIMED_DATA_HANG,
  POOL_TAG,
  NDIS_STATUS_SUCCESS,
  NET_BUFFER_POOL_FLAG_VERIFY,
  NormalPoolPriority,
  NormalPagePriority,
  MDL_AND_DATA_LAYOUT,
} from '../build/ts/index.js';
import { type Loose, type Expect, HDR1, HDR2, protocolChars, bugCheck, expectBug } from './helpers.js';

// -- helpers ---------------------------------------------------------------------------------------

const hex = (n: number) => '0x' + (n >>> 0).toString(16).toUpperCase().padStart(8, '0');

/** This suite checks the whole message format of every bug check. */
const FULL = { fullMessage: true };

/** Everything observable about the runtime's allocator state. */
function snapshot(rt: NdisRuntime) {
  const poolmon = rt.poolmon();
  return { poolmon, memory: rt.memoryUsage() };
}

/** `f` must throw the bug check `x` and leave poolmon and memory exactly as they were. */
function unchanged(f: () => unknown, x: Expect): NdisBugCheck {
  const before = snapshot(rt);
  const b = expectBug(f, x, FULL);
  expect(snapshot(rt)).toEqual(before);
  return b;
}

const origin42 = (fn: string, arg: string, p: number): Expect => ({
  fn, arg, code: BUGCODE_BAD_POOL_CALLER, rule: 'ORIGIN', parameters: [0x42, p >>> 0, 0, 0], message: new RegExp(hex(p)),
});
const origin46 = (fn: string, arg: string, p: number, message?: RegExp): Expect => ({
  fn, arg, code: BUGCODE_BAD_POOL_CALLER, rule: 'ORIGIN', parameters: [0x46, p, 0, 0], message,
});
const freed = (fn: string, arg: string, p: number, rule: string): Expect => ({
  fn, arg, code: BUGCODE_BAD_POOL_CALLER, rule, parameters: [0x07, 0, 0, p], message: /already freed/,
});
const param = (fn: string, arg: string, v: unknown): Expect => ({
  fn, arg, code: BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION, rule: 'PARAM',
  parameters: [RULE_P1.PARAM, typeof v === 'number' && Number.isFinite(v) ? v >>> 0 : 0, 0, 0],
});

// -- the fixture -------------------------------------------------------------------------------------

const T = {
  gen: POOL_TAG('nGxF'),
  mem: POOL_TAG('mMxF'),
  pool0: POOL_TAG('0PxF'),
  poolD: POOL_TAG('DPxF'),
};

interface Fixture {
  prot: number;
  gen: number;
  mem: number;
  mdlA: number;
  mdlB: number;
  pool0: number; // DataSize 0, owned by prot
  poolD: number; // DataSize 1500, rev 2 + VERIFY, owned by gen
  nb0: number; // over mdlA -> mdlB (100 + 150 bytes), DataOffset 120, DataLength 100
  nb1: number; // MdlChain NULL
  nbD: number; // MdlAndData
}

function makeFixture(r: NdisRuntime): Fixture {
  const out = { value: 0 };
  expect(r.NdisRegisterProtocolDriver(0x77, protocolChars('ERRTEST'), out as Loose)).toBe(NDIS_STATUS_SUCCESS);
  const prot = out.value;
  const gen = r.NdisAllocateGenericObject(0xd0, T.gen, 16);
  r.bytes(gen + 16, 16).fill(0x5a);
  const mem = r.NdisAllocateMemoryWithTagPriority(gen as Loose, 256, T.mem, NormalPoolPriority);
  r.bytes(mem, 256).forEach((_, i, a) => (a[i] = i));
  const mdlA = r.NdisAllocateMdl(prot as Loose, mem as Loose, 100);
  const mdlB = r.NdisAllocateMdl(prot as Loose, (mem + 100) as Loose, 150);
  r.NDIS_MDL_LINKAGE_SET(mdlA as Loose, mdlB as Loose);
  const pool0 = r.NdisAllocateNetBufferPool(prot as Loose, { Header: HDR1, PoolTag: T.pool0, DataSize: 0 });
  const poolD = r.NdisAllocateNetBufferPool(gen as Loose, { Header: HDR2, PoolTag: T.poolD, DataSize: 1500, Flags: NET_BUFFER_POOL_FLAG_VERIFY });
  const nb0 = r.NdisAllocateNetBuffer(pool0 as Loose, mdlA as Loose, 120, 100);
  const nb1 = r.NdisAllocateNetBuffer(pool0 as Loose, 0, 0, 0);
  const nbD = r.NdisAllocateNetBufferMdlAndData(poolD as Loose);
  r.bytes(nbD + MDL_AND_DATA_LAYOUT.Data, 1500).fill(0xc3);
  for (const v of [prot, gen, mem, mdlA, mdlB, pool0, poolD, nb0, nb1, nbD]) expect(v).toBeGreaterThanOrEqual(65536);
  return { prot, gen, mem, mdlA, mdlB, pool0, poolD, nb0, nb1, nbD };
}

/** Every fixture object still answers its accessors with its values. */
function checkLive(r: NdisRuntime, f: Fixture): void {
  const L = (n: number) => n as Loose;
  expect(r.NdisGetPoolFromNetBuffer(L(f.nb0))).toBe(f.pool0);
  expect(r.NET_BUFFER_FIRST_MDL(L(f.nb0))).toBe(f.mdlA);
  expect(r.NET_BUFFER_CURRENT_MDL(L(f.nb0))).toBe(f.mdlB);
  expect(r.NET_BUFFER_CURRENT_MDL_OFFSET(L(f.nb0))).toBe(20);
  expect(r.NET_BUFFER_DATA_OFFSET(L(f.nb0))).toBe(120);
  expect(r.NET_BUFFER_DATA_LENGTH(L(f.nb0))).toBe(100);
  expect(r.NET_BUFFER_NEXT_NB(L(f.nb0))).toBe(0);
  expect(r.NET_BUFFER_CHECKSUM_BIAS(L(f.nb0))).toBe(0);
  expect(r.NdisGetPoolFromNetBuffer(L(f.nb1))).toBe(f.pool0);
  expect(r.NET_BUFFER_FIRST_MDL(L(f.nb1))).toBe(0);
  expect(r.NET_BUFFER_CURRENT_MDL(L(f.nb1))).toBe(0);
  expect(r.NET_BUFFER_DATA_LENGTH(L(f.nb1))).toBe(0);
  expect(r.NET_BUFFER_NEXT_NB(L(f.nb1))).toBe(0);
  expect(r.NdisGetPoolFromNetBuffer(L(f.nbD))).toBe(f.poolD);
  expect(r.NET_BUFFER_DATA_LENGTH(L(f.nbD))).toBe(1500);
  expect(r.NET_BUFFER_DATA_OFFSET(L(f.nbD))).toBe(0);
  const inner = r.NET_BUFFER_FIRST_MDL(L(f.nbD));
  expect(inner).toBe(f.nbD + MDL_AND_DATA_LAYOUT.Mdl);
  expect(r.MmGetMdlByteCount(L(inner))).toBe(1500);
  const va = r.MmGetSystemAddressForMdlSafe(L(inner), NormalPagePriority);
  expect(r.bytes(va, 1500).every((b) => b === 0xc3)).toBe(true);
  expect(r.MmGetMdlByteCount(L(f.mdlA))).toBe(100);
  expect(r.MmGetMdlByteCount(L(f.mdlB))).toBe(150);
  expect(r.NDIS_MDL_LINKAGE(L(f.mdlA))).toBe(f.mdlB);
  expect(r.NDIS_MDL_LINKAGE(L(f.mdlB))).toBe(0);
  expect(r.MmGetMdlVirtualAddress(L(f.mdlB))).toBe(f.mem + 100);
  expect(r.bytes(f.mem, 256).every((b, i) => b === i)).toBe(true);
  expect(r.bytes(f.gen + 16, 16).every((b) => b === 0x5a)).toBe(true);
  expect(new DataView(r.memory.buffer).getUint32(f.gen + 12, true)).toBe(0xd0);
}

/** Frees every fixture object exactly once (each free must succeed), then nothing is outstanding. */
function freeAll(r: NdisRuntime, f: Fixture): void {
  const L = (n: number) => n as Loose;
  r.NdisFreeNetBuffer(L(f.nb0));
  r.NdisFreeNetBuffer(L(f.nb1));
  r.NdisFreeNetBuffer(L(f.nbD));
  r.NdisFreeNetBufferPool(L(f.pool0));
  r.NdisFreeNetBufferPool(L(f.poolD));
  r.NdisFreeMdl(L(f.mdlA));
  r.NdisFreeMdl(L(f.mdlB));
  r.NdisFreeMemoryWithTagPriority(L(f.gen), L(f.mem), T.mem);
  r.NdisFreeGenericObject(L(f.gen));
  r.NdisDeregisterProtocolDriver(L(f.prot));
  for (const row of r.poolmon()) expect(row.outstanding, `${row.tag}/${row.type}`).toBe(0);
}

let rt: NdisRuntime;

/** NdisAllocateGenericObject on the current runtime, typed loosely (tests pass the result back). */
const allocGeneric = (DriverObject: number, Tag: number, Size: number): Loose => rt.NdisAllocateGenericObject(DriverObject, Tag, Size);
let fx: Fixture;
let extra: (() => void)[]; // clean-up of objects a test creates besides the fixture

beforeEach(() => {
  rt = createRuntimeSync();
  fx = makeFixture(rt);
  extra = [];
});

afterEach(() => {
  checkLive(rt, fx);
  for (const f of extra.reverse()) f();
  freeAll(rt, fx);
});

// -- NdisBugCheck itself -------------------------------------------------------------------------------

describe('NdisBugCheck', () => {
  it('is an Error with code, parameters, rule, function, argument and a full message', () => {
    const b = expectBug(() => rt.NdisFreeNetBuffer(12345 as Loose), origin42('NdisFreeNetBuffer', 'NetBuffer', 12345), FULL);
    expect(b).toBeInstanceOf(Error);
    expect(b.name).toBe('NdisBugCheck');
    expect(b.parameters).toHaveLength(4);
    expect(b.message).toBe(
      'NdisFreeNetBuffer: NetBuffer 0x00003039 is not a NET_BUFFER from this runtime (no pool owns that address) ' +
        '[ORIGIN; bug check 0xC2 BAD_POOL_CALLER (0x42, 0x3039, 0x0, 0x0)]',
    );
    expect(typeof b.stack).toBe('string');
  });

  it('exports the bug-check codes and rule parameters', () => {
    expect(BUGCODE_BAD_POOL_CALLER).toBe(0xc2);
    expect(BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION).toBe(0xc4);
    expect(BUGCODE_NDIS_DRIVER).toBe(0x7c);
    expect(RULE_P1).toEqual({
      PARAM: 0x00d00001,
      'POOL-1': 0x00d00011,
      'POOL-4': 0x00d00014,
      'POOL-5': 0x00d00015,
      'POOL-6': 0x00d00016,
      'NB-ARGS': 0x00d00020,
      'NB-CONS': 0x00d00021,
      'POOL-2': 0x00d00012,
      'POOL-3': 0x00d00013,
      'NBL-FREE-1': 0x00d00030,
      'NBL-FREE-2': 0x00d00031,
      'CTX-ALIGN': 0x00d00032,
      'ADV-1': 0x00d00040,
      'ADV-2': 0x00d00041,
      'GDB-1': 0x00d00042,
      'PKT-1': 0x00d00050,
      'PKT-2': 0x00d00051,
      'PKT-4': 0x00d00053,
      'BUF-1': 0x00d00058,
      'OWN-1': 0x00d00060,
      'OWN-2': 0x00d00061,
      'OWN-3': 0x00d00062,
      'DRV-1': 0x00d00070,
      'DRV-2': 0x00d00071,
      'DRV-3': 0x00d00072,
      'IRQL-NB': 0x00d00080,
      'IRQL-MISC': 0x00d00081,
      'IRQL-PROT': 0x00d00082,
      'IRQL-DPR': 0x00d00083,
      'LOCK-5': 0x00d00084,
      IRQL: 0x00d00085,
      LOCK: 0x00d00086,
      'LEAK-MDL': 0x00d00090,
      'LEAK-MEM': 0x00d00091,
      'LEAK-GEN': 0x00d00092,
    });
    // TIME-SEND reports Driver Verifier's own Parameter 1 (NdisTimedDataSend / NdisTimedDataHang).
    expect(NDIS_TIMED_DATA_SEND).toBe(0x0009200d);
    expect(NDIS_TIMED_DATA_HANG).toBe(0x0009200f);
  });

  it('names 0xC4 and 0x7C in the message', () => {
    const a = expectBug(() => rt.NdisAllocateNetBuffer(fx.pool0 as Loose, 0, 1, 0), {
      fn: 'NdisAllocateNetBuffer', arg: 'MdlChain', code: 0xc4, rule: 'NB-ARGS',
    }, FULL);
    expect(a.message).toContain('DRIVER_VERIFIER_DETECTED_VIOLATION (0xD00020, 0x1, 0x0, 0x0)');
    const h = expectBug(() => rt.NdisAllocateNetBufferPool(0, { Header: { Type: 1, Revision: 1, Size: 12 }, PoolTag: 1, DataSize: 0 }), {
      fn: 'NdisAllocateNetBufferPool', arg: 'Parameters.Header', code: 0x7c, rule: 'HDR-1',
    }, FULL);
    expect(h.message).toContain('BUGCODE_NDIS_DRIVER (0x21, 0x1, 0x1, 0xC)');
  });
});

// -- forged numbers ------------------------------------------------------------------------------------

/** [function, argument, call with the bad pointer] for every pointer argument of the mirror. */
function pointerArgs(): [string, string, (p: number) => unknown][] {
  const L = (n: number) => n as Loose;
  return [
    ['NdisFreeNetBuffer', 'NetBuffer', (p) => rt.NdisFreeNetBuffer(L(p))],
    ['NdisGetPoolFromNetBuffer', 'NetBuffer', (p) => rt.NdisGetPoolFromNetBuffer(L(p))],
    ['NET_BUFFER_NEXT_NB', 'NetBuffer', (p) => rt.NET_BUFFER_NEXT_NB(L(p))],
    ['NET_BUFFER_FIRST_MDL', 'NetBuffer', (p) => rt.NET_BUFFER_FIRST_MDL(L(p))],
    ['NET_BUFFER_DATA_LENGTH', 'NetBuffer', (p) => rt.NET_BUFFER_DATA_LENGTH(L(p))],
    ['NET_BUFFER_DATA_OFFSET', 'NetBuffer', (p) => rt.NET_BUFFER_DATA_OFFSET(L(p))],
    ['NET_BUFFER_CURRENT_MDL', 'NetBuffer', (p) => rt.NET_BUFFER_CURRENT_MDL(L(p))],
    ['NET_BUFFER_CURRENT_MDL_OFFSET', 'NetBuffer', (p) => rt.NET_BUFFER_CURRENT_MDL_OFFSET(L(p))],
    ['NET_BUFFER_CHECKSUM_BIAS', 'NetBuffer', (p) => rt.NET_BUFFER_CHECKSUM_BIAS(L(p))],
    ['NET_BUFFER_PROTOCOL_RESERVED', 'NetBuffer', (p) => rt.NET_BUFFER_PROTOCOL_RESERVED(L(p))],
    ['NET_BUFFER_MINIPORT_RESERVED', 'NetBuffer', (p) => rt.NET_BUFFER_MINIPORT_RESERVED(L(p))],
    ['NET_BUFFER_NEXT_NB_SET', 'NetBuffer', (p) => rt.NET_BUFFER_NEXT_NB_SET(L(p), 0)],
    ['NET_BUFFER_NEXT_NB_SET', 'Next', (p) => rt.NET_BUFFER_NEXT_NB_SET(L(fx.nb1), L(p))],
    ['NET_BUFFER_FIRST_MDL_SET', 'NetBuffer', (p) => rt.NET_BUFFER_FIRST_MDL_SET(L(p), 0)],
    ['NET_BUFFER_FIRST_MDL_SET', 'Mdl', (p) => rt.NET_BUFFER_FIRST_MDL_SET(L(fx.nb1), L(p))],
    ['NET_BUFFER_CURRENT_MDL_SET', 'NetBuffer', (p) => rt.NET_BUFFER_CURRENT_MDL_SET(L(p), 0)],
    ['NET_BUFFER_CURRENT_MDL_SET', 'Mdl', (p) => rt.NET_BUFFER_CURRENT_MDL_SET(L(fx.nb1), L(p))],
    ['NET_BUFFER_CURRENT_MDL_OFFSET_SET', 'NetBuffer', (p) => rt.NET_BUFFER_CURRENT_MDL_OFFSET_SET(L(p), 1)],
    ['NET_BUFFER_DATA_LENGTH_SET', 'NetBuffer', (p) => rt.NET_BUFFER_DATA_LENGTH_SET(L(p), 1)],
    ['NET_BUFFER_DATA_OFFSET_SET', 'NetBuffer', (p) => rt.NET_BUFFER_DATA_OFFSET_SET(L(p), 1)],
    ['NET_BUFFER_CHECKSUM_BIAS_SET', 'NetBuffer', (p) => rt.NET_BUFFER_CHECKSUM_BIAS_SET(L(p), 1)],
    ['NdisFreeNetBufferPool', 'PoolHandle', (p) => rt.NdisFreeNetBufferPool(L(p))],
    ['NdisAllocateNetBuffer', 'PoolHandle', (p) => rt.NdisAllocateNetBuffer(L(p), 0, 0, 0)],
    ['NdisAllocateNetBuffer', 'MdlChain', (p) => rt.NdisAllocateNetBuffer(L(fx.pool0), L(p), 0, 0)],
    ['NdisAllocateNetBufferMdlAndData', 'PoolHandle', (p) => rt.NdisAllocateNetBufferMdlAndData(L(p))],
    ['NdisAllocateNetBufferPool', 'NdisHandle', (p) => rt.NdisAllocateNetBufferPool(L(p), { Header: HDR1, PoolTag: 1, DataSize: 0 })],
    ['NdisFreeMdl', 'Mdl', (p) => rt.NdisFreeMdl(L(p))],
    ['NDIS_MDL_LINKAGE', 'Mdl', (p) => rt.NDIS_MDL_LINKAGE(L(p))],
    ['NDIS_MDL_LINKAGE_SET', 'Mdl', (p) => rt.NDIS_MDL_LINKAGE_SET(L(p), 0)],
    ['NDIS_MDL_LINKAGE_SET', 'Next', (p) => rt.NDIS_MDL_LINKAGE_SET(L(fx.mdlB), L(p))],
    ['MmGetMdlByteCount', 'Mdl', (p) => rt.MmGetMdlByteCount(L(p))],
    ['MmGetMdlVirtualAddress', 'Mdl', (p) => rt.MmGetMdlVirtualAddress(L(p))],
    ['MmGetSystemAddressForMdlSafe', 'Mdl', (p) => rt.MmGetSystemAddressForMdlSafe(L(p), NormalPagePriority)],
    ['NdisAllocateMdl', 'NdisHandle', (p) => rt.NdisAllocateMdl(L(p), L(fx.mem), 8)],
    ['NdisFreeGenericObject', 'NdisObject', (p) => rt.NdisFreeGenericObject(L(p))],
    ['NdisDeregisterProtocolDriver', 'NdisProtocolHandle', (p) => rt.NdisDeregisterProtocolDriver(L(p))],
    ['NdisAllocateMemoryWithTagPriority', 'NdisHandle', (p) => rt.NdisAllocateMemoryWithTagPriority(L(p), 8, T.mem, NormalPoolPriority)],
    ['NdisFreeMemoryWithTagPriority', 'NdisHandle', (p) => rt.NdisFreeMemoryWithTagPriority(L(p), L(fx.mem), T.mem)],
    ['NdisFreeMemoryWithTagPriority', 'VirtualAddress', (p) => rt.NdisFreeMemoryWithTagPriority(L(fx.gen), L(p), T.mem)],
  ];
}

describe('forged numbers are ORIGIN (0xC2/0x42)', () => {
  for (const [fn, arg, call] of pointerArgs()) {
    it(`${fn} ${arg}`, () => {
      for (const p of [12345, 0x7fff0000, 0xfffffff8]) unchanged(() => call(p), origin42(fn, arg, p));
    });
  }

  it('an NB of another runtime is not an NB of this one', () => {
    const other = createRuntimeSync();
    const g = other.NdisAllocateGenericObject(0, 1, 0);
    other.NdisAllocateMemoryWithTagPriority(g as Loose, 3 * 1024 * 1024, 1, NormalPoolPriority);
    const p = other.NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: 1, DataSize: 0 });
    const nb = other.NdisAllocateNetBuffer(p as Loose, 0, 0, 0);
    expect(other.NET_BUFFER_DATA_LENGTH(nb as Loose)).toBe(0);
    // In this runtime the number is foreign memory (0x42) or not an NB start (0x46): never an NB.
    for (const [fn, call] of [
      ['NdisFreeNetBuffer', () => rt.NdisFreeNetBuffer(nb as Loose)],
      ['NET_BUFFER_DATA_LENGTH', () => rt.NET_BUFFER_DATA_LENGTH(nb as Loose)],
    ] as const) {
      const b = unchanged(call, { fn, arg: 'NetBuffer', code: BUGCODE_BAD_POOL_CALLER, rule: 'ORIGIN' });
      expect([0x42, 0x46]).toContain(b.parameters[0]);
      expect(b.parameters.slice(1)).toEqual([nb, 0, 0]);
    }
    // The other runtime is unaffected.
    other.NdisFreeNetBuffer(nb as Loose);
  });

  it('NULL where a live object is required', () => {
    const nul = (fn: string, arg: string): Expect => ({ ...origin42(fn, arg, 0), message: /is NULL; expected/ });
    unchanged(() => rt.NdisFreeNetBuffer(0 as Loose), nul('NdisFreeNetBuffer', 'NetBuffer'));
    unchanged(() => rt.NET_BUFFER_DATA_LENGTH(0 as Loose), nul('NET_BUFFER_DATA_LENGTH', 'NetBuffer'));
    unchanged(() => rt.NdisAllocateNetBufferMdlAndData(0 as Loose), nul('NdisAllocateNetBufferMdlAndData', 'PoolHandle'));
    unchanged(() => rt.NdisFreeMdl(0 as Loose), nul('NdisFreeMdl', 'Mdl'));
    unchanged(() => rt.NdisAllocateMdl(0 as Loose, fx.mem as Loose, 8), nul('NdisAllocateMdl', 'NdisHandle'));
  });
});

// -- pointers into objects, and objects of the wrong kind ----------------------------------------------

describe('pointers into the middle of an object are ORIGIN (0xC2/0x46)', () => {
  const inside = /points inside an object/;
  it('into a NET_BUFFER', () => {
    for (const off of [4, 8, 0x1c, 0x54]) {
      const p = fx.nb0 + off;
      unchanged(() => rt.NdisFreeNetBuffer(p as Loose), origin46('NdisFreeNetBuffer', 'NetBuffer', p, inside));
      unchanged(() => rt.NET_BUFFER_DATA_LENGTH(p as Loose), origin46('NET_BUFFER_DATA_LENGTH', 'NetBuffer', p, inside));
      unchanged(() => rt.NET_BUFFER_DATA_LENGTH_SET(p as Loose, 5), origin46('NET_BUFFER_DATA_LENGTH_SET', 'NetBuffer', p, inside));
      unchanged(() => rt.NdisGetPoolFromNetBuffer(p as Loose), origin46('NdisGetPoolFromNetBuffer', 'NetBuffer', p, inside));
    }
  });

  it('into the data of an MdlAndData NET_BUFFER', () => {
    const p = fx.nbD + MDL_AND_DATA_LAYOUT.Data;
    unchanged(() => rt.NdisFreeNetBuffer(p as Loose), origin46('NdisFreeNetBuffer', 'NetBuffer', p, inside));
    unchanged(() => rt.NdisFreeNetBuffer((fx.nbD + 4) as Loose), origin46('NdisFreeNetBuffer', 'NetBuffer', fx.nbD + 4, inside));
  });

  it('into an MDL, a pool handle, a generic object and a memory block', () => {
    unchanged(() => rt.NdisFreeMdl((fx.mdlA + 4) as Loose), origin46('NdisFreeMdl', 'Mdl', fx.mdlA + 4, inside));
    unchanged(() => rt.MmGetMdlByteCount((fx.mdlB + 8) as Loose), origin46('MmGetMdlByteCount', 'Mdl', fx.mdlB + 8, inside));
    unchanged(() => rt.NdisFreeNetBufferPool((fx.pool0 + 8) as Loose), origin46('NdisFreeNetBufferPool', 'PoolHandle', fx.pool0 + 8, inside));
    unchanged(() => rt.NdisAllocateNetBuffer((fx.pool0 + 4) as Loose, 0, 0, 0), origin46('NdisAllocateNetBuffer', 'PoolHandle', fx.pool0 + 4, inside));
    unchanged(() => rt.NdisFreeGenericObject((fx.gen + 16) as Loose), origin46('NdisFreeGenericObject', 'NdisObject', fx.gen + 16, inside));
    unchanged(() => rt.NdisFreeMemoryWithTagPriority(fx.gen as Loose, (fx.mem + 8) as Loose, T.mem),
      origin46('NdisFreeMemoryWithTagPriority', 'VirtualAddress', fx.mem + 8, inside));
  });
});

describe('objects of the wrong kind are ORIGIN (0xC2/0x46)', () => {
  it('an MDL passed as a NET_BUFFER', () => {
    const m = fx.mdlA;
    unchanged(() => rt.NdisFreeNetBuffer(m as Loose), origin46('NdisFreeNetBuffer', 'NetBuffer', m, /is a MDL, not a NET_BUFFER/));
    unchanged(() => rt.NET_BUFFER_DATA_LENGTH(m as Loose), origin46('NET_BUFFER_DATA_LENGTH', 'NetBuffer', m, /MDL/));
    unchanged(() => rt.NdisGetPoolFromNetBuffer(m as Loose), origin46('NdisGetPoolFromNetBuffer', 'NetBuffer', m, /MDL/));
    unchanged(() => rt.NET_BUFFER_NEXT_NB_SET(fx.nb1 as Loose, m as Loose), origin46('NET_BUFFER_NEXT_NB_SET', 'Next', m, /MDL/));
    // The MDL of an MdlAndData NET_BUFFER is not a NET_BUFFER either.
    const inner = fx.nbD + MDL_AND_DATA_LAYOUT.Mdl;
    unchanged(() => rt.NdisFreeNetBuffer(inner as Loose), origin46('NdisFreeNetBuffer', 'NetBuffer', inner));
  });

  it('a NET_BUFFER passed as an MDL', () => {
    const n = fx.nb1;
    unchanged(() => rt.NdisFreeMdl(n as Loose), origin46('NdisFreeMdl', 'Mdl', n, /is a NET_BUFFER, not an MDL/));
    unchanged(() => rt.NDIS_MDL_LINKAGE(n as Loose), origin46('NDIS_MDL_LINKAGE', 'Mdl', n, /NET_BUFFER/));
    unchanged(() => rt.MmGetMdlByteCount(n as Loose), origin46('MmGetMdlByteCount', 'Mdl', n, /NET_BUFFER/));
    unchanged(() => rt.MmGetSystemAddressForMdlSafe(n as Loose, NormalPagePriority), origin46('MmGetSystemAddressForMdlSafe', 'Mdl', n));
    unchanged(() => rt.NDIS_MDL_LINKAGE_SET(fx.mdlB as Loose, n as Loose), origin46('NDIS_MDL_LINKAGE_SET', 'Next', n));
    unchanged(() => rt.NET_BUFFER_FIRST_MDL_SET(fx.nb0 as Loose, n as Loose), origin46('NET_BUFFER_FIRST_MDL_SET', 'Mdl', n));
    unchanged(() => rt.NET_BUFFER_CURRENT_MDL_SET(fx.nb0 as Loose, fx.nbD as Loose), origin46('NET_BUFFER_CURRENT_MDL_SET', 'Mdl', fx.nbD));
    unchanged(() => rt.NdisAllocateNetBuffer(fx.pool0 as Loose, n as Loose, 0, 0), origin46('NdisAllocateNetBuffer', 'MdlChain', n, /NET_BUFFER/));
  });

  it('the MDL of an MdlAndData NET_BUFFER is not freed separately (MDAT-1)', () => {
    const inner = fx.nbD + MDL_AND_DATA_LAYOUT.Mdl;
    unchanged(() => rt.NdisFreeMdl(inner as Loose), origin46('NdisFreeMdl', 'Mdl', inner, /NET_BUFFER, not an MDL from NdisAllocateMdl/));
  });

  it('pool handles, NET_BUFFERs and other handles swapped', () => {
    unchanged(() => rt.NdisFreeNetBuffer(fx.pool0 as Loose), origin46('NdisFreeNetBuffer', 'NetBuffer', fx.pool0, /NET_BUFFER pool handle, not a NET_BUFFER/));
    unchanged(() => rt.NET_BUFFER_DATA_LENGTH(fx.poolD as Loose), origin46('NET_BUFFER_DATA_LENGTH', 'NetBuffer', fx.poolD, /pool handle/));
    unchanged(() => rt.NdisFreeNetBufferPool(fx.nb1 as Loose), origin46('NdisFreeNetBufferPool', 'PoolHandle', fx.nb1, /is a NET_BUFFER, not a NET_BUFFER pool handle/));
    unchanged(() => rt.NdisAllocateNetBuffer(fx.nb1 as Loose, 0, 0, 0), origin46('NdisAllocateNetBuffer', 'PoolHandle', fx.nb1));
    unchanged(() => rt.NdisAllocateNetBufferMdlAndData(fx.nbD as Loose), origin46('NdisAllocateNetBufferMdlAndData', 'PoolHandle', fx.nbD));
    unchanged(() => rt.NdisFreeNetBufferPool(fx.gen as Loose), origin46('NdisFreeNetBufferPool', 'PoolHandle', fx.gen, /GENERIC_OBJECT/));
    unchanged(() => rt.NdisFreeNetBufferPool(fx.prot as Loose), origin46('NdisFreeNetBufferPool', 'PoolHandle', fx.prot, /protocol driver handle/));
    unchanged(() => rt.NdisAllocateNetBufferPool(fx.pool0 as Loose, { Header: HDR1, PoolTag: 1, DataSize: 0 }),
      origin46('NdisAllocateNetBufferPool', 'NdisHandle', fx.pool0, /pool handle/));
    unchanged(() => rt.NdisAllocateNetBufferPool(fx.nb1 as Loose, { Header: HDR1, PoolTag: 1, DataSize: 0 }), origin46('NdisAllocateNetBufferPool', 'NdisHandle', fx.nb1));
    unchanged(() => rt.NdisAllocateMemoryWithTagPriority(fx.pool0 as Loose, 8, 1, NormalPoolPriority), origin46('NdisAllocateMemoryWithTagPriority', 'NdisHandle', fx.pool0));
    unchanged(() => rt.NdisAllocateMdl(fx.mem as Loose, fx.mem as Loose, 8), origin46('NdisAllocateMdl', 'NdisHandle', fx.mem));
    unchanged(() => rt.NdisFreeGenericObject(fx.mem as Loose), origin46('NdisFreeGenericObject', 'NdisObject', fx.mem));
    unchanged(() => rt.NdisFreeGenericObject(fx.prot as Loose), origin46('NdisFreeGenericObject', 'NdisObject', fx.prot));
    unchanged(() => rt.NdisDeregisterProtocolDriver(fx.gen as Loose), origin46('NdisDeregisterProtocolDriver', 'NdisProtocolHandle', fx.gen));
    unchanged(() => rt.NdisFreeMemoryWithTagPriority(fx.gen as Loose, fx.gen as Loose, T.gen), origin46('NdisFreeMemoryWithTagPriority', 'VirtualAddress', fx.gen));
    unchanged(() => rt.NdisFreeMemoryWithTagPriority(fx.gen as Loose, fx.nb1 as Loose, T.mem), origin46('NdisFreeMemoryWithTagPriority', 'VirtualAddress', fx.nb1));
  });

  it('an NB of another pool belongs to that pool only', () => {
    const other = rt.NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: POOL_TAG('Othr'), DataSize: 0 });
    const nb = rt.NdisAllocateNetBuffer(other as Loose, 0, 0, 0);
    expect(rt.NdisGetPoolFromNetBuffer(nb as Loose)).toBe(other);
    // pool0's outstanding count does not include the other pool's NB…
    unchanged(() => rt.NdisFreeNetBufferPool(fx.pool0 as Loose), {
      fn: 'NdisFreeNetBufferPool', arg: 'PoolHandle', code: 0xc4, rule: 'POOL-5', parameters: [RULE_P1['POOL-5'], fx.pool0, 2, 0],
    });
    // …and the other pool's count does not include pool0's.
    unchanged(() => rt.NdisFreeNetBufferPool(other as Loose), {
      fn: 'NdisFreeNetBufferPool', arg: 'PoolHandle', code: 0xc4, rule: 'POOL-5', parameters: [RULE_P1['POOL-5'], other, 1, 0],
    });
    rt.NdisFreeNetBuffer(nb as Loose);
    rt.NdisFreeNetBufferPool(other as Loose);
  });
});

// -- stale pointers and double frees ---------------------------------------------------------------------

describe('stale pointers after free and double frees (0xC2/0x07)', () => {
  it('a freed NET_BUFFER: ALT-NB in NdisFreeNetBuffer, the accessors, setters and NdisGetPoolFromNetBuffer', () => {
    const nb = rt.NdisAllocateNetBuffer(fx.pool0 as Loose, 0, 0, 0);
    rt.NdisFreeNetBuffer(nb as Loose);
    const L = nb as Loose;
    unchanged(() => rt.NdisFreeNetBuffer(L), freed('NdisFreeNetBuffer', 'NetBuffer', nb, 'ALT-NB'));
    unchanged(() => rt.NdisGetPoolFromNetBuffer(L), freed('NdisGetPoolFromNetBuffer', 'NetBuffer', nb, 'ALT-NB'));
    unchanged(() => rt.NET_BUFFER_DATA_LENGTH(L), freed('NET_BUFFER_DATA_LENGTH', 'NetBuffer', nb, 'ALT-NB'));
    unchanged(() => rt.NET_BUFFER_FIRST_MDL(L), freed('NET_BUFFER_FIRST_MDL', 'NetBuffer', nb, 'ALT-NB'));
    unchanged(() => rt.NET_BUFFER_PROTOCOL_RESERVED(L), freed('NET_BUFFER_PROTOCOL_RESERVED', 'NetBuffer', nb, 'ALT-NB'));
    unchanged(() => rt.NET_BUFFER_DATA_OFFSET_SET(L, 3), freed('NET_BUFFER_DATA_OFFSET_SET', 'NetBuffer', nb, 'ALT-NB'));
    unchanged(() => rt.NET_BUFFER_CHECKSUM_BIAS_SET(L, 3), freed('NET_BUFFER_CHECKSUM_BIAS_SET', 'NetBuffer', nb, 'ALT-NB'));
    unchanged(() => rt.NET_BUFFER_NEXT_NB_SET(fx.nb1 as Loose, L), freed('NET_BUFFER_NEXT_NB_SET', 'Next', nb, 'ALT-NB'));
  });

  it('a freed MdlAndData NET_BUFFER: ALT-NB on double free; its MDL went with it', () => {
    const nb = rt.NdisAllocateNetBufferMdlAndData(fx.poolD as Loose);
    const inner = rt.NET_BUFFER_FIRST_MDL(nb as Loose);
    rt.NdisFreeNetBuffer(nb as Loose);
    unchanged(() => rt.NdisFreeNetBuffer(nb as Loose), freed('NdisFreeNetBuffer', 'NetBuffer', nb, 'ALT-NB'));
    const b = bugCheck(() => rt.MmGetMdlByteCount(inner as Loose));
    expect(b.code).toBe(0xc2);
    expect(b.function).toBe('MmGetMdlByteCount');
  });

  it('a freed MDL: ALT-MDL in NdisFreeMdl, the MDL accessors and the setters that take an MDL', () => {
    const m = rt.NdisAllocateMdl(fx.gen as Loose, fx.mem as Loose, 10);
    rt.NdisFreeMdl(m as Loose);
    const L = m as Loose;
    unchanged(() => rt.NdisFreeMdl(L), freed('NdisFreeMdl', 'Mdl', m, 'ALT-MDL'));
    unchanged(() => rt.NDIS_MDL_LINKAGE(L), freed('NDIS_MDL_LINKAGE', 'Mdl', m, 'ALT-MDL'));
    unchanged(() => rt.MmGetMdlVirtualAddress(L), freed('MmGetMdlVirtualAddress', 'Mdl', m, 'ALT-MDL'));
    unchanged(() => rt.NDIS_MDL_LINKAGE_SET(fx.mdlB as Loose, L), freed('NDIS_MDL_LINKAGE_SET', 'Next', m, 'ALT-MDL'));
    unchanged(() => rt.NET_BUFFER_FIRST_MDL_SET(fx.nb1 as Loose, L), freed('NET_BUFFER_FIRST_MDL_SET', 'Mdl', m, 'ALT-MDL'));
    unchanged(() => rt.NET_BUFFER_CURRENT_MDL_SET(fx.nb1 as Loose, L), freed('NET_BUFFER_CURRENT_MDL_SET', 'Mdl', m, 'ALT-MDL'));
  });

  it('a freed MDL passed as MdlChain is ALT-MDL, as everywhere else', () => {
    const m = rt.NdisAllocateMdl(fx.gen as Loose, fx.mem as Loose, 10);
    rt.NdisFreeMdl(m as Loose);
    unchanged(() => rt.NdisAllocateNetBuffer(fx.pool0 as Loose, m as Loose, 0, 0), freed('NdisAllocateNetBuffer', 'MdlChain', m, 'ALT-MDL'));
  });

  it('a chain whose second MDL was freed: the bug check names the freed MDL, not the live head', () => {
    const head = rt.NdisAllocateMdl(fx.gen as Loose, fx.mem as Loose, 10);
    const tail = rt.NdisAllocateMdl(fx.gen as Loose, (fx.mem + 10) as Loose, 10);
    rt.NDIS_MDL_LINKAGE_SET(head as Loose, tail as Loose);
    rt.NdisFreeMdl(tail as Loose);
    extra.push(() => rt.NdisFreeMdl(head as Loose));
    const before = snapshot(rt);
    const b = bugCheck(() => rt.NdisAllocateNetBuffer(fx.pool0 as Loose, head as Loose, 0, 5));
    expect(snapshot(rt)).toEqual(before);
    expect(b.function).toBe('NdisAllocateNetBuffer');
    expect(b.argument).toBe('MdlChain');
    expect(b.code).toBe(BUGCODE_BAD_POOL_CALLER);
    // The freed MDL is the one at fault: the parameters and the message must name it.
    expect([...b.parameters]).toEqual([0x07, 0, 0, tail]);
    expect(b.message).toContain(hex(tail));
    expect(b.message).not.toContain(`${hex(head)} is not allocated`);
    expect(b.rule).toBe('ALT-MDL');
  });

  it('a freed pool handle: ALT-POOL in NdisFreeNetBufferPool and in the allocators', () => {
    const p = rt.NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: 5, DataSize: 0 });
    const d = rt.NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: 5, DataSize: 64 });
    rt.NdisFreeNetBufferPool(p as Loose);
    rt.NdisFreeNetBufferPool(d as Loose);
    unchanged(() => rt.NdisFreeNetBufferPool(p as Loose), freed('NdisFreeNetBufferPool', 'PoolHandle', p, 'ALT-POOL'));
    unchanged(() => rt.NdisAllocateNetBuffer(p as Loose, 0, 0, 0), freed('NdisAllocateNetBuffer', 'PoolHandle', p, 'ALT-POOL'));
    unchanged(() => rt.NdisAllocateNetBufferMdlAndData(d as Loose), freed('NdisAllocateNetBufferMdlAndData', 'PoolHandle', d, 'ALT-POOL'));
  });

  it('a freed generic object: ALT-GEN in NdisFreeGenericObject and where it is passed as NdisHandle', () => {
    const g = allocGeneric(0xd0, T.gen, 16);
    rt.NdisFreeGenericObject(g);
    unchanged(() => rt.NdisFreeGenericObject(g), freed('NdisFreeGenericObject', 'NdisObject', g, 'ALT-GEN'));
    unchanged(() => rt.NdisAllocateMemoryWithTagPriority(g as Loose, 8, 1, NormalPoolPriority), freed('NdisAllocateMemoryWithTagPriority', 'NdisHandle', g, 'ALT-GEN'));
    unchanged(() => rt.NdisAllocateNetBufferPool(g as Loose, { Header: HDR1, PoolTag: 1, DataSize: 0 }), freed('NdisAllocateNetBufferPool', 'NdisHandle', g, 'ALT-GEN'));
  });

  it('freed memory and a deregistered protocol handle', () => {
    const m = rt.NdisAllocateMemoryWithTagPriority(fx.gen as Loose, 256, T.mem, NormalPoolPriority);
    rt.NdisFreeMemoryWithTagPriority(fx.gen as Loose, m as Loose, T.mem);
    unchanged(() => rt.NdisFreeMemoryWithTagPriority(fx.gen as Loose, m as Loose, T.mem), freed('NdisFreeMemoryWithTagPriority', 'VirtualAddress', m, 'ALT-MEM'));
    unchanged(() => rt.NdisAllocateMdl(fx.gen as Loose, m as Loose, 4), {
      fn: 'NdisAllocateMdl', arg: 'VirtualAddress', code: 0xc4, rule: 'PARAM', parameters: [RULE_P1.PARAM, m, 4, 0],
    });
    const out = { value: 0 };
    expect(rt.NdisRegisterProtocolDriver(0, protocolChars('ERRTEST'), out as Loose)).toBe(NDIS_STATUS_SUCCESS);
    rt.NdisDeregisterProtocolDriver(out.value as Loose);
    unchanged(() => rt.NdisDeregisterProtocolDriver(out.value as Loose), freed('NdisDeregisterProtocolDriver', 'NdisProtocolHandle', out.value, 'ORIGIN'));
  });
});

// -- pool life-cycle rules ----------------------------------------------------------------------------------

describe('POOL-5 and POOL-6', () => {
  it('POOL-5: freeing a pool with NET_BUFFERs outstanding', () => {
    unchanged(() => rt.NdisFreeNetBufferPool(fx.pool0 as Loose), {
      fn: 'NdisFreeNetBufferPool', arg: 'PoolHandle', code: 0xc4, rule: 'POOL-5', parameters: [RULE_P1['POOL-5'], fx.pool0, 2, 0],
      message: /still has 2 object\(s\) outstanding/,
    });
    unchanged(() => rt.NdisFreeNetBufferPool(fx.poolD as Loose), {
      fn: 'NdisFreeNetBufferPool', arg: 'PoolHandle', code: 0xc4, rule: 'POOL-5', parameters: [RULE_P1['POOL-5'], fx.poolD, 1, 0],
    });
    // With one of pool0's NBs gone the count follows.
    const nb = rt.NdisAllocateNetBuffer(fx.pool0 as Loose, 0, 0, 0);
    unchanged(() => rt.NdisFreeNetBufferPool(fx.pool0 as Loose), {
      fn: 'NdisFreeNetBufferPool', arg: 'PoolHandle', code: 0xc4, rule: 'POOL-5', parameters: [RULE_P1['POOL-5'], fx.pool0, 3, 0],
    });
    rt.NdisFreeNetBuffer(nb as Loose);
  });

  it('POOL-6: deregistering a protocol that still owns a pool', () => {
    unchanged(() => rt.NdisDeregisterProtocolDriver(fx.prot as Loose), {
      fn: 'NdisDeregisterProtocolDriver', arg: 'NdisProtocolHandle', code: 0xc4, rule: 'POOL-6',
      parameters: [RULE_P1['POOL-6'], fx.prot, 1, 0], message: /still owns 1 pool\(s\)/,
    });
  });

  it('POOL-6: freeing a generic object that still owns pools (count follows)', () => {
    unchanged(() => rt.NdisFreeGenericObject(fx.gen as Loose), {
      fn: 'NdisFreeGenericObject', arg: 'NdisObject', code: 0xc4, rule: 'POOL-6', parameters: [RULE_P1['POOL-6'], fx.gen, 1, 0],
    });
    const p = rt.NdisAllocateNetBufferPool(fx.gen as Loose, { Header: HDR1, PoolTag: 6, DataSize: 0 });
    unchanged(() => rt.NdisFreeGenericObject(fx.gen as Loose), {
      fn: 'NdisFreeGenericObject', arg: 'NdisObject', code: 0xc4, rule: 'POOL-6', parameters: [RULE_P1['POOL-6'], fx.gen, 2, 0],
    });
    rt.NdisFreeNetBufferPool(p as Loose);
  });
});

// -- headers, flags and argument rules ----------------------------------------------------------------------

describe('HDR-1: malformed NET_BUFFER_POOL_PARAMETERS headers (0x7C/0x21)', () => {
  const cases: [string, unknown, number[]][] = [
    ['wrong Type 0x81', { Type: 0x81, Revision: 1, Size: 12 }, [0x21, 0x81, 1, 12]],
    ['Type 0', { Type: 0, Revision: 1, Size: 12 }, [0x21, 0, 1, 12]],
    ['the protocol characteristics Type', { Type: 0x95, Revision: 2, Size: 16 }, [0x21, 0x95, 2, 16]],
    ['Type as a string', { Type: '128', Revision: 1, Size: 12 }, [0x21, 0, 1, 12]],
    ['unknown Revision 3', { Type: 0x80, Revision: 3, Size: 16 }, [0x21, 0x80, 3, 16]],
    ['Revision 0', { Type: 0x80, Revision: 0, Size: 16 }, [0x21, 0x80, 0, 16]],
    ['Size 11 for revision 1', { Type: 0x80, Revision: 1, Size: 11 }, [0x21, 0x80, 1, 11]],
    ['Size 12 for revision 2', { Type: 0x80, Revision: 2, Size: 12 }, [0x21, 0x80, 2, 12]],
    ['Size 15 for revision 2', { Type: 0x80, Revision: 2, Size: 15 }, [0x21, 0x80, 2, 15]],
    ['Size 0', { Type: 0x80, Revision: 1, Size: 0 }, [0x21, 0x80, 1, 0]],
    ['Size NaN', { Type: 0x80, Revision: 1, Size: NaN }, [0x21, 0x80, 1, 0]],
    ['Size above a USHORT', { Type: 0x80, Revision: 1, Size: 0x10000 }, [0x21, 0x80, 1, 0x10000]],
    ['no Header', undefined, [0x21, 0, 0, 0]],
    ['Header null', null, [0x21, 0, 0, 0]],
  ];
  for (const [what, header, parameters] of cases) {
    it(what, () => {
      const b = unchanged(() => rt.NdisAllocateNetBufferPool(fx.prot as Loose, { Header: header, PoolTag: 1, DataSize: 0 } as Loose), {
        fn: 'NdisAllocateNetBufferPool', arg: 'Parameters.Header', code: BUGCODE_NDIS_DRIVER, rule: 'HDR-1', parameters,
      });
      expect(b.message).toContain('NET_BUFFER_POOL_PARAMETERS');
    });
  }
});

describe('POOL-1: Flags of a revision-2 header', () => {
  for (const flags of [2, 3, 0x80000000, 0xffffffff]) {
    it(`Flags 0x${flags.toString(16)}`, () => {
      unchanged(() => rt.NdisAllocateNetBufferPool(fx.gen as Loose, { Header: HDR2, PoolTag: 1, DataSize: 0, Flags: flags }), {
        fn: 'NdisAllocateNetBufferPool', arg: 'Parameters.Flags', code: 0xc4, rule: 'POOL-1', parameters: [RULE_P1['POOL-1'], flags, 0, 0],
      });
    });
  }
  it('Flags that are not a ULONG are PARAM', () => {
    for (const v of [-1, 1.5, NaN, '1']) {
      unchanged(() => rt.NdisAllocateNetBufferPool(fx.gen as Loose, { Header: HDR2, PoolTag: 1, DataSize: 0, Flags: v } as Loose),
        param('NdisAllocateNetBufferPool', 'Parameters.Flags', v));
    }
  });
});

describe('POOL-4: the allocator must match the pool DataSize', () => {
  it('NdisAllocateNetBufferMdlAndData on a DataSize-0 pool', () => {
    unchanged(() => rt.NdisAllocateNetBufferMdlAndData(fx.pool0 as Loose), {
      fn: 'NdisAllocateNetBufferMdlAndData', arg: 'PoolHandle', code: 0xc4, rule: 'POOL-4', parameters: [RULE_P1['POOL-4'], fx.pool0, 0, 0],
      message: /DataSize 0/,
    });
  });
  it('NdisAllocateNetBuffer on a DataSize pool', () => {
    unchanged(() => rt.NdisAllocateNetBuffer(fx.poolD as Loose, 0, 0, 0), {
      fn: 'NdisAllocateNetBuffer', arg: 'PoolHandle', code: 0xc4, rule: 'POOL-4', parameters: [RULE_P1['POOL-4'], fx.poolD, 0, 0],
      message: /DataSize 1500\b/,
    });
    unchanged(() => rt.NdisAllocateNetBuffer(fx.poolD as Loose, fx.mdlA as Loose, 0, 10), {
      fn: 'NdisAllocateNetBuffer', arg: 'PoolHandle', code: 0xc4, rule: 'POOL-4', parameters: [RULE_P1['POOL-4'], fx.poolD, 0, 0],
    });
  });
});

describe('NB-ARGS and NB-CONS', () => {
  it('NB-ARGS: MdlChain NULL with a non-zero DataOffset or DataLength', () => {
    for (const [off, len] of [[1, 0], [0, 1], [0, 1500], [0xffffffff, 0xffffffff]] as const) {
      unchanged(() => rt.NdisAllocateNetBuffer(fx.pool0 as Loose, 0, off, len), {
        fn: 'NdisAllocateNetBuffer', arg: 'MdlChain', code: 0xc4, rule: 'NB-ARGS', parameters: [RULE_P1['NB-ARGS'], off, len, 0],
      });
    }
  });

  it('NB-CONS: DataOffset + DataLength beyond the bytes of the chain', () => {
    // mdlA -> mdlB describes 250 bytes; mdlB alone 150.
    for (const [mdl, off, len, total] of [
      [fx.mdlA, 200, 51, 250],
      [fx.mdlA, 251, 0, 250],
      [fx.mdlA, 0, 251, 250],
      [fx.mdlA, 0xffffffff, 0xffffffff, 250],
      [fx.mdlB, 100, 51, 150],
    ] as const) {
      unchanged(() => rt.NdisAllocateNetBuffer(fx.pool0 as Loose, mdl as Loose, off, len), {
        fn: 'NdisAllocateNetBuffer', arg: 'DataOffset', code: 0xc4, rule: 'NB-CONS', parameters: [RULE_P1['NB-CONS'], off, len, total],
        message: new RegExp(`exceeds the ${total} bytes`),
      });
    }
  });

  it('NB-CONS: an MDL chain that loops', () => {
    const c = rt.NdisAllocateMdl(fx.gen as Loose, fx.mem as Loose, 10);
    const d = rt.NdisAllocateMdl(fx.gen as Loose, (fx.mem + 10) as Loose, 10);
    rt.NDIS_MDL_LINKAGE_SET(c as Loose, d as Loose);
    rt.NDIS_MDL_LINKAGE_SET(d as Loose, c as Loose);
    extra.push(() => {
      rt.NDIS_MDL_LINKAGE_SET(d as Loose, 0);
      rt.NdisFreeMdl(c as Loose);
      rt.NdisFreeMdl(d as Loose);
    });
    unchanged(() => rt.NdisAllocateNetBuffer(fx.pool0 as Loose, c as Loose, 0, 5), {
      fn: 'NdisAllocateNetBuffer', arg: 'MdlChain', code: 0xc4, rule: 'NB-CONS', parameters: [RULE_P1['NB-CONS'], c, 0, 0], message: /loops/,
    });
  });

  it('NB-CONS: NDIS_MDL_LINKAGE_SET and NET_BUFFER_NEXT_NB_SET making a self-loop', () => {
    unchanged(() => rt.NDIS_MDL_LINKAGE_SET(fx.mdlA as Loose, fx.mdlA as Loose), {
      fn: 'NDIS_MDL_LINKAGE_SET', arg: 'Next', code: 0xc4, rule: 'NB-CONS', parameters: [RULE_P1['NB-CONS'], fx.mdlA, 0, 0],
    });
    unchanged(() => rt.NDIS_MDL_LINKAGE_SET(fx.mdlB as Loose, fx.mdlB as Loose), {
      fn: 'NDIS_MDL_LINKAGE_SET', arg: 'Next', code: 0xc4, rule: 'NB-CONS', parameters: [RULE_P1['NB-CONS'], fx.mdlB, 0, 0],
    });
    unchanged(() => rt.NET_BUFFER_NEXT_NB_SET(fx.nb0 as Loose, fx.nb0 as Loose), {
      fn: 'NET_BUFFER_NEXT_NB_SET', arg: 'Next', code: 0xc4, rule: 'NB-CONS', parameters: [RULE_P1['NB-CONS'], fx.nb0, 0, 0],
    });
    // The links were not written (checkLive: mdlA -> mdlB -> NULL, nb0.Next NULL).
  });
});

describe('TAG: NdisFreeMemoryWithTagPriority with the wrong tag (0xC2/0x0A)', () => {
  it('reports the address, the allocation tag and the tag used', () => {
    for (const used of [POOL_TAG('Bad '), T.gen, 0, T.mem ^ 0x01000000]) {
      const b = unchanged(() => rt.NdisFreeMemoryWithTagPriority(fx.gen as Loose, fx.mem as Loose, used), {
        fn: 'NdisFreeMemoryWithTagPriority', arg: 'Tag', code: BUGCODE_BAD_POOL_CALLER, rule: 'TAG', parameters: [0x0a, fx.mem, T.mem, used],
      });
      // poolmon order: POOL_TAG('mMxF') shows as 'FxMm'.
      expect(b.message).toContain("the tag 'FxMm'");
      expect(b.message).toContain(hex(fx.mem));
    }
  });
});

// -- values outside their C types (PARAM) ---------------------------------------------------------------------

describe('PARAM: NaN, -1, 1.5, 2**32 and strings for sizes and pointers', () => {
  const BAD: unknown[] = [NaN, -1, 1.5, 2 ** 32, '12', Infinity];
  const L = (v: unknown) => v as Loose;
  const cases: [string, string, (v: unknown) => unknown][] = [
    ['NdisAllocateNetBuffer', 'PoolHandle', (v) => rt.NdisAllocateNetBuffer(L(v), 0, 0, 0)],
    ['NdisAllocateNetBuffer', 'MdlChain', (v) => rt.NdisAllocateNetBuffer(L(fx.pool0), L(v), 0, 0)],
    ['NdisAllocateNetBuffer', 'DataOffset', (v) => rt.NdisAllocateNetBuffer(L(fx.pool0), L(fx.mdlA), L(v), 0)],
    ['NdisAllocateNetBuffer', 'DataLength', (v) => rt.NdisAllocateNetBuffer(L(fx.pool0), L(fx.mdlA), 0, L(v))],
    ['NdisAllocateNetBufferMdlAndData', 'PoolHandle', (v) => rt.NdisAllocateNetBufferMdlAndData(L(v))],
    ['NdisAllocateNetBufferPool', 'NdisHandle', (v) => rt.NdisAllocateNetBufferPool(L(v), { Header: HDR1, PoolTag: 1, DataSize: 0 })],
    ['NdisAllocateNetBufferPool', 'Parameters.PoolTag', (v) => rt.NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: L(v), DataSize: 0 })],
    ['NdisAllocateNetBufferPool', 'Parameters.DataSize', (v) => rt.NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: 1, DataSize: L(v) })],
    ['NdisFreeNetBufferPool', 'PoolHandle', (v) => rt.NdisFreeNetBufferPool(L(v))],
    ['NdisFreeNetBuffer', 'NetBuffer', (v) => rt.NdisFreeNetBuffer(L(v))],
    ['NdisGetPoolFromNetBuffer', 'NetBuffer', (v) => rt.NdisGetPoolFromNetBuffer(L(v))],
    ['NET_BUFFER_DATA_LENGTH', 'NetBuffer', (v) => rt.NET_BUFFER_DATA_LENGTH(L(v))],
    ['NET_BUFFER_NEXT_NB_SET', 'Next', (v) => rt.NET_BUFFER_NEXT_NB_SET(L(fx.nb1), L(v))],
    ['NET_BUFFER_DATA_LENGTH_SET', 'Length', (v) => rt.NET_BUFFER_DATA_LENGTH_SET(L(fx.nb1), L(v))],
    ['NET_BUFFER_DATA_OFFSET_SET', 'Offset', (v) => rt.NET_BUFFER_DATA_OFFSET_SET(L(fx.nb1), L(v))],
    ['NdisAllocateMemoryWithTagPriority', 'NdisHandle', (v) => rt.NdisAllocateMemoryWithTagPriority(L(v), 8, 1, NormalPoolPriority)],
    ['NdisAllocateMemoryWithTagPriority', 'Length', (v) => rt.NdisAllocateMemoryWithTagPriority(L(fx.gen), L(v), 1, NormalPoolPriority)],
    ['NdisAllocateMemoryWithTagPriority', 'Tag', (v) => rt.NdisAllocateMemoryWithTagPriority(L(fx.gen), 8, L(v), NormalPoolPriority)],
    ['NdisFreeMemoryWithTagPriority', 'NdisHandle', (v) => rt.NdisFreeMemoryWithTagPriority(L(v), L(fx.mem), T.mem)],
    ['NdisFreeMemoryWithTagPriority', 'VirtualAddress', (v) => rt.NdisFreeMemoryWithTagPriority(L(fx.gen), L(v), T.mem)],
    ['NdisFreeMemoryWithTagPriority', 'Tag', (v) => rt.NdisFreeMemoryWithTagPriority(L(fx.gen), L(fx.mem), L(v))],
    ['NdisAllocateGenericObject', 'DriverObject', (v) => allocGeneric(L(v), 1, 0)],
    ['NdisAllocateGenericObject', 'Tag', (v) => allocGeneric(0, L(v), 0)],
    ['NdisAllocateGenericObject', 'Size', (v) => allocGeneric(0, 1, L(v))],
    ['NdisFreeGenericObject', 'NdisObject', (v) => rt.NdisFreeGenericObject(L(v))],
    ['NdisDeregisterProtocolDriver', 'NdisProtocolHandle', (v) => rt.NdisDeregisterProtocolDriver(L(v))],
    ['NdisAllocateMdl', 'NdisHandle', (v) => rt.NdisAllocateMdl(L(v), L(fx.mem), 8)],
    ['NdisAllocateMdl', 'VirtualAddress', (v) => rt.NdisAllocateMdl(L(fx.gen), L(v), 8)],
    ['NdisAllocateMdl', 'Length', (v) => rt.NdisAllocateMdl(L(fx.gen), L(fx.mem), L(v))],
    ['NdisFreeMdl', 'Mdl', (v) => rt.NdisFreeMdl(L(v))],
    ['NDIS_MDL_LINKAGE', 'Mdl', (v) => rt.NDIS_MDL_LINKAGE(L(v))],
    ['NDIS_MDL_LINKAGE_SET', 'Next', (v) => rt.NDIS_MDL_LINKAGE_SET(L(fx.mdlB), L(v))],
    ['MmGetMdlByteCount', 'Mdl', (v) => rt.MmGetMdlByteCount(L(v))],
  ];
  for (const [fn, arg, call] of cases) {
    it(`${fn} ${arg}`, () => {
      for (const v of BAD) unchanged(() => call(v), param(fn, arg, v));
    });
  }

  it('a Parameters that is not an object, and characteristics / out box of the wrong type', () => {
    for (const v of [null, 5, 'x']) {
      unchanged(() => rt.NdisAllocateNetBufferPool(0, v as Loose), param('NdisAllocateNetBufferPool', 'Parameters', v));
      unchanged(() => rt.NdisRegisterProtocolDriver(0, v as Loose, { value: 0 } as Loose), param('NdisRegisterProtocolDriver', 'ProtocolCharacteristics', v));
      unchanged(() => rt.NdisRegisterProtocolDriver(0, protocolChars('ERRTEST'), v as Loose), param('NdisRegisterProtocolDriver', 'NdisProtocolHandle', v));
    }
  });

  it('NdisAllocateMdl over a range no live allocation holds', () => {
    for (const [va, len] of [[fx.mem, 257], [fx.mem + 250, 100], [12345, 4], [fx.mdlA, 4]] as const) {
      unchanged(() => rt.NdisAllocateMdl(fx.gen as Loose, va as Loose, len), {
        fn: 'NdisAllocateMdl', arg: 'VirtualAddress', code: 0xc4, rule: 'PARAM', parameters: [RULE_P1.PARAM, va, len, 0],
      });
    }
  });
});

// -- messages computed right after memory grew ---------------------------------------------------------------

describe('messages right after an allocation grew memory', () => {
  it('name the kind of the object and the pool DataSize correctly', () => {
    // A fresh runtime whose memory grows during the first allocations; no accessor runs between.
    const r = createRuntimeSync();
    const g = r.NdisAllocateGenericObject(0, 1, 0);
    const pool = r.NdisAllocateNetBufferPool(g as Loose, { Header: HDR1, PoolTag: 1, DataSize: 0 });
    const b1 = bugCheck(() => r.NdisFreeNetBuffer(pool as Loose));
    expect([...b1.parameters]).toEqual([0x46, pool, 0, 0]);
    expect(b1.message).toMatch(/is a NET_BUFFER pool handle, not a NET_BUFFER/);
    const dpool = r.NdisAllocateNetBufferPool(g as Loose, { Header: HDR1, PoolTag: 1, DataSize: 100 });
    const b2 = bugCheck(() => r.NdisAllocateNetBuffer(dpool as Loose, 0, 0, 0));
    expect(b2.rule).toBe('POOL-4');
    expect(b2.message).toMatch(/DataSize 100\b/);
  });
});
