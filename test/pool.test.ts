/**
 * SlabPool, the idiomatic API (src/pool.ts): alloc/free, bulk calls, views, statistics,
 * destroy, reset, limits and argument validation. Every misuse must throw NdisBugCheck and
 * leave the pool exactly as it was (DESIGN D6); exhaustion returns 0 and never throws.
 */
import { describe, it, expect, beforeEach } from 'vitest';
import { createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import { RULE_P1, BUGCODE_BAD_POOL_CALLER, BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION } from '../build/ts/errors.js';
import type { SlabPool } from '../build/ts/pool.js';
import { loose, PAGE, bugCheck, nbPool, slot } from './helpers.js';

function mustPool(rt: NdisRuntime, objectSize: number, extra: Record<string, unknown> = {}): SlabPool {
  const p = rt.createSlabPool({ objectSize, ...extra });
  expect(p).not.toBeNull();
  return p!;
}

/** Asserts [p, p + size) ranges are pairwise disjoint. */
function expectDisjoint(ptrs: number[], size: number): void {
  const s = [...ptrs].sort((a, b) => a - b);
  for (let i = 1; i < s.length; i++) expect(s[i]! - s[i - 1]!).toBeGreaterThanOrEqual(size);
}

let rt: NdisRuntime;
beforeEach(() => {
  rt = createRuntimeSync();
});

describe('SlabPool.alloc / free', () => {
  it('hands out distinct, aligned, non-null addresses and counts them', () => {
    const pool = mustPool(rt, 48, { tag: 'Part' });
    const ptrs: number[] = [];
    for (let i = 0; i < 100; i++) ptrs.push(pool.alloc());
    for (const p of ptrs) {
      expect(p).toBeGreaterThanOrEqual(PAGE);
      expect(p % 8).toBe(0);
      expect(p >>> 0).toBe(p);
    }
    expect(new Set(ptrs).size).toBe(100);
    expectDisjoint(ptrs, 48);
    const s = pool.stats();
    expect(s).toMatchObject({ tag: 'Part', objectSize: 48, allocs: 100, frees: 0, outstanding: 100, peak: 100, failures: 0, bytes: 100 * 48 });
    expect(s.maxOutstanding).toBe(Infinity);
    expect(s.slabs).toBeGreaterThanOrEqual(1);
    expect(s.slabBytes).toBeGreaterThanOrEqual(100 * 48);

    for (const p of ptrs.slice(0, 40)) pool.free(p);
    expect(pool.stats()).toMatchObject({ allocs: 100, frees: 40, outstanding: 60, peak: 100, bytes: 60 * 48 });
    for (const p of ptrs.slice(40)) pool.free(p);
    expect(pool.stats()).toMatchObject({ allocs: 100, frees: 100, outstanding: 0, peak: 100, bytes: 0, failures: 0 });
  });

  it('reuses freed slots', () => {
    const pool = mustPool(rt, 64);
    const a = pool.alloc();
    pool.free(a);
    const b = pool.alloc();
    expect(b).not.toBe(0);
    pool.free(b);
    // After a free, the freed object is a live object again only once re-allocated.
    const again = new Set<number>();
    for (let i = 0; i < 5; i++) again.add(pool.alloc());
    expect(again.size).toBe(5);
    expect(pool.stats().outstanding).toBe(5);
  });

  it('accepts a numeric tag and shows it in memory order', () => {
    const pool = mustPool(rt, 8, { tag: 0x6c6f6f50 });
    expect(pool.tag).toBe(0x6c6f6f50);
    expect(pool.stats().tag).toBe('Pool');
    expect(pool.stats().tagValue).toBe(0x6c6f6f50);
    expect(mustPool(rt, 8).stats().tag).toBe('Slab');
  });
});

describe('maxOutstanding and exhaustion: alloc returns 0, never throws', () => {
  it('returns 0 at the limit, counts failures, and works again after a free', () => {
    const pool = mustPool(rt, 32, { maxOutstanding: 3 });
    expect(pool.stats().maxOutstanding).toBe(3);
    const a = [pool.alloc(), pool.alloc(), pool.alloc()];
    expect(a.every((p) => p !== 0)).toBe(true);
    for (let i = 1; i <= 4; i++) {
      expect(pool.alloc()).toBe(0);
      expect(pool.stats().failures).toBe(i);
    }
    expect(pool.stats()).toMatchObject({ outstanding: 3, allocs: 3, peak: 3 });
    pool.free(a[1]!);
    const b = pool.alloc();
    expect(b).not.toBe(0);
    expect(pool.alloc()).toBe(0);
    expect(pool.stats()).toMatchObject({ outstanding: 3, allocs: 4, frees: 1, failures: 5 });
  });

  it('maxOutstanding 0 never allocates', () => {
    const pool = mustPool(rt, 32, { maxOutstanding: 0 });
    expect(pool.alloc()).toBe(0);
    expect(pool.allocMany(new Uint32Array(4))).toBe(0);
    expect(pool.stats()).toMatchObject({ outstanding: 0, allocs: 0 });
    expect(pool.stats().failures).toBeGreaterThanOrEqual(2);
  });

  it('allocMany stops at the limit and reports how many it got', () => {
    const pool = mustPool(rt, 16, { maxOutstanding: 5 });
    const out = new Uint32Array(8);
    expect(pool.allocMany(out)).toBe(5);
    expect(new Set(out.subarray(0, 5)).size).toBe(5);
    expect(pool.stats()).toMatchObject({ outstanding: 5, failures: 1 });
    const batch = rt.u32Batch(4);
    expect(pool.allocMany(batch)).toBe(0);
    pool.freeMany(out, 2);
    expect(pool.allocMany(batch)).toBe(2);
    expect(pool.stats().outstanding).toBe(5);
  });

  it('an exhausted memory budget gives 0 (not an exception) and recovers after a free', () => {
    const small = createRuntimeSync({ maxMemory: 64 * PAGE });
    const pool = mustPool(small, 4096);
    const ptrs: number[] = [];
    let p: number;
    while ((p = pool.alloc()) !== 0) {
      small.bytes(p, 4)[0] = ptrs.length & 0xff;
      ptrs.push(p);
      expect(ptrs.length).toBeLessThan(64 * 16); // cannot exceed the budget
    }
    expect(ptrs.length).toBeGreaterThan(100);
    expect(pool.alloc()).toBe(0);
    expect(pool.stats()).toMatchObject({ outstanding: ptrs.length, failures: 2 });
    expect(small.memoryUsage().memoryBytes).toBeLessThanOrEqual(64 * PAGE);
    pool.free(ptrs[7]!);
    const q = pool.alloc();
    expect(q).not.toBe(0);
    ptrs[7] = q;
    small.bytes(q, 4)[0] = 7;
    ptrs.forEach((x, i) => expect(small.bytes(x, 1)[0]).toBe(i & 0xff));
  });

  it('a pool whose object can never fit the budget returns 0', () => {
    const pool = mustPool(rt, 0xfff00000);
    expect(pool.alloc()).toBe(0);
    expect(pool.stats()).toMatchObject({ failures: 1, outstanding: 0 });
  });

  // D6: running out returns 0 "and never throws". The bulk calls with a plain Uint32Array need a
  // scratch array in linear memory; when the budget is already spent they cannot get one.
  it('allocMany / freeMany with plain arrays do not throw when the memory budget is spent', () => {
    const small = createRuntimeSync({ maxMemory: 64 * PAGE });
    const pool = mustPool(small, 64);
    const ptrs: number[] = [];
    let p: number;
    while ((p = pool.alloc()) !== 0) ptrs.push(p);
    while (small.wasm.heapReserve(1024) >>> 0); // no page left for a scratch array either
    const before = pool.stats();
    let got = -1;
    expect(() => {
      got = pool.allocMany(new Uint32Array(10));
    }).not.toThrow();
    expect(got).toBe(0);
    expect(() => pool.freeMany(Uint32Array.from(ptrs.slice(0, 5)))).not.toThrow();
    expect(pool.stats().outstanding).toBe(before.outstanding - 5);
    // the freed slots are allocatable again, in bulk
    const again = new Uint32Array(10);
    expect(pool.allocMany(again)).toBe(5);
    expect(new Set(again.subarray(0, 5))).toEqual(new Set(ptrs.slice(0, 5)));
    expect(pool.stats()).toMatchObject({ outstanding: before.outstanding, failures: before.failures + 2 });
  });
});

describe('allocMany / freeMany', () => {
  it('allocMany into a plain Uint32Array and freeMany of all of it', () => {
    const pool = mustPool(rt, 24);
    const out = new Uint32Array(300);
    expect(pool.allocMany(out)).toBe(300);
    const ptrs = Array.from(out);
    expect(ptrs.every((p) => p >= PAGE && p % 8 === 0)).toBe(true);
    expect(new Set(ptrs).size).toBe(300);
    expectDisjoint(ptrs, 24);
    expect(pool.stats()).toMatchObject({ allocs: 300, outstanding: 300 });
    // each is a live object of this pool
    for (const x of ptrs.slice(0, 10)) expect(pool.bytes(x).length).toBe(24);
    pool.freeMany(out);
    expect(pool.stats()).toMatchObject({ frees: 300, outstanding: 0 });
    for (const x of ptrs.slice(0, 10)) bugCheck(() => pool.free(x));
  });

  it('allocMany into runtime.u32Batch(n) is zero-copy: the addresses are written into linear memory', () => {
    const pool = mustPool(rt, 100);
    const batch = rt.u32Batch(64);
    expect(batch).toBeInstanceOf(Uint32Array);
    expect(batch.length).toBe(64);
    expect(pool.allocMany(batch)).toBe(64);
    const viaMemory = new Uint32Array(rt.memory.buffer, batch.byteOffset, 64);
    expect(Array.from(viaMemory)).toEqual(Array.from(batch));
    expect(new Set(batch).size).toBe(64);
    expectDisjoint(Array.from(batch), 100);
    // freeMany from the batch (zero-copy path) with a count: only the first 10 go
    const kept = Array.from(batch.subarray(10));
    pool.freeMany(batch, 10);
    expect(pool.stats()).toMatchObject({ outstanding: 54, frees: 10 });
    for (const x of kept) pool.free(x);
    expect(pool.stats().outstanding).toBe(0);
  });

  it('freeMany with a count frees only the first count entries (plain array)', () => {
    const pool = mustPool(rt, 16);
    const out = new Uint32Array(20);
    pool.allocMany(out);
    out[15] = 12345; // beyond count: never looked at
    pool.freeMany(out, 10);
    expect(pool.stats().outstanding).toBe(10);
    for (let i = 0; i < 10; i++) bugCheck(() => pool.free(out[i]!));
    for (let i = 10; i < 20; i++) if (i !== 15) pool.free(out[i]!);
    expect(pool.stats().outstanding).toBe(1);
    pool.freeMany(out, 0);
    pool.freeMany(new Uint32Array(0));
    expect(pool.stats().outstanding).toBe(1);
  });

  it('rejects bad arguments with PARAM', () => {
    const pool = mustPool(rt, 16);
    const out = new Uint32Array(4);
    pool.allocMany(out);
    const before = pool.stats();
    for (const bad of [[1, 2, 3], new Int32Array(4), 'abc', 7]) {
      expect(bugCheck(() => pool.allocMany(bad as unknown as Uint32Array)).rule).toBe('PARAM');
      expect(bugCheck(() => pool.freeMany(bad as unknown as Uint32Array)).rule).toBe('PARAM');
    }
    for (const count of [5, -1, 1.5, NaN]) {
      const e = bugCheck(() => pool.freeMany(out, count));
      expect(e.rule).toBe('PARAM');
      expect(e.argument).toBe('count');
    }
    expect(pool.stats()).toEqual(before);
    expect(bugCheck(() => rt.u32Batch(0)).rule).toBe('PARAM');
    expect(bugCheck(() => rt.u32Batch(1.5)).rule).toBe('PARAM');
    expect(bugCheck(() => rt.u32Batch(-3)).rule).toBe('PARAM');
  });

  it('null / undefined lists are PARAM bug checks (not TypeErrors)', () => {
    const pool = mustPool(rt, 16);
    for (const bad of [null, undefined]) {
      expect(bugCheck(() => pool.allocMany(bad as unknown as Uint32Array)).rule).toBe('PARAM');
      const e = bugCheck(() => pool.freeMany(bad as unknown as Uint32Array));
      expect(e.rule).toBe('PARAM');
      expect(e.argument).toBe('ptrs');
    }
  });

  describe('is all or nothing', () => {
    type Ctx = { pool: SlabPool; live: number[]; freed: number; otherObj: number };
    type Case = { name: string; bad: (ctx: Ctx) => number; rule?: string };
    const cases: Case[] = [
      { name: 'an already freed object', bad: (c) => c.freed, rule: 'ALT-POOL' },
      { name: 'NULL', bad: () => 0 },
      { name: 'a forged number', bad: () => 12345 },
      { name: 'a huge forged number', bad: () => 0xfffffff8 },
      { name: 'an interior pointer', bad: (c) => c.live[0]! + 8 },
      { name: 'an object of another SlabPool', bad: (c) => c.otherObj },
      { name: 'the pool handle', bad: (c) => c.pool.handle },
      { name: 'a duplicate', bad: (c) => c.live[2]! },
    ];
    type Kind = 'plain array' | 'u32Batch' | 'plain array, budget spent (no scratch memory)';
    const kinds: Kind[] = ['plain array', 'u32Batch', 'plain array, budget spent (no scratch memory)'];

    /** A pool with 6 live objects and one freed one, another pool with one object. */
    function env(kind: Kind) {
      const r = kind === 'plain array' || kind === 'u32Batch' ? rt : createRuntimeSync({ maxMemory: 64 * PAGE });
      const pool = mustPool(r, 32);
      const other = mustPool(r, 32);
      const live: number[] = [];
      for (let i = 0; i < 6; i++) live.push(pool.alloc());
      const freed = pool.alloc();
      pool.free(freed);
      const otherObj = other.alloc();
      const batch = kind === 'u32Batch' ? r.u32Batch(5) : undefined;
      if (r !== rt) {
        const filler = mustPool(r, 60000, { tag: 'Fill' });
        while (filler.alloc() !== 0);
        // and whatever pages are left outside the slabs, so no scratch array can be had
        while (r.wasm.heapReserve(1024) >>> 0);
        expect(r.wasm.heapReserve(256) >>> 0, 'the budget is spent').toBe(0);
      }
      return { pool, other, live, freed, otherObj, batch };
    }

    for (const kind of kinds) {
      for (const c of cases) {
        it(`${c.name} at index 3 (${kind}) throws naming ptrs[3] and frees nothing`, () => {
          const { pool, other, live, freed, otherObj, batch } = env(kind);
          const bad = c.bad({ pool, live, freed, otherObj });
          const list = [live[1]!, live[2]!, live[3]!, bad, live[4]!];
          const arr = batch ?? new Uint32Array(list.length);
          arr.set(list);
          const before = pool.stats();
          const otherBefore = other.stats();
          const e = bugCheck(() => pool.freeMany(arr));
          expect(e.argument).toBe('ptrs[3]');
          expect(e.message).toContain('ptrs[3]');
          expect(e.function).toBe('SlabPool.freeMany');
          expect(e.code).toBe(BUGCODE_BAD_POOL_CALLER);
          if (c.rule) expect(e.rule).toBe(c.rule);
          expect(pool.stats()).toEqual(before);
          expect(other.stats()).toEqual(otherBefore);
          // every listed object is still live: freeable exactly once
          for (const p of live) pool.free(p);
          for (const p of live) bugCheck(() => pool.free(p));
          expect(pool.stats().outstanding).toBe(0);
          other.free(otherObj);
        });
      }
      it(`a valid list (${kind}) frees all, and with a count only the first entries`, () => {
        const { pool, live, batch } = env(kind);
        const arr = batch ?? new Uint32Array(5);
        arr.set(live.slice(0, 5));
        pool.freeMany(arr, 2);
        expect(pool.stats().outstanding).toBe(4);
        arr.set([live[2]!, live[3]!, live[4]!, live[5]!, 0xdeadbeef]);
        pool.freeMany(arr, 4);
        expect(pool.stats()).toMatchObject({ outstanding: 0, frees: 7 });
        for (const p of live) bugCheck(() => pool.free(p));
      });
    }

    it('a bad entry at index 0 and at the last index', () => {
      const pool = mustPool(rt, 16);
      const live = [pool.alloc(), pool.alloc(), pool.alloc()];
      const before = pool.stats();
      expect(bugCheck(() => pool.freeMany(Uint32Array.from([7, ...live]))).argument).toBe('ptrs[0]');
      expect(bugCheck(() => pool.freeMany(Uint32Array.from([...live, live[0]!]))).argument).toBe('ptrs[3]');
      expect(pool.stats()).toEqual(before);
      pool.freeMany(Uint32Array.from(live));
      expect(pool.stats().outstanding).toBe(0);
    });
  });
});

describe('SlabPool.free misuse throws NdisBugCheck and changes nothing', () => {
  function setup(objectSize = 32) {
    const pool = mustPool(rt, objectSize);
    const live = [pool.alloc(), pool.alloc(), pool.alloc()];
    live.forEach((p, i) => pool.bytes(p).fill(0x10 + i));
    return { pool, live };
  }
  function expectUnchanged(pool: SlabPool, live: number[], before: ReturnType<SlabPool['stats']>) {
    expect(pool.stats()).toEqual(before);
    live.forEach((p, i) => expect(pool.bytes(p).every((b) => b === 0x10 + i)).toBe(true));
    for (const p of live) pool.free(p);
    expect(pool.stats().outstanding).toBe(0);
  }

  it('double free (rule ALT-POOL, BAD_POOL_CALLER 0x07)', () => {
    const { pool, live } = setup();
    const x = pool.alloc();
    pool.free(x);
    const before = pool.stats();
    const e = bugCheck(() => pool.free(x));
    expect(e.rule).toBe('ALT-POOL');
    expect(e.code).toBe(BUGCODE_BAD_POOL_CALLER);
    expect(e.parameters[0]).toBe(0x07);
    expect(e.parameters[3]).toBe(x);
    expect(e.function).toBe('SlabPool.free');
    expect(e.argument).toBe('ptr');
    expectUnchanged(pool, live, before);
  });

  it('foreign pointers (never allocated by this runtime)', () => {
    const { pool, live } = setup();
    const before = pool.stats();
    for (const bad of [0, 8, 12345, PAGE - 8, 0xfffffff8, 0xffffffff]) {
      const e = bugCheck(() => pool.free(bad));
      expect(e.code).toBe(BUGCODE_BAD_POOL_CALLER);
      expect(e.argument).toBe('ptr');
    }
    expectUnchanged(pool, live, before);
  });

  it('a pointer of another SlabPool (both pools unchanged)', () => {
    const { pool, live } = setup();
    const other = mustPool(rt, 32);
    const o = other.alloc();
    const before = pool.stats();
    const otherBefore = other.stats();
    const e = bugCheck(() => pool.free(o));
    expect(e.message).toMatch(/another pool/);
    expect(other.stats()).toEqual(otherBefore);
    other.free(o);
    expectUnchanged(pool, live, before);
  });

  it('a pointer of a SlabPool with another object size', () => {
    const { pool, live } = setup();
    const other = mustPool(rt, 256);
    const o = other.alloc();
    const before = pool.stats();
    bugCheck(() => pool.free(o));
    other.free(o);
    expectUnchanged(pool, live, before);
  });

  it('interior pointers', () => {
    const { pool, live } = setup(32);
    const before = pool.stats();
    for (const off of [1, 4, 8, 16, 31]) {
      const e = bugCheck(() => pool.free(live[1]! + off));
      expect(e.message).toMatch(/inside an object/);
    }
    bugCheck(() => pool.free(live[0]! - 8)); // slab header / metadata before the first object
    expectUnchanged(pool, live, before);
  });

  it('NaN, -1, 1.5, 2**32 and non-numbers are PARAM violations', () => {
    const { pool, live } = setup();
    const before = pool.stats();
    for (const bad of [NaN, -1, 1.5, 2 ** 32, Infinity, '65536', null, undefined, live[0]! + 0.5]) {
      const e = bugCheck(() => pool.free(bad as number));
      expect(e.rule).toBe('PARAM');
      expect(e.code).toBe(BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION);
      expect(e.argument).toBe('ptr');
    }
    expectUnchanged(pool, live, before);
  });

  it('handles and NDIS objects are not SlabPool objects', () => {
    const { pool, live } = setup();
    const nbp = nbPool(rt, 64, 0x6c6f6f50);
    const nb = loose(rt).NdisAllocateNetBufferMdlAndData(nbp);
    expect(nb).not.toBe(0);
    const before = pool.stats();
    expect(bugCheck(() => pool.free(nb)).message).toMatch(/NET_BUFFER/);
    expect(bugCheck(() => pool.free(nbp)).message).toMatch(/NET_BUFFER pool handle/);
    expect(bugCheck(() => pool.free(pool.handle)).message).toMatch(/SlabPool handle/);
    expect(bugCheck(() => pool.bytes(nb)).message).toMatch(/NET_BUFFER/);
    loose(rt).NdisFreeNetBuffer(nb);
    expectUnchanged(pool, live, before);
  });
});

describe('SlabPool.bytes', () => {
  it('views of distinct objects do not overlap and keep their data', () => {
    const pool = mustPool(rt, 72);
    const ptrs: number[] = [];
    for (let i = 0; i < 200; i++) {
      const p = pool.alloc();
      const v = pool.bytes(p);
      expect(v.length).toBe(72);
      expect(v.byteOffset).toBe(p);
      for (let j = 0; j < v.length; j++) v[j] = (i * 7 + j) & 0xff;
      ptrs.push(p);
    }
    const ranges = ptrs.map((p) => [pool.bytes(p).byteOffset, pool.bytes(p).byteOffset + 72] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThanOrEqual(ranges[i - 1]![1]);
    // churn: free the odd ones, allocate and overwrite new ones
    for (let i = 1; i < 200; i += 2) pool.free(ptrs[i]!);
    for (let i = 0; i < 100; i++) pool.bytes(pool.alloc()).fill(0xee);
    for (let i = 0; i < 200; i += 2) {
      const v = pool.bytes(ptrs[i]!);
      for (let j = 0; j < v.length; j++) expect(v[j]).toBe((i * 7 + j) & 0xff);
    }
  });

  it('rejects freed, foreign and interior pointers and objects of other pools', () => {
    const pool = mustPool(rt, 32);
    const other = mustPool(rt, 32);
    const a = pool.alloc();
    const b = pool.alloc();
    pool.free(b);
    bugCheck(() => pool.bytes(b));
    bugCheck(() => pool.bytes(a + 4));
    bugCheck(() => pool.bytes(12345));
    bugCheck(() => pool.bytes(other.alloc()));
    expect(bugCheck(() => pool.bytes(NaN)).rule).toBe('PARAM');
    expect(pool.bytes(a).length).toBe(32);
  });
});

describe('object sizes', () => {
  for (const size of [1, 8, 9, 4096]) {
    it(`objectSize ${size}`, () => {
      const pool = mustPool(rt, size);
      expect(pool.objectSize).toBe(size);
      expect(pool.stats().objectSize).toBe(slot(size));
      const ptrs: number[] = [];
      for (let i = 0; i < 50; i++) ptrs.push(pool.alloc());
      expect(ptrs.every((p) => p !== 0 && p % 8 === 0)).toBe(true);
      expectDisjoint(ptrs, slot(size));
      ptrs.forEach((p, i) => {
        const v = pool.bytes(p);
        expect(v.length).toBe(size);
        v.fill(i + 1);
      });
      ptrs.forEach((p, i) => expect(pool.bytes(p).every((b) => b === i + 1)).toBe(true));
      expect(pool.stats().bytes).toBe(50 * slot(size));
      if (size >= 16) bugCheck(() => pool.free(ptrs[0]! + 8));
      pool.freeMany(Uint32Array.from(ptrs));
      expect(pool.stats().outstanding).toBe(0);
    });
  }

  it('objectSize 300000 (above the 256 KiB shared-slab limit): one slab per object', () => {
    const size = 300000;
    const pool = mustPool(rt, size);
    const ptrs = [pool.alloc(), pool.alloc(), pool.alloc()];
    expect(ptrs.every((p) => p !== 0 && p % 8 === 0)).toBe(true);
    expectDisjoint(ptrs, size);
    ptrs.forEach((p, i) => {
      const v = pool.bytes(p);
      expect(v.length).toBe(size);
      v[0] = i + 1;
      v[size - 1] = i + 101;
    });
    ptrs.forEach((p, i) => {
      const v = pool.bytes(p);
      expect([v[0], v[size - 1]]).toEqual([i + 1, i + 101]);
    });
    const s = pool.stats();
    expect(s).toMatchObject({ outstanding: 3, objectSize: size, bytes: 3 * size, slabs: 3 });
    // interior pointers, even one 64 KiB unit into the object
    bugCheck(() => pool.free(ptrs[1]! + 8));
    bugCheck(() => pool.free(ptrs[1]! + PAGE));
    pool.free(ptrs[1]!);
    bugCheck(() => pool.free(ptrs[1]!));
    expect(pool.stats()).toMatchObject({ outstanding: 2, slabs: 2 });
    pool.free(ptrs[0]!);
    pool.free(ptrs[2]!);
    expect(pool.stats()).toMatchObject({ outstanding: 0, frees: 3 });
  });

  it('objectSize 300000 in bulk: allocMany / freeMany, all or nothing', () => {
    const size = 300000;
    const pool = mustPool(rt, size);
    const out = new Uint32Array(6);
    expect(pool.allocMany(out)).toBe(6);
    const ptrs = Array.from(out);
    expectDisjoint(ptrs, size);
    ptrs.forEach((p, i) => pool.bytes(p).fill(i + 1, size - 16));
    const before = pool.stats();
    for (const bad of [ptrs[2]! + PAGE, ptrs[2]! + 8, ptrs[0]!]) {
      const e = bugCheck(() => pool.freeMany(Uint32Array.from([ptrs[0]!, ptrs[1]!, bad])));
      expect(e.argument).toBe('ptrs[2]');
      expect(pool.stats()).toEqual(before);
    }
    pool.freeMany(out, 3);
    expect(pool.stats()).toMatchObject({ outstanding: 3, slabs: 3 });
    ptrs.slice(3).forEach((p, i) => expect(pool.bytes(p).subarray(size - 16).every((v) => v === i + 4)).toBe(true));
    pool.freeMany(out.subarray(3));
    expect(pool.stats()).toMatchObject({ outstanding: 0, slabs: 0 });
  });

  // PoolStats.slabBytes is documented as "Bytes of linear memory the pool's slabs cover".
  it('stats().slabBytes covers the slabs of a large-object pool', () => {
    const pool = mustPool(rt, 300000);
    pool.alloc();
    pool.alloc();
    const s = pool.stats();
    expect(s.slabs).toBe(2);
    expect(s.slabBytes).toBeGreaterThanOrEqual(s.bytes);
    expect(s.slabBytes % PAGE).toBe(0);
  });
});

describe('createSlabPool option validation (rule PARAM)', () => {
  const bad: [string, Record<string, unknown>][] = [
    ['objectSize 0', { objectSize: 0 }],
    ['objectSize -1', { objectSize: -1 }],
    ['objectSize NaN', { objectSize: NaN }],
    ['objectSize 2**32', { objectSize: 2 ** 32 }],
    ['objectSize 1.5', { objectSize: 1.5 }],
    ['objectSize 0xFFF00001', { objectSize: 0xfff00001 }],
    ['objectSize missing', {}],
    ['objectSize as string', { objectSize: '64' }],
    ['tag of 5 characters', { objectSize: 16, tag: 'ABCDE' }],
    ['empty tag', { objectSize: 16, tag: '' }],
    ['non-printable tag', { objectSize: 16, tag: 'a\u0001' }],
    ['tag -1', { objectSize: 16, tag: -1 }],
    ['tag 2**32', { objectSize: 16, tag: 2 ** 32 }],
    ['maxOutstanding -1', { objectSize: 16, maxOutstanding: -1 }],
    ['maxOutstanding 1.5', { objectSize: 16, maxOutstanding: 1.5 }],
    ['maxOutstanding NaN', { objectSize: 16, maxOutstanding: NaN }],
    ['maxOutstanding 2**32', { objectSize: 16, maxOutstanding: 2 ** 32 }],
  ];
  for (const [name, opts] of bad) {
    it(name, () => {
      const e = bugCheck(() => rt.createSlabPool(opts as never));
      expect(e.rule).toBe('PARAM');
      expect(e.code).toBe(BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION);
      expect(e.parameters[0]).toBe(RULE_P1.PARAM);
      expect(e.function).toBe('createSlabPool');
      expect(e.argument).toMatch(/^options\./);
    });
  }
  it('options that are not an object', () => {
    for (const o of [null, undefined, 64, 'x']) expect(bugCheck(() => rt.createSlabPool(o as never)).rule).toBe('PARAM');
  });
  it('a failed createSlabPool creates nothing', () => {
    const before = rt.poolmon();
    bugCheck(() => rt.createSlabPool({ objectSize: 0 }));
    expect(rt.poolmon()).toEqual(before);
    expect(rt.memoryUsage().slabBytes).toBe(0);
  });
});

describe('destroy', () => {
  it('with objects outstanding throws POOL-5 and leaves the pool usable', () => {
    const pool = mustPool(rt, 64);
    const a = pool.alloc();
    const b = pool.alloc();
    pool.bytes(a).fill(0xab);
    const before = pool.stats();
    const e = bugCheck(() => pool.destroy());
    expect(e.rule).toBe('POOL-5');
    expect(e.code).toBe(BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION);
    expect(e.parameters).toEqual([RULE_P1['POOL-5'], pool.handle, 2, 0]);
    expect(e.function).toBe('SlabPool.destroy');
    bugCheck(() => pool.destroy({ force: false }));
    expect(pool.handle).not.toBe(0);
    expect(pool.stats()).toEqual(before);
    expect(pool.bytes(a).every((x) => x === 0xab)).toBe(true);
    pool.free(a);
    pool.free(b);
    pool.destroy();
    expect(pool.handle).toBe(0);
  });

  it('{ force: true } drops outstanding objects and returns the slabs', () => {
    // A first pool of the same tag, destroyed: the per-tag record that keeps the statistics of
    // destroyed pools exists from then on, so the second destroy allocates nothing.
    mustPool(rt, 64, { tag: 'Frc' }).destroy();
    const pool = mustPool(rt, 64, { tag: 'Frc' });
    const out = new Uint32Array(3000);
    expect(pool.allocMany(out)).toBe(3000);
    const slabBytes = pool.stats().slabBytes;
    expect(slabBytes).toBeGreaterThan(0);
    const freeBefore = rt.memoryUsage().freeSlabBytes;
    pool.destroy({ force: true });
    expect(pool.handle).toBe(0);
    expect(rt.memoryUsage().freeSlabBytes - freeBefore).toBe(slabBytes);
    // the dropped addresses are no longer objects of any SlabPool
    const other = mustPool(rt, 128);
    bugCheck(() => other.free(out[0]!));
  });

  it('a destroyed pool throws on every use', () => {
    const pool = mustPool(rt, 16);
    const p = pool.alloc();
    pool.free(p);
    pool.destroy();
    const uses: [string, () => unknown][] = [
      ['alloc', () => pool.alloc()],
      ['free', () => pool.free(p)],
      ['allocMany', () => pool.allocMany(new Uint32Array(2))],
      ['freeMany', () => pool.freeMany(new Uint32Array(0))],
      ['bytes', () => pool.bytes(p)],
      ['stats', () => pool.stats()],
      ['destroy', () => pool.destroy()],
      ['destroy force', () => pool.destroy({ force: true })],
    ];
    for (const [name, use] of uses) {
      const e = bugCheck(use);
      expect(e.message, name).toMatch(/destroyed/);
    }
  });

  it('destroying one pool leaves the others intact', () => {
    const a = mustPool(rt, 32);
    const b = mustPool(rt, 32);
    const pb = [b.alloc(), b.alloc()];
    pb.forEach((p, i) => b.bytes(p).fill(i + 1));
    a.alloc();
    a.destroy({ force: true });
    expect(b.stats().outstanding).toBe(2);
    pb.forEach((p, i) => expect(b.bytes(p).every((x) => x === i + 1)).toBe(true));
    const c = mustPool(rt, 32);
    const pc = c.alloc();
    expect(pb).not.toContain(pc);
    for (const p of pb) b.free(p);
  });
});

describe('runtime.reset()', () => {
  it('invalidates every pool; new pools work; batches survive', () => {
    const pool = mustPool(rt, 32);
    const batch = rt.u32Batch(8);
    pool.allocMany(batch);
    const p = batch[0]!;
    rt.reset();
    for (const use of [() => pool.alloc(), () => pool.free(p), () => pool.stats(), () => pool.destroy(), () => pool.bytes(p), () => pool.freeMany(batch)]) {
      expect(bugCheck(use).message).toMatch(/reset/);
    }
    const fresh = mustPool(rt, 32);
    expect(fresh.stats()).toMatchObject({ allocs: 0, outstanding: 0 });
    expect(fresh.allocMany(batch)).toBe(8);
    expect(new Set(batch).size).toBe(8);
    fresh.freeMany(batch);
    expect(fresh.stats().outstanding).toBe(0);
    expect(rt.poolmon().filter((r) => r.type === 'SlabPool').map((r) => r.allocs)).toEqual([8]);
  });
});
