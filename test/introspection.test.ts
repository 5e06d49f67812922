/**
 * Introspection of SlabPools and the runtime (src/pool.ts, src/core.ts): `pool.stats()` in
 * pointer and generational pools, `pool.forEachLive`, and `runtime.memoryReport()` for
 * SlabPools, generational handle tables and NDIS pools.
 */
import { describe, it, expect, beforeEach } from 'vitest';
import { createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import { NdisBugCheck } from '../build/ts/errors.js';
import type { SlabPool } from '../build/ts/pool.js';
import type { PoolReport } from '../build/ts/core.js';
import { type Loose, PAGE, bugCheck, loose, nbPool, slot } from './helpers.js';

const MiB = 1 << 20;

let rt: NdisRuntime;
beforeEach(() => {
  rt = createRuntimeSync({ maxMemory: 64 * MiB });
});

function mustPool(objectSize: number, extra: Record<string, unknown> = {}): SlabPool {
  const p = rt.createSlabPool({ objectSize, ...extra });
  expect(p).not.toBeNull();
  return p!;
}

/** The memoryReport row of pool descriptor `handle`. */
function reportRow(handle: number): PoolReport {
  const r = rt.memoryReport().pools.filter((p) => p.handle === handle);
  expect(r).toHaveLength(1);
  return r[0]!;
}

/** The address of what `alloc` returned (a handle in a generational pool). */
const addrOf = (pool: SlabPool, h: number) => (pool.handles === 'generational' ? pool.ptr(h) : h);

/** Checks the internal consistency of one memoryReport row. */
function expectConsistentRow(r: PoolReport): void {
  expect(r.capacity).toBeGreaterThanOrEqual(r.live);
  expect(r.slabs).toBe(r.fullSlabs + r.partialSlabs + r.emptySlabs);
  expect(r.unusedBytes).toBe(r.slabBytes - r.usedBytes);
  expect(r.fragmentation).toBeGreaterThanOrEqual(0);
  expect(r.fragmentation).toBeLessThanOrEqual(1);
  expect(r.fragmentation).toBeCloseTo(r.slabBytes === 0 ? 0 : r.unusedBytes / r.slabBytes, 12);
  if (r.objectSize !== 0) {
    expect(r.usedBytes).toBe(r.live * r.objectSize);
    expect(r.capacity * r.objectSize).toBeLessThanOrEqual(r.slabBytes);
  }
}

// -- stats ---------------------------------------------------------------------------------------------

describe('pool.stats()', () => {
  for (const handles of ['pointer', 'generational'] as const) {
    describe(`${handles} pool`, () => {
      it('inUse, free, peak and bytes follow allocs and frees (slot = objectSize rounded up to 8)', () => {
        for (const objectSize of [1, 8, 13, 20, 100]) {
          const pool = mustPool(objectSize, { handles });
          const S = slot(objectSize);
          let s = pool.stats();
          expect(s).toMatchObject({ inUse: 0, peak: 0, failures: 0, waiters: 0, bytes: 0, objectSize: S, outstanding: 0 });
          expect(s.free).toBe(reportRow(pool.handle).capacity); // nothing live: every slot is free

          const hs: number[] = [];
          for (let i = 0; i < 37; i++) hs.push(pool.alloc());
          s = pool.stats();
          expect(s).toMatchObject({ inUse: 37, outstanding: 37, peak: 37, bytes: 37 * S, allocs: 37, frees: 0, failures: 0, waiters: 0 });
          // free = slots of the pool's slabs - inUse; the report counts the slots independently.
          const r = reportRow(pool.handle);
          expect(s.slabs).toBe(r.slabs);
          expect(s.slabBytes).toBe(r.slabBytes);
          expect(s.free).toBe(r.capacity - 37);
          expect(s.free + s.inUse).toBeLessThanOrEqual(s.slabBytes / S);
          const total = s.free + s.inUse;

          for (const h of hs.slice(0, 20)) pool.free(h);
          s = pool.stats();
          expect(s).toMatchObject({ inUse: 17, peak: 37, bytes: 17 * S, allocs: 37, frees: 20, failures: 0 });
          expect(s.free + s.inUse).toBe(total); // same slabs, the slots moved to free
          expect(s.free).toBe(reportRow(pool.handle).capacity - 17);

          hs.push(pool.alloc(), pool.alloc());
          expect(pool.stats()).toMatchObject({ inUse: 19, peak: 37, bytes: 19 * S });
        }
      });

      it('free stays slabs * slots per slab - inUse across several slabs', () => {
        const pool = mustPool(1000, { handles });
        const hs: number[] = [];
        for (let i = 0; i < 400; i++) hs.push(pool.alloc());
        const s = pool.stats();
        expect(s.slabs).toBeGreaterThan(1);
        const r = reportRow(pool.handle);
        const perSlab = r.capacity / r.slabs;
        expect(Number.isInteger(perSlab)).toBe(true);
        expect(s.free).toBe(s.slabs * perSlab - 400);
        for (let i = 0; i < 400; i += 2) pool.free(hs[i]!);
        const s2 = pool.stats();
        expect(s2.inUse).toBe(200);
        expect(s2.free).toBe(s2.slabs * perSlab - 200);
        expect(s2.bytes).toBe(200 * 1000);
      });

      it('failures count the 0 returns at maxOutstanding (alloc, allocMany short, lease)', () => {
        const pool = mustPool(16, { handles, maxOutstanding: 4 });
        const hs = [pool.alloc(), pool.alloc(), pool.alloc(), pool.alloc()];
        expect(pool.stats()).toMatchObject({ inUse: 4, failures: 0, peak: 4 });
        expect(pool.alloc()).toBe(0);
        expect(pool.stats().failures).toBe(1);
        expect(pool.alloc()).toBe(0);
        expect(pool.stats().failures).toBe(2);
        expect(pool.lease()).toBeNull();
        expect(pool.stats().failures).toBe(3);
        pool.free(hs[0]!);
        expect(pool.allocMany(new Uint32Array(3))).toBe(1);
        expect(pool.stats()).toMatchObject({ inUse: 4, failures: 4, peak: 4, allocs: 5, frees: 1 });
        // A failed alloc changes nothing else.
        const before = pool.stats();
        pool.alloc();
        expect(pool.stats()).toEqual({ ...before, failures: before.failures + 1 });
      });

      it('waiters counts pending acquire() calls, down as they are served, aborted or time out', async () => {
        const pool = mustPool(16, { handles, maxOutstanding: 1 });
        const first = pool.alloc();
        expect(pool.stats().waiters).toBe(0);
        const ac = new AbortController();
        const served = pool.acquire();
        const aborted = pool.acquire({ signal: ac.signal });
        const timed = pool.acquire({ timeoutMs: 5 });
        const last = pool.acquire();
        expect(pool.stats().waiters).toBe(4);
        expect(pool.waiters).toBe(4);
        expect(pool.stats().inUse).toBe(1);

        ac.abort(new Error('stop'));
        await expect(aborted).rejects.toThrow('stop');
        expect(pool.stats().waiters).toBe(3);

        pool.free(first);
        const got = await served;
        expect(addrOf(pool, got)).toBeGreaterThanOrEqual(PAGE);
        expect(pool.stats()).toMatchObject({ waiters: 2, inUse: 1 });

        await expect(timed).rejects.toThrow(/no slot within 5 ms/);
        expect(pool.stats().waiters).toBe(1);

        pool.destroy({ force: true });
        await expect(last).rejects.toThrow(/destroyed/);
        expect(pool.waiters).toBe(0);
      });
    });
  }

  it('stats() of a destroyed pool throws', () => {
    const pool = mustPool(8);
    pool.destroy();
    expect(bugCheck(() => pool.stats())).toMatchObject({ rule: 'ALT-POOL', function: 'SlabPool.stats' });
  });
});

// -- forEachLive ---------------------------------------------------------------------------------------

describe('pool.forEachLive()', () => {
  it('pointer pool: visits exactly the live objects, once each, with ptr === handle', () => {
    const pool = mustPool(24);
    const ptrs: number[] = [];
    for (let i = 0; i < 6000; i++) ptrs.push(pool.alloc()); // several slabs
    expect(pool.stats().slabs).toBeGreaterThan(1);
    const live = new Set(ptrs.filter((_, i) => i % 3 !== 1));
    for (let i = 1; i < ptrs.length; i += 3) pool.free(ptrs[i]!);
    const seen: number[] = [];
    pool.forEachLive((p, h) => {
      expect(h).toBe(p);
      seen.push(p);
    });
    expect(seen.length).toBe(live.size);
    expect(new Set(seen)).toEqual(live);
  });

  it('generational pool: (ptr, handle) pairs are the live handles and their addresses', () => {
    const pool = mustPool(24, { handles: 'generational' });
    const hs: number[] = [];
    for (let i = 0; i < 50; i++) hs.push(pool.alloc());
    for (let i = 0; i < 50; i += 5) pool.free(hs[i]!);
    const expected = new Map(hs.filter((_, i) => i % 5 !== 0).map((h) => [h, pool.ptr(h)] as const));
    const seen = new Map<number, number>();
    pool.forEachLive((p, h) => {
      expect(seen.has(h)).toBe(false);
      seen.set(h, p);
    });
    expect(seen).toEqual(expected);
  });

  for (const handles of ['pointer', 'generational'] as const) {
    it(`${handles} pool: snapshot semantics — fn may free what it gets, or everything; allocations in fn are not visited`, () => {
      const pool = mustPool(32, { handles });
      const hs: number[] = [];
      for (let i = 0; i < 100; i++) hs.push(pool.alloc());
      // Free the object handed in.
      const visited: number[] = [];
      pool.forEachLive((_, h) => {
        visited.push(h);
        pool.free(h);
      });
      expect(visited.length).toBe(100);
      expect(new Set(visited)).toEqual(new Set(hs));
      expect(pool.stats().inUse).toBe(0);

      // Free everything on the first call: every object live at the start is still visited once.
      const hs2: number[] = [];
      for (let i = 0; i < 60; i++) hs2.push(pool.alloc());
      const visited2: number[] = [];
      pool.forEachLive((_, h) => {
        if (visited2.length === 0) pool.freeMany(Uint32Array.from(hs2));
        visited2.push(h);
      });
      expect(visited2.length).toBe(60);
      expect(new Set(visited2)).toEqual(new Set(hs2));
      expect(pool.stats().inUse).toBe(0);

      // Objects allocated by fn are not part of the snapshot.
      const hs3 = [pool.alloc(), pool.alloc(), pool.alloc()];
      const added: number[] = [];
      const visited3: number[] = [];
      pool.forEachLive((_, h) => {
        visited3.push(h);
        added.push(pool.alloc());
      });
      expect(new Set(visited3)).toEqual(new Set(hs3));
      expect(visited3.length).toBe(3);
      expect(pool.stats().inUse).toBe(6);
      const all: number[] = [];
      pool.forEachLive((_, h) => all.push(h));
      expect(new Set(all)).toEqual(new Set([...hs3, ...added]));
    });

    it(`${handles} pool: an empty pool calls nothing; a non-function throws PARAM`, () => {
      const pool = mustPool(16, { handles });
      let calls = 0;
      pool.forEachLive(() => calls++);
      expect(calls).toBe(0);
      const h = pool.alloc();
      pool.free(h);
      pool.forEachLive(() => calls++);
      expect(calls).toBe(0);
      pool.alloc();
      for (const bad of [null, undefined, 1, 'fn', {}] as Loose[]) {
        const b = bugCheck(() => pool.forEachLive(bad));
        expect(b).toMatchObject({ rule: 'PARAM', function: 'SlabPool.forEachLive', argument: 'fn' });
      }
      pool.forEachLive(() => calls++);
      expect(calls).toBe(1);
      pool.destroy({ force: true });
      expect(() => pool.forEachLive(() => calls++)).toThrow(NdisBugCheck);
      expect(calls).toBe(1);
    });
  }
});

// -- memoryReport --------------------------------------------------------------------------------------

describe('runtime.memoryReport()', () => {
  it('rows of two SlabPools: live, capacity, slab split, used / unused bytes, fragmentation', () => {
    const A = mustPool(100, { tag: 'RepA' }); // slot 104
    const B = mustPool(2000, { tag: 'RepB' }); // slot 2000, a few dozen per slab
    const as: number[] = [];
    const bs: number[] = [];
    for (let i = 0; i < 50; i++) as.push(A.alloc());
    for (let i = 0; i < 300; i++) bs.push(B.alloc());

    const ra = reportRow(A.handle);
    expect(ra).toMatchObject({ tag: 'RepA', type: 'SlabPool', objectSize: 104, live: 50, usedBytes: 50 * 104 });
    expectConsistentRow(ra);
    expect(ra.slabs).toBe(A.stats().slabs);
    expect(ra.slabBytes).toBe(A.stats().slabBytes);

    const rb = reportRow(B.handle);
    expect(rb).toMatchObject({ tag: 'RepB', type: 'SlabPool', objectSize: 2000, live: 300, usedBytes: 300 * 2000 });
    expectConsistentRow(rb);
    expect(rb.slabs).toBeGreaterThan(2);
    expect(rb.fullSlabs).toBeGreaterThan(0);
    expect(rb.slabs).toBe(B.stats().slabs);

    // Free every other object of B: every slab of B is then partly used, more of it unused.
    for (let i = 0; i < bs.length; i += 2) B.free(bs[i]!);
    const rb2 = reportRow(B.handle);
    expectConsistentRow(rb2);
    expect(rb2.live).toBe(150);
    expect(rb2.usedBytes).toBe(150 * 2000);
    expect(rb2.slabs).toBe(rb.slabs); // no slab became empty
    expect(rb2.fullSlabs).toBe(0);
    expect(rb2.partialSlabs).toBeGreaterThan(0);
    expect(rb2.partialSlabs).toBe(rb2.slabs);
    expect(rb2.fragmentation).toBeGreaterThan(rb.fragmentation);
    expect(rb2.unusedBytes - rb.unusedBytes).toBe(150 * 2000);
    // A is unaffected.
    expect(reportRow(A.handle)).toEqual(ra);

    // Freeing all of B releases its slabs but the current one and one spare (both empty).
    for (let i = 1; i < bs.length; i += 2) B.free(bs[i]!);
    const rb3 = reportRow(B.handle);
    expectConsistentRow(rb3);
    expect(rb3).toMatchObject({ live: 0, usedBytes: 0, fullSlabs: 0, partialSlabs: 0 });
    expect(rb3.emptySlabs).toBeGreaterThanOrEqual(1);
    expect(rb3.emptySlabs).toBeLessThanOrEqual(2);
    expect(rb3.slabs).toBe(rb3.emptySlabs);
    expect(rb3.fragmentation).toBe(rb3.slabBytes === 0 ? 0 : 1);
  });

  it('totals: usedBytes and unusedBytes are the sums over the pools; every row is consistent', () => {
    const A = mustPool(40, { tag: 'TotA' });
    const B = mustPool(24, { tag: 'TotB', handles: 'generational' });
    for (let i = 0; i < 123; i++) A.alloc();
    for (let i = 0; i < 77; i++) B.alloc();
    nbPool(rt, 64);
    const r = rt.memoryReport();
    expect(r.usedBytes).toBe(r.pools.reduce((a, p) => a + p.usedBytes, 0));
    expect(r.unusedBytes).toBe(r.pools.reduce((a, p) => a + p.unusedBytes, 0));
    for (const p of r.pools) expectConsistentRow(p);
    expect(r.usedBytes).toBeGreaterThanOrEqual(123 * 40 + 77 * 24);
    expect(r.slabBytes).toBeGreaterThanOrEqual(r.pools.reduce((a, p) => a + p.slabBytes, 0));
    expect(r.memoryBytes).toBeLessThanOrEqual(r.maxMemory);
    expect(r.maxMemory).toBe(64 * MiB);
    // Handles are unique.
    expect(new Set(r.pools.map((p) => p.handle)).size).toBe(r.pools.length);
  });

  it('a generational pool: its objects in the SlabPool row, its handle table in a HandleTable row of its tag', () => {
    const G = mustPool(20, { tag: 'RepG', handles: 'generational' });
    for (let i = 0; i < 300; i++) G.alloc();
    const rg = reportRow(G.handle);
    expect(rg).toMatchObject({ type: 'SlabPool', tag: 'RepG', live: 300, usedBytes: 300 * 24, objectSize: 24 });
    expectConsistentRow(rg);
    const tables = rt.memoryReport().pools.filter((p) => p.tag === 'RepG' && p.type === 'HandleTable');
    expect(tables.reduce((a, p) => a + p.live, 0)).toBe(1);
    // The table holds at least one 8-byte entry per live handle.
    expect(tables.reduce((a, p) => a + p.usedBytes, 0)).toBeGreaterThanOrEqual(300 * 8);
    G.destroy({ force: true });
    const after = rt.memoryReport();
    expect(after.pools.some((p) => p.handle === rg.handle && p.type === 'SlabPool')).toBe(false);
    expect(after.pools.filter((p) => p.tag === 'RepG').reduce((a, p) => a + p.live + p.usedBytes, 0)).toBe(0);
  });

  it('a destroyed SlabPool has no row', () => {
    const A = mustPool(40);
    A.alloc();
    const h = A.handle;
    expect(rt.memoryReport().pools.some((p) => p.handle === h)).toBe(true);
    A.destroy({ force: true });
    expect(rt.memoryReport().pools.some((p) => p.handle === h && p.type === 'SlabPool')).toBe(false);
  });

  it("NDIS NET_BUFFER pools appear with type 'NB', their tag, live NET_BUFFERs and slot bytes", () => {
    const pool = nbPool(rt, 100, 0x41424344); // shows as 'DCBA'
    const nbs: number[] = [];
    for (let i = 0; i < 5; i++) nbs.push(loose(rt).NdisAllocateNetBufferMdlAndData(pool));
    expect(nbs.every((n) => n !== 0)).toBe(true);
    const r = reportRow(pool);
    expect(r).toMatchObject({ type: 'NB', tag: 'DCBA', live: 5 });
    expect(r.objectSize).toBeGreaterThanOrEqual(100);
    expect(r.usedBytes).toBe(5 * r.objectSize);
    expectConsistentRow(r);
    loose(rt).NdisFreeNetBuffer(nbs[0]!);
    const r2 = reportRow(pool);
    expect(r2.live).toBe(4);
    expect(r2.usedBytes).toBe(4 * r.objectSize);
    expectConsistentRow(r2);

    const plain = nbPool(rt, 0, 0x45434241); // 'ABCE'
    loose(rt).NdisAllocateNetBuffer(plain, 0, 0, 0);
    expect(reportRow(plain)).toMatchObject({ type: 'NB', tag: 'ABCE', live: 1 });
  });
});
