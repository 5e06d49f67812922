/**
 * Model test of the NET_BUFFER data space (NDIS-SPEC §5; DESIGN decisions 1-4, 14, 21): random
 * sequences of allocate (an NB over a random multi-MDL chain at random offsets), retreat (default
 * allocator, or a handler that returns exactly, more than, or nothing), advance (FreeMdl TRUE /
 * FALSE, with or without FreeMdlHandler), DataOffset set by the driver + NdisAdjustNetBufferCurrentMdl,
 * write (through NdisGetDataBuffer or by locating MDL bytes), read (NdisGetDataBuffer with random
 * alignment, with and without Storage), copy between NBs and free, run against a plain-TS reference
 * model that holds each NB's MDL segments (their kind and bytes), DataOffset and DataLength.
 *
 * After every step, for every live NB: the MDL chain (NET_BUFFER_FIRST_MDL / NDIS_MDL_LINKAGE /
 * MmGetMdlByteCount) is the model's, DataOffset and DataLength are the model's, DataOffset +
 * DataLength <= the chain's bytes, CurrentMdl / CurrentMdlOffset locate DataOffset in canonical
 * form, and every byte of the chain the model knows (the used bytes and the unused space) reads
 * back equal (MmGetSystemAddressForMdlSafe); poolmon's 'NdRt' Memory and 'Mdl ' MDL outstanding
 * counts are the model's. At the end everything is freed and those rows show 0 outstanding.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import { NdisBugCheck } from '../build/ts/errors.js';
import {
  POOL_TAG, NDIS_STATUS_SUCCESS, NDIS_STATUS_RESOURCES, NDIS_STATUS_FAILURE, NormalPoolPriority, NormalPagePriority,
} from '../build/ts/ndis/constants.js';
import { type Loose, type LooseRt, loose, nbPool, row } from './helpers.js';

const BUF_TAG = POOL_TAG('fuBm'); // 'mBuf': the callers' buffers
const HDL_TAG = POOL_TAG('ldHm'); // 'mHdl': the handlers' buffers
const NDRT = 'NdRt';
const MDLT = 'Mdl ';

// -- commands -------------------------------------------------------------------------------------

type HandlerKind = 'none' | 'exact' | 'larger' | 'fail';
type Cmd =
  | { t: 'alloc'; sizes: number[]; offF: number; lenF: number; salt: number }
  | { t: 'retreat'; i: number; delta: number; backFill: number; handler: HandlerKind; extra: number; salt: number }
  | { t: 'advance'; i: number; mode: 'frac' | 'boundary' | 'all' | 'over'; deltaF: number; extra: number; free: boolean; handler: boolean }
  | { t: 'setOffset'; i: number; offF: number; lenF: number }
  | { t: 'write'; i: number; posF: number; bytes: number[]; viaGdb: boolean }
  | { t: 'read'; i: number; nF: number; over: boolean; alignShift: number; alignOffF: number; storage: boolean }
  | { t: 'copy'; d: number; s: number; dOffF: number; sOffF: number; bytes: number; past: 'none' | 'dst' | 'src' }
  | { t: 'free'; i: number };

/** A fraction in [0, 1] (thousandths; fc.double leans too hard on 0 and 1 here). */
const frac = fc.integer({ min: 0, max: 1000 }).map((x) => x / 1000);
const mdlSize = fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 8, arbitrary: fc.integer({ min: 1, max: 48 }) });

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant('alloc' as const), sizes: fc.array(mdlSize, { maxLength: 4 }), offF: frac, lenF: frac, salt: fc.nat(255) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('retreat' as const), i: fc.nat(), delta: fc.integer({ min: 0, max: 60 }), backFill: fc.integer({ min: 0, max: 24 }),
      handler: fc.constantFrom<HandlerKind>('none', 'none', 'exact', 'larger', 'fail'), extra: fc.integer({ min: 1, max: 20 }), salt: fc.nat(255),
    }),
  },
  { weight: 5, arbitrary: fc.record({
      t: fc.constant('advance' as const), i: fc.nat(), mode: fc.constantFrom<'frac' | 'boundary' | 'all' | 'over'>('frac', 'frac', 'boundary', 'boundary', 'boundary', 'all', 'over'),
      deltaF: frac, extra: fc.integer({ min: 0, max: 3 }), free: fc.boolean(), handler: fc.boolean(),
    }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('setOffset' as const), i: fc.nat(), offF: frac, lenF: frac }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('write' as const), i: fc.nat(), posF: frac, bytes: fc.array(fc.nat(255), { minLength: 1, maxLength: 40 }), viaGdb: fc.boolean() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('read' as const), i: fc.nat(), nF: frac, over: fc.boolean(), alignShift: fc.integer({ min: 0, max: 13 }), alignOffF: frac, storage: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('copy' as const), d: fc.nat(), s: fc.nat(), dOffF: frac, sOffF: frac, bytes: fc.integer({ min: 0, max: 120 }),
      past: fc.constantFrom<'none' | 'dst' | 'src'>('none', 'none', 'none', 'none', 'dst', 'src'),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('free' as const), i: fc.nat() }) },
);

// -- the reference model ------------------------------------------------------------------------------

type Kind = 'caller' | 'default' | 'handler';
/** One MDL of a chain: its address, data address, kind and bytes (null: unknown, e.g. fresh default-allocator memory). */
interface Seg { mdl: number; va: number; size: number; kind: Kind; bytes: (number | null)[] }
interface MNb { nb: number; segs: Seg[]; off: number; len: number }

const total = (m: MNb) => m.segs.reduce((a, s) => a + s.size, 0);

/** Logical byte `p` of the model's chain: [segment, index]. */
function at(m: MNb, p: number): [Seg, number] {
  for (const s of m.segs) {
    if (p < s.size) return [s, p];
    p -= s.size;
  }
  throw new Error(`position past the chain (${p})`);
}
const getB = (m: MNb, p: number) => {
  const [s, k] = at(m, p);
  return s.bytes[k]!;
};
const setB = (m: MNb, p: number, v: number | null) => {
  const [s, k] = at(m, p);
  s.bytes[k] = v;
};

/** Canonical CurrentMdl / CurrentMdlOffset for logical position `off` (DESIGN decision 4). */
function canonical(m: MNb): [number, number] {
  if (m.segs.length === 0) return [0, 0];
  let rem = m.off;
  for (let k = 0; k < m.segs.length; k++) {
    const s = m.segs[k]!;
    if (rem < s.size || k === m.segs.length - 1) return [s.mdl, rem];
    rem -= s.size;
  }
  throw new Error('unreachable');
}

const pat = (salt: number, i: number) => (salt * 13 + i * 29 + 7) & 0xff;

// -- the run --------------------------------------------------------------------------------------------

class Run {
  rt: NdisRuntime;
  r: LooseRt;
  g: number;
  pool: number;
  nbs: MNb[] = [];
  storage: number;
  constructor() {
    this.rt = createRuntimeSync();
    this.r = loose(this.rt);
    this.g = this.r.NdisAllocateGenericObject(0, POOL_TAG('Gen '), 0);
    this.pool = nbPool(this.rt, 0, POOL_TAG('NBsM'));
    this.storage = this.r.NdisAllocateMemoryWithTagPriority(this.g, 256, POOL_TAG('gtSm'), NormalPoolPriority);
  }

  /** A buffer of `len` bytes with the pattern of `salt`, and an MDL over it. */
  mdl(len: number, salt: number, tag: number): Seg {
    const r = this.r;
    const va = r.NdisAllocateMemoryWithTagPriority(this.g, Math.max(len, 1), tag, NormalPoolPriority);
    expect(va).not.toBe(0);
    const b = this.rt.bytes(va, Math.max(len, 1));
    for (let i = 0; i < b.length; i++) b[i] = pat(salt, i);
    const m = r.NdisAllocateMdl(this.g, va, len);
    expect(m).not.toBe(0);
    return { mdl: m, va, size: len, kind: tag === HDL_TAG ? 'handler' : 'caller', bytes: Array.from({ length: len }, (_, i) => pat(salt, i)) };
  }

  /** Frees an MDL the test owns (caller or handler) and its buffer. */
  freeOwned(s: Seg): void {
    this.r.NdisFreeMdl(s.mdl);
    this.r.NdisFreeMemoryWithTagPriority(this.g, s.va, s.kind === 'handler' ? HDL_TAG : BUF_TAG);
  }

  fields(nb: number) {
    const r = this.r;
    return [r.NET_BUFFER_FIRST_MDL(nb), r.NET_BUFFER_CURRENT_MDL(nb), r.NET_BUFFER_CURRENT_MDL_OFFSET(nb), r.NET_BUFFER_DATA_OFFSET(nb), r.NET_BUFFER_DATA_LENGTH(nb)];
  }

  /** Writes `bytes` at used position `pos` by locating the MDL bytes. */
  writeMdls(nb: number, pos: number, bytes: number[]): void {
    const r = this.r;
    let off = r.NET_BUFFER_DATA_OFFSET(nb) + pos;
    let i = 0;
    for (let m = r.NET_BUFFER_FIRST_MDL(nb); m !== 0 && i < bytes.length; m = r.NDIS_MDL_LINKAGE(m)) {
      const bc = r.MmGetMdlByteCount(m);
      if (off >= bc) {
        off -= bc;
        continue;
      }
      const k = Math.min(bc - off, bytes.length - i);
      this.rt.bytes(r.MmGetSystemAddressForMdlSafe(m, NormalPagePriority) + off, k).set(bytes.slice(i, i + k));
      i += k;
      off = 0;
    }
    expect(i).toBe(bytes.length);
  }

  step(c: Cmd): void {
    const r = this.r;
    const pick = (i: number) => this.nbs[i % this.nbs.length]!;
    if (c.t !== 'alloc' && this.nbs.length === 0) return;
    switch (c.t) {
      case 'alloc': {
        const segs = c.sizes.map((s, k) => this.mdl(s, c.salt + k, BUF_TAG));
        for (let k = 0; k + 1 < segs.length; k++) r.NDIS_MDL_LINKAGE_SET(segs[k]!.mdl, segs[k + 1]!.mdl);
        const m: MNb = { nb: 0, segs, off: 0, len: 0 };
        const t = total(m);
        m.off = segs.length ? Math.floor(c.offF * t) : 0;
        m.len = segs.length ? Math.floor(c.lenF * (t - m.off)) : 0;
        m.nb = r.NdisAllocateNetBuffer(this.pool, segs[0]?.mdl ?? 0, m.off, m.len);
        expect(m.nb).not.toBe(0);
        this.nbs.push(m);
        return;
      }
      case 'retreat': {
        const m = pick(c.i);
        const calls: number[] = [];
        let given: Seg | null = null;
        const handler = c.handler === 'none' ? undefined : ((b: { value: number }) => {
          calls.push(b.value);
          if (c.handler === 'fail') return 0;
          given = this.mdl(b.value + (c.handler === 'larger' ? c.extra : 0), c.salt, HDL_TAG);
          return given.mdl;
        }) as Loose;
        const status = r.NdisRetreatNetBufferDataStart(m.nb, c.delta, c.backFill, handler);
        if (c.delta <= m.off) {
          expect(status).toBe(NDIS_STATUS_SUCCESS);
          expect(calls).toEqual([]);
          m.off -= c.delta;
          m.len += c.delta;
          return;
        }
        if (handler) expect(calls).toEqual([c.delta + c.backFill]);
        if (c.handler === 'fail') {
          expect(status).toBe(NDIS_STATUS_RESOURCES);
          return;
        }
        expect(status).toBe(NDIS_STATUS_SUCCESS);
        let seg: Seg;
        if (given) {
          seg = given;
        } else {
          const mdl = r.NET_BUFFER_FIRST_MDL(m.nb);
          const size = c.delta + c.backFill;
          seg = { mdl, va: r.MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority), size, kind: 'default', bytes: new Array<number | null>(size).fill(null) };
        }
        m.segs.unshift(seg);
        m.off = seg.size + m.off - c.delta;
        m.len += c.delta;
        return;
      }
      case 'advance': {
        const m = pick(c.i);
        // 'boundary': to the end of the MDL holding DataOffset (plus 0-3 bytes), where MDLs become unused.
        let delta = Math.floor(c.deltaF * m.len);
        if (c.mode === 'all') delta = m.len;
        else if (c.mode === 'over') delta = m.len + 1;
        else if (c.mode === 'boundary' && m.segs.length) {
          const [cm, co] = canonical(m);
          delta = Math.min(m.len, m.segs.find((s) => s.mdl === cm)!.size - co + c.extra);
        }
        const got: number[] = [];
        const fh = c.handler ? ((mdl: number) => {
          got.push(mdl);
          expect(r.NDIS_MDL_LINKAGE(mdl)).toBe(0);
        }) as Loose : undefined;
        const before = this.fields(m.nb);
        // The model's prediction.
        let err: string | null = null;
        let off = m.off + delta;
        const freed: Seg[] = [];
        if (delta > m.len) err = 'ADV-1';
        else if (c.free) {
          for (let k = 0; k < m.segs.length - 1; k++) {
            const s = m.segs[k]!;
            if (s.kind === 'caller' || off < s.size) break;
            if (s.kind === 'handler' && !c.handler) {
              err = 'ADV-2';
              break;
            }
            off -= s.size;
            freed.push(s);
          }
        }
        let thrown: unknown = null;
        try {
          r.NdisAdvanceNetBufferDataStart(m.nb, delta, c.free, fh);
        } catch (e) {
          thrown = e;
        }
        if (err) {
          expect(thrown).toBeInstanceOf(NdisBugCheck);
          expect((thrown as NdisBugCheck).rule).toBe(err);
          expect(this.fields(m.nb)).toEqual(before);
          expect(got).toEqual([]);
          return;
        }
        if (thrown) throw thrown;
        m.segs.splice(0, freed.length);
        m.off = off;
        m.len -= delta;
        expect(got).toEqual(freed.filter((s) => s.kind === 'handler').map((s) => s.mdl));
        for (const s of freed) if (s.kind === 'handler') this.freeOwned(s);
        return;
      }
      case 'setOffset': {
        const m = pick(c.i);
        const t = total(m);
        m.off = Math.floor(c.offF * t);
        m.len = Math.floor(c.lenF * (t - m.off));
        r.NET_BUFFER_DATA_OFFSET_SET(m.nb, m.off);
        r.NET_BUFFER_DATA_LENGTH_SET(m.nb, m.len);
        r.NdisAdjustNetBufferCurrentMdl(m.nb);
        return;
      }
      case 'write': {
        const m = pick(c.i);
        if (m.len === 0) return;
        const pos = c.viaGdb ? 0 : Math.min(Math.floor(c.posF * m.len), m.len - 1);
        const bytes = c.bytes.slice(0, m.len - pos);
        let done = false;
        if (c.viaGdb) {
          const p = r.NdisGetDataBuffer(m.nb, bytes.length, this.storage, 1, 0);
          expect(p).not.toBe(0);
          if (p !== this.storage) {
            this.rt.bytes(p, bytes.length).set(bytes);
            done = true;
          }
        }
        if (!done) this.writeMdls(m.nb, pos, bytes);
        bytes.forEach((b, k) => setB(m, m.off + pos + k, b));
        return;
      }
      case 'read': {
        const m = pick(c.i);
        const n = c.over ? m.len + 1 + Math.floor(c.nF * 10) : Math.floor(c.nF * Math.min(m.len, 256));
        const mul = 2 ** c.alignShift;
        const aoff = Math.min(Math.floor(c.alignOffF * mul), mul - 1);
        const storage = c.storage ? this.storage : 0;
        const n2 = Math.min(n, 256); // Storage holds 256 bytes
        const p = r.NdisGetDataBuffer(m.nb, n2, storage, mul, aoff);
        if (n2 > m.len) {
          expect(p).toBe(0);
          return;
        }
        // In place when contiguous in the MDL holding DataOffset and aligned.
        const [cm, co] = canonical(m);
        const seg = m.segs.find((s) => s.mdl === cm);
        const addr = seg ? seg.va + co : 0;
        const inPlace = seg !== undefined && seg.size - co >= n2 && (addr & (mul - 1)) === aoff;
        const want = inPlace ? addr : storage;
        if (seg === undefined) {
          // No chain: nothing to point into (n2 == 0 here).
          expect(p === 0 || p === storage).toBe(true);
          return;
        }
        expect(p).toBe(want);
        if (p !== 0) {
          const got = this.rt.bytes(p, Math.max(n2, 1));
          const bad: string[] = [];
          for (let k = 0; k < n2; k++) {
            const b = getB(m, m.off + k);
            if (b !== null && got[k] !== b) bad.push(`byte ${k}: ${got[k]} != ${b}`);
          }
          expect(bad.slice(0, 5)).toEqual([]);
        }
        return;
      }
      case 'copy': {
        if (this.nbs.length < 2) return;
        const d = pick(c.d);
        let s = pick(c.s);
        if (s === d) s = this.nbs[(this.nbs.indexOf(d) + 1) % this.nbs.length]!;
        const dOff = c.past === 'dst' ? d.len + 1 : Math.floor(c.dOffF * d.len);
        const sOff = c.past === 'src' ? s.len + 1 : Math.floor(c.sOffF * s.len);
        const copied = { value: -1 };
        const status = r.NdisCopyFromNetBufferToNetBuffer(d.nb, dOff, c.bytes, s.nb, sOff, copied);
        if (dOff > d.len || sOff > s.len) {
          expect(status).toBe(NDIS_STATUS_FAILURE);
          expect(copied.value).toBe(0);
          return;
        }
        const n = Math.min(c.bytes, d.len - dOff, s.len - sOff);
        expect(copied.value).toBe(n);
        if (n > 0) expect(status).toBe(NDIS_STATUS_SUCCESS);
        else expect([NDIS_STATUS_SUCCESS, NDIS_STATUS_FAILURE]).toContain(status);
        const src = Array.from({ length: n }, (_, k) => getB(s, s.off + sOff + k));
        src.forEach((b, k) => setB(d, d.off + dOff + k, b));
        return;
      }
      case 'free': {
        const idx = c.i % this.nbs.length;
        const m = this.nbs[idx]!;
        r.NdisFreeNetBuffer(m.nb);
        for (const s of m.segs) if (s.kind !== 'default') this.freeOwned(s);
        this.nbs.splice(idx, 1);
        return;
      }
    }
  }

  /** Checks every live NB and the poolmon rows against the model. */
  check(): void {
    const r = this.r;
    let defaults = 0;
    let mdls = 0;
    for (const m of this.nbs) {
      // The chain.
      const chain: number[] = [];
      for (let x = r.NET_BUFFER_FIRST_MDL(m.nb); x !== 0; x = r.NDIS_MDL_LINKAGE(x)) {
        chain.push(x);
        if (chain.length > m.segs.length + 1) break;
      }
      expect(chain).toEqual(m.segs.map((s) => s.mdl));
      m.segs.forEach((s) => {
        expect(r.MmGetMdlByteCount(s.mdl)).toBe(s.size);
        expect(r.MmGetSystemAddressForMdlSafe(s.mdl, NormalPagePriority)).toBe(s.va);
      });
      // The fields.
      const [first, cm, co, off, len] = this.fields(m.nb);
      expect(first).toBe(m.segs[0]?.mdl ?? 0);
      expect(off).toBe(m.off);
      expect(len).toBe(m.len);
      expect(off! + len!).toBeLessThanOrEqual(total(m));
      expect([cm, co]).toEqual(canonical(m));
      // Every known byte of the chain (used and unused space).
      const bad: string[] = [];
      m.segs.forEach((s, j) => {
        if (s.size === 0) return;
        const b = this.rt.bytes(s.va, s.size);
        for (let k = 0; k < s.size; k++) if (s.bytes[k] !== null && b[k] !== s.bytes[k]) bad.push(`MDL ${j} (${s.kind}) byte ${k}: ${b[k]} != ${s.bytes[k]}`);
      });
      // The used bytes read by walking the chain from DataOffset equal the model's used bytes.
      let o = off!;
      let left = len!;
      const usedB: number[] = [];
      for (const x of chain) {
        if (left === 0) break;
        const bc = r.MmGetMdlByteCount(x);
        if (o >= bc) {
          o -= bc;
          continue;
        }
        const k = Math.min(bc - o, left);
        usedB.push(...this.rt.bytes(r.MmGetSystemAddressForMdlSafe(x, NormalPagePriority) + o, k));
        o = 0;
        left -= k;
      }
      expect(left).toBe(0);
      usedB.forEach((b, k) => {
        const want = getB(m, m.off + k);
        if (want !== null && b !== want) bad.push(`used byte ${k}: ${b} != ${want}`);
      });
      expect(bad.slice(0, 5)).toEqual([]);
      defaults += m.segs.filter((s) => s.kind === 'default').length;
      mdls += m.segs.length;
    }
    expect(row(this.rt, NDRT, 'Memory')?.outstanding ?? 0).toBe(defaults);
    expect(row(this.rt, MDLT, 'MDL')?.outstanding ?? 0).toBe(mdls);
    expect(row(this.rt, HDL_TAG, 'Memory')?.outstanding ?? 0).toBe(this.nbs.reduce((a, m) => a + m.segs.filter((s) => s.kind === 'handler').length, 0));
  }

  /** Frees everything; the retreat rows must show 0 outstanding. */
  finish(): void {
    while (this.nbs.length) {
      this.step({ t: 'free', i: 0 });
      this.check();
    }
    expect(row(this.rt, NDRT, 'Memory')?.outstanding ?? 0).toBe(0);
    expect(row(this.rt, MDLT, 'MDL')?.outstanding ?? 0).toBe(0);
    expect(row(this.rt, HDL_TAG, 'Memory')?.outstanding ?? 0).toBe(0);
    expect(row(this.rt, BUF_TAG, 'Memory')?.outstanding ?? 0).toBe(0);
    this.r.NdisFreeNetBufferPool(this.pool);
  }
}

describe('NET_BUFFER data space against a reference model', () => {
  it('random retreat / advance / write / read / copy / free sequences keep the NBs equal to the model', () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { minLength: 1, maxLength: 60, size: 'medium' }), (cmds) => {
        const run = new Run();
        for (const c of cmds) {
          run.step(c);
          run.check();
        }
        run.finish();
      }),
      { numRuns: 400 },
    );
  }, 60_000);
});
