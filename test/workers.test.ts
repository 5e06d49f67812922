// Multi-worker runtimes (issue 10): share / attach / detach, the runtime lock, per-worker
// caches with exact statistics, misuse across workers, and a 4-worker stress run.
//
// Several instances attached to one memory in the same thread behave as workers do (each has
// its own globals and cache blocks), which makes interleavings deterministic; the stress test
// runs real worker_threads.
import { describe, it, expect } from 'vitest';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { createRuntime, createRuntimeSync, attachRuntime, type NdisRuntime } from '../build/ts/runtime.js';
import { NdisBugCheck } from '../build/ts/errors.js';

const MiB = 1 << 20;

function bugCheck(f: () => unknown, rule?: string, message?: RegExp): NdisBugCheck {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(NdisBugCheck);
    if (rule) expect((e as NdisBugCheck).rule).toBe(rule);
    if (message) expect((e as NdisBugCheck).message).toMatch(message);
    return e as NdisBugCheck;
  }
  throw new Error('expected an NdisBugCheck');
}

describe('share and attach', () => {
  it('share() gives a structured-cloneable descriptor; attachRuntime sees the same pools', async () => {
    const a = await createRuntime({ shared: true, maxMemory: 32 * MiB });
    const d = a.share();
    expect(d.kind).toBe('ndis-pool/shared-runtime');
    expect(d.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    const cloned = structuredClone(d);
    const b = attachRuntime(cloned);
    expect(a.workerId).toBe(1);
    expect(b.workerId).toBe(2);
    const pool = a.createSlabPool({ objectSize: 48, tag: 'Shr1' })!;
    const pb = b.openSlabPool(pool.handle)!;
    expect(pb.objectSize).toBe(48);
    expect(pb.tag).toBe(pool.tag);
    const p = pb.alloc();
    expect(p).toBeGreaterThan(0);
    pb.bytes(p).fill(7);
    expect(a.bytes(p, 48).every((x) => x === 7)).toBe(true);
    pool.free(p); // freed by the other worker: lands in a's cache
    expect(pool.stats()).toMatchObject({ allocs: 1, frees: 1, outstanding: 0, bytes: 0 });
    expect(pb.stats()).toMatchObject({ allocs: 1, frees: 1, outstanding: 0 });
    expect(b.detach()).toBe(1);
    pool.destroy();
  });

  it('share() needs a multi-worker runtime; bad descriptors and options are rejected', () => {
    const plain = createRuntimeSync();
    expect(() => plain.share()).toThrow(/shared: true/);
    expect(() => plain.detach()).toThrow(/multi-worker/);
    expect(plain.workerId).toBe(0);
    for (const bad of [null, 1, {}, { kind: 'ndis-pool/shared-runtime' }, { ...createRuntimeSync({ shared: true }).share(), root: 0 }]) {
      bugCheck(() => attachRuntime(bad as never), 'PARAM', /share\(\)/);
    }
    bugCheck(() => createRuntimeSync({ shared: true, sharedMemory: false }), 'PARAM');
    bugCheck(() => createRuntimeSync({ shared: 'yes' as never }), 'PARAM');
  });

  it('NDIS objects cross workers: an NB allocated by one worker is freed by another', () => {
    const a = createRuntimeSync({ shared: true, maxMemory: 32 * MiB });
    const b = attachRuntime(a.share());
    const owner = a.NdisAllocateGenericObject(0, 0x6b6f6f54, 0);
    const pool = a.NdisAllocateNetBufferPool(owner, { Header: { Type: 0x80, Revision: 1, Size: 16 }, ProtocolId: 0, DataSize: 1514, PoolTag: 0x6c6f6f50 } as never);
    expect(pool).toBeGreaterThan(0);
    const nbs = Array.from({ length: 100 }, () => b.NdisAllocateNetBufferMdlAndData(pool));
    expect(nbs.every((nb) => nb > 0)).toBe(true);
    for (const nb of nbs) expect(a.NET_BUFFER_DATA_LENGTH(nb)).toBe(1514);
    for (const nb of nbs) a.NdisFreeNetBuffer(nb);
    bugCheck(() => b.NdisFreeNetBuffer(nbs[0]!)); // already freed by the other worker
    a.NdisFreeNetBufferPool(pool);
    a.NdisFreeGenericObject(owner);
  });
});

describe('worker caches', () => {
  function pair(cacheSize?: number): [NdisRuntime, NdisRuntime, ReturnType<NdisRuntime['createSlabPool']> & object, ReturnType<NdisRuntime['openSlabPool']> & object] {
    const a = createRuntimeSync({ shared: true, maxMemory: 64 * MiB });
    const b = attachRuntime(a.share());
    const pa = a.createSlabPool({ objectSize: 64 })!;
    const pb = b.openSlabPool(pa.handle, cacheSize === undefined ? undefined : { cacheSize })!;
    return [a, b, pa, pb];
  }

  it('a cached object is not live: double free and accessors are caught across workers', () => {
    const [a, , pa, pb] = pair();
    const p = pa.alloc();
    pb.free(p);
    bugCheck(() => pa.free(p), 'ALT-POOL', /not allocated/);
    bugCheck(() => pb.free(p), 'ALT-POOL', /not allocated/);
    bugCheck(() => pa.bytes(p));
    expect(pa.stats().outstanding).toBe(0);
    // The other worker allocates it again (LIFO), then it is live for everyone.
    expect(pb.alloc()).toBe(p);
    expect(a.bytes(p, 64).length).toBe(64);
    pa.free(p);
  });

  it('refills and flushes keep counters exact; freeMany is all-or-nothing on the cache path', () => {
    const [a, b, pa, pb] = pair(8);
    const out = b.u32Batch(40);
    expect(pb.allocMany(out)).toBe(40);
    const ptrs = Array.from(out);
    expect(new Set(ptrs).size).toBe(40);
    expect(pa.stats()).toMatchObject({ allocs: 40, outstanding: 40 });
    // A duplicate in the list: nothing freed.
    const dup = a.u32Batch(3);
    dup.set([ptrs[0]!, ptrs[1]!, ptrs[0]!]);
    bugCheck(() => pa.freeMany(dup), 'ALT-POOL', /twice/);
    expect(pa.stats().outstanding).toBe(40);
    for (const p of ptrs) pa.free(p); // through a's cache (size 64): no flush yet
    expect(pa.stats()).toMatchObject({ allocs: 40, frees: 40, outstanding: 0, bytes: 0 });
    // b frees through a cache of 8 (capacity 16): flushes happen, counters stay exact.
    for (let i = 0; i < 100; i++) {
      const q = pb.alloc();
      pb.free(q);
    }
    const batch = b.u32Batch(20);
    expect(pb.allocMany(batch)).toBe(20);
    pb.freeMany(batch); // more than the cache holds: the shared path
    expect(pb.stats()).toMatchObject({ allocs: 40 + 100 + 20, frees: 40 + 100 + 20, outstanding: 0 });
  });

  it('detach flushes the cache back to the slabs; the detached runtime is a bug check to use', () => {
    const [a, b, pa, pb] = pair();
    const ps = Array.from({ length: 10 }, () => pb.alloc());
    for (const p of ps) pb.free(p);
    expect(pa.stats()).toMatchObject({ outstanding: 0, allocs: 10, frees: 10 });
    expect(b.detach()).toBe(1);
    expect(pa.stats()).toMatchObject({ outstanding: 0, allocs: 10, frees: 10 });
    // Everything b cached is back in a slab: a's own allocations find those slots free.
    const mine = Array.from({ length: 10 }, () => pa.alloc());
    expect(mine.every((p) => p > 0)).toBe(true);
    bugCheck(() => pb.alloc(), 'PARAM', /detached/);
    bugCheck(() => b.NdisAllocateGenericObject(0, 1, 0), 'PARAM', /detached/);
    bugCheck(() => b.bytes(mine[0]!, 4), 'PARAM', /detached/);
    expect(() => b.detach()).toThrow(/detached/);
    for (const p of mine) pa.free(p);
    pa.destroy();
  });

  it('a pool destroyed by one worker is dead for the others; cached objects do not count as live', () => {
    const [a, b, pa, pb] = pair();
    const inSlabs = () => { const m = a.memoryUsage(); return m.slabBytes - m.freeSlabBytes; };
    const before = inSlabs();
    // Fill whole slabs through b's cache, so that some slabs hold only cached objects (full
    // slabs are on no list: destroying the pool must still find them).
    const many = b.u32Batch(3000);
    expect(pb.allocMany(many)).toBe(3000);
    for (const q of Array.from(many)) pb.free(q);
    const p = pb.alloc();
    pb.free(p); // cached in b
    pa.destroy(); // no POOL-5: the cached objects are not live
    expect(inSlabs()).toBeLessThanOrEqual(before); // every slab of the pool went back
    bugCheck(() => pb.alloc(), 'ALT-POOL', /another worker/);
    expect(pb.handle).toBe(0);
    bugCheck(() => pb.alloc(), 'ALT-POOL');
    const [, , qa, qb] = pair();
    const q = qb.alloc();
    bugCheck(() => qa.destroy(), 'POOL-5');
    qb.free(q);
    qa.destroy();
    b.detach();
  });

  it('a cache drawing from a slab that became the spare keeps the spare empty (regression)', () => {
    // Seen under load in the browser scenario: a cache's own slab emptied into the pool's spare
    // slot, the cache refilled from it, and the half-used spare was later released while still
    // named the spare, so the shared path handed out objects in released memory.
    const a = createRuntimeSync({ shared: true, maxMemory: 32 * MiB });
    const b = attachRuntime(a.share());
    const pool = a.createSlabPool({ objectSize: 4096 })!; // few objects per slab
    const pa = a.openSlabPool(pool.handle, { cacheSize: 0 })!;
    const pb = b.openSlabPool(pool.handle, { cacheSize: 8 })!;
    for (let round = 0; round < 4; round++) {
      const mine = Array.from({ length: 8 }, () => pb.alloc()); // b's cache draws from its slab
      for (const p of mine) pa.free(p); // the shared path empties that slab: it becomes the spare
    }
    const again = Array.from({ length: 40 }, () => pa.alloc());
    for (const p of again) {
      expect(a.bytes(p, 8).length).toBe(8); // a live object of a mapped slab
      pa.free(p);
    }
    expect(pool.stats()).toMatchObject({ outstanding: 0, allocs: 4 * 8 + 40, frees: 4 * 8 + 40 });
    b.detach();
    pool.destroy();
  });

  it('generational and limited pools take the checked shared path', () => {
    const a = createRuntimeSync({ shared: true, maxMemory: 32 * MiB });
    const b = attachRuntime(a.share());
    const g = a.createSlabPool({ objectSize: 32, handles: 'generational' })!;
    const gb = b.openSlabPool(g.handle)!;
    expect(gb.handles).toBe('generational');
    const h = gb.alloc();
    expect(g.ptr(h)).toBe(gb.ptr(h));
    g.free(h);
    bugCheck(() => gb.free(h), 'ALT-POOL', /stale/);
    const lim = a.createSlabPool({ objectSize: 32, maxOutstanding: 3 })!;
    const lb = b.openSlabPool(lim.handle)!;
    const got = [lb.alloc(), lim.alloc(), lb.alloc(), lim.alloc()];
    expect(got.filter((p) => p !== 0).length).toBe(3); // the limit is exact across workers
    expect(lim.stats()).toMatchObject({ outstanding: 3, failures: 1 });
    for (const p of got) if (p) lb.free(p);
    const gHandle = g.handle;
    g.destroy();
    // A new pool takes the destroyed one's descriptor slot: the old object still knows it is dead.
    const g2 = a.createSlabPool({ objectSize: 32, handles: 'generational' })!;
    expect(g2.handle).toBe(gHandle);
    bugCheck(() => gb.alloc(), 'ALT-POOL', /another worker/);
    g2.destroy();
    lim.destroy();
  });

  it('reset() waits for the other workers to detach, then starts clean', () => {
    const a = createRuntimeSync({ shared: true, maxMemory: 32 * MiB });
    const b = attachRuntime(a.share());
    const pool = a.createSlabPool({ objectSize: 32 })!;
    const pb = b.openSlabPool(pool.handle)!;
    pb.free(pb.alloc());
    expect(() => a.reset()).toThrow(/1 other worker/);
    b.detach();
    a.reset();
    const p2 = a.createSlabPool({ objectSize: 32 })!;
    const x = p2.alloc();
    p2.free(x);
    expect(p2.stats()).toMatchObject({ allocs: 1, frees: 1, outstanding: 0 });
    const c = attachRuntime(a.share());
    const pc = c.openSlabPool(p2.handle)!;
    pc.free(pc.alloc());
    expect(p2.stats()).toMatchObject({ allocs: 2, frees: 2, outstanding: 0 });
  });

  it('openSlabPool rejects what is not a live SlabPool', () => {
    const a = createRuntimeSync({ shared: true });
    const b = attachRuntime(a.share());
    const pool = a.createSlabPool({ objectSize: 16 })!;
    const p = pool.alloc();
    bugCheck(() => b.openSlabPool(p), 'ORIGIN', /not a SlabPool handle/);
    bugCheck(() => b.openSlabPool(12345), 'ORIGIN');
    bugCheck(() => b.openSlabPool(-1), 'PARAM');
    bugCheck(() => b.openSlabPool(pool.handle, { cacheSize: 5000 }), 'PARAM');
    pool.free(p);
    const h = pool.handle;
    pool.destroy();
    bugCheck(() => b.openSlabPool(h), 'ALT-POOL', /already freed/);
  });

  it('random interleavings over three workers agree with a model (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 64 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 9 }), fc.nat()), { minLength: 1, maxLength: 300 }),
        (cacheSize, ops) => {
          const a = createRuntimeSync({ shared: true, maxMemory: 16 * MiB });
          const rts = [a, attachRuntime(a.share()), attachRuntime(a.share())];
          const first = a.createSlabPool({ objectSize: 24 })!;
          const pools = [first, rts[1]!.openSlabPool(first.handle, { cacheSize })!, rts[2]!.openSlabPool(first.handle, { cacheSize: 3 })!];
          const live: number[] = [];
          const freed = new Set<number>();
          let allocs = 0, frees = 0;
          for (const [w, op, r] of ops) {
            const pool = pools[w]!;
            if (op < 5 || live.length === 0) {
              const p = pool.alloc();
              expect(p).toBeGreaterThan(0);
              expect(live).not.toContain(p);
              rts[w]!.bytes(p, 24).fill(w + 1);
              live.push(p);
              freed.delete(p);
              allocs++;
            } else if (op < 9) {
              const [p] = live.splice(r % live.length, 1);
              expect(rts[(w + 1) % 3]!.bytes(p!, 24).every((x) => x >= 1 && x <= 3)).toBe(true);
              pool.free(p!);
              freed.add(p!);
              frees++;
            } else if (freed.size > 0) {
              const p = [...freed][r % freed.size]!;
              bugCheck(() => pool.free(p));
            }
            expect(first.stats()).toMatchObject({ allocs, frees, outstanding: live.length });
          }
          rts[1]!.detach();
          rts[2]!.detach();
          expect(first.stats()).toMatchObject({ allocs, frees, outstanding: live.length });
          for (const p of live) first.free(p);
          first.destroy();
        },
      ),
      { numRuns: 60, seed: 10 },
    );
  });
});

describe('NET_BUFFER pools through worker caches', () => {
  const HDR1 = { Type: 0x80, Revision: 1, Size: 12 };
  const HDR2 = { Type: 0x80, Revision: 2, Size: 16 };
  function nbWorld(flags?: number) {
    const a = createRuntimeSync({ shared: true, maxMemory: 64 * MiB });
    const b = attachRuntime(a.share());
    const owner = a.NdisAllocateGenericObject(0, 0x6b6f6f54, 0);
    const params = flags === undefined ? { Header: HDR1, PoolTag: 0x6c6f6f50, DataSize: 256 } : { Header: HDR2, PoolTag: 0x6c6f6f50, DataSize: 256, Flags: flags };
    const pool = a.NdisAllocateNetBufferPool(owner, params as never);
    expect(pool).toBeGreaterThan(0);
    const row = () => a.poolmon().find((r) => r.tag === 'Pool')!;
    return { a, b, owner, pool, row };
  }

  it('counters stay exact while caches hold NBs; a recycled NB is initialised as new', () => {
    const { a, b, pool, row } = nbWorld();
    const nbs = Array.from({ length: 10 }, () => b.NdisAllocateNetBufferMdlAndData(pool));
    expect(row()).toMatchObject({ allocs: 10, frees: 0, outstanding: 10, bytes: 10 * a.poolStatsAt(pool).objectSize });
    // Spoil an NB's fields, free it in the other worker, and get it back through that cache.
    const nb = nbs[0]!;
    b.NdisAdvanceNetBufferDataStart(nb, 100, false);
    b.NET_BUFFER_NEXT_NB_SET(nb, nbs[1]!);
    a.NdisFreeNetBuffer(nb);
    expect(row()).toMatchObject({ allocs: 10, frees: 1, outstanding: 9 });
    const again = a.NdisAllocateNetBufferMdlAndData(pool);
    expect(again).toBe(nb); // LIFO: a's cache hands it straight back
    expect(a.NET_BUFFER_DATA_LENGTH(again)).toBe(256);
    expect(a.NET_BUFFER_DATA_OFFSET(again)).toBe(0);
    expect(a.NET_BUFFER_NEXT_NB(again)).toBe(0);
    expect(a.NET_BUFFER_CURRENT_MDL(again)).toBe(a.NET_BUFFER_FIRST_MDL(again));
    expect(a.NdisGetPoolFromNetBuffer(again)).toBe(pool);
    for (const x of [again, ...nbs.slice(1)]) b.NdisFreeNetBuffer(x);
    expect(row()).toMatchObject({ allocs: 11, frees: 11, outstanding: 0, bytes: 0 });
  });

  it('a cached NB is freed memory: double free and accessors are bug checks in every worker', () => {
    const { a, b, pool } = nbWorld();
    const nb = a.NdisAllocateNetBufferMdlAndData(pool);
    b.NdisFreeNetBuffer(nb);
    bugCheck(() => a.NdisFreeNetBuffer(nb), 'ALT-NB');
    bugCheck(() => b.NdisFreeNetBuffer(nb), 'ALT-NB');
    bugCheck(() => a.NET_BUFFER_DATA_LENGTH(nb), 'ALT-NB');
    bugCheck(() => b.NdisFreeNetBuffer(nb + 8), 'ORIGIN');
    bugCheck(() => b.NdisFreeNetBuffer(pool), 'ORIGIN');
  });

  it('an NB with retreat MDLs is freed by the locked path, which frees those MDLs too', () => {
    const { a, b, pool } = nbWorld();
    const nb = b.NdisAllocateNetBufferMdlAndData(pool);
    expect(b.NdisRetreatNetBufferDataStart(nb, 64, 0)).toBe(0); // DataOffset 0: a new MDL in front
    expect(b.NET_BUFFER_FIRST_MDL(nb)).not.toBe(nb + 0x58); // a retreat MDL in front of the NB's own (+0x58)
    const mdlRow = () => a.poolmon().filter((r) => r.type === 'MDL').reduce((n, r) => n + r.outstanding, 0);
    const mdlsBefore = mdlRow();
    a.NdisFreeNetBuffer(nb);
    expect(mdlRow()).toBeLessThan(mdlsBefore);
    expect(a.poolStatsAt(pool)).toMatchObject({ outstanding: 0 });
  });

  it('VERIFY pools take no cache: use after free is still caught through the quarantine', () => {
    const { a, b, pool } = nbWorld(1 /* NET_BUFFER_POOL_FLAG_VERIFY */);
    const nb = b.NdisAllocateNetBufferMdlAndData(pool);
    a.NdisFreeNetBuffer(nb);
    const again = b.NdisAllocateNetBufferMdlAndData(pool);
    expect(again).not.toBe(nb); // quarantined, not reused at once
    bugCheck(() => b.NET_BUFFER_DATA_LENGTH(nb), 'ALT-NB');
    a.NdisFreeNetBuffer(again);
  });

  it('NdisFreeNetBufferPool with NBs in other workers\' caches: no POOL-5, memory back; a new pool gets new caches', () => {
    const { a, b, owner, pool } = nbWorld();
    const inSlabs = () => { const m = a.memoryUsage(); return m.slabBytes - m.freeSlabBytes; };
    const nbs = Array.from({ length: 600 }, () => b.NdisAllocateNetBufferMdlAndData(pool));
    const one = nbs.pop()!;
    for (const nb of nbs) a.NdisFreeNetBuffer(nb);
    bugCheck(() => a.NdisFreeNetBufferPool(pool), 'POOL-5', /1 object/);
    b.NdisFreeNetBuffer(one);
    const before = inSlabs();
    a.NdisFreeNetBufferPool(pool);
    expect(inSlabs()).toBeLessThan(before);
    // The descriptor slot is reused by the next pool: the workers' tables must not confuse them.
    const pool2 = a.NdisAllocateNetBufferPool(owner, { Header: HDR1, PoolTag: 0x326c6f50, DataSize: 64 } as never);
    const nb2 = b.NdisAllocateNetBufferMdlAndData(pool2);
    expect(b.NdisGetPoolFromNetBuffer(nb2)).toBe(pool2);
    expect(b.NET_BUFFER_DATA_LENGTH(nb2)).toBe(64);
    a.NdisFreeNetBuffer(nb2);
    a.NdisFreeNetBufferPool(pool2);
    b.detach();
    a.NdisFreeGenericObject(owner);
  });

  it('random NB traffic over three workers agrees with a model (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 9 }), fc.nat()), { minLength: 1, maxLength: 300 }),
        (ops) => {
          const { a, pool, row } = nbWorld();
          const rts = [a, attachRuntime(a.share()), attachRuntime(a.share())];
          const live: number[] = [];
          const freed = new Set<number>();
          let allocs = 0, frees = 0;
          for (const [w, op, r] of ops) {
            const rt = rts[w]!;
            if (op < 5 || live.length === 0) {
              const nb = rt.NdisAllocateNetBufferMdlAndData(pool);
              expect(live).not.toContain(nb);
              expect(rt.NET_BUFFER_DATA_LENGTH(nb)).toBe(256);
              rt.bytes(rt.MmGetSystemAddressForMdlSafe(rt.NET_BUFFER_FIRST_MDL(nb), 16), 256).fill(w + 1);
              live.push(nb);
              freed.delete(nb);
              allocs++;
            } else if (op < 9) {
              const [nb] = live.splice(r % live.length, 1);
              rt.NdisFreeNetBuffer(nb!);
              freed.add(nb!);
              frees++;
            } else if (freed.size > 0) {
              bugCheck(() => rt.NdisFreeNetBuffer([...freed][r % freed.size]!), 'ALT-NB');
            }
            expect(row()).toMatchObject({ allocs, frees, outstanding: live.length });
          }
          rts[1]!.detach();
          rts[2]!.detach();
          expect(row()).toMatchObject({ allocs, frees, outstanding: live.length });
          for (const nb of live) a.NdisFreeNetBuffer(nb);
          a.NdisFreeNetBufferPool(pool);
        },
      ),
      { numRuns: 40, seed: 11 },
    );
  });
});

describe('4 worker_threads', () => {
  it('allocate, pass through SharedRings to the next worker, check owner and sequence, free there: nothing lost', async () => {
    const rt = await createRuntime({ shared: true, maxMemory: 128 * MiB });
    const inSlabs = () => { const m = rt.memoryUsage(); return m.slabBytes - m.freeSlabBytes; };
    const N = 4, TOTAL = 20_000;
    /** One whole run: pools and rings made, 4 workers, everything freed again. */
    const run = async () => {
      const pool = rt.createSlabPool({ objectSize: 64, tag: 'Strs' })!;
      const owner = rt.NdisAllocateGenericObject(0, 0x6b6f6f54, 0);
      const nbPool = rt.NdisAllocateNetBufferPool(owner, { Header: { Type: 0x80, Revision: 1, Size: 12 }, PoolTag: 0x73727453, DataSize: 128 } as never);
      const rings = Array.from({ length: N }, () => rt.createSharedRing({ capacity: 256, producers: 'single', consumers: 'single' })!);
      const results = await Promise.all(Array.from({ length: N }, (_, me) => new Promise<{ allocs: number; received: number; bad: number; left: number }>((resolve, reject) => {
        const w = new Worker(new URL('./workers/pool-stress.mjs', import.meta.url), {
          workerData: { d: rt.share(), me, n: N, pool: pool.handle, nbPool, rings: rings.map((r) => r.handle), total: TOTAL },
        });
        w.on('message', resolve);
        w.on('error', reject);
      })));
      for (const r of results) expect(r).toMatchObject({ bad: 0, allocs: TOTAL, received: TOTAL });
      // Every object accounted for: the counters are exact and nothing is outstanding.
      expect(pool.stats()).toMatchObject({ allocs: N * TOTAL / 2, frees: N * TOTAL / 2, outstanding: 0, bytes: 0 });
      expect(rt.poolStatsAt(nbPool)).toMatchObject({ allocs: N * TOTAL / 2, frees: N * TOTAL / 2, outstanding: 0 });
      for (const r of rings) expect(r.stats()).toMatchObject({ count: 0, enqueued: TOTAL, dequeued: TOTAL });
      for (const r of rings) r.destroy();
      pool.destroy();
      rt.NdisFreeNetBufferPool(nbPool);
      rt.NdisFreeGenericObject(owner);
      expect(rt.poolmon().filter((r) => r.outstanding !== 0)).toEqual([]);
      return inSlabs();
    };
    const first = await run();
    // Memory returns to its baseline: a second run ends with exactly the memory in slabs the first
    // ended with (the first keeps, per kind of tagged memory, the one empty slab every pool keeps).
    expect(await run()).toBe(first);
  }, 60_000);
});
