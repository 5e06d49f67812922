/**
 * Runtimes (DESIGN D8): createRuntime / createRuntimeSync, isolation, option validation,
 * runtime.bytes bounds, memoryUsage, and memory growth with and without shared memory (D5).
 */
import { describe, it, expect } from 'vitest';
import { createRuntime, createRuntimeSync, NdisRuntime, type NdisRuntime as Rt } from '../build/ts/runtime.js';
import { NdisBugCheck, RULE_P1 } from '../build/ts/errors.js';
import { loose, PAGE, bugCheck, nbPool } from './helpers.js';

const MiB = 1 << 20;

async function bugCheckAsync(p: Promise<unknown>): Promise<NdisBugCheck> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(NdisBugCheck);
  return err as NdisBugCheck;
}

/** Grows memory by about `bytes` through single allocations (no bulk call, no view refresh). */
function grow(rt: Rt, bytes: number): number[] {
  const big = rt.createSlabPool({ objectSize: 4096, tag: 'Grow' })!;
  const ptrs: number[] = [];
  for (let i = 0; i < bytes / 4096; i++) {
    const p = big.alloc();
    expect(p).not.toBe(0);
    ptrs.push(p);
  }
  return ptrs;
}

describe('createRuntime / createRuntimeSync', () => {
  it('both create working runtimes with the default options', async () => {
    const a = await createRuntime();
    const b = createRuntimeSync();
    for (const rt of [a, b]) {
      expect(rt).toBeInstanceOf(NdisRuntime);
      expect(rt.maxMemory).toBe(1 << 30);
      expect(rt.verifier).toBe(false);
      const pool = rt.createSlabPool({ objectSize: 64 })!;
      const p = pool.alloc();
      expect(p).toBeGreaterThanOrEqual(PAGE);
      pool.free(p);
      expect(pool.stats()).toMatchObject({ allocs: 1, frees: 1, outstanding: 0 });
    }
  });

  it('records the options', async () => {
    const a = await createRuntime({ maxMemory: 100 * PAGE + 123, verifier: true });
    expect(a.maxMemory).toBe(100 * PAGE); // rounded down to pages
    expect(a.verifier).toBe(true);
    expect(a.memoryUsage().maxMemory).toBe(100 * PAGE);
    const b = createRuntimeSync({ maxMemory: 2 ** 32 });
    expect(b.maxMemory).toBe(2 ** 32);
    expect(createRuntimeSync({ verifier: false }).verifier).toBe(false);
    const c = await createRuntime({ sharedMemory: false });
    expect(c.sharedMemory).toBe(false);
    expect(c.memory.buffer).toBeInstanceOf(ArrayBuffer);
    const pool = c.createSlabPool({ objectSize: 8 })!;
    pool.free(pool.alloc());
    expect(pool.stats().frees).toBe(1);
  });

  it('runtimes are isolated: own memory, own pools, own counters', async () => {
    const [a, b] = await Promise.all([createRuntime(), createRuntime()]);
    const c = createRuntimeSync();
    expect(a.memory).not.toBe(b.memory);
    expect(a.memory).not.toBe(c.memory);
    const pa = a.createSlabPool({ objectSize: 64 })!;
    const pb = b.createSlabPool({ objectSize: 64 })!;
    const xa = pa.alloc();
    const xb = pb.alloc();
    pa.bytes(xa).fill(0xaa);
    pb.bytes(xb).fill(0xbb);
    expect(pa.bytes(xa).every((v) => v === 0xaa)).toBe(true);
    expect(pb.bytes(xb).every((v) => v === 0xbb)).toBe(true);
    expect(pa.stats().allocs).toBe(1);
    expect(pb.stats().allocs).toBe(1);
    expect(a.poolmon()).toEqual(b.poolmon());
    pa.alloc();
    expect(pb.stats().allocs).toBe(1);
    expect(c.poolmon()).toEqual([]);
  });

  it("an object of one runtime is a foreign pointer to another (bug check, nothing changes)", () => {
    const a = createRuntimeSync();
    const b = createRuntimeSync();
    const pa = a.createSlabPool({ objectSize: 64 })!;
    const pb = b.createSlabPool({ objectSize: 64 })!;
    const out = new Uint32Array(5000);
    expect(pa.allocMany(out)).toBe(5000);
    const mine = pb.alloc();
    const foreign = out[4999]!; // far beyond anything b has allocated
    const before = pb.stats();
    const e = bugCheck(() => pb.free(foreign));
    expect(e.function).toBe('SlabPool.free');
    bugCheck(() => pb.bytes(foreign));
    expect(pb.stats()).toEqual(before);
    pb.free(mine);
    pa.free(foreign); // still a live object of a
    expect(pa.stats().outstanding).toBe(4999);

    const nbpA = nbPool(a, 100);
    const nbs: number[] = [];
    for (let i = 0; i < 2000; i++) nbs.push(loose(a).NdisAllocateNetBufferMdlAndData(nbpA));
    const nbForeign = nbs[1999]!;
    bugCheck(() => loose(b).NdisFreeNetBuffer(nbForeign));
    bugCheck(() => loose(b).NET_BUFFER_DATA_LENGTH(nbForeign));
    bugCheck(() => loose(b).NdisFreeNetBufferPool(nbpA + 5 * MiB));
    expect(loose(a).NET_BUFFER_DATA_LENGTH(nbForeign)).toBe(100);
    loose(a).NdisFreeNetBuffer(nbForeign);
  });

  it("a batch of one runtime is a plain array to another's pool (copy path, still correct)", () => {
    const a = createRuntimeSync();
    const b = createRuntimeSync();
    const pa = a.createSlabPool({ objectSize: 32 })!;
    const batchB = b.u32Batch(16);
    expect(pa.allocMany(batchB)).toBe(16);
    expect(new Set(batchB).size).toBe(16);
    for (const p of batchB) expect(pa.bytes(p).length).toBe(32);
    expect(pa.stats().outstanding).toBe(16);
    pa.freeMany(batchB);
    expect(pa.stats().outstanding).toBe(0);
  });
});

describe('option validation (NdisBugCheck PARAM)', () => {
  const bad: [string, Record<string, unknown>][] = [
    ['maxMemory 0', { maxMemory: 0 }],
    ['maxMemory one page', { maxMemory: PAGE }],
    ['maxMemory just below 4 pages', { maxMemory: 4 * PAGE - 1 }],
    ['maxMemory above 4 GiB', { maxMemory: 2 ** 32 + PAGE }],
    ['maxMemory 4 GiB + 1', { maxMemory: 2 ** 32 + 1 }],
    ['maxMemory fractional', { maxMemory: 8 * PAGE + 0.5 }],
    ['maxMemory NaN', { maxMemory: NaN }],
    ['maxMemory Infinity', { maxMemory: Infinity }],
    ['maxMemory negative', { maxMemory: -8 * PAGE }],
    ['maxMemory string', { maxMemory: '1000000' }],
    ['verifier 1', { verifier: 1 }],
    ['verifier "yes"', { verifier: 'yes' }],
    ['verifier null', { verifier: null }],
    ['sharedMemory "no"', { sharedMemory: 'no' }],
  ];
  for (const [name, options] of bad) {
    it(name, async () => {
      const e = bugCheck(() => createRuntimeSync(options as never));
      expect(e.rule).toBe('PARAM');
      expect(e.parameters[0]).toBe(RULE_P1.PARAM);
      expect(e.argument).toBe(`options.${Object.keys(options)[0]}`);
      const e2 = await bugCheckAsync(createRuntime(options as never));
      expect(e2.rule).toBe('PARAM');
      expect(e2.argument).toBe(e.argument);
    });
  }

  it('options that are not an object', async () => {
    expect(bugCheck(() => createRuntimeSync(5 as never)).rule).toBe('PARAM');
    expect((await bugCheckAsync(createRuntime('big' as never))).rule).toBe('PARAM');
  });

  // Every maxMemory the validation accepts must give a usable runtime, or the validation must
  // reject it as PARAM: never a plain Error from deep inside.
  it('small budgets near the minimum give a usable runtime or a PARAM bug check', () => {
    let smallest = 0;
    for (let pages = 4; pages <= 24; pages++) {
      let err: unknown;
      let rt: Rt | undefined;
      try {
        rt = createRuntimeSync({ maxMemory: pages * PAGE });
      } catch (e) {
        err = e;
      }
      if (err === undefined) {
        smallest ||= pages;
        expect(rt!.maxMemory).toBe(pages * PAGE);
        const pool = rt!.createSlabPool({ objectSize: 16 });
        expect(pool, `${pages} pages: no room for a SlabPool`).not.toBeNull();
        expect(pool!.alloc(), `${pages} pages: no room for one 16-byte object`).not.toBe(0);
        expect(rt!.memoryUsage().memoryBytes).toBeLessThanOrEqual(pages * PAGE);
      } else {
        expect(err, `maxMemory ${pages} pages: ${String(err)}`).toBeInstanceOf(NdisBugCheck);
        expect((err as NdisBugCheck).rule).toBe('PARAM');
        expect(smallest, `${pages} pages rejected although ${smallest} pages were accepted`).toBe(0);
      }
    }
    expect(smallest).toBeGreaterThan(0);
  });
});

describe('runtime.bytes', () => {
  it('gives a view of linear memory at the address', () => {
    const rt = createRuntimeSync();
    const pool = rt.createSlabPool({ objectSize: 16 })!;
    const p = pool.alloc();
    const v = rt.bytes(p, 16);
    expect(v.byteOffset).toBe(p);
    expect(v.length).toBe(16);
    v.set([1, 2, 3]);
    expect(Array.from(pool.bytes(p).subarray(0, 3))).toEqual([1, 2, 3]);
    const end = rt.memory.buffer.byteLength;
    expect(rt.bytes(end - 8, 8).length).toBe(8); // up to the very end
    expect(rt.bytes(end - 8, 0).length).toBe(0);
  });

  it('checks bounds and argument types', () => {
    const rt = createRuntimeSync();
    const end = rt.memory.buffer.byteLength;
    const cases: [number, number][] = [
      [end - 4, 8],
      [end, 1],
      [end + PAGE, 4],
      [0xfffffff0, 0x20],
      [PAGE, 0xffffffff],
    ];
    for (const [ptr, len] of cases) {
      const e = bugCheck(() => rt.bytes(ptr, len));
      expect(e.rule).toBe('PARAM');
      expect(e.function).toBe('bytes');
    }
    for (const [ptr, len] of [
      [0, 4],
      [NaN, 4],
      [-8, 4],
      [1.5, 4],
      [2 ** 32, 4],
      [PAGE, -1],
      [PAGE, 1.5],
      [PAGE, NaN],
    ] as [number, number][]) {
      expect(bugCheck(() => rt.bytes(ptr, len)).rule).toBe('PARAM');
    }
  });
});

describe('runtime.memoryUsage()', () => {
  it('reports memory, slab and free-slab bytes that follow allocations, frees and reset', () => {
    const rt = createRuntimeSync({ maxMemory: 256 * MiB });
    const u0 = rt.memoryUsage();
    expect(Object.keys(u0).sort()).toEqual(['freeSlabBytes', 'maxMemory', 'memoryBytes', 'slabBytes']);
    expect(u0.maxMemory).toBe(256 * MiB);
    expect(u0.memoryBytes).toBe(rt.memory.buffer.byteLength);
    expect(u0.memoryBytes).toBeLessThanOrEqual(u0.maxMemory);

    const pool = rt.createSlabPool({ objectSize: 1024 })!;
    const out = new Uint32Array(10 * 1024); // 10 MiB of objects
    expect(pool.allocMany(out)).toBe(out.length);
    const u1 = rt.memoryUsage();
    expect(u1.slabBytes).toBeGreaterThanOrEqual(10 * MiB);
    expect(u1.slabBytes).toBeGreaterThanOrEqual(pool.stats().slabBytes);
    expect(u1.memoryBytes).toBeGreaterThanOrEqual(u1.slabBytes);
    expect(u1.memoryBytes).toBe(rt.memory.buffer.byteLength);
    expect(u1.memoryBytes).toBeLessThanOrEqual(u1.maxMemory);
    expect(u1.freeSlabBytes).toBeLessThan(u1.slabBytes);
    expect(u1.slabBytes % PAGE).toBe(0);
    expect(u1.freeSlabBytes % PAGE).toBe(0);

    const poolSlabs = pool.stats().slabBytes;
    pool.freeMany(out);
    pool.destroy();
    const u2 = rt.memoryUsage();
    expect(u2.slabBytes).toBe(u1.slabBytes); // units stay owned by the page source…
    expect(u2.freeSlabBytes).toBeGreaterThanOrEqual(u1.freeSlabBytes + poolSlabs - PAGE); // …but free (one unit may hold the tag's record)
    expect(u2.memoryBytes).toBe(u1.memoryBytes); // linear memory never shrinks

    rt.reset();
    const u3 = rt.memoryUsage();
    expect(u3.freeSlabBytes).toBe(u3.slabBytes);
    expect(u3.memoryBytes).toBe(u1.memoryBytes);
  });

  it('never exceeds the budget; allocation returns 0 at the budget', () => {
    const rt = createRuntimeSync({ maxMemory: 32 * MiB });
    const pool = rt.createSlabPool({ objectSize: 60000 })!;
    let n = 0;
    while (pool.alloc() !== 0) n++;
    expect(n).toBeGreaterThan(300);
    const u = rt.memoryUsage();
    expect(u.memoryBytes).toBeLessThanOrEqual(32 * MiB);
    expect(u.slabBytes).toBeLessThanOrEqual(32 * MiB);
    expect(pool.stats().failures).toBe(1);
  });

  it('poolmon() and memoryUsage() still answer when the budget is spent', () => {
    const rt = createRuntimeSync({ maxMemory: 64 * PAGE });
    const pool = rt.createSlabPool({ objectSize: 64, tag: 'Full' })!;
    let n = 0;
    while (pool.alloc() !== 0) n++;
    expect(rt.memoryUsage().freeSlabBytes).toBe(0);
    let rows: ReturnType<Rt['poolmon']> = [];
    expect(() => {
      rows = rt.poolmon();
    }).not.toThrow();
    expect(rows.find((r) => r.tag === 'Full')?.outstanding).toBe(n);
  });
});

describe.each([
  { sharedMemory: true, label: 'shared memory (the default in Node)' },
  { sharedMemory: false, label: 'unshared memory' },
])('growth with $label', ({ sharedMemory }) => {
  const make = () => createRuntimeSync(sharedMemory ? {} : { sharedMemory: false });

  it('reports the memory kind', () => {
    const rt = make();
    expect(rt.sharedMemory).toBe(sharedMemory);
    const isShared = typeof SharedArrayBuffer !== 'undefined' && rt.memory.buffer instanceof SharedArrayBuffer;
    expect(isShared).toBe(sharedMemory);
    if (sharedMemory) expect(createRuntimeSync().sharedMemory).toBe(true); // the Node default
  });

  it('allocations, bytes(), stats and bulk calls keep working after tens of MB of growth', () => {
    const rt = make();
    const pool = rt.createSlabPool({ objectSize: 64 })!;
    const early = [pool.alloc(), pool.alloc(), pool.alloc()];
    early.forEach((p, i) => pool.bytes(p).fill(i + 1));
    pool.freeMany(new Uint32Array(0)); // a bulk call before growth
    const size0 = rt.memory.buffer.byteLength;

    const grown = grow(rt, 48 * MiB); // single allocs: nothing in src/ refreshes its views here
    expect(rt.memory.buffer.byteLength).toBeGreaterThanOrEqual(size0 + 40 * MiB);

    // old objects, through fresh views
    early.forEach((p, i) => expect(pool.bytes(p).every((v) => v === i + 1)).toBe(true));
    expect(pool.stats()).toMatchObject({ outstanding: 3, allocs: 3 });
    // an object above the old end of memory
    const last = grown[grown.length - 1]!;
    expect(last).toBeGreaterThan(size0);
    rt.bytes(last, 4096).fill(0x5a);
    expect(rt.bytes(last + 4092, 4).every((v) => v === 0x5a)).toBe(true);
    // bulk calls with plain arrays
    const more = new Uint32Array(100);
    expect(pool.allocMany(more)).toBe(100);
    pool.freeMany(Uint32Array.from(early));
    expect(pool.stats().outstanding).toBe(100);
    pool.freeMany(more, 50);
    expect(pool.stats().outstanding).toBe(50);
    // a batch taken after growth
    const batch = rt.u32Batch(32);
    expect(pool.allocMany(batch)).toBe(32);
    pool.freeMany(batch);
    expect(pool.stats().outstanding).toBe(50);
    // NDIS accessors on objects above the old end
    const nbp = nbPool(rt, 1500);
    const nb = loose(rt).NdisAllocateNetBufferMdlAndData(nbp);
    expect(nb).toBeGreaterThan(size0);
    expect(loose(rt).NET_BUFFER_DATA_LENGTH(nb)).toBe(1500);
    expect(loose(rt).MmGetMdlByteCount(loose(rt).NET_BUFFER_FIRST_MDL(nb))).toBe(1500);
    loose(rt).NdisFreeNetBuffer(nb);
    expect(rt.poolmon().find((r) => r.tag === 'Grow')?.outstanding).toBe(grown.length);
  });

  it('freeMany with a plain array right after growth by single allocs', () => {
    const rt = make();
    const pool = rt.createSlabPool({ objectSize: 64 })!;
    const a = new Uint32Array(4);
    pool.allocMany(a); // the runtime's scratch array now exists
    grow(rt, 48 * MiB);
    expect(() => pool.freeMany(a)).not.toThrow();
    expect(pool.stats().outstanding).toBe(0);
  });

  it('a view from bytes() taken before growth', () => {
    const rt = make();
    const pool = rt.createSlabPool({ objectSize: 64 })!;
    const p = pool.alloc();
    const view = pool.bytes(p);
    view.fill(0x11);
    grow(rt, 32 * MiB);
    if (sharedMemory) {
      // shared memory: the old view still reads and writes the same bytes
      expect(view.length).toBe(64);
      expect(view.every((v) => v === 0x11)).toBe(true);
      view.fill(0x22);
      expect(pool.bytes(p).every((v) => v === 0x22)).toBe(true);
      pool.bytes(p).fill(0x33);
      expect(view.every((v) => v === 0x33)).toBe(true);
    } else {
      // unshared memory: the documented stale-view rule (growth detaches old views)
      expect(view.length).toBe(0);
      expect(pool.bytes(p).every((v) => v === 0x11)).toBe(true);
    }
  });

  it('a u32Batch taken before growth', () => {
    const rt = make();
    const pool = rt.createSlabPool({ objectSize: 16 })!;
    const batch = rt.u32Batch(8);
    grow(rt, 32 * MiB);
    if (sharedMemory) {
      expect(pool.allocMany(batch)).toBe(8);
      const fresh = new Uint32Array(rt.memory.buffer, batch.byteOffset, 8);
      expect(Array.from(fresh)).toEqual(Array.from(batch));
      pool.freeMany(batch);
      expect(pool.stats()).toMatchObject({ allocs: 8, frees: 8 });
    } else {
      expect(batch.length).toBe(0); // detached, like any view
      // Using it is a mistake, but one the library must report as a bug check (D6), not as a
      // TypeError from inside src/.
      for (const [name, use] of [
        ['allocMany', () => pool.allocMany(batch)],
        ['freeMany', () => pool.freeMany(batch)],
      ] as const) {
        let err: unknown;
        try {
          use();
        } catch (e) {
          err = e;
        }
        if (err !== undefined) expect(err, `${name} on a detached batch: ${String(err)}`).toBeInstanceOf(NdisBugCheck);
      }
      expect(pool.stats()).toMatchObject({ outstanding: 0, frees: 0 });
      // a batch taken now works
      const fresh = rt.u32Batch(8);
      expect(pool.allocMany(fresh)).toBe(8);
      pool.freeMany(fresh);
    }
  });

  it('bug-check messages describe objects above the old end of memory correctly', () => {
    const rt = make();
    const pool = rt.createSlabPool({ objectSize: 64 })!;
    pool.free(pool.alloc());
    grow(rt, 32 * MiB);
    const nbp = nbPool(rt, 100);
    const nb = loose(rt).NdisAllocateNetBufferMdlAndData(nbp);
    // WRONG_KIND: the message names what the pointer is
    expect(bugCheck(() => pool.free(nb)).message).toMatch(/is a NET_BUFFER,/);
    // POOL-4: the message quotes the pool's DataSize
    expect(bugCheck(() => loose(rt).NdisAllocateNetBuffer(nbp, 0, 0, 0)).message).toMatch(/DataSize 100/);
  });
});
