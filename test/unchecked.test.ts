/**
 * SlabPool with `checked: false` (DESIGN D6): frees trust the caller. With valid input it must
 * behave exactly like a checked pool (same objects, counters, slabs and memory); the options that
 * contradict it are refused; an address outside every slab still throws and changes nothing.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createRuntimeSync } from '../build/ts/runtime.js';
import type { SlabPool } from '../build/ts/pool.js';
import { bugCheck, loose } from './helpers.js';

function pools(objectSize: number): [SlabPool, SlabPool, ReturnType<typeof createRuntimeSync>] {
  const rt = createRuntimeSync();
  const u = rt.createSlabPool({ objectSize, checked: false, tag: 'Unck' })!;
  const c = rt.createSlabPool({ objectSize, tag: 'Chck' })!;
  return [u, c, rt];
}

describe('SlabPool checked: false', () => {
  it('is reported by the pool, and the default is checked', () => {
    const [u, c] = pools(64);
    expect(u.checked).toBe(false);
    expect(c.checked).toBe(true);
  });

  it('refuses what contradicts it: generational handles, the verifier, multi-worker runtimes, non-booleans', () => {
    const rt = createRuntimeSync();
    const pools0 = rt.allPools().length;
    expect(bugCheck(() => rt.createSlabPool({ objectSize: 64, checked: false, handles: 'generational' })).argument).toBe('options.checked');
    expect(bugCheck(() => rt.createSlabPool(loose({ objectSize: 64, checked: 0 }))).argument).toBe('options.checked');
    const v = createRuntimeSync({ verifier: true });
    expect(bugCheck(() => v.createSlabPool({ objectSize: 64, checked: false })).argument).toBe('options.checked');
    const m = createRuntimeSync({ shared: true });
    expect(bugCheck(() => m.createSlabPool({ objectSize: 64, checked: false })).argument).toBe('options.checked');
    m.detach();
    expect(rt.allPools().length).toBe(pools0); // nothing was made
  });

  it('an address outside every slab still throws, and nothing changes', () => {
    const [u] = pools(64);
    const p = u.alloc();
    const batch = Uint32Array.of(p, 8);
    const before = u.stats();
    expect(bugCheck(() => u.free(8)).function).toBe('SlabPool.free');
    expect(bugCheck(() => u.freeMany(batch)).argument).toBe('ptrs[1]');
    expect(u.stats()).toEqual(before);
    u.free(p);
    expect(u.stats().outstanding).toBe(0);
  });

  it('checks its arguments as a checked pool does (a dead pool, a non-array batch, a bad count)', () => {
    const [u] = pools(32);
    expect(bugCheck(() => u.freeMany(loose([1, 2]))).argument).toBe('ptrs');
    expect(bugCheck(() => u.freeMany(new Uint32Array(2), 3)).argument).toBe('count');
    u.destroy();
    expect(bugCheck(() => u.free(123)).function).toBe('SlabPool.free');
  });

  it('valid sequences give the same objects, counters and memory as a checked pool (property)', () => {
    // Two runtimes, one pool each: the same commands must give the same addresses.
    const op = fc.oneof(
      fc.record({ t: fc.constant('alloc' as const) }),
      fc.record({ t: fc.constant('free' as const), i: fc.nat() }),
      fc.record({ t: fc.constant('allocMany' as const), k: fc.integer({ min: 1, max: 300 }) }),
      fc.record({ t: fc.constant('freeMany' as const), picks: fc.array(fc.nat(), { maxLength: 300 }), batch: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.constantFrom(16, 64, 200, 2048), fc.array(op, { minLength: 1, maxLength: 60 }), (size, cmds) => {
        const ru = createRuntimeSync();
        const rc = createRuntimeSync();
        const u = ru.createSlabPool({ objectSize: size, checked: false })!;
        // (Without the cache a checked pool's frees go straight to the slabs, as unchecked ones do.)
        const c = rc.createSlabPool({ objectSize: size, cache: false })!;
        const bu = ru.u32Batch(300);
        const bc = rc.u32Batch(300);
        const live: number[] = [];
        for (const cmd of cmds) {
          if (cmd.t === 'alloc') {
            const a = u.alloc();
            expect(a).toBe(c.alloc());
            live.push(a);
          } else if (cmd.t === 'free') {
            if (live.length === 0) continue;
            const [a] = live.splice(cmd.i % live.length, 1);
            u.free(a!);
            c.free(a!);
          } else if (cmd.t === 'allocMany') {
            const ou = bu.subarray(0, cmd.k);
            const n = u.allocMany(ou);
            expect(n).toBe(cmd.k);
            const oc = bc.subarray(0, cmd.k);
            expect(c.allocMany(oc)).toBe(cmd.k);
            expect([...ou]).toEqual([...oc]);
            live.push(...ou);
          } else {
            // distinct picks of live objects, freed in one call (from a batch or a plain array)
            const chosen = [...new Set(cmd.picks.map((x) => x % Math.max(1, live.length)))].filter((x) => x < live.length);
            const ptrs = chosen.map((x) => live[x]!);
            for (const x of chosen.sort((a, b) => b - a)) live.splice(x, 1);
            if (cmd.batch) {
              bu.set(ptrs);
              bc.set(ptrs);
              u.freeMany(bu, ptrs.length);
              c.freeMany(bc, ptrs.length);
            } else {
              u.freeMany(Uint32Array.from(ptrs));
              c.freeMany(Uint32Array.from(ptrs));
            }
          }
          // The checked pool validates the same addresses: had the unchecked one handed out a
          // wrong object, the checked free of it would have thrown above.
          const su = u.stats();
          const sc = c.stats();
          expect(su.outstanding).toBe(live.length);
          expect([su.allocs, su.frees, su.bytes, su.peak, su.slabBytes]).toEqual([sc.allocs, sc.frees, sc.bytes, sc.peak, sc.slabBytes]);
        }
        const s = new Set(live);
        expect(s.size).toBe(live.length);
        u.freeMany(Uint32Array.from(live));
        c.freeMany(Uint32Array.from(live));
        expect(u.stats().outstanding).toBe(0);
        expect(ru.memoryUsage().slabBytes).toBe(rc.memoryUsage().slabBytes);
        u.destroy();
        c.destroy();
      }),
      { numRuns: 60 },
    );
  });
});
