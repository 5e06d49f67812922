/**
 * Generational SlabPools (`createSlabPool({ handles: 'generational' })`, src/pool.ts and
 * assembly/gentable.ts): handles instead of addresses, stale-handle detection including the ABA
 * case (same slot, same address, new generation), never-issued handles, the bulk calls and
 * their all-or-nothing freeMany, maxOutstanding / lease / acquire, destroy, option checks, a
 * fast-check model test and forEachLive.
 */
import { describe, it, expect, beforeEach } from 'vitest';
import fc from 'fast-check';
import { createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import { NdisBugCheck } from '../build/ts/errors.js';
import { handleIndexBits, GEN_MIN_FREE, type SlabPool } from '../build/ts/pool.js';
import { type Loose, PAGE, bugCheck, expectBug, row, slot } from './helpers.js';

const MiB = 1 << 20;

function genPool(rt: NdisRuntime, objectSize: number, extra: Record<string, unknown> = {}): SlabPool {
  const p = rt.createSlabPool({ objectSize, handles: 'generational', ...extra });
  expect(p).not.toBeNull();
  return p!;
}

/** Index and generation fields of a handle of a pool created with `maxOutstanding` (undefined: none). */
function fields(maxOutstanding?: number) {
  const bits = handleIndexBits(maxOutstanding ?? 0xffffffff);
  const mask = 2 ** bits - 1;
  return { bits, mask, index: (h: number) => h & mask, gen: (h: number) => Math.floor(h / 2 ** bits) };
}

/** Asserts [p, p + size) ranges are pairwise disjoint. */
function expectDisjoint(ptrs: number[], size: number): void {
  const s = [...ptrs].sort((a, b) => a - b);
  for (let i = 1; i < s.length; i++) expect(s[i]! - s[i - 1]!).toBeGreaterThanOrEqual(size);
}

/** Everything observable about a pool: its counters and the address of each of `handles`. */
function snapshot(pool: SlabPool, handles: number[]) {
  return { stats: pool.stats(), ptrs: handles.map((h) => pool.ptr(h)) };
}

/** The stale-handle bug check of `fn` on handle `h`. */
function expectStale(f: () => unknown, fn: string, arg: string, h: number, message: RegExp = /is stale/): NdisBugCheck {
  return expectBug(f, { fn, arg, code: 0xc2, rule: 'ALT-POOL', parameters: [0x07, 0, 0, h], message });
}

/** The never-issued-handle bug check of `fn` on handle `h`. */
function expectOrigin(f: () => unknown, fn: string, arg: string, h: number): NdisBugCheck {
  return expectBug(f, { fn, arg, code: 0xc2, rule: 'ORIGIN', parameters: [0x42, h >>> 0, 0, 0], message: /is not a handle this pool issued/ });
}

let rt: NdisRuntime;
beforeEach(() => {
  rt = createRuntimeSync({ maxMemory: 64 * MiB });
});

describe('handles and addresses', () => {
  it('hands out non-zero u32 handles with distinct indices, mapping to distinct 8-aligned, writable, disjoint objects', () => {
    const pool = genPool(rt, 20, { tag: 'GenH' });
    expect(pool.handles).toBe('generational');
    expect(rt.createSlabPool({ objectSize: 20 })!.handles).toBe('pointer');
    const { index, gen } = fields();
    // 300 objects: more than the first table (256 entries), so the table grows on the way.
    const hs: number[] = [];
    for (let i = 0; i < 300; i++) hs.push(pool.alloc());
    for (const h of hs) {
      expect(h).not.toBe(0);
      expect(h >>> 0).toBe(h);
      expect(gen(h)).toBe(0); // nothing was freed yet: every index is fresh
    }
    expect(new Set(hs).size).toBe(300);
    expect(new Set(hs.map(index)).size).toBe(300);
    const ptrs = hs.map((h) => pool.ptr(h));
    for (const p of ptrs) {
      expect(p).toBeGreaterThanOrEqual(PAGE);
      expect(p % 8).toBe(0);
    }
    // A handle is not its address.
    expect(hs.some((h, i) => h !== ptrs[i])).toBe(true);
    expect(new Set(ptrs).size).toBe(300);
    expectDisjoint(ptrs, slot(20));
    // Every object's bytes are its own: write a distinct pattern into each, then read all back.
    hs.forEach((h, i) => {
      const b = pool.bytes(h);
      expect(b.length).toBe(20);
      expect(b.byteOffset).toBe(ptrs[i]);
      b.fill((i * 7 + 1) & 0xff);
    });
    hs.forEach((h, i) => {
      expect([...pool.bytes(h)]).toEqual(new Array(20).fill((i * 7 + 1) & 0xff));
    });
    expect(pool.stats()).toMatchObject({ inUse: 300, allocs: 300, frees: 0, bytes: 300 * slot(20) });
  });

  it('ptr(h) is stable while the handle lives, across other allocations and frees', () => {
    const pool = genPool(rt, 64);
    const a = pool.alloc();
    const pa = pool.ptr(a);
    const others: number[] = [];
    for (let i = 0; i < 2000; i++) others.push(pool.alloc());
    for (const h of others) pool.free(h);
    for (let i = 0; i < 500; i++) pool.alloc();
    expect(pool.ptr(a)).toBe(pa);
  });
});

describe('stale handles', () => {
  it('a freed handle is stale: ptr, free and bytes throw ALT-POOL "stale", and nothing changes', () => {
    const pool = genPool(rt, 24);
    const hs = [pool.alloc(), pool.alloc(), pool.alloc()];
    const [a, b, c] = hs as [number, number, number];
    pool.bytes(a).fill(0xaa);
    pool.bytes(c).fill(0xcc);
    pool.free(b);
    const before = snapshot(pool, [a, c]);
    const msg = /is stale: its object was freed \(handle generation 0; the slot is free\)/;
    expectStale(() => pool.ptr(b), 'SlabPool.ptr', 'handle', b, msg);
    expectStale(() => pool.free(b), 'SlabPool.free', 'handle', b, msg);
    expect(bugCheck(() => pool.bytes(b))).toMatchObject({ rule: 'ALT-POOL', code: 0xc2 });
    expect(bugCheck(() => pool.bytes(b)).message).toMatch(/is stale/);
    // Nothing changed: counters, the other handles, their contents.
    expect(snapshot(pool, [a, c])).toEqual(before);
    expect([...pool.bytes(a)]).toEqual(new Array(24).fill(0xaa));
    expect([...pool.bytes(c)]).toEqual(new Array(24).fill(0xcc));
    // A stale handle stays stale after more traffic (the index is not reused yet).
    const d = pool.alloc();
    expect(d).not.toBe(b);
    expectStale(() => pool.ptr(b), 'SlabPool.ptr', 'handle', b);
    pool.free(a);
    pool.free(c);
    pool.free(d);
    expect(pool.stats()).toMatchObject({ inUse: 0, allocs: 4, frees: 4 });
  });

  it('bytes() of a stale handle reports itself (SlabPool.bytes), as it does for a non-u32 and in pointer pools', () => {
    const pool = genPool(rt, 24);
    const h = pool.alloc();
    pool.free(h);
    // The same call on a pointer pool and bytes() parameter errors name SlabPool.bytes.
    const pp = rt.createSlabPool({ objectSize: 24 })!;
    const p = pp.alloc();
    pp.free(p);
    expect(bugCheck(() => pp.bytes(p)).function).toBe('SlabPool.bytes');
    expect(bugCheck(() => pool.bytes(1.5)).function).toBe('SlabPool.bytes');
    const b = bugCheck(() => pool.bytes(h));
    expect(b.rule).toBe('ALT-POOL');
    expect(b.function).toBe('SlabPool.bytes');
  });

  it('the ABA case: the same slot index and the same address come back with a new generation; the old handle is rejected', () => {
    const pool = genPool(rt, 20);
    const { index, gen } = fields();
    expect(handleIndexBits(0xffffffff)).toBe(20);
    const keep = pool.alloc(); // another live object, must stay untouched
    pool.bytes(keep).fill(0x11);
    const h = pool.alloc();
    const addr = pool.ptr(h);
    pool.free(h);

    // Allocate (and free again) until the index of h is handed out again. A fresh index is
    // preferred while fewer than GEN_MIN_FREE indices are free, so that takes GEN_MIN_FREE frees.
    let g = 0;
    let allocs = 0;
    const seenAddrs = new Set<number>();
    for (;;) {
      g = pool.alloc();
      allocs++;
      expect(g).not.toBe(0);
      seenAddrs.add(pool.ptr(g));
      if (index(g) === index(h)) break;
      pool.free(g);
      expect(allocs).toBeLessThan(10 * GEN_MIN_FREE);
    }
    expect(allocs).toBe(GEN_MIN_FREE);
    expect(pool.stats()).toMatchObject({ frees: GEN_MIN_FREE, inUse: 2 });

    // Same index, next generation, and literally the same address: a plain pointer would be
    // indistinguishable here.
    expect(index(g)).toBe(index(h));
    expect(gen(g)).toBe(gen(h) + 1);
    expect(g).not.toBe(h);
    expect(pool.ptr(g)).toBe(addr);

    // The old handle is rejected, naming both generations; the new one works.
    const msg = new RegExp(`handle generation ${gen(h)}; the slot now holds generation ${gen(g)}`);
    expectStale(() => pool.ptr(h), 'SlabPool.ptr', 'handle', h, msg);
    expectStale(() => pool.free(h), 'SlabPool.free', 'handle', h, msg);
    expect(bugCheck(() => pool.bytes(h)).message).toMatch(/stale/);
    expect(pool.stats().inUse).toBe(2);
    pool.bytes(g).fill(0x5a);
    expect([...rt.bytes(addr as Loose, 20)]).toEqual(new Array(20).fill(0x5a));
    expect([...pool.bytes(keep)]).toEqual(new Array(20).fill(0x11));
    pool.free(g);
    expectStale(() => pool.ptr(g), 'SlabPool.ptr', 'handle', g);
    expect(pool.stats().inUse).toBe(1);
  });

  it('(contrast) a pointer pool cannot tell: the reused address passes as the old pointer', () => {
    const pool = rt.createSlabPool({ objectSize: 20 })!;
    const p = pool.alloc();
    pool.free(p);
    expect(() => pool.ptr(p)).toThrow(NdisBugCheck); // freed and not reused: detected
    const q = pool.alloc();
    expect(q).toBe(p); // slot reused
    expect(pool.ptr(p)).toBe(p); // the old "handle" is accepted again
  });

  it('free indices are reused oldest first, each with the next generation', () => {
    const pool = genPool(rt, 8);
    const { index, gen } = fields();
    const n = GEN_MIN_FREE + 76;
    const b = rt.u32Batch(n);
    expect(pool.allocMany(b)).toBe(n);
    const hs = [...b];
    // Free in a scrambled (deterministic) order.
    const order = hs.map((h, i) => ({ h, k: (i * 7919) % n })).sort((x, y) => x.k - y.k).map((x) => x.h);
    for (const h of order) pool.free(h);
    const again: number[] = [];
    for (let i = 0; i < n - GEN_MIN_FREE + 1; i++) again.push(pool.alloc());
    // While at least GEN_MIN_FREE indices are free, allocation takes the oldest free index.
    expect(again.map(index)).toEqual(order.slice(0, again.length).map(index));
    for (const g of again) expect(gen(g)).toBe(1);
    // Then fewer than GEN_MIN_FREE are free: fresh indices again.
    const fresh = pool.alloc();
    expect(gen(fresh)).toBe(0);
    expect(index(fresh)).toBe(n + 1);
  });

  it('a stale handle is caught until its generation wraps: (2^12 generations) x GEN_MIN_FREE frees', () => {
    const pool = genPool(rt, 8);
    const { index, gen, bits } = fields();
    expect(32 - bits).toBe(12);
    const first = pool.alloc();
    pool.free(first);
    let allocs = 0;
    let reuses = 0;
    let g = 0;
    for (;;) {
      g = pool.alloc();
      allocs++;
      if (index(g) === index(first)) {
        reuses++;
        if (g === first) break;
        expect(gen(g)).toBe(reuses);
        expect(() => pool.ptr(first)).toThrow(/stale/);
      }
      pool.free(g);
    }
    expect(reuses).toBe(4096);
    expect(allocs).toBe(4096 * GEN_MIN_FREE);
    expect(g).not.toBe(0);
    expect(pool.ptr(g)).toBeGreaterThanOrEqual(PAGE);
  });
});

describe('never-issued and malformed handles', () => {
  it('0, an index beyond the issued ones and 0xFFFFFFFF throw ORIGIN and change nothing', () => {
    const pool = genPool(rt, 16);
    const hs = [pool.alloc(), pool.alloc(), pool.alloc()];
    pool.free(hs[1]!);
    const live = [hs[0]!, hs[2]!];
    const before = snapshot(pool, live);
    for (const v of [0, 4, 12345, 0xfffff, 0xffffffff]) {
      expectOrigin(() => pool.ptr(v), 'SlabPool.ptr', 'handle', v);
      expectOrigin(() => pool.free(v), 'SlabPool.free', 'handle', v);
      expect(bugCheck(() => pool.bytes(v)).rule).toBe('ORIGIN');
    }
    expect(snapshot(pool, live)).toEqual(before);
  });

  it('non-integers, NaN, negatives, > u32 and non-numbers throw PARAM (an NdisBugCheck, not TypeError) and change nothing', () => {
    const pool = genPool(rt, 16);
    const live = [pool.alloc(), pool.alloc()];
    const before = snapshot(pool, live);
    for (const v of [1.5, NaN, -1, 2 ** 32, Infinity, '1', null, undefined, {}] as Loose[]) {
      const bp = bugCheck(() => pool.ptr(v));
      expect(bp).toMatchObject({ rule: 'PARAM', function: 'SlabPool.ptr', argument: 'handle' });
      const bf = bugCheck(() => pool.free(v));
      expect(bf).toMatchObject({ rule: 'PARAM', function: 'SlabPool.free' });
      expect(bf.message).toMatch(/must be a handle \(u32\)/);
      const bb = bugCheck(() => pool.bytes(v));
      expect(bb).toMatchObject({ rule: 'PARAM', function: 'SlabPool.bytes' });
    }
    expect(snapshot(pool, live)).toEqual(before);
  });

  it('a handle of another generational pool is rejected (stale or never issued) unless its index is live there', () => {
    const a = genPool(rt, 16);
    const b = genPool(rt, 16);
    const ha = a.alloc();
    a.alloc();
    // b issued nothing: every index is beyond its issued ones.
    expectOrigin(() => b.ptr(ha), 'SlabPool.ptr', 'handle', ha);
    expectOrigin(() => b.free(ha), 'SlabPool.free', 'handle', ha);
    expect(a.stats().inUse).toBe(2);
    expect(b.stats().inUse).toBe(0);
  });
});

describe('allocMany / freeMany', () => {
  for (const kind of ['u32Batch', 'Uint32Array'] as const) {
    it(`allocMany and freeMany with a ${kind}: handles work and become stale`, () => {
      const pool = genPool(rt, 12);
      const mk = (n: number) => (kind === 'u32Batch' ? rt.u32Batch(n) : new Uint32Array(n));
      const out = mk(40);
      expect(pool.allocMany(out)).toBe(40);
      const hs = [...out];
      expect(hs.every((h) => h !== 0)).toBe(true);
      expect(new Set(hs).size).toBe(40);
      const ptrs = hs.map((h) => pool.ptr(h));
      expect(new Set(ptrs).size).toBe(40);
      expectDisjoint(ptrs, 16);
      hs.forEach((h, i) => pool.bytes(h).fill(i + 1));
      hs.forEach((h, i) => expect(pool.bytes(h)[11]).toBe(i + 1));
      expect(pool.stats().inUse).toBe(40);

      // Free the first 25 (count argument), the rest stay.
      const list = mk(40);
      list.set(hs);
      pool.freeMany(list, 25);
      expect(pool.stats().inUse).toBe(15);
      for (const h of hs.slice(0, 25)) expectStale(() => pool.ptr(h), 'SlabPool.ptr', 'handle', h);
      hs.slice(25).forEach((h, i) => expect(pool.ptr(h)).toBe(ptrs[25 + i]));
      // freeMany of the rest (a fresh array holding them).
      const rest = mk(15);
      rest.set(hs.slice(25));
      pool.freeMany(rest);
      expect(pool.stats().inUse).toBe(0);
      for (const h of hs) expect(() => pool.ptr(h)).toThrow(/stale/);
    });

    it(`freeMany with a ${kind} is all or nothing: a stale, duplicate or never-issued handle anywhere frees nothing`, () => {
      const pool = genPool(rt, 12);
      const live: number[] = [];
      for (let i = 0; i < 10; i++) live.push(pool.alloc());
      const stale = pool.alloc();
      pool.free(stale);
      const before = snapshot(pool, live);
      const mkList = (xs: number[]) => {
        const a = kind === 'u32Batch' ? rt.u32Batch(xs.length) : new Uint32Array(xs.length);
        a.set(xs);
        return a;
      };
      const cases: { list: number[]; bad: number; rule: string; message: RegExp }[] = [
        { list: [stale, ...live], bad: 0, rule: 'ALT-POOL', message: /is stale/ },
        { list: [...live.slice(0, 5), stale, ...live.slice(5)], bad: 5, rule: 'ALT-POOL', message: /is stale/ },
        { list: [...live, stale], bad: 10, rule: 'ALT-POOL', message: /is stale/ },
        { list: [...live, live[3]!], bad: 10, rule: 'ALT-POOL', message: /appears twice in the list/ },
        { list: [live[0]!, live[0]!], bad: 1, rule: 'ALT-POOL', message: /appears twice in the list/ },
        { list: [...live.slice(0, 4), live[2]!, ...live.slice(4)], bad: 4, rule: 'ALT-POOL', message: /appears twice in the list/ },
        { list: [...live.slice(0, 3), 0, ...live.slice(3)], bad: 3, rule: 'ORIGIN', message: /not a handle this pool issued/ },
        { list: [...live, 0xffffffff], bad: 10, rule: 'ORIGIN', message: /not a handle this pool issued/ },
        // A stale handle before a duplicate: the first bad entry is reported.
        { list: [live[1]!, stale, live[1]!], bad: 1, rule: 'ALT-POOL', message: /is stale/ },
      ];
      for (const c of cases) {
        const b = expectBug(() => pool.freeMany(mkList(c.list)), {
          fn: 'SlabPool.freeMany',
          arg: `ptrs[${c.bad}]`,
          code: 0xc2,
          rule: c.rule,
          message: c.message,
        });
        expect(b.message).toContain(`0x${(c.list[c.bad]! >>> 0).toString(16).toUpperCase().padStart(8, '0')}`);
        // Nothing was freed, every listed live handle still maps to its object.
        expect(snapshot(pool, live)).toEqual(before);
      }
      // A stale entry beyond `count` is not looked at.
      pool.freeMany(mkList([live[0]!, live[1]!, stale]), 2);
      expect(pool.stats().inUse).toBe(8);
      expect(() => pool.ptr(live[0]!)).toThrow(/stale/);
      // And the full list still frees when valid.
      pool.freeMany(mkList(live.slice(2)));
      expect(pool.stats().inUse).toBe(0);
    });
  }

  it('freeMany with a handle freed by an earlier freeMany (its index reused) reports stale and frees nothing', () => {
    const pool = genPool(rt, 8);
    const { index } = fields();
    const b = rt.u32Batch(GEN_MIN_FREE + 10);
    expect(pool.allocMany(b)).toBe(GEN_MIN_FREE + 10);
    const old = [...b];
    pool.freeMany(b);
    const fresh = rt.u32Batch(5);
    expect(pool.allocMany(fresh)).toBe(5);
    // The five new handles reuse the first five indices freed.
    expect([...fresh].map(index)).toEqual(old.slice(0, 5).map(index));
    const list = Uint32Array.of(fresh[0]!, fresh[1]!, old[2]!, fresh[3]!);
    expectBug(() => pool.freeMany(list), { fn: 'SlabPool.freeMany', arg: 'ptrs[2]', code: 0xc2, rule: 'ALT-POOL', message: /generation 0; the slot now holds generation 1/ });
    expect(pool.stats().inUse).toBe(5);
    for (const h of fresh) expect(pool.ptr(h)).toBeGreaterThanOrEqual(PAGE);
    pool.freeMany(fresh);
    expect(pool.stats().inUse).toBe(0);
  });

  it('allocMany stops at maxOutstanding and returns how many it got', () => {
    const pool = genPool(rt, 8, { maxOutstanding: 7 });
    const out = rt.u32Batch(10);
    expect(pool.allocMany(out)).toBe(7);
    expect(new Set([...out].slice(0, 7)).size).toBe(7);
    for (const h of [...out].slice(0, 7)) pool.ptr(h);
    expect(pool.stats()).toMatchObject({ inUse: 7, failures: 1 });
    const plain = new Uint32Array(3);
    expect(pool.allocMany(plain)).toBe(0);
    expect(pool.stats()).toMatchObject({ inUse: 7, failures: 2 });
  });
});

describe('bulk calls without scratch memory (the one-by-one fallback)', () => {
  it('freeMany stays all or nothing and allocMany still hands out handles when no scratch array fits', () => {
    const r = createRuntimeSync({ maxMemory: 4 * MiB });
    const pool = r.createSlabPool({ objectSize: 8, handles: 'generational' })!;
    const hs: number[] = [];
    for (let i = 0; i < 1000; i++) hs.push(pool.alloc());
    expect(hs.every((h) => h !== 0)).toBe(true);
    const stale = pool.alloc();
    pool.free(stale);
    // Use up the memory budget: slabs first, then the heap bulk arrays come from.
    const filler = r.createSlabPool({ objectSize: 64 })!;
    while (filler.alloc() !== 0);
    expect(() => {
      for (;;) r.u32Batch(256);
    }).toThrow(RangeError);
    expect(() => r.u32Batch(2)).toThrow(RangeError);

    const before = snapshot(pool, hs);
    const cases: { list: number[]; bad: number; rule: string; message: RegExp }[] = [
      { list: [...hs.slice(0, 500), stale, ...hs.slice(500)], bad: 500, rule: 'ALT-POOL', message: /is stale/ },
      { list: [...hs, hs[7]!], bad: 1000, rule: 'ALT-POOL', message: /appears twice/ },
      { list: [...hs, 0], bad: 1000, rule: 'ORIGIN', message: /not a handle this pool issued/ },
    ];
    for (const c of cases) {
      expectBug(() => pool.freeMany(Uint32Array.from(c.list)), { fn: 'SlabPool.freeMany', arg: `ptrs[${c.bad}]`, code: 0xc2, rule: c.rule, message: c.message });
      expect(snapshot(pool, hs)).toEqual(before);
    }
    pool.freeMany(Uint32Array.from(hs));
    expect(pool.stats().inUse).toBe(0);
    for (const h of hs) expect(() => pool.ptr(h)).toThrow(/stale/);

    const out = new Uint32Array(1000);
    expect(pool.allocMany(out)).toBe(1000);
    expect(new Set(out).size).toBe(1000);
    const addrs = [...out].map((h) => pool.ptr(h));
    expect(new Set(addrs).size).toBe(1000);
    expect(pool.stats().inUse).toBe(1000);
  });
});

describe('maxOutstanding, lease, acquire', () => {
  it('alloc returns 0 beyond maxOutstanding, counts failures, and works again after a free', () => {
    const pool = genPool(rt, 32, { maxOutstanding: 3 });
    expect(pool.stats().maxOutstanding).toBe(3);
    const hs = [pool.alloc(), pool.alloc(), pool.alloc()];
    expect(hs.every((h) => h !== 0)).toBe(true);
    expect(pool.alloc()).toBe(0);
    expect(pool.alloc()).toBe(0);
    expect(pool.stats()).toMatchObject({ inUse: 3, failures: 2, peak: 3 });
    for (const h of hs) pool.ptr(h);
    pool.free(hs[1]!);
    const h4 = pool.alloc();
    expect(h4).not.toBe(0);
    expect(h4).not.toBe(hs[1]);
    expect(pool.stats()).toMatchObject({ inUse: 3, failures: 2 });
    expect(pool.lease()).toBeNull();
    expect(pool.stats().failures).toBe(3);
  });

  it('with maxOutstanding the index has fewer bits (12 for small limits) and reuse still changes the generation', () => {
    expect(handleIndexBits(3)).toBe(12);
    expect(handleIndexBits(4096 - GEN_MIN_FREE - 1)).toBe(12);
    expect(handleIndexBits(4096 - GEN_MIN_FREE)).toBe(13);
    expect(handleIndexBits(2 ** 24 - GEN_MIN_FREE - 1)).toBe(24);
    const pool = genPool(rt, 16, { maxOutstanding: 2 });
    const { index, gen, bits } = fields(2);
    expect(bits).toBe(12);
    const h = pool.alloc();
    const addr = pool.ptr(h);
    pool.free(h);
    let g = 0;
    let n = 0;
    do {
      if (g !== 0) pool.free(g);
      g = pool.alloc();
      n++;
    } while (index(g) !== index(h));
    expect(n).toBe(GEN_MIN_FREE);
    expect(g).toBe(h + 2 ** 12);
    expect(gen(g)).toBe(1);
    expect(pool.ptr(g)).toBe(addr);
    expectStale(() => pool.ptr(h), 'SlabPool.ptr', 'handle', h, /generation 0; the slot now holds generation 1/);
  });

  it('lease(): lease.handle is the handle, lease.ptr its address; disposing frees it and the handle goes stale', () => {
    const pool = genPool(rt, 16);
    const other = pool.alloc();
    const lease = pool.lease()!;
    expect(lease).not.toBeNull();
    expect(lease.active).toBe(true);
    const h = lease.handle;
    expect(h).not.toBe(0);
    expect(h).not.toBe(other);
    expect(lease.ptr).toBe(pool.ptr(h));
    expect(lease.ptr % 8).toBe(0);
    expect(pool.stats().inUse).toBe(2);
    lease[Symbol.dispose]();
    expect(lease.active).toBe(false);
    expect(pool.stats().inUse).toBe(1);
    expectStale(() => pool.ptr(h), 'SlabPool.ptr', 'handle', h);
    expect(() => lease.ptr).toThrow(NdisBugCheck);
    expect(() => lease[Symbol.dispose]()).toThrow(/already disposed/);
    expect(pool.stats().inUse).toBe(1);
    const l2 = pool.lease()!;
    const h2 = l2.handle;
    l2.release();
    expect(() => pool.ptr(h2)).toThrow(/stale/);
    expect(pool.ptr(other)).toBeGreaterThanOrEqual(PAGE);
  });

  it('acquire() resolves to a handle, at once or when a free hands a slot over', async () => {
    const pool = genPool(rt, 16, { maxOutstanding: 2 });
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect(pool.ptr(a)).not.toBe(pool.ptr(b));
    const pending = pool.acquire();
    expect(pool.waiters).toBe(1);
    const addrA = pool.ptr(a);
    pool.free(a);
    const c = await pending;
    expect(pool.waiters).toBe(0);
    expect(c).not.toBe(a);
    expect(pool.ptr(c)).toBe(addrA); // the freed slot went to the waiter
    expectStale(() => pool.ptr(a), 'SlabPool.ptr', 'handle', a);
    expect(pool.stats().inUse).toBe(2);
    // freeMany hands over too.
    const pending2 = pool.acquire();
    pool.freeMany(Uint32Array.of(b));
    const d = await pending2;
    expect(pool.ptr(d)).toBeGreaterThanOrEqual(PAGE);
    expect(() => pool.ptr(b)).toThrow(/stale/);
    expect(pool.stats().inUse).toBe(2);
  });
});

describe('destroy', () => {
  it('throws POOL-5 with live handles (nothing changes); { force: true } frees the pool and its handle table', () => {
    const pool = genPool(rt, 16, { tag: 'GDes' });
    const hs: number[] = [];
    for (let i = 0; i < 300; i++) hs.push(pool.alloc()); // the table grew once
    const table = () => rt.memoryReport().pools.filter((r) => r.tag === 'GDes' && r.type === 'HandleTable');
    expect(row(rt, 'GDes', 'HandleTable')).toMatchObject({ outstanding: 1 });
    expect(row(rt, 'GDes', 'HandleTable')!.bytes).toBeGreaterThanOrEqual(300 * 8);
    expect(table().reduce((a, r) => a + r.live, 0)).toBe(1);

    const before = snapshot(pool, hs);
    const b = expectBug(() => pool.destroy(), { fn: 'SlabPool.destroy', code: 0xc4, rule: 'POOL-5', message: /300 object\(s\) outstanding/ });
    expect(b.parameters[2]).toBe(300);
    expect(snapshot(pool, hs)).toEqual(before);
    expect(() => pool.destroy({ force: false })).toThrow(NdisBugCheck);

    pool.destroy({ force: true });
    expect(pool.handle).toBe(0);
    expect(row(rt, 'GDes', 'HandleTable')).toMatchObject({ outstanding: 0, bytes: 0 });
    expect(table().reduce((a, r) => a + r.live + r.usedBytes, 0)).toBe(0);
    expect(row(rt, 'GDes', 'SlabPool')).toMatchObject({ outstanding: 0, pools: 0 });
    expect(() => pool.ptr(hs[0]!)).toThrow(/destroyed/);
    expect(() => pool.alloc()).toThrow(/destroyed/);
  });

  it('an empty generational pool destroys without force and leaves no table memory', () => {
    const pool = genPool(rt, 16, { tag: 'GDe2' });
    const h = pool.alloc();
    pool.free(h);
    pool.destroy();
    expect(row(rt, 'GDe2', 'HandleTable')).toMatchObject({ allocs: 1, frees: 1, outstanding: 0 });
  });
});

describe('options', () => {
  it("handles other than 'pointer' / 'generational' throw PARAM", () => {
    for (const handles of ['bogus', 'Generational', 1, null] as Loose[]) {
      const b = bugCheck(() => rt.createSlabPool({ objectSize: 8, handles }));
      expect(b).toMatchObject({ rule: 'PARAM', function: 'createSlabPool', argument: 'options.handles' });
    }
    expect(rt.createSlabPool({ objectSize: 8, handles: undefined })!.handles).toBe('pointer');
  });

  it('a generational pool takes maxOutstanding up to 2^24 - 1025 (a pointer pool takes more)', () => {
    const limit = 2 ** 24 - GEN_MIN_FREE - 1;
    const b = bugCheck(() => rt.createSlabPool({ objectSize: 8, handles: 'generational', maxOutstanding: limit + 1 }));
    expect(b).toMatchObject({ rule: 'PARAM', argument: 'options.maxOutstanding' });
    expect(() => rt.createSlabPool({ objectSize: 8, handles: 'generational', maxOutstanding: 0xfffffffe })).toThrow(NdisBugCheck);
    const ok = genPool(rt, 8, { maxOutstanding: limit });
    expect(ok.stats().maxOutstanding).toBe(limit);
    const h = ok.alloc();
    expect(h).not.toBe(0);
    expect(ok.ptr(h)).toBeGreaterThanOrEqual(PAGE);
    expect(rt.createSlabPool({ objectSize: 8, maxOutstanding: limit + 1 })).not.toBeNull();
  });

  it('without maxOutstanding at most 2^20 - 1 handles are live; then alloc returns 0 until one is freed', () => {
    const r = createRuntimeSync({ maxMemory: 128 * MiB });
    const pool = r.createSlabPool({ objectSize: 8, handles: 'generational' })!;
    const { index, gen } = fields();
    const b = r.u32Batch(2 ** 20);
    expect(pool.allocMany(b)).toBe(2 ** 20 - 1);
    expect(pool.stats()).toMatchObject({ inUse: 2 ** 20 - 1, failures: 1 });
    expect(pool.alloc()).toBe(0);
    expect(pool.stats().failures).toBe(2);
    const victim = b[12345]!;
    pool.free(victim);
    const h = pool.alloc();
    expect(index(h)).toBe(index(victim));
    expect(gen(h)).toBe(gen(victim) + 1);
    expect(() => pool.ptr(victim)).toThrow(/stale/);
    expect(pool.alloc()).toBe(0);
  });
});

describe('forEachLive (generational)', () => {
  it('yields (ptr, handle) pairs equal to the live set, reused indices included', () => {
    const pool = genPool(rt, 16);
    expect(() => pool.forEachLive(null as Loose)).toThrow(NdisBugCheck);
    const calls: number[][] = [];
    pool.forEachLive((p, h) => calls.push([p, h]));
    expect(calls).toEqual([]);

    const b = rt.u32Batch(2 * GEN_MIN_FREE);
    expect(pool.allocMany(b)).toBe(2 * GEN_MIN_FREE);
    const all = [...b];
    // Free all but every 10th, so later allocations reuse indices with generation 1.
    const kept = all.filter((_, i) => i % 10 === 0);
    pool.freeMany(Uint32Array.from(all.filter((_, i) => i % 10 !== 0)));
    const more: number[] = [];
    for (let i = 0; i < 30; i++) more.push(pool.alloc());
    expect(more.some((h) => fields().gen(h) === 1)).toBe(true);
    const expected = new Map<number, number>();
    for (const h of [...kept, ...more]) expected.set(h, pool.ptr(h));

    const seen = new Map<number, number>();
    pool.forEachLive((p, h) => {
      expect(seen.has(h)).toBe(false);
      seen.set(h, p);
    });
    expect(seen).toEqual(expected);

    // Snapshot: freeing inside the callback still visits every object once.
    let visits = 0;
    pool.forEachLive((_, h) => {
      visits++;
      pool.free(h);
    });
    expect(visits).toBe(expected.size);
    expect(pool.stats().inUse).toBe(0);
  });
});

// -- model test --------------------------------------------------------------------------------------

type Op =
  | { t: 'alloc' }
  | { t: 'free'; i: number }
  | { t: 'freeStale'; i: number }
  | { t: 'ptrStale'; i: number }
  | { t: 'foreign'; v: number; how: 'ptr' | 'free' | 'bytes' }
  | { t: 'allocMany'; n: number; batch: boolean }
  | { t: 'freeMany'; picks: number[]; stale: { pos: number; i: number } | null; dup: { from: number; pos: number } | null; batch: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Op>({ t: 'alloc' }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('free' as const), i: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('freeStale' as const), i: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('ptrStale' as const), i: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('foreign' as const), v: fc.constantFrom(0, 0xffffffff, 0xfff, 0xffff0fff), how: fc.constantFrom('ptr' as const, 'free' as const, 'bytes' as const) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('allocMany' as const), n: fc.integer({ min: 1, max: 8 }), batch: fc.boolean() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('freeMany' as const),
      picks: fc.array(fc.nat(), { maxLength: 8 }),
      // Mostly valid lists; a stale entry in about 1/4, a duplicate in about 1/5 of them.
      stale: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.record({ pos: fc.nat(), i: fc.nat() }) }),
      dup: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.record({ from: fc.nat(), pos: fc.nat() }) }),
      batch: fc.boolean(),
    }),
  },
);

describe('model test (fast-check)', () => {
  it('random alloc / free / stale use / bulk calls agree with a Map model', () => {
    const r = createRuntimeSync({ maxMemory: 64 * MiB });
    const OBJ = 12;
    const SLOT = slot(OBJ);
    // Batches live as long as the runtime: make a fixed set once.
    const allocBatches = new Map<number, Uint32Array>();
    for (let n = 1; n <= 8; n++) allocBatches.set(n, r.u32Batch(n));
    const freeBatch = r.u32Batch(32);
    const counts = { staleThrows: 0, dupThrows: 0, freeManyOk: 0, reused: 0, limitHits: 0 };

    const prop = fc.property(
      fc.constantFrom<number | undefined>(undefined, 6, 40),
      fc.boolean(),
      fc.array(opArb, { minLength: 1, maxLength: 50 }),
      (maxOutstanding, warm, ops) => {
        const pool = r.createSlabPool({ objectSize: OBJ, handles: 'generational', ...(maxOutstanding === undefined ? {} : { maxOutstanding }) })!;
        expect(pool).not.toBeNull();
        const { gen } = fields(maxOutstanding);
        const model = new Map<number, number>(); // live handle -> address
        const stale: number[] = [];
        const staleSet = new Set<number>();
        let failures = 0;
        const retire = (h: number) => {
          model.delete(h);
          stale.push(h);
          staleSet.add(h);
        };
        const adopt = (h: number) => {
          expect(h).not.toBe(0);
          expect(model.has(h)).toBe(false);
          expect(staleSet.has(h)).toBe(false); // no generation wrap in runs this short
          const p = pool.ptr(h);
          expect(p % 8).toBe(0);
          const b = pool.bytes(h);
          new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(0, h, true);
          new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(8, ~h >>> 0, true);
          model.set(h, p);
          if (gen(h) > 0) counts.reused++;
        };
        const unchanged = (f: () => unknown, re: RegExp): NdisBugCheck => {
          const before = pool.stats();
          const b = bugCheck(f);
          expect(b.message).toMatch(re);
          expect(pool.stats()).toEqual(before);
          return b;
        };
        try {
          if (warm) {
            // More than GEN_MIN_FREE frees first, so allocations below reuse indices.
            for (let i = 0; i < GEN_MIN_FREE + 40; i++) {
              const h = pool.alloc();
              pool.free(h);
              if (i >= GEN_MIN_FREE + 37) {
                stale.push(h);
                staleSet.add(h);
              }
            }
            failures = 0;
          }
          for (const op of ops) {
            const live = [...model.keys()];
            switch (op.t) {
              case 'alloc': {
                const h = pool.alloc();
                if (maxOutstanding !== undefined && model.size >= maxOutstanding) {
                  expect(h).toBe(0);
                  failures++;
                  counts.limitHits++;
                } else adopt(h);
                break;
              }
              case 'free': {
                if (live.length === 0) break;
                const h = live[op.i % live.length]!;
                pool.free(h);
                retire(h);
                break;
              }
              case 'freeStale': {
                if (stale.length === 0) break;
                const h = stale[op.i % stale.length]!;
                const b = unchanged(() => pool.free(h), /is stale/);
                expect(b).toMatchObject({ rule: 'ALT-POOL', function: 'SlabPool.free' });
                counts.staleThrows++;
                break;
              }
              case 'ptrStale': {
                if (stale.length === 0) break;
                const h = stale[op.i % stale.length]!;
                unchanged(() => pool.ptr(h), /is stale/);
                unchanged(() => pool.bytes(h), /is stale/);
                counts.staleThrows++;
                break;
              }
              case 'foreign': {
                const f = op.how === 'ptr' ? () => pool.ptr(op.v) : op.how === 'free' ? () => pool.free(op.v) : () => pool.bytes(op.v);
                expect(unchanged(f, /not a handle this pool issued/).rule).toBe('ORIGIN');
                break;
              }
              case 'allocMany': {
                const out = op.batch ? allocBatches.get(op.n)! : new Uint32Array(op.n);
                const room = maxOutstanding === undefined ? op.n : Math.max(0, Math.min(op.n, maxOutstanding - model.size));
                const got = pool.allocMany(out);
                expect(got).toBe(room);
                if (got < op.n) failures++;
                for (let i = 0; i < got; i++) adopt(out[i]!);
                break;
              }
              case 'freeMany': {
                const list: number[] = [];
                for (const p of op.picks) {
                  if (live.length === 0) break;
                  const h = live[p % live.length]!;
                  if (!list.includes(h)) list.push(h);
                }
                if (op.stale && stale.length > 0) list.splice(op.stale.pos % (list.length + 1), 0, stale[op.stale.i % stale.length]!);
                if (op.dup && list.length > 0) list.splice(op.dup.pos % (list.length + 1), 0, list[op.dup.from % list.length]!);
                // The first bad entry, as the model sees it.
                let bad = -1;
                let why: RegExp = /./;
                const seen = new Set<number>();
                for (let i = 0; i < list.length; i++) {
                  const h = list[i]!;
                  if (!model.has(h)) {
                    bad = i;
                    why = /is stale/;
                    break;
                  }
                  if (seen.has(h)) {
                    bad = i;
                    why = /appears twice in the list/;
                    break;
                  }
                  seen.add(h);
                }
                let arr: Uint32Array;
                if (op.batch) {
                  freeBatch.set(list);
                  arr = freeBatch;
                } else arr = Uint32Array.from(list);
                const call = () => pool.freeMany(arr, list.length);
                if (bad < 0) {
                  call();
                  for (const h of list) retire(h);
                  counts.freeManyOk++;
                } else {
                  const b = unchanged(call, why);
                  expect(b.argument).toBe(`ptrs[${bad}]`);
                  if (why.source.includes('twice')) counts.dupThrows++;
                  else counts.staleThrows++;
                }
                break;
              }
            }
            // Invariants after every step.
            const s = pool.stats();
            expect(s.inUse).toBe(model.size);
            expect(s.failures).toBe(failures);
            expect(s.bytes).toBe(model.size * SLOT);
            const dv = new DataView(r.memory.buffer);
            const addrs: number[] = [];
            for (const [h, p] of model) {
              expect(pool.ptr(h)).toBe(p);
              expect(dv.getUint32(p, true)).toBe(h);
              expect(dv.getUint32(p + 8, true)).toBe(~h >>> 0);
              addrs.push(p);
            }
            expect(new Set(addrs).size).toBe(addrs.length);
            expectDisjoint(addrs, SLOT);
            // The most recent stale handles (all of them in short runs) still throw.
            for (const h of stale.slice(-6)) expect(() => pool.ptr(h)).toThrow(/is stale/);
          }
          // forEachLive agrees with the model at the end.
          const seen = new Map<number, number>();
          pool.forEachLive((p, h) => seen.set(h, p));
          expect(seen).toEqual(model);
        } finally {
          pool.destroy({ force: true });
        }
      },
    );
    fc.assert(prop, { numRuns: 500, seed: 0x6e646973 });
    // The runs reached the interesting cases.
    expect(counts.staleThrows).toBeGreaterThan(100);
    expect(counts.dupThrows).toBeGreaterThan(20);
    expect(counts.freeManyOk).toBeGreaterThan(100);
    expect(counts.reused).toBeGreaterThan(100);
    expect(counts.limitHits).toBeGreaterThan(10);
  });
});
