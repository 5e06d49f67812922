/**
 * The cache of a SlabPool in a single-threaded runtime (assembly/wcache.ts worker 0, the JS hit
 * path of src/pool.ts): single alloc/free pop and push in JS with the checks of the Wasm free.
 * What a user sees must not change: the same errors, exact counters (allocs, frees, inUse,
 * peak, bytes, failures), exhaustion where it was, fault injection on every allocation, and
 * memory back when it runs short or on trim().
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createRuntimeSync } from '../build/ts/runtime.js';
import { LCACHE_SIZE } from '../build/ts/ndis/layout.js';
import type { SlabPool } from '../build/ts/pool.js';
import { bugCheck, loose } from './helpers.js';

type Rt = ReturnType<typeof createRuntimeSync>;

/** Allocates `n` objects one at a time (opens the cache: it opens after LCACHE_SIZE allocations). */
function take(pool: SlabPool, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = pool.alloc();
    if (p === 0) break;
    out.push(p);
  }
  return out;
}

function counters(pool: SlabPool) {
  const s = pool.stats();
  return { allocs: s.allocs, frees: s.frees, inUse: s.inUse, peak: s.peak, bytes: s.bytes, failures: s.failures };
}

describe('SlabPool cache (single-threaded runtime)', () => {
  it('opens after the first LCACHE_SIZE allocations, for eligible pools only', () => {
    const rt = createRuntimeSync();
    const p = rt.createSlabPool({ objectSize: 64 })!;
    expect(p.localCache).toBe(0);
    const objs = take(p, LCACHE_SIZE);
    expect(p.localCache).not.toBe(0);
    for (const o of objs) p.free(o);
    expect(p.stats().cached).toBeGreaterThan(0);
    // Not for: cache: false, generational, limited, large slots, checked: false, the verifier.
    const none = [
      rt.createSlabPool({ objectSize: 64, cache: false })!,
      rt.createSlabPool({ objectSize: 64, handles: 'generational' })!,
      rt.createSlabPool({ objectSize: 64, maxOutstanding: 1000 })!,
      rt.createSlabPool({ objectSize: 2048 })!,
      rt.createSlabPool({ objectSize: 64, checked: false })!,
      createRuntimeSync({ verifier: true }).createSlabPool({ objectSize: 64 })!,
    ];
    for (const q of none) {
      take(q, 2 * LCACHE_SIZE);
      expect(q.localCache).toBe(0);
      expect(q.stats().cached).toBe(0);
    }
    expect(bugCheck(() => rt.createSlabPool(loose({ objectSize: 64, cache: 1 }))).argument).toBe('options.cache');
  });

  it('the same errors as the slab path: double free (of a cached object), foreign, interior, NaN', () => {
    const rt = createRuntimeSync();
    const p = rt.createSlabPool({ objectSize: 64 })!;
    const q = rt.createSlabPool({ objectSize: 64, cache: false })!;
    const a = take(p, 40);
    const b = take(q, 40);
    p.free(a[39]!); // into the cache
    q.free(b[39]!);
    // Each bad free of the cached pool fails as the same free of the pool without a cache does.
    for (const [bp, bq] of [
      [a[39]!, b[39]!], // already freed (in the cache): a double free
      [b[0]!, a[0]!], // another pool's object
      [a[0]! + 8, b[0]! + 8], // interior
      [12345, 12345],
    ] as const) {
      const before = counters(p);
      const e = bugCheck(() => p.free(bp));
      const f = bugCheck(() => q.free(bq));
      expect(e.function).toBe('SlabPool.free');
      expect(e.argument).toBe('ptr');
      expect([e.rule, e.code, e.message.replace(/0x[0-9A-F]+/g, 'X')]).toEqual([f.rule, f.code, f.message.replace(/0x[0-9A-F]+/g, 'X')]);
      expect(counters(p)).toEqual(before);
    }
    expect(bugCheck(() => p.free(Number.NaN)).rule).toBe('PARAM');
    // A cached object handed out again is live again.
    expect(p.alloc()).toBe(a[39]);
    p.free(a[39]!);
  });

  it('counters stay exact against a pool without a cache (property: alloc, free, allocMany, freeMany, trim)', () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('alloc' as const), n: fc.integer({ min: 1, max: 80 }) }),
      fc.record({ t: fc.constant('free' as const), picks: fc.array(fc.nat(), { maxLength: 80 }) }),
      fc.record({ t: fc.constant('allocMany' as const), k: fc.integer({ min: 1, max: 200 }) }),
      fc.record({ t: fc.constant('freeMany' as const), picks: fc.array(fc.nat(), { maxLength: 200 }) }),
      fc.record({ t: fc.constant('trim' as const) }),
    );
    fc.assert(
      fc.property(fc.constantFrom(8, 64, 200, 1024), fc.array(op, { minLength: 1, maxLength: 40 }), (size, cmds) => {
        const rt = createRuntimeSync();
        const c = rt.createSlabPool({ objectSize: size })!;
        const u = rt.createSlabPool({ objectSize: size, cache: false })!;
        const live: [number[], number[]] = [[], []];
        const pools = [c, u] as const;
        const remove = (list: number[], picks: number[]) => {
          const out: number[] = [];
          for (const i of picks) if (list.length) out.push(list.splice(i % list.length, 1)[0]!);
          return out;
        };
        for (const cmd of cmds) {
          pools.forEach((pool, j) => {
            const mine = live[j]!;
            switch (cmd.t) {
              case 'alloc':
                mine.push(...take(pool, cmd.n));
                break;
              case 'free':
                for (const o of remove(mine, cmd.picks)) pool.free(o);
                break;
              case 'allocMany': {
                const out = new Uint32Array(cmd.k);
                const got = pool.allocMany(out);
                mine.push(...out.subarray(0, got));
                break;
              }
              case 'freeMany':
                pool.freeMany(Uint32Array.from(remove(mine, cmd.picks)));
                break;
              case 'trim':
                pool.trim();
                break;
            }
          });
          expect(counters(c)).toEqual(counters(u));
          expect(new Set(live[0]).size).toBe(live[0]!.length); // no object handed out twice
        }
        for (const o of live[0]!) c.free(o);
        expect(c.stats().inUse).toBe(0);
        c.trim();
        c.destroy(); // no POOL-5: nothing live, the cache is emptied
      }),
      { numRuns: 60 },
    );
  });

  it('keeps objects of the current slab only, and a trimmed idle pool holds empty slabs', () => {
    const rt = createRuntimeSync();
    const p = rt.createSlabPool({ objectSize: 64 })!;
    const objs = take(p, 5000); // several slabs
    for (const o of objs) p.free(o);
    const s = p.stats();
    expect(s.inUse).toBe(0);
    expect(s.cached).toBeLessThanOrEqual(2 * LCACHE_SIZE);
    const report = () => rt.memoryReport().pools.find((r) => r.handle === p.handle)!;
    // Cached objects are free, so no slab counts as used.
    expect(report().emptySlabs).toBe(report().slabs);
    expect(report().slabs).toBeLessThanOrEqual(2);
    expect(p.trim()).toBe(s.cached);
    expect(p.stats().cached).toBe(0);
    expect(p.trim()).toBe(0);
  });

  it('exhaustion: cached objects go back before any allocation fails, so every round fits as many', () => {
    const rt = createRuntimeSync({ maxMemory: 2 * 1024 * 1024 });
    const small = rt.createSlabPool({ objectSize: 64 })!;
    const big = rt.createSlabPool({ objectSize: 60000, tag: 'Big' })!;
    const rounds: number[] = [];
    for (let r = 0; r < 3; r++) {
      // Fill memory with small objects, free them (some stay cached), then the big pool must
      // still get every unit the small pool's slabs can give back.
      const a = take(small, 1e6);
      for (const o of a) small.free(o);
      const b = take(big, 1e6);
      rounds.push(b.length);
      for (const o of b) big.free(o);
      expect(small.stats().failures).toBe(r + 1);
    }
    expect(rounds[0]).toBeGreaterThan(10);
    expect(rounds[1]).toBe(rounds[0]);
    expect(rounds[2]).toBe(rounds[0]);
    // A single alloc at exhaustion counts one failure.
    const f = big.stats().failures;
    take(big, 1e6);
    expect(big.stats().failures).toBe(f + 1);
  });

  it('fault injection rolls for every allocation while on; hits resume when it is off', () => {
    const rt = createRuntimeSync();
    const p = rt.createSlabPool({ objectSize: 64 })!;
    const warm = take(p, 100);
    for (const o of warm) p.free(o); // the cache is full of objects
    rt.injectFaults({ probability: 1 });
    expect(p.alloc()).toBe(0);
    expect(p.alloc()).toBe(0);
    expect(rt.faultsInjected()).toBe(2);
    expect(p.stats().failures).toBe(2);
    rt.injectFaults({ probability: 0 });
    const o = p.alloc();
    expect(o).not.toBe(0);
    p.free(o);
    // A pool whose cache would open while faults are on opens it later; its allocations all roll.
    const q = rt.createSlabPool({ objectSize: 64 })!;
    rt.injectFaults({ probability: 1, seed: 7 });
    const n0 = rt.faultsInjected();
    expect(take(q, 1).length).toBe(0);
    for (let i = 0; i < 2 * LCACHE_SIZE; i++) expect(q.alloc()).toBe(0);
    expect(rt.faultsInjected() - n0).toBe(1 + 2 * LCACHE_SIZE); // the user's allocations only
    expect(q.localCache).toBe(0);
    rt.injectFaults({ probability: 0 });
    expect(take(q, 2 * LCACHE_SIZE).length).toBe(2 * LCACHE_SIZE);
    expect(q.localCache).not.toBe(0);
  });

  it('peak counts live objects only, across hits, refills and bulk calls', () => {
    const rt = createRuntimeSync();
    const p = rt.createSlabPool({ objectSize: 64 })!;
    const a = take(p, 40); // a refill moved more objects out of the slabs than are live
    expect(p.stats().peak).toBe(40);
    for (const o of a.splice(0, 30)) p.free(o);
    expect(p.stats().peak).toBe(40);
    const out = new Uint32Array(25);
    expect(p.allocMany(out)).toBe(25);
    expect(p.stats()).toMatchObject({ inUse: 35, peak: 40 });
    const more = take(p, 10);
    expect(p.stats()).toMatchObject({ inUse: 45, peak: 45 });
    p.freeMany(out);
    for (const o of [...a, ...more]) p.free(o);
    expect(p.stats()).toMatchObject({ inUse: 0, peak: 45, allocs: 75, frees: 75, bytes: 0 });
  });

  it('destroy, reset, and a pool opened twice: every object of the pool dies, none touches freed memory', () => {
    const rt = createRuntimeSync();
    const p = rt.createSlabPool({ objectSize: 64 })!;
    const twin = rt.openSlabPool(p.handle)!;
    const objs = take(p, 50);
    for (const o of objs) twin.free(o); // both objects share the pool's cache
    expect(p.stats().inUse).toBe(0);
    p.destroy(); // cached objects are not outstanding: no POOL-5
    expect(bugCheck(() => twin.alloc()).message).toMatch(/destroyed/);
    expect(bugCheck(() => p.alloc()).message).toMatch(/destroyed/);
    // A new pool may take the same descriptor: the dead objects must not reach it.
    const n = rt.createSlabPool({ objectSize: 64 })!;
    expect(bugCheck(() => twin.free(take(n, 1)[0]!)).message).toMatch(/destroyed/);
    expect(n.stats().inUse).toBe(1);
    const r = rt.createSlabPool({ objectSize: 64 })!;
    take(r, 50);
    rt.reset();
    expect(bugCheck(() => r.alloc()).message).toMatch(/reset/);
    expect(bugCheck(() => r.free(1)).message).toMatch(/reset/);
  });

  it('works across memory growth with views that detach (unshared memory)', () => {
    const rt: Rt = createRuntimeSync({ sharedMemory: false });
    const p = rt.createSlabPool({ objectSize: 64 })!;
    const q = rt.createSlabPool({ objectSize: 64 })!;
    const held = take(p, 100);
    for (let i = 0; i < 20; i++) {
      take(q, 20000); // grows memory: the views p's hit path holds are replaced
      for (const o of held.splice(0, 5)) p.free(o);
      held.push(...take(p, 5));
    }
    expect(p.stats().inUse).toBe(100);
    expect(new Set(held).size).toBe(100);
  });
});
