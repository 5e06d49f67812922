/**
 * DescriptorRing (src/ring.ts over assembly/ring.ts): burst and bulk enqueue/dequeue, FIFO order,
 * exact descriptor copies (plain arrays and u32Batch arrays), counters, wrap-around of the
 * free-running u32 indices at 2^32 and of the slot index at capacity, argument validation (every
 * failed call changes nothing), destroyed and reset rings, and a model-based property test.
 */
import { describe, it, expect, beforeEach } from 'vitest';
import fc from 'fast-check';
import { createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import { RULE_P1, BUGCODE_BAD_POOL_CALLER, BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION } from '../build/ts/errors.js';
import { RING_HEADER, RING_DESCRIPTOR, RING_MAX_CAPACITY, type DescriptorRing } from '../build/ts/ring.js';
import { bugCheck, expectBug, descWords as words, descs, fillDescs as fill, type Loose } from './helpers.js';

const W = RING_DESCRIPTOR.WORDS;

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

/** The first n descriptors of `a` as word arrays. */
function read(a: Uint32Array, n: number): number[][] {
  return Array.from({ length: n }, (_, i) => [...a.subarray(i * W, i * W + W)]);
}

function mustRing(rt: NdisRuntime, capacity: number, name?: string): DescriptorRing {
  const r = rt.createRing(name === undefined ? { capacity } : { capacity, name });
  expect(r).not.toBeNull();
  return r!;
}

const headerOf = (r: DescriptorRing) => (r.handle + 63) & ~63;
const dv = (rt: NdisRuntime) => new DataView(rt.memory.buffer);

function setIndices(rt: NdisRuntime, r: DescriptorRing, prod: number, cons: number): void {
  const b = headerOf(r);
  dv(rt).setUint32(b + RING_HEADER.Prod, prod, true);
  dv(rt).setUint32(b + RING_HEADER.Cons, cons, true);
}
function indices(rt: NdisRuntime, r: DescriptorRing): [number, number] {
  const b = headerOf(r);
  return [dv(rt).getUint32(b + RING_HEADER.Prod, true), dv(rt).getUint32(b + RING_HEADER.Cons, true)];
}

/** Copy of the ring's header and descriptor area (to prove a failed call changed nothing). */
function snapshot(rt: NdisRuntime, r: DescriptorRing): Uint8Array {
  const b = headerOf(r);
  return new Uint8Array(rt.memory.buffer, b, RING_HEADER.Descriptors + r.capacity * W * 4).slice();
}

/** The descriptors held, read from memory without dequeuing (cons .. prod). */
function held(rt: NdisRuntime, r: DescriptorRing): number[][] {
  const b = headerOf(r);
  const [prod, cons] = indices(rt, r);
  const n = (prod - cons) >>> 0;
  const u = new Uint32Array(rt.memory.buffer);
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    const slot = ((cons + i) >>> 0) & (r.capacity - 1);
    const at = (b + RING_HEADER.Descriptors + slot * W * 4) >>> 2;
    out.push([...u.subarray(at, at + W)]);
  }
  return out;
}

const PARAM = { code: BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION, rule: 'PARAM' };

let rt: NdisRuntime;
beforeEach(() => {
  rt = createRuntimeSync();
});

describe('createRing', () => {
  it('creates an empty ring with the header initialised', () => {
    const r = mustRing(rt, 16, 'tx0');
    expect(r.capacity).toBe(16);
    expect(r.name).toBe('tx0');
    expect(r.handle).toBeGreaterThanOrEqual(65536);
    expect(r.count()).toBe(0);
    expect(r.freeCount()).toBe(16);
    expect(r.highWater()).toBe(0);
    expect(r.stats()).toEqual({ name: 'tx0', capacity: 16, count: 0, freeCount: 16, highWater: 0, enqueued: 0, dequeued: 0 });
    const b = headerOf(r);
    expect(b % 64).toBe(0);
    expect(dv(rt).getUint32(b + RING_HEADER.Capacity, true)).toBe(16);
    expect(dv(rt).getUint32(b + RING_HEADER.Mask, true)).toBe(15);
    expect(indices(rt, r)).toEqual([0, 0]);
    expect(mustRing(rt, 4).name).toBe('ring');
  });

  it('accepts every power of two from 1 to 2^20', () => {
    for (let k = 0; k <= 20; k++) {
      const r = mustRing(rt, 2 ** k);
      expect(r.capacity).toBe(2 ** k);
      expect(r.freeCount()).toBe(2 ** k);
      r.destroy();
    }
    expect(RING_MAX_CAPACITY).toBe(1 << 20);
  });

  it('a 2^20 ring holds 2^20 descriptors and its last slot is usable', () => {
    const r = mustRing(rt, RING_MAX_CAPACITY);
    const a = new Uint32Array(RING_MAX_CAPACITY * W);
    for (let i = 0; i < a.length; i++) a[i] = (i * 2654435761) >>> 0;
    expect(r.enqueueBurst(a)).toBe(RING_MAX_CAPACITY);
    expect(r.enqueueBurst(descs([1]))).toBe(0);
    expect(r.count()).toBe(RING_MAX_CAPACITY);
    const out = new Uint32Array(RING_MAX_CAPACITY * W);
    expect(r.dequeueBulk(out)).toBe(RING_MAX_CAPACITY);
    let firstDiff = -1; // (a plain loop: vitest's deep equality on 5M words takes ~30 s)
    for (let i = 0; i < a.length && firstDiff < 0; i++) if (out[i] !== a[i]) firstDiff = i;
    expect(firstDiff).toBe(-1);
    r.destroy();
  });

  it.each([
    ['not a power of two', 3],
    ['not a power of two', 6],
    ['not a power of two', 1000],
    ['zero', 0],
    ['over 2^20', 2 ** 21],
    ['over 2^20 (2^20 + 1)', 2 ** 20 + 1],
    ['over 2^32', 2 ** 32],
    ['NaN', NaN],
    ['-1', -1],
    ['1.5', 1.5],
    ['Infinity', Infinity],
    ['a string', '8'],
    ['undefined', undefined],
  ])('rejects a capacity that is %s with PARAM', (_what, capacity) => {
    expectBug(() => rt.createRing({ capacity } as Loose), { fn: 'createRing', arg: 'options.capacity', ...PARAM, message: /power of two/ });
  });

  it('rejects a non-object options and a non-string name with PARAM', () => {
    expectBug(() => rt.createRing(null as Loose), { fn: 'createRing', arg: 'options', ...PARAM });
    expectBug(() => rt.createRing(8 as Loose), { fn: 'createRing', arg: 'options', ...PARAM });
    expectBug(() => rt.createRing({ capacity: 8, name: 5 } as Loose), { fn: 'createRing', arg: 'options.name', ...PARAM });
  });

  it('reports PARAM with the rule\'s Parameter 1', () => {
    const b = bugCheck(() => rt.createRing({ capacity: 3 }));
    expect(b.parameters[0]).toBe(RULE_P1.PARAM);
    expect(b.parameters[1]).toBe(3);
  });

  it('returns null (no throw) when the memory budget cannot hold the ring', () => {
    const small = createRuntimeSync({ maxMemory: 4 << 20 });
    expect(small.createRing({ capacity: RING_MAX_CAPACITY })).toBeNull();
    const r = small.createRing({ capacity: 8 });
    expect(r).not.toBeNull();
    expect(r!.enqueueBurst(descs([1, 2]))).toBe(2);
  });
});

describe('burst enqueue / dequeue', () => {
  it('copies all five words of every descriptor exactly, in FIFO order', () => {
    const r = mustRing(rt, 8);
    const src = descs([7, 8, 9]);
    expect(r.enqueueBurst(src)).toBe(3);
    expect(held(rt, r)).toEqual([7, 8, 9].map(words));
    const out = new Uint32Array(3 * W);
    expect(r.dequeueBurst(out)).toBe(3);
    expect(out).toEqual(src);
    expect(read(out, 3)).toEqual([words(7), words(8), words(9)]);
    // Extreme word values survive.
    const x = new Uint32Array([0, 0xffffffff, 0x80000000, 0x7fffffff, 1]);
    expect(r.enqueueBurst(x)).toBe(1);
    const y = new Uint32Array(W).fill(0x55555555);
    expect(r.dequeueBurst(y)).toBe(1);
    expect(y).toEqual(x);
  });

  it('enqueue of more than the free slots enqueues the free count; dequeue of more than held returns the count', () => {
    const r = mustRing(rt, 8);
    expect(r.enqueueBurst(descs(range(0, 5)))).toBe(5);
    expect(r.freeCount()).toBe(3);
    expect(r.enqueueBurst(descs(range(100, 6)))).toBe(3); // only 100, 101, 102 fit
    expect(r.count()).toBe(8);
    expect(r.freeCount()).toBe(0);
    expect(r.enqueueBurst(descs([200]))).toBe(0); // full
    expect(held(rt, r)).toEqual([0, 1, 2, 3, 4, 100, 101, 102].map(words));

    const out = new Uint32Array(3 * W);
    expect(r.dequeueBurst(out)).toBe(3);
    expect(read(out, 3)).toEqual([0, 1, 2].map(words));

    const big = new Uint32Array(20 * W).fill(0xdeadbeef);
    expect(r.dequeueBurst(big)).toBe(5);
    expect(read(big, 5)).toEqual([3, 4, 100, 101, 102].map(words));
    // Words past the dequeued descriptors are untouched.
    expect([...big.subarray(5 * W)].every((w) => w === 0xdeadbeef)).toBe(true);
    expect(r.count()).toBe(0);
    expect(r.dequeueBurst(big)).toBe(0); // empty
    expect(r.stats()).toMatchObject({ count: 0, freeCount: 8, enqueued: 8, dequeued: 8, highWater: 8 });
  });

  it('n limits the descriptors used; n omitted means all whole descriptors of the array', () => {
    const r = mustRing(rt, 16);
    const src = descs(range(10, 4), 3); // 4 descriptors + 3 spare words
    expect(r.enqueueBurst(src, 2)).toBe(2);
    expect(held(rt, r)).toEqual([10, 11].map(words));
    expect(r.enqueueBurst(src)).toBe(4); // floor(23 / 5) = 4
    expect(r.count()).toBe(6);
    expect(r.enqueueBurst(src, 0)).toBe(0);
    expect(r.count()).toBe(6);
    const out = new Uint32Array(4 * W + 4).fill(1);
    expect(r.dequeueBurst(out, 1)).toBe(1);
    expect(read(out, 1)).toEqual([words(10)]);
    expect([...out.subarray(W)].every((w) => w === 1)).toBe(true);
    expect(r.dequeueBurst(out, 0)).toBe(0);
    expect(r.dequeueBurst(out)).toBe(4); // floor(24 / 5) = 4
    expect(read(out, 4)).toEqual([11, 10, 11, 12].map(words));
    expect(r.count()).toBe(1);
    expect(held(rt, r)).toEqual([words(13)]);
  });

  it('works in place with u32Batch arrays (enqueue from and dequeue into linear memory)', () => {
    const r = mustRing(rt, 8);
    const src = rt.u32Batch(6 * W);
    fill(src, range(40, 6));
    expect(r.enqueueBurst(src, 4)).toBe(4);
    expect(held(rt, r)).toEqual(range(40, 4).map(words));
    expect(r.enqueueBurst(src)).toBe(4); // 6 offered, 4 free
    expect(held(rt, r)).toEqual([40, 41, 42, 43, 40, 41, 42, 43].map(words));

    const out = rt.u32Batch(10 * W);
    out.fill(0x12345678);
    expect(r.dequeueBurst(out, 3)).toBe(3);
    expect(read(out, 3)).toEqual([40, 41, 42].map(words));
    expect([...out.subarray(3 * W)].every((w) => w === 0x12345678)).toBe(true);
    expect(r.dequeueBurst(out)).toBe(5);
    expect(read(out, 5)).toEqual([43, 40, 41, 42, 43].map(words));
    expect([...out.subarray(5 * W)].every((w) => w === 0x12345678)).toBe(true);
    expect(r.count()).toBe(0);
    // The source batch was not modified.
    expect(read(src, 6)).toEqual(range(40, 6).map(words));
  });

  it('mixes plain and batch arrays (and a batch of another runtime is copied, not used in place)', () => {
    const other = createRuntimeSync();
    const foreign = other.u32Batch(3 * W);
    fill(foreign, [1, 2, 3]);
    const r = mustRing(rt, 4);
    expect(r.enqueueBurst(foreign)).toBe(3);
    expect(r.enqueueBurst(descs([4, 5]))).toBe(1);
    const out = rt.u32Batch(4 * W);
    expect(r.dequeueBurst(out)).toBe(4);
    expect(read(out, 4)).toEqual([1, 2, 3, 4].map(words));
    // A subarray of a batch is not the batch itself: it is copied, with the same result.
    expect(r.enqueueBurst(out.subarray(W), 2)).toBe(2);
    const plain = new Uint32Array(2 * W);
    expect(r.dequeueBurst(plain)).toBe(2);
    expect(read(plain, 2)).toEqual([2, 3].map(words));
  });

  it('a capacity-1 ring alternates one descriptor at a time', () => {
    const r = mustRing(rt, 1);
    const out = new Uint32Array(W);
    for (let i = 0; i < 10; i++) {
      expect(r.enqueueBurst(descs([i, i + 1]))).toBe(1);
      expect(r.enqueueBurst(descs([99]))).toBe(0);
      expect(r.dequeueBurst(out)).toBe(1);
      expect(read(out, 1)).toEqual([words(i)]);
    }
    expect(r.stats()).toMatchObject({ enqueued: 10, dequeued: 10, highWater: 1, count: 0 });
  });
});

describe('bulk enqueue / dequeue: all or nothing', () => {
  it('enqueueBulk of more than the free slots returns 0 and changes nothing', () => {
    const r = mustRing(rt, 8);
    expect(r.enqueueBulk(descs(range(0, 5)))).toBe(5);
    const before = snapshot(rt, r);
    const stats = r.stats();
    expect(r.enqueueBulk(descs(range(50, 4)))).toBe(0);
    expect(snapshot(rt, r)).toEqual(before);
    expect(r.stats()).toEqual(stats);
    expect(r.count()).toBe(5);
    expect(held(rt, r)).toEqual(range(0, 5).map(words));
    // Exactly the free count fits.
    expect(r.enqueueBulk(descs(range(50, 3)))).toBe(3);
    expect(r.count()).toBe(8);
    expect(r.enqueueBulk(descs([9]))).toBe(0);
    expect(held(rt, r)).toEqual([0, 1, 2, 3, 4, 50, 51, 52].map(words));
  });

  it('dequeueBulk of more than held returns 0, changes nothing and leaves out untouched', () => {
    const r = mustRing(rt, 8);
    expect(r.enqueueBulk(descs(range(0, 3)))).toBe(3);
    const before = snapshot(rt, r);
    const stats = r.stats();
    const out = new Uint32Array(4 * W).fill(0xabcdabcd);
    expect(r.dequeueBulk(out)).toBe(0);
    expect([...out].every((w) => w === 0xabcdabcd)).toBe(true);
    const batch = rt.u32Batch(4 * W).fill(0xabcdabcd);
    expect(r.dequeueBulk(batch)).toBe(0);
    expect([...batch].every((w) => w === 0xabcdabcd)).toBe(true);
    expect(snapshot(rt, r)).toEqual(before);
    expect(r.stats()).toEqual(stats);
    expect(r.dequeueBulk(out, 3)).toBe(3);
    expect(read(out, 3)).toEqual(range(0, 3).map(words));
    expect(out[3 * W]).toBe(0xabcdabcd);
    expect(r.count()).toBe(0);
    expect(r.dequeueBulk(out, 1)).toBe(0);
  });

  it('bulk calls with batch arrays', () => {
    const r = mustRing(rt, 4);
    const src = fill(rt.u32Batch(5 * W), range(1, 5));
    expect(r.enqueueBulk(src)).toBe(0); // 5 > 4
    expect(r.count()).toBe(0);
    expect(r.stats().enqueued).toBe(0);
    expect(r.enqueueBulk(src, 4)).toBe(4);
    const out = rt.u32Batch(4 * W);
    expect(r.dequeueBulk(out, 2)).toBe(2);
    expect(read(out, 2)).toEqual([1, 2].map(words));
    expect(r.dequeueBulk(out, 3)).toBe(0);
    expect(r.dequeueBulk(out, 2)).toBe(2);
    expect(read(out, 2)).toEqual([3, 4].map(words));
  });
});

describe('count, freeCount, highWater, stats', () => {
  it('track the totals and the most ever held', () => {
    const r = mustRing(rt, 16, 'rx');
    const out = new Uint32Array(16 * W);
    r.enqueueBurst(descs(range(0, 10)));
    expect(r.highWater()).toBe(10);
    r.dequeueBurst(out, 7);
    expect(r.highWater()).toBe(10);
    r.enqueueBurst(descs(range(0, 9)));
    expect(r.count()).toBe(12);
    expect(r.highWater()).toBe(12);
    r.enqueueBulk(descs(range(0, 5))); // refused: 4 free
    r.dequeueBulk(out, 13); // refused: 12 held
    expect(r.stats()).toEqual({ name: 'rx', capacity: 16, count: 12, freeCount: 4, highWater: 12, enqueued: 19, dequeued: 7 });
    r.enqueueBurst(descs(range(0, 9))); // 4 fit
    r.dequeueBurst(out);
    expect(r.stats()).toEqual({ name: 'rx', capacity: 16, count: 0, freeCount: 16, highWater: 16, enqueued: 23, dequeued: 23 });
  });

  it('the u64 enqueued/dequeued totals carry past 2^32', () => {
    const r = mustRing(rt, 8);
    const b = headerOf(r);
    dv(rt).setUint32(b + RING_HEADER.Enqueued, 0xfffffffe, true);
    dv(rt).setUint32(b + RING_HEADER.Dequeued, 0xffffffff, true);
    r.enqueueBurst(descs(range(0, 3)));
    r.dequeueBurst(new Uint32Array(2 * W));
    expect(r.stats().enqueued).toBe(2 ** 32 + 1);
    expect(r.stats().dequeued).toBe(2 ** 32 + 1);
    expect(dv(rt).getUint32(b + RING_HEADER.Enqueued + 4, true)).toBe(1);
  });

  it('separate rings have separate state', () => {
    const a = mustRing(rt, 4);
    const b = mustRing(rt, 4);
    a.enqueueBurst(descs([1, 2, 3]));
    b.enqueueBurst(descs([9]));
    expect(a.count()).toBe(3);
    expect(b.count()).toBe(1);
    const out = new Uint32Array(W);
    b.dequeueBurst(out);
    expect(read(out, 1)).toEqual([words(9)]);
    expect(held(rt, a)).toEqual([1, 2, 3].map(words));
  });
});

describe('wrap-around of the free-running u32 indices', () => {
  it('enqueues and dequeues across 2^32 and across the slot wrap (indices start at 0xFFFFFFF0)', () => {
    const r = mustRing(rt, 8);
    setIndices(rt, r, 0xfffffff0, 0xfffffff0);
    expect(r.count()).toBe(0);
    const model: number[] = [];
    let next = 0;
    const out = new Uint32Array(8 * W);
    let enq = 0;
    for (let round = 0; round < 12; round++) {
      const ids = range(next, 5);
      const k = r.enqueueBurst(descs(ids));
      expect(k).toBe(Math.min(5, 8 - model.length));
      model.push(...ids.slice(0, k));
      next += 5;
      enq += k;
      expect(r.count()).toBe(model.length);
      expect(held(rt, r)).toEqual(model.map(words));
      const d = r.dequeueBurst(out, 3);
      expect(d).toBe(3);
      expect(read(out, 3)).toEqual(model.splice(0, 3).map(words));
      expect(r.count()).toBe(model.length);
      expect(r.freeCount()).toBe(8 - model.length);
    }
    const [prod, cons] = indices(rt, r);
    expect(prod).toBe((0xfffffff0 + enq) >>> 0);
    expect(prod).toBeLessThan(0x100); // wrapped
    expect(cons).toBe((0xfffffff0 + 36) >>> 0);
    expect(r.dequeueBurst(out)).toBe(model.length);
    expect(read(out, model.length)).toEqual(model.map(words));
  });

  it('counts correctly while prod has wrapped and cons has not', () => {
    const r = mustRing(rt, 32);
    setIndices(rt, r, 0xfffffff0, 0xfffffff0);
    expect(r.enqueueBurst(descs(range(0, 20)))).toBe(20);
    const [prod, cons] = indices(rt, r);
    expect(prod).toBe(4);
    expect(cons).toBe(0xfffffff0);
    expect(r.count()).toBe(20);
    expect(r.freeCount()).toBe(12);
    expect(r.highWater()).toBe(20);
    expect(r.enqueueBulk(descs(range(20, 13)))).toBe(0);
    expect(r.enqueueBurst(descs(range(20, 20)))).toBe(12);
    expect(r.count()).toBe(32);
    expect(r.dequeueBulk(new Uint32Array(33 * W))).toBe(0);
    const out = new Uint32Array(32 * W);
    expect(r.dequeueBulk(out, 32)).toBe(32);
    expect(read(out, 32)).toEqual(range(0, 32).map(words));
    expect(indices(rt, r)).toEqual([16, 16]);
  });

  it('splits a burst across the slot wrap at capacity (indices 0xFFFFFFFD, slot 5 of 8) with batch arrays', () => {
    const r = mustRing(rt, 8);
    setIndices(rt, r, 0xfffffffd, 0xfffffffd);
    const src = fill(rt.u32Batch(8 * W), range(300, 8));
    expect(r.enqueueBulk(src, 7)).toBe(7); // slots 5, 6, 7, 0, 1, 2, 3
    // Raw slot check: descriptor 300 sits in slot 5, 303 in slot 0.
    const u = new Uint32Array(rt.memory.buffer);
    const slotAt = (s: number) => [...u.subarray((headerOf(r) + RING_HEADER.Descriptors + s * W * 4) >>> 2, ((headerOf(r) + RING_HEADER.Descriptors + s * W * 4) >>> 2) + W)];
    expect(slotAt(5)).toEqual(words(300));
    expect(slotAt(7)).toEqual(words(302));
    expect(slotAt(0)).toEqual(words(303));
    expect(slotAt(3)).toEqual(words(306));
    const out = rt.u32Batch(8 * W);
    expect(r.dequeueBulk(out, 7)).toBe(7);
    expect(read(out, 7)).toEqual(range(300, 7).map(words));
    expect(indices(rt, r)).toEqual([4, 4]);
    expect(r.count()).toBe(0);
  });
});

describe('errors: destroyed rings, reset, bad arguments', () => {
  const methods: [string, (r: DescriptorRing) => unknown][] = [
    ['enqueueBurst', (r) => r.enqueueBurst(descs([1]))],
    ['dequeueBurst', (r) => r.dequeueBurst(new Uint32Array(W))],
    ['enqueueBulk', (r) => r.enqueueBulk(descs([1]))],
    ['dequeueBulk', (r) => r.dequeueBulk(new Uint32Array(W))],
    ['count', (r) => r.count()],
    ['freeCount', (r) => r.freeCount()],
    ['highWater', (r) => r.highWater()],
    ['stats', (r) => r.stats()],
    ['destroy', (r) => r.destroy()],
  ];

  it.each(methods)('%s on a destroyed ring is a bug check', (_name, call) => {
    const r = mustRing(rt, 8);
    r.enqueueBurst(descs([1, 2]));
    r.destroy();
    expect(r.handle).toBe(0);
    const b = bugCheck(() => call(r));
    expect(b.code).toBe(BUGCODE_BAD_POOL_CALLER);
    expect(b.rule).toBe('ALT-POOL');
    expect(b.message).toMatch(/destroyed/);
  });

  it.each(methods)('%s on a destroyed ring names that method in the bug check', (name, call) => {
    const r = mustRing(rt, 8);
    r.destroy();
    expect(bugCheck(() => call(r)).function).toBe(`DescriptorRing.${name}`);
  });

  it.each(methods)('%s on a ring freed by runtime.reset() is a bug check', (_name, call) => {
    const r = mustRing(rt, 8);
    r.enqueueBurst(descs([1]));
    rt.reset();
    const b = bugCheck(() => call(r));
    expect(b.code).toBe(BUGCODE_BAD_POOL_CALLER);
    expect(b.rule).toBe('ALT-POOL');
    expect(b.message).toMatch(/reset/);
  });

  it('a ring from before reset stays dead even when a new ring reuses its address', () => {
    const old = mustRing(rt, 8);
    const h = old.handle;
    rt.reset();
    const fresh = mustRing(rt, 8);
    expect(fresh.handle).toBe(h); // same slot reused (the check below relies on the epoch, not the address)
    bugCheck(() => old.enqueueBurst(descs([1])));
    bugCheck(() => old.destroy());
    expect(fresh.count()).toBe(0);
    expect(fresh.enqueueBurst(descs([5]))).toBe(1);
    expect(held(rt, fresh)).toEqual([words(5)]);
  });

  it('a destroyed ring leaves other rings working', () => {
    const a = mustRing(rt, 8);
    const b = mustRing(rt, 8);
    b.enqueueBurst(descs([1, 2]));
    a.destroy();
    expect(b.count()).toBe(2);
    const c = mustRing(rt, 8);
    expect(c.count()).toBe(0); // a new ring is empty even on reused memory
    expect(c.highWater()).toBe(0);
    expect(c.stats().enqueued).toBe(0);
  });

  it('a forged handle is a bug check and changes nothing', () => {
    const r = mustRing(rt, 8);
    r.enqueueBurst(descs([1, 2]));
    const h = r.handle;
    const before = snapshot(rt, r);
    for (const forged of [h + 8, h + 64, 12345, 0x7fff0000]) {
      (r as Loose).handle = forged;
      const b = bugCheck(() => r.enqueueBurst(descs([3])));
      expect(b.code).toBe(BUGCODE_BAD_POOL_CALLER);
      bugCheck(() => r.dequeueBurst(new Uint32Array(W)));
    }
    (r as Loose).handle = h;
    expect(snapshot(rt, r)).toEqual(before);
    expect(r.count()).toBe(2);
  });

  it('a descriptor array too short for n is PARAM and changes nothing', () => {
    const r = mustRing(rt, 8);
    r.enqueueBurst(descs([1, 2, 3]));
    const before = snapshot(rt, r);
    const calls: [string, string, () => unknown][] = [
      ['enqueueBurst', 'src', () => r.enqueueBurst(descs([9, 9]), 3)],
      ['enqueueBulk', 'src', () => r.enqueueBulk(new Uint32Array(2 * W + 4), 3)],
      ['dequeueBurst', 'out', () => r.dequeueBurst(new Uint32Array(W), 2)],
      ['dequeueBulk', 'out', () => r.dequeueBulk(new Uint32Array(4), 1)],
      ['enqueueBurst', 'src', () => r.enqueueBurst(rt.u32Batch(4), 1)],
      ['dequeueBurst', 'out', () => r.dequeueBurst(rt.u32Batch(9), 2)],
    ];
    for (const [fn, arg, call] of calls) expectBug(call, { fn: `DescriptorRing.${fn}`, arg, ...PARAM });
    expect(snapshot(rt, r)).toEqual(before);
    expect(r.stats()).toMatchObject({ count: 3, enqueued: 3, dequeued: 0 });
  });

  it('a failed dequeue leaves the out array untouched', () => {
    const r = mustRing(rt, 8);
    r.enqueueBurst(descs([1, 2, 3]));
    const out = new Uint32Array(W).fill(7);
    bugCheck(() => r.dequeueBurst(out, 2));
    expect([...out]).toEqual([7, 7, 7, 7, 7]);
    const batch = rt.u32Batch(W).fill(7);
    bugCheck(() => r.dequeueBulk(batch, 2));
    expect([...batch]).toEqual([7, 7, 7, 7, 7]);
  });

  it.each([
    ['a plain array', () => [1, 2, 3, 4, 5]],
    ['an Int32Array', () => new Int32Array(5)],
    ['a Uint8Array', () => new Uint8Array(20)],
    ['an ArrayBuffer', () => new ArrayBuffer(20)],
    ['null', () => null],
    ['undefined', () => undefined],
    ['a number', () => 5],
  ])('a descriptor array that is %s is PARAM and changes nothing', (_what, make) => {
    const r = mustRing(rt, 8);
    r.enqueueBurst(descs([1]));
    const before = snapshot(rt, r);
    expectBug(() => r.enqueueBurst(make() as Loose, 1), { fn: 'DescriptorRing.enqueueBurst', arg: 'src', ...PARAM });
    expectBug(() => r.enqueueBulk(make() as Loose, 1), { fn: 'DescriptorRing.enqueueBulk', arg: 'src', ...PARAM });
    expectBug(() => r.dequeueBurst(make() as Loose, 1), { fn: 'DescriptorRing.dequeueBurst', arg: 'out', ...PARAM });
    expectBug(() => r.dequeueBulk(make() as Loose), { fn: 'DescriptorRing.dequeueBulk', arg: 'out', ...PARAM });
    expect(snapshot(rt, r)).toEqual(before);
  });

  it.each([
    ['-1', -1],
    ['1.5', 1.5],
    ['NaN', NaN],
    ['2^20 + 1', 2 ** 20 + 1],
    ['a string', '1'],
  ])('a count n that is %s is PARAM and changes nothing', (_what, n) => {
    const r = mustRing(rt, 8);
    r.enqueueBurst(descs([1]));
    const before = snapshot(rt, r);
    const big = new Uint32Array(10 * W);
    expectBug(() => r.enqueueBurst(big, n as Loose), { fn: 'DescriptorRing.enqueueBurst', arg: 'n', ...PARAM });
    expectBug(() => r.dequeueBulk(big, n as Loose), { fn: 'DescriptorRing.dequeueBulk', arg: 'n', ...PARAM });
    expect(snapshot(rt, r)).toEqual(before);
  });
});

describe('property: random ring operations match a JS array model', () => {
  type Op = { kind: 'enqBurst' | 'enqBulk' | 'deqBurst' | 'deqBulk'; n: number; batch: boolean };
  const op: fc.Arbitrary<Op> = fc.record({
    kind: fc.constantFrom('enqBurst', 'enqBulk', 'deqBurst', 'deqBulk'),
    n: fc.integer({ min: 0, max: 80 }),
    batch: fc.boolean(),
  }) as fc.Arbitrary<Op>;

  it('contents, counts and counters after every step', () => {
    const prt = createRuntimeSync();
    const srcBatch = prt.u32Batch(80 * W);
    const outBatch = prt.u32Batch(80 * W);
    const t0 = Date.now();
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 6 }),
        fc.option(fc.integer({ min: 0xffffff00, max: 0xffffffff }), { nil: undefined }),
        fc.array(op, { minLength: 1, maxLength: 40 }),
        (k, start, ops) => {
          const cap = 2 ** k;
          const r = prt.createRing({ capacity: cap })!;
          expect(r).not.toBeNull();
          try {
            if (start !== undefined) setIndices(prt, r, start, start);
            const model: number[] = [];
            let next = 1;
            let enq = 0;
            let deq = 0;
            let hw = 0;
            for (const o of ops) {
              if (o.kind === 'enqBurst' || o.kind === 'enqBulk') {
                const ids = range(next, o.n);
                next += o.n;
                const src = o.batch ? fill(srcBatch, ids) : descs(ids, 2);
                const got = o.kind === 'enqBurst' ? r.enqueueBurst(src, o.n) : r.enqueueBulk(src, o.n);
                const free = cap - model.length;
                const want = o.kind === 'enqBurst' ? Math.min(o.n, free) : o.n <= free ? o.n : 0;
                expect(got).toBe(want);
                model.push(...ids.slice(0, got));
                enq += got;
              } else {
                const out = o.batch ? outBatch.fill(0) : new Uint32Array(o.n * W);
                const got = o.kind === 'deqBurst' ? r.dequeueBurst(out, o.n) : r.dequeueBulk(out, o.n);
                const want = o.kind === 'deqBurst' ? Math.min(o.n, model.length) : o.n <= model.length ? o.n : 0;
                expect(got).toBe(want);
                expect(read(out, got)).toEqual(model.splice(0, got).map(words));
                deq += got;
              }
              hw = Math.max(hw, model.length);
              expect(r.count()).toBe(model.length);
              expect(r.freeCount()).toBe(cap - model.length);
              expect(held(prt, r)).toEqual(model.map(words));
              expect(r.stats()).toEqual({ name: 'ring', capacity: cap, count: model.length, freeCount: cap - model.length, highWater: hw, enqueued: enq, dequeued: deq });
            }
          } finally {
            r.destroy();
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
