/**
 * SharedRing (src/xring.ts over assembly/xring.ts): cross-worker descriptor rings with DPDK
 * rte_ring semantics.
 *
 * One thread: the header, bulk (all or nothing) and burst (as many as possible) calls, FIFO
 * order and exact copies, counters, the single-descriptor calls, wrap-around of the free-running
 * u32 indices at 2^32, a model-based property test over every mode (SP/MP x SC/MC), argument and
 * handle errors (every failed call changes nothing), dequeueWait / dequeueAsync without workers.
 *
 * Several workers (node:worker_threads on one multi-worker runtime; scripts in test/workers/):
 * 2 producers x 2 consumers moving 10^6 descriptors through an MPMC ring (per-producer order,
 * no loss, no duplicate, no torn copy), the same on an 8-slot ring whose indices wrap at 2^32
 * during the run, an SPSC pipeline source -> relay -> sink, blocking waits woken across workers
 * (and by destroy), and a linearizability check of recorded concurrent histories against a
 * sequential FIFO (fast-check generates the per-worker scripts).
 */
import { describe, it, expect, beforeEach, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { Worker } from 'node:worker_threads';
import { createRuntime, createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import {
  createSharedRing, openSharedRing, SHARED_RING_HEADER as H, SHARED_RING_FLAGS, SHARED_RING_MAX_CAPACITY,
  type SharedRing, type SharedRingOptions,
} from '../build/ts/xring.js';
import { RING_DESCRIPTOR } from '../build/ts/ring.js';
import { NdisBugCheck, BUGCODE_BAD_POOL_CALLER, BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION } from '../build/ts/errors.js';
import { bugCheck, expectBug, row, descWords as words, descs, fillDescs as fill, type Loose } from './helpers.js';

const W = RING_DESCRIPTOR.WORDS;
const PARAM = { code: BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION, rule: 'PARAM' };
type Mode = 'single' | 'multi';
const MODES: [Mode, Mode][] = [['multi', 'multi'], ['single', 'single'], ['single', 'multi'], ['multi', 'single']];

/** The ids of the first n descriptors of `a` (-1 for a descriptor whose words do not match). */
function ids(a: Uint32Array, n: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    const id = (a[i * W + 4]! ^ 0xffffffff) >>> 0;
    return words(id).every((w, j) => a[i * W + j] === w) ? id : -1;
  });
}
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

function mustRing(rt: NdisRuntime, options: SharedRingOptions): SharedRing {
  const r = createSharedRing(rt, options);
  expect(r).not.toBeNull();
  return r!;
}
const headerOf = (r: SharedRing) => (r.handle + 63) & ~63;
const dv = (rt: NdisRuntime) => new DataView(rt.memory.buffer);
const hdr = (rt: NdisRuntime, r: SharedRing, off: number) => dv(rt).getUint32(headerOf(r) + off, true);

/** Sets all four indices of an empty ring to `v` (to test the wrap at 2^32). */
function setIndices(rt: NdisRuntime, r: SharedRing, v: number): void {
  for (const off of [H.ProdHead, H.ProdTail, H.ConsHead, H.ConsTail]) dv(rt).setUint32(headerOf(r) + off, v, true);
}
function indices(rt: NdisRuntime, r: SharedRing): number[] {
  return [H.ProdHead, H.ProdTail, H.ConsHead, H.ConsTail].map((off) => hdr(rt, r, off));
}
/** Header and descriptor area (to prove a failed call changed nothing). */
function snapshot(rt: NdisRuntime, r: SharedRing): Uint8Array {
  return new Uint8Array(rt.memory.buffer, headerOf(r), H.Descriptors + r.capacity * W * 4).slice();
}
/** The ids held (cons.tail .. prod.tail), read from memory without dequeuing. */
function held(rt: NdisRuntime, r: SharedRing): number[] {
  const [, prod, , cons] = indices(rt, r);
  const n = (prod! - cons!) >>> 0;
  const u = new Uint32Array(rt.memory.buffer);
  const out = new Uint32Array(n * W);
  for (let i = 0; i < n; i++) {
    const slot = ((cons! + i) >>> 0) & (r.capacity - 1);
    const at = (headerOf(r) + H.Descriptors + slot * W * 4) >>> 2;
    out.set(u.subarray(at, at + W), i * W);
  }
  return ids(out, n);
}

// ---------------------------------------------------------------------------------------------------
// One thread
// ---------------------------------------------------------------------------------------------------

let rt: NdisRuntime;
beforeEach(() => {
  rt = createRuntimeSync();
});

describe('createSharedRing', () => {
  it.each(MODES)('creates an empty ring (producers %s, consumers %s) with its header initialised', (producers, consumers) => {
    const r = mustRing(rt, { capacity: 16, producers, consumers });
    expect(r.capacity).toBe(16);
    expect(r.producers).toBe(producers);
    expect(r.consumers).toBe(consumers);
    expect(r.handle).toBeGreaterThanOrEqual(65536);
    expect(r.count).toBe(0);
    expect(r.free).toBe(16);
    expect(r.stats()).toEqual({
      capacity: 16, producers, consumers, count: 0, free: 16, highWater: 0, enqueued: 0, dequeued: 0, consumersWaiting: 0, producersWaiting: 0,
    });
    const b = headerOf(r);
    expect(b % 64).toBe(0);
    const mode = (producers === 'single' ? SHARED_RING_FLAGS.SP : 0) | (consumers === 'single' ? SHARED_RING_FLAGS.SC : 0);
    expect(hdr(rt, r, H.Flags)).toBe((SHARED_RING_FLAGS.MAGIC | mode) >>> 0);
    expect(hdr(rt, r, H.Capacity)).toBe(16);
    expect(hdr(rt, r, H.Mask)).toBe(15);
    expect(indices(rt, r)).toEqual([0, 0, 0, 0]);
  });

  it('defaults to multi-producer / multi-consumer; each index sits on its own 64-byte line', () => {
    const r = mustRing(rt, { capacity: 4 });
    expect([r.producers, r.consumers]).toEqual(['multi', 'multi']);
    const lines = [H.Flags, H.ProdHead, H.ProdTail, H.ConsHead, H.ConsTail, H.ConsWaiters, H.Descriptors].map((o) => o >> 6);
    expect(new Set(lines).size).toBe(lines.length);
    for (const o of [H.ProdHead, H.ProdTail, H.ConsHead, H.ConsTail, H.Descriptors]) expect(o % 64).toBe(0);
  });

  it('accepts every power of two from 1 to 2^20; a 2^20 ring holds 2^20 descriptors', () => {
    for (let k = 0; k <= 20; k++) {
      const r = mustRing(rt, { capacity: 2 ** k, producers: k % 2 ? 'single' : 'multi' });
      expect(r.free).toBe(2 ** k);
      if (k === 20) {
        const a = new Uint32Array(SHARED_RING_MAX_CAPACITY * W);
        for (let i = 0; i < a.length; i++) a[i] = Math.imul(i, 2654435761) >>> 0;
        expect(r.enqueueBulk(a)).toBe(SHARED_RING_MAX_CAPACITY);
        expect(r.enqueueBurst(descs([1]))).toBe(0);
        const out = new Uint32Array(a.length);
        expect(r.dequeueBulk(out)).toBe(SHARED_RING_MAX_CAPACITY);
        let diff = -1;
        for (let i = 0; i < a.length && diff < 0; i++) if (out[i] !== a[i]) diff = i;
        expect(diff).toBe(-1);
      }
      r.destroy();
    }
  });

  it('is tagged memory of the Ring tag (poolmon counts it), and destroy gives it back', () => {
    const before = row(rt, 'Ring', 'Ring')?.outstanding ?? 0;
    const a = mustRing(rt, { capacity: 64 });
    const b = mustRing(rt, { capacity: 8, producers: 'single' });
    const plain = rt.createRing({ capacity: 8 })!;
    expect(row(rt, 'Ring', 'Ring')!.outstanding).toBe(before + 3);
    a.destroy();
    b.destroy();
    plain.destroy();
    expect(row(rt, 'Ring', 'Ring')!.outstanding).toBe(before);
  });

  it.each([
    ['not a power of two', 3], ['not a power of two', 1000], ['zero', 0], ['over 2^20', 2 ** 21], ['over 2^32', 2 ** 32],
    ['NaN', NaN], ['-1', -1], ['1.5', 1.5], ['Infinity', Infinity], ['a string', '8'], ['undefined', undefined],
  ])('rejects a capacity that is %s with PARAM', (_what, capacity) => {
    expectBug(() => createSharedRing(rt, { capacity } as Loose), { fn: 'createSharedRing', arg: 'options.capacity', ...PARAM, message: /power of two/ });
  });

  it('rejects bad modes, options and runtimes with PARAM', () => {
    for (const producers of ['many', 'SP', 1, null, true]) {
      expectBug(() => createSharedRing(rt, { capacity: 8, producers } as Loose), { fn: 'createSharedRing', arg: 'options.producers', ...PARAM });
    }
    expectBug(() => createSharedRing(rt, { capacity: 8, consumers: 'one' } as Loose), { fn: 'createSharedRing', arg: 'options.consumers', ...PARAM });
    expectBug(() => createSharedRing(rt, null as Loose), { fn: 'createSharedRing', arg: 'options', ...PARAM });
    expectBug(() => createSharedRing(rt, 8 as Loose), { fn: 'createSharedRing', arg: 'options', ...PARAM });
    expectBug(() => createSharedRing(null as Loose, { capacity: 8 }), { fn: 'createSharedRing', arg: 'runtime', ...PARAM });
    expectBug(() => openSharedRing({} as Loose, 65536), { fn: 'openSharedRing', arg: 'runtime', ...PARAM });
  });

  it('returns null (no throw) when the memory budget cannot hold the ring', () => {
    const small = createRuntimeSync({ maxMemory: 4 << 20 });
    expect(createSharedRing(small, { capacity: SHARED_RING_MAX_CAPACITY })).toBeNull();
    const r = createSharedRing(small, { capacity: 8 });
    expect(r!.enqueueBurst(descs([1, 2]))).toBe(2);
  });
});

describe('burst and bulk', () => {
  it.each(MODES)('burst moves as many as fit / are held, in FIFO order, exact copies (%s/%s)', (producers, consumers) => {
    const r = mustRing(rt, { capacity: 8, producers, consumers });
    expect(r.enqueueBurst(descs(range(0, 5)))).toBe(5);
    expect(r.enqueueBurst(descs(range(100, 6)))).toBe(3); // 3 free
    expect(r.enqueueBurst(descs([200]))).toBe(0); // full
    expect(r.count).toBe(8);
    expect(held(rt, r)).toEqual([0, 1, 2, 3, 4, 100, 101, 102]);
    const out = new Uint32Array(20 * W).fill(0xdeadbeef);
    expect(r.dequeueBurst(out, 3)).toBe(3);
    expect(ids(out, 3)).toEqual([0, 1, 2]);
    expect(r.dequeueBurst(out)).toBe(5);
    expect(ids(out, 5)).toEqual([3, 4, 100, 101, 102]);
    expect([...out.subarray(5 * W)].every((w) => w === 0xdeadbeef)).toBe(true);
    expect(r.dequeueBurst(out)).toBe(0); // empty
    expect(r.stats()).toMatchObject({ count: 0, free: 8, enqueued: 8, dequeued: 8, highWater: 8 });
    // Extreme word values survive.
    const x = new Uint32Array([0, 0xffffffff, 0x80000000, 0x7fffffff, 1]);
    expect(r.enqueueBurst(x)).toBe(1);
    const y = new Uint32Array(W);
    expect(r.dequeueBurst(y)).toBe(1);
    expect(y).toEqual(x);
  });

  it.each(MODES)('bulk moves all or nothing and a refused call changes nothing (%s/%s)', (producers, consumers) => {
    const r = mustRing(rt, { capacity: 8, producers, consumers });
    expect(r.enqueueBulk(descs(range(0, 5)))).toBe(5);
    const before = snapshot(rt, r);
    const stats = r.stats();
    expect(r.enqueueBulk(descs(range(50, 4)))).toBe(0); // 3 free
    const out = new Uint32Array(6 * W).fill(0xabcdabcd);
    expect(r.dequeueBulk(out)).toBe(0); // 5 held
    expect([...out].every((w) => w === 0xabcdabcd)).toBe(true);
    expect(snapshot(rt, r)).toEqual(before);
    expect(r.stats()).toEqual(stats);
    expect(r.enqueueBulk(descs(range(50, 3)))).toBe(3); // exactly the free count
    expect(r.enqueueBulk(descs([9]))).toBe(0);
    expect(r.dequeueBulk(out, 6)).toBe(6);
    expect(ids(out, 6)).toEqual([0, 1, 2, 3, 4, 50]);
    expect(r.dequeueBulk(out, 3)).toBe(0);
    expect(r.dequeueBulk(out, 2)).toBe(2);
    expect(ids(out, 2)).toEqual([51, 52]);
    // n larger than the ring: bulk can never succeed, burst takes what is there.
    expect(r.enqueueBulk(descs(range(0, 9)))).toBe(0);
    expect(r.enqueueBurst(descs(range(0, 9)))).toBe(8);
  });

  it('n limits the descriptors used; n omitted means all whole descriptors; n 0 moves nothing', () => {
    const r = mustRing(rt, { capacity: 16 });
    const src = descs(range(10, 4), 3);
    expect(r.enqueueBurst(src, 2)).toBe(2);
    expect(r.enqueueBulk(src)).toBe(4); // floor(23 / 5)
    expect(r.enqueueBurst(src, 0)).toBe(0);
    expect(r.enqueueBulk(src, 0)).toBe(0);
    expect(held(rt, r)).toEqual([10, 11, 10, 11, 12, 13]);
    const out = new Uint32Array(4 * W + 4);
    expect(r.dequeueBulk(out, 0)).toBe(0);
    expect(r.dequeueBurst(out)).toBe(4);
    expect(ids(out, 4)).toEqual([10, 11, 10, 11]);
    expect(r.stats()).toMatchObject({ enqueued: 6, dequeued: 4, count: 2 });
  });

  it('works in place with u32Batch arrays, and copies other arrays (a foreign batch, a subarray)', () => {
    const r = mustRing(rt, { capacity: 8, producers: 'single', consumers: 'single' });
    const src = fill(rt.u32Batch(6 * W), range(40, 6));
    expect(r.enqueueBurst(src, 4)).toBe(4);
    expect(r.enqueueBulk(src, 4)).toBe(4);
    const out = rt.u32Batch(10 * W).fill(0x12345678);
    expect(r.dequeueBurst(out, 3)).toBe(3);
    expect(ids(out, 3)).toEqual([40, 41, 42]);
    expect(r.dequeueBulk(out, 5)).toBe(5);
    expect(ids(out, 5)).toEqual([43, 40, 41, 42, 43]);
    expect(out[5 * W]).toBe(0x12345678);
    const other = createRuntimeSync();
    expect(r.enqueueBurst(fill(other.u32Batch(2 * W), [7, 8]))).toBe(2);
    expect(r.enqueueBurst(src.subarray(W), 2)).toBe(2);
    expect(r.dequeueBurst(out)).toBe(4);
    expect(ids(out, 4)).toEqual([7, 8, 41, 42]);
  });

  it('enqueue / dequeue move one descriptor (the n = 1 bulk call)', () => {
    const r = mustRing(rt, { capacity: 2 });
    expect(r.enqueue(words(1))).toBe(true);
    expect(r.enqueue(new Uint32Array(words(2)))).toBe(true);
    expect(r.enqueue(words(3))).toBe(false); // full
    const d = r.dequeue();
    expect(d).toBeInstanceOf(Uint32Array);
    expect([...d!]).toEqual(words(1));
    const out = new Uint32Array(7).fill(9);
    expect(r.dequeue(out)).toBe(out);
    expect([...out]).toEqual([...words(2), 9, 9]);
    expect(r.dequeue()).toBeNull();
    expect(r.stats()).toMatchObject({ enqueued: 2, dequeued: 2, highWater: 2 });
  });

  it('counters: totals, highWater (most held after any enqueue), count and free', () => {
    const r = mustRing(rt, { capacity: 16, producers: 'single' });
    const out = new Uint32Array(16 * W);
    r.enqueueBurst(descs(range(0, 10)));
    r.dequeueBurst(out, 7);
    r.enqueueBurst(descs(range(0, 9)));
    expect(r.stats()).toMatchObject({ count: 12, free: 4, highWater: 12, enqueued: 19, dequeued: 7 });
    r.enqueueBulk(descs(range(0, 5))); // refused
    r.dequeueBulk(out, 13); // refused
    expect(r.stats()).toMatchObject({ count: 12, highWater: 12, enqueued: 19, dequeued: 7 });
    r.enqueueBurst(descs(range(0, 9))); // 4 fit
    r.dequeueBurst(out);
    expect(r.stats()).toMatchObject({ count: 0, free: 16, highWater: 16, enqueued: 23, dequeued: 23 });
  });

  it('the u64 totals carry past 2^32', () => {
    const r = mustRing(rt, { capacity: 8 });
    dv(rt).setUint32(headerOf(r) + H.Enqueued, 0xfffffffe, true);
    dv(rt).setUint32(headerOf(r) + H.Dequeued, 0xffffffff, true);
    r.enqueueBurst(descs(range(0, 3)));
    r.dequeueBurst(new Uint32Array(2 * W));
    expect(r.stats()).toMatchObject({ enqueued: 2 ** 32 + 1, dequeued: 2 ** 32 + 1 });
  });

  it('openSharedRing gives a second object on the same ring (same state, same modes)', () => {
    const a = mustRing(rt, { capacity: 8, producers: 'single', consumers: 'multi' });
    const b = openSharedRing(rt, a.handle);
    expect([b.handle, b.capacity, b.producers, b.consumers]).toEqual([a.handle, 8, 'single', 'multi']);
    a.enqueueBurst(descs([1, 2, 3]));
    const out = new Uint32Array(2 * W);
    expect(b.dequeueBurst(out)).toBe(2);
    expect(ids(out, 2)).toEqual([1, 2]);
    expect(a.count).toBe(1);
  });
});

describe('wrap-around of the free-running u32 indices', () => {
  it.each(MODES)('crosses 2^32 and the slot wrap (indices start at 0xFFFFFFF0; %s/%s)', (producers, consumers) => {
    const r = mustRing(rt, { capacity: 8, producers, consumers });
    setIndices(rt, r, 0xfffffff0);
    const model: number[] = [];
    const out = new Uint32Array(8 * W);
    let next = 0;
    let enq = 0;
    let deq = 0;
    for (let round = 0; round < 12; round++) {
      const k = r.enqueueBurst(descs(range(next, 5)));
      expect(k).toBe(Math.min(5, 8 - model.length));
      model.push(...range(next, k));
      next += 5;
      enq += k;
      expect(held(rt, r)).toEqual(model);
      expect(r.dequeueBurst(out, 3)).toBe(3);
      expect(ids(out, 3)).toEqual(model.splice(0, 3));
      deq += 3;
      expect(r.count).toBe(model.length);
    }
    const [ph, pt, ch, ct] = indices(rt, r);
    expect([ph, pt]).toEqual([(0xfffffff0 + enq) >>> 0, (0xfffffff0 + enq) >>> 0]);
    expect([ch, ct]).toEqual([(0xfffffff0 + deq) >>> 0, (0xfffffff0 + deq) >>> 0]);
    expect(pt).toBeLessThan(0x100); // wrapped
    expect(r.stats()).toMatchObject({ enqueued: enq, dequeued: deq, highWater: 8 });
  });

  it('counts correctly while prod has wrapped and cons has not; bulk and burst agree with the count', () => {
    const r = mustRing(rt, { capacity: 32 });
    setIndices(rt, r, 0xfffffff0);
    expect(r.enqueueBurst(descs(range(0, 20)))).toBe(20);
    expect(indices(rt, r)).toEqual([4, 4, 0xfffffff0, 0xfffffff0]);
    expect([r.count, r.free]).toEqual([20, 12]);
    expect(r.enqueueBulk(descs(range(20, 13)))).toBe(0);
    expect(r.enqueueBurst(descs(range(20, 20)))).toBe(12);
    expect(r.dequeueBulk(new Uint32Array(33 * W))).toBe(0);
    const out = new Uint32Array(32 * W);
    expect(r.dequeueBulk(out, 32)).toBe(32);
    expect(ids(out, 32)).toEqual(range(0, 32));
    expect(indices(rt, r)).toEqual([16, 16, 16, 16]);
  });
});

describe('model-based: every mode, bulk and burst, plain and batch arrays, indices near 2^32', () => {
  type Cmd = { op: 'enqBulk' | 'enqBurst' | 'deqBulk' | 'deqBurst' | 'enq1' | 'deq1'; n: number; batch: boolean };
  const cmd: fc.Arbitrary<Cmd> = fc.record({
    op: fc.constantFrom('enqBulk', 'enqBurst', 'deqBulk', 'deqBurst', 'enq1', 'deq1'),
    n: fc.nat({ max: 20 }),
    batch: fc.boolean(),
  });

  it('matches a FIFO model (results, contents, count, totals, high water)', () => {
    const batch = rt.u32Batch(24 * W);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4 }),
        fc.constantFrom(...MODES),
        fc.oneof(fc.constant(0), fc.integer({ min: 0xffffffff - 40, max: 0xffffffff })),
        fc.array(cmd, { maxLength: 60 }),
        (k, [producers, consumers], start, cmds) => {
          const cap = 2 ** k;
          const r = mustRing(rt, { capacity: cap, producers, consumers });
          try {
            setIndices(rt, r, start);
            const model: number[] = [];
            let next = 0;
            let enqueued = 0;
            let dequeued = 0;
            let highWater = 0;
            for (const c of cmds) {
              if (c.op.startsWith('enq')) {
                const n = c.op === 'enq1' ? 1 : c.n;
                const idList = range(next, n);
                next += n;
                const free = cap - model.length;
                const want = c.op === 'enqBurst' ? Math.min(n, free) : n <= free ? n : 0;
                let got: number;
                if (c.op === 'enq1') got = r.enqueue(words(idList[0]!)) ? 1 : 0;
                else {
                  const src = c.batch ? fill(batch, idList) : descs(idList);
                  got = c.op === 'enqBulk' ? r.enqueueBulk(src, n) : r.enqueueBurst(src, n);
                }
                expect(got).toBe(want);
                model.push(...idList.slice(0, got));
                enqueued += got;
                if (got) highWater = Math.max(highWater, model.length);
              } else {
                const n = c.op === 'deq1' ? 1 : c.n;
                const want = c.op === 'deqBurst' ? Math.min(n, model.length) : n <= model.length ? n : 0;
                let got: number[];
                if (c.op === 'deq1') {
                  const d = r.dequeue();
                  got = d ? ids(d, 1) : [];
                } else {
                  const out = c.batch ? batch : new Uint32Array(n * W);
                  const m = c.op === 'deqBulk' ? r.dequeueBulk(out, n) : r.dequeueBurst(out, n);
                  got = ids(out, m);
                }
                expect(got).toEqual(model.splice(0, want));
                dequeued += want;
              }
              expect([r.count, r.free]).toEqual([model.length, cap - model.length]);
            }
            expect(held(rt, r)).toEqual(model);
            expect(r.stats()).toMatchObject({ count: model.length, enqueued, dequeued, highWater });
            const [ph, pt, ch, ct] = indices(rt, r);
            expect([ph, ch]).toEqual([pt, ct]); // no call in flight: heads == tails
            expect(pt).toBe((start + enqueued) >>> 0);
            expect(ct).toBe((start + dequeued) >>> 0);
          } finally {
            r.destroy();
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('errors: destroyed rings, reset, handles, arguments', () => {
  const methods: [string, (r: SharedRing) => unknown][] = [
    ['enqueueBurst', (r) => r.enqueueBurst(descs([1]))],
    ['dequeueBurst', (r) => r.dequeueBurst(new Uint32Array(W))],
    ['enqueueBulk', (r) => r.enqueueBulk(descs([1]))],
    ['dequeueBulk', (r) => r.dequeueBulk(new Uint32Array(W))],
    ['enqueue', (r) => r.enqueue(words(1))],
    ['dequeue', (r) => r.dequeue()],
    ['dequeueWait', (r) => r.dequeueWait(new Uint32Array(W), 1, 0)],
    ['enqueueWait', (r) => r.enqueueWait(descs([1]), 1, 0)],
    ['dequeueAsync', (r) => r.dequeueAsync(new Uint32Array(W), 1, 0)],
    ['count', (r) => r.count],
    ['free', (r) => r.free],
    ['stats', (r) => r.stats()],
    ['destroy', (r) => r.destroy()],
  ];

  it.each(methods)('%s on a destroyed ring is a bug check naming the method', (name, call) => {
    const r = mustRing(rt, { capacity: 8 });
    r.enqueueBurst(descs([1, 2]));
    r.destroy();
    expect(r.handle).toBe(0);
    const b = bugCheck(() => call(r));
    expect([b.code, b.rule, b.function]).toEqual([BUGCODE_BAD_POOL_CALLER, 'ALT-POOL', `SharedRing.${name}`]);
    expect(b.message).toMatch(/destroyed/);
  });

  it.each(methods)('%s on a ring another object (worker) destroyed is a bug check', (name, call) => {
    const r = mustRing(rt, { capacity: 8 });
    const other = openSharedRing(rt, r.handle);
    r.destroy();
    const b = bugCheck(() => call(other));
    expect([b.code, b.rule, b.function]).toEqual([BUGCODE_BAD_POOL_CALLER, 'ALT-POOL', `SharedRing.${name}`]);
    expect(b.message).toMatch(/not allocated: a shared descriptor ring/);
  });

  it.each(methods)('%s on a ring freed by runtime.reset() is a bug check', (_name, call) => {
    const r = mustRing(rt, { capacity: 8 });
    rt.reset();
    const b = bugCheck(() => call(r));
    expect([b.code, b.rule]).toEqual([BUGCODE_BAD_POOL_CALLER, 'ALT-POOL']);
    expect(b.message).toMatch(/reset/);
  });

  it('a forged handle is a bug check and changes nothing; a plain DescriptorRing is not a shared ring', () => {
    const r = mustRing(rt, { capacity: 8 });
    r.enqueueBurst(descs([1, 2]));
    const h = r.handle;
    const before = snapshot(rt, r);
    for (const forged of [h + 8, h + 64, 12345, 0x7fff0000]) {
      (r as Loose).handle = forged;
      expect(bugCheck(() => r.enqueueBurst(descs([3]))).code).toBe(BUGCODE_BAD_POOL_CALLER);
      expect(bugCheck(() => r.dequeueBulk(new Uint32Array(W))).code).toBe(BUGCODE_BAD_POOL_CALLER);
    }
    (r as Loose).handle = h;
    expect(snapshot(rt, r)).toEqual(before);

    const plain = rt.createRing({ capacity: 8 })!;
    plain.enqueueBurst(descs([5]));
    expectBug(() => openSharedRing(rt, plain.handle), { fn: 'openSharedRing', arg: 'handle', code: BUGCODE_BAD_POOL_CALLER, rule: 'ORIGIN', message: /is a descriptor ring, not a shared descriptor ring/ });
    (r as Loose).handle = plain.handle; // a plain ring behind a SharedRing object: refused by the magic check
    expect(bugCheck(() => r.dequeueBurst(new Uint32Array(W))).message).toMatch(/not a shared descriptor ring/);
    expect(bugCheck(() => r.count).message).toMatch(/not a shared descriptor ring/);
    (r as Loose).handle = h;
    expect(plain.count()).toBe(1);
  });

  it('openSharedRing rejects handles that are not u32 (PARAM) or not live shared rings (BAD_POOL_CALLER)', () => {
    for (const h of [NaN, -1, 1.5, 2 ** 32, '65536', undefined]) {
      expectBug(() => openSharedRing(rt, h as Loose), { fn: 'openSharedRing', arg: 'handle', ...PARAM });
    }
    for (const h of [0, 12345, 0x7fff0000]) {
      expect(bugCheck(() => openSharedRing(rt, h)).code).toBe(BUGCODE_BAD_POOL_CALLER);
    }
    const r = mustRing(rt, { capacity: 8 });
    const h = r.handle;
    r.destroy();
    expect(bugCheck(() => openSharedRing(rt, h)).message).toMatch(/not allocated/);
  });

  it('a descriptor array too short for n, or not a Uint32Array, is PARAM and changes nothing', () => {
    const r = mustRing(rt, { capacity: 8 });
    r.enqueueBurst(descs([1, 2, 3]));
    const before = snapshot(rt, r);
    const calls: [string, string, () => unknown][] = [
      ['enqueueBurst', 'src', () => r.enqueueBurst(descs([9, 9]), 3)],
      ['enqueueBulk', 'src', () => r.enqueueBulk(new Uint32Array(2 * W + 4), 3)],
      ['dequeueBurst', 'out', () => r.dequeueBurst(new Uint32Array(W), 2)],
      ['dequeueBulk', 'out', () => r.dequeueBulk(rt.u32Batch(9), 2)],
      ['dequeueWait', 'out', () => r.dequeueWait(new Uint32Array(4), 1)],
      ['enqueueWait', 'src', () => r.enqueueWait(new Uint32Array(4), 1)],
      ['dequeueAsync', 'out', () => r.dequeueAsync(new Uint32Array(4), 1)],
      ['dequeue', 'out', () => r.dequeue(new Uint32Array(4))],
      ['enqueueBurst', 'src', () => r.enqueueBurst([1, 2, 3, 4, 5] as Loose, 1)],
      ['dequeueBurst', 'out', () => r.dequeueBurst(new Int32Array(5) as Loose, 1)],
      ['enqueueBulk', 'src', () => r.enqueueBulk(null as Loose)],
      ['dequeue', 'out', () => r.dequeue([0, 0, 0, 0, 0] as Loose)],
    ];
    for (const [fn, arg, call] of calls) expectBug(call, { fn: `SharedRing.${fn}`, arg, ...PARAM });
    expect(snapshot(rt, r)).toEqual(before);
    const out = new Uint32Array(W).fill(7);
    bugCheck(() => r.dequeueBulk(out, 2));
    expect([...out]).toEqual([7, 7, 7, 7, 7]);
  });

  it.each([['-1', -1], ['1.5', 1.5], ['NaN', NaN], ['2^20 + 1', 2 ** 20 + 1], ['a string', '1']])(
    'a count n that is %s is PARAM and changes nothing',
    (_what, n) => {
      const r = mustRing(rt, { capacity: 8 });
      r.enqueueBurst(descs([1]));
      const before = snapshot(rt, r);
      const big = new Uint32Array(10 * W);
      for (const [fn, call] of [
        ['enqueueBurst', () => r.enqueueBurst(big, n as Loose)],
        ['enqueueBulk', () => r.enqueueBulk(big, n as Loose)],
        ['dequeueBurst', () => r.dequeueBurst(big, n as Loose)],
        ['dequeueBulk', () => r.dequeueBulk(big, n as Loose)],
        ['dequeueWait', () => r.dequeueWait(big, n as Loose, 0)],
        ['enqueueWait', () => r.enqueueWait(big, n as Loose, 0)],
        ['dequeueAsync', () => r.dequeueAsync(big, n as Loose, 0)],
      ] as const) {
        expectBug(call, { fn: `SharedRing.${fn}`, arg: 'n', ...PARAM });
      }
      expect(snapshot(rt, r)).toEqual(before);
    },
  );

  it('enqueue checks every word of the descriptor (u32) and its length', () => {
    const r = mustRing(rt, { capacity: 8 });
    for (const bad of [-1, 1.5, NaN, 2 ** 32, '1', null]) {
      expectBug(() => r.enqueue([1, 2, bad as Loose, 4, 5]), { fn: 'SharedRing.enqueue', arg: 'desc[2]', ...PARAM });
    }
    expectBug(() => r.enqueue([1, 2, 3, 4]), { fn: 'SharedRing.enqueue', arg: 'desc', ...PARAM });
    expectBug(() => r.enqueue(5 as Loose), { fn: 'SharedRing.enqueue', arg: 'desc', ...PARAM });
    expect(r.count).toBe(0);
  });

  it('timeouts must be numbers >= 0 (Infinity allowed)', () => {
    const r = mustRing(rt, { capacity: 8 });
    for (const t of [-1, NaN, '5', null]) {
      expectBug(() => r.dequeueWait(new Uint32Array(W), 1, t as Loose), { fn: 'SharedRing.dequeueWait', arg: 'timeoutMs', ...PARAM });
      expectBug(() => r.enqueueWait(descs([1]), 1, t as Loose), { fn: 'SharedRing.enqueueWait', arg: 'timeoutMs', ...PARAM });
      expectBug(() => r.dequeueAsync(new Uint32Array(W), 1, t as Loose), { fn: 'SharedRing.dequeueAsync', arg: 'timeoutMs', ...PARAM });
    }
  });
});

describe('waiting without other workers', () => {
  it('dequeueWait / enqueueWait do not block on a runtime no other worker can share', () => {
    const r = mustRing(rt, { capacity: 2 });
    const out = new Uint32Array(2 * W);
    const t0 = performance.now();
    expect(r.dequeueWait(out, 2, Infinity)).toBe(0);
    expect(r.enqueueWait(descs([1, 2, 3]), 3, Infinity)).toBe(2);
    expect(r.enqueueWait(descs([3]), 1, Infinity)).toBe(0);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(r.dequeueWait(out)).toBe(2);
    expect(ids(out, 2)).toEqual([1, 2]);
    expect(r.dequeueWait(out, 0, Infinity)).toBe(0);
  });

  it('dequeueAsync resolves at once when descriptors are there, and when an enqueue comes later', async () => {
    const r = mustRing(rt, { capacity: 4 });
    r.enqueueBurst(descs([1]));
    const out = new Uint32Array(4 * W);
    expect(await r.dequeueAsync(out)).toBe(1);
    expect(ids(out, 1)).toEqual([1]);
    const p = r.dequeueAsync(out, 4, 5000);
    await new Promise((res) => setTimeout(res, 10));
    expect(r.stats().consumersWaiting).toBe(1);
    r.enqueueBurst(descs([7, 8]));
    expect(await p).toBe(2);
    expect(ids(out, 2)).toEqual([7, 8]);
    expect(r.stats().consumersWaiting).toBe(0);
  });

  it('the single-threaded build (sharedMemory: false, no atomics) runs the same calls; dequeueAsync polls', async () => {
    const plain = createRuntimeSync({ sharedMemory: false });
    expect(plain.memory.buffer).toBeInstanceOf(ArrayBuffer);
    for (const [producers, consumers] of MODES) {
      const r = mustRing(plain, { capacity: 4, producers, consumers });
      setIndices(plain, r, 0xfffffffe);
      expect(r.enqueueBurst(descs(range(0, 6)))).toBe(4);
      expect(r.enqueueBulk(descs([9]))).toBe(0);
      const out = new Uint32Array(4 * W);
      expect(r.dequeueBulk(out, 3)).toBe(3);
      expect(ids(out, 3)).toEqual([0, 1, 2]);
      expect(r.dequeueWait(out, 4, Infinity)).toBe(1);
      expect(r.dequeueWait(out, 4, Infinity)).toBe(0); // nobody else can enqueue: no block
      const p = r.dequeueAsync(out, 4, 2000);
      setTimeout(() => r.enqueueBurst(descs([5, 6])), 10);
      expect(await p).toBe(2);
      expect(ids(out, 2)).toEqual([5, 6]);
      expect(r.stats()).toMatchObject({ count: 0, enqueued: 6, dequeued: 6, highWater: 4 });
      expect(indices(plain, r)).toEqual([4, 4, 4, 4]);
      r.destroy();
    }
  });

  it('dequeueAsync resolves 0 after its timeout, and rejects when the ring is destroyed meanwhile', async () => {
    const r = mustRing(rt, { capacity: 4 });
    const t0 = performance.now();
    expect(await r.dequeueAsync(new Uint32Array(W), 1, 30)).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    expect(r.stats().consumersWaiting).toBe(0);
    const p = r.dequeueAsync(new Uint32Array(W), 1, 5000);
    await new Promise((res) => setTimeout(res, 5));
    openSharedRing(rt, r.handle).destroy();
    await expect(p).rejects.toBeInstanceOf(NdisBugCheck);
  });
});

// ---------------------------------------------------------------------------------------------------
// Several workers
// ---------------------------------------------------------------------------------------------------

const workerUrl = (name: string) => new URL(`./workers/${name}`, import.meta.url);

function start(name: string, workerData: unknown): Promise<Worker> {
  const w = new Worker(workerUrl(name), { workerData });
  return new Promise((resolve, reject) => {
    w.once('message', () => resolve(w));
    w.once('error', reject);
  });
}
function run<T>(w: Worker, msg: unknown = 'go'): Promise<T> {
  return new Promise((resolve, reject) => {
    const onErr = (e: Error) => reject(e);
    w.once('error', onErr);
    w.once('message', (m) => { w.off('error', onErr); resolve(m as T); });
    w.postMessage(msg);
  });
}

describe('several workers', () => {
  let srt: NdisRuntime;
  beforeAll(async () => {
    srt = await createRuntime({ shared: true, maxMemory: 64 << 20 });
  });

  type ConsumerResult = { received: number; dup: number; order: number; corrupt: number; firstBad: number[][]; perProducer: number[] };

  async function mpmc(opts: { producers: number; consumers: number; perProducer: number; capacity: number; burst: number; startIndex?: number; mode?: Mode }) {
    const { producers: P, consumers: C, perProducer: N } = opts;
    const ring = mustRing(srt, { capacity: opts.capacity, producers: opts.mode ?? 'multi', consumers: opts.mode ?? 'multi' });
    if (opts.startIndex !== undefined) setIndices(srt, ring, opts.startIndex);
    const bitmap = new SharedArrayBuffer(Math.ceil((P * N) / 32) * 4);
    const total = new SharedArrayBuffer(4);
    const runtime = srt.share();
    const common = { runtime, handle: ring.handle, count: N, burst: opts.burst, bulkEvery: 3, bitmap, stride: N, total, expected: P * N, producers: P, check: true };
    const workers = await Promise.all([
      ...range(0, P).map((id) => start('xring-mpmc.mjs', { ...common, role: 'producer', id })),
      ...range(0, C).map((id) => start('xring-mpmc.mjs', { ...common, role: 'consumer', id })),
    ]);
    try {
      const results = await Promise.all(workers.map((w) => run<Record<string, unknown>>(w)));
      const cons = results.slice(P) as unknown as ConsumerResult[];
      for (const c of cons) {
        expect(c.firstBad).toEqual([]);
        expect([c.corrupt, c.dup, c.order]).toEqual([0, 0, 0]);
      }
      expect(cons.reduce((a, c) => a + c.received, 0)).toBe(P * N);
      for (let p = 0; p < P; p++) expect(cons.reduce((a, c) => a + c.perProducer[p]!, 0)).toBe(N);
      // Every (producer, sequence) was seen exactly once: all bits set (duplicates were counted above).
      const bits = new Int32Array(bitmap);
      let missing = 0;
      for (let i = 0; i < P * N; i++) if (!(bits[i >>> 5]! & (1 << (i & 31)))) missing++;
      expect(missing).toBe(0);
      const s = ring.stats();
      expect(s).toMatchObject({ count: 0, enqueued: P * N, dequeued: P * N, consumersWaiting: 0, producersWaiting: 0 });
      expect(s.highWater).toBeGreaterThan(0);
      expect(s.highWater).toBeLessThanOrEqual(opts.capacity);
      const [ph, pt, ch, ct] = indices(srt, ring);
      expect([ph, pt, ch, ct].every((x) => x === (((opts.startIndex ?? 0) + P * N) >>> 0))).toBe(true);
      return { results, ring };
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
      ring.destroy();
    }
  }

  it('MPMC: 2 producers x 2 consumers move 10^6 descriptors: per-producer order, no loss, no duplicate, no torn copy', async () => {
    await mpmc({ producers: 2, consumers: 2, perProducer: 500_000, capacity: 1024, burst: 32 });
  });

  it('MPMC on an 8-slot ring whose indices wrap at 2^32 mid-run (bursts of 5, constant full/empty)', async () => {
    await mpmc({ producers: 2, consumers: 2, perProducer: 100_000, capacity: 8, burst: 5, startIndex: 0xffffffff - 50_000 });
  });

  it('MPSC and SPMC shapes on MPMC rings: 3 producers x 1 consumer, 1 producer x 3 consumers', async () => {
    await mpmc({ producers: 3, consumers: 1, perProducer: 50_000, capacity: 64, burst: 16 });
    await mpmc({ producers: 1, consumers: 3, perProducer: 150_000, capacity: 64, burst: 16 });
  });

  it('SPSC ring: 1 producer x 1 consumer on the single-producer / single-consumer path', async () => {
    const { results } = await mpmc({ producers: 1, consumers: 1, perProducer: 300_000, capacity: 256, burst: 32, mode: 'single', startIndex: 0xfffff000 });
    expect((results[1] as unknown as ConsumerResult).received).toBe(300_000);
  });

  it('SPSC pipeline: source -> relay -> sink over two single-producer / single-consumer rings', async () => {
    for (const [count, capacity, burst] of [[400_000, 256, 32], [50_000, 4, 7]] as const) {
      const a = mustRing(srt, { capacity, producers: 'single', consumers: 'single' });
      const b = mustRing(srt, { capacity, producers: 'single', consumers: 'single' });
      setIndices(srt, b, 0xffffffff - 1000);
      const runtime = srt.share();
      const ws = await Promise.all([
        start('xring-pipeline.mjs', { runtime, outHandle: a.handle, role: 'source', count, burst }),
        start('xring-pipeline.mjs', { runtime, inHandle: a.handle, outHandle: b.handle, role: 'relay', count, burst }),
        start('xring-pipeline.mjs', { runtime, inHandle: b.handle, role: 'sink', count, burst }),
      ]);
      try {
        const [src, relay, sink] = await Promise.all(ws.map((w) => run<{ moved?: number; bad?: number; firstBad?: number[][] }>(w)));
        expect(src).toMatchObject({ sent: count });
        expect(relay).toMatchObject({ moved: count });
        expect(sink).toMatchObject({ moved: count, bad: 0, firstBad: [] });
        for (const r of [a, b]) expect(r.stats()).toMatchObject({ count: 0, enqueued: count, dequeued: count, consumersWaiting: 0, producersWaiting: 0 });
      } finally {
        await Promise.all(ws.map((w) => w.terminate()));
        a.destroy();
        b.destroy();
      }
    }
  });

  it('dequeueWait in a worker sleeps until another worker enqueues; destroy wakes a sleeper, which throws', async () => {
    const ring = mustRing(srt, { capacity: 16 });
    const runtime = srt.share();
    const w = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       import(workerData.url).then(({ attachRuntime, openSharedRing }) => {
         const rt = attachRuntime(workerData.runtime);
         const ring = openSharedRing(rt, workerData.handle);
         const out = new Uint32Array(4 * 5);
         parentPort.on('message', (m) => {
           const t0 = performance.now();
           try {
             const k = m.async ? null : ring.dequeueWait(out, 4, m.timeout);
             parentPort.postMessage({ k, ms: performance.now() - t0, first: out[0] });
           } catch (e) {
             parentPort.postMessage({ error: e.name + ': ' + e.message, ms: performance.now() - t0 });
           }
         });
         parentPort.postMessage('ready');
       });`,
      { eval: true, workerData: { runtime, handle: ring.handle, url: new URL('../build/ts/index.js', import.meta.url).href } },
    );
    await new Promise((res, rej) => { w.once('message', res); w.once('error', rej); });
    try {
      // 1. Woken by an enqueue from this thread (another worker of the runtime).
      const p1 = run<{ k: number; ms: number; first: number }>(w, { timeout: 10_000 });
      await new Promise((res) => setTimeout(res, 50));
      expect(ring.stats().consumersWaiting).toBe(1);
      ring.enqueueBurst(descs([42, 43]));
      const r1 = await p1;
      expect(r1.k).toBe(2);
      expect(r1.first).toBe(words(42)[0]);
      expect(r1.ms).toBeLessThan(5_000);
      expect(ring.stats().consumersWaiting).toBe(0);
      // 2. Times out.
      const r2 = await run<{ k: number; ms: number }>(w, { timeout: 40 });
      expect(r2.k).toBe(0);
      expect(r2.ms).toBeGreaterThanOrEqual(35);
      // 3. The ring is destroyed while the worker sleeps with no timeout: it wakes and throws.
      const p3 = run<{ error: string }>(w, { timeout: Infinity });
      await new Promise((res) => setTimeout(res, 50));
      ring.destroy();
      const r3 = await p3;
      expect(r3.error).toMatch(/^NdisBugCheck: SharedRing\.dequeueWait: .*shared descriptor ring/);
    } finally {
      await w.terminate();
    }
  });

  // -- linearizability -------------------------------------------------------------------------------

  type LinOp = { op: 'enq'; bulk: boolean; ids: number[] } | { op: 'deq'; bulk: boolean; n: number };
  type Event = { op: LinOp; start: number; end: number; got: number | number[]; worker: number };

  /**
   * Wing & Gong search: is there an order of the events, consistent with real time (A before B
   * when A ended before B started), in which a sequential bounded FIFO gives every recorded
   * result? Memoised on (events taken, queue contents).
   */
  function linearizable(events: Event[], capacity: number): boolean {
    const n = events.length;
    const done = new Array<boolean>(n).fill(false);
    const seen = new Set<string>();
    const rec = (count: number, queue: number[]): boolean => {
      if (count === n) return true;
      const key = done.map((x) => (x ? 1 : 0)).join('') + '|' + queue.join(',');
      if (seen.has(key)) return false;
      let minEnd = Infinity;
      for (let i = 0; i < n; i++) if (!done[i]) minEnd = Math.min(minEnd, events[i]!.end);
      for (let i = 0; i < n; i++) {
        const e = events[i]!;
        if (done[i] || e.start > minEnd) continue;
        let next: number[];
        if (e.op.op === 'enq') {
          const free = capacity - queue.length;
          const m = e.op.ids.length;
          const k = e.op.bulk ? (m <= free ? m : 0) : Math.min(m, free);
          if (k !== e.got) continue;
          next = [...queue, ...e.op.ids.slice(0, k)];
        } else {
          const k = e.op.bulk ? (e.op.n <= queue.length ? e.op.n : 0) : Math.min(e.op.n, queue.length);
          const got = e.got as number[];
          if (got.length !== k || got.some((id, j) => id !== queue[j])) continue;
          next = queue.slice(k);
        }
        done[i] = true;
        if (rec(count + 1, next)) return true;
        done[i] = false;
      }
      seen.add(key);
      return false;
    };
    return rec(0, []);
  }

  it('the linearizability checker accepts overlapping reorderings and rejects a FIFO violation', () => {
    const enq = (ids: number[]): LinOp => ({ op: 'enq', bulk: false, ids });
    const deq = (n: number): LinOp => ({ op: 'deq', bulk: false, n });
    // Two overlapping enqueues; the dequeue saw 2 first: fine.
    expect(linearizable([
      { op: enq([1]), start: 0, end: 3, got: 1, worker: 0 },
      { op: enq([2]), start: 1, end: 2, got: 1, worker: 1 },
      { op: deq(2), start: 4, end: 5, got: [2, 1], worker: 2 },
    ], 8)).toBe(true);
    // The same when the enqueues do not overlap: 1 was in first.
    expect(linearizable([
      { op: enq([1]), start: 0, end: 1, got: 1, worker: 0 },
      { op: enq([2]), start: 2, end: 3, got: 1, worker: 1 },
      { op: deq(2), start: 4, end: 5, got: [2, 1], worker: 2 },
    ], 8)).toBe(false);
    // An empty dequeue after a completed enqueue, with nothing else: not linearizable.
    expect(linearizable([
      { op: enq([1]), start: 0, end: 1, got: 1, worker: 0 },
      { op: deq(1), start: 2, end: 3, got: [], worker: 1 },
    ], 8)).toBe(false);
  });

  /**
   * Runs per-worker scripts concurrently (fast-check generates them) and checks each recorded
   * history. The ring is large enough that no enqueue meets a full ring: rte_ring's "full" is
   * conservative (a slot is free only once its consumer finished copying it out), so a burst
   * enqueue racing a dequeue on a full ring may take fewer descriptors than any sequential
   * order would; "empty" and the descriptors themselves are exact.
   */
  async function linearizabilityCheck(opts: { workers: number; mode: Mode; roles?: ('enq' | 'deq' | 'both')[]; numRuns: number }) {
    const clock = new SharedArrayBuffer(16);
    const runtime = srt.share();
    const workers = await Promise.all(range(0, opts.workers).map(() => start('xring-lin.mjs', { runtime, clock, workers: opts.workers })));
    const capacity = 64;
    const opArb = (role: 'enq' | 'deq' | 'both'): fc.Arbitrary<LinOp> => {
      const enq = fc.record({ op: fc.constant('enq' as const), bulk: fc.boolean(), ids: fc.constant([] as number[]), n: fc.integer({ min: 1, max: 3 }) })
        .map(({ bulk, n }) => ({ op: 'enq' as const, bulk, ids: new Array<number>(n).fill(0) }));
      const deq = fc.record({ op: fc.constant('deq' as const), bulk: fc.boolean(), n: fc.integer({ min: 1, max: 3 }) });
      return role === 'enq' ? enq : role === 'deq' ? deq : fc.oneof(enq, deq);
    };
    const scriptArb = fc.tuple(...range(0, opts.workers).map((i) =>
      fc.array(fc.tuple(opArb(opts.roles?.[i] ?? 'both'), fc.nat({ max: 3000 })), { minLength: 1, maxLength: 6 })));
    try {
      await fc.assert(
        fc.asyncProperty(scriptArb, async (scripts) => {
          const ring = mustRing(srt, { capacity, producers: opts.mode, consumers: opts.mode });
          try {
            let nextId = 1;
            const ops = scripts.map((s) => s.map(([op]) => (op.op === 'enq' ? { ...op, ids: op.ids.map(() => nextId++) } : op)));
            const histories = await Promise.all(workers.map((w, i) =>
              run<{ i: number; start: number; end: number; got: number | number[] }[]>(w, { handle: ring.handle, ops: ops[i], spins: scripts[i]!.map(([, s]) => s) })));
            const events: Event[] = histories.flatMap((h, wi) => h.map((e) => ({ op: ops[wi]![e.i]!, start: e.start, end: e.end, got: e.got, worker: wi })));
            // Descriptors left in the ring complete the picture: a final dequeue of everything.
            const left = ring.count;
            const out = new Uint32Array(Math.max(left, 1) * W);
            const k = ring.dequeueBulk(out, left);
            const tail = Math.max(...events.map((e) => e.end)) + 1;
            events.push({ op: { op: 'deq', bulk: true, n: left }, start: tail, end: tail + 1, got: out.subarray(0, k * W).filter((_, j) => j % W === 0).reduce<number[]>((a, v) => (a.push(v), a), []), worker: -1 });
            const ok = linearizable(events, capacity);
            if (!ok) console.error('not linearizable:', JSON.stringify(events));
            expect(ok).toBe(true);
          } finally {
            ring.destroy();
          }
        }),
        { numRuns: opts.numRuns },
      );
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  }

  it('recorded concurrent histories of an MPMC ring (3 workers, mixed bulk/burst enqueue/dequeue) are linearizable', async () => {
    await linearizabilityCheck({ workers: 3, mode: 'multi', numRuns: 60 });
  });

  it('recorded concurrent histories of an SPSC ring (a producer worker and a consumer worker) are linearizable', async () => {
    await linearizabilityCheck({ workers: 2, mode: 'single', roles: ['enq', 'deq'], numRuns: 40 });
  });
});
