/**
 * The bulk NET_BUFFER calls (runtime.allocateNetBuffersMdlAndData, runtime.freeNetBuffers): each
 * NB is what NdisAllocateNetBufferMdlAndData makes; the free is all or nothing and names the first
 * bad entry as NdisFreeNetBuffer would; exhaustion gives fewer, never a throw; the verifier
 * records and releases every NB; a multi-worker runtime goes through its worker caches.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import { NDIS_STATUS_SUCCESS } from '../build/ts/index.js';
import { bugCheck, loose, nbPool } from './helpers.js';

const FRAME = 1514;
const TAG = 0x4b4c5542; // poolmon 'BULK'

function nbRow(rt: NdisRuntime) {
  return rt.poolmon().find((r) => r.tagValue === TAG && r.type === 'NB');
}
function mdlOutstanding(rt: NdisRuntime): number {
  return rt.poolmon().find((r) => r.type === 'MDL')?.outstanding ?? 0;
}
/** Checks that `nb` is a fresh MdlAndData NB of `pool` with `size` bytes of data. */
function expectFresh(rt: NdisRuntime, nb: number, pool: number, size: number): void {
  expect(rt.NdisGetPoolFromNetBuffer(loose(nb))).toBe(pool);
  expect(rt.NET_BUFFER_DATA_LENGTH(loose(nb))).toBe(size);
  expect(rt.NET_BUFFER_DATA_OFFSET(loose(nb))).toBe(0);
  const mdl = rt.NET_BUFFER_FIRST_MDL(loose(nb));
  expect(rt.NET_BUFFER_CURRENT_MDL(loose(nb))).toBe(mdl);
  expect(rt.MmGetMdlByteCount(mdl)).toBe(size);
  expect(rt.NET_BUFFER_NEXT_NB(loose(nb))).toBe(0);
}

describe('runtime.allocateNetBuffersMdlAndData', () => {
  it('fills a u32Batch (zero-copy) or a plain array with fresh, distinct NBs', () => {
    const rt = createRuntimeSync();
    const pool = nbPool(rt, FRAME, TAG);
    const batch = rt.u32Batch(64);
    expect(rt.allocateNetBuffersMdlAndData(loose(pool), batch)).toBe(64);
    const plain = new Uint32Array(100);
    expect(rt.allocateNetBuffersMdlAndData(loose(pool), plain, 40)).toBe(40);
    expect(plain[40]).toBe(0); // beyond count: untouched
    const all = [...batch, ...plain.subarray(0, 40)];
    expect(new Set(all).size).toBe(104);
    for (const nb of all) expectFresh(rt, nb, pool, FRAME);
    expect(nbRow(rt)).toMatchObject({ allocs: 104, frees: 0, outstanding: 104 });
    rt.freeNetBuffers(batch);
    rt.freeNetBuffers(plain, 40);
    expect(nbRow(rt)).toMatchObject({ allocs: 104, frees: 104, outstanding: 0 });
  });

  it('a reused NB is initialised again (DataOffset, DataLength, MDL chain)', () => {
    const rt = createRuntimeSync();
    const pool = nbPool(rt, 256, TAG);
    const b = rt.u32Batch(8);
    rt.allocateNetBuffersMdlAndData(loose(pool), b);
    for (const nb of b) rt.NdisAdvanceNetBufferDataStart(loose(nb), 100, false, null);
    rt.freeNetBuffers(b);
    expect(rt.allocateNetBuffersMdlAndData(loose(pool), b)).toBe(8);
    for (const nb of b) expectFresh(rt, nb, pool, 256);
  });

  it('a bad pool handle, a DataSize-0 pool or a bad out/count throws and allocates nothing', () => {
    const rt = createRuntimeSync();
    const pool = nbPool(rt, FRAME, TAG);
    const zero = nbPool(rt, 0, TAG + 1);
    const b = rt.u32Batch(4);
    expect(bugCheck(() => rt.allocateNetBuffersMdlAndData(loose(pool + 8), b)).argument).toBe('PoolHandle');
    expect(bugCheck(() => rt.allocateNetBuffersMdlAndData(loose(zero), b)).rule).toBe('POOL-4');
    expect(bugCheck(() => rt.allocateNetBuffersMdlAndData(loose(pool), loose([1, 2]))).argument).toBe('out');
    expect(bugCheck(() => rt.allocateNetBuffersMdlAndData(loose(pool), b, 5)).argument).toBe('count');
    expect(nbRow(rt)?.allocs ?? 0).toBe(0);
  });

  it('returns fewer when memory runs out, and every one it returned is usable', () => {
    const rt = createRuntimeSync({ maxMemory: 2 * 1024 * 1024 });
    const pool = nbPool(rt, FRAME, TAG);
    const b = rt.u32Batch(4096);
    const got = rt.allocateNetBuffersMdlAndData(loose(pool), b);
    expect(got).toBeGreaterThan(0);
    expect(got).toBeLessThan(4096);
    for (const nb of b.subarray(0, got)) expectFresh(rt, nb, pool, FRAME);
    rt.freeNetBuffers(b, got);
    expect(nbRow(rt)?.outstanding).toBe(0);
  });
});

describe('runtime.freeNetBuffers', () => {
  it('is all or nothing: a duplicate, a freed NB, an NBL-owned NB or a foreign pointer frees none', () => {
    const rt = createRuntimeSync();
    const pool = nbPool(rt, FRAME, TAG);
    const nblPool = rt.NdisAllocateNetBufferListPool(0, loose({
      Header: { Type: 0x80, Revision: 1, Size: 30 }, ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: 0x4c424e58, DataSize: 64,
    }));
    const nbl = rt.NdisAllocateNetBufferList(nblPool, 0, 0);
    const owned = rt.NET_BUFFER_LIST_FIRST_NB(nbl);
    const b = rt.u32Batch(10);
    rt.allocateNetBuffersMdlAndData(loose(pool), b);
    const freed = rt.NdisAllocateNetBufferMdlAndData(loose(pool));
    rt.NdisFreeNetBuffer(freed);
    const cases: [number, string][] = [[b[3]!, 'ALT-NB'], [freed, 'ALT-NB'], [owned, 'NBL-FREE-1'], [8, 'ORIGIN']];
    for (const [bad, rule] of cases) {
      const list = rt.u32Batch(11);
      list.set(b);
      list[10] = bad;
      const before = nbRow(rt);
      const err = bugCheck(() => rt.freeNetBuffers(list));
      expect(err.function).toBe('freeNetBuffers');
      expect(err.argument).toBe('nbs[10]');
      expect(err.rule).toBe(rule);
      expect(nbRow(rt)).toEqual(before);
      // all ten still live: each frees (and is freed) exactly once later
      for (const nb of b) expect(rt.NET_BUFFER_DATA_LENGTH(loose(nb))).toBe(FRAME);
    }
    const dupFirst = Uint32Array.of(b[0]!, b[0]!);
    expect(bugCheck(() => rt.freeNetBuffers(dupFirst)).argument).toBe('nbs[1]');
    rt.freeNetBuffers(b);
    expect(nbRow(rt)).toMatchObject({ outstanding: 0 });
    expect(bugCheck(() => rt.freeNetBuffers(b)).argument).toBe('nbs[0]'); // all freed now
    expect(bugCheck(() => rt.freeNetBuffers(loose([1]))).argument).toBe('nbs');
    expect(bugCheck(() => rt.freeNetBuffers(b, 11)).argument).toBe('count');
    rt.NdisFreeNetBufferList(nbl);
  });

  it('frees the MDLs a retreat put in front, as NdisFreeNetBuffer does', () => {
    const rt = createRuntimeSync();
    const pool = nbPool(rt, 128, TAG);
    const b = rt.u32Batch(4);
    rt.allocateNetBuffersMdlAndData(loose(pool), b);
    const mdls = mdlOutstanding(rt);
    expect(rt.NdisRetreatNetBufferDataStart(loose(b[1]), 14, 0)).toBe(NDIS_STATUS_SUCCESS);
    expect(rt.NdisRetreatNetBufferDataStart(loose(b[2]), 20, 0)).toBe(NDIS_STATUS_SUCCESS);
    expect(mdlOutstanding(rt)).toBe(mdls + 2);
    rt.freeNetBuffers(b);
    expect(mdlOutstanding(rt)).toBe(mdls);
    expect(nbRow(rt)?.outstanding).toBe(0);
  });

  it('random bulk and single calls, valid and not, against a model (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(
          fc.record({ t: fc.constant('alloc' as const), k: fc.integer({ min: 0, max: 70 }) }),
          fc.record({ t: fc.constant('free' as const), picks: fc.array(fc.nat(), { maxLength: 70 }), bad: fc.option(fc.nat(), { nil: undefined }) }),
          fc.record({ t: fc.constant('one' as const), i: fc.nat() }),
        ), { maxLength: 40 }),
        (cmds) => {
          const rt = createRuntimeSync();
          const pool = nbPool(rt, 200, TAG);
          const batch = rt.u32Batch(80);
          const live: number[] = [];
          const dead: number[] = [];
          for (const c of cmds) {
            if (c.t === 'alloc') {
              const got = rt.allocateNetBuffersMdlAndData(loose(pool), batch, c.k);
              expect(got).toBe(c.k);
              live.push(...batch.subarray(0, got));
            } else if (c.t === 'one') {
              if (live.length === 0) continue;
              const [nb] = live.splice(c.i % live.length, 1);
              rt.NdisFreeNetBuffer(loose(nb));
              dead.push(nb!);
            } else {
              const idx = [...new Set(c.picks.map((x) => x % Math.max(1, live.length)))].filter((x) => x < live.length);
              const list = idx.map((x) => live[x]!);
              const gone = dead.filter((x) => !live.includes(x)); // a freed slot may be live again
              if (c.bad !== undefined && (list.length > 0 || gone.length > 0)) {
                // a duplicate of one of the list, or an NB freed before
                const badNb = list.length > 0 && (c.bad % 2 === 0 || gone.length === 0) ? list[c.bad % list.length]! : gone[c.bad % gone.length]!;
                const at = c.bad % (list.length + 1);
                list.splice(at, 0, badNb);
                const before = nbRow(rt);
                expect(() => rt.freeNetBuffers(Uint32Array.from(list))).toThrow();
                expect(nbRow(rt)).toEqual(before);
                continue;
              }
              rt.freeNetBuffers(Uint32Array.from(list));
              for (const x of idx.sort((a, b) => b - a)) dead.push(...live.splice(x, 1));
            }
            expect(nbRow(rt)?.outstanding ?? 0).toBe(live.length);
          }
          expect(new Set(live).size).toBe(live.length);
          rt.freeNetBuffers(Uint32Array.from(live));
          expect(nbRow(rt)?.outstanding ?? 0).toBe(0);
        },
      ),
      { numRuns: 80 },
    );
  });
});

describe('bulk NB calls in verifier mode and in a multi-worker runtime', () => {
  it('the verifier records each NB at the bulk call and releases it at the bulk free', () => {
    const rt = createRuntimeSync({ verifier: true });
    const pool = nbPool(rt, 64, TAG);
    const b = rt.u32Batch(5);
    rt.allocateNetBuffersMdlAndData(loose(pool), b);
    const nbs = rt.leaks().filter((l) => l.kind === 'NET_BUFFER');
    expect(nbs.map((l) => l.address).sort()).toEqual([...b].sort());
    for (const l of nbs) expect(l.allocated.fn).toBe('allocateNetBuffersMdlAndData');
    rt.freeNetBuffers(b);
    expect(rt.leaks().filter((l) => l.kind === 'NET_BUFFER')).toEqual([]);
  });

  it('a multi-worker runtime allocates and frees through its worker cache, with the same checks', () => {
    const rt = createRuntimeSync({ shared: true });
    const pool = nbPool(rt, FRAME, TAG);
    const b = rt.u32Batch(50);
    expect(rt.allocateNetBuffersMdlAndData(loose(pool), b)).toBe(50);
    for (const nb of b) expectFresh(rt, nb, pool, FRAME);
    expect(nbRow(rt)?.outstanding).toBe(50);
    const dup = rt.u32Batch(3);
    dup.set([b[0]!, b[1]!, b[0]!]);
    expect(bugCheck(() => rt.freeNetBuffers(dup)).argument).toBe('nbs[2]');
    expect(nbRow(rt)?.outstanding).toBe(50);
    rt.freeNetBuffers(b);
    expect(nbRow(rt)?.outstanding).toBe(0);
    rt.detach();
  });
});
