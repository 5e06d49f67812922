/**
 * SlabPool.acquire: waiting with backpressure (FIFO), abort and timeout without losing slots,
 * maxWaiters, and a fast-check model of acquire / free / abort sequences.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createRuntimeSync } from '../build/ts/runtime.js';
import { NdisBugCheck } from '../build/ts/index.js';

const rt = createRuntimeSync();
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('acquire', () => {
  it('resolves at once while slots are free, and waits FIFO at the limit', async () => {
    const pool = rt.createSlabPool({ objectSize: 16, maxOutstanding: 2 })!;
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
    const order: number[] = [];
    const w1 = pool.acquire().then((p) => (order.push(1), p));
    const w2 = pool.acquire().then((p) => (order.push(2), p));
    const w3 = pool.acquire().then((p) => (order.push(3), p));
    await tick();
    expect(pool.waiters).toBe(3);
    expect(pool.stats()).toMatchObject({ outstanding: 2, waiters: 3 });
    pool.free(a);
    const p1 = await w1;
    expect(p1).toBe(a); // the freed slot, handed over
    pool.free(b);
    const p2 = await w2;
    pool.free(p1);
    const p3 = await w3;
    expect(order).toEqual([1, 2, 3]);
    expect(pool.waiters).toBe(0);
    expect(pool.stats().outstanding).toBe(2);
    pool.free(p2);
    pool.free(p3);
    expect(pool.stats()).toMatchObject({ outstanding: 0, allocs: 5, frees: 5 });
  });

  it('tryAlloc and alloc never wait; freeMany and lease disposal also serve waiters', async () => {
    const pool = rt.createSlabPool({ objectSize: 16, maxOutstanding: 2 })!;
    const batch = new Uint32Array(2);
    expect(pool.allocMany(batch)).toBe(2);
    expect(pool.tryAlloc()).toBe(0);
    const w = pool.acquire();
    pool.freeMany(batch);
    expect(await w).toBeGreaterThan(0);
    const lease = pool.lease()!;
    const w2 = pool.acquire();
    lease.release();
    expect(await w2).toBeGreaterThan(0);
    expect(pool.stats().outstanding).toBe(2);
  });

  it('abort and timeout reject, take no slot, and the next free goes to the next waiter', async () => {
    const pool = rt.createSlabPool({ objectSize: 16, maxOutstanding: 1 })!;
    const held = pool.alloc();
    const ac = new AbortController();
    const aborted = pool.acquire({ signal: ac.signal });
    const timedOut = pool.acquire({ timeoutMs: 5 });
    const patient = pool.acquire();
    ac.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    await expect(timedOut).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(pool.waiters).toBe(1);
    pool.free(held);
    expect(await patient).toBe(held);
    expect(pool.stats()).toMatchObject({ outstanding: 1 });
    // An already aborted signal rejects at once.
    const done = new AbortController();
    done.abort(new Error('early'));
    await expect(pool.acquire({ signal: done.signal })).rejects.toThrow('early');
  });

  it('abort after the slot was handed over does not lose it', async () => {
    const pool = rt.createSlabPool({ objectSize: 16, maxOutstanding: 1 })!;
    const held = pool.alloc();
    const ac = new AbortController();
    const w = pool.acquire({ signal: ac.signal });
    pool.free(held); // hands the slot over synchronously
    ac.abort(new Error('too late'));
    const p = await w;
    expect(p).toBe(held);
    expect(pool.stats()).toMatchObject({ outstanding: 1, waiters: 0 });
    pool.free(p);
    expect(pool.stats().outstanding).toBe(0);
  });

  it('maxWaiters bounds the queue; destroy rejects the waiters; bad options are bug checks', async () => {
    const pool = rt.createSlabPool({ objectSize: 16, maxOutstanding: 0, maxWaiters: 2 })!;
    const w1 = pool.acquire();
    const w2 = pool.acquire();
    await expect(pool.acquire()).rejects.toThrow(/maxWaiters 2/);
    expect(pool.waiters).toBe(2);
    pool.destroy();
    await expect(w1).rejects.toThrow(/destroyed/);
    await expect(w2).rejects.toThrow(/destroyed/);
    const q = rt.createSlabPool({ objectSize: 16 })!;
    expect(() => q.acquire({ timeoutMs: -1 })).toThrow(NdisBugCheck);
    expect(() => q.acquire({ signal: {} as AbortSignal })).toThrow(NdisBugCheck);
    expect(() => rt.createSlabPool({ objectSize: 8, maxWaiters: -1 })).toThrow(NdisBugCheck);
  });

  it('model: random acquire / free / abort sequences lose no slot and keep FIFO order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.oneof(fc.constant('acquire' as const), fc.constant('free' as const), fc.constant('abort' as const)), { maxLength: 40 }),
        async (limit, ops) => {
          const pool = rt.createSlabPool({ objectSize: 8, maxOutstanding: limit })!;
          const held: number[] = [];
          const waiting: { id: number; ac: AbortController; p: Promise<number> }[] = [];
          const served: number[] = [];
          let next = 0;
          for (const op of ops) {
            if (op === 'acquire') {
              const id = next++;
              const ac = new AbortController();
              const p = pool.acquire({ signal: ac.signal });
              p.then((ptr) => { served.push(id); held.push(ptr); }, () => undefined);
              waiting.push({ id, ac, p });
            } else if (op === 'free' && held.length) {
              pool.free(held.shift()!);
            } else if (op === 'abort' && waiting.length) {
              waiting[Math.floor(waiting.length / 2)]!.ac.abort(new Error('x'));
            }
            await tick();
          }
          // Every waiter is either served or rejected; nothing is held twice; counts agree.
          for (const w of waiting) w.ac.abort(new Error('end'));
          await tick();
          expect(new Set(held).size).toBe(held.length);
          expect(pool.stats().outstanding).toBe(held.length);
          expect(pool.waiters).toBe(0);
          // FIFO: served ids are increasing.
          for (let i = 1; i < served.length; i++) expect(served[i]!).toBeGreaterThan(served[i - 1]!);
          for (const p of held) pool.free(p);
          expect(pool.stats().outstanding).toBe(0);
          pool.destroy();
        },
      ),
      { numRuns: 60 },
    );
  });
});
