/**
 * Property-based tests: random command sequences run against a SlabPool (and an NDIS
 * NET_BUFFER pool) and against a plain JS reference model. After every command the pool's
 * counters must match the model, live objects must not overlap and must still hold the bytes
 * written into them, and every command must throw NdisBugCheck exactly when the model says it
 * is invalid (leaving everything unchanged).
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import { NdisBugCheck } from '../build/ts/errors.js';
import type { SlabPool } from '../build/ts/pool.js';
import { loose, PAGE, nbPool, slot } from './helpers.js';

const BATCH_SIZES = [1, 5, 32, 100, 256] as const;
const MAX_K = 256;

// -- commands -------------------------------------------------------------------------------------

type Bad = { kind: 'dup' | 'freed' | 'forged' | 'near'; pos: number; v: number };
type Cmd =
  | { t: 'alloc' }
  | { t: 'free'; i: number }
  | { t: 'allocMany'; k: number; batch: boolean }
  | { t: 'freeMany'; picks: number[]; count: number | null; batch: boolean; bad: Bad | null }
  | { t: 'doubleFree'; i: number }
  | { t: 'forged'; v: number }
  | { t: 'near'; i: number; delta: number }
  | { t: 'nonU32'; v: number };

const forgedArb = fc.oneof(
  fc.nat({ max: 0xffffffff }),
  fc.constantFrom(0, 8, 4096, PAGE, PAGE + 8, 2 * PAGE, 0x100000, 0xfffffff8),
  fc.integer({ min: PAGE, max: 64 * PAGE }),
);

const cmdArb = (maxK: number): fc.Arbitrary<Cmd> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant<Cmd>({ t: 'alloc' }) },
    { weight: 5, arbitrary: fc.record({ t: fc.constant('free' as const), i: fc.nat() }) },
    {
      weight: 3,
      arbitrary: fc.record({ t: fc.constant('allocMany' as const), k: fc.integer({ min: 0, max: maxK }), batch: fc.boolean() }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        t: fc.constant('freeMany' as const),
        picks: fc.array(fc.nat(), { maxLength: 40, size: 'max' }),
        count: fc.option(fc.nat(), { nil: null }),
        batch: fc.boolean(),
        bad: fc.option(
          fc.record({ kind: fc.constantFrom('dup' as const, 'freed' as const, 'forged' as const, 'near' as const), pos: fc.nat(), v: forgedArb }),
          { nil: null, freq: 2 },
        ),
      }),
    },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('doubleFree' as const), i: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('forged' as const), v: forgedArb }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('near' as const), i: fc.nat(), delta: fc.integer({ min: -4096, max: 4096 }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('nonU32' as const), v: fc.constantFrom(NaN, -1, 1.5, 2 ** 32, Infinity, -0.5) }) },
  );

interface Config {
  objectSize: number;
  maxOutstanding: number | undefined;
  /** null: default 1 GiB budget; n: 64-page budget with about n free 64 KiB units left for the pool */
  slackUnits: number | null;
  /**
   * Budget runs: true reserves the runtime's scratch array for bulk calls before the budget is
   * spent; false spends every page, so bulk calls with plain arrays run without scratch memory.
   */
  scratch: boolean;
}

const configArb: fc.Arbitrary<Config> = fc.record({
  objectSize: fc.constantFrom(16, 64, 200, 2048),
  maxOutstanding: fc.option(fc.integer({ min: 0, max: 120 }), { nil: undefined, freq: 2 }),
  slackUnits: fc.option(fc.integer({ min: 0, max: 2 }), { nil: null, freq: 2 }),
  scratch: fc.boolean(),
});

// -- helpers --------------------------------------------------------------------------------------

/** Runs fn; returns the NdisBugCheck it threw, or null. Anything else thrown fails the test. */
function attempt(fn: () => void): NdisBugCheck | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof NdisBugCheck) return e;
    throw e;
  }
}

function pattern(seed: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let j = 0; j < n; j++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[j] = x & 0xff;
  }
  return b;
}

/**
 * Fills the runtime's memory budget with a 1-object-per-unit pool and leaves ~`slack` units free;
 * with `heapToo`, also takes every page outside the page source (no scratch array possible).
 */
function eatMemory(rt: NdisRuntime, slack: number, heapToo: boolean): void {
  const filler = rt.createSlabPool({ objectSize: 65000, tag: 'Fill' })!;
  const got: number[] = [];
  let p: number;
  while ((p = filler.alloc()) !== 0) got.push(p);
  // The pool keeps its current slab and one empty spare; freeing slack + 1 of the older
  // objects gives exactly `slack` units back to the page source.
  if (slack > 0) for (const x of got.slice(0, slack + 1)) filler.free(x);
  if (heapToo) {
    while (rt.wasm.heapReserve(1024) >>> 0);
    expect(rt.wasm.heapReserve(4) >>> 0).toBe(0);
  }
}

/** What the generated runs exercised (checked after the properties, so coverage cannot rot). */
const seen = { budgetExhausted: 0, limitReached: 0, freeOk: 0, freeBad: 0, freeManyOk: 0, freeManyBad: 0, batchCalls: 0, nbDoubleFree: 0 };
function resetSeen(): void {
  for (const k of Object.keys(seen) as (keyof typeof seen)[]) seen[k] = 0;
}

// -- the SlabPool model ---------------------------------------------------------------------------

class Model {
  live = new Map<number, Uint8Array>(); // address -> expected bytes
  order: number[] = []; // live addresses in allocation order (for picking)
  freed: number[] = []; // addresses freed at some point
  allocs = 0;
  frees = 0;
  failures = 0;
  peak = 0;
  serial = 0;
  /** budget runs: the number of live objects at which the memory budget ran out (once seen) */
  capacity: number | undefined;
  highWater = 0;

  constructor(
    readonly cfg: Config,
    readonly limit: number,
  ) {}

  /**
   * [lo, hi]: how many more objects the pool must give at least / may give at most now. The
   * limit is exact; in budget runs the capacity is known once exhaustion was seen, and before
   * that every occupancy already reached must be reachable again (nothing else allocates).
   */
  bounds(): [number, number] {
    const live = this.live.size;
    const budgetCap = this.cfg.slackUnits === null ? Infinity : (this.capacity ?? this.highWater);
    const lo = Math.max(0, Math.min(this.limit, budgetCap) - live);
    const hi = Math.max(0, Math.min(this.limit, this.capacity ?? Infinity) - live);
    return [lo, hi];
  }

  add(p: number, rt: NdisRuntime, pool: SlabPool): void {
    expect(p, 'alloc returned a live address').not.toSatisfy((x: number) => this.live.has(x));
    expect(p % 8).toBe(0);
    expect(p).toBeGreaterThanOrEqual(PAGE);
    const exp = pattern(++this.serial, this.cfg.objectSize);
    pool.bytes(p).set(exp);
    this.live.set(p, exp);
    this.order.push(p);
    this.allocs++;
    this.peak = Math.max(this.peak, this.live.size);
    this.highWater = Math.max(this.highWater, this.live.size);
    void rt;
  }

  remove(p: number): void {
    this.live.delete(p);
    const i = this.order.indexOf(p);
    this.order.splice(i, 1);
    this.freed.push(p);
    this.frees++;
  }

  /** An allocation stopped short with `live` objects: check it is allowed, update the model. */
  shortAt(): void {
    this.failures++;
    if (this.live.size >= this.limit) {
      seen.limitReached++;
      return;
    }
    seen.budgetExhausted++;
    expect(this.cfg.slackUnits, `allocation failed with ${this.live.size} live (no limit reached, 1 GiB budget)`).not.toBeNull();
    // The budget is fixed and nothing else allocates: capacity is reached exactly and stays put.
    expect(this.live.size, 'exhaustion below an occupancy reached before').toBeGreaterThanOrEqual(this.highWater);
    if (this.capacity !== undefined) expect(this.live.size).toBe(this.capacity);
    this.capacity = this.live.size;
  }

  /** Index (in list[0..count)) of the first entry that makes freeMany invalid, or -1. */
  firstBad(list: number[], count: number): number {
    const seen = new Set<number>();
    for (let i = 0; i < count; i++) {
      const p = list[i]!;
      if (!this.live.has(p) || seen.has(p)) return i;
      seen.add(p);
    }
    return -1;
  }
}

function check(rt: NdisRuntime, pool: SlabPool, m: Model): void {
  const s = pool.stats();
  expect({ outstanding: s.outstanding, allocs: s.allocs, frees: s.frees, failures: s.failures, peak: s.peak, bytes: s.bytes }).toEqual({
    outstanding: m.live.size,
    allocs: m.allocs,
    frees: m.frees,
    failures: m.failures,
    peak: m.peak,
    bytes: m.live.size * slot(m.cfg.objectSize),
  });
  const size = m.cfg.objectSize;
  const addrs = [...m.live.keys()].sort((a, b) => a - b);
  for (let i = 1; i < addrs.length; i++) {
    if (addrs[i]! - addrs[i - 1]! < size) expect.fail(`live objects overlap: ${addrs[i - 1]} and ${addrs[i]} (size ${size})`);
  }
  // Data: compare every live object with what was written at allocation (native compare).
  const mem = Buffer.from(rt.memory.buffer as ArrayBuffer);
  for (const [p, exp] of m.live) {
    if (p + size > mem.length) expect.fail(`object ${p} runs past the end of memory`);
    if (Buffer.from(exp.buffer, exp.byteOffset, exp.length).compare(mem, p, p + size) !== 0) {
      expect.fail(`object ${p} lost its data`);
    }
  }
  // And a few through the validating accessor.
  for (const p of addrs.slice(0, 3)) expect(pool.bytes(p).length).toBe(size);
}

function runSlabPool(cfg: Config, cmds: Cmd[]): void {
  const rt = createRuntimeSync(cfg.slackUnits === null ? {} : { maxMemory: 64 * PAGE });
  const pool = rt.createSlabPool({ objectSize: cfg.objectSize, tag: 'Prop', maxOutstanding: cfg.maxOutstanding })!;
  expect(pool).not.toBeNull();
  // Batches live outside the slabs: take them before the budget is spent. The runtime's scratch
  // array for bulk calls with plain arrays too, in runs with `scratch`.
  const batches = new Map(BATCH_SIZES.map((n) => [n, rt.u32Batch(n)] as const));
  if (cfg.scratch) {
    const warm = rt.createSlabPool({ objectSize: 8, tag: 'Warm' })!;
    expect(warm.allocMany(new Uint32Array(MAX_K + 50))).toBe(MAX_K + 50); // grows the scratch array
    warm.destroy({ force: true });
  }
  if (cfg.slackUnits !== null) eatMemory(rt, cfg.slackUnits, !cfg.scratch);

  const m = new Model(cfg, cfg.maxOutstanding ?? Infinity);
  const pick = (i: number) => m.order[i % m.order.length]!;

  const freeOne = (p: number) => {
    const valid = m.live.has(p);
    const e = attempt(() => pool.free(p));
    if (valid) {
      expect(e, `free(${p}) of a live object threw`).toBeNull();
      m.remove(p);
      seen.freeOk++;
    } else {
      seen.freeBad++;
      expect(e, `free(${p}) of a non-live address did not throw`).not.toBeNull();
      expect(e!.function).toBe('SlabPool.free');
      expect(e!.argument).toBe('ptr');
    }
  };

  check(rt, pool, m);
  for (const c of cmds) {
    switch (c.t) {
      case 'alloc': {
        const [lo, hi] = m.bounds();
        const p = pool.alloc();
        if (p === 0) {
          expect(lo, 'alloc returned 0 although it had to succeed').toBe(0);
          m.shortAt();
        } else {
          expect(hi, 'alloc succeeded beyond the limit / capacity').toBeGreaterThan(0);
          m.add(p, rt, pool);
        }
        break;
      }
      case 'free':
        if (m.order.length) freeOne(pick(c.i));
        break;
      case 'allocMany': {
        let k = c.k;
        let out: Uint32Array;
        if (c.batch) {
          k = BATCH_SIZES.find((n) => n >= k) ?? MAX_K;
          out = batches.get(k as (typeof BATCH_SIZES)[number])!;
        } else {
          out = new Uint32Array(k);
        }
        const [lo, hi] = m.bounds();
        const got = pool.allocMany(out);
        expect(got).toBeGreaterThanOrEqual(Math.min(k, lo));
        expect(got).toBeLessThanOrEqual(Math.min(k, hi));
        for (let i = 0; i < got; i++) m.add(out[i]!, rt, pool);
        if (got < k) m.shortAt();
        break;
      }
      case 'freeMany': {
        const uniq = [...new Set(c.picks.filter(() => m.order.length > 0).map((i) => pick(i)))];
        const list = [...uniq];
        if (c.bad) {
          let v: number | undefined;
          if (c.bad.kind === 'dup' && uniq.length) v = uniq[c.bad.v % uniq.length];
          else if (c.bad.kind === 'freed' && m.freed.length) v = m.freed[c.bad.v % m.freed.length];
          else if (c.bad.kind === 'near' && m.order.length) v = (pick(c.bad.v) + ((c.bad.v % 33) - 16) * 8) >>> 0;
          else v = c.bad.v;
          list.splice(c.bad.pos % (list.length + 1), 0, v!);
        }
        const count = c.count === null ? list.length : c.count % (list.length + 1);
        // entries past `count` must be ignored: put garbage there
        if (count < list.length) list[count] = 0xdeadbeef;
        let arr: Uint32Array;
        if (c.batch && list.length <= MAX_K) {
          arr = batches.get(MAX_K)!;
          arr.set(list);
        } else {
          arr = Uint32Array.from(list);
        }
        const bad = m.firstBad(list, count);
        const useCount = c.count !== null || arr.length !== list.length;
        const e = attempt(() => (useCount ? pool.freeMany(arr, count) : pool.freeMany(arr)));
        if (arr.length !== list.length) seen.batchCalls++;
        if (bad < 0) {
          seen.freeManyOk++;
          expect(e, `freeMany of ${count} valid entries threw: ${e?.message}`).toBeNull();
          for (let i = 0; i < count; i++) m.remove(list[i]!);
        } else {
          expect(e, `freeMany with a bad entry at ${bad} did not throw`).not.toBeNull();
          expect(e!.argument).toBe(`ptrs[${bad}]`);
          seen.freeManyBad++;
        }
        break;
      }
      case 'doubleFree':
        if (m.freed.length) freeOne(m.freed[c.i % m.freed.length]!);
        break;
      case 'forged':
        freeOne(c.v);
        break;
      case 'near':
        if (m.order.length) freeOne((pick(c.i) + c.delta) >>> 0);
        break;
      case 'nonU32': {
        const e = attempt(() => pool.free(c.v));
        expect(e).not.toBeNull();
        expect(e!.rule).toBe('PARAM');
        break;
      }
    }
    check(rt, pool, m);
  }
  // Clean-up through the API: everything still live frees once, then the pool destroys.
  const rest = [...m.live.keys()];
  for (let i = 0; i < rest.length; i += MAX_K) pool.freeMany(Uint32Array.from(rest.slice(i, i + MAX_K)));
  expect(pool.stats().outstanding).toBe(0);
  pool.destroy();
}

// -- NDIS: NET_BUFFERs with MDL and data ----------------------------------------------------------

type NbCmd = { t: 'alloc' } | { t: 'free'; i: number } | { t: 'doubleFree'; i: number } | { t: 'forged'; v: number };

const nbCmdArb: fc.Arbitrary<NbCmd> = fc.oneof(
  { weight: 5, arbitrary: fc.constant<NbCmd>({ t: 'alloc' }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('free' as const), i: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('doubleFree' as const), i: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('forged' as const), v: forgedArb }) },
);

const TAG = 0x706f7250; // 'Prop' in memory order

function runNetBuffers(dataSize: number, cmds: NbCmd[]): void {
  const rt = createRuntimeSync();
  const pool = nbPool(rt, dataSize, TAG);
  const objBytes = 0x78 + dataSize;
  const nbSlot = slot(objBytes);
  const live = new Map<number, Uint8Array>();
  const order: number[] = [];
  const freed: number[] = [];
  let allocs = 0;
  let frees = 0;
  let serial = 0;

  const row = () => rt.poolmon().find((r) => r.tagValue === TAG && r.type === 'NB');
  const verify = () => {
    const r = row();
    expect({ allocs: r?.allocs ?? 0, frees: r?.frees ?? 0, outstanding: r?.outstanding ?? 0, bytes: r?.bytes ?? 0 }).toEqual({
      allocs,
      frees,
      outstanding: live.size,
      bytes: live.size * nbSlot,
    });
    // MdlAndData objects take nothing from the runtime's MDL pool
    expect(rt.poolmon().find((x) => x.type === 'MDL')?.outstanding ?? 0).toBe(0);
    const addrs = [...live.keys()].sort((a, b) => a - b);
    for (let i = 1; i < addrs.length; i++) {
      if (addrs[i]! - addrs[i - 1]! < objBytes) expect.fail(`NET_BUFFERs overlap: ${addrs[i - 1]} and ${addrs[i]}`);
    }
    const mem = Buffer.from(rt.memory.buffer as ArrayBuffer);
    for (const [nb, exp] of live) {
      const d = nb + 0x78;
      if (Buffer.from(exp.buffer, exp.byteOffset, exp.length).compare(mem, d, d + dataSize) !== 0) expect.fail(`NET_BUFFER ${nb} lost its data`);
    }
  };
  const freeOne = (nb: number) => {
    const valid = live.has(nb);
    const e = attempt(() => loose(rt).NdisFreeNetBuffer(nb));
    if (valid) {
      expect(e).toBeNull();
      live.delete(nb);
      order.splice(order.indexOf(nb), 1);
      freed.push(nb);
      frees++;
    } else {
      expect(e, `NdisFreeNetBuffer(${nb}) of a non-live address did not throw`).not.toBeNull();
      expect(e!.function).toBe('NdisFreeNetBuffer');
      // ALT-NB while the slab is still there; once an emptied slab went back to the page source
      // the address belongs to no pool any more (ORIGIN).
      if (freed.includes(nb)) {
        expect(['ALT-NB', 'ORIGIN']).toContain(e!.rule);
        seen.nbDoubleFree++;
      }
      expect(e!.code).toBe(0xc2);
    }
  };

  verify();
  for (const c of cmds) {
    switch (c.t) {
      case 'alloc': {
        const nb = loose(rt).NdisAllocateNetBufferMdlAndData(pool);
        expect(nb).not.toBe(0);
        expect(live.has(nb)).toBe(false);
        expect(nb % 8).toBe(0);
        const mdl = loose(rt).NET_BUFFER_FIRST_MDL(nb);
        expect(mdl).toBe(nb + 0x58);
        expect(loose(rt).NET_BUFFER_CURRENT_MDL(nb)).toBe(mdl);
        expect(loose(rt).NET_BUFFER_CURRENT_MDL_OFFSET(nb)).toBe(0);
        expect(loose(rt).NET_BUFFER_DATA_OFFSET(nb)).toBe(0);
        expect(loose(rt).NET_BUFFER_DATA_LENGTH(nb)).toBe(dataSize);
        expect(loose(rt).NET_BUFFER_NEXT_NB(nb)).toBe(0);
        expect(loose(rt).NdisGetPoolFromNetBuffer(nb)).toBe(pool);
        expect(loose(rt).MmGetMdlVirtualAddress(mdl)).toBe(nb + 0x78);
        expect(loose(rt).MmGetMdlByteCount(mdl)).toBe(dataSize);
        expect(loose(rt).NDIS_MDL_LINKAGE(mdl)).toBe(0);
        const exp = pattern(++serial, dataSize);
        rt.bytes(nb + 0x78, dataSize).set(exp);
        live.set(nb, exp);
        order.push(nb);
        allocs++;
        break;
      }
      case 'free':
        if (order.length) freeOne(order[c.i % order.length]!);
        break;
      case 'doubleFree':
        if (freed.length) freeOne(freed[c.i % freed.length]!);
        break;
      case 'forged':
        freeOne(c.v);
        break;
    }
    verify();
  }
  if (live.size) {
    const e = attempt(() => loose(rt).NdisFreeNetBufferPool(pool));
    expect(e?.rule).toBe('POOL-5');
    verify();
  }
  for (const nb of [...live.keys()]) freeOne(nb);
  loose(rt).NdisFreeNetBufferPool(pool);
}

// -- the properties -------------------------------------------------------------------------------

describe('SlabPool against a reference model', () => {
  it('random alloc / free / allocMany / freeMany / misuse sequences', () => {
    resetSeen();
    fc.assert(
      fc.property(configArb, fc.array(cmdArb(64), { maxLength: 80, size: 'max' }), (cfg, cmds) => runSlabPool(cfg, cmds)),
      { numRuns: 400 },
    );
    // the generators did exercise what this property is about
    expect(seen.budgetExhausted).toBeGreaterThan(10);
    expect(seen.limitReached).toBeGreaterThan(10);
    expect(seen.freeOk).toBeGreaterThan(500);
    expect(seen.freeBad).toBeGreaterThan(500);
    expect(seen.freeManyOk).toBeGreaterThan(100);
    expect(seen.freeManyBad).toBeGreaterThan(100);
    expect(seen.batchCalls).toBeGreaterThan(50);
  });

  it('long sequences with big bulk calls under a small memory budget reach exhaustion', () => {
    const cfg = fc.record({
      objectSize: fc.constantFrom(64, 200, 2048),
      maxOutstanding: fc.constant(undefined),
      slackUnits: fc.integer({ min: 0, max: 2 }),
      scratch: fc.boolean(),
    });
    resetSeen();
    fc.assert(fc.property(cfg, fc.array(cmdArb(MAX_K), { minLength: 20, maxLength: 100, size: 'max' }), (c, cmds) => runSlabPool(c, cmds)), {
      numRuns: 150,
    });
    expect(seen.budgetExhausted).toBeGreaterThan(50);
  });

  it('the model itself catches a wrong counter (sanity check of the harness)', () => {
    const rt = createRuntimeSync();
    const pool = rt.createSlabPool({ objectSize: 16 })!;
    const m = new Model({ objectSize: 16, maxOutstanding: undefined, slackUnits: null, scratch: true }, Infinity);
    m.add(pool.alloc(), rt, pool);
    check(rt, pool, m);
    pool.alloc(); // not told to the model
    expect(() => check(rt, pool, m)).toThrow();
  });
});

describe('NET_BUFFER pools (NdisAllocateNetBufferMdlAndData / NdisFreeNetBuffer) against a model', () => {
  it('random sequences on pools with a random DataSize', () => {
    const dataSize = fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 1, max: 4096 }) },
      { weight: 1, arbitrary: fc.constantFrom(65536 - 0x78, 200000, 300000) },
    );
    resetSeen();
    fc.assert(fc.property(dataSize, fc.array(nbCmdArb, { maxLength: 80, size: 'max' }), (d, cmds) => runNetBuffers(d, cmds)), { numRuns: 300 });
    expect(seen.nbDoubleFree).toBeGreaterThan(10);
  });
});
